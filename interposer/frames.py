"""Frames that stand in for the user's call site while a library operation runs.

Warnings and tracebacks locate "the caller" by walking frames: numpy's C warnings use the
current frame, pandas walks up to the first frame outside pandas, scikit-learn counts
``stacklevel``. Between the user's line and the library there are stratum frames, so the
engine calls the library through a trampoline whose code carries the user's file name and
line number and whose globals are the user's: every such walk lands where it would without
stratum. ``warnings.warn`` is wrapped so explicit ``stacklevel`` counts skip stratum frames,
and tracebacks drop them (``tbfilter``).
"""
from __future__ import annotations

import os
import sys
import types
import warnings

TRAMPOLINE = "__stratum_trampoline__"
_HERE = os.path.dirname(os.path.abspath(__file__))
OUR_DIRS = (_HERE + os.sep, os.path.join(os.path.dirname(_HERE), "stratum") + os.sep)

# ``__tracebackhide__``: pytest drops the frame from the tracebacks it shows (see tbfilter)
_TEMPLATE = compile("def _t(fn, args, kwargs, __tracebackhide__=True): return fn(*args, **kwargs)",
                    "<stratum>", "exec")
_TEMPLATE = next(c for c in _TEMPLATE.co_consts if isinstance(c, types.CodeType))
_trampolines: dict = {}


def is_ours(frame) -> bool:
    code = frame.f_code
    return code.co_qualname == TRAMPOLINE or code.co_filename.startswith(OUR_DIRS)


#: ``co_qualname`` of a wrapper stratum puts inside a library (``stratum.keys.libsettings``
#: counts pandas' option changes by wrapping ``_set_option_impl``). Its code claims the
#: library's file, so the library's own walk to the first frame outside the library (pandas'
#: ``find_stack_level``) passes it as it passes the function it wraps, and ``warnings.warn``
#: counts it as that walk did: the warning lands on the script's line, as without it.
#: Tracebacks still drop it (``hidden``).
INSIDE = "__stratum_inside__"


def hidden(frame) -> bool:
    """Is ``frame`` stratum's, to be left out of the tracebacks a script sees (``tbfilter``)?"""
    code = frame.f_code
    return is_ours(frame) or code.co_qualname == INSIDE


def inside(fn, filename: str):
    """``fn``, its code claiming ``filename`` (the wrapped library module's) as its file."""
    fn.__code__ = fn.__code__.replace(co_filename=filename, co_qualname=INSIDE)
    return fn


_lines: dict = {}  # (id(code), instruction offset) -> (code, line, "file:line")


def _line_entry(frame) -> tuple:
    code = frame.f_code
    key = (id(code), frame.f_lasti)
    hit = _lines.get(key)
    if hit is not None and hit[0] is code:
        return hit
    line = frame.f_lineno
    if len(_lines) > 100_000:
        _lines.clear()
    # The entry holds the code, so the id cannot be reused while the entry exists.
    hit = _lines[key] = (code, line, f"{code.co_filename}:{line}")
    return hit


def line_of(frame) -> int | None:
    """``frame.f_lineno`` of a running frame, kept per call instruction: ``f_lineno`` scans the
    code's line table from its start (microseconds at the end of a long script, at every
    traced operation), and the line of an instruction offset in a code object never changes.
    (Outside a trace function's call for the frame, ``f_lineno`` is exactly that line: CPython
    sets it only for the duration of such a call.) A frame being traced is asked directly."""
    if frame.f_trace is not None:
        return frame.f_lineno
    return _line_entry(frame)[1]


def call_site(frame) -> str:
    """``"file:line"`` of a running frame (``line_of``), the same string object each time."""
    if frame.f_trace is not None:
        return f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return _line_entry(frame)[2]


def trampoline(frame):
    """A function ``(fn, args, kwargs) -> fn(*args, **kwargs)`` that looks like ``frame``'s line."""
    code = frame.f_code
    line = line_of(frame) or code.co_firstlineno
    # By the code's id: hashing a code object hashes its content, nested code included
    # (microseconds per kilobyte of script, at every call). The entry holds the code, so
    # the id cannot be reused while the entry exists.
    key = (id(code), line)
    hit = _trampolines.get(key)
    if hit is None:
        tcode = _TEMPLATE.replace(co_filename=code.co_filename, co_firstlineno=line,
                                  co_name=code.co_name, co_qualname=TRAMPOLINE)
        hit = _trampolines[key] = (code, types.FunctionType(tcode, frame.f_globals, None,
                                                             (True,)))
    return hit[1]


_orig_warn = warnings.warn


def _warn(message, category=None, stacklevel=1, source=None):
    """``warnings.warn`` whose ``stacklevel`` does not count stratum's frames."""
    frame = sys._getframe(1)
    raw, counted = 1, 1
    while frame is not None and counted < stacklevel:
        frame = frame.f_back
        raw += 1
        if frame is not None and not is_ours(frame):
            counted += 1
    while frame is not None and is_ours(frame):
        frame = frame.f_back
        raw += 1
    return _orig_warn(message, category, raw + 1, source)


# ---- warnings shown while an operation runs: stored with its result, replayed on reuse -------
_orig_show = warnings._showwarnmsg
_orig_filters_mutated = warnings._filters_mutated
_captures: list[list] = []
# For each open capture, how warnings were shown when it opened: a warning that meets a
# ``catch_warnings(record=True)`` entered since (inside the operation) is the operation's own
# business, not shown to the script, so it is not replayed.
_shown_by: list = []

#: In a stored list of warnings, an entry meaning "the warning filters changed here" (library
#: code running ``catch_warnings`` / ``simplefilter``: scikit-learn does in every ``fit``). Each
#: change resets the "once per location" registries, so a reused call must make it too, or a
#: warning the real call would show again is swallowed as already shown.
FILTERS_MUTATED = ("", Warning, "<stratum filters mutated>", 0)


_showing = [0]  # > 0 while a warning is being shown (its text is not recorded twice)


def showing_warning() -> bool:
    return _showing[0] > 0


def _showwarnmsg(msg):
    # Every open capture gets it: an operation nested in another (a fold inside
    # ``cross_val_score``) shows its warnings as part of the outer operation too, which
    # replays them when it is reused as a whole.
    entry = (str(msg.message), msg.category, msg.filename, msg.lineno)
    impl = warnings._showwarnmsg_impl
    recorded_inside = type(getattr(impl, "__self__", None)) is list
    for shown, impl0 in zip(_captures, _shown_by):
        if impl is impl0 or not recorded_inside:
            shown.append(entry)
    _showing[0] += 1
    try:
        return _orig_show(msg)
    finally:
        _showing[0] -= 1


def _filters_mutated():
    for shown in _captures:
        if not shown or shown[-1] is not FILTERS_MUTATED:
            shown.append(FILTERS_MUTATED)
    return _orig_filters_mutated()


def filters_state() -> str | None:
    """The warning filters in force: what a call shows depends on them (``ignore`` hides,
    ``error`` raises), so a call recorded under other filters is not replayed. Patterns are
    compared by their text: library code re-adding a default filter turns its plain-text
    module into the equivalent compiled pattern. None when every warning is shown (an
    ``always`` filter for every warning first): what was shown then is everything the call
    warned, which replays right under any filters."""
    def text(p):
        return p.pattern if hasattr(p, "pattern") else p

    filters = warnings.filters
    # Asked at every executed reusable call: the text is kept for filters equal to the last
    # ones (the same entries in the same order, compared item by item, identity first).
    snapshot = tuple(filters)
    if snapshot == _last_filters[0]:
        return _last_filters[1]
    if filters and filters[0] == ("always", None, Warning, None, 0):
        state = None
    else:
        try:
            state = repr([(action, text(message), getattr(category, "__module__", ""),
                           getattr(category, "__qualname__", category), text(module), lineno)
                          for action, message, category, module, lineno in filters])
        except Exception:  # filters edited by hand into another shape: compare them as they are
            state = repr(filters)
    _last_filters[:] = [snapshot, state]
    return state


_last_filters: list = [None, None]  # (entries of warnings.filters, their filters_state())


def start_capture() -> list:
    """Collect the warnings shown until ``end_capture`` (they are shown as usual too)."""
    shown: list = []
    _captures.append(shown)
    _shown_by.append(warnings._showwarnmsg_impl)
    return shown


def end_capture() -> None:
    _captures.pop()
    _shown_by.pop()


#: In a stored warning, the file and line of the operation's call site: on reuse they become
#: the reusing call's own (the same operation reused by another script, or from another line,
#: warns where plain python would, e.g. ``b.py:5`` and not the recording script's ``a.py:3``).
AT_SITE = "<stratum call site>"


def site_relative(shown, frame) -> list:
    """``shown`` with warnings located at ``frame``'s current line marked as ``AT_SITE``."""
    if not shown:
        return shown
    here = (frame.f_code.co_filename, line_of(frame))
    return [entry if entry is FILTERS_MUTATED or len(entry) != 4
            else (entry[0], entry[1], AT_SITE, 0) if (entry[2], entry[3]) == here else entry
            for entry in shown]


def replay_warnings(shown, frame=None) -> None:
    """Show again what a reused operation showed (warnings with the same registry
    bookkeeping, and the text it wrote: ``interposer.channels``), in the order it came."""
    from interposer import channels

    for entry in shown or ():
        if len(entry) == 2:
            channels.write(*entry)
            continue
        text, category, filename, lineno = entry
        if filename == FILTERS_MUTATED[2]:
            _filters_mutated()  # through the wrapper: an open capture records it too
            continue
        if filename == AT_SITE:
            if frame is None:
                continue
            filename, lineno = frame.f_code.co_filename, frame.f_lineno
            g = frame.f_globals
            module, registry = g.get("__name__"), g.setdefault("__warningregistry__", {})
        else:
            found = _module_for(filename)
            if found is not None:
                module = found.__name__
                registry = found.__dict__.setdefault("__warningregistry__", {})
            else:  # what ``warnings`` itself derives from a file name (None would drop it)
                module, registry = filename[:-3] if filename.endswith(".py") else filename, None
        warnings.warn_explicit(category(text), category, filename, lineno,
                               module=module, registry=registry)


def _module_for(filename):
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == filename:
            return module
    return None


def install() -> None:
    warnings.warn = _warn
    warnings._showwarnmsg = _showwarnmsg
    warnings._filters_mutated = _filters_mutated


def uninstall() -> None:
    warnings.warn = _orig_warn
    warnings._showwarnmsg = _orig_show
    warnings._filters_mutated = _orig_filters_mutated
