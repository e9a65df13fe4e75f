"""The merged graph of every recorded run, read from the trace store.

Traces of all runs and scripts are stitched by lineage key (``stratum.trace.mergestore`` keeps the
tables current as runs are recorded), so this module only reads. API::

    from stratum.trace.merged import MergedGraph
    g = MergedGraph.load(store)              # TraceStore, or a cache directory; all runs
    g = MergedGraph.load(store, runs=[3, 7]) # only these runs (counts are over them)
    g.nodes        # {id: MergedNode}; id = lineage key, or "run:seq" for a per-run node
    g.edges        # [(src id, dst id)]: src produced a value dst consumed
    g.children(id) # nodes recorded inside a composite node (folds of cross_val_score)
    g.shared()     # nodes seen in >= 2 scripts (g.shared(by="runs"): in >= 2 runs)
    p = g.predict("/abs/or/relative/script.py", argv=None)
    p.nodes        # [PredictedNode] in run order: mean_seconds (None if never executed),
                   # shared_with (how many other scripts saw it), ...
    p.run_id, p.basis   # the past run it is based on and why it was chosen: "same file [and
                        # arguments]" (path and content hash), "same content" (a copy),
                        # "same path [and arguments]" (edited since); None if never run
    p.cost, p.shared()  # sum of mean costs; the predicted nodes other scripts share

Nodes and edges are read on first use, so ``load(...).predict(...)`` stays a few queries.
``g.totals()`` and ``g.as_json()`` give the summary and everything, for tools.
A per-run node (no key, or a sink such as ``print``) belongs to one run and is never merged.
``MergedNode.mean_seconds`` is the mean cost of the sightings that executed the operation.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

NODE_COLUMNS = ("id", "key", "op", "kind", "site", "effect", "parent", "runs", "scripts",
                "executions", "reuses", "seconds", "reuse_seconds", "nbytes", "first_run",
                "last_run", "first_seen", "last_seen", "cpu")


@dataclass(slots=True)
class MergedNode:
    id: str
    key: str | None
    op: str
    kind: str
    site: str
    effect: str
    parent: str | None  # merged id of the node it was recorded inside (first sighting)
    runs: int
    scripts: int
    executions: int
    reuses: int
    seconds: float  # total over executions
    reuse_seconds: float  # total spent restoring it
    nbytes: int
    first_run: int
    last_run: int
    first_seen: float
    last_seen: float
    cpu: float | None = None  # CPU seconds over executions (None: recorded before stratum kept it)

    @property
    def per_run(self) -> bool:
        return ":" in self.id

    @property
    def mean_seconds(self) -> float | None:
        return self.seconds / self.executions if self.executions else None

    @property
    def cores(self) -> float | None:
        """Cores its executions kept busy on average (CPU seconds / wall seconds)."""
        if not self.cpu or not self.seconds:
            return None
        return self.cpu / self.seconds

    def as_dict(self) -> dict:
        d = {name: getattr(self, name) for name in NODE_COLUMNS}
        d["per_run"] = self.per_run
        d["mean_seconds"] = self.mean_seconds
        d["cores"] = self.cores
        return d


@dataclass
class PredictedNode:
    id: str
    key: str | None
    op: str
    site: str
    seq: int
    mean_seconds: float | None
    executions: int
    reuses: int
    runs: int
    scripts: int
    shared_with: int  # other scripts that saw this node
    per_run: bool
    cores: float | None = None  # cores its executions kept busy (CPU / wall seconds)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Prediction:
    script: str
    run_id: int | None = None  # the past run the prediction comes from
    basis: str | None = None  # "same file", "same content", "same path"; None: never seen
    nodes: list[PredictedNode] = field(default_factory=list)

    @property
    def cost(self) -> float:
        """Predicted seconds if nothing were reused (mean cost of every predicted node)."""
        return sum(n.mean_seconds or 0.0 for n in self.nodes)

    def shared(self) -> list[PredictedNode]:
        return [n for n in self.nodes if n.shared_with]


class MergedGraph:
    """Nodes and edges are read on first use: ``predict`` alone never loads the whole graph."""

    def __init__(self, db, nodes: dict | None, edges: list | None, runs: list[int] | None,
                 n_runs: int, n_scripts: int):
        self._db = db
        self._nodes = nodes
        self._edges = edges
        self.runs = runs  # the selection, or None for every run
        self.n_runs = n_runs
        self.n_scripts = n_scripts

    @classmethod
    def load(cls, store, runs=None) -> "MergedGraph":
        """The merged graph of every run, or of the given run ids only."""
        db = _connection(store)
        if runs is None:
            n_runs, n_scripts = db.execute(
                "SELECT count(*), count(DISTINCT script) FROM runs").fetchone()
            return cls(db, None, None, None, n_runs, n_scripts)
        runs = sorted({int(r) for r in runs})
        n_runs, n_scripts = db.execute(
            f"SELECT count(*), count(DISTINCT script) FROM runs WHERE id IN ({_marks(runs)})",
            runs).fetchone()
        return cls(db, None, None, runs, n_runs, n_scripts)

    @property
    def nodes(self) -> dict[str, MergedNode]:
        if self._nodes is None:
            self._nodes = self._load_nodes()
        return self._nodes

    @property
    def edges(self) -> list[tuple[str, str]]:
        if self._edges is None:
            cur = self._db.execute("SELECT src, dst FROM merged_edges")
            if self.runs is None:
                self._edges = cur.fetchall()
            else:
                nodes = self.nodes
                self._edges = [(s, d) for s, d in cur if s in nodes and d in nodes]
        return self._edges

    def _load_nodes(self) -> dict[str, MergedNode]:
        if self.runs is None:
            cur = self._db.execute(
                f"SELECT {', '.join(NODE_COLUMNS)} FROM merged_nodes ORDER BY rowid")
            return {row[0]: MergedNode(*row) for row in cur}
        cur = self._db.execute(
            "SELECT m.id, n.key, n.op, n.kind, n.site, n.effect, n.parent, count(*),"
            " count(DISTINCT r.script), sum(m.executions), sum(m.reuses), sum(m.seconds),"
            " sum(m.reuse_seconds), n.nbytes, min(m.run_id), max(m.run_id), min(r.started),"
            " max(r.started), sum(m.cpu) FROM merged_members m JOIN merged_nodes n ON n.id = m.id"
            f" JOIN runs r ON r.id = m.run_id WHERE m.run_id IN ({_marks(self.runs)})"
            " GROUP BY m.id ORDER BY min(m.run_id), min(m.seq)", self.runs)
        nodes = {row[0]: MergedNode(*row) for row in cur}
        for n in nodes.values():
            if n.parent is not None and n.parent not in nodes:
                n.parent = None
        return nodes

    # ---- queries --------------------------------------------------------------------------
    def shared(self, by: str = "scripts", at_least: int = 2) -> list[MergedNode]:
        """Nodes seen in at least ``at_least`` scripts (or runs), most costly first."""
        if by not in ("scripts", "runs"):
            raise ValueError("by must be 'scripts' or 'runs'")
        out = [n for n in self.nodes.values() if not n.per_run and getattr(n, by) >= at_least]
        return sorted(out, key=lambda n: (-(n.seconds), n.id))

    def children(self, node_id: str) -> list[MergedNode]:
        return [n for n in self.nodes.values() if n.parent == node_id]

    def predecessors(self, node_id: str) -> list[str]:
        return [s for s, d in self.edges if d == node_id]

    def successors(self, node_id: str) -> list[str]:
        return [d for s, d in self.edges if s == node_id]

    def predict(self, script_path, argv=None) -> Prediction:
        """The nodes a script will probably run, from its most relevant past run."""
        path = os.path.abspath(os.fspath(script_path))
        from stratum.trace.store import script_hash

        digest = script_hash(path)
        run_id, basis = self._basis_run(path, digest, argv)
        pred = Prediction(path, run_id, basis)
        if run_id is None:
            return pred
        if self._nodes is None and self.runs is None:  # only this run's nodes, not the graph
            cur = self._db.execute(
                f"SELECT min(m.seq), {', '.join('n.' + c for c in NODE_COLUMNS)}"
                " FROM merged_members m JOIN merged_nodes n ON n.id = m.id WHERE m.run_id=?"
                " GROUP BY m.id ORDER BY min(m.seq)", (run_id,))
            members = [(row[1], row[0], MergedNode(*row[1:])) for row in cur]
        else:
            members = [(mid, seq, self.nodes.get(mid)) for mid, seq in self._db.execute(
                "SELECT id, min(seq) FROM merged_members WHERE run_id=? GROUP BY id"
                " ORDER BY min(seq)", (run_id,))]
        if self.runs is None:
            others = dict(self._db.execute(
                "SELECT s.id, count(*) FROM merged_scripts s WHERE s.id IN"
                " (SELECT id FROM merged_members WHERE run_id=?) AND s.script != ? GROUP BY s.id",
                (run_id, path)).fetchall())
        else:
            others = dict(self._db.execute(
                "SELECT m.id, count(DISTINCT r.script) FROM merged_members m JOIN runs r"
                " ON r.id = m.run_id WHERE m.id IN (SELECT id FROM merged_members WHERE run_id=?)"
                " AND r.script IS NOT ?" + self._run_filter("m.run_id") + " GROUP BY m.id",
                (run_id, path, *self.runs)).fetchall())
        for mid, seq, n in members:
            if n is None:
                continue
            pred.nodes.append(PredictedNode(
                mid, n.key, n.op, n.site, seq, n.mean_seconds, n.executions, n.reuses, n.runs,
                n.scripts, 0 if n.per_run else others.get(mid, 0), n.per_run, n.cores))
        return pred

    def _run_filter(self, column: str) -> str:
        if self.runs is None:
            return ""
        return f" AND {column} IN ({_marks(self.runs)})"

    def _basis_run(self, path: str, digest: str | None, argv) -> tuple[int | None, str | None]:
        argv_text = json.dumps(list(argv)) if argv is not None else None
        sel = self._run_filter("id")
        params = tuple(self.runs or ())
        tries = []
        if digest is not None:
            if argv_text is not None:
                tries.append(("same file and arguments",
                              "script=? AND script_hash=? AND argv=?", (path, digest, argv_text)))
            tries.append(("same file", "script=? AND script_hash=?", (path, digest)))
            tries.append(("same content", "script_hash=?", (digest,)))
        if argv_text is not None:
            tries.append(("same path and arguments", "script=? AND argv=?", (path, argv_text)))
        tries.append(("same path", "script=?", (path,)))
        for basis, where, args in tries:
            row = self._db.execute(f"SELECT max(id) FROM runs WHERE {where}{sel}",
                                   (*args, *params)).fetchone()
            if row and row[0] is not None:
                return row[0], basis
        return None, None

    # ---- summaries ------------------------------------------------------------------------
    def totals(self) -> dict:
        merged = [n for n in self.nodes.values() if not n.per_run]
        return {
            "runs": self.n_runs, "scripts": self.n_scripts, "nodes": len(self.nodes),
            "merged_nodes": len(merged), "per_run_nodes": len(self.nodes) - len(merged),
            "edges": len(self.edges),
            "shared_by_scripts": sum(1 for n in merged if n.scripts >= 2),
            "shared_by_runs": sum(1 for n in merged if n.runs >= 2),
            "executions": sum(n.executions for n in self.nodes.values()),
            "reuses": sum(n.reuses for n in self.nodes.values()),
            "executed_seconds": sum(n.seconds for n in self.nodes.values()),
            "saved_seconds": sum(max(0.0, (n.mean_seconds or 0.0) * n.reuses - n.reuse_seconds)
                                 for n in self.nodes.values()),
        }

    def as_json(self) -> dict:
        return {"runs": self.runs, "totals": self.totals(),
                "nodes": [n.as_dict() for n in self.nodes.values()],
                "edges": [{"src": s, "dst": d} for s, d in self.edges]}


def _marks(values) -> str:
    return ",".join("?" * len(values))


def _connection(store):
    """The SQLite connection of a TraceStore, or of the trace store in a cache directory."""
    db = getattr(store, "db", None)
    if db is not None:
        return db
    from stratum.trace.store import TraceStore

    return TraceStore(store).db
