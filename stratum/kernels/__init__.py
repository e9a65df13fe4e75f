"""Native kernels: library operations replaced by Rust code where the result is bit-identical.

``KERNELS`` is the table: one ``Kernel`` row per replaced library attribute. ``install`` wraps
each target (a method of a library class, or a module-level function) so that *every* call of
it is covered, including the ones library code makes itself (a ``Pipeline`` step, a fold
inside ``cross_val_score``), not only the user's call sites. The wrapper asks the row's
``parity`` whether this call's arguments are inside the conditions under which the kernel
is bit-identical; if not, the library runs and the reason is noted. ``--explain`` and the
trace show what ran natively and why the rest did not (``note`` / ``since``).
``STRATUM_NATIVE=0`` installs nothing.
"""
from __future__ import annotations

import functools
import importlib
import sys
import threading
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Kernel:
    """One replaced library attribute: where it is, when the kernel applies, what runs.

    (A docstring of its own: without one, ``@dataclass`` builds ``__doc__`` from
    ``inspect.signature`` at every run's start-up.)"""

    name: str  # shown in --explain, e.g. "CountVectorizer.fit_transform"
    module: str  # module defining the target
    owner: str | None  # class name inside ``module``, or None for a module-level function
    attr: str  # the replaced attribute
    # parity(args, kwargs) -> None when the kernel applies, else the reason it does not
    # (args include the receiver for methods)
    parity: Callable
    run: Callable  # run(original, args, kwargs) -> result, bit-identical to the library's
    # An internal row is a step of another kernel (a library helper that kernel's fit calls):
    # it notes nothing, its parity only says whether that kernel is running.
    internal: bool = False


KERNELS: list[Kernel] = []  # filled by the kernel modules listed in _MODULES
# kernel module -> the library it replaces parts of: loaded once that library is imported, so a
# script that never imports it pays nothing (not even numpy's import) for its kernels
_MODULES: dict[str, str] = {"stratum.kernels.ridge": "sklearn",
                            "stratum.kernels.categorical": "sklearn",
                            "stratum.kernels.text": "sklearn"}
_loaded: set[str] = set()


class Fallback(Exception):
    """Raised by a kernel's ``run`` that finds only while running (e.g. a non-str element) that
    the library must decide; the message is the reason. Nothing may have been mutated yet."""


_lock = threading.Lock()
_log: list[tuple[str, str | None]] = []  # (kernel, None if it ran, else why the library ran)
_LOG_MAX = 100_000
_installed: dict[tuple[str, str | None, str], tuple[object, object]] = {}
_active = False


def note(kernel: str, reason: str | None) -> None:
    with _lock:
        if len(_log) < _LOG_MAX:
            _log.append((kernel, reason))


_declined: dict[tuple[int, str], str] = {}  # (thread, kernel) -> reason, while its run runs


def amend(kernel: str, reason: str) -> None:
    """The kernel declined after its parity accepted (its ``run`` handed the work back to the
    library): its event, written when ``run`` returns, says the library ran, and why."""
    with _lock:
        _declined[(threading.get_ident(), kernel)] = reason


def mark() -> int:
    return len(_log)


def since(start: int) -> str | None:
    """What happened between ``mark()`` and now, as one short line for the trace."""
    events = _log[start:]
    if not events:
        return None
    parts: dict[str, int] = {}
    for kernel, reason in events:
        label = f"native {kernel}" if reason is None else f"library {kernel}: {reason}"
        parts[label] = parts.get(label, 0) + 1
    return "; ".join(f"{k} x{n}" if n > 1 else k for k, n in parts.items())[:300]


def summary() -> dict[tuple[str, str | None], int]:
    out: dict[tuple[str, str | None], int] = {}
    for event in _log:
        out[event] = out.get(event, 0) + 1
    return out


def _wrap(row: Kernel, original):
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if not _active:
            return original(*args, **kwargs)
        try:
            reason = row.parity(args, kwargs)
        except Exception as exc:  # a parity check that cannot decide: the library decides
            reason = f"parity check failed ({type(exc).__name__})"
        if row.internal:
            return original(*args, **kwargs) if reason is not None else row.run(original, args, kwargs)
        if reason is not None:
            note(row.name, reason)
            return original(*args, **kwargs)
        declined = (threading.get_ident(), row.name)
        try:
            result = row.run(original, args, kwargs)
        except Fallback as why:
            _declined.pop(declined, None)
            note(row.name, str(why))
            return original(*args, **kwargs)
        except BaseException:  # the input's own error, raised as the library raises it
            note(row.name, _declined.pop(declined, None))
            raise
        note(row.name, _declined.pop(declined, None))
        return result

    wrapper.__stratum_kernel__ = original
    return wrapper


def _target(row: Kernel, module):
    if row.owner is None:
        return module
    return getattr(module, row.owner, None)


def after_import(module) -> None:
    """Wrap the targets a freshly imported library module defines."""
    if not _active:
        return
    if module.__name__.partition(".")[0] in _MODULES.values():
        _load(module.__name__.partition(".")[0])
    for row in KERNELS:
        if row.module == module.__name__:
            _patch(row, module)


def _patch(row: Kernel, module) -> None:
    ident = (row.module, row.owner, row.attr)
    owner = _target(row, module)
    if ident in _installed or owner is None:
        return
    original = owner.__dict__.get(row.attr) if isinstance(owner, type) else getattr(owner, row.attr, None)
    if original is None or hasattr(original, "__stratum_kernel__"):
        return
    wrapper = _wrap(row, original)
    setattr(owner, row.attr, wrapper)
    _installed[ident] = (original, wrapper)


def install(cache_source=None) -> None:
    """Load the kernel table and wrap every target whose module is already imported.
    ``cache_source() -> cache or None``: the running engine's cache, for kernels that keep
    work across runs (:func:`engine_cache`)."""
    global _active, _cache_source
    _active = True
    _cache_source = cache_source
    for root in set(_MODULES.values()):
        if root in sys.modules:
            _load(root)
    _patch_imported()


def _load(root: str) -> None:
    """Import the kernel modules for library ``root`` (once) and wrap what is imported already."""
    fresh = [name for name, lib in _MODULES.items() if lib == root and name not in _loaded]
    if not fresh:
        return
    for name in fresh:
        _loaded.add(name)
        importlib.import_module(name)
    _patch_imported()


def _patch_imported() -> None:
    for row in KERNELS:
        module = sys.modules.get(row.module)
        if module is not None:
            _patch(row, module)


def uninstall() -> None:
    global _active
    _active = False
    for (module_name, owner_name, attr), (original, _wrapper) in list(_installed.items()):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        owner = module if owner_name is None else getattr(module, owner_name, None)
        if owner is not None:
            setattr(owner, attr, original)
    _installed.clear()


_cache_source = None  # set by install(): () -> the running engine's cache, or None


def engine_cache():
    """The cache of the engine running now (given to :func:`install` by the session), or None."""
    try:
        return _cache_source() if _cache_source is not None else None
    except Exception:
        return None
