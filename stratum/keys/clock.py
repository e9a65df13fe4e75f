"""Arguments that name the current time: an operation given one reads the clock.

pandas and numpy turn the strings ``"now"`` and ``"today"`` into the current time wherever they
parse a date: ``pd.Timestamp("now")``, ``pd.to_datetime("today")``, ``pd.date_range(end="now",
...)``, ``pd.Series(["now"], dtype="datetime64[ns]")``, ``np.array(["now"],
dtype="datetime64[s]")``, a text column holding ``"today"`` given to ``to_datetime``. The call's
key holds the word, not the time it stood for, so a reuse returned the time of the run that
computed it (seen: a second run printed the first run's ``pd.Timestamp("now")``). Such a call
runs every time; ``--explain`` says ``reads the clock``.

Two depths, by cost. Every traced operation's arguments are looked at shallowly: a string, and
the strings among the items of a list, tuple or dict of up to :data:`SHALLOW_ITEMS`. The
operations that parse dates (``interposer.registry.PARSES_DATES``, data) also have their
array-like arguments and receiver scanned: every text value of an object or string array,
Series or Index. Anything that reaches the clock another way (a file read with
``parse_dates`` whose cells say ``now``) is not seen.
"""
from __future__ import annotations

WORDS = frozenset({"now", "today"})
SHALLOW_ITEMS = 64


def _word(v) -> bool:
    return type(v) is str and len(v) < 16 and v.strip().lower() in WORDS


def shallow(args, kwargs) -> str | None:
    """The clock word among the arguments (not inside arrays), or None."""
    for v in (*args, *kwargs.values()):
        if _word(v):
            return v
        t = type(v)
        if t in (list, tuple) and len(v) <= SHALLOW_ITEMS:
            for x in v:
                if _word(x):
                    return x
        elif t is dict and len(v) <= SHALLOW_ITEMS:
            for x in v.values():
                if _word(x):
                    return x
    return None


def deep(args, kwargs, recv=None) -> str | None:
    """The clock word among the text values of array-like arguments (and the receiver)."""
    for v in (*args, *kwargs.values(), recv):
        found = _in_values(v)
        if found is not None:
            return found
    return None


def _in_values(v) -> str | None:
    import numpy as np

    values = getattr(v, "_values", v)  # a Series' or Index's own array (no copy)
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if kind in ("U", "S"):
        arr = np.asarray(values)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "latin-1")
        hit = np.isin(np.char.lower(np.char.strip(arr)), list(WORDS))
        return str(arr.ravel()[np.flatnonzero(hit.ravel())[0]]) if hit.any() else None
    if kind == "O" or type(values).__name__ in ("StringArray", "ArrowStringArray",
                                                "ArrowStringArrayNumpySemantics"):
        try:
            flat = np.asarray(values, dtype=object).ravel()
        except Exception:  # noqa: BLE001 - an array-like numpy cannot read: shallow only
            return None
        for x in flat:
            if _word(x):
                return x
    return None
