"""The trace store: runs and their nodes in SQLite (``traces.db`` in the cache directory).

Embedded, nothing to start; WAL so several processes can record at once. Recording a run also
merges it into the merged graph (``stratum.trace.mergestore``) in the same transaction.

A damaged store (SQLITE_CORRUPT, or not a SQLite file) is set aside, not repaired in place:
:func:`set_aside` renames it with its ``-wal`` and ``-shm`` to ``traces.db.damaged-<time>``
(the newest :data:`KEEP_DAMAGED` are kept) and the next open creates a new one. Renaming a
database under an open connection is unsafe: when that connection closes last it checkpoints
and deletes ``traces.db-wal`` and ``traces.db-shm`` *by name*, which would then be the new
store's. So every :class:`TraceStore` holds a shared ``flock`` on ``traces.lock`` while its
connection is open, and the rename happens under the exclusive lock, only if ``traces.db`` is
still the very file found damaged (another process may have replaced it already).
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path

from stratum.trace import mergestore
from stratum.cache import sqlite_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY AUTOINCREMENT, script TEXT, argv TEXT, cwd TEXT, started REAL,
    seconds REAL, exit_code INTEGER, nodes INTEGER, reused INTEGER, executed INTEGER,
    saved REAL, versions TEXT, script_hash TEXT);
CREATE TABLE IF NOT EXISTS nodes(
    run_id INTEGER, seq INTEGER, key TEXT, op TEXT, site TEXT, inputs TEXT, consts TEXT,
    kind TEXT, seconds REAL, nbytes INTEGER, effect TEXT, reused INTEGER, reason TEXT,
    parent INTEGER, impl TEXT, recipe BLOB, cpu REAL, PRIMARY KEY(run_id, seq));
CREATE INDEX IF NOT EXISTS runs_script ON runs(script);
""" + mergestore.SCHEMA

NODE_FIELDS = ("seq", "key", "op", "site", "inputs", "consts", "kind", "seconds", "nbytes",
               "effect", "reused", "reason", "parent", "impl", "recipe", "cpu")
#: The node fields ``python -m stratum trace --json`` shows, in its order.
JSON_NODE_FIELDS = ("op", "site", "key", "inputs", "consts", "kind", "seconds", "cpu", "nbytes",
                    "effect", "reused", "reason", "parent", "impl")


KEEP_DAMAGED = 2  # damaged stores kept (set aside) for inspection; older ones are deleted
LOCK_WAIT = 10.0  # seconds set_aside waits for other processes to close the damaged store


class Damaged(Exception):
    """The trace store at ``path`` is damaged; ``ident`` (st_dev, st_ino) names the file."""

    def __init__(self, path: Path, ident: tuple | None, reason: BaseException):
        super().__init__(f"the trace store {path} is damaged ({reason})")
        self.path, self.ident, self.reason = path, ident, reason


def damage(exc: BaseException, store: "TraceStore | None" = None) -> Damaged | None:
    """``exc`` as a :class:`Damaged` if it says the store is damaged (``store``: the one in use)."""
    if isinstance(exc, Damaged):
        return exc
    if store is not None and sqlite_wal.is_corrupt(exc):
        return Damaged(store.path, store.ident, exc)
    return None


class TraceStore:
    def __init__(self, directory: Path):
        self.path = Path(directory) / "traces.db"
        self.db = None
        self._lock = _open_lock(Path(directory))
        try:
            fcntl.flock(self._lock, fcntl.LOCK_SH)  # no set_aside while this is open
            # Create the file 0600 first (SQLite gives -wal and -shm the database's mode) and
            # note which file it is: set_aside must rename this one, not a newer one.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                info = os.fstat(fd)
            finally:
                os.close(fd)
            self.ident = (info.st_dev, info.st_ino)
            try:
                self.db = sqlite_wal.connect(self.path, 30, self._create_schema)
                if mergestore.needs_catch_up(self.db):
                    with self.db:
                        self.db.execute("BEGIN IMMEDIATE")
                        mergestore.catch_up(self.db, self.nodes)
            except sqlite3.DatabaseError as exc:
                if self.db is not None:
                    self.db.close()
                if sqlite_wal.is_corrupt(exc):
                    raise Damaged(self.path, self.ident, exc) from exc
                raise
        except BaseException:
            os.close(self._lock)
            raise

    def _create_schema(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the columns newer versions introduced to a store an older version created."""
        for table, column, decl in (("nodes", "impl", "TEXT"), ("nodes", "recipe", "BLOB"),
                                    ("runs", "script_hash", "TEXT"), ("nodes", "cpu", "REAL"),
                                    ("merged_nodes", "cpu", "REAL"),
                                    ("merged_members", "cpu", "REAL")):
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                try:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if sqlite_wal.is_busy(exc):
                        raise
        self.db.execute("CREATE INDEX IF NOT EXISTS runs_hash ON runs(script_hash)")
        # Nothing looks nodes up by key (the merged tables do that), and keeping the index
        # was a random insert per recorded node.
        self.db.execute("DROP INDEX IF EXISTS nodes_key")

    def record(self, run: dict, nodes: list) -> int:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            mergestore.catch_up(self.db, self.nodes)
            run_id = self._insert_run(run, json.dumps(run["argv"]), len(nodes))
            self.db.executemany(
                f"INSERT INTO nodes(run_id, {', '.join(NODE_FIELDS)}) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, n.seq, n.key, n.op, n.site, _json_list(n.inputs), _json_list(n.consts),
                  n.kind, n.seconds, n.nbytes, n.effect, int(n.reused), n.reason, n.parent,
                  n.impl, _recipe_blob(n.recipe), n.cpu)
                 for n in nodes])
            mergestore.merge_run(self.db, run_id, run["script"], run["started"], nodes)
        return run_id

    def _insert_run(self, run: dict, argv: str, count: int) -> int:
        """The ``runs`` row of a run (``argv`` as JSON text); its id."""
        cur = self.db.execute(
            "INSERT INTO runs(script, argv, cwd, started, seconds, exit_code, nodes, reused,"
            " executed, saved, versions, script_hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
            (run["script"], argv, run["cwd"], run["started"], run["seconds"], run["exit_code"],
             count, run["reused"], run["executed"], run["saved"], run["versions"],
             run.get("script_hash")))
        return cur.lastrowid

    def export_run(self, run_id: int) -> dict | None:
        """One run and its nodes as plain data (recipes stay pickled bytes), for
        :meth:`import_run` in another machine's store (``run --cluster``)."""
        run = self.run(run_id)
        if run is None:
            return None
        return {"run": run, "nodes": self.nodes(run_id)}

    def import_run(self, exported: dict) -> int:
        """Record a run :meth:`export_run` gave, merged like one recorded here; its new id."""
        return self.import_runs([exported])[0]

    def import_runs(self, exported: list[dict]) -> list[int]:
        """Record several exported runs in one transaction (a cluster's client imports what
        its workers recorded in batches: one commit, not one per run); their new ids."""
        ids = []
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            mergestore.catch_up(self.db, self.nodes)
            for one in exported:
                run, nodes = one["run"], one["nodes"]
                run_id = self._insert_run(run, run["argv"], len(nodes))
                self.db.executemany(
                    f"INSERT INTO nodes(run_id, {', '.join(NODE_FIELDS)}) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(run_id, *[_json_list(n[f]) if f in ("inputs", "consts")
                                else int(n[f]) if f == "reused" else n[f]
                                for f in NODE_FIELDS])
                     for n in nodes])
                mergestore.merge_run(self.db, run_id, run["script"], run["started"], nodes)
                ids.append(run_id)
        return ids

    def delete_runs(self, ids) -> int:
        """Remove these runs and their nodes; the merged graph is rebuilt from the runs left,
        so no merged node keeps a removed run's sightings. Returns how many runs were removed."""
        ids = sorted(set(ids))
        if not ids:
            return 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            removed = 0
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                self.db.execute(f"DELETE FROM nodes WHERE run_id IN ({marks})", chunk)
                removed += self.db.execute(f"DELETE FROM runs WHERE id IN ({marks})",
                                           chunk).rowcount
            mergestore.rebuild(self.db, self.nodes)
        return removed

    def select_runs(self, keep: int | None = None, before: float | None = None,
                    scripts: list[str] | None = None) -> list[int]:
        """Ids of the runs a prune removes: of these ``scripts`` only (if given), started
        before ``before`` (if given), and beyond the newest ``keep`` (if given) of those."""
        where, args = [], []
        if scripts is not None:
            where.append(f"script IN ({','.join('?' * len(scripts))})")
            args.extend(scripts)
        sql = "SELECT id, started FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self.db.execute(sql + " ORDER BY id DESC", args).fetchall()
        if keep is not None:
            rows = rows[max(0, keep):]
        return [r for r, started in rows if before is None or (started or 0) < before]

    def runs(self, limit: int = 50) -> list[dict]:
        cur = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()][::-1]

    def run(self, run_id: int | None = None) -> dict | None:
        if run_id is None:
            row = self.db.execute("SELECT max(id) FROM runs").fetchone()
            run_id = row[0] if row else None
            if run_id is None:
                return None
        cur = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,))
        cols = [c[0] for c in cur.description]
        row = cur.fetchone()
        return dict(zip(cols, row)) if row else None

    def nodes(self, run_id: int) -> list[dict]:
        cur = self.db.execute(
            f"SELECT {', '.join(NODE_FIELDS)} FROM nodes WHERE run_id=? ORDER BY seq", (run_id,))
        out = []
        for row in cur.fetchall():
            d = dict(zip(NODE_FIELDS, row))
            d["inputs"] = json.loads(d["inputs"])
            d["consts"] = json.loads(d["consts"])
            d["reused"] = bool(d["reused"])
            out.append(d)
        return out

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            if self._lock is not None:
                os.close(self._lock)  # releases the shared lock
                self._lock = None


def _open_lock(directory: Path) -> int:
    return os.open(directory / "traces.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)


def set_aside(damaged: Damaged) -> Path | None:
    """Rename the damaged store (with its -wal and -shm) out of the way; the next open creates
    a new one. Returns the new name, or None if another process set it aside first.

    Call with no TraceStore of this process open (this waits for every one to close). Raises
    OSError (e.g. other processes kept it open for :data:`LOCK_WAIT` seconds)."""
    path = damaged.path
    fd = _open_lock(path.parent)
    try:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OSError(f"the trace store {path} is damaged and still in use "
                                  "by another process") from None
                time.sleep(0.01)
        try:
            info = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if damaged.ident is None or (info.st_dev, info.st_ino) != tuple(damaged.ident):
            return None  # another process replaced it already
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
                               f"-{os.getpid()}")
        os.rename(path, aside)
        for suffix in ("-wal", "-shm"):
            try:
                os.rename(f"{path}{suffix}", f"{aside}{suffix}")
            except FileNotFoundError:
                pass
        _prune_damaged(path)
        return aside
    finally:
        os.close(fd)


def _prune_damaged(path: Path) -> None:
    """Keep the newest KEEP_DAMAGED damaged stores (names sort by the time they were found)."""
    prefix = f"{path.name}.damaged-"
    mains = sorted(p for p in os.listdir(path.parent)
                   if p.startswith(prefix) and not p.endswith(("-wal", "-shm")))
    for name in mains[:-KEEP_DAMAGED] if KEEP_DAMAGED else mains:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(path.parent / f"{name}{suffix}")
            except OSError:
                pass


def script_hash(path) -> str | None:
    """Content hash of a script file (finds past runs of a copy or a renamed script)."""
    import hashlib  # here, as pickle below: a run of ``-c`` code never needs it (~2 ms to import)

    try:
        with open(os.fspath(path), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:32]
    except (OSError, TypeError, ValueError):
        return None


_encode = json.JSONEncoder().encode


def _json_list(items) -> str:
    """``json.dumps(items)``, for one node's inputs or constants (often none)."""
    return _encode(items) if items else "[]"


def _recipe_blob(recipe) -> bytes | None:
    """A node's replay recipe (stratum/engine/recipe.py), pickled; values in it are pickled already."""
    if recipe is None:
        return None
    import pickle  # here: only nodes have recipes, and a run without them needs no pickle (~1 ms)

    try:
        return pickle.dumps(recipe, protocol=5)
    except Exception as exc:
        return pickle.dumps(("x", f"recipe not picklable ({type(exc).__name__})"))


def now() -> float:
    return time.time()
