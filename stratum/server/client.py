"""The submission API for harnesses that generate code, and ``python -m stratum submit``.

``Client().run(code_or_path, argv=..., stdin=..., cwd=..., timeout=...)`` runs a script file or
a code string as ``__main__`` the way an agent harness runs it as a fresh ``python FILE``
(AIDE writes the code to ``runfile.py`` and runs it): ``sys.argv``, ``__file__`` and tracebacks
name ``filename`` (default ``runfile.py`` in ``cwd``; nothing is written to disk), ``sys.path[0]``
is its folder. Through a running server it is a warm fork; without one (or when the server
refuses it) it runs cold in a new ``python`` with stratum on, with the same results. It returns a
:class:`Result`: stdout and stderr bytes, the return code as ``subprocess`` gives it (negative:
killed by that signal), seconds, and, served warm, how many of its traced operations were
reused. ``submit`` returns a ``concurrent.futures.Future`` of the same; submissions run
concurrently, each in its own fork (planning many submissions together as a batch does is not
done yet).

``from stratum.client import Client`` is this class with ``cluster=ADDRESS`` added: the same
runs on a Dask cluster (``stratum.distributed.submit``, a layer above this one).
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from stratum.session import handoff


@dataclass
class Result:
    stdout: bytes
    stderr: bytes
    returncode: int
    seconds: float
    served: bool  # True: a warm fork of the server; False: a cold python
    reused: int | None = None  # traced operations reused from the cache (served runs)
    operations: int | None = None  # traced operations in all
    run_id: int | None = None
    timed_out: bool = False
    reason: str | None = None  # why it ran cold
    worker: str | None = None  # the Dask worker that ran it (``Client(cluster=...)``)
    hot: int | None = None  # cache entries read from the server's memory (served runs)

    def check_returncode(self) -> None:
        if self.returncode:
            raise subprocess.CalledProcessError(self.returncode, "stratum run", self.stdout,
                                                self.stderr)


_COLD = ("import sys, os\n"
         "with os.fdopen(int(sys.argv[1]), 'rb') as f:\n    src = f.read()\n"
         "from stratum.session import runner\n"
         "runner.run(('code', sys.argv[2], src), sys.argv[3:], "
         "{'explain': False, 'no_cache': False})\n")


class Client:
    """Runs code through the stratum server of this interpreter (``cache_dir``: the server's
    cache directory, default the configured one). ``fallback=False``: raise
    ``handoff.Refused`` instead of running cold."""

    def __init__(self, cache_dir: str | None = None, fallback: bool = True,
                 wait: float | None = None, max_workers: int | None = None):
        self.cache_dir = str(cache_dir) if cache_dir else None
        self.fallback = fallback
        self.wait = wait
        self._pool: ThreadPoolExecutor | None = None
        self._max_workers = max_workers or max(4, 2 * (os.cpu_count() or 1))
        self._lock = threading.Lock()

    # ---- public ---------------------------------------------------------------------------
    def run(self, code_or_path: str, argv=(), stdin: bytes | str | None = None,
            cwd: str | None = None, timeout: float | None = None, memory: int | None = None,
            filename: str = "runfile.py", env: dict | None = None) -> Result:
        """Run a script file (an existing ``*.py`` path) or a code string; see the module."""
        cwd = os.path.abspath(cwd or os.getcwd())
        env = dict(os.environ if env is None else env)
        target, shown = run_target(code_or_path, cwd, filename)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        req = handoff.request(target, list(argv), {"explain": False, "no_cache": False}, True)
        req.update(env=env, cwd=cwd, orig_argv=[sys.executable, shown, *argv], path=None,
                   streams=None, ignored=[int(signal.SIGPIPE), int(signal.SIGXFSZ)],
                   limits={"timeout": timeout, "memory": memory})
        req["umask"] = _umask()
        req["fresh"] = True  # this process's flags are not the run's: a bare python's are
        path = handoff.socket_path(self.cache_dir)
        try:
            return self._served(path, req, stdin, timeout)
        except handoff.Refused as exc:
            if not self.fallback:
                raise
            return self._cold(target, list(argv), stdin, cwd, env, timeout, memory, str(exc))

    def submit(self, code_or_path: str, **kwargs) -> Future:
        """:meth:`run` in the background: a Future of its :class:`Result`."""
        return self.pool().submit(self.run, code_or_path, **kwargs)

    def pool(self) -> ThreadPoolExecutor:
        """The threads that wait for submissions (made at the first)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_workers,
                                                thread_name_prefix="stratum-submit")
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- through the server ---------------------------------------------------------------
    def _served(self, path, req, stdin, timeout) -> Result:
        try:
            os.stat(path)
        except OSError:
            raise handoff.Refused("no server running") from None
        t0 = time.perf_counter()
        fds = _pipes(stdin)
        try:
            sock, pid = handoff.start_run(path, req, (fds["in_r"], fds["out_w"], fds["err_w"]),
                                          self.wait)
        except BaseException:
            for fd in fds.values():
                _close(fd)
            raise
        for k in ("in_r", "out_w", "err_w"):
            _close(fds.pop(k))
        out, err = _collect(fds, stdin, timeout + 5 if timeout else None,
                            lambda: _killpg(pid))
        try:
            end = handoff.recv(sock) or {}
        except OSError:
            end = {}
        finally:
            sock.close()
        status = end.get("status")
        return Result(out, err, _returncode(status), time.perf_counter() - t0, True,
                      end.get("reused"), end.get("nodes"), end.get("run_id"),
                      bool(end.get("timed_out")), hot=end.get("hot"))

    # ---- cold -----------------------------------------------------------------------------
    def _cold(self, target, argv, stdin, cwd, env, timeout, memory, reason) -> Result:
        t0 = time.perf_counter()
        if self.cache_dir:
            env["STRATUM_CACHE_DIR"] = self.cache_dir

        def limit():
            if memory:
                import resource

                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

        if target[0] == "script":
            args = [sys.executable, "-m", "stratum", target[1], *argv]
            source = None
        else:
            args = [sys.executable, "-c", _COLD, target[1], *argv]
            source = target[2].encode() if isinstance(target[2], str) else target[2]
        src_r = src_w = -1
        if source is not None:
            src_r, src_w = os.pipe()
            args[3:3] = [str(src_r)]
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=limit if memory else None,
                                pass_fds=(src_r,) if source is not None else ())
        if source is not None:
            os.close(src_r)
            threading.Thread(target=_write_all, args=(src_w, source), daemon=True).start()
        timed_out = False
        try:
            out, err = proc.communicate(stdin or b"", timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc.pid)
            out, err = proc.communicate()
        return Result(out, err, proc.returncode, time.perf_counter() - t0, False,
                      timed_out=timed_out, reason=reason)


def run_target(code_or_path: str, cwd: str, filename: str) -> tuple[list, str]:
    """(``["script", path]`` or ``["code", filename, code]``, the name ``sys.argv[0]`` shows)."""
    text = code_or_path
    if "\n" not in text and text.endswith(".py") and os.path.isfile(os.path.join(cwd, text)):
        return ["script", text], text
    return ["code", filename, text], filename


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError:
        pass
    finally:
        _close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pipes(stdin) -> dict:
    fds = {}
    if stdin is None:
        fds["in_r"] = os.open(os.devnull, os.O_RDONLY)
    else:
        fds["in_r"], fds["in_w"] = os.pipe()
    fds["out_r"], fds["out_w"] = os.pipe()
    fds["err_r"], fds["err_w"] = os.pipe()
    return fds


def _collect(fds: dict, stdin, timeout, kill):
    """Feed stdin, read stdout / stderr to their ends (kill the run after ``timeout``)."""
    if "in_w" in fds:
        threading.Thread(target=_write_all, args=(fds.pop("in_w"), stdin), daemon=True).start()
    chunks = {fds["out_r"]: [], fds["err_r"]: []}
    sel = selectors.DefaultSelector()
    for fd in chunks:
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout if timeout else None
    open_fds = set(chunks)
    while open_fds:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        events = sel.select(left)
        if not events and deadline is not None and time.monotonic() >= deadline:
            kill()
            deadline = None
            continue
        for key, _ in events:
            data = os.read(key.fd, 1 << 16)
            if data:
                chunks[key.fd].append(data)
            else:
                sel.unregister(key.fd)
                open_fds.discard(key.fd)
    sel.close()
    out, err = b"".join(chunks[fds["out_r"]]), b"".join(chunks[fds["err_r"]])
    _close(fds["out_r"])
    _close(fds["err_r"])
    return out, err


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _returncode(status) -> int:
    if status is None:
        return -signal.SIGKILL
    return os.waitstatus_to_exitcode(status)


# ---- python -m stratum submit ------------------------------------------------------------------
USAGE = """\
usage: python -m stratum submit [--timeout S] [--memory SIZE] [--filename F] [--json]
                                (script.py | -c CODE) [args ...]

Runs a script (or a code string, shown in tracebacks as F, default runfile.py) through the
stratum server of this interpreter (a cold run if none is running), with stdin from this
process; prints its stdout and stderr and exits with its exit code. --json prints one JSON
object instead (stdout, stderr, returncode, seconds, served, reused, operations).
"""


def main(argv: list[str]) -> int:
    import json

    from stratum.config import parse_size

    args = list(argv)
    opts = {"timeout": None, "memory": None, "filename": "runfile.py", "json": False}
    code = None
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if a == "--json":
            opts["json"] = True
            continue
        if not args:
            sys.stderr.write(f"stratum submit: {a} needs a value\n{USAGE}")
            return 2
        value = args.pop(0)
        try:
            if a == "--timeout":
                opts["timeout"] = float(value)
            elif a == "--memory":
                opts["memory"] = parse_size(value)
            elif a == "--filename":
                opts["filename"] = value
            elif a == "-c":
                code = value
                break
            else:
                sys.stderr.write(f"stratum submit: unknown option {a}\n{USAGE}")
                return 2
        except ValueError:
            sys.stderr.write(f"stratum submit: bad value for {a}: {value}\n")
            return 2
    if code is None:
        if not args:
            sys.stderr.write(USAGE)
            return 2
        what = args.pop(0)
        if not os.path.isfile(what):
            sys.stderr.write(f"stratum submit: no such script: {what}\n")
            return 2
    else:
        what = code
    stdin = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    result = Client().run(what, argv=args, stdin=stdin, timeout=opts["timeout"],
                          memory=opts["memory"], filename=opts["filename"])
    if opts["json"]:
        print(json.dumps({"stdout": result.stdout.decode(errors="replace"),
                          "stderr": result.stderr.decode(errors="replace"),
                          "returncode": result.returncode, "seconds": result.seconds,
                          "served": result.served, "reused": result.reused,
                          "operations": result.operations, "timed_out": result.timed_out,
                          "reason": result.reason}))
        return 0
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(result.stderr)
    sys.stderr.flush()
    code_ = result.returncode
    return code_ if code_ >= 0 else 128 - code_
