"""The warm process on a Dask worker machine: stratum active, libraries imported once, one fork
per script (no Dask in this process: forking a Dask worker, with its threads and event loop,
would not be safe).

Started by the worker plugin (``stratum.distributed.plugin``) as
``python -c "from stratum.distributed import server; server.main()"``. Its stdin carries one JSON
line of configuration (the socket path, ``STRATUM_*`` settings of the client, the shared tier's
secret in hex), then control lines (``drain``: take no new runs, exit when the running ones
end); end of file means the Dask worker is gone: the runs are killed and the process exits
(a worker killed with ``kill -9`` leaves nothing behind). Its stdout carries one ``ready`` line.

Each run arrives on a Unix socket as one JSON line (``script`` as given, ``cwd``, ``flags``;
from ``Client(cluster=...)`` also ``argv``, ``source``: a file holding the code, then ``script``
is the name tracebacks show, ``stdin``: a file for fd 0, ``timeout`` in seconds and ``memory``:
an address-space limit in bytes); the libraries of the script's leading import block are
imported first if not yet (judged noisy as a local batch's warm parent judges them:
``stratum.batch.warm.preload``; a noisy one is answered ``noisy`` and the plugin starts a server
without it), then a fork runs it with ``stratum.batch.worker.run`` after ``chdir(cwd)``, exactly
as a local batch's worker. Each fork
leads a process group of its own; a run past its ``timeout`` is killed with it (SIGKILL, as the
local server does). The reply, when the fork ends, is one JSON line: exit code, seconds, mode,
whether it timed out and the paths of the run's stdout / stderr / result files (the task reads
them on the same machine and deletes them).
"""
from __future__ import annotations

import dataclasses
import gc
import json
import os
import selectors
import signal
import socket
import sys
import tempfile
import time


def main() -> None:
    config = json.loads(sys.stdin.readline())
    os.environ.update(config.get("env") or {})
    report = os.dup(1)
    work = config["work"]
    log = os.open(os.path.join(work, "server.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                  0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    control = os.dup(0)
    os.dup2(null, 0)
    os.close(null)
    from stratum.batch import warm
    from stratum.config import Settings

    settings = Settings.from_env()
    tier_error = _shared_tier(settings, config.get("secret"))
    if tier_error is not None:
        os.environ.pop("STRATUM_CACHE_SHARED", None)
        settings = dataclasses.replace(settings, cache_shared=None)
    from stratum.session.activation import activate

    base = warm.top_modules()
    t0 = time.perf_counter()
    activate(settings)
    server = Server(config, settings, base, control, exclude=set(config.get("exclude") or ()))
    os.write(report, (json.dumps({"event": "ready", "pid": os.getpid(),
                                  "tier_error": tier_error,
                                  "seconds": time.perf_counter() - t0}) + "\n").encode())
    os.close(report)
    server.serve()


def _shared_tier(settings, secret_hex) -> str | None:
    """Check the shared tier once, here; None if usable, else why (the client prints it once:
    a line from each run's cache would land in the scripts' stderr)."""
    if not settings.cache_shared or not settings.cache_enabled or settings.disabled:
        return None
    from stratum.cache import cache

    if secret_hex:
        secret = bytes.fromhex(secret_hex)
        cache.set_shared_secret(settings.cache_shared, secret)
        try:  # runs started as a fresh ``python -m stratum`` (mode exec) read it from here
            _keep_secret(settings.cache_dir, secret)
        except OSError as exc:
            return f"cannot keep the cluster's secret in {settings.cache_dir}: {exc}"
    _tier, why = cache.open_shared_tier(settings.cache_shared, settings.cache_dir)
    return why


def _keep_secret(cache_dir, secret: bytes) -> None:
    """``<cache_dir>/shared-secret``, 0600, replaced atomically if it differs."""
    from stratum.config import prepare_cache_dir

    folder = prepare_cache_dir(cache_dir)
    path = os.path.join(folder, "shared-secret")
    try:
        with open(path, "rb") as fh:
            if fh.read() == secret:
                return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".secret-", dir=folder)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Server:
    def __init__(self, config, settings, base, control, exclude):
        self.settings = settings
        self.base = base
        self.control = control
        self.exclude = exclude
        self.tried: set[str] = set()
        self.during: dict[str, set[str]] = {}
        self.work = config["work"]
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(config["socket"])
        self.sock.listen(64)
        self.running: dict[int, tuple] = {}  # pid -> (conn, job files, started, mode)
        self.deadlines: dict[int, float] = {}  # pid -> monotonic time it is killed at
        self.timed_out: set[int] = set()
        self.draining = False
        self.count = 0
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, "accept")
        self.sel.register(self.control, selectors.EVENT_READ, "control")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "child")
        self.control_buf = b""

    def serve(self) -> None:
        try:
            while not (self.draining and not self.running):
                for key, _ in self.sel.select(timeout=self._wait()):
                    what = key.data
                    if what == "accept":
                        self._accept()
                    elif what == "control":
                        self._control()
                    else:
                        try:
                            os.read(self.wake_r, 4096)
                        except BlockingIOError:
                            pass
                self._expire()
                self._reap()
        except BaseException:
            self._kill_all()
            raise
        os._exit(0)

    def _control(self) -> None:
        data = os.read(self.control, 4096)
        if not data:  # the Dask worker is gone (killed, or closed us): nothing may outlive it
            self._kill_all()
            os._exit(0)
        self.control_buf += data
        while b"\n" in self.control_buf:
            line, _, self.control_buf = self.control_buf.partition(b"\n")
            if line.strip() == b"drain":
                self.draining = True
                try:
                    self.sel.unregister(self.sock)
                    self.sock.close()
                except (KeyError, ValueError, OSError):
                    pass

    def _wait(self) -> float:
        if not self.deadlines:
            return 1.0
        return max(0.0, min(1.0, min(self.deadlines.values()) - time.monotonic()))

    def _expire(self) -> None:
        """Kill the runs past their timeout (and whatever they started in their group)."""
        now = time.monotonic()
        for pid, deadline in list(self.deadlines.items()):
            if now >= deadline:
                del self.deadlines[pid]
                self.timed_out.add(pid)
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass

    def _kill_all(self) -> None:
        for pid in list(self.running):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    def _accept(self) -> None:
        conn, _ = self.sock.accept()
        conn.settimeout(60)
        try:
            data = b""
            while not data.endswith(b"\n"):
                got = conn.recv(65536)
                if not got:
                    break
                data += got
            job = json.loads(data)
            conn.settimeout(None)
            self._start(conn, job)
        except Exception as exc:  # noqa: BLE001 - the task fails with it and Dask retries
            self._reply(conn, {"error": f"{type(exc).__name__}: {exc}"})

    def _start(self, conn, job) -> None:
        from stratum.batch import plan as batch_plan
        from stratum.batch import warm
        from stratum.batch.warm import Job

        path = os.path.normpath(os.path.join(job["cwd"], job["script"]))
        source = None
        if job.get("source"):
            with open(job["source"], "rb") as fh:
                source = fh.read()
        plan = batch_plan.ScriptPlan(0, job["script"], path,
                                     batch_plan.scan_imports(path, source))
        names = [n for n in batch_plan.preload_names([plan], self.exclude)
                 if n not in self.tried]
        if names:
            self.tried.update(names)
            noisy, during = warm.preload(names)
            self.during.update(during)
            if noisy:  # this process imported it already: a server without it must run it
                self.exclude.update(noisy)
                self._reply(conn, {"noisy": noisy})
                return
            from stratum.cache import cache  # noqa: F401 - what each run's engine loads
            from stratum.engine import engine  # noqa: F401
            from stratum.keys import lineage  # noqa: F401
            from stratum.trace import store  # noqa: F401

            gc.freeze()
        mode = warm.run_mode(plan, warm.top_modules() - self.base, self.during)
        self.count += 1
        stem = f"{self.count}_{os.getpid()}"
        files = {k: os.path.join(self.work, f"{stem}.{k}") for k in ("stdout", "stderr",
                                                                       "result")}
        run = Job(0, job["script"], files["stdout"], files["stderr"], files["result"], mode,
                  list(job.get("flags") or ()), list(job.get("argv") or ()),
                  job.get("source"), job.get("stdin"))
        sys.stdout.flush()
        sys.stderr.flush()
        warm.flush_c_stdio()
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            self._child(conn, job["cwd"], run, job.get("memory"))
        try:
            os.setpgid(pid, pid)  # also in the child: whichever runs first
        except OSError:
            pass
        self.running[pid] = (conn, files, started, mode)
        if job.get("timeout"):
            self.deadlines[pid] = time.monotonic() + float(job["timeout"])

    def _child(self, conn, cwd, run, memory) -> None:
        try:
            os.setpgid(0, 0)
            if memory:
                import resource

                resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.sel.close()
            for fd in (self.control, self.wake_r, self.wake_w):
                os.close(fd)
            conn.close()
            for c, *_ in self.running.values():
                c.close()
            self.sock.close()
            os.chdir(cwd)
        except BaseException:  # noqa: BLE001
            os._exit(70)
        from stratum.batch import worker as batch_worker

        batch_worker.run(run)  # exits as python would; never returns
        os._exit(70)

    def _reap(self) -> None:
        while self.running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            entry = self.running.pop(pid, None)
            if entry is None:
                continue
            conn, files, started, mode = entry
            self.deadlines.pop(pid, None)
            timed_out = pid in self.timed_out
            self.timed_out.discard(pid)
            self._reply(conn, {"exit_code": os.waitstatus_to_exitcode(status),
                               "seconds": time.perf_counter() - started, "mode": mode,
                               "timed_out": timed_out, **files})

    @staticmethod
    def _reply(conn, message: dict) -> None:
        try:
            conn.sendall((json.dumps(message) + "\n").encode())
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
