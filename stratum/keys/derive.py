"""The key of a value derived from an operation's output: ``derive(key, "fitted")``, ``"mutated"``,
the i-th item of a returned tuple (``str(i)``), a mutation's new key. One definition for the
engine (which gives the keys), replay and the merged graph (which look them up)."""
from __future__ import annotations

from stratum._native import Hasher


def derive(key: str, what: str) -> str:
    h = Hasher()
    h.update_str(key)
    h.update_str(what)
    return h.hexdigest()
