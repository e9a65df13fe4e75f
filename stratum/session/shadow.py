"""Does a folder of the user's shadow a module stratum imports for itself?

Python puts the script's folder (``''`` for ``-c``, the current folder for ``-m``) and the
``PYTHONPATH`` entries ahead of the installation on ``sys.path``. A user file named like a
module (``numpy.py``, ``json.py``) then wins every import of that name in the process, the
libraries' and stratum's included. Plain python imports it when the script (or a library the
script imports) first asks for that name; stratum asks for its own modules at other moments (the
engine imports numpy at the first traced call, the cache imports ``hmac`` ...), so the user's
file would run at another time, or stratum would get the user's module instead of the library's
and fail in its own code: ``python -m stratum s.py`` next to a ``numpy.py`` died with
``partially initialized module 'numpy'`` where plain python printed the script's output.

A process cannot hold two modules of one name, so such a run cannot be traced exactly. The rule:
when a user folder provides a module that stratum may import on its own (:data:`OWN_MODULES`)
and that is not imported yet, stratum does not switch on and the script runs plain, silently;
``--explain`` says why (``stratum.session.activation``). A name already in ``sys.modules`` is
safe: the user's file can no longer be imported under it, by stratum or by the script.

:data:`OWN_MODULES` is data: the top-level modules stratum's code imports, with everything those
import in turn, as :func:`compute` finds them in a fresh interpreter (``python -m
stratum.session.shadow`` prints the list; ``tests/test_shadow.py`` checks it is current). It
leaves out what only the client side of a cluster, the command line and the demo import, which
never run in a script's process.
"""
from __future__ import annotations

import os
import sys

#: Top-level module names stratum imports on its own behalf, directly or through another
#: module. Regenerate with ``python -m stratum.session.shadow`` (tests/test_shadow.py).
OWN_MODULES = frozenset("""
__future__ _abc _ast _asyncio _bisect _blake2 _bz2 _cffi_backend _codecs _collections
_collections_abc _compat_pickle _compression _contextvars _csv _ctypes _cython_3_2_4 _datetime
_decimal _distutils_hack _frozen_importlib _frozen_importlib_external _functools _hashlib
_heapq _imp _io _json _locale _lzma _opcode _operator _pickle _posixsubprocess _queue _random
_sha512 _signal _sitebuiltins _socket _sqlite3 _sre _ssl _stat _statistics _string _struct
_sysconfigdata__linux_x86_64-linux-gnu _thread _typing _uuid _warnings _weakref _weakrefset abc
argparse array ast asyncio atexit base64 binascii bisect builtins bytecode bz2 calendar cffi
codecs collections colorsys concurrent configparser contextlib contextvars copy copyreg csv
ctypes cython_runtime dataclasses datetime decimal difflib dis email encodings enum errno fcntl
fnmatch fractions fsspec functools gc genericpath gettext glob gzip hashlib heapq hmac html
importlib inspect interposer io ipaddress itertools json keyword linecache locale logging lzma
marshal math mmap ntpath numbers numpy opcode operator os pathlib pickle pkgutil platform posix
posixpath queue quopri random re reprlib resource rich runpy secrets select selectors shlex
shutil signal site socket sqlite3 ssl stat statistics stratum string struct subprocess sys
sysconfig tempfile textwrap threading threadpoolctl time token tokenize traceback types typing
urllib uuid warnings weakref zipfile zipimport zlib
""".split())

#: Parts of stratum that never run in a script's process, left out of :func:`compute`.
NOT_IN_A_RUN = ("stratum.distributed", "stratum.cli", "stratum.__main__", "stratum.client",
                "stratum.server.client")

_folders: dict = {}


def folder_modules(folder: str) -> set[str]:
    """Top-level module names a folder provides (``x.py``, packages, extension modules);
    cached per folder for the life of the process."""
    got = _folders.get(folder)
    if got is not None:
        return got
    import importlib.machinery

    names = set()
    suffixes = tuple(importlib.machinery.all_suffixes())
    try:
        for entry in os.scandir(folder or "."):
            if entry.is_dir():
                names.add(entry.name)
            else:
                for suf in suffixes:
                    if entry.name.endswith(suf):
                        names.add(entry.name[: -len(suf)])
                        break
    except OSError:
        pass
    _folders[folder] = names
    return names


def user_path_entries(path: list[str] | None = None) -> list[str]:
    """The ``sys.path`` entries ahead of the standard library's: the script's folder (or
    ``''``) and the ``PYTHONPATH`` entries; the standard library's zip entry (on the path
    whether or not it exists) or its folder ends them. An entry that is an installation
    folder (``PYTHONPATH`` naming site-packages, or a folder also on the path after the
    standard library) holds the real modules, not the user's."""
    entries = sys.path if path is None else path
    zip_name = f"python{sys.version_info[0]}{sys.version_info[1]}.zip"
    stdlib = os.path.dirname(os.__file__)
    out = []
    for i, entry in enumerate(entries):
        if entry.endswith(zip_name) or entry == stdlib:
            installed = _installation_folders() | {os.path.realpath(e) for e in entries[i:] if e}
            return [e for e in out if not e or os.path.realpath(e) not in installed]
        out.append(entry)
    return out


def _installation_folders() -> set[str]:
    """This interpreter's site-packages folders (``site`` leaves one out of the path when
    ``PYTHONPATH`` already names it, so the path alone does not tell)."""
    import site
    import sysconfig

    folders = {sysconfig.get_paths().get(k) for k in ("purelib", "platlib")}
    try:
        folders.update(site.getsitepackages())
        folders.add(site.getusersitepackages())
    except AttributeError:  # a virtualenv's old site.py
        pass
    return {os.path.realpath(f) for f in folders if f}


def shadowed(path: list[str] | None = None) -> tuple[str, str] | None:
    """(folder, module name) of the first user folder file that would shadow a module stratum
    imports for itself and has not imported yet; None when there is none."""
    loaded = sys.modules
    clashes = []
    for entry in _ahead_of_stdlib(path):
        clash = sorted(n for n in folder_modules(entry) & OWN_MODULES if n not in loaded)
        if clash:
            clashes.append((entry, clash[0]))
    if clashes:  # only now ask which are installation folders (sysconfig is slow to ask)
        users = set(user_path_entries(path))
        for entry, name in clashes:
            if entry in users:
                return os.path.abspath(entry or "."), name
    return None


def _ahead_of_stdlib(path: list[str] | None = None) -> list[str]:
    """The ``sys.path`` entries before the standard library's (see :func:`user_path_entries`,
    which also leaves out installation folders)."""
    entries = sys.path if path is None else path
    zip_name = f"python{sys.version_info[0]}{sys.version_info[1]}.zip"
    stdlib = os.path.dirname(os.__file__)
    out = []
    for entry in entries:
        if entry.endswith(zip_name) or entry == stdlib:
            return out
        out.append(entry)
    return out


def compute() -> list[str]:
    """The top-level modules a fresh interpreter holds after importing every module of
    stratum that can run in a script's process, and every module their code imports, also
    inside functions (found in their source). Run it in a fresh interpreter."""
    import ast
    import importlib
    import pkgutil

    import interposer
    import stratum

    def wanted(name: str) -> bool:
        return not any(name == p or name.startswith(p + ".") for p in NOT_IN_A_RUN)

    modules = ["stratum", "interposer"]
    for pkg in (stratum, interposer):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if wanted(info.name):
                modules.append(info.name)
    imported: set[str] = set()
    for name in modules:
        if not wanted(name):
            continue
        mod = importlib.import_module(name)
        src = getattr(mod, "__file__", None)
        if not src or not src.endswith(".py"):
            continue
        with open(src, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module)
    from interposer.libraries import TRACED_LIBRARIES

    theirs = set(TRACED_LIBRARIES) - {"numpy"}  # numpy: the engine imports it in every run
    for name in sorted(imported):
        top = name.partition(".")[0]
        if top in theirs or top in ("stratum", "interposer") and not wanted(name):
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional dependency that is not installed
    # The traced libraries other than numpy: stratum imports from them only once the script
    # did (their own imports happen in plain python as well).
    return sorted({m.partition(".")[0] for m in sys.modules} - theirs - {"__main__"})


if __name__ == "__main__":
    print(" ".join(compute()))
