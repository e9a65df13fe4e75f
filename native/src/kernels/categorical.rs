//! Categorical encoding: the distinct values of an object array of `str`, and each element's
//! index among them.
//!
//! These replace scikit-learn's pure-Python helpers (`sklearn.utils._encode`: `set(values)`,
//! `sorted(...)`, `{v: i for i, v in enumerate(uniques)}`), so they must agree with Python's own
//! `str` equality and order:
//! - equality: same PEP 393 kind and same code units. CPython keeps every ready string in its
//!   narrowest kind and its own `==` returns False when kinds differ, so this is exactly `==`;
//! - order: code point by code point, a prefix first (what `str.__lt__` does, hence `sorted`).
//!
//! Strings are read in their stored form and never converted to UTF-8: that would fill CPython's
//! UTF-8 cache of non-ASCII strings and change `sys.getsizeof` of the user's objects.
//! They are hashed with Python's own `str` hash (see `Keyed`), as the library's `set` and dict
//! lookups hash them, so the hash each object caches is the one the library would leave. Any element
//! that is not an exact `str` (None, NaN, a number, a `str` subclass with its own `__eq__`) makes
//! a function return None, and the caller runs the library instead.

use std::cmp::Ordering;

use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2,
            PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyStringData};
use rustc_hash::FxHashMap;

/// The stored code units of a `str`, compared the way Python compares strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Text<'a> {
    U1(&'a [u8]),
    U2(&'a [u16]),
    U4(&'a [u32]),
}

impl Text<'_> {
    fn code_points(self) -> Vec<u32> {
        match self {
            Text::U1(s) => s.iter().map(|&c| c as u32).collect(),
            Text::U2(s) => s.iter().map(|&c| c as u32).collect(),
            Text::U4(s) => s.to_vec(),
        }
    }

    /// `str.__lt__` order: lexicographic over code points.
    fn py_cmp(self, other: Self) -> Ordering {
        match (self, other) {
            (Text::U1(a), Text::U1(b)) => a.cmp(b),
            (Text::U2(a), Text::U2(b)) => a.cmp(b),
            (Text::U4(a), Text::U4(b)) => a.cmp(b),
            (a, b) => a.code_points().cmp(&b.code_points()), // kinds differ: rare, mixed scripts
        }
    }
}

/// A `str` as a hash-map key: its text, hashed by Python's own (cached) `str` hash. The library
/// hashes every element too (`set(values)`, dict lookups), which caches the hash in each object;
/// taking the same hash does exactly that and no more, and a string hashed before (by an
/// earlier `fit`, `transform` or the user) costs a read instead of a pass over its text.
#[derive(Clone, Copy)]
struct Keyed<'a> {
    hash: isize,
    text: Text<'a>,
}

impl PartialEq for Keyed<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.text == other.text
    }
}

impl Eq for Keyed<'_> {}

impl std::hash::Hash for Keyed<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_isize(self.hash);
    }
}

/// The text of `obj` and its Python hash, if it is an exact `str` (whose hash cannot fail or
/// run Python code).
fn keyed<'a>(obj: &'a Bound<'_, PyAny>) -> Option<Keyed<'a>> {
    let text = text(obj)?;
    let hash = obj.hash().ok()?;
    Some(Keyed { hash, text })
}

/// A direct-mapped memo of object address -> result. pandas' CSV parser (and data built by
/// repetition) shares one `str` object per distinct value, so most elements are found here
/// without reading their string. Sound while the array holds its objects: same address, same
/// live object, same text.
struct AddrMemo<V: Copy> {
    slots: Vec<(usize, V)>,
}

impl<V: Copy + Default> AddrMemo<V> {
    const SLOTS: usize = 1024;

    fn new() -> Self {
        Self { slots: vec![(0, V::default()); Self::SLOTS] } // 0 is never an object's address
    }

    #[inline]
    fn slot(addr: usize) -> usize {
        (addr >> 4) % Self::SLOTS // objects are 16-byte aligned
    }

    #[inline]
    fn get(&self, addr: usize) -> Option<V> {
        let (a, v) = self.slots[Self::slot(addr)];
        (a == addr).then_some(v)
    }

    #[inline]
    fn put(&mut self, addr: usize, v: V) {
        self.slots[Self::slot(addr)] = (addr, v);
    }
}

/// The text of `obj` if it is an exact `str`.
fn text<'a>(obj: &'a Bound<'_, PyAny>) -> Option<Text<'a>> {
    if !obj.is_exact_instance_of::<PyString>() {
        return None;
    }
    let s = obj.downcast::<PyString>().ok()?;
    // SAFETY: `data` decodes the PEP 393 state bitfield by hand, which PyO3 tests on x86_64
    // (little-endian) CPython; tests/test_kernels_categorical.py checks ASCII, Latin-1, BMP,
    // astral and lone-surrogate strings against Python's own `set` / `sorted` on the machine
    // that builds stratum. The borrowed slices live as long as `obj`; strings are immutable.
    match unsafe { s.data() }.ok()? {
        PyStringData::Ucs1(b) => Some(Text::U1(b)),
        PyStringData::Ucs2(b) => Some(Text::U2(b)),
        PyStringData::Ucs4(b) => Some(Text::U4(b)),
    }
}

/// Sorted distinct values of `values` (a 1-D object array) as a list of its own `str` objects,
/// and, if `codes`, each element's index in that list (int64). None when `values` is empty or
/// holds anything but exact `str`.
#[pyfunction]
#[pyo3(signature = (values, codes))]
#[allow(clippy::type_complexity)]
pub fn str_unique<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, PyObject>,
    codes: bool,
) -> PyResult<Option<(Bound<'py, PyList>, Option<Bound<'py, PyArray1<i64>>>)>> {
    let view = values.as_array();
    let n = view.len();
    if n == 0 {
        return Ok(None);
    }
    let mut ids: FxHashMap<Keyed<'_>, u32> = FxHashMap::default();
    let mut firsts: Vec<(Text<'_>, usize)> = Vec::new(); // per id: text, position of first sight
    let mut raw: Vec<u32> = Vec::with_capacity(if codes { n } else { 0 });
    let mut memo = AddrMemo::<u32>::new();
    for (i, obj) in view.iter().enumerate() {
        let addr = obj.as_ptr() as usize;
        let id = match memo.get(addr) {
            Some(id) => id,
            None => {
                let Some(k) = keyed(obj.bind(py)) else { return Ok(None) };
                let next = firsts.len() as u32;
                let id = *ids.entry(k).or_insert_with(|| {
                    firsts.push((k.text, i));
                    next
                });
                memo.put(addr, id);
                id
            }
        };
        if codes {
            raw.push(id);
        }
    }
    let mut order: Vec<u32> = (0..firsts.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| firsts[a as usize].0.py_cmp(firsts[b as usize].0));
    let uniques = PyList::new(py, order.iter().map(|&id| view[firsts[id as usize].1].clone_ref(py)))?;
    let codes = if codes {
        let mut rank = vec![0i64; firsts.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as i64;
        }
        Some(owned_i64(py, raw.into_iter().map(|id| rank[id as usize]), n)?)
    } else {
        None
    };
    Ok(Some((uniques, codes)))
}

/// Each element's index in `uniques` (int64, -1 where absent) and the number absent. None when
/// `values` is empty or either array holds anything but exact `str`. A value listed twice in
/// `uniques` maps to its last position, as in `{v: i for i, v in enumerate(uniques)}`.
#[pyfunction]
pub fn str_encode<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, PyObject>,
    uniques: PyReadonlyArray1<'py, PyObject>,
) -> PyResult<Option<(Bound<'py, PyArray1<i64>>, usize)>> {
    if values.len() == 0 {
        return Ok(None);
    }
    let known = uniques.as_array();
    let mut table: FxHashMap<Keyed<'_>, i64> = FxHashMap::default();
    table.reserve(known.len());
    for (i, obj) in known.iter().enumerate() {
        let Some(k) = keyed(obj.bind(py)) else { return Ok(None) };
        table.insert(k, i as i64);
    }
    let view = values.as_array();
    let mut out = Vec::with_capacity(view.len());
    let mut absent = 0usize;
    let mut memo = AddrMemo::<i64>::new();
    for obj in view.iter() {
        let addr = obj.as_ptr() as usize;
        let code = match memo.get(addr) {
            Some(code) => code,
            None => {
                let Some(k) = keyed(obj.bind(py)) else { return Ok(None) };
                let code = table.get(&k).copied().unwrap_or(-1);
                memo.put(addr, code);
                code
            }
        };
        absent += usize::from(code < 0);
        out.push(code);
    }
    Ok(Some((owned_i64(py, out.into_iter(), view.len())?, absent)))
}

/// A new int64 array allocated by numpy (it owns its data, like the arrays the library returns:
/// `resize` works and `.base` is None), filled from `values` (exactly `n` items).
pub(crate) fn owned_i64<'py>(
    py: Python<'py>,
    values: impl Iterator<Item = i64>,
    n: usize,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    owned(py, values, n)
}

fn owned<'py, T: Element + Copy>(
    py: Python<'py>,
    values: impl Iterator<Item = T>,
    n: usize,
) -> PyResult<Bound<'py, PyArray1<T>>> {
    let array = PyArray1::<T>::zeros(py, n, false);
    {
        let mut rw = array.readwrite();
        let slots = rw.as_slice_mut()?;
        for (slot, v) in slots.iter_mut().zip(values) {
            *slot = v;
        }
    }
    Ok(array)
}

/// The CSR `indices` and `indptr` of `OneHotEncoder.transform` from its `X_int` codes and
/// `X_mask` (n_samples x n_features), the first output column of each feature (`offsets`) and
/// the code dropped per feature (`drop`; a value no code reaches when nothing is dropped):
/// row-major over the cells kept (`mask` and code != drop), code - (code > drop) + offset,
/// exactly the library's numpy expressions. The arrays are int32 when scipy's `csr_array` would
/// narrow the library's int64 arrays to int32 (`n_samples`, `n_columns` and every index and
/// pointer within int32), else int64 like the library's.
#[pyfunction]
pub fn onehot_csr<'py>(
    py: Python<'py>,
    codes: PyReadonlyArray2<'py, i64>,
    mask: PyReadonlyArray2<'py, bool>,
    offsets: Vec<i64>,
    drop: Vec<i64>,
    n_columns: i64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let (codes, mask) = (codes.as_array(), mask.as_array());
    let (n, m) = codes.dim();
    if mask.dim() != (n, m) || offsets.len() != m || drop.len() != m {
        return Err(PyValueError::new_err("onehot_csr: inconsistent shapes"));
    }
    let mut indices: Vec<i64> = Vec::with_capacity(n * m);
    let mut indptr: Vec<i64> = Vec::with_capacity(n + 1);
    indptr.push(0);
    // C-contiguous inputs (what the library's transform makes) are read as flat slices
    let flat = codes.as_slice().zip(mask.as_slice());
    for r in 0..n {
        for j in 0..m {
            let (code, keep) = match flat {
                Some((c, k)) => (c[r * m + j], k[r * m + j]),
                None => (codes[[r, j]], mask[[r, j]]),
            };
            if keep && code != drop[j] {
                indices.push(code - i64::from(code > drop[j]) + offsets[j]);
            }
        }
        indptr.push(indices.len() as i64);
    }
    let fits = |v: i64| (i32::MIN as i64..=i32::MAX as i64).contains(&v);
    let narrow = fits(n as i64) && fits(n_columns) && fits(indices.len() as i64)
        && indices.iter().all(|&v| fits(v));
    if narrow {
        let (ni, np) = (indices.len(), indptr.len());
        Ok((owned(py, indices.into_iter().map(|v| v as i32), ni)?.into_any(),
            owned(py, indptr.into_iter().map(|v| v as i32), np)?.into_any()))
    } else {
        let (ni, np) = (indices.len(), indptr.len());
        Ok((owned(py, indices.into_iter(), ni)?.into_any(), owned(py, indptr.into_iter(), np)?.into_any()))
    }
}

/// The dense output of `OneHotEncoder.transform(sparse_output=False)`, written in place: `out`
/// is the C-contiguous `np.zeros((n_samples, n_columns), dtype)` that scipy's `toarray` would
/// allocate, seen as bytes (n_samples x n_columns * itemsize), and `one` the bytes scipy's
/// `csr_todense` stores in a cell (`0 + 1` in that dtype). The cells set are the ones the
/// library's CSR holds (see `onehot_csr`); each feature's column must fall inside its own
/// `widths[j]` columns, so no two cells of a row coincide (scipy would sum duplicates) — any
/// other code is an error and the caller lets the library run. One pass, without the GIL: the
/// arrays are fresh locals of the kernel, not visible to other threads.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn onehot_dense(
    py: Python<'_>,
    codes: PyReadonlyArray2<'_, i64>,
    mask: PyReadonlyArray2<'_, bool>,
    offsets: Vec<i64>,
    widths: Vec<i64>,
    drop: Vec<i64>,
    mut out: PyReadwriteArray2<'_, u8>,
    one: Vec<u8>,
) -> PyResult<()> {
    let (n, m) = codes.as_array().dim();
    let n_columns: i64 = widths.iter().sum();
    let size = one.len();
    if mask.as_array().dim() != (n, m) || offsets.len() != m || widths.len() != m
        || drop.len() != m || !matches!(size, 1 | 2 | 4 | 8 | 16)
        || out.as_array().dim() != (n, n_columns as usize * size)
        || !contiguous_ranges(&offsets, &widths)
    {
        return Err(PyValueError::new_err("onehot_dense: inconsistent shapes"));
    }
    let (codes, mask) = (codes.as_slice()?, mask.as_slice()?);
    let out = out.as_slice_mut()?;
    let spec: Vec<(i64, i64, i64)> = (0..m).map(|j| (offsets[j], widths[j], drop[j])).collect();
    let row = n_columns as usize * size;
    let ok = py.allow_threads(|| match size {
        1 => fill::<1>(out, &one, codes, mask, &spec, row),
        2 => fill::<2>(out, &one, codes, mask, &spec, row),
        4 => fill::<4>(out, &one, codes, mask, &spec, row),
        8 => fill::<8>(out, &one, codes, mask, &spec, row),
        _ => fill::<16>(out, &one, codes, mask, &spec, row),
    });
    if ok {
        Ok(())
    } else {
        Err(PyValueError::new_err("onehot_dense: a code outside its feature's columns"))
    }
}

/// Whether feature j owns columns `offsets[j] .. offsets[j] + widths[j]`, one after the other.
fn contiguous_ranges(offsets: &[i64], widths: &[i64]) -> bool {
    let mut next = 0i64;
    for (&o, &w) in offsets.iter().zip(widths) {
        if w < 0 || o != next {
            return false;
        }
        next += w;
    }
    true
}

/// Sets the kept cells of each row to `one` (`N` bytes); false on a code outside its feature.
fn fill<const N: usize>(
    out: &mut [u8],
    one: &[u8],
    codes: &[i64],
    mask: &[bool],
    spec: &[(i64, i64, i64)],
    row: usize,
) -> bool {
    let Ok(one) = <[u8; N]>::try_from(one) else { return false };
    let m = spec.len();
    let n = codes.len().checked_div(m).unwrap_or(0); // no features: no cell to set
    for r in 0..n {
        let cells = &codes[r * m..(r + 1) * m];
        let keep = &mask[r * m..(r + 1) * m];
        let Some(line) = out.get_mut(r * row..(r + 1) * row) else { return false };
        for (j, &(offset, width, drop)) in spec.iter().enumerate() {
            let code = cells[j];
            if !keep[j] || code == drop {
                continue;
            }
            let within = code - i64::from(code > drop);
            if within < 0 || within >= width {
                return false;
            }
            let at = (offset + within) as usize * N;
            match line.get_mut(at..at + N) {
                Some(cell) => cell.copy_from_slice(&one),
                None => return false,
            }
        }
    }
    true
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(str_unique, m)?)?;
    m.add_function(wrap_pyfunction!(str_encode, m)?)?;
    m.add_function(wrap_pyfunction!(onehot_csr, m)?)?;
    m.add_function(wrap_pyfunction!(onehot_dense, m)?)?;
    Ok(())
}
