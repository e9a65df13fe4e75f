"""Keeps the merged graph in the trace store current: one merged node per lineage key.

Every run's nodes are stitched into SQLite tables next to ``runs`` / ``nodes`` inside the same
transaction that records the run, so the merged graph never lags the traces:

- ``merged_nodes``: one row per merged id with totals over every sighting. The id is the
  lineage key; a node without a key, or a sink (its side effect happens every run), is a
  per-run node with the id ``"<run_id>:<seq>"`` and is never merged across runs.
- ``merged_edges(src, dst)``: ``src`` produced a value ``dst`` consumed. A value's key is the
  key of the node that made it, or a key derived from it (a fitted estimator, an object changed
  in place, the i-th item of a returned tuple; see ``stratum.keys.derive``).
- ``merged_members(run_id, seq, id, ...)``: which runs saw a node, and what it cost there
  (a selection of runs is aggregated from these rows); ``merged_scripts(id, script)``: which
  scripts saw it. Both are laid out so that recording a run appends rather than scatters
  (members are clustered by run; a script pair is only written the first time).

Runs recorded before this existed (or by an older stratum sharing the cache) are merged on the
next open or record: ``merged_meta.upto`` is the last run id merged.
"""
from __future__ import annotations

from stratum.keys.derive import derive  # noqa: F401 - also mergestore.derive

SCHEMA = """
CREATE TABLE IF NOT EXISTS merged_nodes(
    id TEXT PRIMARY KEY, key TEXT, op TEXT, kind TEXT, site TEXT, effect TEXT, parent TEXT,
    runs INTEGER, scripts INTEGER, executions INTEGER, reuses INTEGER, seconds REAL,
    reuse_seconds REAL, nbytes INTEGER, first_run INTEGER, last_run INTEGER,
    first_seen REAL, last_seen REAL, cpu REAL);
CREATE TABLE IF NOT EXISTS merged_edges(src TEXT, dst TEXT, PRIMARY KEY(src, dst)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merged_members(
    run_id INTEGER, seq INTEGER, id TEXT, executions INTEGER, reuses INTEGER,
    seconds REAL, reuse_seconds REAL, cpu REAL, PRIMARY KEY(run_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merged_scripts(id TEXT, script TEXT, PRIMARY KEY(id, script))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merged_meta(name TEXT PRIMARY KEY, value TEXT);
"""

SINK, MUTATES, FIT = "sink", "mutates", "fit"
MAX_ITEMS = 64  # the engine keys the items of a returned tuple / list up to this length

_UPSERT = """
INSERT INTO merged_nodes(id, key, op, kind, site, effect, parent, runs, scripts, executions,
    reuses, seconds, reuse_seconds, nbytes, first_run, last_run, first_seen, last_seen, cpu)
VALUES(?,?,?,?,?,?,?,1,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET
    runs = runs + 1, scripts = scripts + excluded.scripts,
    executions = executions + excluded.executions, reuses = reuses + excluded.reuses,
    seconds = seconds + excluded.seconds, reuse_seconds = reuse_seconds + excluded.reuse_seconds,
    cpu = CASE WHEN excluded.cpu IS NULL THEN cpu ELSE coalesce(cpu, 0) + excluded.cpu END,
    nbytes = CASE WHEN excluded.nbytes > 0 THEN excluded.nbytes ELSE nbytes END,
    parent = coalesce(parent, excluded.parent),
    last_run = excluded.last_run, last_seen = excluded.last_seen
"""


def merged_id(run_id: int, seq: int, key: str | None, effect: str) -> str:
    """Merged id of a node: its key, or a per-run id when it must not be merged."""
    return key if key and effect != SINK else f"{run_id}:{seq}"


def _fields(n) -> tuple:
    """(seq, key, op, site, inputs, kind, seconds, nbytes, effect, reused, parent, cpu) of an
    engine Node or a row dict from ``TraceStore.nodes``."""
    if isinstance(n, dict):
        return (n["seq"], n["key"], n["op"], n["site"], n["inputs"], n["kind"], n["seconds"],
                n["nbytes"], n["effect"], n["reused"], n["parent"], n.get("cpu"))
    return (n.seq, n.key, n.op, n.site, n.inputs, n.kind, n.seconds, n.nbytes, n.effect,
            n.reused, n.parent, n.cpu)


def merge_run(db, run_id: int, script: str | None, started: float, nodes) -> None:
    """Add one run's nodes to the merged tables. Call inside the transaction recording it."""
    if db.execute("SELECT 1 FROM merged_members WHERE run_id=? LIMIT 1", (run_id,)).fetchone():
        return  # merged already: merging is idempotent
    rows = [_fields(n) for n in nodes]
    ids = {r[0]: merged_id(run_id, r[0], r[1], r[8]) for r in rows}
    produced: dict[str, str] = {}
    for r in rows:
        if r[1]:
            produced[r[1]] = ids[r[0]]
    _add_derived(rows, ids, produced)

    agg: dict[str, list] = {}
    edges: set[tuple[str, str]] = set()
    for seq, key, op, site, inputs, kind, seconds, nbytes, effect, reused, parent, cpu in rows:
        mid = ids[seq]
        a = agg.get(mid)
        if a is None:
            # key, op, kind, site, effect, parent, executions, reuses, seconds, reuse s, nbytes,
            # seq, cpu seconds of the executions
            a = agg[mid] = [key, op, kind, site, effect, None, 0, 0, 0.0, 0.0, 0, seq, None]
        if a[5] is None and parent is not None:
            a[5] = ids.get(parent)
        if reused:
            a[7] += 1
            a[9] += seconds or 0.0
        else:
            a[6] += 1
            a[8] += seconds or 0.0
            if cpu is not None:  # None: recorded before stratum measured CPU time
                a[12] = (a[12] or 0.0) + cpu
        if nbytes:
            a[10] = nbytes
        a[11] = min(a[11], seq)
        for k in inputs:
            src = produced.get(k)
            if src is not None and src != mid:
                edges.add((src, mid))

    new_script = _new_for_script(db, agg, script or "")
    db.executemany(
        "INSERT INTO merged_members(run_id, seq, id, executions, reuses, seconds,"
        " reuse_seconds, cpu) VALUES(?,?,?,?,?,?,?,?)",
        [(run_id, a[11], mid, a[6], a[7], a[8], a[9], a[12]) for mid, a in agg.items()])
    db.executemany(_UPSERT, [
        (mid, a[0], a[1], a[2], a[3], a[4], a[5], new_script[mid], a[6], a[7], a[8], a[9], a[10],
         run_id, run_id, started, started, a[12]) for mid, a in agg.items()])
    db.executemany("INSERT OR IGNORE INTO merged_edges(src, dst) VALUES(?,?)", sorted(edges))
    db.execute("INSERT INTO merged_meta(name, value) VALUES('upto', ?) "
               "ON CONFLICT(name) DO UPDATE SET value=excluded.value "
               "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)", (str(run_id),))


def _new_for_script(db, ids, script: str) -> dict[str, int]:
    """Record which scripts saw each merged id: 1 for an id ``script`` had not seen before
    (per-run ids always), 0 for one it had. Looked up in chunks, written in one batch."""
    keyed = [mid for mid in ids if ":" not in mid]
    seen: set[str] = set()
    for i in range(0, len(keyed), 500):
        chunk = keyed[i:i + 500]
        seen.update(row[0] for row in db.execute(
            f"SELECT id FROM merged_scripts WHERE script = ? AND id IN ({','.join('?' * len(chunk))})",
            (script, *chunk)))
    new = [mid for mid in keyed if mid not in seen]
    db.executemany("INSERT OR IGNORE INTO merged_scripts(id, script) VALUES(?, ?)",
                   [(mid, script) for mid in new])
    return {mid: 0 if mid in seen else 1 for mid in ids}


def _add_derived(rows, ids, produced) -> None:
    """Index the keys the engine derives from outputs, but only if some input needs one."""
    wanted = {k for r in rows for k in r[4] if k not in produced}
    if not wanted:
        return
    for seq, key, _op, _site, _inputs, kind, _s, _b, effect, _r, _p, _c in rows:
        if not key:
            continue
        whats = ["fitted"] if effect == FIT else ["mutated"] if effect == MUTATES else []
        if kind in ("tuple", "list"):
            whats.extend(str(i) for i in range(MAX_ITEMS))
        for what in whats:
            d = derive(key, what)
            if d in wanted and d not in produced:
                produced[d] = ids[seq]


def merged_upto(db) -> int:
    row = db.execute("SELECT value FROM merged_meta WHERE name='upto'").fetchone()
    return int(row[0]) if row else 0


def catch_up(db, load_nodes) -> int:
    """Merge every run not merged yet (older store, older writer); inside a write transaction.

    ``load_nodes(run_id)`` returns a run's nodes as ``TraceStore.nodes`` does."""
    upto = merged_upto(db)
    pending = db.execute("SELECT id, script, started FROM runs WHERE id > ? ORDER BY id",
                         (upto,)).fetchall()
    for run_id, script, started in pending:
        merge_run(db, run_id, script, started, load_nodes(run_id))
    if not pending and upto == 0:
        db.execute("INSERT OR IGNORE INTO merged_meta(name, value) VALUES('upto', '0')")
    return len(pending)


def needs_catch_up(db) -> bool:
    row = db.execute("SELECT max(id) FROM runs").fetchone()
    return bool(row and row[0] is not None and row[0] > merged_upto(db))



def rebuild(db, load_nodes) -> int:
    """Empty the merged tables and merge every run again (after runs were removed: a merged
    node's totals, scripts and edges then count only the runs left); inside a write transaction."""
    for table in ("merged_nodes", "merged_edges", "merged_members", "merged_scripts",
                  "merged_meta"):
        db.execute(f"DELETE FROM {table}")
    return catch_up(db, load_nodes)
