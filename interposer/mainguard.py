"""See how the main program ends, from inside its own frame (``STRATUM=1`` runs).

Under ``python -m stratum`` the runner calls the script and sees its exception. Under
``STRATUM=1 python script.py`` python runs the script and handles its end in C: tracebacks are
printed by the C default hook (not through ``traceback``, so stratum's own frames would show)
and a ``SystemExit`` is turned into the exit status where no Python code can read it. The
main module's rewritten code therefore gets one more exception-table entry covering every
instruction no ``try`` of the user's covers; its handler passes the exception to a callback
(which records the exit status and strips stratum's frames) and re-raises it unchanged. A
re-raise adds no traceback entry, so python then prints and exits exactly as it would have.
"""
from __future__ import annotations

import types

from bytecode import ConcreteBytecode, ConcreteInstr
from bytecode.concrete import ExceptionTableEntry

_CACHES = {"PRECALL": 1, "CALL": 4}


def guard(code: types.CodeType, on_exception) -> types.CodeType:
    """``code`` (a module body) with ``on_exception(exc)`` called on any exception leaving it."""
    cb = ConcreteBytecode.from_code(code)
    n = len(cb)
    hook = len(cb.consts)
    cb.consts.append(on_exception)
    # Laid out as the compiler lays out ``except BaseException: hook(exc); raise``: entered
    # with the stack unwound to depth 0, the cleanup entered at depth 1 (the previous exception).
    handler = [
        ConcreteInstr("PUSH_EXC_INFO"),          # [exc] -> [prev_exc, exc]
        ConcreteInstr("PUSH_NULL"),
        ConcreteInstr("LOAD_CONST", hook),
        ConcreteInstr("COPY", 3),                # the exception
        ConcreteInstr("PRECALL", 1),
        ConcreteInstr("CALL", 1),
        ConcreteInstr("POP_TOP"),
        ConcreteInstr("RERAISE", 0),
    ]
    cleanup = [ConcreteInstr("COPY", 3), ConcreteInstr("POP_EXCEPT"), ConcreteInstr("RERAISE", 1)]
    body = []
    for instr in handler:
        body.append(instr)
        body.extend(ConcreteInstr("CACHE", 0) for _ in range(_CACHES.get(instr.name, 0)))
    cleanup_at = n + len(body)
    covered = [False] * n
    for entry in cb.exception_table:
        for i in range(entry.start_offset, min(entry.stop_offset, n - 1) + 1):
            covered[i] = True
    entries = list(cb.exception_table)
    start = None
    for i in range(n + 1):
        gap = i < n and not covered[i]
        if gap and start is None:
            start = i
        elif not gap and start is not None:
            entries.append(ExceptionTableEntry(start, i - 1, n, 0, False))
            start = None
    entries.append(ExceptionTableEntry(n, cleanup_at - 1, cleanup_at, 1, True))
    cb.extend(body)
    cb.extend(cleanup)
    cb.exception_table = sorted(entries, key=lambda e: e.start_offset)
    return cb.to_code(stacksize=max(code.co_stacksize, 6), compute_exception_stack_depths=False)
