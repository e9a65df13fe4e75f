"""``python -m stratum serve``: one resident warm interpreter per user and environment; every run
handed to it (``stratum.session.handoff``) is a fork of it.

Start: stratum is activated, then the usual libraries are imported once (``stratum.batch.warm``'s
preload: an import that writes anything or fails is *noisy* and the server starts again without
it, so a script that imports it shows what plain python shows), the objects of that warm state
are frozen out of the garbage collector, and only then the socket
``<cache dir>/server-<interpreter tag>.sock`` (``0600``, in the owner-checked ``0700`` cache
directory) appears: a client finding it is served warm.

A request is checked first (:meth:`Server.refusal`): same interpreter, flags and import-time
environment as the server's (see ``stratum.session.handoff``), no library installed or changed
since the server started, and the script warm-compatible by the batch's rule
(``warm.exec_reason``: no module of its folder named like a preloaded one, no preloaded library
imported only after other code ran). A refused client runs cold and ``--explain`` says why.
Accepted, the run is forked: its own process group (a kill reaches the processes it starts),
``PR_SET_PDEATHSIG`` (it dies with the server), the client's fds as 0 / 1 / 2, its cwd, umask,
environment, ``sys.argv`` / ``sys.orig_argv`` / ``sys.path``, std streams built as python
builds them, the signal dispositions of a fresh python (the ones the client ignores stay
ignored), numpy's global RNG reseeded, a fresh session; then ``session.runner.run`` exactly as
``python -m stratum`` runs a script, and the process ends as that interpreter would.

The server itself runs no user code and holds no per-run state once a run is reaped: its memory
does not grow with the runs it served, but for the cache entries it holds for them
(``stratum.cache.hot``, at most ``STRATUM_SERVER_HOT_MB``): each run reports the entries it
loaded or stored, and the server reads and verifies them between runs, a slice at a time when
its loop is idle; a later run, its fork, loads them from its own copy-on-write memory. One loop
(``selectors``), no threads (forks stay safe): the listening socket, each run's client
connection (end of stream: the client died, e.g. an agent's SIGKILL; the run's process group is
killed at once) and each run's pidfd (the run ended: its wait status goes to the client, which
ends the same way). At least once a second it looks at its socket file: deleted, replaced
(another server's) or its cache directory removed, no client can reach it any more, and it
stops once its runs in flight ended.
"""
from __future__ import annotations

import errno
import fcntl
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

from stratum.batch import plan as batch_plan
from stratum.batch import warm
from stratum.cache import hot
from stratum.session import handoff

#: Imported at start when installed (more are imported as scripts ask for them: see ``learn``).
DEFAULT_PRELOAD = ("numpy", "pandas", "scipy", "sklearn", "sklearn.base", "sklearn.utils",
                   "sklearn.model_selection", "sklearn.linear_model", "sklearn.ensemble",
                   "sklearn.preprocessing", "sklearn.metrics", "sklearn.pipeline",
                   "sklearn.impute", "sklearn.compose", "sklearn.tree", "sklearn.neighbors",
                   "sklearn.svm", "sklearn.decomposition", "sklearn.feature_extraction.text")


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: Seconds between two checks that the socket file is still this server's (else it stops).
CHECK_EVERY = 1.0


def paths(folder: str) -> dict:
    sock = handoff.socket_path(folder)
    base = sock[: -len(".sock")]
    return {"socket": sock, "lock": base + ".lock", "pid": base + ".pid", "log": base + ".log"}


@dataclass
class Run:
    pid: int
    conn: socket.socket
    pidfd: int
    report: int  # read end of the pipe the run writes its run id / node counts into
    started: float
    deadline: float | None = None
    timed_out: bool = False


@dataclass
class Child:
    """What a forked run process runs (returned by :meth:`Server.serve` in the child only)."""

    req: dict
    report: int
    extra: dict = field(default_factory=dict)


class Server:
    def __init__(self, folder: str, preload: list[str], exclude: set[str], quiet: bool = False):
        self.folder = folder
        self.paths = paths(folder)
        self.names = [n for n in preload if n not in exclude and
                      n.partition(".")[0] not in exclude]
        self.exclude = exclude
        self.quiet = quiet
        self.env = dict(os.environ)
        self.fp = handoff.fingerprint()
        self.runs: dict[int, Run] = {}
        self.stopping = False
        self.served = 0
        self.started = time.time()
        self.listener: socket.socket | None = None
        self.lock_fd = -1
        self.sel = None
        self.watched: dict[str, tuple] = {}
        self.loaded: set[str] = set()
        self.during: dict[str, set[str]] = {}
        self.preloaded: list[str] = []
        self.sites: dict[str, dict] = {}
        self.pid = os.getpid()
        self.sock_id: tuple | None = None  # (st_dev, st_ino) of the socket file it listens on
        self.checked = 0.0
        self.hot: hot.HotSet | None = None  # cache entries held for the runs (start_hot)
        self.hot_hits = 0

    # ---- start ----------------------------------------------------------------------------
    def lock(self) -> int | None:
        """Hold the server lock; the pid of the server holding it instead, or 0 (unknown)."""
        fd = os.open(self.paths["lock"], os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            return read_pid(self.paths["pid"]) or 0
        self.lock_fd = fd
        return None

    def warm_up(self):
        """Activate stratum and import the libraries. Returns the noisy names (then the caller
        starts again without them)."""
        from stratum.config import Settings
        from stratum.session.activation import activate

        if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
            del sys.path[0]  # ``-m`` put the starting folder first: no user module is preloaded
        os.chdir("/")
        warm.startup_modules()  # computed now, before the state is frozen
        base = warm.top_modules()
        activate(Settings.from_env())
        # the starting folder is off sys.path already: look the names up on all of it (with
        # ``PYTHONPATH`` naming site-packages, sys.path[1:] missed every library)
        names = [n for n in self.names if batch_plan.is_library(n.partition(".")[0], sys.path)]
        noisy, self.during = warm.preload(names)
        if noisy:
            return noisy
        self.loaded = warm.top_modules() - base
        self.preloaded = [n for n in names if n in sys.modules]
        self.base_path = list(sys.path)  # a fresh python's, less the script's folder
        if self.preloaded:  # what each run's engine loads at its first library call
            from stratum.cache import cache  # noqa: F401
            from stratum.engine import engine  # noqa: F401
            from stratum.keys import lineage  # noqa: F401
            from stratum.trace import store  # noqa: F401
        import ctypes  # noqa: F401 - each run sets its parent-death signal with it
        import resource  # noqa: F401 - limits
        import tempfile

        tempfile.tempdir = None
        self.watched = self._watch_state()
        sys.stdout.flush()
        sys.stderr.flush()
        warm.flush_c_stdio()
        gc.collect()
        gc.freeze()
        return []

    def _watch_state(self) -> dict[str, tuple]:
        """Files whose change means the warm state is stale: the site-packages folders on
        sys.path (an install adds or removes a ``*.dist-info`` there), the preloaded packages'
        ``__init__`` and stratum's own modules."""
        self.sites = {p: _installed(p) for p in sys.path if p and os.path.basename(
            p.rstrip(os.sep)) in ("site-packages", "dist-packages") and os.path.isdir(p)}
        files = list(self.sites)
        for name in self.preloaded:
            module = sys.modules.get(name.partition(".")[0])
            if getattr(module, "__file__", None):
                files.append(module.__file__)
        for name, module in list(sys.modules.items()):
            if name.partition(".")[0] in ("stratum", "interposer") and \
                    getattr(module, "__file__", None):
                files.append(module.__file__)
        return {f: _stamp(f) for f in dict.fromkeys(files)}

    def changed(self) -> str | None:
        for f, stamp in self.watched.items():
            now = _stamp(f)
            if now == stamp:
                continue
            if f in self.sites and now is not None and _installed(f) == self.sites[f]:
                self.watched[f] = now  # a file came and went: the same distributions
                continue
            return f
        return None

    def start_hot(self, budget: int) -> None:
        """Hold, within ``budget`` bytes, the cache entries the recent runs used (cache.hot)."""
        if budget <= 0:
            return
        from pathlib import Path

        from stratum.cache import cache

        folder = self.folder
        self.hot = hot.active = hot.HotSet(Path(folder), budget,
                                           lambda: cache.read_secret(folder))

    def listen(self) -> None:
        sock_path = self.paths["socket"]
        tmp = f"{sock_path}.{os.getpid()}"
        try:
            os.unlink(tmp)
        except OSError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(tmp)
        finally:
            os.umask(old)
        os.chmod(tmp, 0o600)
        listener.listen(64)
        os.replace(tmp, sock_path)  # appears only once it accepts
        st = os.stat(sock_path)
        self.sock_id = (st.st_dev, st.st_ino)
        self.checked = time.monotonic()
        with open(self.paths["pid"] + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(self.paths["pid"] + ".tmp", self.paths["pid"])
        self.listener = listener

    # ---- the loop -------------------------------------------------------------------------
    def serve(self) -> Child | None:
        """Accept runs until stopped. Returns a Child in a forked run process, None when the
        server stops."""
        me = self.pid = os.getpid()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, ("accept", None))
        # A signal's handler runs between two selects; the wakeup pipe makes the select return
        # (python retries an interrupted select with its old timeout: forever).
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.wake_w = wake_w
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        signal.signal(signal.SIGTERM, lambda *_: self._stop())
        signal.signal(signal.SIGINT, lambda *_: self._stop())
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        try:
            while not (self.stopping and not self.runs):
                loading = self.hot is not None and self.hot.busy and not self.stopping
                events = self.sel.select(0 if loading else self._timeout())
                if loading and not events:  # idle: hold what the last runs used, a slice
                    self._hold()
                for key, _ in events:
                    what, run = key.data
                    if what == "accept":
                        child = self._accept()
                        if child is not None:
                            return child
                    elif what == "conn":
                        self._client_event(run)
                    elif what == "exit":
                        self._reap(run)
                    elif what == "wake":
                        try:
                            os.read(self.wake_r, 512)
                        except OSError:
                            pass
                self._deadlines()
                self._check_socket()
        finally:
            if os.getpid() == me:
                self._close()
        return None

    def _hold(self) -> None:
        try:
            self.hot.step()
        except Exception as exc:  # noqa: BLE001 - never the server's end: hold nothing more
            self._log(f"holding cache entries failed ({type(exc).__name__}: {exc}); "
                      "holding none from now on")
            self.hot.clear()
            self.hot.budget = 0

    def _timeout(self):
        # at least every CHECK_EVERY seconds: is the socket file still this server's?
        wake = [self.checked + CHECK_EVERY] if not self.stopping else [time.monotonic() + 0.5]
        wake += [r.deadline for r in self.runs.values() if r.deadline and not r.timed_out]
        return max(0.0, min(wake) - time.monotonic())

    def _socket_is_mine(self) -> bool:
        try:
            st = os.stat(self.paths["socket"])
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.sock_id

    def _check_socket(self) -> None:
        """The socket file deleted, replaced (another server's) or its cache directory removed:
        no client can reach this server any more. Stop: the runs in flight finish first."""
        now = time.monotonic()
        if self.stopping or now < self.checked + CHECK_EVERY:
            return
        self.checked = now
        if self.sock_id is not None and not self._socket_is_mine():
            self._log(f"the socket {self.paths['socket']} is gone or is not this server's; "
                      f"stopping")
            self._stop()

    def _stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        try:  # the socket file is gone: no new client finds it (not another server's)
            if self._socket_is_mine():
                os.unlink(self.paths["socket"])
        except OSError:
            pass
        try:
            self.sel.unregister(self.listener)
        except (KeyError, ValueError):
            pass

    def _close(self) -> None:
        if not self.stopping:
            self._stop()
        for path in (self.paths["pid"],):
            try:
                if read_pid(path) == os.getpid():
                    os.unlink(path)
            except OSError:
                pass
        self.listener.close()

    def _accept(self) -> Child | None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return None
        conn.settimeout(handoff.DEFAULT_WAIT)
        fds: list[int] = []
        try:
            msg = handoff.recv(conn)
            if msg is None:
                conn.close()
                return None
            op = msg.get("op")
            if op == "status":
                handoff.send(conn, self.status())
                conn.close()
                return None
            if op == "stop":
                handoff.send(conn, {"ok": True, "pid": os.getpid()})
                conn.close()
                self._stop()
                return None
            if op != "run":
                handoff.send(conn, {"ok": False, "reason": "bad request"})
                conn.close()
                return None
            reason = self.refusal(msg)
            if reason is not None:
                handoff.send(conn, {"ok": False, "reason": reason})
                conn.close()
                return None
            handoff.send(conn, {"ok": True})
            go, fds = handoff.recv(conn, with_fds=True)
            if not go or not go.get("go") or len(fds) != 3:
                conn.close()  # the client gave up and runs cold: nothing starts here
                return None
            return self._fork(conn, msg, fds)
        except (OSError, ValueError) as exc:
            self._log(f"request failed: {type(exc).__name__}: {exc}")
            conn.close()
            return None
        finally:
            if os.getpid() == self.pid:
                for fd in fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass

    def refusal(self, req: dict) -> str | None:
        """Why this request must run cold (None: a warm fork is equivalent)."""
        if self.stopping:
            return "the server is stopping"
        # the environment first: a variable (PYTHONHASHSEED) also shows in sys.flags
        theirs, ours = handoff.import_env(req.get("env") or {}), handoff.import_env(self.env)
        diff = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
        if diff:
            return (f"environment variable {diff[0]} is {_shown(theirs.get(diff[0]))} here, "
                    f"{_shown(ours.get(diff[0]))} in the server (read at import time)")
        fp = req.get("fingerprint") or {}
        keys = list(self.fp)
        if req.get("fresh"):  # Client().run: as a bare ``python FILE`` started in its env
            keys = ["executable", "prefix", "version"]
            if list(getattr(sys, "orig_argv", []))[1:3] != ["-m", "stratum"]:
                return "the server was started with interpreter options (a bare python has none)"
        for k in keys:
            mine = self.fp[k]
            if fp.get(k) != mine:
                what = {"flags": "interpreter flags (sys.flags)", "xoptions": "-X options",
                        "warnoptions": "-W options / PYTHONWARNINGS"}.get(k, f"interpreter ({k})")
                return f"{what} differ from the server's"
        stale = self.changed()
        if stale is not None:
            self._log(f"stale: {stale} changed; stopping")
            self._stop()
            return f"installed libraries changed since the server started ({stale})"
        target = req.get("target") or []
        cwd = req.get("cwd") or "/"
        if not target or target[0] not in ("script", "code", "command", "module"):
            return "only scripts, -m modules and -c code run through the server"
        if target[0] == "module":
            search = req.get("path") or [cwd, *self.base_path]
            files = module_files(target[1], [cwd if p == "" else p for p in search])
            if isinstance(files, str):
                return files
            path = os.path.join(cwd, "<module>")  # its folder: sys.path[0], the current one
            imports = batch_plan.scan_chain(files)
        elif target[0] == "command":
            path = os.path.join(cwd, "<string>")  # sys.path[0] is '': the current folder
            imports = batch_plan.scan_imports(path, target[1])
        else:
            path = os.path.join(cwd, target[1])
            if target[0] == "script":
                if not os.path.isfile(path):
                    return "no such script"
                imports = batch_plan.scan_imports(path)
            else:
                imports = batch_plan.scan_imports(path, target[2])
            path = os.path.realpath(path)
        plan = batch_plan.ScriptPlan(0, target[1], path, imports)
        reason = warm.exec_reason(plan, self.loaded, self.during)
        if reason is not None:
            return reason
        return None

    def _fork(self, conn, req: dict, fds: list[int]) -> Child | None:
        if req.get("path") is None:  # a submission, STRATUM=1: the sys.path python makes
            req["path"], req["path0"] = self.base_path, True
        read, write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        warm.flush_c_stdio()
        # the server's handlers must not run in the child before it resets them (_become)
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            try:
                os.setpgid(0, 0)
                os.close(read)
                signal.set_wakeup_fd(-1)
                self.sel.close()
                # detached, not closed under them: a socket object closes its fd number when
                # it is freed, which by then may be a file of the script's
                socks = [self.listener, conn, *(r.conn for r in self.runs.values())]
                for fd in (*(sk.detach() for sk in socks), self.lock_fd,
                           self.wake_r, self.wake_w,
                           *(self.hot.fds() if self.hot is not None else ()),
                           *(r.pidfd for r in self.runs.values()),
                           *(r.report for r in self.runs.values())):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                for i, fd in enumerate(fds):
                    os.dup2(fd, i)
                for fd in fds:
                    if fd > 2:
                        os.close(fd)
                if self.hot is not None:
                    self.hot.forget_fds()
                    if (req.get("limits") or {}).get("memory"):
                        self.hot.clear()  # its address space would count against the limit
                return Child(req, write)
            except BaseException:
                os._exit(70)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        os.close(write)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        pidfd = os.pidfd_open(pid)
        limits = req.get("limits") or {}
        deadline = time.monotonic() + float(limits["timeout"]) if limits.get("timeout") else None
        run = Run(pid, conn, pidfd, read, time.monotonic(), deadline)
        self.runs[pid] = run
        self.served += 1
        try:
            handoff.send(conn, {"pid": pid})
        except OSError:
            _killpg(pid)
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, ("conn", run))
        self.sel.register(pidfd, selectors.EVENT_READ, ("exit", run))
        return None

    def _client_event(self, run: Run) -> None:
        try:
            data = run.conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client is gone (killed): so is its run, at once
            _killpg(run.pid)
            try:
                self.sel.unregister(run.conn)
            except (KeyError, ValueError):
                pass

    def _deadlines(self) -> None:
        now = time.monotonic()
        for run in self.runs.values():
            if run.deadline and not run.timed_out and now >= run.deadline:
                run.timed_out = True
                _killpg(run.pid)

    def _reap(self, run: Run) -> None:
        try:
            _, status = os.waitpid(run.pid, 0)
        except ChildProcessError:
            status = None
        if status is None or os.WIFSIGNALED(status) or run.timed_out:
            # killed (an agent's timeout, Ctrl-C, its client gone): nothing it started outlives it
            _killpg(run.pid, only_if_group=True)
        for obj in (run.conn, run.pidfd):
            try:
                self.sel.unregister(obj)
            except (KeyError, ValueError):
                pass
        os.close(run.pidfd)
        report = b""
        try:
            os.set_blocking(run.report, False)
            report = os.read(run.report, 1 << 16)
        except OSError:
            pass
        os.close(run.report)
        end = {"status": status, "seconds": time.monotonic() - run.started}
        if run.timed_out:
            end["timed_out"] = True
        try:
            end.update(json.loads(report or b"{}"))
        except ValueError:
            pass
        used = end.pop("hot_keys", None)  # the server's business, not the client's
        if self.hot is not None and isinstance(used, list):
            self.hot.want(used)
            self.hot_hits += int(end.get("hot") or 0)
        try:
            run.conn.setblocking(True)
            run.conn.settimeout(1.0)
            handoff.send(run.conn, end)
        except OSError:
            pass
        run.conn.close()
        del self.runs[run.pid]

    def status(self) -> dict:
        return {"pid": os.getpid(), "socket": self.paths["socket"], "started": self.started,
                "preloaded": self.preloaded, "served": self.served, "running": len(self.runs),
                "rss": _rss(), "executable": sys.executable,
                "hot": dict(self.hot.stats(), hits=self.hot_hits) if self.hot else None}

    def _log(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(f"stratum server: {text}\n")
            sys.stderr.flush()


def module_files(name: str, search: list[str]):
    """The source files ``python -m name`` runs, in order (the packages' ``__init__``, then the
    module, or a package's ``__main__``), found on ``search`` without importing anything; or
    why the run must go cold (not found: python's own error message comes from a cold run)."""
    from importlib.machinery import PathFinder, SourceFileLoader

    files: list[str] = []
    cache = dict(sys.path_importer_cache)
    try:
        parts = name.split(".")
        where: list[str] = list(search)
        for i in range(len(parts)):
            full = ".".join(parts[: i + 1])
            last = i == len(parts) - 1
            if full in sys.modules:  # in the server already: runpy uses it as it is
                if last:  # (runpy would warn that it was imported before it ran)
                    return f"-m {name}: {full} is imported in the server already"
                where = list(getattr(sys.modules[full], "__path__", None) or ())
                if not where:
                    return f"-m {name}: {full} is not a package"
                continue
            spec = PathFinder.find_spec(full, where)
            if spec is None:
                return f"-m {name}: {full} not found without importing"
            if spec.origin and spec.has_location:
                if not isinstance(spec.loader, SourceFileLoader):
                    return f"-m {name}: {full} is not a source file"
                files.append(spec.origin)
            elif spec.submodule_search_locations is None:
                return f"-m {name}: {full} is not a source file"
            if spec.submodule_search_locations is None:
                if not last:
                    return f"-m {name}: {full} is not a package"
                continue
            where = list(spec.submodule_search_locations)
            if last:  # a package: python -m runs its __main__
                main = PathFinder.find_spec(f"{full}.__main__", where)
                if main is None or not isinstance(main.loader, SourceFileLoader):
                    return f"-m {name}: no source {full}.__main__"
                files.append(main.origin)
        return files
    except Exception as exc:  # noqa: BLE001 - whatever python makes of it, a cold run shows
        return f"-m {name}: {type(exc).__name__}: {exc}"
    finally:  # the lookups leave no finder behind in the server (its memory stays flat)
        for key in set(sys.path_importer_cache) - set(cache):
            del sys.path_importer_cache[key]


def _shown(value) -> str:
    return "unset" if value is None else repr(value)


def _installed(folder: str) -> dict:
    """What an install changes in a site-packages folder: its distributions' metadata and its
    ``.pth`` files, with their times."""
    out = {}
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.endswith((".dist-info", ".egg-info", ".pth", ".egg-link")):
                    try:
                        out[entry.name] = entry.stat().st_mtime_ns
                    except OSError:
                        pass
    except OSError:
        pass
    return out


def _stamp(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _killpg(pid: int, only_if_group: bool = False) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        if not only_if_group:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


#: The default of STRATUM_SERVER_HOT_MB: cache entries the server holds for its runs.
HOT_MB = 512


def hot_budget() -> int:
    """Bytes of cache entries the server holds in memory (``STRATUM_SERVER_HOT_MB``, MiB; 0:
    none)."""
    text = os.environ.get("STRATUM_SERVER_HOT_MB", "").strip()
    try:
        mb = float(text) if text else HOT_MB
    except ValueError:
        mb = HOT_MB
    return max(0, int(mb * 2**20))


def read_pid(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


# ---- a run, in its forked process -------------------------------------------------------------
def run_child(child: Child) -> None:
    """Become the client's run and run it. Ends the process as python would (never returns)."""
    req = child.req
    try:
        _become(req, child.report)
    except BaseException as exc:  # noqa: BLE001 - cannot set the run up: say so, exit 70
        try:
            os.write(2, f"stratum: the server could not set up the run ({exc})\n".encode())
        finally:
            os._exit(70)
    from stratum.session import activation
    from stratum.session import runner

    target = req["target"]
    opts = {"explain": bool(req["opts"].get("explain")),
            "no_cache": bool(req["opts"].get("no_cache"))}
    handoff.served_by = os.getppid()
    session = activation.restart_session()
    if session is not None:
        session.settings = runner.settings_for(opts)
    report = child.report

    def after(session) -> None:
        nodes = session.engine.nodes if session.engine is not None else []
        data = {"run_id": session.run_id, "nodes": len(nodes),
                "reused": sum(1 for n in nodes if n.reused)}
        cache = session.engine.opened_cache if session.engine is not None else None
        if cache is not None and hot.active is not None:
            data["hot"] = cache.hot_hits  # entries read from the server's memory
            data["hot_keys"] = cache.used_keys()  # to hold for the next runs
        try:
            os.write(report, json.dumps(data).encode())
        except OSError:
            pass

    runner.run(tuple(target), req["argv"], opts, after=after)
    runner.flush_io()
    sys.exit(0)


def _become(req: dict, report: int) -> None:
    import resource
    from types import SimpleNamespace

    from stratum.batch.stdio import std_stream

    try:  # die with the server: no run outlives it
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001
        pass
    ignored = set(req.get("ignored") or ())
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if sig in ignored:
                signal.signal(sig, signal.SIG_IGN)
            elif sig == signal.SIGINT:
                signal.signal(sig, signal.default_int_handler)
            else:
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    os.chdir(req["cwd"])
    os.umask(req["umask"])
    os.environ.clear()
    os.environ.update(req["env"])
    sys.orig_argv = list(req["orig_argv"])
    path = list(req["path"])
    if req.get("path0") and not sys.flags.safe_path:
        # -m: the current folder's path; else '' (a script's: replaced by its folder, in
        # session.runner.run_script; -c: kept)
        path.insert(0, os.getcwd() if req["target"][0] == "module" else "")
    sys.path[:] = path
    sys.path_importer_cache.clear()
    import importlib

    importlib.invalidate_caches()
    streams = req.get("streams") or [None, None, None]
    for fd, stream in enumerate(streams):
        like = SimpleNamespace(**stream) if stream else \
            (sys.__stdin__, sys.__stdout__, sys.__stderr__)[fd]  # a fresh python's, for pipes
        new = std_stream(fd, like)
        setattr(sys, ("stdin", "stdout", "stderr")[fd], new)
        setattr(sys, ("__stdin__", "__stdout__", "__stderr__")[fd], new)
    limits = req.get("limits") or {}
    if limits.get("memory"):
        n = int(limits["memory"])
        resource.setrlimit(resource.RLIMIT_AS, (n, n))
    import tempfile

    tempfile.tempdir = None
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # a fresh interpreter seeds numpy's global RNG from the OS at import
        numpy.random.seed()
    os.set_inheritable(report, False)


# ---- the command ------------------------------------------------------------------------------
USAGE = """\
usage: python -m stratum serve [--foreground] [--quiet] [--preload MOD,...] [--exclude MOD,...]
       python -m stratum serve --status
       python -m stratum serve --stop

Starts the stratum server of this interpreter in the background: a warm process (stratum on,
numpy / pandas / scikit-learn imported) that runs every `python -m stratum s.py` and
`STRATUM=1 python s.py` of this environment (and `-m module`, `-c code`) as a fork of itself,
with identical results.
A run it cannot take identically runs cold as before (--explain says why).

options:
  --foreground   serve in this process (logs on stderr) instead of in the background
  --status       show the running server (exit 1 if none)
  --stop         stop the running server (runs in flight finish first)
  --preload M,.. more modules to import at start    --exclude M,..  modules not to import
  --quiet        no messages
"""


def main(argv: list[str]) -> int:
    opts = {"foreground": False, "status": False, "stop": False, "quiet": False,
            "preload": [], "exclude": []}
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if a in ("--foreground", "--status", "--stop", "--quiet"):
            opts[a[2:]] = True
        elif a in ("--preload", "--exclude") and args:
            opts[a[2:]] += [n for n in args.pop(0).split(",") if n]
        else:
            sys.stderr.write(f"stratum serve: unknown argument {a}\n{USAGE}")
            return 2
    if sum((opts["foreground"], opts["status"], opts["stop"])) > 1:
        sys.stderr.write(f"stratum serve: --foreground, --status and --stop exclude each other\n"
                         f"{USAGE}")
        return 2
    from stratum.config import CacheDirError, Settings, prepare_cache_dir

    settings = Settings.from_env()
    try:
        prepare_cache_dir(settings.cache_dir)
    except CacheDirError as exc:
        sys.stderr.write(f"stratum: {exc}\n")
        return 1
    folder = str(settings.cache_dir)
    if len(handoff.socket_path(folder)) > 100:
        sys.stderr.write(f"stratum: the cache directory path is too long for a socket "
                         f"({folder})\n")
        return 1
    if opts["status"]:
        return _status(folder)
    if opts["stop"]:
        return _stop(folder, opts["quiet"])
    if not opts["foreground"]:
        return _background(folder, opts)
    child = _serve(folder, opts)
    if isinstance(child, Child):
        run_child(child)  # never returns
    return child


def ask(folder: str, op: str, wait: float = 2.0) -> dict | None:
    try:
        sock = handoff.connect(handoff.socket_path(folder), wait)
    except handoff.Refused:
        return None
    try:
        handoff.send(sock, {"op": op})
        return handoff.recv(sock)
    except OSError:
        return None
    finally:
        sock.close()


def _status(folder: str) -> int:
    st = ask(folder, "status")
    if st is None:
        print("stratum: no server running for this interpreter")
        return 1
    print(f"stratum server: pid {st['pid']}, up {time.time() - st['started']:.0f}s, "
          f"{st['served']} runs served, {st['running']} running, "
          f"{st['rss'] / 2**20:.0f} MiB resident")
    held = st.get("hot")
    if held:
        print(f"  cache entries held in memory: {held['entries']} "
              f"({held['bytes'] / 2**20:.0f} of {held['budget'] / 2**20:.0f} MiB, "
              f"STRATUM_SERVER_HOT_MB), {held['hits']} loads served from them")
    else:
        print("  cache entries held in memory: none (STRATUM_SERVER_HOT_MB=0)")
    print(f"  socket: {st['socket']}")
    print(f"  preloaded: {', '.join(st['preloaded']) or '-'}")
    return 0


def _stop(folder: str, quiet: bool) -> int:
    reply = ask(folder, "stop")
    pid = reply.get("pid") if reply else read_pid(paths(folder)["pid"])
    if pid is None:
        if not quiet:
            print("stratum: no server running for this interpreter")
        return 1
    if reply is None:  # no answer (hung): ask by signal
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.05)
    else:
        sys.stderr.write(f"stratum: server {pid} is still finishing its runs\n")
        return 1
    if not quiet:
        print(f"stratum: server {pid} stopped")
    return 0


def _background(folder: str, opts: dict) -> int:
    """Start ``serve --foreground`` detached, logging to a file; wait until it listens."""
    import subprocess

    files = paths(folder)
    st = ask(folder, "status", 0.5)
    if st is not None:
        if not opts["quiet"]:
            print(f"stratum: a server is already running (pid {st['pid']})")
        return 0
    log = os.open(files["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    args = [sys.executable, "-m", "stratum", "serve", "--foreground"]
    for k in ("preload", "exclude"):
        if opts[k]:
            args += [f"--{k}", ",".join(opts[k])]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, close_fds=True)
    os.close(log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if opts["quiet"]:
                return 0 if proc.returncode == 0 else 1
            sys.stderr.write(f"stratum: the server did not start (see {files['log']})\n")
            return 1
        st = ask(folder, "status", 0.5)
        if st is not None:
            if not opts["quiet"]:
                print(f"stratum: server running (pid {st['pid']}), preloaded "
                      f"{', '.join(st['preloaded']) or 'nothing'}")
            return 0
        time.sleep(0.05)
    sys.stderr.write("stratum: the server did not start within 120 s\n")
    return 1


def _serve(folder: str, opts: dict):
    exclude = set(opts["exclude"])
    server = Server(folder, [*DEFAULT_PRELOAD, *opts["preload"]], exclude, opts["quiet"])
    holder = server.lock()
    if holder is not None:
        if not opts["quiet"]:
            sys.stderr.write(f"stratum: a server is already running (pid {holder})\n")
        return 0
    noisy = server.warm_up()
    if noisy:
        # This process imported them: start again without them (as a batch's warm parent does).
        server._log(f"noisy imports left to the scripts: {', '.join(noisy)}")
        os.close(server.lock_fd)
        args = [sys.executable, "-m", "stratum", "serve", "--foreground",
                "--exclude", ",".join(sorted(exclude | set(noisy)))]
        if opts["preload"]:
            args += ["--preload", ",".join(opts["preload"])]
        if opts["quiet"]:
            args.append("--quiet")
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, args)
    server.start_hot(hot_budget())
    server.listen()
    server._log(f"pid {os.getpid()} listening on {server.paths['socket']}; preloaded "
                f"{', '.join(server.preloaded) or 'nothing'}")
    child = server.serve()
    if child is not None:
        return child
    server._log("stopped")
    return 0
