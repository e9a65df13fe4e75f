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
operations that parse dates (``interposer.registry.PARSES_DATES``, data: the date parsers
always, constructors and ``astype`` when an argument names a datetime or period dtype) also
have their array-like arguments and receiver scanned: every text value of an object or string
array, Series, Index or DataFrame column. Anything that reaches the clock another way (a file
read with ``parse_dates`` whose cells say ``now``) is not seen.
"""
from __future__ import annotations

WORDS = frozenset({"now", "today"})
SHALLOW_ITEMS = 64


def _word(v) -> bool:
    return type(v) is str and len(v) < 16 and v.strip().lower() in WORDS


def shallow(args, kwargs) -> str | None:
    """The clock word among the arguments (not inside arrays), or None. (Asked of every
    traced operation: ``_word`` inlined, the common arguments, arrays, pass two type tests.)"""
    for v in (*args, *kwargs.values()) if kwargs else args:
        t = type(v)
        if t is str:
            if len(v) < 16 and v.strip().lower() in WORDS:
                return v
        elif t is list or t is tuple:
            if len(v) <= SHALLOW_ITEMS:
                for x in v:
                    if type(x) is str and len(x) < 16 and x.strip().lower() in WORDS:
                        return x
        elif t is dict and len(v) <= SHALLOW_ITEMS:
            for x in v.values():
                if type(x) is str and len(x) < 16 and x.strip().lower() in WORDS:
                    return x
    return None


#: Operations that parse dates whatever their arguments say (registry names); the others of
#: ``PARSES_DATES`` (constructors, ``astype``) only when an argument asks for a date dtype.
ALWAYS = frozenset({"pandas.to_datetime", "pandas.Timestamp", "pandas.date_range",
                    "pandas.bdate_range", "pandas.period_range", "pandas.Period",
                    "pandas.DatetimeIndex", "pandas.PeriodIndex", "numpy.datetime64"})


def deep(name: str, args, kwargs, recv=None) -> str | None:
    """The clock word among the text values of array-like arguments (and the receiver) of
    operation ``name``, when it parses dates here; None otherwise."""
    if name not in ALWAYS and not any(_date_dtype(v) for v in (*args, *kwargs.values())):
        return None
    for v in (*args, *kwargs.values(), recv):
        found = _in_values(v)
        if found is not None:
            return found
    return None


def _date_dtype(v, depth: int = 0) -> bool:
    """Does ``v`` name a datetime or period dtype (``"datetime64[ns]"``, ``"M8[s]"``,
    ``np.dtype("M8")``, ``pd.PeriodDtype``), or map columns to one?"""
    if type(v) is dict and depth == 0:
        return any(_date_dtype(x, 1) for x in v.values())
    if isinstance(v, str):
        text = v.lower()
    elif isinstance(v, type) or hasattr(v, "kind") and hasattr(v, "name"):
        text = f"{getattr(v, 'name', v)} {getattr(v, 'kind', '')}".lower()
    else:
        return False
    return "datetime" in text or "m8" in text or "period" in text


def _in_values(v) -> str | None:
    import numpy as np

    if hasattr(v, "columns") and hasattr(v, "dtypes"):  # a DataFrame: its text columns only
        for i, dtype in enumerate(v.dtypes):
            if getattr(dtype, "kind", None) in ("O", "U", "S", "T"):
                found = _in_values(v.iloc[:, i])
                if found is not None:
                    return found
        return None
    values = getattr(v, "_values", v)  # a Series' or Index's own array (no copy)
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if kind in ("U", "S"):
        arr = np.asarray(values)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "latin-1")
        hit = np.isin(np.char.lower(np.char.strip(arr)), list(WORDS))
        return str(arr.ravel()[np.flatnonzero(hit.ravel())[0]]) if hit.any() else None
    if kind in ("O", "T"):
        try:
            flat = np.asarray(values, dtype=object).ravel()
        except Exception:  # noqa: BLE001 - an array-like numpy cannot read: shallow only
            return None
        for x in flat:
            if _word(x):
                return x
    return None
