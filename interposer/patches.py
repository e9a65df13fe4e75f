"""Import-time patches of library internals that do work worth reusing inside library calls.

``Pipeline`` / ``ColumnTransformer`` fit their steps through ``sklearn.pipeline._fit_transform_one``
and ``_fit_one``; every cross-validation (``cross_val_score``, ``GridSearchCV`` ...) fits and
scores a fold through ``_fit_and_score``. Wrapping those few functions makes per-step and
per-fold work visible to the engine. Modules that imported a patched function by name get
the wrapper too (``from ..pipeline import _fit_transform_one``).
"""
from __future__ import annotations

import functools
import sys

from interposer import dispatch, registry

# module -> names of functions to wrap (their specs are rows of the registry)
PATCHES = {
    "sklearn.pipeline": ("_fit_transform_one", "_fit_one"),
    "sklearn.model_selection._validation": ("_fit_and_score",),
}

_originals: dict[int, object] = {}  # id(original) -> wrapper
AFTER_IMPORT_HOOKS: list = []  # further callables(module), e.g. stratum's native kernels


def _wrap(module_name: str, name: str, original):
    spec = registry.ROWS[f"{module_name}.{name}"]

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        engine = dispatch._engine
        if engine is None:
            return original(*args, **kwargs)
        return engine.call(spec, original, args, kwargs)

    wrapper.__stratum_original__ = original
    return wrapper


def after_import(module) -> None:
    """Called once a library module has executed: wrap its targets, rebind imported copies."""
    name = module.__name__
    for hook in AFTER_IMPORT_HOOKS:
        hook(module)
    for fname in PATCHES.get(name, ()):
        original = module.__dict__.get(fname)
        if original is None or hasattr(original, "__stratum_original__"):
            continue
        wrapper = _wrap(name, fname, original)
        _originals[id(original)] = (original, wrapper)
        setattr(module, fname, wrapper)
        registry.reindex()
    if _originals and name.startswith("sklearn"):
        _rebind(module)


def _rebind(module) -> None:
    for attr, value in list(module.__dict__.items()):
        hit = _originals.get(id(value))
        if hit is not None and hit[0] is value:
            setattr(module, attr, hit[1])


def patch_loaded() -> None:
    """For libraries imported before activation (long-lived interpreters)."""
    for name in PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            after_import(module)
    if _originals:
        for name, module in list(sys.modules.items()):
            if name.startswith("sklearn") and module is not None:
                _rebind(module)


def unpatch() -> None:
    for original, wrapper in _originals.values():
        for module in list(sys.modules.values()):
            d = getattr(module, "__dict__", None)
            if not d:
                continue
            for attr, value in list(d.items()):
                if value is wrapper:
                    setattr(module, attr, original)
    _originals.clear()
    registry.reindex()
