"""The trace store: runs and their nodes in SQLite (``traces.db`` in the cache directory).

Embedded, nothing to start; WAL so several processes can record at once. Recording a run also
merges it into the merged graph (``stratum.mergestore``) in the same transaction.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import sqlite3
import time
from pathlib import Path

from stratum import mergestore, sqlite_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY AUTOINCREMENT, script TEXT, argv TEXT, cwd TEXT, started REAL,
    seconds REAL, exit_code INTEGER, nodes INTEGER, reused INTEGER, executed INTEGER,
    saved REAL, versions TEXT, script_hash TEXT);
CREATE TABLE IF NOT EXISTS nodes(
    run_id INTEGER, seq INTEGER, key TEXT, op TEXT, site TEXT, inputs TEXT, consts TEXT,
    kind TEXT, seconds REAL, nbytes INTEGER, effect TEXT, reused INTEGER, reason TEXT,
    parent INTEGER, impl TEXT, recipe BLOB, PRIMARY KEY(run_id, seq));
CREATE INDEX IF NOT EXISTS runs_script ON runs(script);
""" + mergestore.SCHEMA

NODE_FIELDS = ("seq", "key", "op", "site", "inputs", "consts", "kind", "seconds", "nbytes",
               "effect", "reused", "reason", "parent", "impl", "recipe")


class TraceStore:
    def __init__(self, directory: Path):
        self.path = Path(directory) / "traces.db"
        self.db = sqlite_wal.connect(self.path, 30, self._create_schema)
        if mergestore.needs_catch_up(self.db):
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                mergestore.catch_up(self.db, self.nodes)
        try:
            self.path.chmod(0o600)
        except OSError:
            pass

    def _create_schema(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the columns newer versions introduced to a store an older version created."""
        for table, column, decl in (("nodes", "impl", "TEXT"), ("nodes", "recipe", "BLOB"),
                                    ("runs", "script_hash", "TEXT")):
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
            cur = self.db.execute(
                "INSERT INTO runs(script, argv, cwd, started, seconds, exit_code, nodes, reused,"
                " executed, saved, versions, script_hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                (run["script"], json.dumps(run["argv"]), run["cwd"], run["started"],
                 run["seconds"], run["exit_code"], len(nodes), run["reused"], run["executed"],
                 run["saved"], run["versions"], run.get("script_hash")))
            run_id = cur.lastrowid
            self.db.executemany(
                f"INSERT INTO nodes(run_id, {', '.join(NODE_FIELDS)}) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, n.seq, n.key, n.op, n.site, _json_list(n.inputs), _json_list(n.consts),
                  n.kind, n.seconds, n.nbytes, n.effect, int(n.reused), n.reason, n.parent,
                  n.impl, _recipe_blob(n.recipe))
                 for n in nodes])
            mergestore.merge_run(self.db, run_id, run["script"], run["started"], nodes)
        return run_id

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
        self.db.close()


def script_hash(path) -> str | None:
    """Content hash of a script file (finds past runs of a copy or a renamed script)."""
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
    """A node's replay recipe (stratum/recipe.py), pickled; values in it are pickled already."""
    if recipe is None:
        return None
    try:
        return pickle.dumps(recipe, protocol=5)
    except Exception as exc:
        return pickle.dumps(("x", f"recipe not picklable ({type(exc).__name__})"))


def now() -> float:
    return time.time()
