"""Keep stratum's own frames out of every traceback a script can see or print.

Intercepted calls pass through a few stratum frames; an exception raised by the library
would show them. Tracebacks printed by the runner are stripped at the object level, and the
``traceback`` module (``print_exc``, ``format_exc``, ``logging.exception`` ...) skips them.

A walk skips stratum frames after its first entry, never the entry it starts at: a tool that
asks about one traceback entry (pytest formats each with ``extract_tb(entry, limit=1)``) gets
that entry, not an empty list. pytest builds its own tracebacks from the raw entries; the
modules on the call path (``interposer.dispatch``, ``stratum.engine.engine``, ``stratum.session.activation``)
set ``__tracebackhide__`` and so does the trampoline's frame, so pytest drops them as it drops
its own.
"""
from __future__ import annotations

import traceback

from interposer.frames import hidden

_orig_walk_tb = traceback.walk_tb
_orig_walk_full = getattr(traceback, "_walk_tb_with_full_positions", None)


def _walk_tb(tb):
    first = True
    for frame, lineno in _orig_walk_tb(tb):
        if first or not hidden(frame):
            yield frame, lineno
        first = False


def _walk_full(tb):
    first = True
    for frame, positions in _orig_walk_full(tb):
        if first or not hidden(frame):
            yield frame, positions
        first = False


def install() -> None:
    traceback.walk_tb = _walk_tb
    if _orig_walk_full is not None:
        traceback._walk_tb_with_full_positions = _walk_full


def uninstall() -> None:
    traceback.walk_tb = _orig_walk_tb
    if _orig_walk_full is not None:
        traceback._walk_tb_with_full_positions = _orig_walk_full


def strip(exc: BaseException, _seen=None) -> None:
    """Unlink stratum frames from ``exc``'s traceback and from its cause / context chain."""
    seen = _seen if _seen is not None else set()
    if exc is None or id(exc) in seen:
        return
    seen.add(id(exc))
    tb = exc.__traceback__
    kept = []
    while tb is not None:
        if not hidden(tb.tb_frame):
            kept.append(tb)
        tb = tb.tb_next
    for a, b in zip(kept, kept[1:] + [None]):
        a.tb_next = b
    exc.__traceback__ = kept[0] if kept else None
    strip(exc.__cause__, seen)
    strip(exc.__context__, seen)
    for sub in getattr(exc, "exceptions", ()) or ():
        strip(sub, seen)
