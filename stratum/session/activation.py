"""Turning stratum on and off in this interpreter, and closing a run (trace, explain report).

Any failure of stratum's own parts degrades to plain execution with one ``stratum:`` line on
stderr: a missing native module runs the script plain; an unusable cache directory runs it
traced but uncached.
"""
from __future__ import annotations

__tracebackhide__ = True  # pytest: these frames are stratum's (interposer.tbfilter)

import os
import sys
import time

from stratum.config import CacheDirError, Settings, disk_full, prepare_cache_dir, warn
from stratum.keys.versions import version_tag


class Session:
    """One activation: the engine, its cache, and the run being recorded."""

    def __init__(self, engine, settings: Settings, cache_dir_ok: bool):
        self.engine = engine  # None until the script performs its first library operation
        self.settings = settings
        self.cache_dir_ok = cache_dir_ok
        self.started = time.time()
        self._t0 = time.perf_counter()
        self.script = None
        self.argv: list[str] = []
        self.run_id = None
        #: keyword arguments for the ``Engine`` once it is made (``dry``, ``on_top_node``): a
        #: batch's dry run and progress report
        self.hooks: dict = {}

    def load_engine(self):
        if self.engine is None:
            from stratum.engine.engine import Engine

            settings = self.settings
            factory = None
            if self.cache_dir_ok and settings.cache_enabled:
                factory = lambda: _open_cache(settings)  # noqa: E731
            self.engine = Engine(factory, settings, **self.hooks)
        return self.engine

    def finish(self, exit_code: int) -> None:
        """Store the trace and print the explain report (if asked). Never raises."""
        try:
            self._finish(exit_code)
        except Exception as exc:  # stratum's own failure must not change the script's result
            if not disk_full(exc, self.settings.cache_dir, _trace_size(self.settings.cache_dir)):
                warn(f"could not record the trace ({type(exc).__name__}: {exc})")

    def _finish(self, exit_code: int) -> None:
        with _standard_library(("json", "sqlite3", "pickle", "hashlib")):
            self._record(exit_code)

    def _record(self, exit_code: int) -> None:
        engine = self.engine
        seconds = time.perf_counter() - self._t0
        if engine is not None:
            engine.settle_folds()
        nodes = engine.nodes if engine is not None else []
        reused = sum(1 for n in nodes if n.reused)
        if self.cache_dir_ok:
            from stratum.trace.store import script_hash

            run = {
                "script": self.script, "argv": self.argv, "cwd": os.getcwd(),
                "started": self.started, "seconds": seconds, "exit_code": exit_code,
                "reused": reused, "executed": len(nodes) - reused,
                "saved": engine.saved_seconds if engine is not None else 0.0,
                "versions": version_tag(),
                "script_hash": script_hash(self.script) if self.script and
                os.path.isfile(self.script) else None,
            }
            self.run_id = _record_with_retry(self.settings.cache_dir, run, nodes)
        if self.settings.explain:
            from stratum.session.explain import report

            report(self, sys.stderr)


class _standard_library:
    """While the trace is recorded (after the script ran), the standard library's own modules
    of these names, even if the script imported a module of its own under one of them (a
    ``json.py`` next to it): the script's are set aside and put back afterwards. Importing
    the standard library's earlier would change what the script imports."""

    def __init__(self, names):
        self.names = names
        self.saved: dict = {}
        self.path = None

    def __enter__(self):
        stdlib = os.path.realpath(os.path.dirname(os.__file__)) + os.sep  # as sysconfig's
        for name, module in list(sys.modules.items()):
            if name.partition(".")[0] not in self.names or module is None:
                continue
            origin = getattr(module, "__file__", None)
            if origin is not None and not os.path.realpath(origin).startswith(stdlib):
                self.saved[name] = sys.modules.pop(name)
        if self.saved:
            self.path = sys.path[:]
            sys.path[:] = [p for p in sys.path
                           if p and os.path.realpath(p).startswith(stdlib.rstrip(os.sep))]
        return self

    def __exit__(self, *exc):
        if self.path is not None:
            sys.path[:] = self.path
        sys.modules.update(self.saved)


def _record_with_retry(cache_dir, run: dict, nodes: list, attempts: int = 6):
    """Record a run; several processes finishing at once (a batch) can find SQLite's write
    lock taken beyond its busy wait (e.g. a schema change racing a write): try again.

    A damaged store is set aside once (one line, by the process that does it) and the run is
    recorded in a new one (see ``stratum.trace.store``)."""
    import sqlite3

    from stratum.trace import store as trace_store

    repaired = False
    for attempt in range(attempts):
        store = None
        try:
            store = trace_store.TraceStore(cache_dir)
            return store.record(run, nodes)
        except (sqlite3.DatabaseError, trace_store.Damaged) as exc:
            damaged = trace_store.damage(exc, store)
            if store is not None:
                store.close()
                store = None
            if damaged is not None and not repaired:
                repaired = True
                aside = trace_store.set_aside(damaged)  # OSError: caller reports it
                if aside is not None:
                    warn(f"the trace store was damaged ({damaged.reason}); set it aside as "
                         f"{aside.name} and started a new one")
                continue
            if damaged is not None or attempt == attempts - 1 or \
                    "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.05 * 2 ** attempt)
        finally:
            if store is not None:
                store.close()
    return None


def _trace_size(cache_dir) -> int:
    """Size of the trace store or of its WAL, whichever is bigger (what recording grows)."""
    sizes = [0]
    for name in ("traces.db", "traces.db-wal"):
        try:
            sizes.append(os.path.getsize(os.path.join(cache_dir, name)))
        except OSError:
            pass
    return max(sizes)


_session: Session | None = None


def current() -> Session | None:
    return _session


def activate(settings: Settings | None = None) -> Session | None:
    """Install the interposer and the engine. Returns None (and says why) if it cannot."""
    global _session
    if _session is not None:
        return _session
    settings = settings or Settings.from_env()
    if settings.disabled:
        return None
    from stratum.session import shadow

    clash = shadow.shadowed()
    if clash is not None:  # one process cannot hold the user's module and stratum's: plain
        if settings.explain:
            warn(f"not active: {clash[0]} has a module named {clash[1]!r}, which stratum "
                 "imports for itself; the script runs plain (stratum.session.shadow)")
        return None
    try:
        from stratum import _native  # noqa: F401 - fail early, before anything is patched
        from interposer import frames, rewrite
    except ImportError as exc:
        import stratum

        warn(f"native module unavailable ({stratum.checkout_problem() or exc}); "
             "running without stratum")
        return None
    if not rewrite.SUPPORTED:
        warn(f"Python {sys.version_info[0]}.{sys.version_info[1]} is not supported yet; "
             "running without stratum")
        return None
    frames.install()  # before numpy / pandas bind ``warnings.warn``
    from interposer import channels, dispatch, importer, patches, tbfilter

    channels.install()
    channels.ignore_dir(settings.cache_dir)

    cache_dir_ok = True
    try:
        prepare_cache_dir(settings.cache_dir)
    except CacheDirError as exc:
        if not disk_full(exc):
            warn(f"{exc}; running uncached")
        cache_dir_ok = False
    session = Session(None, settings, cache_dir_ok)
    tbfilter.install()
    importer.install()
    patches.patch_loaded()
    if settings.native:
        from stratum import kernels

        kernels.install(cache_source=_engine_cache)
        patches.AFTER_IMPORT_HOOKS.append(kernels.after_import)
    dispatch.set_engine(_DeferredEngine(session))
    _session = session
    return session


def restart_session() -> Session | None:
    """A fresh Session (own engine, clock and trace) on the interposer already installed: a
    batch worker forked from the warm parent records its own run."""
    global _session
    if _session is None:
        return None
    from interposer import dispatch

    old = _session
    _session = Session(None, old.settings, old.cache_dir_ok)
    dispatch.set_engine(_DeferredEngine(_session))
    return _session


def _engine_cache():
    """The running session's engine cache (None before the first library call or uncached)."""
    engine = _session.engine if _session is not None else None
    return engine.cache if engine is not None else None


def _open_cache(settings: Settings):
    from stratum.cache.cache import Cache

    try:
        return Cache(settings.cache_dir, settings.cache_size, admit_all=settings.admit_all,
                     shared=settings.cache_shared, shared_budget=settings.cache_shared_size)
    except CacheDirError as exc:
        if not disk_full(exc):
            warn(f"{exc}; running uncached")
        return None


class _DeferredEngine:
    """Stands in for the engine until the first library operation, so a run pays for numpy,
    the engine and the cache only when the script itself uses a traced library."""

    def __init__(self, session: Session):
        self.session = session

    def call(self, spec, fn, args, kwargs, recv=None):
        from interposer import dispatch

        if "numpy" not in sys.modules and spec.effect == "sink":
            return fn(*args, **(kwargs or {}))  # a print in a script that uses no library
        engine = self.session.load_engine()
        dispatch.set_engine(engine)
        if recv is None:
            return engine.call(spec, fn, args, kwargs, _depth=3)
        return engine.call(spec, fn, args, kwargs, recv, _depth=3)


    def memoizable(self, f) -> bool:
        from interposer.rewrite import is_rewritten
        from stratum.keys import memo

        if not self.session.settings.memo:
            return False
        return is_rewritten(f.__code__) and memo.blocker(f) is None

    def call_user(self, f, args, kwargs):
        from interposer import dispatch

        engine = self.session.load_engine()
        dispatch.set_engine(engine)
        return engine.call_user(f, args, kwargs)


def settle() -> None:
    """Before the script runs: move what exists now (the interpreter's start-up objects and
    stratum's own) out of the collector's generations.

    They are long-lived either way; kept in generation 2, every full collection the script's
    library imports trigger would traverse them again. Measured on cold runs of corpus scripts:
    about a third of stratum's start-up overhead (bench/RESULTS.md, "Cold run")."""
    import gc

    gc.freeze()


def deactivate() -> None:
    global _session
    from interposer import channels, dispatch, frames, importer, patches

    channels.uninstall()
    # Code rewritten while active keeps calling the dispatch functions, so the traceback
    # filter stays installed: it only ever hides stratum's own frames.
    dispatch.set_engine(None)
    frames.uninstall()
    importer.uninstall()
    patches.unpatch()
    from stratum import kernels

    kernels.uninstall()
    patches.AFTER_IMPORT_HOOKS[:] = [h for h in patches.AFTER_IMPORT_HOOKS
                                     if h is not kernels.after_import]
    engine = _session.engine if _session is not None else None
    cache = engine.opened_cache if engine is not None else None
    if cache is not None:
        try:
            cache.close()
        except Exception:
            pass
    _session = None
