"""Run a script (or ``-m module``) as ``__main__`` exactly as ``python`` would.

Same ``sys.argv``, ``__file__``, ``__spec__``, ``__loader__``, ``sys.path[0]``, same error
messages and exit codes, tracebacks without stratum frames, ``SystemExit`` and
``KeyboardInterrupt`` handled as the interpreter handles them. The only difference is that
the code object is rewritten by the interposer when stratum is active.
"""
from __future__ import annotations

import importlib.machinery
import os
import runpy
import sys
import types

from interposer import tbfilter


class ScriptExit(Exception):
    """How the script ended when it did not raise SystemExit: the process exit code."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _program() -> str:
    orig = getattr(sys, "orig_argv", None)
    return orig[0] if orig else sys.executable


def _fresh_main(**attrs) -> types.ModuleType:
    module = types.ModuleType("__main__")
    d = module.__dict__
    # Same keys in the same order as CPython's own __main__ for a script.
    d.clear()
    d.update(__name__="__main__", __doc__=None, __package__=None, __loader__=None,
             __spec__=None, __annotations__={}, __builtins__=sys.modules["builtins"],
             __file__=None, __cached__=None)
    d.update(attrs)
    return module


def load_script(path: str):
    """(absolute path, source bytes) or ScriptExit(2) with CPython's message."""
    abspath = os.path.abspath(path)
    try:
        with open(abspath, "rb") as fh:
            return abspath, fh.read()
    except OSError as exc:
        sys.stderr.write(f"{_program()}: can't open file {abspath!r}: [Errno {exc.errno}] "
                         f"{exc.strerror}\n")
        sys.stderr.flush()
        raise ScriptExit(2) from None


def run_script(path: str, args: list[str], transform=None, source: bytes | None = None) -> None:
    """Execute ``path`` as ``__main__``. Raises SystemExit / ScriptExit with the exit code.
    With ``source``, that code runs as if it were the file ``path`` (which need not exist)."""
    if source is None:
        abspath, source = load_script(path)
    else:
        abspath = os.path.abspath(path)
        import linecache
        from importlib.util import decode_source

        try:  # tracebacks show its lines as if the file existed (mtime None: never re-read)
            lines = decode_source(source).splitlines(True)
            linecache.cache[abspath] = (len(source), None, lines, abspath)
            _code_files.add(abspath)
        except (SyntaxError, UnicodeDecodeError, LookupError):
            pass
    sys.argv[:] = [path, *args]
    if not sys.flags.safe_path:
        # ``python -m stratum`` put the current folder first; ``python script.py`` puts the
        # script's. With -P neither adds a folder, and sys.path[0] is a PYTHONPATH entry.
        sys.path[0:1] = [os.path.dirname(os.path.realpath(abspath))]
    loader = importlib.machinery.SourceFileLoader("__main__", abspath)
    module = _fresh_main(__loader__=loader, __file__=abspath)
    sys.modules["__main__"] = module
    try:
        code = compile(source, abspath, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        _report(exc)
        raise ScriptExit(1) from None
    _execute(transform(code) if transform else code, module.__dict__)


def run_command(source: str, args: list[str], transform=None) -> None:
    """``python -c source``: ``sys.argv[0]`` is ``-c``, ``sys.path[0]`` is ``''``, code named
    ``<string>``, ``__main__`` as python makes it for a command (no ``__file__``)."""
    sys.argv[:] = ["-c", *args]
    if not sys.flags.safe_path:
        sys.path[0:1] = [""]  # ``python -m stratum`` put the current folder's path first
    module = _fresh_main(__loader__=importlib.machinery.BuiltinImporter)
    for key in ("__file__", "__cached__"):
        del module.__dict__[key]
    sys.modules["__main__"] = module
    try:
        code = compile(source, "<string>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        _report(exc)
        raise ScriptExit(1) from None
    _execute(transform(code) if transform else code, module.__dict__)


def run_module(name: str, args: list[str], transform=None) -> None:
    """``python -m name``: as runpy does it, with the code object rewritten."""
    try:
        _name, spec, code = runpy._get_module_details(name, runpy._Error)  # as python -m does
    except runpy._Error as exc:
        sys.stderr.write(f"{sys.executable}: {exc}\n")
        raise ScriptExit(1) from None
    except BaseException as exc:  # noqa: BLE001 - an error while importing the package
        _report(exc)
        raise ScriptExit(1) from None
    sys.argv[:] = [spec.origin or name, *args]
    module = _fresh_main(__file__=spec.origin, __cached__=spec.cached, __loader__=spec.loader,
                         __package__=spec.parent, __spec__=spec)
    sys.modules["__main__"] = module
    _execute(transform(code) if transform else code, module.__dict__, (name, spec))


def _as_runpy(name, spec, code):
    """Run ``code`` through runpy's own ``_run_module_as_main``, so that the stack (and any
    traceback) has the two ``<frozen runpy>`` frames ``python -m`` shows above the module's.
    Its lookup of the module is answered with what ``run_module`` already found (the code
    object rewritten), once."""
    real = runpy._get_module_details

    def found(mod_name, error=ImportError):
        runpy._get_module_details = real
        return name, spec, code

    runpy._get_module_details = found
    try:
        runpy._run_module_as_main(name, alter_argv=False)
    finally:
        runpy._get_module_details = real


def _execute(code, namespace, module=None) -> None:
    try:
        if module is None:
            exec(code, namespace)
        else:
            _as_runpy(*module, code)
    except SystemExit:
        raise
    except KeyboardInterrupt as exc:
        import signal  # here: a run that is not interrupted does not import it (~0.5 ms)

        flush_io()
        _report(exc)
        raise ScriptExit(-signal.SIGINT) from None
    except BaseException as exc:  # noqa: BLE001 - the script's own error, reported as python does
        flush_io()
        _report(exc)
        raise ScriptExit(1) from None


def flush_io() -> None:
    """What python does once the main module's code returned or raised, before it reports the
    error: flush ``sys.stderr`` and ``sys.stdout`` (printing the traceback also flushes C's
    stdio, so without this, bytes a library wrote through C would come before the script's)."""
    for stream in (sys.stderr, sys.stdout):
        try:
            stream.flush()
        except Exception:
            pass


#: Files run from a code string (not on disk): their lines are in ``linecache`` only.
_code_files: set[str] = set()


def _report(exc: BaseException) -> None:
    tbfilter.strip(exc)
    sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, exc.__traceback__
    try:
        if _code_files and sys.excepthook is sys.__excepthook__:
            # python's own printer reads source lines from the disk, where a code string is
            # not: the traceback module prints the same text and reads them from linecache
            import traceback

            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
            sys.stderr.flush()
            return
        sys.excepthook(type(exc), exc, exc.__traceback__)
    except Exception:
        sys.__excepthook__(type(exc), exc, exc.__traceback__)


def die_by_sigint() -> None:
    """An uncaught KeyboardInterrupt ends the interpreter by SIGINT (exit status 130)."""
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def run(target, args, opts, after=None) -> None:
    """Run ``target`` (("script", path), ("module", name), ("command", source): ``python -c``,
    or ("code", filename, source): a harness's string run as a file) as ``__main__`` under
    stratum and exit as python would: ``python -m stratum``, a batch worker, a dry run, a
    server's run. ``opts``: ``{"explain": bool, "no_cache": bool}``. ``after(session)`` is called
    once the trace is recorded (a batch worker reports its run id)."""
    settings = settings_for(opts)
    kind, name = target[0], target[1]
    started: list = []

    def transform(code):
        """Called once the script compiled: activate stratum and rewrite its code."""
        from stratum.session.activation import activate

        session = activate(settings)
        if session is None:
            return code
        from interposer.rewrite import rewrite

        session.script = os.path.abspath(name) if kind in ("script", "code") else \
            "-c" if kind == "command" else name
        session.argv = list(args)
        started.append(session)
        code = rewrite(code)
        from stratum.session.activation import settle

        settle()
        return code

    code: object = 0
    try:
        if kind == "script":
            run_script(name, args, transform)
        elif kind == "code":  # ("code", file name for tracebacks, source): a harness's string
            source = target[2]
            run_script(name, args, transform,
                       source.encode() if isinstance(source, str) else source)
        elif kind == "command":  # ("command", source): python -c source
            run_command(name, args, transform)
        else:
            run_module(name, args, transform)
    except SystemExit as exc:
        if started:
            started[0].finish(exit_status(exc.code))
            if after is not None:
                after(started[0])
        raise
    except ScriptExit as exc:
        code = exc.code
    if started:
        started[0].finish(exit_status(code))
        if after is not None:
            after(started[0])
    if code == -2:  # KeyboardInterrupt
        die_by_sigint()
    if code == 0:
        return  # no SystemExit: its handler flushes libc's stdout before python's, unlike a
        # script that simply ends (bytes a library wrote through C stdio would come first)
    for stream in (sys.stdout, sys.stderr):  # python's buffers first, as python's own exit
        try:
            stream.flush()
        except Exception:
            pass
    sys.exit(code)


def settings_for(opts):
    """The session's settings: the environment's, with ``--explain`` / ``--no-cache``."""
    from stratum.config import Settings

    env = Settings.from_env()
    return Settings(**{**env.__dict__, "explain": env.explain or opts["explain"],
                       "cache_enabled": env.cache_enabled and not opts["no_cache"]})


def exit_status(code) -> int:
    """The exit status ``sys.exit(code)`` gives."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1
