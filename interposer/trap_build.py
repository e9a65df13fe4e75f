"""cffi builder of the PEP 523 entry trap (`stratum._trap`, C source in `_trap.c`).

Normally not run by hand: ``native/build.rs`` runs ``python trap_build.py --emit OUT.c`` with the
interpreter the extension is built for and compiles the emitted C into ``stratum._native``
(defines ``Py_BUILD_CORE`` and ``_CFFI_NO_LIMITED_API``); ``stratum._native`` then initialises
the module and registers it as ``sys.modules["stratum._trap"]``.

``python trap_build.py --compile DIR`` builds a standalone ``stratum/_trap*.so`` under DIR (for
debugging the C code without cargo).
"""
from __future__ import annotations

import sys
from pathlib import Path

MODULE_NAME = "stratum._trap"
SOURCE = Path(__file__).with_name("_trap.c")
DEFINES = [("Py_BUILD_CORE", None), ("_CFFI_NO_LIMITED_API", None)]

CDEF = """
int stratum_trap_install(void);
int stratum_trap_uninstall(void);
int stratum_trap_installed(void);
long long stratum_trap_stats(int which);
"""


def unsupported_reason() -> str | None:
    """Why the trap cannot be built for the running interpreter, or None if it can."""
    if sys.implementation.name != "cpython":
        return f"the entry trap needs CPython, not {sys.implementation.name}"
    if sys.version_info[:2] != (3, 11):
        return "the entry trap supports CPython 3.11 only (building for %d.%d)" % sys.version_info[:2]
    return None


def make_ffi():
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(MODULE_NAME, SOURCE.read_text(encoding="utf-8"), define_macros=DEFINES)
    return ffi


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("--emit", "--compile"):
        print("usage: trap_build.py --emit OUT.c | --compile DIR", file=sys.stderr)
        return 2
    reason = unsupported_reason()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 3
    try:
        ffi = make_ffi()
    except ImportError as exc:
        print(f"cffi is not available: {exc}", file=sys.stderr)
        return 4
    if argv[0] == "--emit":
        ffi.emit_c_code(argv[1])
    else:
        print(ffi.compile(tmpdir=argv[1], verbose=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
