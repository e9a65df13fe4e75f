"""Python side of the PEP 523 entry trap (C in ``_trap.c``, compiled into ``stratum._native``).

The trap calls :func:`_on_code` once for every code object it has not seen yet (while that call
runs, the calling thread's frames are not trapped). The callback installed with :func:`install`
answers with a replacement code object (same argument layout, same free variables) or None; the
answer is remembered on the code object, so each code object is asked about once per process.

The hook is process-global and costs time on every Python call while installed (calls that
CPython 3.11 would otherwise inline go through it): install it only while untrapped user code can
still appear, and :func:`uninstall` it afterwards.
"""
from __future__ import annotations

import atexit
import sys
import types

# No ``typing`` import: every ``STRATUM=1`` python process loads this module (annotations are
# strings). OnCode: a callable(types.CodeType) -> types.CodeType | None.

_STAT_NAMES = ("frames", "callbacks", "swaps")


def _load() -> tuple[object, str | None]:
    try:
        import stratum._native as native
    except ImportError as exc:
        return None, f"stratum._native is not importable: {exc}"
    module = sys.modules.get("stratum._trap") or getattr(native, "_trap", None)
    if module is None:
        try:
            reason = native.build_info().get("trap_error")
        except Exception as exc:  # pragma: no cover - defensive
            reason = repr(exc)
        return None, reason or "the trap is not compiled into stratum._native"
    return module.lib, None


_lib, _reason = _load()
_callback = None  # OnCode
_atexit_registered = False


def available() -> bool:
    """True if the C trap is compiled in and loaded."""
    return _lib is not None


def unavailable_reason() -> str | None:
    """Why :func:`available` is False (None when it is True)."""
    return _reason


def _on_code(code: types.CodeType) -> types.CodeType | None:
    """Called by the C hook for each unseen code object; exceptions are swallowed there."""
    callback = _callback
    if callback is None:
        return None
    return callback(code)


def install(on_code: OnCode) -> None:
    """Install the trap with ``on_code`` as the callback (replaces an earlier callback)."""
    global _callback, _atexit_registered
    if _lib is None:
        raise RuntimeError(f"the PEP 523 trap is unavailable: {_reason}")
    if not callable(on_code):
        raise TypeError("on_code must be callable")
    _callback = on_code
    if _lib.stratum_trap_install() != 0:
        raise RuntimeError("could not install the PEP 523 trap (not the main interpreter?)")
    if not _atexit_registered:
        atexit.register(_uninstall_quietly)
        _atexit_registered = True


def uninstall() -> None:
    """Remove the trap; a no-op when it is not installed.

    RuntimeError if another frame-evaluation hook was installed on top of it: the trap then stays
    in that hook's chain but passes every frame through.
    """
    global _callback
    if _lib is None:
        return
    rc = _lib.stratum_trap_uninstall()
    _callback = None
    if rc != 0:
        raise RuntimeError("another frame-evaluation hook was installed on top of the trap")


def _uninstall_quietly() -> None:
    try:
        uninstall()
    except Exception:
        pass


def installed() -> bool:
    return bool(_lib is not None and _lib.stratum_trap_installed())


def stats() -> dict[str, int]:
    """Counters since process start: frames that entered the hook, callback calls, swaps."""
    if _lib is None:
        return {name: 0 for name in _STAT_NAMES}
    return {name: int(_lib.stratum_trap_stats(i)) for i, name in enumerate(_STAT_NAMES)}
