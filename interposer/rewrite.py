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

import os
import sys
import types
from typing import Any

from bytecode import Bytecode, Instr, Label

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
_COMPARE_FUNCS = dispatch.COMPARE_OPS  # name -> function


def is_rewritten(code: types.CodeType) -> bool:
    return MARK in code.co_consts


def rewrite(code: types.CodeType) -> types.CodeType:
    """Return a rewritten copy of ``code`` (and of every code object nested in it)."""
    if not SUPPORTED or is_rewritten(code):
        return code
    bc = Bytecode.from_code(code, conserve_exception_block_stackdepth=True)
    out = _rewrite_instructions(list(bc))
    bc.clear()
    bc.extend(out)
    # Neither the stack size nor the exception table's depths are computed again (that builds
    # a control-flow graph of the whole code: 40% of the rewrite's time). Each inserted
    # sequence replaces one instruction and reaches at most EXTRA_STACK items above the depth
    # the code had there; the compiler's handler depths stay right because the sequences sit
    # inside the same handler ranges, above each range's base depth. ``codecheck`` checks both
    # independently (tests, STRATUM_VALIDATE).
    new = bc.to_code(stacksize=code.co_stacksize + EXTRA_STACK,
                     compute_exception_stack_depths=False)
    consts = tuple(rewrite(c) if isinstance(c, types.CodeType) else c for c in new.co_consts)
    new = new.replace(co_consts=consts + (MARK,))
    if VALIDATE:
        codecheck.check(new, nested=False)  # nested code objects were checked by their rewrite
    return new


def _call_with(func: Any, nargs: int, loc) -> list[Instr]:
    """Instructions that replace the top ``nargs`` stack items by ``func(*items)``."""
    seq = [Instr("BUILD_TUPLE", nargs, location=loc)] if nargs != 1 else []
    # stack: [t] -> [NULL, func, t]
    seq += [
        Instr("PUSH_NULL", location=loc),
        Instr("SWAP", 2, location=loc),
        Instr("LOAD_CONST", func, location=loc),
        Instr("SWAP", 2, location=loc),
        Instr("PRECALL", 1, location=loc),
        Instr("CALL", 1, location=loc),
    ]
    return seq


def _wrap_callable(loc) -> list[Instr]:
    """``[NULL, f] -> [NULL, _call(f)]``."""
    return [
        Instr("PUSH_NULL", location=loc),
        Instr("SWAP", 2, location=loc),
        Instr("LOAD_CONST", dispatch._call, location=loc),
        Instr("SWAP", 2, location=loc),
        Instr("PRECALL", 1, location=loc),
        Instr("CALL", 1, location=loc),
    ]


def _method(name: str, loc) -> list[Instr]:
    """``LOAD_METHOD name``: ``[obj] -> [NULL, _method(obj, name)]``."""
    return [
        Instr("PUSH_NULL", location=loc),
        Instr("SWAP", 2, location=loc),
        Instr("PUSH_NULL", location=loc),
        Instr("SWAP", 2, location=loc),
        Instr("LOAD_CONST", dispatch._method, location=loc),
        Instr("SWAP", 2, location=loc),
        Instr("LOAD_CONST", name, location=loc),
        Instr("PRECALL", 2, location=loc),
        Instr("CALL", 2, location=loc),
    ]


def _call_site_ends(items: list) -> set[int]:
    """Indexes of the items after which a call's callable expression is complete.

    A call starts with ``PUSH_NULL`` (the stack holds ``NULL``) or with a ``LOAD_GLOBAL`` that
    has its NULL bit (``NULL, g``: the callable may go on, as in ``g.attr(...)``). Scanning
    forward to the ``CALL`` / ``CALL_FUNCTION_EX`` that consumes that NULL, the callable
    expression ends at the last point where the stack held exactly ``NULL, f``: argument
    evaluation never returns the stack to that depth. Such a point is never after the call's
    own ``KW_NAMES`` / ``PRECALL``: those two belong to the ``CALL`` and nothing may come
    between them (a specialised ``PRECALL`` of a builtin type performs the call itself and
    skips the ``CALL``). Forward jumps inside the site (``a if c else b``, ``and``/``or``)
    are followed: a point between a jump and its target is no end, since one path would miss
    the wrapper. Sites whose scan meets a backward jump (``await``), a jump from outside,
    or a return / raise are left alone; they simply run untraced.
    """
    sources: dict = {}  # id(label) -> indexes of the jumps to it
    where: dict = {}  # id(label) -> its index
    for i, it in enumerate(items):
        if isinstance(it, Instr) and it.has_jump():
            sources.setdefault(id(it.arg), []).append(i)
        elif isinstance(it, Label):
            where[id(it)] = i
    ends: set[int] = set()
    for start, item in enumerate(items):
        if not isinstance(item, Instr):
            continue
        if item.name == "PUSH_NULL":
            depth = 1
        elif item.name == "LOAD_GLOBAL" and isinstance(item.arg, tuple) and item.arg[0]:
            depth = 2
        else:
            continue
        end = _site_end(items, start, depth, sources, where)
        if end is not None:
            ends.add(end)
    return ends


def _site_end(items: list, start: int, depth, sources: dict, where: dict):
    """See ``_call_site_ends``: the end of the callable expression of the call at ``start``."""
    last_at_two = start if depth == 2 else None
    pending: dict = {}  # id(label) -> stack depth on arrival, for forward jumps not yet reached
    n = len(items)
    j = start + 1
    while j < n:
        it = items[j]
        if isinstance(it, Label):
            if any(src < start or src > j for src in sources.get(id(it), ())):
                return None  # entered from outside the site, or a loop
            arrive = pending.pop(id(it), None)
            if depth is None:
                depth = arrive
            elif arrive is not None and arrive != depth:
                return None
            if depth is None:
                return None  # unreachable code
            if depth == 2 and not pending:
                last_at_two = j
            j += 1
            continue
        j += 1
        if not isinstance(it, Instr):
            continue
        if depth is None:  # after an unconditional jump, only a label is reachable
            return None
        name = it.name
        if name in ("RETURN_VALUE", "RAISE_VARARGS", "RERAISE"):
            return None
        if it.has_jump():
            target = it.arg
            if where.get(id(target), -1) < j:
                return None  # backward jump
            there = depth + it.stack_effect(jump=True)
            if pending.setdefault(id(target), there) != there:
                return None
            depth = None if it.is_uncond_jump() else depth + it.stack_effect(jump=False)
            continue
        if name == "CALL":
            consumed = it.arg + 2
        elif name == "CALL_FUNCTION_EX":
            consumed = 3 + (it.arg & 1)
        else:
            consumed = None
        if consumed is not None and depth - consumed <= 0:
            if depth == consumed and last_at_two is not None and not pending:
                return last_at_two
            return None
        depth += 1 - consumed if consumed is not None else _net_effect(it)
        if depth == 2 and not pending and name not in ("PRECALL", "KW_NAMES"):
            last_at_two = j - 1
    return None


def _net_effect(instr: Instr) -> int:
    if instr.name in ("PRECALL", "KW_NAMES"):
        return 0  # counted with their CALL
    pre, post = instr.pre_and_post_stack_effect(jump=False)
    return pre + post


def _rewrite_instructions(items: list) -> list:
    ends = _call_site_ends(items)
    out: list = []
    for idx, item in enumerate(items):
        if not isinstance(item, Instr):
            out.append(item)
            if idx in ends:  # a label where the branches of a conditional callable meet
                out.extend(_wrap_callable(_next_location(items, idx)))
            continue
        loc = item.location
        name = item.name
        if name == "LOAD_METHOD":
            out.extend(_method(item.arg, loc))
        elif name == "BINARY_OP":
            out.extend(_call_with(_BINARY_FUNCS[item.arg], 2, loc))
        elif name == "COMPARE_OP":
            out.extend(_call_with(_COMPARE_FUNCS[item.arg.name], 2, loc))
        elif name == "BINARY_SUBSCR":
            out.extend(_call_with(dispatch._getitem, 2, loc))
        elif name == "STORE_SUBSCR":
            out.extend(_call_with(dispatch._setitem, 3, loc))
            out.append(Instr("POP_TOP", location=loc))
        elif name == "DELETE_SUBSCR":
            out.extend(_call_with(dispatch._delitem, 2, loc))
            out.append(Instr("POP_TOP", location=loc))
        elif name == "UNARY_NEGATIVE":
            out.extend(_call_with(dispatch._neg, 1, loc))
        elif name == "UNARY_INVERT":
            out.extend(_call_with(dispatch._invert, 1, loc))
        elif name == "STORE_ATTR":
            # [v, obj] -> _setattr(v, obj, name)
            out.append(Instr("LOAD_CONST", item.arg, location=loc))
            out.extend(_call_with(dispatch._setattr, 3, loc))
            out.append(Instr("POP_TOP", location=loc))
        elif name == "FORMAT_VALUE":
            has_spec = bool(item.arg & 4)
            out.extend(_call_with(dispatch.FORMAT_VALUE[(item.arg & 3, has_spec)],
                                  2 if has_spec else 1, loc))
        elif name == "BUILD_STRING" and item.arg > 1:
            out.extend(_call_with(dispatch._build_string, item.arg, loc))
        elif name == "LOAD_ATTR" and idx not in ends:
            out.append(Instr("LOAD_CONST", item.arg, location=loc))
            out.extend(_call_with(dispatch._getattr, 2, loc))
        else:
            out.append(item)
        if idx in ends:
            out.extend(_wrap_callable(loc))
    return out


def _next_location(items: list, idx: int):
    """The location of the first instruction after ``items[idx]`` (code inserted at a label
    takes the line of what follows it, so line events stay as they were on every path)."""
    for it in items[idx + 1:]:
        if isinstance(it, Instr):
            return it.location
    return None


def compile_source(source: str | bytes, filename: str, mode: str = "exec") -> types.CodeType:
    """Compile like the builtin ``compile`` (same errors), then rewrite."""
    code = compile(source, filename, mode, dont_inherit=True)
    return rewrite(code)
