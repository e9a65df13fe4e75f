"""See how the main program ends, from inside its own frame (``STRATUM=1`` runs).

Under ``python -m stratum`` the runner calls the script and sees its exception. Under
``STRATUM=1 python script.py`` python runs the script and handles its end in C: tracebacks are
printed by the C default hook (not through ``traceback``, so stratum's own frames would show)
and a ``SystemExit`` is turned into the exit status where no Python code can read it. The
main module's rewritten code therefore gets one more exception-table entry covering every
instruction no ``try`` of the user's covers; its handler passes the exception to a callback
(which records the exit status and strips stratum's frames) and re-raises it unchanged. A
re-raise adds no traceback entry, so python then prints and exits exactly as it would have.

Everything is counted in code units (2 bytes), as CPython counts exception-table offsets:
``EXTENDED_ARG`` prefixes and inline caches are units like any other. The handler is appended
after the last unit, so no existing offset, jump or line-table entry moves; the appended
units get "no location" line-table entries.
"""
from __future__ import annotations

import dis
import opcode
import types

from interposer import codecheck

_OP = dis.opmap
_CACHES = opcode._inline_cache_entries  # opcode -> number of inline CACHE units after it


def _emit(name: str, arg: int = 0) -> bytes:
    """One instruction in code units: ``EXTENDED_ARG`` prefixes, the op, its CACHE units."""
    op = _OP[name]
    out = bytearray()
    for shift in (24, 16, 8):
        if arg >> shift:
            out += bytes((_OP["EXTENDED_ARG"], (arg >> shift) & 0xFF))
    out += bytes((op, arg & 0xFF))
    out += bytes(2 * _CACHES[op])
    return bytes(out)


def guard(code: types.CodeType, on_exception) -> types.CodeType:
    """``code`` (a module body) with ``on_exception(exc)`` called on any exception leaving it."""
    n = len(code.co_code) // 2
    hook = len(code.co_consts)
    # Laid out as the compiler lays out ``except BaseException: hook(exc); raise``: entered
    # with the stack unwound to depth 0, the cleanup entered at depth 1 (the previous exception).
    handler = b"".join([
        _emit("PUSH_EXC_INFO"),          # [exc] -> [prev_exc, exc]
        _emit("PUSH_NULL"),
        _emit("LOAD_CONST", hook),
        _emit("COPY", 3),                # the exception
        _emit("PRECALL", 1),
        _emit("CALL", 1),
        _emit("POP_TOP"),
        _emit("RERAISE", 0),
    ])
    cleanup = _emit("COPY", 3) + _emit("POP_EXCEPT") + _emit("RERAISE", 1)
    cleanup_at = n + len(handler) // 2
    end = cleanup_at + len(cleanup) // 2
    entries = codecheck.parse_exception_table(code.co_exceptiontable)
    covered = bytearray(n)
    for e in entries:
        covered[e.start:e.end] = b"\x01" * (e.end - e.start)
    start = None
    for i in range(n + 1):
        gap = i < n and not covered[i]
        if gap and start is None:
            start = i
        elif not gap and start is not None:
            entries.append(codecheck.Entry(start, i, n, 0, False))
            start = None
    entries.append(codecheck.Entry(n, cleanup_at, cleanup_at, 1, True))
    entries.sort(key=lambda e: e.start)
    return code.replace(
        co_code=code.co_code + handler + cleanup,
        co_consts=code.co_consts + (on_exception,),
        co_exceptiontable=codecheck.encode_exception_table(entries),
        co_linetable=code.co_linetable + codecheck.no_location_entries(end - n),
        co_stacksize=max(code.co_stacksize, 5),
    )
