"""``python -m stratum replay [RUN ...] [--rebind OLD=NEW ...] [--jobs N]``: redo recorded runs
without their scripts, e.g. on a bigger data file, on the native executor.

Each top-level operation of a run was recorded with a recipe (``stratum/engine/recipe.py``): what to
call and, per argument, the earlier operation whose output it is (by lineage key) or a
constant. Replay turns the chosen runs into one executor graph (operations with the same key
and the same inputs are computed once, so runs share their common prefix), with ``--rebind``
swapping the path a data source reads, then re-executes each run's ``print`` calls in order
with the replayed values.

Guards: plain Python values the script got from library values (``len(df)``, ``float(x)``,
``df.shape``, a comparison of two numbers, ``.tolist()`` ...) may have steered its control
flow, which replay cannot re-run. Each one's recorded value is compared with its replayed
value; on a difference replay reports a DIVERGENCE and prints nothing from that point on.
Text made by formatting library values (f-strings, ``str()``) is recomputed instead, and so is
a value whose expression only feeds a ``print`` statement (``print(len(df))``: decided when
recording, ``recipe.output_only``). A print of a value built where stratum could not see is
re-emitted as recorded and reported as unchecked. ``--rebind OLD=NEW`` with an OLD no planned
run read is an error (exit 2, nothing replayed). A run that failed when recorded is replayed as
far as it was recorded, then reported (its exit code, its last recorded operation). Exit
status: 0 complete, 1 divergence, failure or a recorded run that failed, 2 bad arguments, 3
partial (something could not be replayed or checked; stderr says what); of several runs, 1
over 3 over 0.
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import pickle
import sys
from dataclasses import dataclass, field

from stratum.engine.fold import FOLDED
from stratum.keys.derive import derive

TEXT_OPS = frozenset({"fstring.format", "fstring.concat", "builtins.str", "builtins.repr",
                      "builtins.format"})
GUARD_KINDS = frozenset({"NoneType", "bool", "int", "float", "str", "bytes", "complex", "tuple",
                         "list", "bool_"})
_NONE = object()


@dataclass
class Step:
    """A print to re-execute, or a guard to check, at a recorded position of one run."""

    seq: int
    site: str
    args: list
    kwargs: dict
    refs: dict  # key -> (graph node, selector)
    problem: str | None = None
    unchecked: bool = False


@dataclass
class RunPlan:
    run: dict
    prints: list = field(default_factory=list)
    guards: list = field(default_factory=list)  # (seq, site, op, gid, observed)
    skipped: list = field(default_factory=list)  # (site, what) not re-executed
    unchecked: list = field(default_factory=list)  # guards that could not be replayed
    unreplayable: int = 0
    last: tuple | None = None  # (op, site) of the run's last recorded operation


@dataclass
class Resolved:
    """One top-level operation of a recorded run, its recipe decoded and each argument
    reference resolved to the operation of the same run that produced it."""

    node: dict
    recipe: tuple
    refs: dict  # lineage key -> (seq of the producing node, selector)
    problem: str | None  # why it cannot be re-executed (None: it can)


def resolve_run(nodes, check=None):
    """The top-level nodes of one run (``TraceStore.nodes``) as :class:`Resolved`, in order.

    Shared by replay and by a batch's shared part (``stratum.batch.shared``): both re-execute
    recipes, and both must give up on the same operations (no recipe, an input no traced
    operation made, the script's own code as an argument, whatever ``check(recipe)`` names)
    and on everything depending on them.
    """
    keymap: dict[str, tuple] = {}  # lineage key -> (producer seq, selector)
    bad: dict[str, str] = {}  # lineage key -> why its value cannot be re-executed
    folded = None  # why nothing after a folded site can be re-executed (stratum/engine/fold.py)
    for n in nodes:
        if n["parent"] is not None:
            continue  # done again by the operation that ran it
        if n["kind"] == FOLDED and folded is None:
            folded = (f"comes after {n['op']} at {n['site']}, whose operations ran untraced "
                      "in a hot loop (STRATUM_FOLD_AFTER=0 traces them all)")
        recipe = pickle.loads(n["recipe"]) if n["recipe"] else ("x", "no recipe recorded")
        problem = recipe[1] if recipe[0] == "x" else None
        if folded is not None:
            problem = folded
        refs = {}
        if problem is None:
            target, args, kwargs, extra = recipe
            for e in _flat((*args, *(e for _, e in kwargs))):
                if e[0] == "r":
                    if e[1] in keymap:
                        refs[e[1]] = keymap[e[1]]
                    else:
                        problem = bad.get(e[1], "an input was not made by a traced operation")
                        break
                elif e[0] in ("p", "d", "U") and b"__main__" in e[1]:
                    problem = "an argument refers to the script's own code"
                    break
            if problem is None and check is not None:
                problem = check(recipe)
        if n["effect"] != "sink":
            for k, sel in output_keys(n).items():
                if problem is None:
                    keymap.setdefault(k, (n["seq"], sel))
                else:
                    bad[k] = f"{n['op']} at {n['site']} cannot be replayed: {problem}"
        yield Resolved(n, recipe, refs, problem)


def output_keys(n) -> dict:
    """Lineage keys of what an operation left behind -> how to select each from its output
    (result, fitted object, changed object, item of a returned tuple / list)."""
    key = n["key"]
    if key is None:
        return {}
    keys = {key: "res", derive(key, "fitted"): "fit", derive(key, "mutated"): "mut"}
    if n["kind"] in ("tuple", "list"):
        for i in range(64):
            keys[derive(key, str(i))] = ("item", i)
    return keys


class Planner:
    """Builds one executor graph for several runs; equal operations share a node.

    Two recorded operations share a node when they have the same lineage key *and* the same
    inputs in this graph (and, for a data source, the same path after ``--rebind``): a lineage
    key says what the operation computed when it was recorded, but on replay a rebound source
    can make the same key read another file, and everything downstream of it differ.

    Functions are imported here, on the calling thread, before the graph runs: an import in an
    executor thread can see a module another thread is still importing (half initialised).
    """

    def __init__(self, rebinds: dict[str, str]):
        from stratum.replay.executor import Graph

        self.graph = Graph()
        self.rebinds = rebinds
        self.by_key: dict[tuple, int] = {}
        self.outputs: set[int] = set()
        self.shared = 0
        self.rebound: set[str] = set()  # the OLD paths of --rebind some source did read
        self.read: list[str] = []  # the paths the planned runs' sources read, as recorded
        self._callables: dict[tuple, object] = {}

    def add_run(self, run: dict, nodes: list) -> RunPlan:
        plan = RunPlan(run)
        gids: dict[int, int] = {}  # seq of a node of this run -> its graph node
        for r in resolve_run(nodes, self._importable):
            n, recipe, problem = r.node, r.recipe, r.problem
            plan.last = (n["op"], n["site"])
            refs = {k: (gids[seq], sel) for k, (seq, sel) in r.refs.items()}
            effect = n["effect"]
            if effect == "sink":
                if n["op"] == "builtins.print":
                    step = Step(n["seq"], n["site"], recipe[1] if problem is None else (),
                                dict(recipe[2]) if problem is None else {}, refs, problem)
                    step.unchecked = any(e[0] in ("u", "U") for e in _flat(step.args))
                    if problem is None and "file" in step.kwargs and step.kwargs["file"][0] != "s":
                        step.problem = "prints to a file object"
                    plan.prints.append(step)
                    self.outputs.update(gid for gid, _ in refs.values())
                else:
                    plan.skipped.append((n["site"], n["op"]))
                continue
            if problem is not None:
                plan.unreplayable += 1
                if n["kind"] in GUARD_KINDS and n["op"] not in TEXT_OPS:
                    plan.unchecked.append(f"{n['site']}: {n['op']} is a guard that cannot be "
                                          f"checked: {problem}")
                continue
            fn = self._callables.get(recipe[0]) if recipe[0][0] == "fn" else None
            gid = gids[n["seq"]] = self._node(n, recipe, refs, run, fn)
            observed = recipe[3][3]
            if observed is not None:
                plan.guards.append((n["seq"], n["site"], recipe[3][2], gid,
                                    pickle.loads(observed)))
                self.outputs.add(gid)
        return plan

    def _importable(self, recipe) -> str | None:
        """Why an operation's function cannot be called (None: it can), imported now."""
        if recipe[0][0] == "fn" and self._callable(recipe[0]) is None:
            return f"{recipe[0][1]}.{recipe[0][2]} cannot be imported"
        return None

    def _callable(self, target):
        """The function a ("fn", module, qualname) target names (imported now), or None."""
        if target not in self._callables:
            from stratum.engine import recipe as recipes

            fn = recipes.resolve(target[1], target[2], load=True)
            fn = getattr(fn, "__stratum_original__", fn)
            self._callables[target] = fn if callable(fn) else None
        return self._callables[target]

    def _node(self, n, recipe, refs, run, fn) -> int:
        target, args, kwargs, extra = recipe
        source = n["effect"] == "source"
        if source:
            args, kwargs = self._rebind(args, kwargs, run["cwd"])
        share = self._share_key(n["key"], refs, (args, kwargs) if source else None)
        if share is not None and share in self.by_key:
            self.shared += 1
            return self.by_key[share]
        inputs = sorted({gid for gid, _ in refs.values()})
        slot = {k: (inputs.index(gid), sel) for k, (gid, sel) in refs.items()}
        gid = self.graph.add(n["op"], _operation(target, fn, args, kwargs, extra, slot), inputs)
        if share is not None:
            self.by_key[share] = gid
        return gid

    @staticmethod
    def _share_key(key, refs, source_args):
        """What makes two recorded operations one node: lineage key, the graph nodes their
        inputs come from, and a source's (rebound) arguments. None: never shared."""
        if key is None:
            return None
        extra = b""
        if source_args is not None:
            try:
                extra = pickle.dumps(source_args, protocol=5)
            except Exception:
                return None
        return (key, tuple(sorted(refs.items())), extra)

    def _rebind(self, args, kwargs, cwd):
        def swap(e, first=False):
            if e[0] != "c" or not isinstance(e[1], str):
                return e
            path = e[1]
            full = os.path.realpath(os.path.join(cwd, path))
            exists = os.path.exists(full)
            if (first or exists) and path not in self.read:
                self.read.append(path)
            for old, new in self.rebinds.items():
                if path == old or full == os.path.realpath(os.path.join(cwd, old)) \
                        or full == os.path.realpath(old):
                    self.rebound.add(old)
                    return ("c", new)
            return ("c", full) if exists else e

        return (tuple(swap(e, i == 0) for i, e in enumerate(args)),
                tuple((k, swap(e)) for k, e in kwargs))

    def unused_rebinds(self) -> list[str]:
        """The OLD paths of ``--rebind`` no planned operation read (a typo, another run's
        file): replaying with them would silently use the recorded data."""
        return [old for old in self.rebinds if old not in self.rebound]


def _flat(entries):
    for e in entries:
        if e[0] == "L":
            yield from _flat(e[2])
        else:
            yield e


def _select(out, sel):
    if sel == "res":
        return out[0]
    if sel == "fit":
        return out[1]
    if sel == "mut":
        return out[2]
    return out[0][sel[1]]


def entry_value(e, inputs, slot):
    """The value of one recipe argument entry (see ``stratum.engine.recipe``): an earlier
    output through ``slot`` -> (input index, selector), a constant, an unpickled one ..."""
    kind = e[0]
    if kind == "r":
        idx, sel = slot[e[1]]
        return _select(inputs[idx], sel)
    if kind in ("c", "u"):
        return e[1]
    if kind == "L":
        items = [entry_value(x, inputs, slot) for x in e[2]]
        return tuple(items) if e[1] else items
    if kind in ("p", "d", "U"):
        return pickle.loads(e[1])
    return getattr(sys, e[1])  # "s": a standard stream


def _operation(target, fn, args, kwargs, extra, slot):
    """The executor callable of one operation: functional (a fit or an in-place change works
    on a copy of its target), returning (result, fitted object, changed object). ``fn`` is the
    function of a ("fn", ...) target, imported by the planner (no import on executor threads)."""
    from stratum.engine import recipe as recipes

    def run(*inputs):
        a = [entry_value(e, inputs, slot) for e in args]
        kw = {k: entry_value(e, inputs, slot) for k, e in kwargs}
        recv = a.pop(0) if target[0] == "method" else _NONE
        fitted = changed = None
        effect, mut, name, _ = extra
        if effect == "fit":
            if recv is not _NONE:
                recv = fitted = copy.deepcopy(recv)
            elif a:
                a[0] = fitted = copy.deepcopy(a[0])
        if mut == "self":
            recv = changed = recv if recv is fitted else copy.deepcopy(recv)
        elif isinstance(mut, int) and mut < len(a):
            a[mut] = changed = copy.deepcopy(a[mut])
        elif isinstance(mut, str) and mut in kw:
            value = kw[mut]
            if isinstance(value, tuple) and len(value) == 1:
                kw[mut] = (copy.deepcopy(value[0]),)
                changed = kw[mut][0]
            else:
                kw[mut] = changed = copy.deepcopy(value)
        call = getattr(recv, target[1]) if recv is not _NONE else fn
        result = call(*a, **kw)
        if name in recipes.CHOICES:
            return (result, fitted, changed, recipes.choice(a, kw, result))
        return (result, fitted, changed)

    return run


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m stratum replay",
                                 description="Re-execute recorded runs without their scripts.")
    ap.add_argument("runs", nargs="*", type=int, help="run ids (default: the last run)")
    ap.add_argument("--rebind", action="append", default=[], metavar="OLD=NEW",
                    help="read data file NEW where the run read OLD")
    ap.add_argument("--jobs", type=int, default=None, help="executor threads")
    opts = ap.parse_args(argv)
    rebinds = {}
    for item in opts.rebind:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            ap.error(f"--rebind takes OLD=NEW, got {item!r}")
        rebinds[old] = os.path.abspath(new)

    from stratum.config import Settings
    from stratum.trace.store import TraceStore

    store = TraceStore(Settings.from_env().cache_dir)
    try:
        runs = [store.run(r) for r in opts.runs] if opts.runs else [store.run()]
        if not runs or any(r is None for r in runs):
            sys.stderr.write("stratum replay: no such run (see `python -m stratum trace list`)\n")
            return 2
        planner = Planner(rebinds)
        plans = [planner.add_run(r, store.nodes(r["id"])) for r in runs]
    finally:
        store.close()
    unused = planner.unused_rebinds()
    if unused:
        which = (f"run {runs[0]['id']} ({os.path.basename(runs[0]['script'] or '?')})"
                 if len(runs) == 1 else f"runs {', '.join(str(r['id']) for r in runs)}")
        read = ", ".join(planner.read) if planner.read else "no data file"
        sys.stderr.write(f"stratum replay: --rebind: {which} never read {' or '.join(unused)} "
                         f"({'it' if len(runs) == 1 else 'they'} read: {read}); "
                         "nothing replayed\n")
        return 2
    from stratum.replay import executor

    values, stats = executor.run(planner.graph, sorted(planner.outputs), jobs=opts.jobs,
                                 errors="collect")
    failed = {gid: exc for gid, exc in stats["errors"]}
    status = 0
    for plan in plans:
        status = _worse(status, _report(plan, planner, values, failed, len(plans) > 1))
    return status


def _worse(a: int, b: int) -> int:
    """The exit status of several runs: a failure (1) over a partial replay (3) over 0."""
    return max(a, b, key=lambda s: (s == 1, s))


def _report(plan: RunPlan, planner: Planner, values: dict, failed: dict, many: bool) -> int:
    run = plan.run
    err = sys.stderr
    name = os.path.basename(run["script"] or "?")
    if many:
        err.write(f"stratum replay: run {run['id']} ({name})\n")
    divergence = None
    unverified = []
    for seq, site, op, gid, observed in plan.guards:
        if gid not in values:
            unverified.append(f"{site}: {op} could not be recomputed"
                              f"{_why(gid, failed, planner.graph)}")
            continue
        out = values[gid]
        replayed = out[3] if isinstance(observed, tuple) and observed[:1] == ("choice",) \
            else out[0]
        if isinstance(observed, tuple) and observed[:1] == ("choice",):
            observed = observed[1]
            op = f"{op} (which input it picked)"
        if not _same(observed, replayed):
            divergence = (seq, site, op, observed, replayed)
            break
    partial = unverified + plan.unchecked
    printed = 0
    for step in plan.prints:
        if divergence is not None and step.seq > divergence[0]:
            break
        if step.problem is not None:
            partial.append(f"{step.site}: print not replayed ({step.problem})")
            continue
        missing = [gid for gid, _ in step.refs.values() if gid not in values]
        if missing:
            partial.append(f"{step.site}: print not replayed (an input failed"
                           f"{_why(missing[0], failed, planner.graph)})")
            continue
        args = [_print_value(e, step, values) for e in step.args]
        kwargs = {k: _print_value(e, step, values) for k, e in step.kwargs.items()}
        print(*args, **kwargs)
        printed += 1
        if step.unchecked:
            partial.append(f"{step.site}: print re-emitted as recorded: its text was built "
                           "from values stratum could not see (a guard it cannot check)")
    sys.stdout.flush()
    for site, op in plan.skipped:
        partial.append(f"{site}: {op} not re-executed (only print is replayed)")
    status = 0
    if divergence is not None:
        seq, site, op, observed, replayed = divergence
        err.write(f"stratum replay: DIVERGENCE at {site}: guard {op} gave {_short(observed)} "
                  f"when recorded and {_short(replayed)} on replay; the script may take another "
                  "path from here, so nothing after it is printed\n")
        status = 1
    elif partial:
        err.write(f"stratum replay: PARTIAL replay of run {run['id']} ({name}):\n")
        for line in partial:
            err.write(f"  {line}\n")
        status = 3
    code = run.get("exit_code")
    if code:
        # The script failed when recorded: what it printed before is replayed, no further.
        where = (f" after its last recorded operation ({plan.last[0]} at {plan.last[1]})"
                 if plan.last is not None else " before any recorded operation")
        err.write(f"stratum replay: the recorded run {run['id']} ({name}) ended with exit "
                  f"code {code}{where}; replayed up to there\n")
        status = 1
    return status


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 200 else text[:197] + "..."


def _print_value(e, step, values):
    if e[0] == "r":
        gid, sel = step.refs[e[1]]
        return _select(values[gid], sel)
    if e[0] == "L":
        items = [_print_value(x, step, values) for x in e[2]]
        return tuple(items) if e[1] else items
    return entry_value(e, (), {})


def _why(gid, failed, graph=None) -> str:
    """Why node ``gid`` has no value: its own exception, or (it was cancelled) that of the
    earliest failed operation it depends on."""
    exc = failed.get(gid)
    if exc is not None:
        return f": {type(exc).__name__}: {exc}"
    if graph is None or not failed:
        return ""
    seen, stack, found = set(), [gid], []
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u in failed:
            found.append(u)
        else:
            stack.extend(graph.inputs[u])
    if not found:
        return ""
    u = min(found)
    return f": {graph.ops[u]} failed: {type(failed[u]).__name__}: {failed[u]}"
