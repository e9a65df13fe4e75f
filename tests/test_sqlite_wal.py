"""Several processes opening the same fresh SQLite database at once (batch workers, joblib
pools) must all get it: the switch to WAL answers SQLITE_BUSY without waiting."""
import multiprocessing
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from stratum.cache import sqlite_wal
from stratum.cache.cache import Cache  # noqa: E402
from stratum.trace.store import TraceStore  # noqa: E402

ROUNDS = 15
WORKERS = 4


def _open_each_round(root, barrier, errors):
    try:
        for r in range(ROUNDS):
            barrier.wait(timeout=60)
            TraceStore(Path(root) / f"store{r}").close()
            barrier.wait(timeout=60)
            Cache(Path(root) / f"cache{r}", 1 << 30).close()
    except BaseException as exc:  # report to the parent, whatever it is
        errors.put(repr(exc))
        barrier.abort()  # the others stop waiting for this one
        raise


def test_fresh_databases_opened_by_many_processes_at_once(tmp_path):
    for r in range(ROUNDS):
        (tmp_path / f"store{r}").mkdir()
    ctx = multiprocessing.get_context("fork")
    barrier, errors = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_open_each_round, args=(str(tmp_path), barrier, errors))
             for _ in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == [] and [p.exitcode for p in procs] == [0] * WORKERS
    for r in range(ROUNDS):
        db = sqlite3.connect(tmp_path / f"store{r}" / "traces.db")
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()


def test_a_lock_held_past_the_deadline_is_still_an_error(tmp_path):
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t(x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError) as info:
            sqlite_wal.connect(path, 0.2, lambda db: db.execute("SELECT * FROM t").fetchall())
        assert sqlite_wal.is_busy(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_setup_is_retried_after_a_busy_failure(tmp_path):
    calls = []

    def setup(db):
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        db.execute("CREATE TABLE IF NOT EXISTS t(x)")

    sqlite_wal.connect(tmp_path / "y.db", 5, setup).close()
    assert len(calls) == 3
