"""Which user functions may be memoized as one node, and their identity in a key.

A call of a user function (``feat_eng(df)``) can be skipped on a later run when its result
is determined by what the key captures: its code (and the code of the user functions it
calls), the globals and closure values it reads, its defaults, its arguments, and the global
RNG state when the script seeded it. That holds only for a body that computes through traced
library operations and plain Python: no output, no files, no clocks, no unseeded randomness,
no assignment to globals or to objects that outlive the call. This module decides that
statically, conservatively; the engine watches the rest while the body runs (a print, a change
in place to an argument or a global, a fit of an estimator passed in) and then does not admit
the result.
"""
from __future__ import annotations

import builtins
import dis
import types

from interposer.registry import LIB_ROOTS, OpSpec
from stratum.keys.lineage import names_read

# Builtins a memoizable body may use: their results depend only on their arguments.
PURE_BUILTINS = frozenset({
    "abs", "all", "any", "ascii", "bin", "bool", "bytes", "callable", "chr", "complex", "dict",
    "divmod", "enumerate", "filter", "float", "format", "frozenset", "getattr", "hasattr",
    "hex", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min",
    "next", "oct", "ord", "pow", "range", "repr", "reversed", "round", "set", "slice",
    "sorted", "str", "sum", "tuple", "type", "zip", "True", "False", "None",
    "ValueError", "TypeError", "KeyError", "IndexError", "RuntimeError", "Exception",
    "NotImplementedError", "ZeroDivisionError", "AssertionError", "AttributeError",
    "StopIteration", "ArithmeticError", "LookupError", "object", "property", "staticmethod",
    "classmethod", "super"})
# Standard-library modules whose functions are deterministic.
PURE_MODULES = frozenset({
    "math", "cmath", "operator", "functools", "itertools", "collections", "re", "string",
    "statistics", "decimal", "fractions", "numbers", "typing", "dataclasses", "enum", "json",
    "textwrap", "unicodedata", "bisect", "heapq", "copy"})
_GEN_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async gen

# (id(code), id(globals)) -> (code, globals, reason or None). Ids, not the objects: a code
# object hashes by its whole content, nested code included, at every call; the entry holds
# both objects, so neither id can be another object's while it exists.
_verdicts: dict = {}


def blocker(f: types.FunctionType) -> str | None:
    """Why a call of ``f`` must always run (None when it may be memoized)."""
    key = (id(f.__code__), id(f.__globals__))
    hit = _verdicts.get(key)
    if hit is not None:
        return hit[2]
    why = _blocker(f, set())
    if len(_verdicts) > 10_000:  # bounded: the entries hold namespaces alive (``exec`` ones)
        _verdicts.clear()
    _verdicts[key] = (f.__code__, f.__globals__, why)
    return why


def _blocker(f, seen: set) -> str | None:
    code = f.__code__
    if code in seen:
        return None
    seen.add(code)
    if code.co_flags & _GEN_FLAGS:
        return "a generator or coroutine"
    if f.__globals__.get(code.co_name) is f and code.co_name in code.co_names:
        return "recursive"  # routing each level through the engine would deepen the stack
    from stratum.keys.purity import side_effect

    why = side_effect(code, f.__globals__, f.__closure__)
    if why:
        return why
    return _reads(code, f.__globals__, seen)


def _reads(code, globals_, seen) -> str | None:
    """Check what the body reaches through global names and imports (nested code included)."""
    for instr in dis.get_instructions(code):
        if instr.opname == "IMPORT_NAME" and instr.argval.partition(".")[0] not in (
                LIB_ROOTS | PURE_MODULES):
            return f"imports {instr.argval}"
        if instr.opname not in ("LOAD_GLOBAL", "LOAD_NAME"):
            continue
        name = instr.argval
        if name in globals_:
            why = _global_value(name, globals_[name], seen)
        elif name in PURE_BUILTINS or not hasattr(builtins, name):
            why = None
        else:
            why = f"calls {name}()"
        if why:
            return why
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            why = _reads(const, globals_, seen)
            if why:
                return why
    return None


def _global_value(name, value, seen) -> str | None:
    if isinstance(value, types.ModuleType):
        root = value.__name__.partition(".")[0]
        if root in LIB_ROOTS or root in PURE_MODULES:
            return None
        if _is_user(getattr(value, "__name__", "")):
            return f"reads the module {name}"  # its contents are not part of the key
        return f"uses the module {value.__name__}"
    if isinstance(value, types.FunctionType):
        if _is_user(value.__module__ or ""):
            return _blocker(value, seen)
        return _library_callable(name, value)
    if isinstance(value, type):
        if _is_user(value.__module__):
            return f"uses the class {name}"
        return None
    if isinstance(value, (types.BuiltinFunctionType, types.MethodType)):
        return _library_callable(name, value)
    return None  # data: keyed by value


def _library_callable(name, value) -> str | None:
    module = (getattr(value, "__module__", None) or "").partition(".")[0]
    if module in LIB_ROOTS or module in PURE_MODULES:
        return None
    return f"calls {name}() from {module or 'an unknown module'}"


def _is_user(module: str) -> bool:
    from interposer import userfiles

    return userfiles.is_user_module(module)


_specs: dict = {}  # id(code) -> (code, spec); by id for the reason given at _verdicts


def spec_for(f: types.FunctionType) -> OpSpec:
    """The node spec of a memoized call: one composite op named after the function."""
    hit = _specs.get(id(f.__code__))
    if hit is None:
        name = f"{f.__module__}.{f.__qualname__}"
        hit = _specs[id(f.__code__)] = (f.__code__, OpSpec(name=name, effect="pure",
                                                            composite=True))
    return hit[1]


def outside_ids(f, args, kwargs) -> set[int]:
    """Objects the call can reach that existed before it: changing one in place, or fitting
    one, is an effect the memoized result would not carry."""
    ids = set()
    for v in (*args, *kwargs.values()):
        ids.add(id(v))
        if type(v) in (list, tuple):
            ids.update(id(x) for x in v)
        elif type(v) is dict:
            ids.update(id(x) for x in v.values())
    for cell in f.__closure__ or ():
        try:
            ids.add(id(cell.cell_contents))
        except ValueError:
            pass
    g = f.__globals__
    for name in names_read(f.__code__):
        if name in g:
            ids.add(id(g[name]))
    return ids
