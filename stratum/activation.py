"""Turning stratum on and off in this interpreter, and closing a run (trace, explain report).

Any failure of stratum's own parts degrades to plain execution with one ``stratum:`` line on
stderr: a missing native module runs the script plain; an unusable cache directory runs it
traced but uncached.
"""
from __future__ import annotations

import os
import sys
import time

from stratum.config import CacheDirError, Settings, prepare_cache_dir, warn


class Session:
    """One activation: the engine, its cache, and the run being recorded."""

    def __init__(self, engine, settings: Settings, cache_dir_ok: bool):
        self.engine = engine
        self.settings = settings
        self.cache_dir_ok = cache_dir_ok
        self.started = time.time()
        self._t0 = time.perf_counter()
        self.script = None
        self.argv: list[str] = []
        self.run_id = None

    def finish(self, exit_code: int) -> None:
        """Store the trace and print the explain report (if asked). Never raises."""
        try:
            self._finish(exit_code)
        except Exception as exc:  # stratum's own failure must not change the script's result
            warn(f"could not record the trace ({type(exc).__name__}: {exc})")

    def _finish(self, exit_code: int) -> None:
        engine = self.engine
        seconds = time.perf_counter() - self._t0
        nodes = engine.nodes
        reused = sum(1 for n in nodes if n.reused)
        if self.cache_dir_ok:
            from stratum.store import TraceStore

            store = TraceStore(self.settings.cache_dir)
            try:
                self.run_id = store.record({
                    "script": self.script, "argv": self.argv, "cwd": os.getcwd(),
                    "started": self.started, "seconds": seconds, "exit_code": exit_code,
                    "reused": reused, "executed": len(nodes) - reused,
                    "saved": engine.saved_seconds, "versions": engine.lineage.version_tag,
                }, nodes)
            finally:
                store.close()
        if self.settings.explain:
            from stratum.explain import report

            report(self, sys.stderr)


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
    try:
        from stratum import _native  # noqa: F401 - fail early, before anything is patched
        from interposer import frames, rewrite
    except ImportError as exc:
        warn(f"native module unavailable ({exc}); running without stratum")
        return None
    if not rewrite.SUPPORTED:
        warn(f"Python {sys.version_info[0]}.{sys.version_info[1]} is not supported yet; "
             "running without stratum")
        return None
    frames.install()  # before numpy / pandas bind ``warnings.warn``
    from interposer import dispatch, importer, patches, tbfilter
    from stratum.engine import Engine

    cache, cache_dir_ok = None, False
    try:
        prepare_cache_dir(settings.cache_dir)
        cache_dir_ok = True
        if settings.cache_enabled:
            from stratum.cache import Cache

            cache = Cache(settings.cache_dir, settings.cache_size)
    except CacheDirError as exc:
        warn(f"{exc}; running uncached")
    engine = Engine(cache, settings)
    tbfilter.install()
    importer.install()
    patches.patch_loaded()
    dispatch.set_engine(engine)
    _session = Session(engine, settings, cache_dir_ok)
    return _session


def deactivate() -> None:
    global _session
    from interposer import dispatch, frames, importer, patches, tbfilter

    dispatch.set_engine(None)
    frames.uninstall()
    importer.uninstall()
    patches.unpatch()
    tbfilter.uninstall()
    if _session is not None and _session.engine.cache is not None:
        try:
            _session.engine.cache.close()
        except Exception:
            pass
    _session = None
