"""Inside each Dask worker: the plugin that keeps one warm stratum process (``server``) for the
worker, and the task function that runs one script through it.

The plugin carries what the client decided for the whole batch (the client's ``STRATUM_*``
settings but the machine-local ones, the shared tier's secret); the server is started at the
first task (a worker that never gets one pays nothing) and kept for later batches with the
same settings. A task sends its script to the server, waits for the run to end, reads the
run's output files (same machine) and returns their bytes with the exit code, the run's counts
and its trace (so the client's trace store holds the whole cluster's runs). A task of
``Client(cluster=...)`` may carry a code string and stdin bytes: they are written to files of
this machine for the server (which takes paths, as for the outputs) and removed after.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

from distributed import WorkerPlugin

#: Settings that describe one machine, never copied from the client to the workers.
LOCAL_SETTINGS = frozenset({"STRATUM_CACHE_DIR", "STRATUM_CPU_DIR"})
NAME = "stratum"

#: Servers of this worker process by settings: a later batch with the same settings (and the
#: plugin registered again) finds its warm server still there.
_servers: dict[str, "_Server"] = {}
_servers_lock = threading.Lock()


class StratumPlugin(WorkerPlugin):
    """Registered by ``run --cluster`` (``Client.register_plugin(..., name="stratum")``)."""

    name = NAME

    def __init__(self, env: dict, secret: str | None, plain_env: dict | None = None):
        self.env = dict(env)
        self.secret = secret
        # variables Dask's nanny sets for its workers (OMP_NUM_THREADS=1, ...): as the client
        # has them (None: unset), so scripts see what plain python sees (``nanny_variables``)
        self.plain_env = dict(plain_env or {})

    def setup(self, worker) -> None:
        self.worker = worker

    def teardown(self, worker) -> None:
        pass  # the server ends with this process (its stdin closes)

    def _ident(self) -> str:
        return json.dumps([sorted(self.env.items()), self.secret,
                           sorted(self.plain_env.items(), key=lambda kv: kv[0])])

    def server(self) -> "_Server":
        ident = self._ident()
        with _servers_lock:
            got = _servers.get(ident)
            if got is None or not got.alive():
                for other in list(_servers.values()):
                    other.drain()  # settings changed: the old one ends after its runs
                _servers.clear()
                got = _servers[ident] = _Server(self.env, self.secret, self.plain_env)
            return got

    def run(self, job: dict) -> dict:
        missing = unavailable(job)
        if missing is not None:
            return {"unavailable": missing, "worker": getattr(self.worker, "address", None)}
        if job.get("code") is None and job.get("stdin") is None:
            return self._run(job)
        folder = tempfile.mkdtemp(prefix="stratum-job-")
        try:
            job = dict(job)
            for k in ("code", "stdin"):
                data = job.pop(k, None)
                if data is None:
                    continue
                path = os.path.join(folder, k)
                with open(path, "wb") as fh:
                    fh.write(data.encode() if isinstance(data, str) else data)
                job["source" if k == "code" else "stdin"] = path
            return self._run(job)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _run(self, job: dict) -> dict:
        for _ in range(8):
            server = self.server()
            reply = server.run(job)
            if "noisy" not in reply:
                break
            with _servers_lock:  # a server without the noisy imports, the old one drained
                if _servers.get(self._ident()) is server:
                    server.drain()
                    _servers[self._ident()] = _Server(self.env, self.secret, self.plain_env,
                                                      server.exclude | set(reply["noisy"]))
        if "error" in reply:
            raise RuntimeError(f"stratum server: {reply['error']}")
        out = {"exit_code": reply["exit_code"], "seconds": reply["seconds"],
               "mode": reply["mode"], "timed_out": bool(reply.get("timed_out")),
               "worker": getattr(self.worker, "address", None),
               "host": socket.gethostname(), "tier_error": server.tier_error,
               "import_seconds": server.seconds,
               "cache_dir": os.path.realpath(_local_cache_dir(self.env))}
        for k in ("stdout", "stderr"):
            out[k] = _take(reply[k])
        try:
            with open(reply["result"]) as fh:
                out["result"] = json.load(fh)
        except (OSError, ValueError):
            out["result"] = None
        _remove(reply["result"])
        out["trace"] = _export(out["result"], self.env)
        return out


def digest(path: str) -> str | None:
    """The script's content as the task names it (sha256), or None if it cannot be read."""
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def unavailable(job: dict) -> str | None:
    """Why this machine cannot run ``job`` as the client would (None: it can): a task carries
    paths, not files, so the script must be here at the same path with the same content, and
    the client's working directory must exist (docs/distributed.md, "shared filesystem")."""
    cwd = job.get("cwd")
    if cwd and not os.path.isdir(cwd):
        return f"the working directory {cwd} does not exist on {socket.gethostname()}"
    want = job.get("digest")
    if job.get("code") is not None or want is None:
        return None
    path = os.path.join(cwd or "", job["script"])
    got = digest(path)
    if got is None:
        return f"{path} is not on {socket.gethostname()}'s filesystem"
    if got != want:
        return f"{path} on {socket.gethostname()} is not the client's file (another content)"
    return None


def nanny_variables() -> set[str]:
    """Environment variables a Dask nanny sets for its worker processes, which a plain python
    on that machine would not have: ``distributed.nanny.pre-spawn-environ`` (by default
    ``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``,
    ``MALLOC_TRIM_THRESHOLD_``), ``distributed.nanny.environ``, and ``PYTHONHASHSEED`` (the
    nanny fixes it). A script that saw them would run its thread pools single-threaded (other
    numbers, other timings) and read another ``os.environ``."""
    import dask

    names = {"PYTHONHASHSEED"}
    for key in ("distributed.nanny.pre-spawn-environ", "distributed.nanny.environ"):
        got = dask.config.get(key, default=None)
        if isinstance(got, dict):
            names.update(got)
    return names


def run_script(job: dict) -> dict:
    """The task: run one script (``job``: ``script`` as given, ``cwd``, ``flags``) in a fork of
    this worker's warm stratum process."""
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins.get(NAME)
    if plugin is None:
        raise RuntimeError("the stratum worker plugin is not registered on this worker")
    return plugin.run(job)


class _Server:
    """The warm process of this worker (``stratum.distributed.server``) and its socket."""

    def __init__(self, env: dict, secret: str | None, plain_env: dict,
                 exclude: set[str] = frozenset()):
        self.exclude = set(exclude)
        self.work = tempfile.mkdtemp(prefix="stratum-worker-")
        self.socket = os.path.join(self.work, "runs.sock")
        config = {"env": env, "secret": secret, "socket": self.socket, "work": self.work,
                  "exclude": sorted(self.exclude)}
        full = {**os.environ, **env}
        for k, v in plain_env.items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from stratum.distributed import server; server.main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=self.work, env=full)
        self.proc.stdin.write((json.dumps(config) + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the stratum server did not start: " + _tail(self.work))
        ready = json.loads(line)
        self.tier_error = ready.get("tier_error")
        self.seconds = ready.get("seconds", 0.0)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def drain(self) -> None:
        try:
            self.proc.stdin.write(b"drain\n")
            self.proc.stdin.flush()
        except OSError:
            pass

    def run(self, job: dict) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self.socket)
            conn.sendall((json.dumps(job) + "\n").encode())
            data = b""
            while True:
                got = conn.recv(65536)
                if not got:
                    break
                data += got
        if not data:
            raise RuntimeError("the stratum server ended during the run: " + _tail(self.work))
        return json.loads(data)


def _local_cache_dir(env: dict) -> str:
    from stratum.config import default_cache_dir

    return os.fspath(default_cache_dir())


def _export(result: dict | None, env: dict) -> dict | None:
    """The run as this machine's trace store recorded it (for the client's store)."""
    if not result or result.get("run_id") is None:
        return None
    try:
        from stratum.trace.store import TraceStore

        store = TraceStore(_local_cache_dir(env))
        try:
            return store.export_run(result["run_id"])
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - the trace is a record; the run's outputs are what counts
        return None


def _take(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""
    finally:
        _remove(path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _tail(work: str) -> str:
    try:
        with open(os.path.join(work, "server.log"), "rb") as fh:
            return fh.read()[-2000:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"
