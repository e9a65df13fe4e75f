"""Can a call that runs a user callable be skipped? Only if the callable has no side effects.

A reusable operation may run user code (``df.apply(f)``, ``groupby().apply(lambda g: ...)``,
``FunctionTransformer(f)``). Skipping the operation on a cache hit also skips that code, so
the code must not print, write files, assign globals or closure cells, change a mutable
object it reaches through a global or closure, or draw random numbers. This module checks
the code statically, conservatively; changes to library objects (a frame the callable was
handed) are watched by the engine while the operation runs.
"""
from __future__ import annotations

import builtins
import dis
import types

from interposer.registry import LIB_ROOTS

# Builtins whose call is an effect on the outside world or on the interpreter.
EFFECT_BUILTINS = frozenset({
    "print", "open", "input", "exec", "eval", "compile", "exit", "quit", "breakpoint",
    "setattr", "delattr", "__import__", "globals", "help"})
# Attribute names that always mean I/O or randomness.
EFFECT_ATTRS = frozenset({
    "write", "writelines", "seed", "shuffle", "default_rng", "rand", "randn", "randint",
    "random", "permutation", "to_csv", "to_json", "to_pickle", "to_excel", "savetxt", "save",
    "dump", "system"})
# Operations that change the object they act on: a side effect only when that object may be
# one the function reaches from outside (a mutable global or closure value).
MUTATING = frozenset({
    "append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "add",
    "discard", "setdefault", "sort", "reverse", "fill", "put", "appendleft", "extendleft"})
_STORE_OPS = frozenset({"STORE_SUBSCR", "DELETE_SUBSCR", "STORE_ATTR", "DELETE_ATTR"})
# Modules count as namespaces here, not as data a function changes (``np``, ``pd``, helpers).
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, range,
              types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)


def _rewritten_view(instr):
    """Read rewritten code as the original: ``LOAD_CONST 'name'`` before ``_method`` /
    ``_getattr`` is an attribute use, ``LOAD_CONST _setitem`` (etc.) is a store."""
    from interposer import dispatch

    if instr.opname != "LOAD_CONST":
        return instr.opname, instr.argval
    value = instr.argval
    if isinstance(value, str):
        return "LOAD_ATTR", value
    stores = {helper: op for op, helper in dispatch.STORE_HELPERS.items()}
    try:
        return stores.get(value, "LOAD_CONST"), value
    except TypeError:  # unhashable constant
        return "LOAD_CONST", value


def side_effect(code: types.CodeType, globals_: dict | None, closure=()) -> str | None:
    """Why ``code`` (or code nested in it) may have a side effect, or None."""
    checks, nested = _checks(code)
    outside = _NOT_YET
    for kind, name, why in checks:
        if kind is _ALWAYS:
            return why
        if kind is _BUILTIN:
            if (globals_ is None or name not in globals_) and hasattr(builtins, name):
                return why
        else:  # _OUTSIDE: a store or a mutating method, an effect on what it reaches
            if outside is _NOT_YET:
                outside = _reaches_mutable(code, globals_, closure)
            if outside:
                return f"may change {outside}, which it reaches from outside"
    for const in nested:
        why = side_effect(const, globals_)
        if why:
            return why
    return None


_ALWAYS, _BUILTIN, _OUTSIDE = "always", "builtin", "outside"
_NOT_YET = object()
_CHECKS: dict = {}  # id(code) -> (code, checks, nested code objects)


def _checks(code: types.CodeType) -> tuple:
    """What ``side_effect`` looks for in ``code``'s own instructions, in their order: effects
    whatever the globals (up to the first), uses of an effect builtin (unless a global shadows
    it) and changes in place (an effect if the code reaches a mutable value from outside); and
    its nested code. The instructions of a code object never change, so this is read once per
    code object (``dis`` costs tens of microseconds per function, at each use of an object of
    the script's own class otherwise); what depends on the globals and closure is decided at
    each call."""
    hit = _CHECKS.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1], hit[2]
    from interposer.rewrite import is_rewritten

    rewritten = is_rewritten(code)
    checks = []
    for instr in dis.get_instructions(code):
        op, name = _rewritten_view(instr) if rewritten else (instr.opname, instr.argval)
        if op in ("STORE_GLOBAL", "DELETE_GLOBAL"):
            checks.append((_ALWAYS, name, f"assigns the global {name!r}"))
            break
        if op in ("STORE_DEREF", "DELETE_DEREF") and name in code.co_freevars:
            checks.append((_ALWAYS, name, f"assigns the enclosing variable {name!r}"))
            break
        if op in ("LOAD_GLOBAL", "LOAD_NAME") and name in EFFECT_BUILTINS:
            checks.append((_BUILTIN, name, f"calls {name}()"))
        if op in ("LOAD_METHOD", "LOAD_ATTR") and name in EFFECT_ATTRS:
            checks.append((_ALWAYS, name, f"uses .{name}"))
            break
        if op in _STORE_OPS or (op in ("LOAD_METHOD", "LOAD_ATTR") and name in MUTATING):
            checks.append((_OUTSIDE, name, None))
    nested = tuple(c for c in code.co_consts if isinstance(c, types.CodeType))
    if len(_CHECKS) > 10_000:
        _CHECKS.clear()
    _CHECKS[id(code)] = (code, tuple(checks), nested)  # holds the code: its id stays its own
    return tuple(checks), nested


def _reaches_mutable(code, globals_, closure) -> str | None:
    """The name of a mutable non-library global or closure value the code reads, if any."""
    for name in code.co_names:
        if globals_ is not None and name in globals_ and _mutable(globals_[name]):
            return f"the global {name!r}"
    for name, cell in zip(code.co_freevars, closure or ()):
        try:
            if _mutable(cell.cell_contents):
                return f"the enclosing variable {name!r}"
        except ValueError:
            continue
    return None


def _mutable(value) -> bool:
    if isinstance(value, _IMMUTABLE):
        return False
    module = type(value).__module__ or ""
    if module.partition(".")[0] in LIB_ROOTS:
        return False  # library objects: their changes are seen by the engine at run time
    return True  # lists, dicts, sets, modules, instances of the user's classes ...
