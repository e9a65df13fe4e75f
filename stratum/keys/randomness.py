"""Does a call draw from numpy's global RNG? (``random_state=None`` somewhere in its inputs.)

An operation that does is keyed by the RNG's state and, on reuse, leaves the RNG in the state
the real call would have left; a script that never seeded the RNG gets a fresh state every run,
so such operations are executed, not reused. ``RandomState`` / ``Generator`` objects passed as
``random_state`` are not reproducible from a key at all.
"""
from __future__ import annotations

import numbers
import sys

import numpy as np

from interposer.registry import FIT


class NotReproducible(Exception):
    pass


def rng_types() -> tuple:
    """numpy's random generator types; none while ``numpy.random`` is not imported (no such
    object can exist then, and numpy imports it on first use: importing it to ask would cost
    every numpy script ~13 ms of start-up)."""
    random = sys.modules.get("numpy.random")
    if random is None:
        return ()
    return random.RandomState, random.Generator, random.BitGenerator


def global_rng():
    """numpy's global ``RandomState`` (what ``np.random.rand`` draws from), if it exists yet."""
    mtrand = sys.modules.get("numpy.random.mtrand")
    return None if mtrand is None else mtrand._rand


# Estimators / splitters whose ``random_state`` matters only under some parameters: the
# predicate says whether randomness is used. Classes not listed use it whenever it is None.
USES_RANDOMNESS = {
    "LogisticRegression": lambda p: p.get("solver") in ("sag", "saga", "liblinear"),
    "LogisticRegressionCV": lambda p: p.get("solver") in ("sag", "saga", "liblinear"),
    "Ridge": lambda p: p.get("solver") in ("sag", "saga"),
    "RidgeClassifier": lambda p: p.get("solver") in ("sag", "saga"),
    "Lasso": lambda p: p.get("selection") == "random",
    "ElasticNet": lambda p: p.get("selection") == "random",
    "LassoCV": lambda p: p.get("selection") == "random",
    "ElasticNetCV": lambda p: p.get("selection") == "random",
    "SVC": lambda p: bool(p.get("probability")),
    "NuSVC": lambda p: bool(p.get("probability")),
    "PCA": lambda p: p.get("svd_solver") not in ("full", "covariance_eigh"),
    "KFold": lambda p: bool(p.get("shuffle")),
    "StratifiedKFold": lambda p: bool(p.get("shuffle")),
    "GroupKFold": lambda p: False,
}


def _params(obj) -> dict:
    get = getattr(obj, "get_params", None)
    if get is not None:
        try:
            return get(deep=False)
        except Exception:
            return {}
    return dict(getattr(obj, "__dict__", {}))


def walk(obj, depth=0):
    """Yield ``obj`` and the estimators / splitters nested in its parameters."""
    if depth > 6:
        return
    yield obj
    for value in _params(obj).values():
        if _is_random_holder(value):
            yield from walk(value, depth + 1)
        elif isinstance(value, (list, tuple)):
            for item in value:
                for part in item if isinstance(item, tuple) else (item,):
                    if _is_random_holder(part):
                        yield from walk(part, depth + 1)


def _is_random_holder(value) -> bool:
    module = type(value).__module__ or ""
    return module.startswith("sklearn") and (hasattr(value, "get_params") or hasattr(value, "random_state"))


def _object_uses_global(obj) -> bool:
    params = _params(obj)
    if "random_state" not in params:
        return False
    state = params["random_state"]
    if state is None or state is global_rng():
        rule = USES_RANDOMNESS.get(type(obj).__name__)
        return True if rule is None else rule(params)
    if isinstance(state, numbers.Integral):
        return False
    raise NotReproducible("random_state is a generator object (its state is not keyed)")


def uses_global_rng(spec, args, kwargs, recv) -> bool:
    if spec.random == "global":
        return True
    if spec.random in (None, "self", "seed"):
        if spec.effect == FIT or spec.composite:
            holders = [v for v in (recv, *args, *kwargs.values()) if _is_random_holder(v)]
            return any(_object_uses_global(o) for h in holders for o in walk(h))
        return False
    value = kwargs.get(spec.random)
    if value is None:
        return kwargs.get("shuffle", True) is not False
    if isinstance(value, numbers.Integral):
        return False
    raise NotReproducible(f"{spec.random} is a generator object (its state is not keyed)")


def seeded_by(args, kwargs) -> bool:
    """After ``np.random.seed(...)``: is the global RNG now in a reproducible state?"""
    seed = args[0] if args else kwargs.get("seed")
    return seed is not None


