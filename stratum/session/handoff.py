"""Handing a run to the stratum server (``stratum.server``): the wire protocol and the client side.

A run started as ``python -m stratum s.py`` or ``STRATUM=1 python s.py`` (or with ``-m
module`` / ``-c code`` instead of the script) first looks for a server socket of its
interpreter in the cache directory; if one answers and accepts the run,
the run happens in a fork of the server (libraries already imported) with this process's own
stdin / stdout / stderr (passed as file descriptors, ``SCM_RIGHTS``), argv, cwd, environment
and umask, and this process only waits and ends as the run ended (exit code, or death by the
same signal). Anything else — no socket, a dead or hung server, a refusal — and the run starts
here, cold, as if there were no server; ``--explain`` says why (:data:`last_reason`).

This module is the session layer's side of it (a way in, like ``startup``), so that the
``STRATUM=1`` start-up hook can use it; the server itself is ``stratum.server.server``. It
imports only the standard library, and only ``os`` / ``sys`` until a server socket exists:
every ``STRATUM=1`` process pays for the check (one ``stat``).

Wire format: messages are a 4-byte big-endian length and a JSON object, over an ``AF_UNIX``
stream socket. The client sends ``{"op": "run", ...request}``; the server answers
``{"ok": true}`` (or ``{"ok": false, "reason": ...}``: run cold); the client says
``{"go": true}`` with its fds 0, 1, 2 attached (only then may the server fork: a client that
gave up waiting and runs cold never has its run made twice, nor its fds held); the server
sends ``{"pid": N}`` (the run's process, leader of its own process group) and at the end
``{"status": wait status, ...}``. A request's target is a script (``["script", path]``), a
module (``["module", name]``: ``-m``), a command (``["command", source]``: ``-c``) or a
harness's code string run as a file (``["code", filename, source]``).

Compatibility (why a warm fork is the same as a cold start, and when it would not be): the
server checks each request against its own start (``stratum.server.server``): the same
interpreter (``sys.executable``, ``sys.prefix``, version), the same ``sys.flags`` (optimize, -E,
-I, -s, -S, -B, dev mode, utf8 mode, hash randomization ...), ``-X`` options and ``-W`` options,
and the same value (or absence) of every environment variable a library or the interpreter
reads at import time (:func:`import_env`: ``OMP_*``, ``MKL_*``, ``OPENBLAS_*``, ``PYTHON*``,
the locale, ``LD_*``, ``STRATUM_*`` settings ...). The hash seed: a fork inherits the server's
``str`` hash secret. A client with ``PYTHONHASHSEED=N`` is handed only to a server started with
the same ``N`` (and ``sys.flags.hash_randomization`` equal), which gives the very hashes a cold
start gives. A client without it gets a random seed when started cold; the server started without
it drew one at random too, so to the script the seed is as random as a fresh one — the one
difference is that successive warm runs share it (set iteration order of strings repeats from
run to run where cold runs would vary). A script cannot rely on either, and none of the
corpus's outputs depends on it.
"""
from __future__ import annotations

import os
import sys

#: Seconds a client waits to connect and to be accepted before it runs cold.
DEFAULT_WAIT = 2.0

#: Why the last run of this process did not go through the server (None: it did, or no server).
last_reason: str | None = None
#: In a run the server forked: the server's pid (``--explain`` says the run was served warm).
served_by: int | None = None
_tried = False  # this process asked a server already (its answer is last_reason)

#: Environment variables read at import or start-up time: a run whose value of one of these
#: differs from the server's runs cold. (Prefixes end with ``_`` or are whole names.)
IMPORT_ENV_PREFIXES = ("OMP_", "MKL_", "OPENBLAS_", "GOTO", "BLIS_", "KMP_", "VECLIB_",
                       "NUMEXPR_", "NUMBA_", "NPY_", "NUMPY_", "PANDAS_", "SKLEARN_", "SCIPY_",
                       "JOBLIB_", "LOKY_", "MPL", "ARROW_", "PYARROW_", "CUDA_", "TF_", "TORCH_",
                       "LD_", "LC_", "PYTHON", "STRATUM_", "XGBOOST_", "LIGHTGBM_", "POLARS_")
IMPORT_ENV_NAMES = ("LANG", "LANGUAGE", "TMPDIR", "TEMP", "TMP", "HOME", "XDG_CACHE_HOME",
                    "MALLOC_ARENA_MAX", "TZ")
#: Read per run, never at import: these may differ. PYTHONUNBUFFERED / PYTHONIOENCODING only
#: shape the std streams, which every run rebuilds from the client's own.
RUN_ENV = frozenset({"STRATUM", "STRATUM_EXPLAIN", "STRATUM_SERVE", "STRATUM_SERVER_WAIT",
                     "STRATUM_SERVER_HOT_MB", "PYTHONUNBUFFERED", "PYTHONIOENCODING"})


def import_env(env) -> dict:
    """The part of ``env`` that must be the same in a client and its server."""
    return {k: v for k, v in env.items() if k not in RUN_ENV and
            (k.startswith(IMPORT_ENV_PREFIXES) or k in IMPORT_ENV_NAMES)}


def cache_dir() -> str:
    """``stratum.config.default_cache_dir()`` without importing it (it costs ~10 ms, paid by
    every ``STRATUM=1`` process); tests/test_server.py checks the two agree."""
    explicit = os.environ.get("STRATUM_CACHE_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = os.path.expanduser(xdg) if xdg else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "stratum")


def interpreter_tag() -> str:
    """Names one interpreter and environment (the socket's name): a server per venv."""
    import zlib

    text = "\0".join((sys.executable, os.path.realpath(sys.executable), sys.prefix, sys.version))
    return f"{zlib.crc32(text.encode()):08x}"


def socket_path(folder: str | None = None) -> str:
    return os.path.join(folder or cache_dir(), f"server-{interpreter_tag()}.sock")


def fingerprint() -> dict:
    """What must be equal in a client and its server besides the environment."""
    return {"executable": sys.executable, "prefix": sys.prefix, "version": sys.version,
            "flags": list(sys.flags), "xoptions": {str(k): str(v) for k, v in
                                                   sys._xoptions.items()},
            "warnoptions": list(sys.warnoptions)}


# ---- framing ----------------------------------------------------------------------------------
def send(sock, obj, fds=()) -> None:
    import json

    data = json.dumps(obj).encode()
    data = len(data).to_bytes(4, "big") + data
    if fds:
        import socket

        sent = socket.send_fds(sock, [data], list(fds))
        data = data[sent:]
    if data:
        sock.sendall(data)


def recv(sock, with_fds: bool = False):
    """One message (None at end of stream); with ``with_fds``, (message, fds)."""
    import json
    import socket

    fds: list[int] = []
    head = b""
    while len(head) < 4:
        if with_fds and not fds:
            chunk, got, _flags, _addr = socket.recv_fds(sock, 4 - len(head), 8)
            fds.extend(got)
        else:
            chunk = sock.recv(4 - len(head))
        if not chunk:
            for fd in fds:
                os.close(fd)
            return (None, []) if with_fds else None
        head += chunk
    size = int.from_bytes(head, "big")
    body = b""
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), 1 << 20))
        if not chunk:
            for fd in fds:
                os.close(fd)
            return (None, []) if with_fds else None
        body += chunk
    obj = json.loads(body)
    return (obj, fds) if with_fds else obj


# ---- the client side --------------------------------------------------------------------------
def _stream(stream) -> dict:
    return {"encoding": getattr(stream, "encoding", None),
            "errors": getattr(stream, "errors", None),
            "write_through": bool(getattr(stream, "write_through", False))}


def request(target: list, argv: list[str], opts: dict, path0: bool) -> dict:
    """A run request for this process: ``target`` is ``["script", path]``, ``["module",
    name]`` (``-m``), ``["command", source]`` (``-c``) or ``["code", filename, source]`` (a
    harness's string run as the file ``filename``); ``argv`` is what ``sys.argv`` must become;
    ``path0``: sys.path still lacks the entry python puts first (start-up hook: site runs
    before that)."""
    import signal

    mask = os.umask(0)
    os.umask(mask)
    ignored = []
    for sig in signal.valid_signals():
        try:
            if signal.getsignal(sig) == signal.SIG_IGN:
                ignored.append(int(sig))
        except (ValueError, OSError):
            pass
    # At start-up (path0) site is still running: .pth files after stratum's and sitecustomize
    # have not yet added their entries. The server's own sys.path is the complete one (same
    # interpreter, same PYTHONPATH / HOME / site flags): None asks for it.
    return {"op": "run", "target": target, "argv": argv, "opts": opts,
            "fingerprint": fingerprint(), "env": dict(os.environ), "cwd": os.getcwd(),
            "umask": mask, "orig_argv": list(getattr(sys, "orig_argv", [])),
            "path": None if path0 else list(sys.path), "path0": path0, "ignored": ignored,
            "streams": [_stream(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
            "limits": {}}


def wait_seconds() -> float:
    try:
        value = float(os.environ.get("STRATUM_SERVER_WAIT", DEFAULT_WAIT))
    except ValueError:
        return DEFAULT_WAIT
    return value if value > 0 else DEFAULT_WAIT


class Refused(Exception):
    """The server cannot take this run (the message says why): run cold."""


def connect(path: str, wait: float):
    """A connected socket to the server at ``path``, or Refused."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(wait)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise Refused(f"no server answers at {path} ({exc.strerror or exc})") from None
    return sock


def start_run(path: str, req: dict, fds=(0, 1, 2), wait: float | None = None):
    """Hand ``req`` to the server: (socket, run pid) once the run started, or Refused (nothing
    ran: the caller runs it cold)."""
    import socket

    wait = wait_seconds() if wait is None else wait
    sock = connect(path, wait)
    try:
        send(sock, req)
        reply = recv(sock)
        if reply is None:
            raise Refused("the server closed the connection")
        if not reply.get("ok"):
            raise Refused(reply.get("reason") or "refused")
        # The fds go with "go", not with the request: fds sent to a server that never reads
        # them (stopped) would stay open in its socket's queue, and a reader of this run's
        # stdout would wait for their end after the cold run ended.
        send(sock, {"go": True}, fds)
        sock.settimeout(None)  # committed: the server forks the run now
        started = recv(sock)
        if started is None or "pid" not in started:
            raise Refused("the server could not start the run" + (
                f" ({started.get('error')})" if started else ""))
        return sock, started["pid"]
    except socket.timeout:
        sock.close()
        raise Refused(f"the server did not answer within {wait:g}s") from None
    except OSError as exc:
        sock.close()
        raise Refused(f"lost the server ({exc.strerror or exc})") from None
    except Refused:
        sock.close()
        raise


def wait_run(sock, pid: int) -> dict:
    """The server's final message for the run ({"status": wait status, ...}). Meanwhile the
    client's SIGINT / SIGTERM / SIGHUP / SIGQUIT go on to the run: one a terminal sent (Ctrl-C,
    which reaches the whole foreground process group of plain python) to the run's process
    group, one sent by ``kill`` (an agent's timeout, which reaches python only) to its process."""
    import signal
    import threading

    forwarded = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    try:
        forwarded = {s for s in forwarded if signal.getsignal(s) != signal.SIG_IGN}
        main = threading.current_thread() is threading.main_thread()
    except (ValueError, OSError):
        main = False
    if not main:  # not the main thread (a harness's thread): the caller forwards itself
        try:
            end = _recv_end(sock)
        finally:
            sock.close()
        return end
    wake = signal.SIGUSR2
    waited = forwarded | {wake}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    box: list = []
    ident = threading.get_ident()

    def reader():
        try:
            box.append(_recv_end(sock))
        finally:
            signal.pthread_kill(ident, wake)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        while True:
            info = signal.sigwaitinfo(waited)
            if info.si_signo == wake:
                if box:
                    break
                continue
            try:
                if info.si_code == 0x80:  # SI_KERNEL: from the terminal
                    os.killpg(pid, info.si_signo)
                else:
                    os.kill(pid, info.si_signo)
            except OSError:
                pass
    finally:
        thread.join()
        sock.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    return box[0]


def _recv_end(sock) -> dict:
    try:
        end = recv(sock)
    except OSError:
        end = None
    if end is None:
        return {"status": None, "error": "the server ended before the run reported"}
    return end


def exit_like(status) -> None:
    """End this process as the run's process ended (``os.waitpid`` status). Never returns."""
    import signal

    if status is None:
        os._exit(1)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)  # not reached for a fatal signal
    os._exit(os.waitstatus_to_exitcode(status))


def run_here(target: list, argv: list[str], opts: dict, path0: bool) -> None:
    """Run through the server and end this process as the run ended; return (having set
    :data:`last_reason`) when the run must start cold. Stays quiet in every case."""
    global last_reason, _tried
    if _tried:  # asked once already (``python -m stratum``: before and after the command line)
        return
    _tried = True
    passed = inherited_fds()
    if passed:
        last_reason = (f"it inherited file descriptor {passed[0]} from its parent (a fork of "
                       "the server would not have it)")
        return
    path = socket_path()
    try:
        info = os.stat(path)
    except OSError:
        autostart()
        return
    if info.st_uid != os.getuid():
        last_reason = f"the server socket {path} belongs to another user"
        return
    try:
        sock, pid = start_run(path, request(target, argv, opts, path0))
    except Refused as exc:
        last_reason = str(exc)
        return
    except Exception as exc:  # noqa: BLE001 - never break a run: run it cold
        last_reason = f"{type(exc).__name__}: {exc}"
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    end = wait_run(sock, pid)
    if end.get("status") is None and end.get("error"):
        try:
            sys.__stderr__.write(f"stratum: {end['error']}\n")
            sys.__stderr__.flush()
        except Exception:
            pass
    exit_like(end.get("status"))


def inherited_fds() -> list[int]:
    """Descriptors above 2 this process was given by its parent: a pipe a multiprocessing or
    loky parent passed its ``python -c`` helper (the resource tracker), a ``3<file`` of a
    shell. Python opens its own descriptors non-inheritable (PEP 446), so at start-up an
    inheritable one came from the parent; a run forked by the server would not have it (loky's
    resource tracker died with ``Bad file descriptor`` when its ``-c`` was handed over)."""
    out = []
    try:
        names = os.listdir(f"/proc/{os.getpid()}/fd")
    except OSError:
        return out
    for name in names:
        try:
            fd = int(name)
            if fd > 2 and os.get_inheritable(fd):
                out.append(fd)
        except (ValueError, OSError):  # the listing's own descriptor, closed by now
            continue
    return sorted(out)


def autostart() -> None:
    """``STRATUM_SERVE=1`` and no server yet: start one in the background for later runs (this
    run goes on cold, it does not wait for it)."""
    global last_reason
    if os.environ.get("STRATUM_SERVE", "").strip().lower() in ("", "0", "false", "no", "off"):
        return
    import fcntl

    lock = socket_path()[: -len(".sock")] + ".lock"
    try:  # a server holds this lock from its start: one is starting (or hung) already
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        pass
    else:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            last_reason = "the server is starting"
            return
        finally:
            os.close(fd)
    last_reason = "no server yet: STRATUM_SERVE=1 started one in the background for the next runs"
    import subprocess

    try:
        proc = subprocess.Popen([sys.executable, "-m", "stratum", "serve", "--quiet"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True)
        proc.returncode = 0  # detached on purpose: no "still running" ResourceWarning at exit
    except OSError as exc:
        last_reason = f"could not start a server ({exc})"


def script_at_startup() -> None:
    """``STRATUM=1 python s.py args`` (or ``-m module`` / ``-c code``): hand the run to a server
    before the program runs, if one is there. Called by the start-up hook while site runs
    (sys.path has no script folder yet)."""
    global last_reason
    argv = list(sys.argv)
    if not argv or argv[0] in ("", "-") or sys.flags.inspect or sys.flags.interactive:
        return
    try:
        os.stat(socket_path())
    except OSError:
        autostart()
        return
    orig = list(getattr(sys, "orig_argv", []))
    args = argv[1:]
    if argv[0] in ("-c", "-m"):
        # the code or module name is the word before the arguments, after a lone -c / -m
        # (python -Bc / -cCODE forms are not told apart from an option's value: cold)
        at = len(orig) - len(args) - 1
        if at < 2 or orig[at - 1] != argv[0] or orig[at + 1:] != args or \
                orig[at - 2] in ("-W", "-X", "--check-hash-based-pycs"):  # -W -c: a value
            last_reason = f"the {argv[0]} argument is not a separate word of the command line"
            return
        if argv[0] == "-c":
            target = ["command", orig[at]]
        else:
            where = _module_origin(orig[at])
            from interposer import userfiles

            if where is None or not userfiles.is_user_file(where):
                last_reason = "not a user's module (a tool)"
                return
            target = ["module", orig[at]]
    else:
        if not os.path.isfile(argv[0]) or orig[-len(argv):] != argv:
            last_reason = "not a script file"
            return
        from interposer import userfiles

        if not userfiles.is_user_file(os.path.abspath(argv[0])):
            last_reason = "not a user's script (a tool)"
            return
        target = ["script", argv[0]]
    explain = os.environ.get("STRATUM_EXPLAIN", "").strip().lower() not in (
        "", "0", "false", "no", "off")
    run_here(target, args, {"explain": explain, "no_cache": False, "startup": True},
             path0=True)


def _module_origin(name: str) -> str | None:
    """The file of ``name``'s top-level package or module as ``python -m`` would find it (the
    current folder first), without importing anything; None if not found."""
    from importlib.machinery import PathFinder

    search = [os.getcwd()] + [p for p in sys.path if p]
    cache = dict(sys.path_importer_cache)
    try:
        spec = PathFinder.find_spec(name.partition(".")[0], search)
    except Exception:  # noqa: BLE001 - an odd path entry: not found
        spec = None
    finally:  # no finder of the folders looked at stays (the program's own lookups make them)
        for key in set(sys.path_importer_cache) - set(cache):
            del sys.path_importer_cache[key]
    if spec is None:
        return None
    if spec.origin and spec.has_location:
        return spec.origin
    locations = list(spec.submodule_search_locations or ())
    return locations[0] if locations else None


def command_line(args: list[str]) -> None:
    """``python -m stratum [--explain] [--no-cache] s.py args`` (or ``-m module args``, ``-c
    code args``): hand the run to a server before the command line module (and its settings)
    is even imported; return to run it here."""
    opts = {"explain": False, "no_cache": False}
    i = 0
    while i < len(args) and args[i] in ("--explain", "--no-cache"):
        opts[args[i][2:].replace("-", "_")] = True
        i += 1
    if i >= len(args) or _off("STRATUM_DISABLE"):
        return
    if args[i] in ("-m", "-c") and i + 1 < len(args):
        target = ["module" if args[i] == "-m" else "command", args[i + 1]]
        run_here(target, args[i + 2:], opts, path0=False)
    elif args[i].endswith(".py"):
        run_here(["script", args[i]], args[i + 1:], opts, path0=False)


def _off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")
