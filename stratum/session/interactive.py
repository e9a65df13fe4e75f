"""stratum in a long-lived interpreter: ``stratum.activate()`` / ``stratum.deactivate()`` in a
REPL, a notebook or a worker process, and ``%load_ext stratum`` in IPython / Jupyter.

There is no script to compile ahead of time. Code compiled from now on is rewritten where it
is compiled (IPython cells through IPython's own compiler object); everything else - functions
defined before activation, ``exec`` of strings, modules imported before - is caught by the
PEP 523 entry trap the first time it runs, which stays installed while stratum is active
because new user code can appear at any moment. The session's trace is recorded when stratum
is deactivated or the interpreter exits.
"""
from __future__ import annotations

import atexit
import sys
import types

from stratum.config import warn

_state: dict = {"session": None, "ipython": None, "compiler_class": None}


def activate(script: str = "<interactive>"):
    """Turn stratum on in this interpreter; returns the session (None if it cannot run)."""
    if _state["session"] is not None:
        return _state["session"]
    from interposer import trap
    from stratum.session.activation import activate as _activate
    from stratum.session.activation import current
    from stratum.session.activation import deactivate as _deactivate

    if current() is not None:
        return current()  # already on (STRATUM=1, or python -m stratum)
    if not trap.available():
        warn(f"entry trap unavailable ({trap.unavailable_reason()}); stratum stays off")
        return None
    session = _activate()
    if session is None:
        return None
    session.script = script
    session.argv = list(sys.argv[1:])
    try:
        trap.install(_on_code)
    except RuntimeError as exc:
        warn(f"{exc}; stratum stays off")
        _deactivate()
        return None
    _state["session"] = session
    _rewrite_namespace(sys.modules.get("__main__"))
    atexit.register(_finish_at_exit)
    return session


def _rewrite_namespace(module) -> None:
    """Rewrite, in place, the functions and methods the interactive namespace already defines.

    Their code may come from ``<stdin>`` or ``<string>``, which the trap cannot tell apart from
    code a library generates with ``exec``; being defined in ``__main__`` says they are the
    user's. (Functions defined in files are left to the trap.)
    """
    from interposer.rewrite import is_rewritten, rewrite

    namespace = getattr(module, "__dict__", None) or {}
    for value in list(namespace.values()):
        members = [value]
        if isinstance(value, type) and value.__module__ == "__main__":
            members = list(vars(value).values())
        for member in members:
            func = getattr(member, "__func__", member)  # staticmethod / classmethod
            if not isinstance(func, types.FunctionType) or func.__module__ != "__main__":
                continue
            code = func.__code__
            if code.co_filename.startswith("<") and not is_rewritten(code):
                try:
                    func.__code__ = rewrite(code)
                except (ValueError, TypeError):  # a layout the rewrite cannot keep: left as is
                    pass


def deactivate() -> None:
    """Turn stratum off and record the session's trace. Code already rewritten keeps running
    correctly (its dispatch calls become pass-throughs)."""
    session = _state["session"]
    if session is None:
        return
    from interposer import trap
    from stratum.session.activation import deactivate as _deactivate

    _state["session"] = None
    try:
        trap.uninstall()
    except RuntimeError as exc:
        warn(str(exc))
    session.finish(0)
    _deactivate()


def _finish_at_exit() -> None:
    session = _state["session"]
    if session is not None:
        _state["session"] = None
        session.finish(0)


def _on_code(code):
    """The trap's question for each code object run for the first time: rewrite user code."""
    from interposer import frames, rewrite, userfiles

    if (rewrite.is_rewritten(code) or code.co_qualname == frames.TRAMPOLINE
            or not userfiles.is_user_file(code.co_filename)):
        return None  # library code, or stratum's own call frames that carry a user's line
    if code.co_filename == "<string>" and not _from_user_code():
        return None  # e.g. a namedtuple's or dataclass's generated methods
    return rewrite.rewrite(code)


def _from_user_code() -> bool:
    """Is the frame evaluating this ``exec``'d string the user's own (rewritten) code?"""
    from interposer import rewrite, trap

    frame = sys._getframe(2)
    skip = (__file__, trap.__file__)
    while frame is not None and frame.f_code.co_filename in skip:
        frame = frame.f_back
    return frame is not None and rewrite.is_rewritten(frame.f_code)


# ---- IPython / Jupyter ----------------------------------------------------------------------
def load_ipython_extension(ip) -> None:
    """``%load_ext stratum``: cells are rewritten by IPython's compiler from now on."""
    if activate("<ipython>") is None:
        return
    compiler = ip.compile
    base = type(compiler)
    _state["ipython"] = ip
    _state["compiler_class"] = base

    import types

    from interposer.rewrite import rewrite

    def __call__(self, source, filename, symbol, **kwargs):
        code = base.__call__(self, source, filename, symbol, **kwargs)
        return rewrite(code) if isinstance(code, types.CodeType) else code

    # The shell keeps its compiler object (its cache, flags and cell names); only the class
    # changes, to one whose compilation also rewrites.
    compiler.__class__ = type(f"Stratum{base.__name__}", (base,), {"__call__": __call__})
    _strip_tracebacks(ip)


def _strip_tracebacks(ip) -> None:
    """IPython formats tracebacks itself (not through ``traceback``): unlink stratum's frames
    from an exception before its formatter walks them."""
    from interposer import tbfilter

    formatter = ip.InteractiveTB
    real = formatter.structured_traceback

    def structured_traceback(etype, evalue, *args, **kwargs):
        if isinstance(evalue, BaseException):
            tbfilter.strip(evalue)
        return real(etype, evalue, *args, **kwargs)

    formatter.structured_traceback = structured_traceback
    _state["formatter"] = (formatter, real)


def unload_ipython_extension(ip) -> None:
    """``%unload_ext stratum``."""
    base = _state["compiler_class"]
    if base is not None and _state["ipython"] is ip:
        ip.compile.__class__ = base
    formatter = _state.pop("formatter", None)
    if formatter is not None:
        formatter[0].structured_traceback = formatter[1]
    _state["ipython"] = _state["compiler_class"] = None
    deactivate()
