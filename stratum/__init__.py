"""stratum: run unmodified pandas / numpy / scikit-learn scripts, trace them, reuse their work.

Three ways in: ``python -m stratum script.py``; ``STRATUM=1 python script.py`` (any command
line, child processes included); and in a long-lived interpreter ``stratum.activate()`` /
``stratum.deactivate()`` or, in IPython / Jupyter, ``%load_ext stratum``.
"""
__version__ = "0.1.0"


# ---- a source checkout without its built extension -------------------------------------------
# Run from a clone's root, ``import stratum`` finds the source tree (the current folder comes
# first on sys.path) while the Rust extension ``stratum/_native*.so`` exists only in the copy
# ``pip install .`` installed. numpy refuses to import from its source tree; stratum does what
# the user meant instead: when this package is a checkout (``pyproject.toml`` beside it) with
# no extension, and a complete copy is installed further down sys.path, that copy (with its
# ``interposer``) is imported in its place. With no installed copy, ``checkout_problem()``
# gives the one line the command line and ``doctor`` print.
def _has_native(folder: str) -> bool:
    import os
    from importlib.machinery import EXTENSION_SUFFIXES

    return any(os.path.isfile(os.path.join(folder, "_native" + s)) for s in EXTENSION_SUFFIXES)


def _bare_checkout(folder: str) -> str | None:
    """The checkout's root if ``folder`` is a source tree's package without the extension."""
    import os

    root = os.path.dirname(folder)
    if _has_native(folder) or not os.path.isfile(os.path.join(root, "pyproject.toml")):
        return None
    return root


def _installed_copy(root: str, path: list[str]) -> str | None:
    """The folder of another ``stratum`` package on ``path`` (``root`` left out) that has its
    built extension, or None."""
    import os
    from importlib.machinery import PathFinder

    real = os.path.realpath(root)
    others = [p for p in path if isinstance(p, str)
              and os.path.realpath(p or os.getcwd()) != real]
    spec = PathFinder.find_spec("stratum", others)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.realpath(list(spec.submodule_search_locations)[0])
    return folder if _has_native(folder) else None


def _use_installed_copy():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    root = _bare_checkout(here)
    if root is None or os.environ.get("STRATUM_FROM_CHECKOUT"):
        return None
    installed = _installed_copy(root, sys.path)
    if installed is None:
        return None
    import importlib.util

    def load(name: str, folder: str):
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        return spec, module

    site = os.path.dirname(installed)
    loaded = sys.modules.get("interposer")
    if os.path.isdir(os.path.join(site, "interposer")) and (
            loaded is None or os.path.realpath(os.path.dirname(loaded.__file__ or "")) ==
            os.path.realpath(os.path.join(root, "interposer"))):
        spec, module = load("interposer", os.path.join(site, "interposer"))
        spec.loader.exec_module(module)
    spec, module = load("stratum", installed)
    module._checkout_shadowed = root  # doctor says which copy runs and why
    spec.loader.exec_module(module)
    return module


def checkout_problem() -> str | None:
    """Why ``stratum._native`` cannot be imported if this is a checkout without its extension
    (one line naming the cause and the fix), else None."""
    import os

    root = _bare_checkout(os.path.dirname(os.path.abspath(__file__)))
    if root is None:
        return None
    return (f"running from a source checkout without its built extension ({root}); "
            "run from another folder, or install in editable mode: pip install -e .")


if __name__ == "stratum" and _use_installed_copy() is not None:
    pass  # ``import stratum`` now returns the installed copy (sys.modules["stratum"])


def activate():
    """Turn stratum on in this interpreter (a REPL, a notebook, a worker). Returns the session,
    or None when stratum cannot run here (the reason is printed on stderr)."""
    from stratum.session import interactive

    return interactive.activate()


def deactivate() -> None:
    """Turn stratum off in this interpreter and record the session's trace."""
    from stratum.session import interactive

    interactive.deactivate()


def load_ipython_extension(ip) -> None:
    from stratum.session import interactive

    interactive.load_ipython_extension(ip)


def unload_ipython_extension(ip) -> None:
    from stratum.session import interactive

    interactive.unload_ipython_extension(ip)
