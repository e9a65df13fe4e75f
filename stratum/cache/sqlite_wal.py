"""Open a SQLite database in WAL mode when several processes may be first at once.

Both of stratum's databases (the trace store and the cache index) are created by whichever run
comes first, and in a batch or a joblib pool that is several processes in the same millisecond.
Switching a fresh file to WAL needs an exclusive lock, and SQLite answers a conflict there with
SQLITE_BUSY at once, without the busy handler (waiting could deadlock two connections that both
hold a shared lock). So the switch, and the schema statements that follow it, are retried here
until a deadline; WAL is persistent, so only the very first opens ever contend.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Callable


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (extended codes included): another process holds a lock."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (5, 6):
        return True
    return "locked" in str(exc) or "busy" in str(exc)


def is_corrupt(exc: BaseException) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB: the file is damaged or is not a SQLite database."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (11, 26)
    return "malformed" in str(exc) or "not a database" in str(exc)


def retry_busy(step: Callable[[], None], timeout: float) -> None:
    """Run ``step`` again after a short random sleep while it fails busy, up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        import random  # here: only a busy database needs it (~1 ms to import at every run's exit)

        time.sleep(pause * (0.5 + random.random()))
        pause = min(pause * 2, 0.1)


def connect(path: Path, timeout: float, setup: Callable[[sqlite3.Connection], None],
            **kwargs) -> sqlite3.Connection:
    """A connection in autocommit mode, WAL journal and ``synchronous=NORMAL``, then ``setup``.

    ``setup`` (schema creation) must be idempotent: it is retried whole when it meets a lock."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, **kwargs)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")

        def wal() -> None:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")

        retry_busy(wal, timeout)
        conn.execute("PRAGMA synchronous = NORMAL")

        def guarded_setup() -> None:
            try:
                setup(conn)
            except sqlite3.OperationalError:
                if conn.in_transaction:
                    conn.rollback()
                raise

        retry_busy(guarded_setup, timeout)
    except BaseException:
        conn.close()
        raise
    return conn
