"""Replayable recipes of recorded operations (for ``python -m stratum replay``).

A recipe says how to redo one top-level operation without the script:

    (target, args, kwargs, (effect, mutates, name, observed))
    target  ("fn", module, qualname) | ("method", name)   (a method's receiver is args[0])
    args    entries: ("r", key)       the output of an earlier operation, by lineage key
                     ("c", value)     a plain constant (None, bool, int, float, str, ...,
                                      or a short tuple of them)
                     ("p", bytes)     a pickled constant the script built itself
                     ("d", bytes)     the same, but a frame/array stratum did not see made
                     ("u", value)     a plain value given to a sink that is not a literal of
                                      the script: built from values stratum could not see
                     ("U", bytes)     the same for a non-plain value (pickled)
                     ("s", name)      sys.stdout / sys.stderr
                     ("L", is_tuple, entries)  a list or tuple holding such outputs
    kwargs  ((name, entry), ...)
    observed  guards only: the plain Python value the operation returned, pickled (else None)

All tuples of strings and numbers, so the garbage collector does not track them.

or ``("x", reason)`` when the operation cannot be replayed. Building one costs a few dict
lookups per argument; only arguments that are neither plain scalars nor outputs of traced
operations are pickled (usually short lists of column names or parameter dicts).
"""
from __future__ import annotations

import ast
import linecache
import pickle
import sys
import types

import numpy as np

from stratum.engine.effects import NO_RECEIVER, nbytes
from stratum.keys import randomness
from stratum.keys.lineage import PLAIN_SCALARS

_NO = NO_RECEIVER  # the engine's "no receiver" sentinel (a function call)

MAX_CONST = 1 << 20  # a bigger pickled constant makes the node unreplayable
MAX_OBSERVED = 1 << 16
_SCALARS = frozenset(PLAIN_SCALARS)  # a set: asked of every argument of every operation
#: Results that are plain Python values the script can use outside stratum's view: guards.
GUARD_TYPES = frozenset({type(None), bool, int, float, str, bytes, complex, tuple, list,
                         np.bool_})
CHOICES = frozenset({"builtins.max", "builtins.min", "builtins.sorted"})
STRICT = frozenset({"builtins.len", "builtins.float", "builtins.int", "builtins.round",
                    "builtins.bool"})
_DATA = ("DataFrame", "Series", "ndarray", "Index")
_paths: dict[int, tuple] = {}
_methods: dict[str, tuple] = {}


def importable(fn):
    """("fn", module, qualname) that imports back to ``fn`` (or its stratum wrapper), or None."""
    hit = _paths.get(id(fn))
    if hit is not None and hit[0] is fn:
        return hit[1]
    module = getattr(fn, "__module__", None)
    qual = getattr(fn, "__qualname__", None)
    if type(fn).__name__ == "ufunc":
        module, qual = "numpy", fn.__name__
    path = None
    if isinstance(module, str) and isinstance(qual, str) and "<" not in qual:
        obj = resolve(module, qual)
        if obj is fn or getattr(obj, "__stratum_original__", None) is fn \
                or getattr(obj, "__wrapped__", None) is fn:
            path = ("fn", module, qual)
    _paths[id(fn)] = (fn, path)
    return path


def resolve(module: str, qual: str, load: bool = False):
    """The object ``module.qual``; the module is imported only when ``load`` (replay time).

    With ``load`` the module always goes through ``importlib``, never a bare ``sys.modules``
    look-up: a module another thread is still importing is already in ``sys.modules`` but
    half-initialised (its later names missing), and only importlib waits for it to finish.
    """
    if load:
        import importlib

        try:
            obj = importlib.import_module(module)
        except Exception:
            return None
    else:
        obj = sys.modules.get(module)
        if obj is None:
            return None
    for part in qual.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class _NotReplayable(Exception):
    pass


def arguments(engine, call):
    """The call's target and argument entries, taken before it runs (its inputs as they are
    then), or ("x", reason). On every top-level operation: kept to dict lookups."""
    spec = call.spec
    recv = call.recv
    try:
        if spec.random == "global" or spec.mutates == "global_rng" or call.rng or \
                recv is not _NO and recv is randomness.global_rng():
            # (``np.random.choice`` is a method of the global RandomState: not pickled per call)
            raise _NotReplayable("uses numpy's global RNG")
        if spec.caller_scope:
            raise _NotReplayable("its expression reads the script's variables")
        keys = iter(call.inputs)
        sink = call.effect == "sink"
        consts = call.frame.f_code.co_consts if sink else ()
        if recv is not _NO:
            name = getattr(call.fn, "__name__", None)
            if not isinstance(name, str):
                raise _NotReplayable("method without a name")
            target = _methods.get(name)
            if target is None:
                target = _methods[name] = ("method", name)
            args = [_entry(engine, recv, keys, sink, consts)]
        else:
            target = importable(call.fn)
            if target is None:
                raise _NotReplayable(f"{spec.name} is not importable by name")
            args = []
        for v in call.args:
            args.append(_entry(engine, v, keys, sink, consts))
        args = tuple(args)
        kwargs = ()
        if call.kwargs:
            kwargs = tuple([(k, _entry(engine, call.kwargs[k], keys, sink, consts))
                            for k in sorted(call.kwargs)])
    except _NotReplayable as exc:
        return ("x", str(exc))
    return (target, args, kwargs)


def attach(engine, call, node, result) -> None:
    """Give a recorded top-level node its recipe, once the call ran (``result``)."""
    entries = call.entries
    if entries is None or entries[0] == "x":
        node.recipe = entries
        return
    spec = call.spec
    observed = None
    if spec.name in CHOICES:
        # Which input max / min / sorted picked is a decision: replay must pick the same.
        observed = _pickled(("choice", choice(call.args, call.kwargs, result)))
    elif call.effect != "sink" and type(result) in GUARD_TYPES and _plain(result, 0):
        if output_only(call.frame):
            pass  # it only reaches a print: replay recomputes and prints it, nothing to check
        elif _strict(engine, spec, result):
            observed = _pickled(result)
        elif call.key is not None:
            engine.followed[call.key] = node  # checked after all if it stops being followed
    node.recipe = (*entries, (call.effect, call.mutated, spec.name, observed))


def choice(args, kwargs, result):
    """Positions of the inputs ``result`` is made of (by identity): max / min / sorted."""
    pool = list(args[0]) if len(args) == 1 else list(args)
    if isinstance(result, list):
        return tuple(_position(pool, x) for x in result)
    return _position(pool, result)


def _position(pool, x):
    for i, p in enumerate(pool):
        if p is x:
            return i
    return None


def _pickled(value):
    try:
        blob = pickle.dumps(value, protocol=5)
    except Exception:
        return None
    return blob if len(blob) <= MAX_OBSERVED else None


def make_strict(engine, value, key) -> None:
    """A followed value is no longer followed: replay must find it unchanged (a guard)."""
    node = engine.followed.pop(key, None)
    if node is not None and node.recipe is not None and node.recipe[0] != "x":
        effect, mutated, name, _ = node.recipe[3]
        node.recipe = (*node.recipe[:3], (effect, mutated, name, _pickled(value)))


def _strict(engine, spec, result) -> bool:
    """Must replay find this plain result unchanged (a guard)? Yes for the script's own
    conversions (``len``, ``float`` ...), for truth values (they steer ``if``), and for values
    stratum cannot follow by identity (small ints, one-character strings); a followed value
    (a float a metric returned) is recomputed wherever it is used, so it need not match.
    (Asked only of values that do not only reach output: see :func:`output_only`.)"""
    if spec.name in STRICT or type(result) in (bool, np.bool_):
        return True
    hit = engine.pyvals.get(id(result))
    return hit is None or hit[0] is not result


def _plain(v, depth: int) -> bool:
    """A plain Python value (scalars, and tuples / lists of them): what a guard records."""
    t = type(v)
    if t in (tuple, list):
        return depth < 4 and len(v) <= 10_000 and all(_plain(x, depth + 1) for x in v)
    return t in GUARD_TYPES


def _entry(engine, v, keys, sink, consts):
    t = type(v)
    if t in _SCALARS:
        hit = engine.pyvals.get(id(v))
        if hit is not None and hit[0] is v:
            return _ref(engine, hit[1])
        if sink and not any(c is v for c in consts):
            return ("u", v)
        return ("c", v)
    key = next(keys, None)
    hit = engine.pyvals.get(id(v))
    if hit is not None and hit[0] is v:
        return _ref(engine, hit[1])
    if t in (list, tuple) and len(v) <= 64 and engine.pyvals and key not in engine.produced:
        items = [_entry(engine, x, iter(()), sink, consts) for x in v]
        if any(e[0] in ("r", "L") for e in items):
            return ("L", t is tuple, tuple(items))
    if t is tuple and not sink and len(v) <= 16 and all(type(x) in _SCALARS for x in v):
        return ("c", v)  # ``df.at[i, "a"]``'s (i, "a"): plain already, nothing to pickle
    if key is None:
        key = engine.lineage.known(v)
    if key is not None and key in engine.produced:
        return _ref(engine, key)
    if v is sys.stdout or v is sys.stderr:
        return ("s", "stdout" if v is sys.stdout else "stderr")
    # A constant is pickled once per content key (a frame used by 10k operations: once).
    cached = engine.consts.get(key) if key is not None else None
    if cached is None:
        cached = _constant(v, t)
        if key is not None:
            engine.consts[key] = cached
    if cached[0] == "x":
        raise _NotReplayable(cached[1])
    return ("U", cached[1]) if sink else cached


def _ref(engine, key):
    """("r", key), one tuple per key (fewer allocations, fewer garbage collections)."""
    ref = engine.refs.get(key)
    if ref is None:
        ref = engine.refs[key] = ("r", key)
    return ref


def _constant(v, t):
    what = f"argument of type {t.__qualname__}"
    if isinstance(v, (types.ModuleType, types.FrameType)):
        return ("x", f"{what} cannot be recorded")

    if nbytes(v) > MAX_CONST:  # cheap size check before pickling anything big
        return ("x", f"{what} too large to record")
    try:
        blob = pickle.dumps(v, protocol=5)
    except Exception:
        return ("x", f"{what} cannot be pickled")
    if len(blob) > MAX_CONST:
        return ("x", f"{what} too large to record")
    return ("d" if t.__name__ in _DATA else "p", blob)


# -- values that only reach output ---------------------------------------------------------

#: Builtins a value may pass through on its way to ``print`` (the value itself, not a choice
#: made with it): formatting and numeric conversions.
_CONVERSIONS = frozenset({"str", "repr", "ascii", "format", "round", "int", "float", "abs"})
_CO_OPTIMIZED = 0x1
# Both keyed by the code object's id, each entry holding the code (so the id stays its own):
# a code object hashes by its whole content, nested code objects included, which costs
# microseconds per kilobyte of script at every traced call of a module-level loop.
_verdicts: dict = {}  # (id(code), instruction offset) -> (code, builtin names relied on or None)
_trees: dict = {}  # file name -> (nodes by source span, parent of each node) or None
_positions: dict = {}  # id(code) -> (code, its instructions' source positions)


def output_only(frame) -> bool:
    """Does the value the operation at ``frame``'s current instruction returned only reach
    output? True when, in the script's source, the expression that computed it is (through
    f-strings, ``str``/``round``/... conversions, arithmetic, a single comparison, a tuple)
    an argument of a ``print(...)`` statement and nothing else: ``print(len(df))``,
    ``print(f"rows: {len(df):,}")``. Such a value cannot have steered the script, so replay
    recomputes it instead of checking it (a guard). Anything else (stored in a variable,
    tested by ``if``, an ``and``/``or`` operand, passed to another function, no source) is
    not known to only reach output. Decided once per instruction (cached); the names the
    expression uses must still be python's builtins in the frame."""
    if frame is None:
        return False
    try:
        code = frame.f_code
        key = (id(code), frame.f_lasti)  # not the code: it hashes by content (see _positions)
        hit = _verdicts.get(key)
        if hit is None:
            if len(_verdicts) > 50_000:
                _verdicts.clear()
            hit = _verdicts[key] = (code, _output_names(code, frame.f_lasti))
        names = hit[1]
        if names is None:
            return False
        scopes = [frame.f_globals]
        if not code.co_flags & _CO_OPTIMIZED and frame.f_locals is not frame.f_globals:
            scopes.append(frame.f_locals)  # a class body: its own names could shadow print
        return not any(n in scope for scope in scopes for n in names)
    except Exception:  # an odd frame or source: keep the guard
        return False


def _output_names(code, lasti):
    """The builtin names (``print``, conversions) the expression at instruction ``lasti`` of
    ``code`` passes its value through to reach a ``print`` statement, or None."""
    hit = _positions.get(id(code))
    if hit is None:
        if len(_positions) > 1024:
            _positions.clear()
        hit = _positions[id(code)] = (code, list(code.co_positions()))
    positions = hit[1]
    if not 0 <= lasti // 2 < len(positions):
        return None
    span = positions[lasti // 2]
    if None in span:
        return None
    tree = _tree(code.co_filename)
    if tree is None:
        return None
    spans, parents = tree
    found = spans.get(span)
    if not found:
        return None
    node = found[-1]  # the innermost expression with exactly that span
    local = set(code.co_varnames) | set(code.co_cellvars) | set(code.co_freevars)
    names = set()
    while True:
        parent = parents.get(node)
        if isinstance(parent, (ast.FormattedValue, ast.JoinedStr, ast.BinOp, ast.UnaryOp)):
            pass
        elif isinstance(parent, ast.Compare) and len(parent.ops) == 1:
            pass  # a chained comparison short-circuits: a choice
        elif isinstance(parent, ast.IfExp) and node is not parent.test:
            pass
        elif isinstance(parent, (ast.Tuple, ast.List)) and isinstance(parent.ctx, ast.Load):
            pass
        elif isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) \
                and parent.func.id not in local:
            name = parent.func.id
            if name == "print":
                if node in parent.args or any(k.arg in ("sep", "end") and k.value is node
                                              for k in parent.keywords):
                    if isinstance(parents.get(parent), ast.Expr):
                        return tuple(names | {"print"})
                return None
            if name not in _CONVERSIONS or not parent.args or parent.args[0] is not node:
                return None
            names.add(name)
        else:
            return None
        node = parent


def _tree(filename):
    if filename in _trees:
        return _trees[filename]
    tree = None
    try:
        source = "".join(linecache.getlines(filename))
        if source:
            spans: dict = {}
            parents: dict = {}
            for node in ast.walk(ast.parse(source)):  # outer nodes first
                for child in ast.iter_child_nodes(node):
                    parents[child] = node
                if isinstance(node, ast.expr):
                    span = (node.lineno, node.end_lineno, node.col_offset, node.end_col_offset)
                    spans.setdefault(span, []).append(node)
            tree = (spans, parents)
    except Exception:  # not python source (exec'd text, a changed file): no verdict
        tree = None
    if len(_trees) > 256:
        _trees.clear()
    _trees[filename] = tree
    return tree
