"""``STRATUM=1 python ...``: stratum started by the ``stratum.pth`` hook at interpreter start-up.

The command line is python's own, so stratum cannot compile the program itself as
``python -m stratum`` does. Instead the PEP 523 entry trap (``interposer.trap``) is installed
here and asked about every code object evaluated from now on; the first evaluation of the main
program (the script, ``-c`` code, a ``-m`` module run as ``__main__``) is swapped for its
rewritten code, which from then on behaves exactly like a ``python -m stratum`` run. User
modules imported later are rewritten by the import hook and functions are created from
rewritten code, so the trap is uninstalled right there and the rest of the run pays nothing
for it. Interactive sessions (``python`` with no program, ``-i``) keep it installed: every
statement is new code.

Every python process of the environment pays for this hook, so until the main program shows
it needs stratum only the trap is loaded: a main program that imports a module outside the
standard library turns stratum on before it runs; any other process (``python -c pass``, a
stdlib-only script, a tool such as ``pip``, a joblib / multiprocessing worker) turns it on only
when it first imports a traced library, before that library's code runs (bench/startup.py).

Child processes inherit ``STRATUM=1`` through the environment and start stratum the same
way; a process whose main program is not user code (a joblib / multiprocessing worker, a
tool) still has its library calls traced and reused and records a run only if it traced any.
``STRATUM_DISABLE=1`` wins over everything. Any failure here leaves python running plain,
with one ``stratum:`` line on stderr.
"""
from __future__ import annotations

import atexit
import os
import sys

_state = {"session": None, "main_seen": False, "user_main": False, "exit": 0,
          "interactive": False, "argv": []}


def start() -> None:
    # Every python process of the environment comes through here: import as little as
    # possible until the main program shows it needs stratum (see ``_on_code``).
    if _flag("STRATUM_DISABLE"):
        return
    if sys.version_info[:2] != (3, 11):
        _warn(f"Python {sys.version_info[0]}.{sys.version_info[1]} is not supported yet; "
              "STRATUM=1 runs without stratum")
        return
    from stratum.session import handoff

    handoff.script_at_startup()  # a running server takes the run: this never returns then
    try:
        from interposer import trap
    except ImportError as exc:
        import stratum

        _warn(f"native module unavailable ({stratum.checkout_problem() or exc}); "
              "running without stratum")
        return
    if not trap.available():
        _warn(f"entry trap unavailable ({trap.unavailable_reason()}); running without stratum")
        return
    _state["argv"] = list(sys.argv)  # as python set it before the program (runpy edits it)
    argv0 = sys.argv[0] if sys.argv else ""
    _state["interactive"] = argv0 in ("", "-") or bool(sys.flags.inspect or sys.flags.interactive)
    if _state["interactive"] and _activate() is None:
        return  # every statement is new code: stratum is on from the start
    try:
        trap.install(_on_code)
    except RuntimeError as exc:
        _warn(f"{exc}; running without stratum")
        if _state["session"] is not None:
            from stratum.session.activation import deactivate

            deactivate()
            _state["session"] = None


def _flag(name: str) -> bool:
    """An on/off variable, read as ``stratum.config`` reads them (without importing it)."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _warn(message: str) -> None:
    from stratum.config import warn

    warn(message)


def _activate():
    """Turn stratum on for the rest of this process: the session (None if it cannot run)."""
    from stratum.config import Settings
    from stratum.session.activation import activate

    session = activate(Settings.from_env())
    if session is None:
        return None
    _state["session"] = session
    if "main_file" in _state:  # started by an import, after a main program judged stdlib-only
        _is_user_main(_state.pop("main_file"))
    if _state["main_seen"] and not _state["user_main"]:
        _library_worker()
    argv = _state["argv"]
    argv0 = argv[0] if argv else ""
    session.argv = argv[1:]
    if argv0 not in ("-c", "-m", "", "-") and (_state["user_main"] or not _state["main_seen"]):
        session.script = os.path.abspath(argv0)
    _finish_before_shutdown()
    atexit.register(_finish)  # in case another component replaced threading._shutdown
    return session


class _ActivateOnImport:
    """A ``sys.meta_path`` finder that turns stratum on when a traced library is first imported,
    before the library's code runs (so the import-time patches and ``warnings`` hooks are in
    place as in a process started with stratum on), then steps aside."""

    def __init__(self, roots):
        self.roots = frozenset(roots)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in self.roots:
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        try:
            _activate()
        except Exception as exc:  # never break the import: the library runs plain
            _warn(f"could not start ({type(exc).__name__}: {exc}); running without stratum")
        for finder in list(sys.meta_path):  # stratum's own finders included now
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                return spec
        return None


def _activate_on_import() -> None:
    from interposer.libraries import TRACED_LIBRARIES

    sys.meta_path.insert(0, _ActivateOnImport(TRACED_LIBRARIES))


def _library_worker() -> None:
    """A process that runs no program of the user's (a joblib / multiprocessing worker, a
    tool): its library calls are work of its parent's operation, under that one's CPU tokens."""
    from stratum.cpu import budget

    budget.exempt()


def _is_user_main(filename: str) -> bool:
    from interposer import userfiles

    user = userfiles.is_user_file(filename) and not _is_worker_bootstrap()
    _state["user_main"] = user
    return user


def _imports_beyond_stdlib(code) -> bool:
    """Does ``code`` (or a function or class in it) import a module outside the standard
    library? Only then can its own calls reach a traced library; any other program (``python -c
    pass``, a stdlib-only script) starts stratum only if it imports a traced library later."""
    import_name, extended = 108, 144  # CPython 3.11's IMPORT_NAME, EXTENDED_ARG (``opcode``)
    stdlib = sys.stdlib_module_names
    todo = [code]
    while todo:
        c = todo.pop()
        raw, arg = c.co_code, 0
        for i in range(0, len(raw), 2):
            op = raw[i]
            if op == extended:
                arg = (arg | raw[i + 1]) << 8
                continue
            if op == import_name:
                name = c.co_names[arg | raw[i + 1]]
                if name.partition(".")[0] not in stdlib:
                    return True
            arg = 0
        todo.extend(k for k in c.co_consts if hasattr(k, "co_code"))
    return False


def _on_code(code):
    """The trap's question for each new code object: its rewritten form, or None."""
    from interposer import frames, trap

    if code.co_name != "<module>" or code.co_qualname == frames.TRAMPOLINE:
        return None
    caller = _caller()
    if caller is not None and not _runs_main(caller):
        return None  # a module imported or exec'd by someone; the import hook handles users'
    if not _state["interactive"] and not _flag("STRATUM_KEEP_TRAP"):
        trap.uninstall()  # the main program is known: nothing untrapped can appear any more
    _state["main_seen"] = True
    session = _state["session"]
    if session is None and not _imports_beyond_stdlib(code):
        # A program that imports nothing but the standard library (``python -c pass``): stratum
        # starts only if a traced library is imported after all.
        _state["main_file"] = code.co_filename
        _activate_on_import()
        return None
    user = _is_user_main(code.co_filename)
    if session is None:
        if not user:
            # A tool (``python -m pip``) or a library's worker: the same.
            _activate_on_import()
            return None
        session = _activate()
        if session is None:
            return None
    if not user:
        session.script = None
        _library_worker()
        return None  # e.g. ``python -m some_tool`` or a library worker process
    from interposer import mainguard, rewrite

    if session.script is None and caller is not None:
        session.script = _main_module_name(caller)
    # ``-m module`` code comes through the import hook, already rewritten
    rewritten = code if rewrite.is_rewritten(code) else rewrite.rewrite(code)
    guarded = mainguard.guard(rewritten, _main_exception)
    if not _state["interactive"]:
        from stratum.session.activation import settle

        settle()
    return guarded


def _is_worker_bootstrap() -> bool:
    """``python -c "from multiprocessing... import ...; main(...)"``: a library's worker."""
    argv = getattr(sys, "orig_argv", [])
    if "-c" not in argv[:-1]:
        return False
    program = argv[argv.index("-c") + 1]
    return program.lstrip().startswith(("from multiprocessing", "import multiprocessing",
                                         "from joblib", "from loky"))


def _caller():
    """The Python frame that is evaluating the new code (None: C code, i.e. the interpreter's
    main program), skipping the frames of this callback."""
    from interposer import trap

    frame = sys._getframe(1)
    skip = (__file__, trap.__file__)
    while frame is not None and frame.f_code.co_filename in skip:
        frame = frame.f_back
    return frame


def _runs_main(frame) -> bool:
    """Is ``frame`` runpy executing a module as ``__main__`` (``python -m module``)?"""
    code = frame.f_code
    if code.co_name != "_run_code" or not (code.co_filename == "<frozen runpy>"
                                           or code.co_filename.endswith("runpy.py")):
        return False
    run_globals = frame.f_locals.get("run_globals")
    return isinstance(run_globals, dict) and run_globals.get("__name__") == "__main__"


def _main_module_name(frame) -> str:
    spec = frame.f_locals.get("mod_spec")
    return getattr(spec, "name", None) or frame.f_locals.get("run_globals", {}).get("__file__")


def _main_exception(exc) -> None:
    """Called (by ``interposer.mainguard``) with the exception ending the main program."""
    try:
        if _state["interactive"]:
            pass  # one statement failed; the session goes on
        elif isinstance(exc, SystemExit):
            from stratum.session.runner import exit_status

            _state["exit"] = exit_status(exc.code)
        elif isinstance(exc, KeyboardInterrupt):
            _state["exit"] = -2
        else:
            _state["exit"] = 1
        from interposer import tbfilter

        tbfilter.strip(exc)  # python prints it in C, not through ``traceback``
    except Exception:
        pass


def _finish_before_shutdown() -> None:
    """Close the run when the main program is over, before atexit handlers run (as
    ``python -m stratum`` does): python calls ``threading._shutdown`` first thing at exit."""
    import threading

    real_shutdown = threading._shutdown

    def _shutdown():
        threading._shutdown = real_shutdown
        _finish()
        return real_shutdown()

    threading._shutdown = _shutdown


def _finish() -> None:
    session = _state["session"]
    if session is None or not _state["main_seen"]:
        return  # nothing ran (e.g. the script did not compile)
    _state["session"] = None
    from stratum.session.activation import current

    if current() is not session:
        return  # deactivated in between (stratum.deactivate())
    engine = session.engine
    if session.script is None:
        if not _state["user_main"] or engine is None or not engine.nodes:
            # A tool or a library's worker process (joblib, multiprocessing): what it computed
            # is cached for reuse, but it is not a run of the user's.
            return
        session.script = " ".join(sys.orig_argv[1:3]) or "<interactive>"
    session.finish(_state["exit"])


try:
    start()
except Exception as _exc:  # never break the interpreter's start-up
    try:
        sys.__stderr__.write(f"stratum: could not start ({type(_exc).__name__}: {_exc}); "
                             "running without stratum\n")
    except Exception:
        pass
