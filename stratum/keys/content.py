"""What key feeders share: the exception for a value that cannot be keyed, content hashing of a
pickled value, and whether a module is the user's (keyed by its code) or a library's.

Both ``lineage`` (the keys) and ``keyrules`` (per-type feeders it loads) use these."""
from __future__ import annotations

import pickle

from stratum._native import xxh3_128


class Unkeyable(Exception):
    """A value stratum cannot key soundly: the operation using it is executed, never reused."""


def hash_pickled(v) -> bytes:
    try:
        return xxh3_128(pickle.dumps(v, protocol=5))
    except Exception as exc:
        raise Unkeyable(f"cannot key a value of type {type(v).__qualname__}") from exc


_USER_MODULE_CACHE: dict[str, bool] = {}


def is_user_module(name: str) -> bool:
    r = _USER_MODULE_CACHE.get(name)
    if r is None:
        from interposer import userfiles

        r = _USER_MODULE_CACHE[name] = userfiles.is_user_module(name)
    return r
