"""One CPU budget per machine, shared by every stratum process: tokens as file locks.

A library operation that keeps k cores busy (OpenMP in ``HistGradientBoosting*`` or ``KMeans``,
OpenBLAS under a wide ``LogisticRegression``, ``n_jobs=-1``) runs k threads whoever else is
running. Two such operations in two processes on two cores make four threads that wait for
each other at every barrier: measured, a HistGradientBoosting fit went from 0.5 s alone to
6-20 s next to other busy processes. So every stratum process (batch workers, concurrent
``python -m stratum`` and ``STRATUM=1`` runs) takes tokens from one pool before a costly
operation and gives them back after it, the way GNU make and cargo share a jobserver: an
operation predicted to use k cores (``stratum.cpu.demand``) takes k tokens, any other costly
operation one. Operations never wait for tokens they hold, so nothing can deadlock, and thread
counts are never changed (which could change a BLAS sum's order): the budget only decides
*when* an operation runs, never how.

The pool is a directory of ``cores`` slot files (``$STRATUM_CPU_DIR``, default
``$TMPDIR/stratum-cpu-<uid>``, ``0700``); holding slot i is holding an exclusive ``flock`` on
it. The kernel drops a process's locks when it dies, so a worker killed while holding tokens
(``kill -9``, an agent's timeout) frees them at once: nothing to clean up, no stale count as a
POSIX semaphore or a jobserver pipe would keep. A request for more than one token first takes a
turnstile exclusively, and single-token requests pass the turnstile shared: a waiting k-token
request stops new single-token ones from slipping in ahead of it forever, and two k-token
requests queue on the turnstile instead of each holding half of the pool.

What the budget cannot see: a process without stratum, and the workers a stratum run starts
for a library (a joblib / multiprocessing worker runs inside its parent's operation, under its
tokens: a worker started with ``STRATUM=1`` is :func:`exempt`, a child forked by a thread holding
tokens takes none). ``STRATUM_CPU_BUDGET=0`` turns the budget off.
"""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
import time

#: Poll interval bounds while waiting for tokens (seconds): a wait ends within POLL_MAX of the
#: tokens being given back. Only costly operations take tokens, so this is small beside them.
POLL_MIN, POLL_MAX = 0.001, 0.02


def machine_cores() -> int:
    """Cores of the machine: the size of the pool every process shares."""
    return os.cpu_count() or 1


def usable_cores() -> int:
    """Cores this process may run on (its affinity): the most threads a library starts here."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return machine_cores()


def default_dir() -> str:
    explicit = os.environ.get("STRATUM_CPU_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    import tempfile  # here: it costs every run's start-up ~3 ms to import (shutil, bz2, lzma)

    return os.path.join(tempfile.gettempdir(), f"stratum-cpu-{os.getuid()}")


class BudgetError(Exception):
    """The pool directory cannot be used safely: the run goes on without a budget."""


class Budget:
    """This process's handle on the machine's token pool."""

    def __init__(self, directory: str | None = None, cores: int | None = None):
        self.directory = directory or default_dir()
        self.cores = max(1, cores or machine_cores())
        self._slots: list[int] = []  # open fds of the slot files
        self._turnstile = -1
        self.held: list[int] = []  # indices of the slots this process holds
        self.owner = None  # the thread that took them
        self.waited = 0.0  # seconds spent waiting for tokens (for --explain)
        self._open()

    # -- setup ---------------------------------------------------------------------------------
    def _open(self) -> None:
        d = self.directory
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise BudgetError(f"cannot create {d}: {exc.strerror or exc}") from None
        info = os.lstat(d)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() \
                or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise BudgetError(f"{d} is not a private directory of this user")
        try:
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
            self._turnstile = os.open(os.path.join(d, "turnstile"), flags, 0o600)
            for i in range(self.cores):
                self._slots.append(os.open(os.path.join(d, f"slot-{i}"), flags, 0o600))
        except OSError as exc:
            self.close()
            raise BudgetError(f"cannot open the token files in {d}: {exc.strerror or exc}") \
                from None

    def close(self) -> None:
        for fd in (*self._slots, self._turnstile):
            if fd >= 0:
                try:
                    os.close(fd)  # closing drops this process's locks on it
                except OSError:
                    pass
        self._slots, self._turnstile, self.held = [], -1, []

    # -- tokens --------------------------------------------------------------------------------
    def take(self, k: int) -> int:
        """Block until k tokens (at most the pool's size) are this process's; returns how many
        were taken (0 when the pool is closed). Give them back with :meth:`give`."""
        if not self._slots:
            return 0
        k = max(1, min(k, len(self._slots)))
        self.owner = threading.get_ident()
        t0 = None
        if k == 1:
            got = self._take_one()
            delay = POLL_MIN
            while got is None:
                t0 = t0 or time.perf_counter()
                time.sleep(delay)
                delay = min(delay * 2, POLL_MAX)
                got = self._take_one()
        else:
            fcntl.flock(self._turnstile, fcntl.LOCK_EX)  # queue behind other k-token requests
            try:
                delay = POLL_MIN
                while len(self.held) < k:
                    self._try_slots(k)
                    if len(self.held) < k:
                        t0 = t0 or time.perf_counter()
                        time.sleep(delay)
                        delay = min(delay * 2, POLL_MAX)
            finally:
                fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        if t0 is not None:
            self.waited += time.perf_counter() - t0
        return k

    def _take_one(self):
        fcntl.flock(self._turnstile, fcntl.LOCK_SH)  # waits while a k-token request is queued
        try:
            self._try_slots(len(self.held) + 1)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        return self.held[-1] if self.held else None

    def _try_slots(self, want: int) -> None:
        """Lock free slots without waiting until this process holds ``want`` of them."""
        # Start at a slot of our own choosing so processes do not all probe slot 0 first.
        n = len(self._slots)
        start = os.getpid() % n
        for j in range(n):
            if len(self.held) >= want:
                return
            i = (start + j) % n
            if i in self.held:
                continue
            try:
                fcntl.flock(self._slots[i], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                continue
            self.held.append(i)

    def give(self) -> None:
        """Give back every token this process holds."""
        for i in self.held:
            try:
                fcntl.flock(self._slots[i], fcntl.LOCK_UN)
            except OSError:
                pass
        self.held = []


_process = {"budget": None, "pid": None, "off": False}


def current(enabled: bool = True) -> Budget | None:
    """This process's budget, opened at first use; None when off (``STRATUM_CPU_BUDGET=0``),
    unusable (one stderr line says why) or in a child forked inside an operation."""
    if not enabled or _process["off"]:
        return None
    if _process["pid"] != os.getpid():
        _process["pid"] = os.getpid()
        try:
            _process["budget"] = Budget()
        except (BudgetError, OSError) as exc:
            from stratum.config import warn_once

            _process["off"] = True
            _process["budget"] = None
            warn_once("cpu-budget", f"CPU budget off: {exc}")
    return _process["budget"]


def exempt() -> None:
    """This process takes no tokens: it works for another process's operation, under that
    operation's tokens (a joblib / multiprocessing worker started with ``STRATUM=1``; waiting
    for tokens its parent holds would deadlock)."""
    _process["off"] = True


def _after_fork_in_child() -> None:
    # A forked child shares the parent's open file descriptions, so the locks on them are the
    # parent's: the child closes its copies (the parent keeps its tokens). A child forked by a
    # thread holding tokens is work of that thread's operation (a joblib / multiprocessing
    # worker) and takes none; any other child (a batch worker, forked while the warm parent's
    # executor thread may hold tokens for a shared node) opens a budget of its own.
    budget = _process["budget"]
    if budget is not None:
        if budget.held and budget.owner == threading.get_ident():
            _process["off"] = True
        budget.close()  # close, never unlock: an unlock would free the parent's tokens
    _process["budget"] = None
    _process["pid"] = None


os.register_at_fork(after_in_child=_after_fork_in_child)
