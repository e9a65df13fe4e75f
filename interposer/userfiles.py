"""Which code is the user's: only user code is rewritten, and only user callables are keyed by code.

A file is user code unless it belongs to the standard library, an installed package
(site-packages, dist-packages) or stratum itself.
"""
from __future__ import annotations

import os
import site
import sys
import sysconfig

_cache: dict[str, bool] = {}


def _library_roots() -> tuple[str, ...]:
    roots = set()
    paths = sysconfig.get_paths()  # once: each call expands every path of the scheme again
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = paths.get(key)
        if path:
            roots.add(os.path.realpath(path))
    for path in [*getattr(site, "getsitepackages", lambda: [])(), site.getusersitepackages()]:
        roots.add(os.path.realpath(path))
    roots.add(os.path.realpath(sys.base_prefix))
    roots.add(os.path.realpath(sys.prefix) + os.sep + "lib")
    here = os.path.dirname(os.path.realpath(__file__))
    roots.add(here)
    roots.add(os.path.join(os.path.dirname(here), "stratum"))
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in roots))


_ROOTS = _library_roots()


def is_user_file(filename: str) -> bool:
    r = _cache.get(filename)
    if r is not None:
        return r
    if not filename or filename.startswith("<"):
        r = filename in ("<string>", "<stdin>") or filename.startswith("<ipython-input")
    else:
        r = is_user_dir(os.path.dirname(filename))
    _cache[filename] = r
    return r


_dir_cache: dict[str, bool] = {}


def is_user_dir(directory: str) -> bool:
    """Is ``directory`` outside the standard library, installed packages and stratum?"""
    r = _dir_cache.get(directory)
    if r is None:
        real = os.path.realpath(directory) + os.sep
        r = _dir_cache[directory] = (not real.startswith(_ROOTS) and "site-packages" not in real
                                     and "dist-packages" not in real)
    return r


def is_user_module(name: str) -> bool:
    if name == "__main__":
        return True
    module = sys.modules.get(name)
    filename = getattr(module, "__file__", None)
    return bool(filename) and is_user_file(filename)
