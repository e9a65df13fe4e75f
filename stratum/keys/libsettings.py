"""Library settings that change what an operation returns, as text for the keys.

A result computed under one setting must not be reused under another: pandas' options
(``future.infer_string`` turns text columns into another dtype, ``mode.*`` and ``compute.*``
change results, ``display.*`` what is printed), scikit-learn's configuration
(``set_config(transform_output="pandas")``), numpy's floating-point error handling
(``np.errstate``: which warnings a call shows, or whether it raises) and print options.

Each is reduced to a short text that the engine hashes into the key of every operation it
concerns. Reading every pandas option on every call would cost tens of microseconds, so the
text is recomputed only after pandas changed an option: every way of setting one
(``set_option``, ``option_context``, ``reset_option``, ``pd.options.x = v``) goes through
``pandas._config.config._set_option_impl``, which is wrapped once pandas is loaded to count
changes (a generation number).
"""
from __future__ import annotations

import os
import sys

from interposer import frames

_DEFAULT_ERR = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}

_pandas = {"module": None, "config": None, "generation": 0, "seen": -1, "text": ""}


def pandas_options() -> str:
    """pandas' options in force, as text ("" before pandas is imported)."""
    state = _pandas
    module = state["module"]
    if module is None:
        module = sys.modules.get("pandas._config.config")
        if module is None or not hasattr(module, "_global_config"):
            return ""
        _watch(module)
    config = module._global_config
    if state["seen"] != state["generation"] or state["config"] is not config:
        volatile = []
        text = "pandas-options:" + repr(sorted(_flatten(config, "", volatile)))
        if volatile:
            return text  # recomputed at every call: a new token each time (see ``_text``)
        state["config"] = config
        state["seen"] = state["generation"]
        state["text"] = text
    return state["text"]


def _flatten(tree: dict, prefix: str, volatile: list):
    for name, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}.", volatile)
        else:
            yield f"{prefix}{name}", _text(value, volatile)


_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _plain(value, depth: int = 0) -> bool:
    """Is ``value`` data whose ``repr`` is all of it (no object, no address)?"""
    t = type(value)
    if t in _PLAIN:
        return True
    if depth > 4:
        return False
    if t in (tuple, list, frozenset):
        return all(_plain(v, depth + 1) for v in value)
    if t is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _text(value, volatile: list) -> str:
    """A setting's value as key text. Data: its ``repr``. Anything else (a formatter function,
    ``"{:,.1f}".format``, a callable object) has no text that is all of it: its ``repr`` names
    an address, which forks of one process repeat and which says nothing of what the function
    does. It gets a token no other call can have, so nothing computed while it is set is
    reused (and ``volatile`` says so, so that the caller does not keep the text)."""
    if _plain(value):
        return repr(value)
    volatile.append(True)
    return f"<{type(value).__qualname__} {os.urandom(12).hex()}>"


def _watch(module) -> None:
    """Count option changes from now on (once per process)."""
    _pandas["module"] = module
    for name in ("_set_option_impl", "register_option"):
        original = getattr(module, name, None)
        if original is None or getattr(original, "__stratum_original__", None) is not None:
            continue

        def counting(*args, __original=original, **kwargs):
            __tracebackhide__ = True  # noqa: F841 - pytest leaves the frame out
            try:
                return __original(*args, **kwargs)
            finally:
                _pandas["generation"] += 1

        # A frame between two of pandas' (``set_option`` -> ``_set_option_impl``): it must
        # look like pandas' to pandas' ``find_stack_level``, or the deprecation warnings an
        # option setter shows land in pandas' file, where the default filters hide them.
        frames.inside(counting, getattr(module, "__file__", None) or original.__code__.co_filename)
        counting.__stratum_original__ = original
        counting.__wrapped__ = original
        counting.__name__ = original.__name__
        counting.__qualname__ = original.__qualname__
        counting.__doc__ = original.__doc__
        setattr(module, name, counting)


def sklearn_config() -> str:
    """scikit-learn's global configuration (``set_config`` / ``config_context``): it changes
    what its operations return (``transform_output="pandas"``), check or skip."""
    sk = sys.modules.get("sklearn")
    get = getattr(sk, "get_config", None) if sk is not None else None
    if get is None:
        return ""
    try:
        return "sklearn-config:" + repr(sorted((k, _text(v, [])) for k, v in get().items()))
    except Exception:
        return ""


_printopts = {"dict": None, "text": ""}


def numpy_printoptions() -> str:
    """``np.set_printoptions`` / ``np.printoptions``: how arrays become text (``array2string``,
    ``repr``). numpy keeps them in a context variable holding a new dict after each change, so
    the text is recomputed only when that dict is another one."""
    module = sys.modules.get("numpy._core.printoptions")
    options = getattr(module, "format_options", None)
    if options is None:
        return ""
    current = options.get()
    if current is not _printopts["dict"]:
        volatile = []
        text = "printoptions:" + repr(sorted((k, _text(v, volatile))
                                             for k, v in current.items()))
        if volatile:
            return text  # a formatter function: a new token at every call (``_text``)
        _printopts["dict"] = current
        _printopts["text"] = text
    return _printopts["text"]


_errstate: tuple = (None, "")  # (the capsule, its text): replaced whole, never half-updated


def numpy_errstate(np) -> str:
    """``np.errstate`` / ``np.seterr`` when not numpy's defaults ("" when they are).

    numpy (2.x) keeps the state in a context variable holding an immutable capsule, a new one
    at each ``seterr`` / ``errstate``: the text is recomputed only when the capsule is another
    one (the one it was computed from is held, so its id is not another's)."""
    global _errstate
    var = getattr(getattr(getattr(np, "_core", None), "_ufunc_config", None),
                  "_extobj_contextvar", None)
    if var is None:  # another numpy: asked every time
        return _errstate_text(np.geterr())
    current = var.get()
    cached = _errstate
    if current is not cached[0]:
        cached = _errstate = (current, _errstate_text(np.geterr()))
    return cached[1]


def _errstate_text(err) -> str:
    if err == _DEFAULT_ERR:
        return ""
    return f"errstate:{sorted(err.items())!r}"
