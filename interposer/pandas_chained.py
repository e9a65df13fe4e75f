"""pandas' chained-assignment warnings, reproduced for calls that pass through the dispatcher.

pandas (Copy-on-Write) warns about ``df["a"][0] = 1`` and ``df["a"].fillna(0, inplace=True)``
by counting references to the object being changed and by looking at the caller's current
instruction. The dispatch path holds extra references and is a ``CALL``, so pandas cannot see
it; the dispatcher detects the temporary itself (its reference count on entry) and shows
pandas' own message, category and location. Which methods check is data (``METHOD_CHECKS``),
read off pandas' source.
"""
from __future__ import annotations

import sys
import warnings

# method name -> True when the check applies only with inplace=True ("update" always checks)
METHOD_CHECKS = {"fillna": True, "ffill": True, "bfill": True, "replace": True,
                 "interpolate": True, "clip": True, "where": True, "mask": True, "update": False}

_state: dict = {}


def _messages():
    """(setitem message, method message, update message, category) or None if not applicable."""
    if "msgs" not in _state:
        _state["msgs"] = None
        try:
            from pandas.compat import _constants
            from pandas.errors import ChainedAssignmentError
            from pandas.errors import cow

            if not getattr(_constants, "CHAINED_WARNING_DISABLED", True):
                _state["msgs"] = (cow._chained_assignment_msg, cow._chained_assignment_method_msg,
                                  getattr(cow, "_chained_assignment_method_update_msg",
                                          cow._chained_assignment_method_msg),
                                  ChainedAssignmentError)
        except (ImportError, AttributeError):
            pass
    return _state["msgs"]


def is_frame(obj) -> bool:
    name = type(obj).__name__
    return name in ("DataFrame", "Series") and type(obj).__module__.startswith("pandas")


def warn_setitem() -> None:
    msgs = _messages()
    if msgs is not None:
        warnings.warn(msgs[0], msgs[3], stacklevel=1)  # stratum frames are not counted (frames._warn)


def warn_method(name: str, kwargs: dict) -> None:
    needs_inplace = METHOD_CHECKS.get(name)
    if needs_inplace is None or (needs_inplace and kwargs.get("inplace") is not True):
        return
    msgs = _messages()
    if msgs is not None:
        warnings.warn(msgs[2] if name == "update" else msgs[1], msgs[3], stacklevel=1)  # stratum frames are not counted (frames._warn)


getrefcount = sys.getrefcount
