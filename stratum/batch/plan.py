"""The plan of a batch: which libraries the warm parent imports, and which script to start next.

Two sources of knowledge, both cheap and read before anything runs:

- the scripts' source (``ast``): the modules each one imports, and whether it imports them in
  its leading block of ``import`` statements (only those are safe to import ahead of time:
  code that runs before a later import may set environment variables the library reads);
- the merged graph of past runs (``stratum.trace.merged``): the nodes each script will probably
  compute (from a past run of the same file, the same content, the same path, or else of the
  most similar script seen before), their cost, and so which of them the batch shares.

The schedule starts first the scripts that cover the most shared, not yet cached, predicted
cost, then those whose predicted CPU demand matches what runs (see below), then the longest
predicted work first, so a long script does not end the batch alone; and it holds back a
script whose first costly uncached node another running script is computing (it would only
wait on that key's lock) while an independent script could use the slot. Per-key single
flight in the cache makes sure a node is computed once whatever the order.

CPU demand: each script's predicted cores (CPU / wall seconds of its costly past nodes, as
the traces recorded them). Operations take tokens from the machine's CPU budget
(``stratum.cpu``), so a multi-core operation never shares its cores; but it waits for every
single-threaded operation that holds one, leaving a core idle meanwhile. Two multi-core
scripts alternate without idle cores, and two single-threaded ones fill both: so scripts of
like demand are run together.
"""
from __future__ import annotations

import ast
import importlib.machinery
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stratum.session import shadow

#: Nodes cheaper than this do not make a script "blocked" on another one.
COSTLY = 0.01
#: A never-seen script borrows the prediction of a past script at least this similar (lines).
SIMILAR = 0.5


@dataclass
class Imports:
    leading: list[str] = field(default_factory=list)  # dotted modules of the leading block
    late: list[str] = field(default_factory=list)  # dotted modules imported anywhere else


@dataclass
class ScriptPlan:
    index: int  # position in the batch, from 0
    script: str  # as given
    path: str  # absolute
    imports: Imports
    nodes: list[tuple[str, float]] = field(default_factory=list)  # (key, seconds), run order
    basis: str | None = None  # how the prediction was found (None: no history)
    run_id: int | None = None  # the past run the prediction comes from (its recipes)
    cores: float = 1.0  # predicted cores its costly work keeps busy (CPU / wall seconds)
    sizes: dict[str, int] = field(default_factory=dict)  # key -> bytes of its recorded value

    def as_dict(self) -> dict:
        return {"index": self.index, "script": self.script, "path": self.path,
                "leading": self.imports.leading, "late": self.imports.late,
                "nodes": self.nodes, "basis": self.basis, "cores": self.cores,
                "sizes": self.sizes}

    @classmethod
    def from_dict(cls, d: dict) -> "ScriptPlan":
        return cls(d["index"], d["script"], d["path"], Imports(d["leading"], d["late"]),
                   [tuple(n) for n in d["nodes"]], d["basis"], cores=d.get("cores", 1.0),
                   sizes=dict(d.get("sizes") or {}))


# ---- imports ----------------------------------------------------------------------------------
def scan_imports(path: str, source: str | bytes | None = None) -> Imports:
    """Absolute imports of a script, split into its leading import block and the rest
    (``source``: the script's code, when it is not a file)."""
    return scan_chain([path], [source])


def scan_chain(paths: list[str], sources: list | None = None) -> Imports:
    """The imports of files run one after the other (``-m pkg.mod``: ``pkg/__init__.py``, then
    ``pkg/mod.py``), split as one script's: the leading block goes on through a file that is
    only imports into the next. A file that cannot be read or parsed ends the leading block
    (its run reports it exactly as python does)."""
    out = Imports()
    leading = True
    for path, source in zip(paths, sources or [None] * len(paths)):
        try:
            if source is None:
                with open(path, "rb") as fh:
                    source = fh.read()
            tree = ast.parse(source, path)
        except (OSError, SyntaxError, ValueError):
            leading = False
            continue
        seen: set[int] = set()
        for i, stmt in enumerate(tree.body):
            if not leading:
                break
            if i == 0 and isinstance(stmt, ast.Expr) and \
                    isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                continue  # docstring
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                out.leading.extend(_modules(stmt))
                seen.add(id(stmt))
                continue
            leading = False
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in seen:
                out.late.extend(_modules(node))
    return out


def _modules(stmt) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [a.name for a in stmt.names]
    if stmt.level or not stmt.module or stmt.module == "__future__":
        return []
    # ``from pkg import name``: pkg, and pkg.name in case it is a submodule (checked later)
    return [stmt.module] + [f"{stmt.module}.{a.name}" for a in stmt.names if a.name != "*"]


def is_library(top: str, path: list[str] | None = None) -> bool:
    """An installed third-party package (site-packages), not the stdlib nor the user's code;
    looked up on ``path`` (default: ``sys.path`` less its first entry, the script's folder)."""
    from interposer import userfiles

    if top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ()):
        return False
    spec = importlib.machinery.PathFinder.find_spec(top, sys.path[1:] if path is None else path)
    origin = spec.origin if spec is not None else None
    if origin is None and spec is not None and spec.submodule_search_locations:
        origin = os.path.join(list(spec.submodule_search_locations)[0], "__init__.py")
    return bool(origin) and not userfiles.is_user_file(origin)


def preload_names(plans: list[ScriptPlan], exclude: set[str] = frozenset()) -> list[str]:
    """Modules the warm parent imports: library modules of the scripts' leading blocks, most
    widely used first, never a name a script's own folder shadows."""
    shadowed = set()
    for p in plans:
        shadowed |= shadow.folder_modules(os.path.dirname(p.path))
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    libs: dict[str, bool] = {}
    for p in plans:
        for name in dict.fromkeys(p.imports.leading):
            top = name.partition(".")[0]
            if top in exclude or name in exclude or top in shadowed:
                continue
            if top not in libs:
                libs[top] = is_library(top)
            if libs[top]:
                counts[name] = counts.get(name, 0) + 1
                first.setdefault(name, len(first))
    return sorted(counts, key=lambda n: (n.count("."), -counts[n], first[n]))


# ---- predictions ------------------------------------------------------------------------------
def predict(plans: list[ScriptPlan], cache_dir) -> None:
    """Fill each plan's predicted nodes from the merged graph (silently nothing without one)."""
    try:
        from stratum.trace.merged import MergedGraph
        from stratum.trace.store import TraceStore

        if not (Path(cache_dir) / "traces.db").exists():
            return
        store = TraceStore(cache_dir)
    except Exception:
        return
    try:
        graph = MergedGraph.load(store)
        similar = _SimilarScripts(store)
        for p in plans:
            pred = graph.predict(p.path)
            if pred.run_id is None:
                other = similar.best(p.path)
                if other is not None:
                    pred = graph.predict(other)
                    pred.basis = f"similar script {os.path.basename(other)}" \
                        if pred.run_id is not None else None
            p.basis = pred.basis
            p.run_id = pred.run_id
            wall = cpu = 0.0
            for n in pred.nodes:
                merged = graph.nodes.get(n.id)
                if n.per_run or n.key is None or (merged is not None and merged.parent):
                    continue  # nested nodes are counted in their parent's cost
                seconds = float(n.mean_seconds or 0.0)
                p.nodes.append((n.key, seconds))
                if merged is not None and merged.nbytes:
                    p.sizes[n.key] = int(merged.nbytes)
                if n.cores is not None and seconds >= COSTLY:
                    wall += seconds
                    cpu += seconds * n.cores
            p.cores = max(1.0, cpu / wall) if wall else 1.0
    except Exception:
        return  # a plan is an optimisation: without one the batch runs in the order given
    finally:
        store.close()


class _SimilarScripts:
    """Past scripts still on disk, compared by their sets of stripped source lines."""

    def __init__(self, store, limit: int = 200):
        rows = store.db.execute(
            "SELECT script FROM runs GROUP BY script ORDER BY max(id) DESC LIMIT ?",
            (limit,)).fetchall()
        self.scripts = [r[0] for r in rows if r[0] and os.path.isfile(r[0])]
        self._lines: dict[str, set[str]] = {}

    def _of(self, path: str) -> set[str]:
        got = self._lines.get(path)
        if got is None:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    got = {s for s in (line.strip() for line in fh) if s and not s.startswith("#")}
            except OSError:
                got = set()
            self._lines[path] = got
        return got

    def best(self, path: str) -> str | None:
        mine = self._of(path)
        best, score = None, SIMILAR
        for other in self.scripts:
            if other == path:
                continue
            theirs = self._of(other)
            union = len(mine | theirs)
            s = len(mine & theirs) / union if union else 0.0
            if s > score:
                best, score = other, s
        return best


# ---- schedule ---------------------------------------------------------------------------------
def entry_exists(cache_dir, key: str) -> bool:
    """Is ``key`` in the disk cache? (layout of ``stratum/cache/cache.py``: objects/ab/<key>)"""
    return os.path.exists(os.path.join(cache_dir, "objects", key[:2], key))


class Scheduler:
    """Picks the next script to start, given what runs and what the cache already holds."""

    def __init__(self, plans: list[ScriptPlan], cache_dir, cached=None):
        self.plans = plans
        self.cache_dir = os.fspath(cache_dir)
        self._cached = cached or (lambda key: entry_exists(self.cache_dir, key))
        users: dict[str, int] = {}
        for p in plans:
            for key in {k for k, _ in p.nodes}:
                users[key] = users.get(key, 0) + 1
        self.shared = {k for k, n in users.items() if n >= 2}

    def _todo(self, plan: ScriptPlan) -> list[tuple[str, float]]:
        return [(k, s) for k, s in plan.nodes if not self._cached(k)]

    def pick(self, pending: list[int], running: list[int]) -> int:
        """Index (into ``pending``'s values) of the script to start next."""
        claimed = set()
        for i in running:
            claimed.update(k for k, _ in self._todo(self.plans[i]) if k in self.shared)
        best, best_rank = None, None
        for order, i in enumerate(pending):
            todo = self._todo(self.plans[i])
            first_costly = next((k for k, s in todo if s >= COSTLY), None)
            blocked = first_costly is not None and first_costly in claimed
            work = dict(todo)
            gain = sum(s for k, s in work.items() if k in self.shared and k not in claimed)
            # like CPU demand beside what runs (multi-core with multi-core), then the longest
            # predicted work first: a long script started last is the tail
            mismatch = min((abs(self.plans[i].cores - self.plans[j].cores) for j in running),
                           default=0.0)
            rank = (blocked, -round(gain, 3), round(mismatch * 2) / 2,
                    -round(sum(work.values()), 3), order)
            if best_rank is None or rank < best_rank:
                best, best_rank = i, rank
        return best
