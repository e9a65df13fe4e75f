"""Runtime entry points called by rewritten user code.

Each function first decides, as cheaply as it can, whether a library object is involved;
if not, it performs the plain operation (``operator.add``, ``getattr`` ...) with exactly the
semantics of the replaced instruction. Library operations go to the engine installed by
``set_engine`` (``engine.call(spec, fn, args, kwargs)``). With no engine installed every
function is a pass-through, so rewritten code stays correct after deactivation.

Deciding never breaks the script: the decision (is this a library value, which registry spec,
is the receiver a temporary) reads attributes, hashes and types of arbitrary user objects, and
any exception it raises makes the operation run plain, untraced. The operation itself (the
library call, ``getattr``, ``a + b``) runs outside that guard, exactly once, so its own
exceptions propagate unchanged.
"""
from __future__ import annotations

__tracebackhide__ = True  # pytest: these frames are stratum's (interposer.tbfilter)

import array
import mmap
import operator
import types

from interposer import pandas_chained, registry

_engine = None
_NO_PYVALS: dict = {}
_pyvals: dict = _NO_PYVALS  # the engine's plain results by id (see Engine.pyvals)
_LIB = registry.LIB_TYPE_CACHE  # type -> bool (is a library type)
_is_lib_type = registry.is_lib_type
_NOTHING = object()
_MARK = "__stratum_rewritten__"  # interposer.rewrite.MARK (rewrite imports this module)


def set_engine(engine) -> None:
    global _engine, _pyvals
    _engine = engine
    _pyvals = getattr(engine, "pyvals", _NO_PYVALS)  # the engine's own dict: it fills later


def _tracked(v) -> bool:
    """Is ``v`` a plain value a traced operation returned (followed for replay)?"""
    hit = _pyvals.get(id(v))
    return hit is not None and hit[0] is v


def get_engine():
    return _engine


def _lib(t) -> bool:
    r = _LIB.get(t)
    if r is None:
        r = _is_lib_type(t)
    return r


class TracedCall:
    """A library callable bound to its registry spec; calling it goes through the engine."""

    __slots__ = ("spec", "fn")

    def __init__(self, spec, fn):
        self.spec = spec
        self.fn = fn

    def __call__(self, *args, **kwargs):
        engine = _engine
        if engine is None:
            return self.fn(*args, **kwargs)
        return engine.call(self.spec, self.fn, args, kwargs)

    def __repr__(self):  # only ever visible through introspection of the call site
        return repr(self.fn)


class TracedMethod:
    """A bound library method: like ``TracedCall`` with the receiver as first input.

    ``fn`` is whatever the attribute lookup returned: a bound method, or any callable object
    (``series.plot`` is a ``PlotAccessor`` instance, with no ``__name__``)."""

    __slots__ = ("spec", "fn", "recv", "temporary")

    def __init__(self, spec, fn, recv, temporary=None):
        self.spec = spec
        self.fn = fn
        self.recv = recv
        # the method name when the receiver is a pandas object referenced by nothing but the
        # call (pandas' chained-assignment checks apply), else None
        self.temporary = temporary

    def __call__(self, *args, **kwargs):
        engine = _engine
        if engine is None:
            return self.fn(*args, **kwargs)
        if self.temporary is not None:
            pandas_chained.warn_method(self.temporary, kwargs)
        return engine.call(self.spec, self.fn, args, kwargs, self.recv)

    def __repr__(self):
        return repr(self.fn)


class UserFunction:
    """A user function the engine may memoize: called with a library value among its
    arguments, the call becomes one node; otherwise it is a plain call."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        engine = _engine
        if engine is not None:
            try:
                lib = any(_lib(type(a)) for a in args) or any(
                    _lib(type(a)) for a in kwargs.values())
            except Exception:
                lib = False
            if lib:
                return engine.call_user(self.fn, args, kwargs)
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return repr(self.fn)


_call_cache: dict = {}
_method_cache: dict = {}
# Callables whose hash and equality are identity-like and run no user code (functions,
# classes, ufuncs, builtins): their decision is cached by the callable itself. Bound methods
# are not (they are a new object per access and would keep their receiver alive), nor is a
# callable object with its own ``__hash__`` / ``__eq__`` (two equal objects are still two
# callables, and hashing may run user code).
_ID_HASHES = (object.__hash__, types.BuiltinFunctionType.__hash__)


def _call(f):
    """The callable of a call site: returned as is unless it is a registered library op."""
    if _engine is None:
        return f
    try:
        t = type(f)
        if t is types.MethodType or (t is types.BuiltinMethodType and _bound_to_object(f)):
            decided = _decide_call(f)
        elif t.__hash__ is _ID_HASHES[0] or t.__hash__ is _ID_HASHES[1]:
            decided = _call_cache.get(f, _NOTHING)
            if decided is _NOTHING:
                decided = _call_cache[f] = _decide_call(f)
        else:
            decided = _decide_call(f)
    except Exception:  # the decision failed on an odd object: the call runs plain
        return f
    return f if decided is None else decided


def _bound_to_object(f) -> bool:
    """Is builtin ``f`` a method of an object (``lst.append``), not a module's function?"""
    recv = f.__self__
    return recv is not None and not isinstance(recv, types.ModuleType)


class GuardCall:
    """A builtin that turns a library value into a plain Python one (``len(df)``,
    ``float(score)``): traced when its first argument is a library value or a plain value a
    traced operation returned, so replay can check the value (a guard)."""

    __slots__ = ("spec", "fn")

    def __init__(self, spec, fn):
        self.spec = spec
        self.fn = fn

    def __call__(self, *args, **kwargs):
        engine = _engine
        try:
            traced = engine is not None and args and _traced_value(engine, args[0])
        except Exception:
            traced = False
        if not traced:
            return self.fn(*args, **kwargs)
        return engine.call(self.spec, self.fn, args, kwargs)

    def __repr__(self):
        return repr(self.fn)


class ReduceCall(GuardCall):
    """``min`` / ``max`` / ``sum`` / ``sorted`` / ``abs``: traced when any argument, or any item
    of a list or tuple argument, is a library value or a followed plain value (choosing the
    largest of two scores is a decision replay must redo)."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        engine = _engine
        if engine is not None:
            try:
                traced = any(_pyvals and any(_tracked(x) for x in a) if type(a) in (list, tuple)
                             else _traced_value(engine, a) for a in args)
            except Exception:
                traced = False
            if traced:
                return engine.call(self.spec, self.fn, args, kwargs)
        return self.fn(*args, **kwargs)


def _builtin_spec(f):
    return registry.OpSpec(f"builtins.{f.__name__}", registry.PURE, reusable=False)


_GUARD_BUILTINS = {id(f): (f, _builtin_spec(f), GuardCall)
                   for f in (len, float, int, round, str, bool, repr, format)}
_GUARD_BUILTINS.update({id(f): (f, _builtin_spec(f), ReduceCall)
                        for f in (min, max, sum, sorted, abs)})
def _traced_value(engine, v) -> bool:
    t = type(v)
    r = _LIB.get(t)
    if r is None:
        r = _is_lib_type(t)
    return r or _tracked(v)


def _decide_call(f):
    guard = _GUARD_BUILTINS.get(id(f))
    if guard is not None and guard[0] is f:
        return guard[2](guard[1], f)
    statement = _OPERATOR_FUNCTIONS.get(id(f))
    if statement is not None and statement[0] is f:
        return statement[1]
    if type(f) is types.FunctionType and _MARK in f.__code__.co_consts:  # user code
        memoizable = getattr(_engine, "memoizable", None)
        return UserFunction(f) if memoizable is not None and memoizable(f) else None
    if isinstance(f, (types.MethodType, types.BuiltinMethodType)):
        recv = getattr(f, "__self__", None)
        if recv is not None and not isinstance(recv, types.ModuleType):
            # ``m = df.sum; m()``, ``getattr(gb, "min")()``: as ``_method`` decides the
            # method call site ``df.sum()``; the receiver is an input. A method of anything
            # else (a user object, a list, a class) is a plain call, as in ``_method``.
            name = getattr(f, "__name__", None)
            if type(name) is not str or not _lib(type(recv)):
                return None
            spec = registry.resolve_method(type(recv), name)
            return None if spec is None else TracedMethod(spec, f, recv)
    if not callable(f):
        return None  # calling it raises python's own TypeError
    spec = registry.resolve_callable(f)
    return None if spec is None else TracedCall(spec, f)


_PLAIN = frozenset({int, float, str, bool, type(None), list, tuple, dict, set, bytes, complex})

# References a temporary has on entry to ``_method`` (its argument, getrefcount's) and to
# ``_setitem`` (the argument tuple, the unpacked local, getrefcount's).
_TEMP_METHOD_REFS = 2
_TEMP_SETITEM_REFS = 3


def _method(obj, name):
    """``obj.name`` at a method call site (replaces ``LOAD_METHOD``)."""
    t = type(obj)
    try:
        plain = t in _PLAIN  # ``lst.append``, ``s.strip``: never a library value
    except Exception:  # a metaclass's own __hash__ failed: decided below
        plain = False
    if plain:
        return getattr(obj, name)
    temporary = pandas_chained.getrefcount(obj) <= _TEMP_METHOD_REFS
    attr = getattr(obj, name)
    if _engine is None:
        return attr
    if t is types.ModuleType:
        return _call(attr)
    if name == "resize" and t.__name__ == "ndarray" and t.__module__ == "numpy":
        # numpy refuses to resize an array referenced more than the script's own name and the
        # bound method do, or weakly referenced at all: the call runs plain, on the method
        # itself, once the engine let go of the array (``Engine.array_resized``)
        resized = getattr(_engine, "array_resized", None)
        if resized is not None:
            resized(obj)
        return attr
    try:
        if not _lib(t):
            return attr
        key = (t, name)
        spec = _method_cache.get(key, _NOTHING)
        if spec is _NOTHING:
            spec = _method_cache[key] = registry.resolve_method(t, name)
        if spec is None:
            return attr
        chained = name if temporary and pandas_chained.is_frame(obj) else None
    except Exception:  # the decision failed on an odd object: the call runs plain
        return attr
    return TracedMethod(spec, attr, obj, chained)


def _operator(spec_name: str, fn):
    spec = registry.operator_spec(spec_name)
    lib_get = _LIB.get

    def binary(args):
        a, b = args
        if _engine is None:
            return fn(a, b)
        try:
            ta, tb = type(a), type(b)
            if ta in _PLAIN and tb in _PLAIN:
                # plain operands: traced only when one is a followed result (``_tracked``,
                # inlined: this is every ``x * 2`` of a loop or a callback)
                pyvals = _pyvals
                if pyvals:
                    hit = pyvals.get(id(a))
                    traced = hit is not None and hit[0] is a
                    if not traced:
                        hit = pyvals.get(id(b))
                        traced = hit is not None and hit[0] is b
                else:
                    traced = False
            else:
                la, lb = lib_get(ta), lib_get(tb)
                if la is None:
                    la = _is_lib_type(ta)
                if lb is None:
                    lb = _is_lib_type(tb)
                traced = la or lb
        except Exception:  # an odd type (unhashable, a non-text __module__): plain
            traced = False
        if traced:
            return _engine.call(spec, fn, args, None)
        return fn(a, b)

    binary.__name__ = binary.__qualname__ = f"_{spec_name}"
    return binary


def _unary(spec_name: str, fn):
    spec = registry.operator_spec(spec_name)

    def unary(a):
        if _engine is None:
            return fn(a)
        try:
            if type(a) in _PLAIN:
                traced = bool(_pyvals) and _tracked(a)
            else:
                traced = _lib(type(a)) or bool(_pyvals) and _tracked(a)
        except Exception:
            traced = False
        if traced:
            return _engine.call(spec, fn, (a,), None)
        return fn(a)

    unary.__name__ = unary.__qualname__ = f"_{spec_name}"
    return unary


# BINARY_OP argument order (CPython 3.11 NB_* constants).
_BINARY_NAMES = [
    ("add", operator.add), ("and_", operator.and_), ("floordiv", operator.floordiv),
    ("lshift", operator.lshift), ("matmul", operator.matmul), ("mul", operator.mul),
    ("mod", operator.mod), ("or_", operator.or_), ("pow", operator.pow),
    ("rshift", operator.rshift), ("sub", operator.sub), ("truediv", operator.truediv),
    ("xor", operator.xor),
    ("iadd", operator.iadd), ("iand", operator.iand), ("ifloordiv", operator.ifloordiv),
    ("ilshift", operator.ilshift), ("imatmul", operator.imatmul), ("imul", operator.imul),
    ("imod", operator.imod), ("ior", operator.ior), ("ipow", operator.ipow),
    ("irshift", operator.irshift), ("isub", operator.isub), ("itruediv", operator.itruediv),
    ("ixor", operator.ixor),
]
BINARY_OPS = [_operator(name, fn) for name, fn in _BINARY_NAMES]

COMPARE_OPS = {
    cmp: _operator(name, fn)
    for cmp, name, fn in [
        ("LT", "lt", operator.lt), ("LE", "le", operator.le), ("EQ", "eq", operator.eq),
        ("NE", "ne", operator.ne), ("GT", "gt", operator.gt), ("GE", "ge", operator.ge),
    ]
}

_getitem = _operator("getitem", operator.getitem)
_delitem = _operator("delitem", operator.delitem)
_neg = _unary("neg", operator.neg)
_invert = _unary("invert", operator.invert)

_SETITEM = registry.operator_spec("setitem")
_SETATTR = registry.operator_spec("setattr")
_GETATTR = registry.operator_spec("getattr")


def _lib_safe(v) -> bool:
    """``_lib(type(v))``, False when the decision itself fails."""
    try:
        return _lib(type(v))
    except Exception:
        return False


def _setitem(args):
    value, obj, key = args
    if _engine is not None and _lib_safe(obj):
        try:
            chained = (pandas_chained.getrefcount(obj) <= _TEMP_SETITEM_REFS
                       and pandas_chained.is_frame(obj))
        except Exception:
            chained = False
        if chained:
            pandas_chained.warn_setitem()
        _engine.call(_SETITEM, operator.setitem, (obj, key, value), None)
        return None
    obj[key] = value
    if _engine is not None and _raw_buffer(type(obj)):
        _engine.raw_buffer_written()  # numpy arrays over it may have changed
    return None


def _setitem_call(obj, key, value):
    return _setitem((value, obj, key))


def _delitem_call(obj, key):
    return _delitem((obj, key))


#: ``operator.setitem(a, 0, v)``, ``operator.iadd(a, b)``: the functions behind the statements
#: the rewriter routes (``a[0] = v``, ``a += b``) are routed the same way when called by name,
#: so their in-place changes are seen (id -> (function, what the call site calls instead)).
_OPERATOR_FUNCTIONS = {id(operator.setitem): (operator.setitem, _setitem_call),
                       id(operator.delitem): (operator.delitem, _delitem_call)}
_OPERATOR_FUNCTIONS.update({
    id(fn): (fn, (lambda op: lambda a, b: op((a, b)))(traced))
    for (name, fn), traced in zip(_BINARY_NAMES, BINARY_OPS) if name.startswith("i")})

_RAW: dict = {bytearray: True, memoryview: True, array.array: True, mmap.mmap: True}


def _raw_buffer(t) -> bool:
    """Is ``t`` memory Python writes without numpy (``bytearray``, ``memoryview``, ``array``,
    ``mmap``, a ``ctypes`` array or structure)? Arrays made over it (``np.frombuffer``) see
    ``buf[i] = v``; stratum must too."""
    r = _RAW.get(t)
    if r is None:
        r = _RAW[t] = any(getattr(b, "__module__", None) == "_ctypes" for b in t.__mro__[1:])
    return r


def _setattr(args):
    value, obj, name = args
    if _engine is not None and _lib_safe(obj):
        _engine.call(_SETATTR, setattr, (obj, name, value), None)
        return None
    setattr(obj, name, value)
    return None


def _getattr(args):
    obj, name = args
    if _engine is not None and _lib_safe(obj):
        return _engine.call(_GETATTR, getattr, args, None)
    return getattr(obj, name)


# ---- f-strings: FORMAT_VALUE and BUILD_STRING ------------------------------------------------
_FORMAT = registry.OpSpec("fstring.format", registry.PURE, reusable=False)
_CONCAT = registry.OpSpec("fstring.concat", registry.PURE, reusable=False)
_CONVERSIONS = (None, str, repr, ascii)


def format_value(value, conversion: int, spec: str) -> str:
    """What ``FORMAT_VALUE`` computes: ``format(conv(value), spec)``."""
    convert = _CONVERSIONS[conversion]
    if convert is not None:
        value = convert(value)
    return format(value, spec)


def concat(*pieces) -> str:
    """What ``BUILD_STRING`` computes."""
    return "".join(pieces)


def _traced_safe(engine, v) -> bool:
    """``_traced_value``, False when the decision itself fails."""
    try:
        return _traced_value(engine, v)
    except Exception:
        return False


def _format_fn(conversion: int, has_spec: bool):
    convert = _CONVERSIONS[conversion]

    def plain(value, spec):
        if convert is not None:
            value = convert(value)
        return format(value, spec)

    if has_spec:
        def fmt(args):
            value, spec = args
            engine = _engine
            if engine is not None and _traced_safe(engine, value):
                return engine.call(_FORMAT, format_value, (value, conversion, spec), None)
            return plain(value, spec)
    else:
        def fmt(value):
            if type(value) is str and convert is None:
                return value  # format(s, "") of an exact str is s itself
            engine = _engine
            if engine is not None and _traced_safe(engine, value):
                return engine.call(_FORMAT, format_value, (value, conversion, ""), None)
            return plain(value, "")

    fmt.__name__ = fmt.__qualname__ = f"_format_value_{conversion}{'s' if has_spec else ''}"
    return fmt


FORMAT_VALUE = {(c, s): _format_fn(c, s) for c in range(4) for s in (False, True)}


def _build_string(pieces):
    engine = _engine
    if engine is not None:
        if _pyvals:
            for p in pieces:
                if _tracked(p):
                    return engine.call(_CONCAT, concat, pieces, None)
    return "".join(pieces)


def decide_call(fn):
    """What a rewritten call site does with ``fn``: the decision (``TracedCall``, ``GuardCall``,
    ``ReduceCall`` ... with its spec) a call of it is dispatched by."""
    return _decide_call(fn)


#: The helpers rewritten code calls for a store or a delete, by the instruction they replace
#: (``stratum.keys.purity`` reads rewritten code as the original).
STORE_HELPERS = {"STORE_SUBSCR": _setitem, "DELETE_SUBSCR": _delitem, "STORE_ATTR": _setattr}
