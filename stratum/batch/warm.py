"""The warm parent of a batch: stratum active, the scripts' libraries imported once, workers
forked from it on a schedule.

It runs in a process of its own, forked from ``python -m stratum run`` (which only shows
progress and results), and reports to it as JSON lines on a pipe: ``ready``, ``noisy``,
``start``, ``done``, ``finished``.

Importing a library ahead of time must not change what any script shows. A library whose
import writes anything (a warning shown under the default filters, a print, a C-level write)
or fails is *noisy*: the warm parent reports it and exits, and is started again without it, so
the script imports it itself and shows exactly what plain python shows, where it shows it.
A script is run in a fresh ``python -m stratum`` process instead of a warm fork when the warm
state could differ from a plain start for it: a module in its own folder has the name of a
module the warm parent loaded (python would import the script's file), or it imports a
preloaded library only after other code ran (that code may set what the import reads).
"""
from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

from stratum.batch import plan as batch_plan
from stratum.session import shadow


@dataclass
class Job:
    """What a forked worker runs (see ``stratum.batch.worker``)."""

    index: int
    script: str
    stdout: str
    stderr: str
    result: str  # JSON file the worker writes its run id into
    mode: str  # "warm": forked with the warm state; "exec": a fresh python -m stratum
    flags: list  # options for the session: --no-cache / --explain
    # a run handed to a Dask worker by ``Client(cluster=...)`` (stratum.distributed): its
    # arguments, the file holding its code (then ``script`` is the name tracebacks show) and
    # the file its stdin reads (else /dev/null)
    argv: list = field(default_factory=list)
    source: str | None = None
    stdin: str | None = None


def flush_c_stdio() -> None:
    """``fflush(NULL)``: write out what C code left in libc's stdio buffers.

    Python's ``flush()`` does not reach them. A library whose import ``printf``s without a
    newline flush leaves bytes there; measured before this flush such an import looks quiet,
    and a fork then copies the bytes into every worker, whose exit writes them into the
    output of scripts that never imported the library."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None)
        _libc.fflush(None)
    except Exception:  # noqa: BLE001 - no libc stdio to flush (or no ctypes): nothing buffered
        pass


_libc = None


def _emit(fd: int, **event) -> None:
    os.write(fd, (json.dumps(event) + "\n").encode())


def top_modules() -> set[str]:
    return {name.partition(".")[0] for name in list(sys.modules)}


def serve(plans, files, jobs: int, flags: list, settings, event_fd: int,
          exclude: set[str]) -> Job | None:
    """Warm up, then run the batch. Returns the Job in a forked worker, None in the parent."""
    log = os.open(files["warm_log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    from stratum.session.activation import activate

    base = top_modules()
    t0 = time.perf_counter()
    activate(settings)  # first: import-time patches apply to what is imported next
    names = batch_plan.preload_names(plans, exclude)
    noisy, during = preload(names)
    seconds = time.perf_counter() - t0
    if noisy:
        _emit(event_fd, event="noisy", names=noisy)
        return None
    loaded = top_modules() - base
    modes = [run_mode(p, loaded, during) for p in plans]
    if names:  # what each worker's engine loads at its first library call
        from stratum.cache import cache
        from stratum.engine import engine
        from stratum.keys import lineage
        from stratum.trace import store
    # Objects of the warm state are never garbage: kept out of every collection, a worker's
    # collections and its exit do not touch (and so copy) the pages they live on.
    gc.freeze()
    imported = [n for n in names if n in sys.modules]
    _emit(event_fd, event="ready", preloaded=imported, seconds=seconds, modes=modes)
    from stratum.batch import dryrun as batch_dryrun

    dry = batch_dryrun.run(plans, modes, jobs, settings, files, close_fds=(event_fd,))
    if dry is not None:
        _emit(event_fd, event="dryrun", **dry.summary())
    scheduler = batch_plan.Scheduler(plans, settings.cache_dir,
                                     cached=dry.cached if dry is not None else None)
    pending = list(range(len(plans)))
    running: dict[int, tuple[int, float]] = {}
    shared = _shared(plans, settings, jobs, files, event_fd)  # None: no shared part
    try:
        while pending or running or (shared and shared.running):
            while pending and len(running) + (shared.slots() if shared else 0) < jobs:
                free = [i for i in pending if not (shared and shared.holds(i))]
                if not free:
                    break
                i = scheduler.pick(free, [r[0] for r in running.values()])
                pending.remove(i)
                plan = plans[i]
                job = Job(i, plan.script, files["stdout"][i], files["stderr"][i],
                          files["result"][i], modes[i], flags)
                sys.stdout.flush()
                sys.stderr.flush()
                flush_c_stdio()  # into warm.log: a fork must not copy buffered bytes
                started = time.perf_counter()
                pid = os.fork()
                if pid == 0:
                    os.close(event_fd)
                    return job
                running[pid] = (i, started)
                _emit(event_fd, event="start", index=i, pid=pid, mode=modes[i])
            pid, status = os.wait()
            if shared is not None and shared.reap(pid, status):
                continue
            entry = running.pop(pid, None)
            if entry is None:
                continue
            i, started = entry
            if dry is not None:
                dry.finished(i)
            _emit(event_fd, event="done", index=i, exit_code=os.waitstatus_to_exitcode(status),
                  seconds=time.perf_counter() - started)
    except BaseException:  # interrupted: do not leave workers behind
        if shared is not None:
            shared.kill()
        for pid in running:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        raise
    _emit(event_fd, event="finished")
    return None


def _shared(plans, settings, jobs, files, event_fd):
    """Start the batch's shared part on the executor (``stratum.batch.shared``), if any."""
    if "shared" not in files:
        return None
    from stratum.batch import shared as batch_shared

    try:
        part = batch_shared.select(plans, settings)
    except Exception as exc:  # an optimisation: without it the scripts compute what they need
        sys.stderr.write(f"stratum: no shared part for this batch ({type(exc).__name__}: "
                         f"{exc})\n")
        return None
    if part is None:
        return None
    return batch_shared.start(part, plans, jobs, files, event_fd,
                              lambda **event: _emit(event_fd, **event))


def preload(names: list[str]) -> tuple[list[str], dict[str, set[str]]]:
    """Import each module with fds 1 and 2 captured; the noisy ones, and what each loaded."""
    noisy: list[str] = []
    during: dict[str, set[str]] = {}
    for name in names:
        before = top_modules()
        with tempfile.TemporaryFile() as out:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            ok = True
            try:
                _import(name)
            except KeyboardInterrupt:
                raise
            except BaseException:  # noqa: BLE001 - the script will meet this error itself
                ok = False
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except Exception:
                    pass
                flush_c_stdio()  # a C-level write still in libc's buffer is noise too
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
            wrote = os.fstat(out.fileno()).st_size
        if not ok or wrote:
            noisy.append(name)
        during[name] = top_modules() - before
    return noisy, during


_startup: set[str] | None = None


def startup_modules() -> set[str]:
    """Top-level modules a plain interpreter has loaded before it runs a script (a file in the
    script's folder cannot shadow those)."""
    global _startup
    if _startup is None:
        import subprocess

        try:
            out = subprocess.run([sys.executable, "-c", "import sys; print(*sys.modules)"],
                                 capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
            _startup = {n.partition(".")[0] for n in out.stdout.decode().split()}
        except (OSError, subprocess.SubprocessError):
            _startup = set()
    return _startup


def _import(name: str) -> None:
    parent, _, last = name.rpartition(".")
    if parent:
        module = sys.modules.get(parent) or importlib.import_module(parent)
        if last in getattr(module, "__dict__", {}) or importlib.util.find_spec(name) is None:
            return  # ``from pkg import attr``: an attribute, not a submodule
    importlib.import_module(name)


def run_mode(plan, loaded: set[str], during: dict[str, set[str]]) -> str:
    return "exec" if exec_reason(plan, loaded, during) else "warm"


def exec_reason(plan, loaded: set[str], during: dict[str, set[str]]) -> str | None:
    """Why ``plan``'s script must start in a fresh interpreter rather than a warm fork (None: a
    warm fork is equivalent). Also used by the server (``stratum.server.server``)."""
    folder = os.path.dirname(plan.path)
    # A module named like a preloaded one, or like one stratum imports for itself later (a
    # fresh interpreter then runs the script plain: ``stratum.session.shadow``).
    clash = shadow.folder_modules(folder) & (top_modules() | shadow.OWN_MODULES)
    clash -= startup_modules()
    if clash:
        return (f"the script's folder has a module named like a preloaded one "
                f"({', '.join(sorted(clash)[:3])})")
    covered = set()
    for name in plan.imports.leading:
        covered.add(name.partition(".")[0])
        covered |= during.get(name, set())
    late = {name.partition(".")[0] for name in plan.imports.late}
    late = (late & loaded) - covered - set(sys.stdlib_module_names)
    if late:
        return (f"it imports a preloaded library only after other code ran "
                f"({', '.join(sorted(late)[:3])})")
    return None
