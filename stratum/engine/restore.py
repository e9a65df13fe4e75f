"""Restoring a fitted state in place, so a reused ``fit`` looks exactly like a real one.

``est.fit(X)`` mutates ``est`` (and, inside a Pipeline, the step objects the user still holds).
A cache hit therefore copies the stored state *into* the existing objects, recursing into
nested estimators of the same class, instead of handing out new ones.
"""
from __future__ import annotations

SELF = "__stratum_self__"


def snapshot(obj, args=(), kwargs=None) -> dict:
    """The fitted state to store: ``vars(obj)``, with each attribute that *is* one of the
    call's arguments replaced by a marker (``KNeighborsRegressor.fit(X, y)`` keeps ``X`` itself
    as ``_fit_X``; a restored copy would not see the script's later writes to ``X``)."""
    state = dict(vars(obj))
    return {name: mark_args(value, args, kwargs or {}) if not _atomic(value) else value
            for name, value in state.items()}


def _is_estimator(obj) -> bool:
    return hasattr(obj, "get_params") and hasattr(obj, "__dict__")


def _merge(old, new):
    if old is new:
        return old
    if _is_estimator(old) and type(old) is type(new):
        apply(old, vars(new))
        return old
    if type(old) is list and type(new) is list and len(old) == len(new):
        old[:] = [_merge(o, n) for o, n in zip(old, new)]
        return old
    if type(old) is tuple and type(new) is tuple and len(old) == len(new):
        return tuple(_merge(o, n) for o, n in zip(old, new))
    return new


def apply(target, state: dict, args=(), kwargs=None) -> None:
    """Make ``target``'s state the stored one. Its constructor parameters stay the objects the
    script gave it (``class_weight=cw``: plain python's model still holds ``cw``, so a later
    ``cw[1] = 50`` changes the next fit); the entry's key covered their content, and a fit
    never changes them. Nested estimators and the lists holding them are merged in place."""
    current = vars(target)
    try:
        params = set(target.get_params(deep=False))
    except Exception:  # noqa: BLE001 - a half-built object: every attribute is restored
        params = set()
    for name in [n for n in current if n not in state]:
        del current[name]
    for name, value in state.items():
        value = unmark_args(value, args, kwargs or {})
        if name not in current:
            current[name] = value
        elif name in params and not _is_estimator(value) and type(value) not in (list, tuple) \
                and _equal(current[name], value):
            continue  # (a fit that changed a parameter, against the convention, sets it)
        else:
            current[name] = _merge(current[name], value)


def _equal(a, b) -> bool:
    """Do two parameter values hold the same data (False when that cannot be told)?"""
    try:
        import numpy as np

        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return type(a) is type(b) and a.dtype == b.dtype and np.array_equal(a, b)
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - an odd type: the stored value is used
        return False


def mark_self(result, target):
    """Replace ``target`` inside a call's result by a marker (the result is stored without it)."""
    if result is target:
        return SELF
    if type(result) is tuple and any(r is target for r in result):
        return tuple(SELF if r is target else r for r in result)
    return result


def unmark_self(stored, target):
    if isinstance(stored, str) and stored == SELF:
        return target
    if type(stored) is tuple and any(isinstance(r, str) and r == SELF for r in stored):
        return tuple(target if (isinstance(r, str) and r == SELF) else r for r in stored)
    return stored


ARG = "__stratum_arg__:"  # + position, or "=" + keyword name


def mark_args(result, args, kwargs):
    """Replace the arguments a memoized user function returned (``return df``, ``return df,
    stats``) by markers, so a reused call returns the caller's objects, as the body did."""
    refs = {id(a): f"{ARG}{i}" for i, a in enumerate(args) if not _atomic(a)}
    for name, a in kwargs.items():
        if not _atomic(a):
            refs.setdefault(id(a), f"{ARG}={name}")
    if not refs:
        return result
    hit = refs.get(id(result))
    if hit is not None:
        return hit
    if type(result) in (tuple, list) and any(id(r) in refs for r in result):
        return type(result)(refs.get(id(r), r) for r in result)
    if type(result) is dict and any(id(r) in refs for r in result.values()):
        return {k: refs.get(id(v), v) for k, v in result.items()}
    return result


def unmark_args(stored, args, kwargs):
    def back(v):
        if type(v) is str and v.startswith(ARG):
            ref = v[len(ARG):]
            return kwargs[ref[1:]] if ref.startswith("=") else args[int(ref)]
        return v

    if type(stored) is str:
        return back(stored)
    if type(stored) in (tuple, list) and any(type(r) is str and r.startswith(ARG) for r in stored):
        return type(stored)(back(r) for r in stored)
    if type(stored) is dict and any(type(r) is str and r.startswith(ARG) for r in stored.values()):
        return {k: back(v) for k, v in stored.items()}
    return stored


def _atomic(v) -> bool:
    """Values whose identity a script cannot rely on (small ints, strings, None ...)."""
    return type(v) in (type(None), bool, int, float, str, bytes, complex)


_AXES = ("index", "columns")


def shared_axes(result, sources) -> tuple:
    """Which axes of a pandas result are the very objects of an input (``s.map(f).index is
    s.index``): ((axis, source position, "self" | "index" | "columns"), ...).

    pandas shares immutable axis objects between a result and its inputs; a loaded result
    holds copies, so a reuse gives the input's own objects back (``reattach``)."""
    found = []
    for axis in _AXES:
        value = getattr(result, axis, None) if hasattr(type(result), "_get_axis") else None
        if value is None:
            continue
        for pos, src in enumerate(sources):
            if src is value:
                found.append((axis, pos, "self"))
                break
            hit = next((a for a in _AXES if getattr(src, a, None) is value), None) \
                if hasattr(type(src), "_get_axis") else None
            if hit is not None:
                found.append((axis, pos, hit))
                break
    return tuple(found)


def reattach(result, axes, sources) -> None:
    for axis, pos, how in axes:
        src = sources[pos]
        setattr(result, axis, src if how == "self" else getattr(src, how))
