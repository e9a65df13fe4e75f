"""Ahead-of-time bytecode rewrite of *user* code objects (CPython 3.11).

Operations on library objects must be visible even when they are C slots that cannot be
patched (numpy arithmetic, ``a[i] = v``). The rewrite routes them through the functions of
``interposer.dispatch``, which pass plain Python values straight through and hand library
values to the engine:

* call sites: the callable expression's value goes through ``_call(f)``; ``obj.m(...)``
  (``LOAD_METHOD``) becomes ``_method(obj, "m")(...)``;
* ``BINARY_OP`` (also in-place), ``COMPARE_OP``, unary ``-``/``~``, ``x[k]``, ``x[k] = v``,
  ``del x[k]``, ``obj.a = v`` and attribute loads ``obj.a`` become dispatch calls;
* f-strings (``FORMAT_VALUE``, ``BUILD_STRING``): formatting a library value, and text built
  from such formatted values, is traced so replay can recompute printed text.

Every inserted instruction carries the source location of the instruction it replaces, so
tracebacks (lines and ``^^^`` ranges) read as they would without the rewrite. Library and
stdlib code is never rewritten; nested code objects (functions, classes, comprehensions) are.
``STRATUM_VALIDATE=1`` checks every rewritten code object with ``interposer.codecheck``
(stack depths, call sequences, exception and line tables) and raises ``InvalidCode`` instead
of running code that could crash CPython; the tests check what the rewriter emits the same way.
"""
from __future__ import annotations

import bisect
import dis
import opcode
import os
import sys
import types
from typing import Any

from interposer import codecheck, dispatch

SUPPORTED = sys.version_info[:2] == (3, 11)

VALIDATE = os.environ.get("STRATUM_VALIDATE", "").strip().lower() not in ("", "0", "false", "no")

#: Stack slots a rewritten code object may need beyond the original's ``co_stacksize``: the
#: deepest inserted sequence, ``LOAD_METHOD``'s (``[obj] -> NULL, NULL, _method, obj, name``),
#: peaks 3 above the original's depth there; the rest is margin (a slot costs 8 bytes a frame).
EXTRA_STACK = 6

# Marker constant so a code object is never rewritten twice (kept in co_consts).
MARK = "__stratum_rewritten__"

_BINARY_FUNCS = dispatch.BINARY_OPS  # index = BINARY_OP arg
_COMPARE_FUNCS = [dispatch.COMPARE_OPS[name] for name in ("LT", "LE", "EQ", "NE", "GT", "GE")]

_OP = dis.opmap
_CACHES = opcode._inline_cache_entries  # opcode -> number of inline CACHE units after it
_EXT = _OP["EXTENDED_ARG"]
_HAVE_ARG = dis.HAVE_ARGUMENT
_JUMPS = frozenset(dis.hasjrel)  # 3.11 has relative jumps only (``dis.hasjabs`` is empty)
_BACKWARD = frozenset(op for op in _JUMPS if "BACKWARD" in dis.opname[op])
_UNCOND = frozenset(_OP[n] for n in ("JUMP_FORWARD", "JUMP_BACKWARD",
                                     "JUMP_BACKWARD_NO_INTERRUPT"))
_ENDS_FLOW = frozenset(_OP[n] for n in ("RETURN_VALUE", "RAISE_VARARGS", "RERAISE"))
_PUSH_NULL, _LOAD_GLOBAL = _OP["PUSH_NULL"], _OP["LOAD_GLOBAL"]
_CALL, _CALL_EX = _OP["CALL"], _OP["CALL_FUNCTION_EX"]
_PRECALL, _KW_NAMES = _OP["PRECALL"], _OP["KW_NAMES"]
_SWAP, _LOAD_CONST, _POP_TOP, _BUILD_TUPLE = (_OP["SWAP"], _OP["LOAD_CONST"], _OP["POP_TOP"],
                                              _OP["BUILD_TUPLE"])
_LOAD_METHOD, _LOAD_ATTR, _STORE_ATTR = _OP["LOAD_METHOD"], _OP["LOAD_ATTR"], _OP["STORE_ATTR"]
_BINARY_OP, _COMPARE_OP = _OP["BINARY_OP"], _OP["COMPARE_OP"]
_BINARY_SUBSCR, _STORE_SUBSCR, _DELETE_SUBSCR = (_OP["BINARY_SUBSCR"], _OP["STORE_SUBSCR"],
                                                 _OP["DELETE_SUBSCR"])
_UNARY_NEGATIVE, _UNARY_INVERT = _OP["UNARY_NEGATIVE"], _OP["UNARY_INVERT"]
_FORMAT_VALUE, _BUILD_STRING = _OP["FORMAT_VALUE"], _OP["BUILD_STRING"]


def is_rewritten(code: types.CodeType) -> bool:
    return MARK in code.co_consts


def rewrite(code: types.CodeType) -> types.CodeType:
    """Return a rewritten copy of ``code`` (and of every code object nested in it)."""
    if not SUPPORTED or is_rewritten(code):
        return code
    new = _Rewrite(code).code()
    if VALIDATE:
        codecheck.check(new, nested=False)  # nested code objects were checked by their rewrite
    return new


class _Rewrite:
    """One code object, read from its raw tables, rewritten, and assembled again.

    The instructions are read from ``co_code`` (``EXTENDED_ARG`` prefixes folded into their
    argument, inline caches dropped), each with its source position and, for a jump, the index
    of the instruction it jumps to. Rewriting maps every instruction to a block of new ones:
    the instruction itself or the dispatch sequence replacing it, after it the ``_call``
    wrapper where a callable expression ends, and before it the wrapper where such an
    expression ends at a point branches join (jumps to the instruction then land on the
    wrapper, so every path is wrapped). Assembly lays the blocks out again: jump arguments and
    their ``EXTENDED_ARG`` prefixes until the sizes settle, the exception table (an entry
    covering instructions ``s`` to ``e`` covers their blocks; handlers start at their block)
    and the line table (every unit of a new instruction, prefixes and caches included, at the
    position of the instruction it came from). The original constants keep their indexes (a
    function's docstring stays ``co_consts[0]``); dispatch functions and attribute names are
    appended; ``co_names`` is unchanged.

    Neither the stack size nor the exception table's depths are computed again: each inserted
    sequence replaces one instruction and reaches at most EXTRA_STACK items above the depth
    the code had there, and the sequences sit inside their instruction's handler ranges,
    above each range's base depth. ``codecheck`` checks both independently (tests,
    STRATUM_VALIDATE).
    """

    def __init__(self, code: types.CodeType):
        self.src = code
        self.consts = list(code.co_consts)
        self.const_index: dict = {}  # key of an appended constant -> its index
        co = code.co_code
        positions = list(code.co_positions())
        positions += [(None, None, None, None)] * (len(co) // 2 - len(positions))  # no table
        ops, args, locs, starts, ats = [], [], [], [], []
        unit_index = [0] * (len(co) // 2 + 1)  # code unit -> index of its instruction
        i, n, ext, start = 0, len(co) // 2, 0, 0
        while i < n:
            op = co[2 * i]
            if op == _EXT:
                ext = (ext | co[2 * i + 1]) << 8
                i += 1
                continue
            nxt = i + 1 + _CACHES[op]
            k = len(ops)
            unit_index[start:nxt] = [k] * (nxt - start)
            ops.append(op)
            args.append(ext | co[2 * i + 1] if op >= _HAVE_ARG else 0)
            locs.append(positions[i])
            starts.append(start)
            ats.append(i)
            i = start = nxt
            ext = 0
        unit_index[n] = len(ops)
        self.ops, self.args, self.locs = ops, args, locs
        # jumps: instruction index -> index of its target; targets: target -> its jumps
        self.jumps: dict[int, int] = {}
        self.sources: dict[int, list[int]] = {}
        for k, op in enumerate(ops):
            if op in _JUMPS:
                after = starts[k + 1] if k + 1 < len(ops) else n
                t = unit_index[after - args[k] if op in _BACKWARD else after + args[k]]
                self.jumps[k] = t
                self.sources.setdefault(t, []).append(k)
        # An entry covers the instructions whose opcode unit (after any prefix: CPython looks
        # handlers up by the executing opcode's unit) lies in its range.
        self.handlers = []
        for e in codecheck.parse_exception_table(code.co_exceptiontable):
            self.handlers.append((bisect.bisect_left(ats, e.start), bisect.bisect_left(ats, e.end),
                                  unit_index[min(e.target, n)], e.depth, e.lasti))

    # ---- constants ---------------------------------------------------------------------------
    def const(self, value: Any) -> int:
        key = ("s", value) if type(value) is str else ("o", id(value))
        index = self.const_index.get(key)
        if index is None:
            index = self.const_index[key] = len(self.consts)
            self.consts.append(value)
        return index

    # ---- where callable expressions end ------------------------------------------------------
    def call_site_ends(self) -> tuple[set[int], set[int]]:
        """The points where a call's callable expression is complete: ``(after, before)``,
        instruction indexes the ``_call`` wrapper follows, and those it precedes (a point
        branches join).

        A call starts with ``PUSH_NULL`` (the stack holds ``NULL``) or with a ``LOAD_GLOBAL``
        that has its NULL bit (``NULL, g``: the callable may go on, as in ``g.attr(...)``).
        Scanning forward to the ``CALL`` / ``CALL_FUNCTION_EX`` that consumes that NULL, the
        callable expression ends at the last point where the stack held exactly ``NULL, f``:
        argument evaluation never returns the stack to that depth. Such a point is never after
        the call's own ``KW_NAMES`` / ``PRECALL``: those two belong to the ``CALL`` and nothing
        may come between them (a specialised ``PRECALL`` of a builtin type performs the call
        itself and skips the ``CALL``). Forward jumps inside the site (``a if c else b``,
        ``and``/``or``) are followed: a point between a jump and its target is no end, since
        one path would miss the wrapper. Sites whose scan meets a backward jump (``await``), a
        jump from outside, or a return / raise are left alone; they simply run untraced.
        """
        after: set[int] = set()
        before: set[int] = set()
        ops, args = self.ops, self.args
        for start, op in enumerate(ops):
            if op == _PUSH_NULL:
                end = self._site_end(start, 1)
            elif op == _LOAD_GLOBAL and args[start] & 1:
                end = self._site_end(start, 2)
            else:
                continue
            if end is not None:
                (before if end[0] else after).add(end[1])
        return after, before

    def _site_end(self, start: int, depth):
        """See ``call_site_ends``: ``(False, k)`` for the point after instruction ``k``,
        ``(True, k)`` for the point before it (where jumps to ``k`` arrive), or None."""
        ops, args, jumps, sources = self.ops, self.args, self.jumps, self.sources
        last = (False, start) if depth == 2 else None
        pending: dict = {}  # target index -> stack depth on arrival, for jumps not yet reached
        n = len(ops)
        j = start + 1
        while j < n:
            if j in sources:  # a label: where jumps to instruction j arrive
                if any(src < start or src >= j for src in sources[j]):
                    return None  # entered from outside the site, or a loop
                arrive = pending.pop(j, None)
                if depth is None:
                    depth = arrive
                elif arrive is not None and arrive != depth:
                    return None
                if depth is None:
                    return None  # unreachable code
                if depth == 2 and not pending:
                    last = (True, j)
            if depth is None:  # after an unconditional jump, only a label is reachable
                return None
            op, arg = ops[j], args[j]
            if op in _ENDS_FLOW:
                return None
            target = jumps.get(j)
            if target is not None:
                if target <= j:
                    return None  # backward jump
                there = depth + _effect(op, arg, True)
                if pending.setdefault(target, there) != there:
                    return None
                depth = None if op in _UNCOND else depth + _effect(op, arg, False)
                j += 1
                continue
            if op == _CALL:
                consumed = arg + 2
            elif op == _CALL_EX:
                consumed = 3 + (arg & 1)
            else:
                consumed = None
            if consumed is not None and depth - consumed <= 0:
                if depth == consumed and last is not None and not pending:
                    return last
                return None
            if consumed is not None:
                depth += 1 - consumed
            elif op != _PRECALL and op != _KW_NAMES:  # those two are counted with their CALL
                depth += _effect(op, arg, False)
            if depth == 2 and not pending and op != _PRECALL and op != _KW_NAMES:
                last = (False, j)
            j += 1
        return None

    # ---- the rewrite -------------------------------------------------------------------------
    def blocks(self) -> tuple[list, list]:
        """The new instructions ``(op, arg, position, jump target or -1)`` and, per original
        instruction, the index of the first new instruction of its block."""
        after, before = self.call_site_ends()
        ops, args, locs, jumps = self.ops, self.args, self.locs, self.jumps
        names = self.src.co_names
        const = self.const
        out: list = []
        emit = out.append
        head: list[int] = []

        def call_with(func, nargs, loc):  # the top nargs items -> func(*items)
            if nargs != 1:
                emit((_BUILD_TUPLE, nargs, loc, -1))
            # stack: [t] -> [NULL, func, t]
            emit((_PUSH_NULL, 0, loc, -1))
            emit((_SWAP, 2, loc, -1))
            emit((_LOAD_CONST, const(func), loc, -1))
            emit((_SWAP, 2, loc, -1))
            emit((_PRECALL, 1, loc, -1))
            emit((_CALL, 1, loc, -1))

        def wrap_callable(loc):  # [NULL, f] -> [NULL, _call(f)]
            call_with(dispatch._call, 1, loc)

        for k, op in enumerate(ops):
            head.append(len(out))
            loc = locs[k]
            if k in before:
                wrap_callable(loc)
            arg = args[k]
            if op == _LOAD_METHOD:  # [obj] -> [NULL, _method(obj, name)]
                emit((_PUSH_NULL, 0, loc, -1))
                emit((_SWAP, 2, loc, -1))
                emit((_PUSH_NULL, 0, loc, -1))
                emit((_SWAP, 2, loc, -1))
                emit((_LOAD_CONST, const(dispatch._method), loc, -1))
                emit((_SWAP, 2, loc, -1))
                emit((_LOAD_CONST, const(names[arg]), loc, -1))
                emit((_PRECALL, 2, loc, -1))
                emit((_CALL, 2, loc, -1))
            elif op == _BINARY_OP:
                call_with(_BINARY_FUNCS[arg], 2, loc)
            elif op == _COMPARE_OP:
                call_with(_COMPARE_FUNCS[arg], 2, loc)
            elif op == _BINARY_SUBSCR:
                call_with(dispatch._getitem, 2, loc)
            elif op == _STORE_SUBSCR:
                call_with(dispatch._setitem, 3, loc)
                emit((_POP_TOP, 0, loc, -1))
            elif op == _DELETE_SUBSCR:
                call_with(dispatch._delitem, 2, loc)
                emit((_POP_TOP, 0, loc, -1))
            elif op == _UNARY_NEGATIVE:
                call_with(dispatch._neg, 1, loc)
            elif op == _UNARY_INVERT:
                call_with(dispatch._invert, 1, loc)
            elif op == _STORE_ATTR:  # [v, obj] -> _setattr(v, obj, name)
                emit((_LOAD_CONST, const(names[arg]), loc, -1))
                call_with(dispatch._setattr, 3, loc)
                emit((_POP_TOP, 0, loc, -1))
            elif op == _FORMAT_VALUE:
                has_spec = bool(arg & 4)
                call_with(dispatch.FORMAT_VALUE[(arg & 3, has_spec)], 2 if has_spec else 1, loc)
            elif op == _BUILD_STRING and arg > 1:
                call_with(dispatch._build_string, arg, loc)
            elif op == _LOAD_ATTR and k not in after:
                emit((_LOAD_CONST, const(names[arg]), loc, -1))
                call_with(dispatch._getattr, 2, loc)
            else:
                emit((op, arg, loc, jumps.get(k, -1)))
            if k in after:
                wrap_callable(loc)
        head.append(len(out))
        return out, head

    def code(self) -> types.CodeType:
        out, head = self.blocks()
        code_bytes, offsets = _assemble(out, head)
        linetable = _line_table(out, offsets, self.src.co_firstlineno)
        entries = [codecheck.Entry(offsets[head[s]], offsets[head[e]], offsets[head[t]], d, l)
                   for s, e, t, d, l in self.handlers if head[s] != head[e]]
        consts = tuple(rewrite(c) if isinstance(c, types.CodeType) else c for c in self.consts)
        return self.src.replace(
            co_code=code_bytes,
            co_consts=consts + (MARK,),
            co_linetable=linetable,
            co_exceptiontable=codecheck.encode_exception_table(entries),
            co_stacksize=self.src.co_stacksize + EXTRA_STACK,
        )


_EFFECTS: dict = {}


def _effect(op: int, arg: int, jump: bool) -> int:
    key = (op, arg, jump)
    value = _EFFECTS.get(key)
    if value is None:
        value = _EFFECTS[key] = (dis.stack_effect(op, arg, jump=jump) if op >= _HAVE_ARG
                                 else dis.stack_effect(op))
    return value


def _ext_units(arg: int) -> int:
    """``EXTENDED_ARG`` prefixes an argument needs."""
    return 0 if arg < 0x100 else 1 if arg < 0x10000 else 2 if arg < 0x1000000 else 3


def _assemble(out: list, head: list) -> tuple[bytes, list[int]]:
    """Code units for the new instructions, and the unit each starts at (one more entry: the
    end). Jump arguments depend on the layout and their prefixes change it: prefixes only
    grow, so distances only grow, and the loop ends when no jump needs a longer prefix."""
    count = len(out)
    ext = [0 if target >= 0 else _ext_units(arg) for _, arg, _, target in out]
    jumps = [i for i in range(count) if out[i][3] >= 0]
    while True:
        offsets = [0] * (count + 1)
        unit = 0
        for i in range(count):
            offsets[i] = unit
            unit += ext[i] + 1 + _CACHES[out[i][0]]
        offsets[count] = unit
        grown = False
        for i in jumps:
            need = _ext_units(_jump_arg(out[i], offsets, head, i, ext[i]))
            if need > ext[i]:
                ext[i] = need
                grown = True
        if not grown:
            break
    code = bytearray()
    for i in range(count):
        op, arg, _, target = out[i]
        if target >= 0:
            arg = _jump_arg(out[i], offsets, head, i, ext[i])
        for shift in range(ext[i], 0, -1):
            code += bytes((_EXT, (arg >> (8 * shift)) & 0xFF))
        code += bytes((op, arg & 0xFF))
        code += bytes(2 * _CACHES[op])
    return bytes(code), offsets


def _jump_arg(instr: tuple, offsets: list, head: list, i: int, ext: int) -> int:
    op, _, _, target = instr
    dest = offsets[head[target]]
    after = offsets[i] + ext + 1 + _CACHES[op]
    return after - dest if op in _BACKWARD else dest - after


def _line_table(out: list, offsets: list, first_line: int) -> bytes:
    """CPython 3.11's location table for the new instructions: runs of at most 8 code units
    with one position, each in the long form (or "no location")."""
    table = bytearray()
    line = first_line
    i, count = 0, len(out)
    while i < count:
        loc = out[i][2]
        j = i + 1
        while j < count and out[j][2] == loc:
            j += 1
        units = offsets[j] - offsets[i]
        lineno, end_line, col, end_col = loc
        while units > 0:
            size = min(units, 8)
            units -= size
            if lineno is None:
                table.append(0x80 | (15 << 3) | (size - 1))
                continue
            table.append(0x80 | (14 << 3) | (size - 1))
            delta = lineno - line
            table += _varint((-delta << 1) | 1 if delta < 0 else delta << 1)
            table += _varint((end_line if end_line is not None else lineno) - lineno)
            table += _varint(0 if col is None else col + 1)
            table += _varint(0 if end_col is None else end_col + 1)
            line = lineno
        i = j
    return bytes(table)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 64:
        out.append(64 | (value & 63))
        value >>= 6
    out.append(value)
    return bytes(out)


def compile_source(source: str | bytes, filename: str, mode: str = "exec") -> types.CodeType:
    """Compile like the builtin ``compile`` (same errors), then rewrite."""
    code = compile(source, filename, mode, dont_inherit=True)
    return rewrite(code)
