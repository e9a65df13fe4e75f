"""The shared part of a batch: work several scripts will need, computed once, early, on the
native executor, while the scripts that do not need it already run.

The warm parent (``stratum.batch.warm``) asks :func:`select` for it once the plan is known:
the predicted top-level nodes (``stratum.batch.plan.predict``) that at least two scripts of the
batch will compute, that the cache does not hold (or that read a data file which changed since
they were recorded), that were cacheable when recorded and whose recipes were recorded
(``stratum.engine.recipe``, decoded by ``stratum.replay.replay.resolve_run``), plus the recipe ancestors they
need. :func:`start` forks one "shared" process that turns them into one executor graph and runs
it with the batch's ``--jobs``; scripts predicted to use one of its nodes wait until it exits,
the others start at once.

Correctness never depends on a recipe. Every node goes through stratum's engine exactly as a
script's call would (``Engine.call`` with the spec the dispatcher gives that callable), so its
key is what the engine computes from the actual inputs and the value is stored as a script
would store it; a script later simply hits it. A recipe that no longer matches what a script
does only wastes that node. Two more guards keep a script's output unchanged: a value whose
computation showed a warning or wrote to stdout / stderr is not stored (warnings are shown with
the "always" filter here, so none is hidden by a "once" registry), so the script computes it
itself and shows what plain python shows; and the shared process never records a run.

The engine is not thread-safe (it traces one thread): engine entry is serialized by a lock,
each node adopting its executor thread while it holds it. So the executor's threads do not
compute engine nodes in parallel; what the executor gives is the graph (order, each value freed
at its last use, per-node stats), and the win is that the shared part runs once, early, beside
the independent scripts. ``STRATUM_BATCH_SHARED=0`` turns it off.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

ENV = "STRATUM_BATCH_SHARED"


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass
class Item:
    """One node of the shared part (a recorded top-level operation, deduplicated by key)."""

    op: str
    site: str
    key: str | None  # as recorded
    recipe: tuple
    refs: dict  # lineage key -> (item index, selector)
    after: set = field(default_factory=set)  # items that must run first (they read what it changes)
    target: bool = False  # shared by >= 2 scripts (the others are ancestors it needs)
    stale: bool = False  # reads a data file that changed since it was recorded


@dataclass
class SharedPart:
    items: list  # in an order where every input and "after" item comes first
    waiting: set  # indices of the scripts that wait for it
    stale_sources: dict  # recorded key of a data source -> its key now

    @property
    def targets(self) -> list:
        return [it for it in self.items if it.target]


# ---- selection (in the warm parent) -----------------------------------------------------------
def select(plans, settings) -> SharedPart | None:
    """The shared part of the batch, or None (nothing to share, no history, turned off)."""
    if not enabled() or not settings.cache_enabled or settings.disabled:
        return None
    users: dict[str, int] = {}
    for p in plans:
        for key in {k for k, _ in p.nodes}:
            users[key] = users.get(key, 0) + 1
    if not any(n >= 2 for n in users.values()):
        return None
    from stratum.batch.plan import entry_exists
    from stratum.replay.replay import resolve_run
    from stratum.trace.store import TraceStore

    cache_dir = os.fspath(settings.cache_dir)
    store = TraceStore(settings.cache_dir)
    try:
        runs = []
        for run_id in dict.fromkeys(getattr(p, "run_id", None) for p in plans):
            if run_id is not None:
                runs.append((run_id, list(resolve_run(store.nodes(run_id)))))
    finally:
        store.close()
    items: list[Item] = []
    index: dict = {}  # key (or (run, seq) without one) -> item index
    stale_sources: dict[str, str] = {}
    for run_id, resolved in runs:
        by_seq = {r.node["seq"]: r for r in resolved}
        stale: set[int] = set()
        wanted: set[int] = set()
        for r in resolved:
            n = r.node
            if r.problem is not None or n["effect"] == "sink":
                continue
            if n["effect"] == "source" and n["key"] is not None:
                now = _current_key(r, settings)
                if now is not None and now != n["key"]:
                    stale.add(n["seq"])
                    stale_sources[n["key"]] = now
            if any(seq in stale for seq, _ in r.refs.values()):
                stale.add(n["seq"])
            key = n["key"]
            if key is not None and users.get(key, 0) >= 2 and \
                    (n["reused"] or n["reason"] is None) and \
                    (n["seq"] in stale or not entry_exists(cache_dir, key)):
                wanted.add(n["seq"])
        need = set()
        todo = sorted(wanted)
        while todo:
            seq = todo.pop()
            if seq in need:
                continue
            need.add(seq)
            todo.extend(s for s, _ in by_seq[seq].refs.values())
        for r in resolved:
            seq = r.node["seq"]
            if seq not in need:
                continue
            n = r.node
            ident = n["key"] if n["key"] is not None else (run_id, seq)
            if ident in index:
                items[index[ident]].target |= seq in wanted
                continue
            refs = {}
            for k, (s, sel) in r.refs.items():
                pn = by_seq[s].node
                refs[k] = (index[pn["key"] if pn["key"] is not None else (run_id, s)], sel)
            index[ident] = len(items)
            items.append(Item(n["op"], n["site"], n["key"], r.recipe, refs,
                              target=seq in wanted, stale=seq in stale))
    if not any(it.target for it in items):
        return None
    _order_changes(items)
    items = _topological(items)
    keys = {it.key for it in items if it.target}
    waiting = {p.index for p in plans if keys & {k for k, _ in p.nodes}}
    return SharedPart(items, waiting, stale_sources)


def _changed_entry(recipe):
    """The argument entry of the object an operation changes in place (fits or mutates)."""
    target, args, kwargs, (effect, mutated, _name, _obs) = recipe
    method = target[0] == "method"
    if effect == "fit" or mutated == "self":
        return args[0] if args else None
    if isinstance(mutated, int):
        i = mutated + (1 if method else 0)
        return args[i] if i < len(args) else None
    if isinstance(mutated, str):
        entry = dict(kwargs).get(mutated)
        if entry is not None and entry[0] == "L" and len(entry[2]) == 1:
            entry = entry[2][0]
        return entry
    return None


def _order_changes(items) -> None:
    """An operation that changes an object in place runs after every other reader of it."""
    readers: dict[str, set] = {}
    for i, it in enumerate(items):
        for k in it.refs:
            readers.setdefault(k, set()).add(i)
    for i, it in enumerate(items):
        entry = _changed_entry(it.recipe)
        if entry is not None and entry[0] == "r":
            it.after = readers.get(entry[1], set()) - {i}


def _topological(items) -> list:
    """Items reordered so inputs and "after" items come first (recorded order otherwise); an
    ordering constraint that would make a cycle is dropped (it only costs a wasted node)."""
    deps = [{j for j, _ in it.refs.values()} | it.after for it in items]
    done: list[int] = []
    placed: set[int] = set()
    left = list(range(len(items)))
    while left:
        ready = next((i for i in left if deps[i] <= placed), None)
        if ready is None:  # a cycle through "after" edges: drop them for what is left
            for i in left:
                items[i].after = set()
                deps[i] = {j for j, _ in items[i].refs.values()}
            continue
        left.remove(ready)
        placed.add(ready)
        done.append(ready)
    pos = {old: new for new, old in enumerate(done)}
    out = []
    for old in done:
        it = items[old]
        it.refs = {k: (pos[j], sel) for k, (j, sel) in it.refs.items()}
        it.after = {pos[j] for j in it.after}
        out.append(it)
    return out


def _current_key(r, settings) -> str | None:
    """The key a data source node gets now (the file may have changed), without reading it."""
    from stratum.engine.effects import effect_of
    from stratum.engine.engine import Engine
    from stratum.replay.replay import entry_value

    try:
        target, args, kwargs, _extra = r.recipe
        a = [entry_value(e, (), {}) for e in args]
        kw = {k: entry_value(e, (), {}) for k, e in kwargs}
        spec, fn, recv, a = _operation(target, r.node["op"], a, load=False)
        effect = effect_of(spec, a, kw, recv)[0]
        return Engine(None, settings).call_key(spec, tuple(a), kw, recv, effect)[0]
    except Exception:
        return None


class Mismatch(Exception):
    """The recorded recipe does not name the operation a script's call would dispatch to."""


def _operation(target, op: str, a: list, load: bool = True):
    """(spec, fn, receiver, args) of a recipe: the spec the dispatcher gives a script's call
    to that callable (``interposer.dispatch``), which must be the recorded operation."""
    from interposer import dispatch, registry
    from stratum.engine import recipe

    if target[0] == "method":
        if not a:
            raise Mismatch("method without a receiver")
        recv = a[0]
        spec = registry.resolve_method(type(recv), target[1])
        fn = getattr(recv, target[1], None)
        if spec is None or fn is None or spec.name != op:
            raise Mismatch(f"{type(recv).__name__}.{target[1]} is not {op}")
        return spec, fn, recv, a[1:]
    fn = recipe.resolve(target[1], target[2], load=load)
    if fn is None:
        raise Mismatch(f"{target[1]}.{target[2]} not found")
    decided = dispatch.decide_call(fn)
    spec = getattr(decided, "spec", None)
    if type(decided) not in (dispatch.TracedCall, dispatch.GuardCall, dispatch.ReduceCall):
        spec = None
    if spec is None and op.startswith("operator.") and op[9:] in registry.OPERATORS:
        spec = registry.operator_spec(op[9:])  # what the rewritten operator sites dispatch
    if spec is None or spec.name != op:
        raise Mismatch(f"{target[1]}.{target[2]} is not {op}")
    return spec, getattr(decided, "fn", fn), recipe.NO_RECEIVER, a


# ---- the shared process -----------------------------------------------------------------------
class SharedRun:
    """The warm parent's view of the shared process: who waits for it, and its end."""

    def __init__(self, part: SharedPart, plans, pid: int, emit):
        self.part, self.plans, self.pid, self.emit = part, plans, pid, emit
        self.t0 = time.perf_counter()
        self.running = True
        emit(event="shared_start", pid=pid, nodes=len(part.items), targets=len(part.targets),
             waiting=sorted(part.waiting))

    def holds(self, i: int) -> bool:
        """Does script ``i`` still wait for the shared part?"""
        return self.running and i in self.part.waiting

    def slots(self) -> int:
        return 1 if self.running else 0

    def reap(self, pid: int, status: int) -> bool:
        """``os.wait`` returned ``pid``: was it the shared process? (then its end is noted)"""
        if not self.running or pid != self.pid:
            return False
        self.running = False
        code = os.waitstatus_to_exitcode(status)
        if code != 0:  # the scripts just compute what they need themselves
            what = f"exit {code}" if code > 0 else f"signal {-code}"
            sys.stderr.write(f"stratum: the batch's shared part failed ({what}); scripts compute "
                             "their shared work themselves\n")
            sys.stderr.flush()
        self.emit(event="shared_done", exit_code=code, seconds=time.perf_counter() - self.t0)
        return True

    def kill(self) -> None:
        if self.running:
            try:
                os.kill(self.pid, 9)
            except OSError:
                pass


def start(part: SharedPart, plans, jobs: int, files: dict, event_fd: int, emit) -> SharedRun:
    """Fork the shared process; in the parent, return its handle."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # never returns
        code = 70
        try:
            os.close(event_fd)
            code = _child(part, plans, jobs, files)
        except BaseException:  # noqa: BLE001 - reported in the warm log, scripts unaffected
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    return SharedRun(part, plans, pid, emit)


def _child(part: SharedPart, plans, jobs: int, files: dict) -> int:
    import warnings

    log = os.open(files["shared_log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if os.environ.get(ENV) == "crash":  # tests: a shared process that dies
        os.abort()
    warnings.simplefilter("always")
    from interposer import dispatch
    from stratum.session import activation
    from stratum.replay import executor

    session = activation.restart_session()
    if session is None:
        return 1
    engine = session.load_engine()
    dispatch.set_engine(engine)
    if engine.cache is None:
        return 1
    guard = _Quiet(engine.cache)
    engine.use_cache(guard)
    state = _State(engine, guard, part)
    graph = executor.Graph()
    for i, it in enumerate(part.items):
        inputs = sorted({j for j, _ in it.refs.values()} | it.after)
        slot = {k: (inputs.index(j), sel) for k, (j, sel) in it.refs.items()}
        graph.add(it.op, _node(state, i, it, slot), inputs)
    outputs = [i for i, it in enumerate(part.items) if it.target]
    t0 = time.perf_counter()
    _values, stats = executor.run(graph, outputs, jobs=jobs, errors="collect")
    seconds = time.perf_counter() - t0
    _report(state, stats, seconds, jobs, plans, files["shared"])
    try:
        guard.close()  # flush the cache index before os._exit
    except Exception:
        pass
    return 0


class _Quiet:
    """The cache, refusing a value whose computation showed a warning or wrote output: the
    script that needs it computes it itself and shows what plain python shows."""

    def __init__(self, cache):
        self._cache = cache
        self.mark = 0
        self.refused: str | None = None

    def __getattr__(self, name):
        return getattr(self._cache, name)

    def _written(self) -> int:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        return os.fstat(1).st_size + (0 if os.path.sameopenfile(1, 2) else os.fstat(2).st_size)

    def start(self) -> None:
        self.mark = self._written()
        self.refused = None

    def put(self, key, value, cost):
        from interposer.frames import FILTERS_MUTATED

        if any(w[2] != FILTERS_MUTATED[2] for w in value[4]):
            self.refused = "not stored: it showed a warning (the script shows it itself)"
            return False
        if self._written() != self.mark:
            self.refused = "not stored: it wrote output (the script writes it itself)"
            return False
        return self._cache.put(key, value, cost)


class _State:
    def __init__(self, engine, guard, part):
        self.engine, self.guard, self.part = engine, guard, part
        self.lock = threading.Lock()
        self.rows: dict[int, dict] = {}


def _node(state: _State, i: int, it: Item, slot: dict):
    """The executor callable of one item: the operation, through the engine, under the lock;
    returns (result, fitted object, changed object) like a replay node."""
    from stratum.replay.replay import entry_value

    def run(*inputs):
        target, args, kwargs, _extra = it.recipe
        row = state.rows[i] = {"status": "failed", "seconds": 0.0}
        with state.lock:
            engine = state.engine
            engine.adopt_thread()
            a = [entry_value(e, inputs, slot) for e in args]
            kw = {k: entry_value(e, inputs, slot) for k, e in kwargs}
            try:
                spec, fn, recv, a = _operation(target, it.op, a)
            except Mismatch as exc:
                row["status"] = "skipped"
                row["reason"] = f"recipe does not match: {exc}"
                raise
            before = len(engine.nodes)
            state.guard.start()
            t0 = time.perf_counter()
            try:
                result = _enter(engine, spec, fn, tuple(a), kw, recv)
            except BaseException as exc:
                row["reason"] = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                row["seconds"] = time.perf_counter() - t0
            node = engine.nodes[-1] if len(engine.nodes) > before else None
            if node is not None and node.parent is None:
                row["key"] = node.key
                row["status"] = "hit" if node.reused else \
                    ("stored" if node.reason is None else "ran")
                if node.reason is not None and not node.reused:
                    row["reason"] = state.guard.refused or node.reason
            else:
                row["status"] = "ran"
            return _outputs(spec, a, kw, recv, result)

    run.__name__ = it.op
    return run


def _enter(engine, spec, fn, args, kwargs, recv):
    """The engine entry a script's call site makes (``TracedCall`` / ``TracedMethod``)."""
    return engine.call(spec, fn, args, kwargs, recv, _depth=1)


def _outputs(spec, args, kwargs, recv, result):
    from stratum.engine import effects

    none = effects.NO_RECEIVER
    fitted = effects.fit_target(spec, args, recv)
    _effect, mutated, _ = effects.effect_of(spec, args, kwargs, recv)
    changed = effects.resolve_target(mutated, args, kwargs, recv) if mutated is not None else none
    return (result, None if fitted is none else fitted, None if changed is none else changed)


def _report(state: _State, stats: dict, seconds: float, jobs: int, plans, path: str) -> None:
    errors = {gid: exc for gid, exc in stats.get("errors", [])}
    nodes = []
    for i, it in enumerate(state.part.items):
        row = state.rows.get(i)
        st = stats["nodes"][i] if i < len(stats.get("nodes", [])) else {}
        if row is None:
            row = {"status": st.get("status", "not run"), "seconds": 0.0}
            if i in errors:
                row["reason"] = f"{type(errors[i]).__name__}: {errors[i]}"
        nodes.append({"op": it.op, "site": it.site, "target": it.target,
                      "recorded_key": it.key, "key": row.get("key"), "status": row["status"],
                      "seconds": round(row["seconds"], 4), "reason": row.get("reason"),
                      "thread": st.get("thread"), "start": st.get("start"),
                      "end": st.get("end")})
    out = {
        "nodes": nodes,
        "seconds": round(seconds, 4),
        "jobs": jobs,
        "executor": {k: stats.get(k) for k in ("peak_bytes", "spills", "reloads", "frees")},
        "waiting": [plans[i].script for i in sorted(state.part.waiting)],
        "stale_sources": state.part.stale_sources,
        "key_map": {n["recorded_key"]: n["key"] for n in nodes
                    if n["recorded_key"] and n["key"] and n["recorded_key"] != n["key"]},
        "engine_lock": "one node at a time enters the engine (it is not thread-safe)",
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(out, fh, indent=1, default=str)
        fh.write("\n")
    os.replace(tmp, path)


def summary_line(report: dict | None) -> str | None:
    """One line for the batch's table caption."""
    if not report:
        return None
    nodes = report["nodes"]
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n["status"]] = counts.get(n["status"], 0) + 1
    what = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return (f"shared part on the executor: {len(nodes)} nodes ({what}) in "
            f"{report['seconds']:.2f}s, --jobs {report['jobs']}, "
            f"{len(report['waiting'])} scripts waited for it")


def explain(report: dict | None, out) -> None:
    """The shared part node by node (``--explain``)."""
    if not report:
        return
    out.write(summary_line(report) + "\n")
    for n in report["nodes"]:
        key = (n["key"] or "-")[:12]
        moved = f" (recorded {n['recorded_key'][:12]})" if n["recorded_key"] and n["key"] and \
            n["recorded_key"] != n["key"] else ""
        why = f": {n['reason']}" if n["reason"] else ""
        out.write(f"  {'*' if n['target'] else ' '} {n['op']} at {n['site']}: {n['status']}"
                  f"{why}, {n['seconds']:.3f}s, key {key}{moved}\n")
    ex = report.get("executor") or {}
    threads = {n["thread"] for n in report["nodes"] if n.get("thread") is not None}
    out.write(f"  executor: {len(threads)} threads used, {ex.get('frees') or 0} values freed at "
              f"their last use, {ex.get('spills') or 0} spills; one node at a time enters the "
              "engine; * = shared by >= 2 scripts\n")
