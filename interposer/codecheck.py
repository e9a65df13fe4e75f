"""Check that a code object is one CPython 3.11 can run without crashing.

CPython trusts its bytecode: a stack that underflows or outgrows ``co_stacksize``, an
exception handler entered at the wrong depth, or a ``CALL`` separated from its ``PRECALL``
(the specialised ``PRECALL`` of a builtin type performs the call itself and jumps over the
``CALL``) corrupts memory instead of raising. The rewriter (``interposer.rewrite``) and the
main-program guard (``interposer.mainguard``) emit bytecode, so tests run ``check`` on what they
emit, and ``STRATUM_VALIDATE=1`` makes the rewriter check every code object it produces.

``check(code)`` reads only the raw code object (``co_code``, ``co_exceptiontable``,
``co_linetable``) with CPython's own stack-effect table (``dis.stack_effect``). It shares only
the exception-table codec with the rewriter (which computes no stack depths and writes line
tables its own way), and raises ``InvalidCode`` listing:

* instructions: ``EXTENDED_ARG`` only as a prefix, every inline cache unit a ``CACHE``;
* stack depth along every path (jumps, exception handlers): never negative, at most
  ``co_stacksize``, the same on every path into an instruction;
* calls: ``KW_NAMES`` directly before ``PRECALL``, ``PRECALL n`` directly before ``CALL n``
  and every ``CALL`` after its ``PRECALL``, no jump or handler landing on a ``CALL``;
* exception table: sorted, non-overlapping entries on instruction boundaries, handler targets
  at instruction starts, the depth an entry unwinds to at most the depth of every instruction
  it covers;
* line table: well-formed entries covering exactly the code units.

Nested code objects (``co_consts``) are checked too. Everything is in code units (2 bytes).
"""
from __future__ import annotations

import dis
import opcode
import sys
import types
from typing import NamedTuple

SUPPORTED = sys.version_info[:2] == (3, 11)

_OP = dis.opmap
_NAME = dis.opname
_CACHES = opcode._inline_cache_entries
_EXT = _OP["EXTENDED_ARG"]
_CACHE = _OP["CACHE"]
_HAVE_ARG = dis.HAVE_ARGUMENT
_JREL = frozenset(dis.hasjrel)
_JABS = frozenset(dis.hasjabs)
_BACKWARD = frozenset(op for op in _JREL if "BACKWARD" in _NAME[op])
_NO_FALLTHROUGH = frozenset(_OP[n] for n in (
    "RETURN_VALUE", "RAISE_VARARGS", "RERAISE", "JUMP_FORWARD", "JUMP_BACKWARD",
    "JUMP_BACKWARD_NO_INTERRUPT"))


class InvalidCode(Exception):
    """A code object CPython could not run safely (the message lists every problem)."""


class Entry(NamedTuple):
    """An exception-table entry: units ``start`` to ``end`` (exclusive) go to ``target``."""
    start: int
    end: int
    target: int
    depth: int
    lasti: bool


class Instr(NamedTuple):
    start: int  # first unit (its first EXTENDED_ARG, if any)
    at: int  # the unit of the opcode itself
    op: int
    arg: int
    next: int  # the unit after the instruction and its caches


# ---- exception table ---------------------------------------------------------------------------
def parse_exception_table(table: bytes) -> list[Entry]:
    entries = []
    pos = 0

    def varint():
        nonlocal pos
        b = table[pos]
        pos += 1
        val = b & 63
        while b & 64:
            b = table[pos]
            pos += 1
            val = (val << 6) | (b & 63)
        return val

    while pos < len(table):
        start = varint()
        length = varint()
        target = varint()
        dl = varint()
        entries.append(Entry(start, start + length, target, dl >> 1, bool(dl & 1)))
    return entries


def _encode_varint(value: int, first: bool) -> bytes:
    chunks = [value & 63]
    value >>= 6
    while value:
        chunks.append(value & 63)
        value >>= 6
    chunks.reverse()
    out = bytearray(c | 64 for c in chunks[:-1])
    out.append(chunks[-1])
    if first:
        out[0] |= 128
    return bytes(out)


def encode_exception_table(entries) -> bytes:
    out = bytearray()
    for e in entries:
        out += _encode_varint(e.start, True)
        out += _encode_varint(e.end - e.start, False)
        out += _encode_varint(e.target, False)
        out += _encode_varint((e.depth << 1) | bool(e.lasti), False)
    return bytes(out)


# ---- line table --------------------------------------------------------------------------------
def no_location_entries(units: int) -> bytes:
    """Line-table entries giving ``units`` code units no source location."""
    out = bytearray()
    while units > 0:
        n = min(units, 8)
        out.append(0x80 | (15 << 3) | (n - 1))
        units -= n
    return bytes(out)


def _check_linetable(code: types.CodeType, problems: list) -> None:
    data = code.co_linetable
    pos, line, units = 0, code.co_firstlineno, 0

    def byte(raw=True):
        nonlocal pos
        if pos >= len(data):
            raise IndexError
        b = data[pos]
        pos += 1
        if b & 128 and not raw:  # only a raw column byte may look like an entry start
            raise ValueError
        return b

    def varint():
        b = byte(False)
        val, shift = b & 63, 0
        while b & 64:
            b = byte(False)
            shift += 6
            val |= (b & 63) << shift
        return val

    def svarint():
        v = varint()
        return -(v >> 1) if v & 1 else v >> 1

    try:
        while pos < len(data):
            head = data[pos]
            pos += 1
            if not head & 128:
                problems.append(f"line table: entry at byte {pos - 1} lacks its start bit")
                return
            kind, length = (head >> 3) & 15, (head & 7) + 1
            if kind == 14:
                line += svarint()
                end_line = line + varint()
                varint(), varint()
                if end_line < line:
                    problems.append(f"line table: end line {end_line} before line {line}")
            elif kind == 13:
                line += svarint()
            elif kind in (10, 11, 12):
                line += kind - 10
                byte(), byte()
            elif kind != 15:
                byte()
            if kind != 15 and line < 0:
                problems.append(f"line table: negative line {line}")
            units += length
    except (IndexError, ValueError):
        problems.append(f"line table: truncated or malformed entry near byte {pos}")
        return
    n = len(code.co_code) // 2
    if units != n:
        problems.append(f"line table covers {units} code units, code has {n}")


# ---- instructions and stack depth --------------------------------------------------------------
def instructions(code: types.CodeType, problems: list) -> list[Instr]:
    co = code.co_code
    n = len(co) // 2
    out = []
    i, ext, start = 0, 0, None
    while i < n:
        op, arg = co[2 * i], co[2 * i + 1]
        if start is None:
            start = i
        if op == _EXT:
            ext = (ext | arg) << 8
            i += 1
            continue
        if op == _CACHE:
            problems.append(f"unit {i}: CACHE outside an instruction's caches")
        full = ext | arg if op >= _HAVE_ARG else 0
        nxt = i + 1 + _CACHES[op]
        for c in range(i + 1, min(nxt, n)):
            if co[2 * c] != _CACHE:
                problems.append(f"unit {c}: {_NAME[co[2 * c]]} where {_NAME[op]} has a cache")
        if nxt > n:
            problems.append(f"unit {i}: {_NAME[op]} runs past the end of the code")
        out.append(Instr(start, i, op, full, nxt))
        i, ext, start = nxt, 0, None
    if start is not None:
        problems.append("code ends with EXTENDED_ARG")
    return out


def _jump_target(ins: Instr):
    if ins.op in _JREL:
        return ins.at + 1 - ins.arg if ins.op in _BACKWARD else ins.at + 1 + ins.arg
    if ins.op in _JABS:
        return ins.arg
    return None


def _effect(ins: Instr, jump: bool) -> int:
    if ins.op == _OP["RETURN_GENERATOR"]:
        return 1  # resuming the generator pushes the sent value (popped by the next POP_TOP)
    if ins.op < _HAVE_ARG:
        return dis.stack_effect(ins.op)
    return dis.stack_effect(ins.op, ins.arg, jump=jump)


def check(code: types.CodeType, nested: bool = True) -> None:
    """Raise ``InvalidCode`` if ``code`` (or, with ``nested``, a code object in its constants)
    is not safe to run; see the module docstring for what is checked."""
    problems = problems_of(code)
    if problems:
        raise InvalidCode(f"{code.co_qualname} ({code.co_filename}:{code.co_firstlineno}): "
                          + "; ".join(problems[:20]))
    if nested:
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                check(c)


def problems_of(code: types.CodeType) -> list[str]:
    """Every problem of ``code`` itself (not of nested code objects)."""
    problems: list[str] = []
    n = len(code.co_code) // 2
    instrs = instructions(code, problems)
    by_start = {ins.start: k for k, ins in enumerate(instrs)}
    bounds = set(by_start) | {ins.at for ins in instrs}
    entries = parse_exception_table(code.co_exceptiontable)
    _check_linetable(code, problems)

    # exception table shape
    last_end = 0
    for e in entries:
        if not (0 <= e.start < e.end <= n):
            problems.append(f"exception entry {e} outside the code")
            continue
        if e.start < last_end:
            problems.append(f"exception entry {e} overlaps or is out of order")
        last_end = e.end
        # A range may start or end at an instruction's own unit after its EXTENDED_ARG
        # prefixes (CPython looks entries up by the unit of the executing opcode, and a prefix
        # cannot raise): the ``bytecode`` package, which the rewriter once used, lays some
        # ranges out that way.
        if e.start not in bounds or (e.end < n and e.end not in bounds):
            problems.append(f"exception entry {e} not on instruction boundaries")
        if e.target not in by_start:
            problems.append(f"exception entry {e}: handler not at an instruction start")
        if e.depth + e.lasti + 1 > code.co_stacksize:
            problems.append(f"exception entry {e}: handler depth above co_stacksize "
                            f"{code.co_stacksize}")
    handler_of = {}
    for e in entries:
        for u in range(max(e.start, 0), min(e.end, n)):
            handler_of[u] = e

    # calls
    for k, ins in enumerate(instrs):
        name = _NAME[ins.op]
        after = instrs[k + 1] if k + 1 < len(instrs) else None
        if name == "KW_NAMES" and (after is None or _NAME[after.op] != "PRECALL"):
            problems.append(f"unit {ins.at}: KW_NAMES not directly before PRECALL")
        if name == "PRECALL" and (after is None or _NAME[after.op] != "CALL"
                                  or after.arg != ins.arg):
            problems.append(f"unit {ins.at}: PRECALL {ins.arg} not directly before CALL {ins.arg}")
        if name == "CALL":
            before = instrs[k - 1] if k else None
            if before is None or _NAME[before.op] != "PRECALL" or before.arg != ins.arg:
                problems.append(f"unit {ins.at}: CALL {ins.arg} not directly after its PRECALL")
    call_starts = {ins.start for ins in instrs if _NAME[ins.op] == "CALL"}
    for ins in instrs:
        t = _jump_target(ins)
        if t is not None and t in call_starts:
            problems.append(f"unit {ins.at}: jump lands on a CALL (unit {t})")
    for e in entries:
        if e.target in call_starts:
            problems.append(f"exception entry {e}: handler is a CALL")

    # stack depth along every path
    depth_at: dict[int, int] = {}
    work: list[tuple[int, int, int]] = [(0, 0, -1)]  # (unit, depth, from unit)

    def arrive(unit: int, depth: int, source: int) -> None:
        if unit not in by_start:
            problems.append(f"unit {source}: control goes to unit {unit}, not an instruction start")
            return
        if depth < 0:
            problems.append(f"unit {source}: stack depth {depth} below zero")
            return
        if depth > code.co_stacksize:
            problems.append(f"unit {source}: stack depth {depth} above co_stacksize "
                            f"{code.co_stacksize}")
            return
        seen = depth_at.get(unit)
        if seen is None:
            depth_at[unit] = depth
            work.append((unit, depth, source))
        elif seen != depth:
            problems.append(f"unit {unit}: reached with stack depth {seen} and {depth}")

    if n:
        depth_at[0] = 0
    while work and len(problems) < 50:
        unit, depth, _ = work.pop()
        ins = instrs[by_start[unit]]
        e = handler_of.get(ins.at)
        if e is not None:
            if depth < e.depth:
                problems.append(f"unit {ins.at}: stack depth {depth} below its handler's {e.depth}")
            arrive(e.target, e.depth + e.lasti + 1, ins.at)
        target = _jump_target(ins)
        if target is not None:
            arrive(target, depth + _effect(ins, True), ins.at)
        if ins.op not in _NO_FALLTHROUGH:
            after = depth + _effect(ins, False)
            if ins.next >= n:
                problems.append(f"unit {ins.at}: execution runs off the end of the code")
            else:
                arrive(ins.next, after, ins.at)
        elif ins.op not in _JREL and ins.op not in _JABS:
            if depth + _effect(ins, False) < 0:
                problems.append(f"unit {ins.at}: {_NAME[ins.op]} pops an empty stack")
    return problems
