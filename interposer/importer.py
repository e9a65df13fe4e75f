"""A meta-path finder: user modules are rewritten as they are imported; traced libraries get
their import-time patches right after they execute.

It delegates finding to the rest of ``sys.meta_path`` and only wraps the loader, so module
specs, ``__file__``, packages and reloads behave as without it.
"""
from __future__ import annotations

import importlib.machinery
import sys

from interposer import patches, registry, rewrite, userfiles

_PATCH_ROOTS = ("sklearn",)


class _RewritingLoader(importlib.machinery.SourceFileLoader):
    """Source loader whose code objects are rewritten (no bytecode cache: rewritten code holds
    references to dispatch functions and cannot be marshalled)."""

    def source_to_code(self, data, path, *, _optimize=-1):
        return rewrite.rewrite(compile(data, path, "exec", dont_inherit=True, optimize=_optimize))

    def get_code(self, fullname):
        source = self.get_source(fullname)
        return self.source_to_code(source.encode() if isinstance(source, str) else source,
                                   self.get_filename(fullname))


class _PatchingLoader:
    """Wraps a library module's loader: the import-time patches run once it executed. (Not an
    ``importlib.abc.Loader`` subclass: the import system only calls these methods, and
    ``importlib.abc`` costs a few milliseconds of every run's start-up to import.)"""

    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        patches.after_import(module)
        _indexed(module)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _IndexingLoader(_PatchingLoader):
    """Wraps the loader of a submodule the registry's rows name but found not imported yet
    (``registry.PENDING``, e.g. ``numpy.random``): once it executed, its rows are indexed."""

    def exec_module(self, module):
        self.inner.exec_module(module)
        _indexed(module)


def _indexed(module) -> None:
    if module.__name__ in registry.PENDING:
        registry.PENDING.discard(module.__name__)
        registry.reindex()


class Finder:
    def __init__(self):
        self._busy = False

    def find_spec(self, fullname, path, target=None):
        if self._busy:
            return None
        self._busy = True
        spec = None
        try:
            # The other finders in python's own order: built-in and frozen modules are found
            # before any directory of sys.path is searched for them.
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is not None:
                    spec = find(fullname, path, target)
                    if spec is not None:
                        break
        finally:
            self._busy = False
        if spec is None or spec.loader is None:
            return None
        root = fullname.partition(".")[0]
        if root in _PATCH_ROOTS:
            spec.loader = _PatchingLoader(spec.loader)
        elif fullname in registry.PENDING:
            spec.loader = _IndexingLoader(spec.loader)
        elif (isinstance(spec.loader, importlib.machinery.SourceFileLoader)
              and spec.origin and userfiles.is_user_file(spec.origin) and rewrite.SUPPORTED):
            spec.loader = _RewritingLoader(fullname, spec.origin)
        return spec


_finder: Finder | None = None


def install() -> None:
    global _finder
    if _finder is None:
        _finder = Finder()
        sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    global _finder
    if _finder is not None:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        _finder = None
