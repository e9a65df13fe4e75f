//! Graph executor: runs a DAG of Python callables and native kernels on a rayon thread pool.
//!
//! Why in Rust: the scheduler, reference counts and buffer pool must not contend for the GIL.
//! Python nodes take the GIL only while their callable runs; native kernels run without it on
//! arrays the pool holds as Rust values (`ndarray`), so chains of native nodes never touch
//! Python. Each intermediate is freed when its last consumer finishes (edge counts from the
//! graph); above a memory budget the largest idle value is handed to a Python `spill(key, value)`
//! callback and brought back by `load(key)` when a consumer needs it.
//!
//! Failures: a node's Python exception is kept as is (type, message, traceback) and returned to
//! the caller; nodes depending on it are cancelled, independent ones still run. Panics are
//! caught at the task boundary and become a RuntimeError naming the node: none reaches Python.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use numpy::ndarray::{ArrayD, Zip};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, ToPyArray};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

type Nd = ArrayD<f64>;
type KernelFn = fn(&[&Nd]) -> Result<Nd, String>;

/// Native kernels: element-wise IEEE operations, so results are bit-identical to numpy's.
const KERNELS: &[(&str, usize, KernelFn)] = &[
    ("add", 2, |a| binary(a, |x, y| x + y)),
    ("sub", 2, |a| binary(a, |x, y| x - y)),
    ("mul", 2, |a| binary(a, |x, y| x * y)),
    ("div", 2, |a| binary(a, |x, y| x / y)),
    ("maximum", 2, |a| binary(a, |x, y| if x.is_nan() || y.is_nan() { f64::NAN } else { x.max(y) })),
    ("neg", 1, |a| Ok(a[0].mapv(|x| -x))),
    ("abs", 1, |a| Ok(a[0].mapv(f64::abs))),
    ("sqrt", 1, |a| Ok(a[0].mapv(f64::sqrt))),
];

fn binary(a: &[&Nd], f: fn(f64, f64) -> f64) -> Result<Nd, String> {
    let (x, y) = (a[0], a[1]);
    if x.shape() != y.shape() {
        return Err(format!("operands have shapes {:?} and {:?}", x.shape(), y.shape()));
    }
    Ok(Zip::from(x).and(y).map_collect(|&p, &q| f(p, q)))
}

fn kernel(name: &str) -> Option<(usize, KernelFn)> {
    KERNELS.iter().find(|k| k.0 == name).map(|k| (k.1, k.2))
}

/// Names and arities of the native kernels.
#[pyfunction]
fn executor_kernels() -> Vec<(&'static str, usize)> {
    KERNELS.iter().map(|k| (k.0, k.1)).collect()
}

enum Impl {
    Py(Py<PyAny>),
    Kernel(&'static str, KernelFn),
}

struct NodeDef {
    op: String,
    inputs: Vec<usize>,
    imp: Impl,
    key: String,
}

#[derive(Clone)]
enum Val {
    Py(Arc<Py<PyAny>>),
    Nd(Arc<Nd>),
}

enum Slot {
    Empty,
    Present { val: Val, bytes: usize, spilled: bool, busy: bool },
    Spilled { bytes: usize },
}

enum Outcome {
    Done(Val, usize),
    Failed(PyErr),
    Cancelled,
}

struct NodeStat {
    status: &'static str,
    start: f64,
    end: f64,
    seconds: f64,
    thread: Option<usize>,
    gil: Option<bool>,
}

struct State {
    slots: Vec<Slot>,
    pending: Vec<usize>,
    poisoned: Vec<bool>,
    refs: Vec<usize>,
    stats: Vec<Option<NodeStat>>,
    errors: Vec<(usize, PyErr)>,
    live: usize,
    peak: usize,
    spills: usize,
    reloads: usize,
    frees: usize,
}

struct Shared {
    nodes: Vec<NodeDef>,
    succ: Vec<Vec<usize>>,
    state: Mutex<State>,
    budget: Option<usize>,
    spill: Option<(Py<PyAny>, Py<PyAny>)>,
    size_of: Py<PyAny>,
    t0: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic is caught per task, so a poisoned lock only means that task failed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }
}

fn panic_text(p: Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

// ---- values ------------------------------------------------------------------------------------

fn to_py(py: Python<'_>, v: &Val) -> PyObject {
    match v {
        Val::Py(o) => o.clone_ref(py),
        Val::Nd(a) => a.to_pyarray(py).into_any().unbind(),
    }
}

/// The value of node `i` for a consumer, reloading it through `load(key)` if it was spilled.
/// Never calls Python while holding the state lock (the callback may release the GIL).
fn fetch(sh: &Shared, py: Python<'_>, i: usize) -> PyResult<Val> {
    {
        let st = sh.lock();
        match &st.slots[i] {
            Slot::Present { val, .. } => return Ok(val.clone()),
            Slot::Spilled { .. } => {}
            Slot::Empty => {
                return Err(PyRuntimeError::new_err(format!(
                    "executor: value of node {i} ({}) is not available", sh.nodes[i].op)))
            }
        }
    }
    let (_, load) = sh.spill.as_ref().expect("spilled without a spill callback");
    let obj = load.call1(py, (sh.nodes[i].key.as_str(),))?;
    let val = Val::Py(Arc::new(obj));
    let mut st = sh.lock();
    if let Slot::Spilled { bytes } = st.slots[i] {
        st.slots[i] = Slot::Present { val: val.clone(), bytes, spilled: true, busy: false };
        st.live += bytes;
        st.peak = st.peak.max(st.live);
        st.reloads += 1;
    }
    Ok(val)
}

fn as_nd(py: Python<'_>, v: Val, op: &str, kname: &str) -> PyResult<Arc<Nd>> {
    match v {
        Val::Nd(a) => Ok(a),
        Val::Py(o) => {
            let b = o.bind(py);
            let arr = b.downcast::<PyArrayDyn<f64>>().map_err(|_| {
                let t = b.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                let dt = b.getattr("dtype").map(|d| d.to_string()).unwrap_or_default();
                PyTypeError::new_err(format!(
                    "native kernel {kname} (node {op}) takes float64 arrays, got {t} {dt}"))
            })?;
            Ok(Arc::new(arr.readonly().as_array().to_owned()))
        }
    }
}

// ---- running one node --------------------------------------------------------------------------

fn run_python(sh: &Shared, u: usize, f: &Py<PyAny>) -> (Outcome, Option<bool>) {
    Python::with_gil(|py| {
        let call = || -> PyResult<(Val, usize)> {
            let mut args = Vec::with_capacity(sh.nodes[u].inputs.len());
            for &i in &sh.nodes[u].inputs {
                args.push(to_py(py, &fetch(sh, py, i)?));
            }
            let args = PyTuple::new(py, args)?;
            let out = f.call1(py, args)?;
            let bytes: usize = sh.size_of.call1(py, (out.clone_ref(py),))?.extract(py)?;
            Ok((Val::Py(Arc::new(out)), bytes))
        };
        match call() {
            Ok((v, b)) => (Outcome::Done(v, b), None),
            Err(e) => (Outcome::Failed(e), None),
        }
    })
}

fn run_kernel(sh: &Shared, u: usize, kname: &str, kf: KernelFn) -> (Outcome, Option<bool>) {
    let node = &sh.nodes[u];
    let mut args: Vec<Arc<Nd>> = Vec::with_capacity(node.inputs.len());
    for &i in &node.inputs {
        let native = match &sh.lock().slots[i] {
            Slot::Present { val: Val::Nd(a), .. } => Some(a.clone()),
            _ => None,
        };
        let a = match native {
            Some(a) => a,
            None => match Python::with_gil(|py| {
                fetch(sh, py, i).and_then(|v| as_nd(py, v, &node.op, kname))
            }) {
                Ok(a) => a,
                Err(e) => return (Outcome::Failed(e), None),
            },
        };
        args.push(a);
    }
    // SAFETY: PyGILState_Check only reads this thread's state; it is valid without the GIL.
    let gil = unsafe { pyo3::ffi::PyGILState_Check() } == 1;
    let refs: Vec<&Nd> = args.iter().map(|a| a.as_ref()).collect();
    let out = kf(&refs);
    drop(refs);
    drop(args);
    match out {
        Ok(a) => {
            let bytes = a.len() * std::mem::size_of::<f64>();
            (Outcome::Done(Val::Nd(Arc::new(a)), bytes), Some(gil))
        }
        Err(msg) => (
            Outcome::Failed(PyValueError::new_err(format!(
                "native kernel {kname} (node {}): {msg}", node.op))),
            Some(gil),
        ),
    }
}

/// Record a node's outcome, release inputs at their last use, start (or cancel) successors.
fn finish(sh: &Shared, u: usize, outcome: Outcome, stat: NodeStat) -> Vec<usize> {
    let mut work = vec![(u, outcome, stat)];
    let mut drops: Vec<Val> = Vec::new();
    let mut ready = Vec::new();
    {
        let mut st = sh.lock();
        while let Some((u, outcome, mut stat)) = work.pop() {
            let ok = matches!(outcome, Outcome::Done(..));
            stat.status = match outcome {
                Outcome::Done(val, bytes) => {
                    if st.refs[u] > 0 {
                        st.slots[u] = Slot::Present { val, bytes, spilled: false, busy: false };
                        st.live += bytes;
                        st.peak = st.peak.max(st.live);
                    } else {
                        drops.push(val);
                    }
                    "ok"
                }
                Outcome::Failed(err) => {
                    st.errors.push((u, err));
                    "error"
                }
                Outcome::Cancelled => "cancelled",
            };
            st.stats[u] = Some(stat);
            for &i in &sh.nodes[u].inputs {
                st.refs[i] -= 1;
                if st.refs[i] == 0 {
                    match std::mem::replace(&mut st.slots[i], Slot::Empty) {
                        Slot::Present { val, bytes, .. } => {
                            st.live -= bytes;
                            st.frees += 1;
                            drops.push(val);
                        }
                        Slot::Spilled { .. } => st.frees += 1,
                        Slot::Empty => {}
                    }
                }
            }
            for &s in &sh.succ[u] {
                st.pending[s] -= 1;
                if !ok {
                    st.poisoned[s] = true;
                }
                if st.pending[s] == 0 {
                    if st.poisoned[s] {
                        let t = sh.now();
                        let stat = NodeStat {
                            status: "", start: t, end: t, seconds: 0.0, thread: None, gil: None,
                        };
                        work.push((s, Outcome::Cancelled, stat));
                    } else {
                        ready.push(s);
                    }
                }
            }
        }
    }
    let over = sh.budget.is_some_and(|b| sh.lock().live > b);
    if !drops.is_empty() || over {
        // Python values are released with the GIL held, so their finalizers run now.
        Python::with_gil(|py| {
            drop(drops);
            if over {
                spill_over_budget(sh, py);
            }
        });
    }
    ready
}

/// Spill the largest idle values until the live bytes fit the budget.
fn spill_over_budget(sh: &Shared, py: Python<'_>) {
    let Some((spill, _)) = sh.spill.as_ref() else { return };
    let budget = sh.budget.unwrap_or(usize::MAX);
    loop {
        let (victim, val) = {
            let mut st = sh.lock();
            if st.live <= budget {
                return;
            }
            let mut best: Option<(usize, usize)> = None;
            for (i, s) in st.slots.iter().enumerate() {
                if let Slot::Present { bytes, busy: false, .. } = s {
                    if best.is_none_or(|(_, b)| *bytes > b) {
                        best = Some((i, *bytes));
                    }
                }
            }
            let Some((i, _)) = best else { return };
            match &mut st.slots[i] {
                Slot::Present { val, bytes, spilled: true, .. } => {
                    // Already on the spill store: just drop the in-memory copy.
                    let (v, b) = (val.clone(), *bytes);
                    st.slots[i] = Slot::Spilled { bytes: b };
                    st.live -= b;
                    drop(st);
                    drop(v);
                    continue;
                }
                Slot::Present { val, busy, .. } => {
                    *busy = true;
                    (i, val.clone())
                }
                _ => unreachable!(),
            }
        };
        let obj = to_py(py, &val);
        let stored = spill
            .call1(py, (sh.nodes[victim].key.as_str(), obj))
            .and_then(|r| r.extract::<bool>(py))
            .unwrap_or(false);
        let mut st = sh.lock();
        // Refused (or failed): the value stays in memory and, still busy, is not offered again.
        if let (true, Slot::Present { bytes, .. }) = (stored, &st.slots[victim]) {
            let b = *bytes;
            st.slots[victim] = Slot::Spilled { bytes: b };
            st.live -= b;
            st.spills += 1;
        }
        drop(st);
        drop(val);
    }
}

// ---- entry point -------------------------------------------------------------------------------

type NodeSpec = (String, Vec<usize>, PyObject, String);

/// Run a graph. `nodes[i] = (op, input ids (< i), callable or kernel name, spill key)`.
/// Returns (values {output id: value}, stats, errors [(node id, exception)]).
#[pyfunction]
#[pyo3(signature = (nodes, outputs, jobs, size_of, memory_budget=None, spill=None, load=None))]
#[allow(clippy::too_many_arguments)]
fn execute_graph(
    py: Python<'_>,
    nodes: Vec<NodeSpec>,
    outputs: Vec<usize>,
    jobs: usize,
    size_of: PyObject,
    memory_budget: Option<usize>,
    spill: Option<PyObject>,
    load: Option<PyObject>,
) -> PyResult<(PyObject, PyObject, PyObject)> {
    let n = nodes.len();
    let mut defs = Vec::with_capacity(n);
    for (i, (op, inputs, imp, key)) in nodes.into_iter().enumerate() {
        if let Some(&bad) = inputs.iter().find(|&&j| j >= i) {
            return Err(PyValueError::new_err(format!(
                "node {i} ({op}) takes node {bad} as input: inputs must come first")));
        }
        let imp = if let Ok(name) = imp.downcast_bound::<PyString>(py) {
            let name = name.to_str()?;
            let Some((arity, kf)) = kernel(name) else {
                return Err(PyValueError::new_err(format!("no native kernel named {name:?}")));
            };
            if arity != inputs.len() {
                return Err(PyValueError::new_err(format!(
                    "native kernel {name} takes {arity} inputs, node {op} gives {}",
                    inputs.len())));
            }
            let name: &'static str = KERNELS.iter().find(|k| k.0 == name).unwrap().0;
            Impl::Kernel(name, kf)
        } else {
            Impl::Py(imp)
        };
        defs.push(NodeDef { op, inputs, imp, key });
    }
    if let Some(&bad) = outputs.iter().find(|&&o| o >= n) {
        return Err(PyValueError::new_err(format!("output {bad} is not a node")));
    }
    let spill = match (spill, load) {
        (Some(s), Some(l)) => Some((s, l)),
        (None, None) => None,
        _ => return Err(PyValueError::new_err("spill and load go together")),
    };
    // Only the ancestors of the outputs run.
    let mut needed = vec![false; n];
    let mut stack: Vec<usize> = outputs.clone();
    while let Some(u) = stack.pop() {
        if !needed[u] {
            needed[u] = true;
            stack.extend(&defs[u].inputs);
        }
    }
    let mut succ = vec![Vec::new(); n];
    let mut pending = vec![0usize; n];
    let mut refs = vec![0usize; n];
    for (u, d) in defs.iter().enumerate() {
        if needed[u] {
            for &i in &d.inputs {
                succ[i].push(u);
                pending[u] += 1;
                refs[i] += 1;
            }
        }
    }
    for &o in &outputs {
        refs[o] += 1; // kept until the end
    }
    let roots: Vec<usize> = (0..n).filter(|&u| needed[u] && pending[u] == 0).collect();
    let mut slots = Vec::with_capacity(n);
    slots.resize_with(n, || Slot::Empty);
    let mut stats = Vec::with_capacity(n);
    stats.resize_with(n, || None);
    let shared = Arc::new(Shared {
        nodes: defs,
        succ,
        state: Mutex::new(State {
            slots, pending, poisoned: vec![false; n], refs, stats, errors: Vec::new(),
            live: 0, peak: 0, spills: 0, reloads: 0, frees: 0,
        }),
        budget: memory_budget,
        spill,
        size_of,
        t0: Instant::now(),
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .thread_name(|i| format!("stratum-exec-{i}"))
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("executor: no thread pool: {e}")))?;
    let sh = Arc::clone(&shared);
    let ran = py.allow_threads(move || {
        catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                for r in roots {
                    let sh2 = Arc::clone(&sh);
                    s.spawn(move |sc| run_node(sh2, r, sc));
                }
            })
        }))
    });
    if let Err(p) = ran {
        return Err(PyRuntimeError::new_err(format!("executor panicked: {}", panic_text(p))));
    }
    collect(py, &shared, &outputs, needed)
}

/// Run node `u` on a pool thread, then start the successors it made ready.
/// Each task owns an `Arc` of the shared state, so tasks are `'static` and borrow only the scope.
fn run_node(sh: Arc<Shared>, u: usize, scope: &rayon::Scope<'_>) {
    let sh = &sh;
    let start = sh.now();
    let result = catch_unwind(AssertUnwindSafe(|| match &sh.nodes[u].imp {
        Impl::Py(f) => run_python(sh, u, f),
        Impl::Kernel(name, kf) => run_kernel(sh, u, name, *kf),
    }));
    let (outcome, gil) = result.unwrap_or_else(|p| {
        let msg = format!("executor: node {} ({}) panicked: {}", u, sh.nodes[u].op, panic_text(p));
        (Outcome::Failed(PyRuntimeError::new_err(msg)), None)
    });
    let end = sh.now();
    let stat = NodeStat {
        status: "", start, end, seconds: end - start, thread: rayon::current_thread_index(), gil,
    };
    let ready = catch_unwind(AssertUnwindSafe(|| finish(sh, u, outcome, stat)));
    match ready {
        Ok(ready) => {
            for s in ready {
                let sh2 = Arc::clone(sh);
                scope.spawn(move |sc| run_node(sh2, s, sc));
            }
        }
        Err(p) => {
            let msg = format!("executor: bookkeeping of node {} panicked: {}", u, panic_text(p));
            sh.lock().errors.push((u, PyRuntimeError::new_err(msg)));
        }
    }
}

fn collect(py: Python<'_>, sh: &Shared, outputs: &[usize], needed: Vec<bool>)
           -> PyResult<(PyObject, PyObject, PyObject)> {
    let values = PyDict::new(py);
    for &o in outputs {
        let done = matches!(sh.lock().slots[o], Slot::Present { .. } | Slot::Spilled { .. });
        if done && !values.contains(o)? {
            let v = fetch(sh, py, o)?;
            let obj = match v {
                Val::Nd(a) => match Arc::try_unwrap(a) {
                    Ok(a) => a.into_pyarray(py).into_any().unbind(),
                    Err(a) => a.to_pyarray(py).into_any().unbind(),
                },
                Val::Py(o) => o.clone_ref(py),
            };
            values.set_item(o, obj)?;
        }
    }
    let mut st = sh.lock();
    let node_stats = PyList::empty(py);
    for (u, s) in st.stats.iter().enumerate() {
        if let Some(s) = s {
            let d = PyDict::new(py);
            d.set_item("id", u)?;
            d.set_item("op", &sh.nodes[u].op)?;
            let kind = match sh.nodes[u].imp { Impl::Py(_) => "python", Impl::Kernel(..) => "native" };
            d.set_item("kind", kind)?;
            d.set_item("status", s.status)?;
            d.set_item("start", s.start)?;
            d.set_item("end", s.end)?;
            d.set_item("seconds", s.seconds)?;
            d.set_item("thread", s.thread)?;
            d.set_item("gil", s.gil)?;
            node_stats.append(d)?;
        }
    }
    let stats = PyDict::new(py);
    stats.set_item("nodes", node_stats)?;
    stats.set_item("ran", needed.iter().filter(|&&x| x).count())?;
    stats.set_item("peak_bytes", st.peak)?;
    stats.set_item("spills", st.spills)?;
    stats.set_item("reloads", st.reloads)?;
    stats.set_item("frees", st.frees)?;
    stats.set_item("seconds", sh.now())?;
    let errors = PyList::empty(py);
    let mut errs = std::mem::take(&mut st.errors);
    errs.sort_by_key(|e| e.0);
    for (u, e) in errs {
        errors.append((u, e.into_value(py)))?;
    }
    // Release what the pool still holds (outputs) with the GIL held.
    let slots: Vec<Slot> = std::mem::take(&mut st.slots);
    drop(st);
    drop(slots);
    Ok((values.into_any().unbind(), stats.into_any().unbind(), errors.into_any().unbind()))
}

/// Register the executor's functions in `stratum._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(execute_graph, m)?)?;
    m.add_function(wrap_pyfunction!(executor_kernels, m)?)?;
    Ok(())
}
