"""Lineage keys (docs/reuse.md).

A value produced by a traced operation carries the key of that operation (identity map with
weak references: no hashing on the hot path). Anything else is keyed by content: canonical
text for scalars and containers, xxh3-128 of buffers (Rust) for arrays and frames, code for
callables, class and parameters for unfitted estimators. A key is 32 hex characters.
"""
from __future__ import annotations

import array
import functools
import math
import mmap
import os
import sys
import types
import weakref

import numpy as np

from interposer.registry import TRACED_LIBRARIES
from interposer.userfiles import is_user_file
from stratum._native import Hasher, hash_objects, xxh3_128
from stratum.keys.content import Unkeyable
from stratum.keys.content import hash_pickled as _hash_pickled
from stratum.keys.content import is_user_module as _is_user_module
from stratum.keys.versions import version_tag


_LIBS = TRACED_LIBRARIES
_SCALAR_TAGS = {type(None): "N", bool: "b", int: "i", str: "s", bytes: "y", complex: "c"}
#: The plain Python scalars, keyed by value (and never pickled) everywhere in stratum.
PLAIN_SCALARS = (type(None), bool, int, float, str, bytes, complex)
_PLAIN_SCALARS = frozenset(PLAIN_SCALARS)


def scalar_text(v) -> str:
    t = type(v)
    if t is float:
        return "f:nan" if math.isnan(v) else f"f:{v!r}"
    if t is str:
        return f"s{len(v)}:{v}"
    return f"{_SCALAR_TAGS[t]}:{v!r}"


_CONTENT_KEYED = frozenset({tuple, list, dict, set, frozenset, slice, range})


def is_estimator(obj) -> bool:
    t = type(obj)
    traits = _TRAITS.get(t)  # (an array, a number: answered without failed look-ups)
    if traits is not None:
        return traits[1] and hasattr(obj, "__dict__")
    return hasattr(t, "get_params") and hasattr(t, "fit") and hasattr(obj, "__dict__")


_TRAITS: dict = {}  # type -> type_traits(type), for types that cannot change
_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: numpy's types, builtins


def type_traits(t) -> tuple:
    """(iterator: has ``__next__``, estimator class: ``get_params`` and ``fit``, frame-like:
    ``_get_axis``) of type ``t``, asked of every value an operation returns. A missing
    attribute costs a failed look-up each time; a type whose attributes cannot be set
    (``Py_TPFLAGS_IMMUTABLETYPE``, its metaclass too: ``np.ndarray``, numpy scalars, builtins)
    always answers the same, so its answer is kept (the key holds the type). A class of Python
    code (pandas', the script's) can be given an attribute at any time: asked every time."""
    traits = (hasattr(t, "__next__"), hasattr(t, "get_params") and hasattr(t, "fit"),
              hasattr(t, "_get_axis"))
    try:
        if t.__flags__ & _IMMUTABLE_TYPE and type(t).__flags__ & _IMMUTABLE_TYPE:
            _TRAITS[t] = traits
    except Exception:  # noqa: BLE001 - an odd type: not kept
        pass
    return traits


def _state_of(obj, arrays: list | None = (), depth: int = 0):
    """(signature, ids of arrays) of an estimator's fitted state, cheaply: which objects its
    attributes are (a script may assign one, or change a list in place: ``del
    rf.estimators_[5:]``), recursing into nested estimators, lists and tuples; the arrays are
    checked against in-place writes (``lr.coef_[0] = 0``) through the array epoch."""
    if arrays == ():
        arrays = []
    sig = []
    for name, value in vars(obj).items():
        sig.append((name, _signature(value, arrays, depth + 1)))
    if _user_class(type(obj)):  # an estimator of the script's own: its methods, what they read
        sig.append(("__class__", _class_signature(type(obj), arrays, depth)))
    return tuple(sig), (tuple(arrays) if arrays is not None else None)


def _user_class(cls) -> bool:
    module = getattr(cls, "__module__", None) or ""
    return module != "builtins" and _is_user_module(module)


_NOT_STATE = frozenset({"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__",
                        "__annotations__", "__slotnames__", "__abstractmethods__", "_abc_impl"})
_SIGNING: set = set()  # ids of the classes being signed (a method reads its own class)


def _class_signature(cls, arrays, depth):
    """A user class's own part of an instance's behaviour: its attributes and methods (and
    those of its user bases), each method with the globals it reads. ``K.p = 3``,
    ``M.predict = ...`` or ``SCALE = 3.0`` change what an instance held by an estimator (a
    ``weights`` callable, a pipeline's step) computes, with nothing of the instance changed."""
    if id(cls) in _SIGNING or depth > _SIGNATURE_DEPTH:
        return ("C", id(cls))
    _SIGNING.add(id(cls))
    try:
        out = []
        for klass in cls.__mro__:
            if klass is object or not _user_class(klass):
                continue
            for name, value in list(vars(klass).items())[:64]:
                if name in _NOT_STATE:
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                elif isinstance(value, property):
                    value = (value.fget, value.fset)
                out.append((name, _signature(value, arrays, depth + 1)))
        return ("C", id(cls), tuple(out))
    finally:
        _SIGNING.discard(id(cls))


def _signature(v, arrays, depth):
    t = type(v)
    if t is np.ndarray:
        if arrays is not None:
            arrays.append(id(v))
            if isinstance(v.base, np.ndarray):
                arrays.append(id(v.base))
        return id(v)
    if t in _PLAIN_SCALARS:
        return ("S", v)  # by value: ``class_weight[1] = 50.0`` puts another float there
    if depth > _SIGNATURE_DEPTH:
        return id(v)
    if t is list or t is tuple:
        if len(v) > 2000:
            return ("L", id(v), len(v))
        if len(v) > 16:  # a forest's trees: which objects, not their insides (it is checked
            return ("L", id(v), len(v), tuple(map(id, v)))  # on every use of the model)
        return ("L", id(v), len(v), tuple(_signature(x, arrays, depth + 1) for x in v))
    if t is dict:
        if len(v) > 64:  # a lookup table: its plain keys and values hashed (one Rust pass)
            keys = hash_objects(list(v.keys()))
            values = hash_objects(list(v.values())) if keys is not None else None
            return ("D", id(v), len(v), keys, values)  # (None, None): by length only
        # its items too: a parameter dict changed in place (``class_weight``, a grid)
        return ("D", id(v), tuple((k, _signature(x, arrays, depth + 1)) for k, x in v.items()))
    if t is types.MethodType:  # ``FunctionTransformer(scaler.apply)``
        return ("M", _signature(v.__func__, arrays, depth + 1),
                _signature(v.__self__, arrays, depth + 1))
    if t is functools.partial:
        return ("P", _signature(v.func, arrays, depth + 1), _signature(v.args, arrays, depth + 1),
                _signature(v.keywords, arrays, depth + 1))
    if t is types.FunctionType:
        # ``FunctionTransformer(func)``, a scorer's function: the values it reads, which the
        # script may rebind (``SCALE = 3.0``) or change in place between two uses
        g = v.__globals__
        reads = tuple((n, _signature(g[n], arrays, depth + 1)) for n in names_read(v.__code__)
                      if n in g and g[n] is not v)
        cells = []
        for cell in v.__closure__ or ():
            try:
                cells.append(_signature(cell.cell_contents, arrays, depth + 1))
            except ValueError:
                cells.append(None)
        return ("F", id(v), id(v.__code__), reads, tuple(cells),
                _signature(v.__defaults__, arrays, depth + 1))
    if is_estimator(v):
        return ("E", id(v), _state_of(v, arrays, depth)[0])
    if isinstance(v, type):
        # a class a function reads (``K.c``): a class of the script's own by its attributes
        return _class_signature(v, arrays, depth) if _user_class(v) else id(v)
    if type(getattr(v, "__dict__", None)) is dict and not isinstance(v, types.ModuleType) \
            and not hasattr(t, "_get_axis"):
        # an object of the script's own (a config an estimator's function reads), a scorer
        # holding a function: its attributes, and its class's when the class is the script's
        return ("O", id(v), tuple((k, _signature(x, arrays, depth + 1))
                                  for k, x in list(vars(v).items())[:64]),
                _class_signature(t, arrays, depth) if _user_class(t) else None)
    return id(v)


#: How deep ``_signature`` looks into an estimator's state: a function a pipeline's step holds
#: (pipeline -> steps -> (name, step) -> FunctionTransformer -> func -> a global it reads) is
#: six levels down.
_SIGNATURE_DEPTH = 7


def names_read(code) -> tuple:
    """The global names ``code`` and the code nested in it read (cached per code object)."""
    hit = _NAMES_READ.get(id(code))
    if hit is None:
        names = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names.update(names_read(const))
        if len(_NAMES_READ) > 10_000:
            _NAMES_READ.clear()
        hit = _NAMES_READ[id(code)] = (code, tuple(sorted(names)))  # holds the code: its id
    return hit[1]


_NAMES_READ: dict = {}


class _Ref(weakref.ref):
    """A weak reference that knows its object's id (one callback serves every entry)."""

    __slots__ = ("oid",)


class _Strong:
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __call__(self):
        return self.obj


class Lineage:
    """Keys of the values of one run."""

    def __init__(self) -> None:
        self._ids: dict[int, tuple] = {}  # id -> (weakref, key, epoch, estimator state)
        self._mutated_at: dict[int, int] = {}  # id of an array written in place -> epoch
        self._mutated_floor = 0
        # Bumped whenever an ndarray is written in place. An array keyed before keeps its key
        # only if no write since could have reached its memory: memory an ndarray owns is
        # shared only by the views whose ``base`` chain ends at that owner (numpy collapses the
        # chain, ``np.frombuffer(a).base is a``), so a write through one of them dates its owner
        # (``_written``) and leaves arrays of other owners alone; a write through an array of
        # memory no ndarray owns (a memory map, ``as_strided``, a foreign buffer), or through
        # something that is not an array, could reach any array (``_written_anywhere``), and an
        # array of such memory trusts its key only while no array was written at all.
        self.array_epoch = 0
        self._written: dict[int, int] = {}  # id of an owning ndarray -> epoch of its last write
        self._written_anywhere = 0  # epoch of the last write that could reach any array
        self._tag_libs = None
        self._prefix = None
        # id(child) -> (weakref to child, [weakrefs to owners]): library objects reached as an
        # attribute of another one (``df.index``, ``est.coef_``): changing the child in place
        # changes its owners too (``df.index.name = ...``, ``est.coef_[0] = 0``).
        self._owners: dict[int, tuple] = {}
        self._linked: dict[int, weakref.ref] = {}  # frames over an array's memory (``link``)
        # Set by the feeders of content that can change where stratum does not see it: a user
        # function (the globals it reads), a list, dict or set, a class of the script's own.
        # A key computed from such content is not remembered: it is computed at each use
        # (``make_scorer(cost)`` is keyed again after ``FN_COST = 10``).
        self.volatile = False
        # Bumped whenever the map learns something (a key remembered, an owner linked): while
        # it has not moved, writing the same object in place again changes nothing more
        # (``stratum.engine.engine``'s folded sites skip the repeat).
        self.generation = 0

    def key_hasher(self):
        """A hasher already fed with the versions of the libraries loaded so far.

        Re-derived when a traced library is imported after the first key was made, so every
        key includes the version of every library that could have produced its value.
        """
        mods = sys.modules  # asked for every key: the four of _LIBS looked up, no generator
        loaded = ("numpy" in mods, "pandas" in mods, "sklearn" in mods, "scipy" in mods)
        if loaded != self._tag_libs:
            self._tag_libs = loaded
            self._prefix = Hasher()
            self._prefix.update_str(version_tag())
        return self._prefix.copy()

    # ---- identity map ---------------------------------------------------------------------
    def remember(self, obj, key: str) -> None:
        t = type(obj)
        if t in _PLAIN_SCALARS:
            return
        oid = id(obj)
        traits = _TRAITS.get(t)
        if traits is None:
            traits = type_traits(t)
        if traits[0] or holds_python_objects(obj):
            # lists in an object column: keyed at each use instead; an iterator (``KFold.split``
            # returns a generator): its use consumes it, so the call that made it stands for
            # it only until then
            self._ids.pop(oid, None)
            return
        try:
            ref = _Ref(obj, self._gone)
            ref.oid = oid
        except TypeError:
            if type(obj) in _CONTENT_KEYED:
                return  # lists, tuples, dicts: keyed by content when needed
            # No weak references (numpy Generator, some C types): hold the object itself,
            # so its id cannot be reused by another object while the entry exists.
            ref = _Strong(obj)
        if traits[1] and hasattr(obj, "__dict__"):  # is_estimator(obj)
            state = _state_of(obj)
        elif traits[2]:
            # dated like an array over such memory, or by writes into its blocks (``known``)
            state = _FOREIGN if _frame_over_foreign_memory(obj) else _memory_of(obj)
        else:
            state = None
        self._ids[oid] = (ref, key, self.array_epoch, state)
        self.generation += 1

    def _gone(self, ref) -> None:
        """Weak-reference callback: a remembered object died, its id may be reused."""
        entry = self._ids.get(ref.oid)
        if entry is not None and entry[0] is ref:
            del self._ids[ref.oid]

    def forget(self, obj) -> None:
        self._ids.pop(id(obj), None)

    def release(self, arr) -> None:
        """``arr.resize(...)`` is about to run: numpy refuses to resize an array anything holds
        a weak reference to, so every entry about it goes (its key, the owners it was read
        from), and its memory counts as written (it is reallocated)."""
        oid = id(arr)
        self._ids.pop(oid, None)
        entry = self._owners.get(oid)
        if entry is not None and entry[0]() is arr:
            del self._owners[oid]
        ref = self._linked.get(oid)
        if ref is not None and ref() is arr:
            del self._linked[oid]
        self.mutated_array(arr)

    def add_owner(self, child, owner) -> None:
        """``child`` was read as an attribute of ``owner``."""
        if type(child) in _PLAIN_SCALARS or child is owner:
            return
        entry = self._owners.get(id(child))
        if entry is not None and entry[0]() is child:
            refs = entry[1]
            if any(r() is owner for r in refs):
                return
            if len(refs) >= 8:
                del refs[0]
        else:
            oid = id(child)
            try:
                ref = weakref.ref(child, lambda _r, oid=oid, o=self._owners: o.pop(oid, None))
            except TypeError:
                return
            refs = []
            self._owners[oid] = (ref, refs)
        try:
            refs.append(weakref.ref(owner))
        except TypeError:
            refs.append(_Strong(owner))
        self.generation += 1

    def link(self, frame) -> None:
        """``frame`` is over the memory of an array the script holds (see ``is_linked``)."""
        linked = self._linked
        if len(linked) > 10_000:
            for oid in [k for k, r in linked.items() if r() is None]:
                del linked[oid]
        try:
            linked[id(frame)] = weakref.ref(frame)
        except TypeError:
            pass

    def is_linked(self, frame) -> bool:
        """Is ``frame`` over the memory of an array the script holds (``pd.DataFrame(arr,
        copy=False)``, or a frame taken from such a frame): then what is taken from it may be
        over that memory too, and is linked to it in turn."""
        ref = self._linked.get(id(frame))
        return ref is not None and ref() is frame

    def owners(self, obj) -> list:
        """The objects that change when ``obj`` changes in place (transitively), ``obj`` excluded:
        the frame behind a pandas indexer (``df.loc``), the owners ``obj`` (or the array it is a
        view of) was read from as an attribute."""
        out: list = []
        seen = {id(obj)}
        todo = [obj]
        while todo:
            cur = todo.pop()
            related = []
            base = indexer_target(cur)
            if base is not None:
                related.append(base)
            if isinstance(cur, (np.ndarray, np.flatiter)) and cur.base is not None:
                related.append(cur.base)  # a view's array; ``a.flat``'s array
            entry = self._owners.get(id(cur))
            if entry is not None and entry[0]() is cur:
                related.extend(r() for r in entry[1])
            for o in related:
                if o is None or id(o) in seen:
                    continue
                seen.add(id(o))
                root = (getattr(type(o), "__module__", None) or "").partition(".")[0]
                if root in _LIBS:  # not the raw buffers under an array (bytes, mmap ...)
                    out.append(o)
                    todo.append(o)
        return out

    def known(self, obj) -> str | None:
        entry = self._ids.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return None
        if entry[2] != self.array_epoch and isinstance(obj, np.ndarray) \
                and not self._unwritten(obj, entry[2]):
            return None
        state = entry[3]
        if state is _FOREIGN:
            if self._written_anywhere > entry[2]:
                return None  # a write reached memory no ndarray owns: keyed by content again
        elif type(state) is _Memory:
            if entry[2] != self.array_epoch and not self._memory_unwritten(state, entry[2]):
                return None  # ``df["a"].array[0] = v``: its blocks changed, no pandas call did it
        elif state is not None and not self._same_state(obj, entry):
            return None  # a fitted attribute changed by the script: keyed by content again
        return entry[1]

    def mutated_array(self, arr) -> None:
        """``arr`` (an array, or ``a.flat`` ...) was written in place: arrays sharing its
        memory are keyed by content again at their next use."""
        self.array_epoch += 1
        epoch = self.array_epoch
        mutated = self._mutated_at
        if len(mutated) > 100_000:  # bounded: older changes count as "any array changed"
            mutated.clear()
            self._mutated_floor = epoch
        for a in (arr, getattr(arr, "base", None)):
            if isinstance(a, np.ndarray):
                mutated[id(a)] = epoch
        if not isinstance(arr, np.ndarray):
            arr = getattr(arr, "base", None)  # ``a.flat``: its array
        owner = _memory_owner(arr) if isinstance(arr, np.ndarray) else None
        if owner is None:
            self._written_anywhere = epoch
            return
        written = self._written
        if len(written) > 100_000:  # bounded: forgetting a write counts as a write anywhere
            written.clear()
            self._written_anywhere = epoch
        # An id outlives its array here; a later array with that id was made, and keyed, after
        # this epoch, so the stale date never invalidates it wrongly nor hides a later write.
        written[id(owner)] = epoch

    def written_anywhere(self) -> None:
        """Memory no ndarray owns was written outside numpy (``buf[0:8] = ...`` on a
        ``bytearray``, ``memoryview``, ``mmap`` or ``ctypes`` array): every array over such
        memory is keyed by content again at its next use."""
        self.array_epoch += 1
        self._written_anywhere = self.array_epoch

    def _unwritten(self, arr, epoch: int) -> bool:
        """Has no write since ``epoch`` (when ``arr``'s key was remembered) reached its memory?"""
        if self._written_anywhere > epoch:
            return False
        owner = _memory_owner(arr)
        return owner is not None and self._written.get(id(owner), 0) <= epoch

    def _memory_unwritten(self, owners, epoch: int) -> bool:
        """Has no write since ``epoch`` reached the memory of a frame's blocks (``_Memory``)?"""
        if self._written_anywhere > epoch:
            return False
        written = self._written
        return all(written.get(o, 0) <= epoch for o in owners)

    def _same_state(self, obj, entry) -> bool:
        """Is an estimator's state what it was when its key was remembered? Its attributes
        are the same objects (lists of the same length and items, nested estimators alike),
        and none of its arrays was written in place since."""
        signature, arrays = entry[3]
        if entry[2] != self.array_epoch and arrays:
            if entry[2] < self._mutated_floor or self._written_anywhere > entry[2]:
                return False  # (a write through memory no ndarray owns: ``as_strided``)
            mutated = self._mutated_at
            if any(mutated.get(a, -1) > entry[2] for a in arrays):
                return False
        return _state_of(obj, None)[0] == signature

    # ---- keys -------------------------------------------------------------------------------
    def key_of(self, v) -> str:
        """The key of any value (raises Unkeyable)."""
        t = type(v)
        if t in _PLAIN_SCALARS:
            h = Hasher()
            h.update_str(scalar_text(v))
            return h.hexdigest()
        known = self.known(v)
        if known is not None:
            return known
        h = Hasher()
        outer, self.volatile = self.volatile, False
        try:
            self.feed_content(h, v, 0)
            volatile = self.volatile
        finally:
            self.volatile = outer or self.volatile
        key = h.hexdigest()
        if not volatile:
            self.remember(v, key)
        return key

    def feed(self, h, v, depth: int = 0) -> None:
        """Feed the identity of ``v`` (its key, or its canonical text) into a hasher."""
        t = type(v)
        if t in _PLAIN_SCALARS:
            h.update_str(scalar_text(v))
            return
        known = self.known(v)
        if known is not None:
            h.update_str(known)
            return
        if t in (tuple, list, dict, slice, range) or depth > 0:
            self.feed_content(h, v, depth)
            return
        h.update_str(self.key_of(v))

    def feed_class_code(self, h, cls, depth: int) -> None:
        """Feed a user class's code (its methods' code objects) into ``h``."""
        feed_class_code(self, h, cls, depth)

    def feed_content(self, h, v, depth: int) -> None:
        """Feed ``v`` by content (never by a traced key) into ``h``: what a key feeder
        (``stratum.keys.keyrules``) calls for the parts of the value it is given."""
        if depth > 24:  # estimators nest: search -> pipeline -> column transformer -> pipeline ...
            raise Unkeyable("nesting too deep to key")
        t = type(v)
        feeder = _FEEDERS.get(t)
        if feeder is None:
            feeder = _feeder_for(t)
        feeder(self, h, v, depth)


_WATCHED: dict = {}  # type -> are in-place changes of its objects seen (see watched)


def watched(v) -> bool:
    """May a key computed from ``v``'s content stand for ``v`` until stratum sees it change?

    Only for objects whose changes stratum sees: a library's objects (changed by traced
    operations, which forget their keys; arrays also dated by the write epoch) and estimators
    (their state compared at each use). Anything else is keyed by its content at every use: a
    user function reads globals a script rebinds (``K = 3.0``) and lists it changes in place,
    and an instance, an ``OrderedDict`` or a ``Counter`` changes through plain Python that
    stratum does not trace."""
    t = type(v)
    r = _WATCHED.get(t)
    if r is None:
        root = (getattr(t, "__module__", None) or "").partition(".")[0]
        r = _WATCHED[t] = root in _LIBS and not issubclass(t, (dict, list, set))
    return r or is_estimator(v)


def _memory_owner(arr):
    """The ndarray that owns ``arr``'s memory (``arr`` itself, or the end of its ``base``
    chain), or None when no ndarray owns it (a memory map, a foreign buffer, ``as_strided``)."""
    base = arr.base
    while isinstance(base, np.ndarray):
        arr, base = base, base.base
    if base is None and arr.flags.owndata:
        return arr
    return None


_FOREIGN = "foreign"  # the state of a remembered frame over memory no ndarray owns
_OBJECT = np.dtype(object)


def holds_python_objects(obj) -> bool:
    """Does an array, frame, series or index hold, in an object array, Python objects other
    than immutable scalars (``str``, numbers, ``None``, ``bytes``): a list per row
    (``df["text"].str.split()``), a dict, an object of the script's own?

    Plain Python changes such an object in place (``df["tags"].iloc[0].append("w")``)
    without any library call, where stratum does not see it. So the value's key is never
    remembered by identity (``Lineage.remember``) and its content key is volatile
    (``_feed_ndarray``): it is keyed by content, objects included, at each use. Columns of
    strings and numbers (the common case, and pandas' ``str`` dtype always) keep their keys."""
    return any(_changeable_items(p) for p in _object_parts(obj))


def shares_python_objects(result, inputs) -> bool:
    """Does ``result`` hold (in an object array, a frame's object column, or as an item of a
    list, tuple or dict it is) one of the changeable objects its inputs hold: ``np.array([L,
    None], dtype=object)`` holds the script's list ``L``, ``s.tolist()`` the lists of an object
    column. A reuse would hand back copies, and ``L.append(3)`` would no longer show in it."""
    out = []
    for o in (result if type(result) in (tuple, list) else (result,))[:16]:
        if type(o) in (list, tuple) or type(o) is dict:
            out.extend(o.values() if type(o) is dict else o)
        else:
            out.extend(x for p in _object_parts(o) for x in p.ravel().tolist())
    out = [x for x in out if type(x) not in _PLAIN_SCALARS]
    if not out:
        return False
    mine: set = set()
    todo = [(v, 0) for v in inputs]
    while todo and len(mine) < 1_000_000:
        v, level = todo.pop()
        t = type(v)
        if t in _PLAIN_SCALARS:
            continue
        if level:
            mine.add(id(v))
        if level > 2:
            continue
        if t in (list, tuple, set, frozenset):
            todo.extend((x, level + 1) for x in v)
        elif t is dict:
            todo.extend((x, level + 1) for x in v.values())
        else:
            todo.extend((x, level + 1) for p in _object_parts(v) for x in p.ravel().tolist())
    return any(id(x) in mine for x in out)


def _object_parts(v) -> list:
    """The object arrays behind an array, a frame or a series (their object blocks, not their
    other columns) or a pandas index."""
    if isinstance(v, np.ndarray):
        return [v] if v.dtype.hasobject else []
    t = type(v)
    if hasattr(t, "_get_axis"):
        blocks = getattr(getattr(v, "_mgr", None), "blocks", ())
        return [b.values for b in blocks
                if isinstance(b.values, np.ndarray) and b.values.dtype.hasobject]
    if (getattr(t, "__module__", None) or "").startswith("pandas.core.indexes"):
        values = getattr(v, "_values", None)
        if isinstance(values, np.ndarray) and values.dtype.hasobject:
            return [values]
    return []


def _changeable_items(arr) -> bool:
    """Does an object array hold anything but ``None`` / ``bool`` / ``int`` / ``float`` /
    ``str`` / ``bytes``? (Immutable objects of other types, a ``Decimal``, count as
    changeable: asking each type would cost more than keying such columns at each use.)"""
    if arr.dtype != _OBJECT:
        return True  # a structured dtype with object fields
    flat = arr.ravel()
    if not flat.size:
        return False
    lib = sys.modules.get("pandas._libs.lib")
    if lib is not None:
        try:
            if lib.is_string_array(flat, skipna=True):  # C, no hashing: the common case
                return False
        except Exception:  # noqa: BLE001 - an internal of pandas that moved: hash instead
            pass
    return hash_objects(flat) is None


class _Memory(tuple):
    """The state remembered with a frame's or a series' key: the ids of the arrays owning the
    memory of its blocks (``_memory_owner``). pandas' own writes re-key the frame they go
    through, but a write into that memory under pandas (``df["a"].array[0] = v``: the column's
    extension array is the frame's block; a view from ``to_numpy()`` made writeable) changes
    the frame, and the frames sharing its blocks, where no pandas call sees it: every numpy
    or extension-array write the engine sees dates its memory owner (``mutated_array``), so
    ``known`` keys such a frame by content again."""

    __slots__ = ()


#: Where pandas' extension arrays keep their numpy memory (``StringArray._ndarray``,
#: ``IntegerArray._data`` / ``_mask``, ``Categorical._codes``, ``DatetimeArray._ndarray``).
EA_PARTS = ("_ndarray", "_data", "_codes", "_mask")


def array_parts(values) -> list:
    """The numpy arrays holding a block's or an extension array's values."""
    if isinstance(values, np.ndarray):
        return [values]
    return [p for p in (getattr(values, a, None) for a in EA_PARTS) if isinstance(p, np.ndarray)]


def _memory_of(frame):
    owners = []
    for block in getattr(getattr(frame, "_mgr", None), "blocks", ()):
        for part in array_parts(getattr(block, "values", None)):
            owner = _memory_owner(part)
            if owner is not None:  # else: dated by writes anywhere (``_memory_unwritten``)
                owners.append(id(owner))
    return _Memory(owners)


def _frame_over_foreign_memory(frame) -> bool:
    """Does a frame or series hold a block over memory Python writes without numpy?"""
    mgr = getattr(frame, "_mgr", None)
    for block in getattr(mgr, "blocks", ())[:64]:
        values = getattr(block, "values", None)
        if isinstance(values, np.ndarray) and values.base is not None and foreign_memory(values):
            return True
    return False


def foreign_memory(arr) -> bool:
    """Is ``arr``'s memory something Python can write without numpy: a ``bytearray``, a
    memory map, a ``ctypes`` array, a ``memoryview``, an ``array.array``? An array over it keeps
    its key only while no write reached such memory (``written_anywhere``: the script's
    ``buf[i] = v`` on one of these reports itself, as does any numpy write into memory no
    ndarray owns), and so does a frame over it. Memory an ndarray owns,
    ``bytes`` and the buffers of extension objects (stratum's own kernels' results) are not."""
    base = arr.base
    while isinstance(base, np.ndarray):
        base = base.base
    if base is None or type(base) is bytes:
        return False
    if isinstance(base, (bytearray, memoryview, mmap.mmap, array.array)):
        return True
    ctypes = sys.modules.get("ctypes")  # a ctypes array or structure (``np.ctypeslib``)
    return ctypes is not None and isinstance(base, (ctypes.Array, ctypes.Structure,
                                                    ctypes.Union, ctypes._SimpleCData))


_INDEXER_BASE = None


def indexer_target(obj):
    """The frame or series a pandas indexer (``.loc``, ``.iloc``, ``.at``, ``.iat``) writes to."""
    global _INDEXER_BASE
    if _INDEXER_BASE is None:
        mod = sys.modules.get("pandas._libs.indexing")
        if mod is None:
            return None
        _INDEXER_BASE = mod.NDFrameIndexerBase
    if isinstance(obj, _INDEXER_BASE):
        return getattr(obj, "obj", None)
    return None


# ---- content feeders by type -------------------------------------------------------------------
def _feed_seq(lin, h, v, depth):
    if type(v) is not tuple:
        lin.volatile = True  # a list (or a tuple subclass's own state) changes in place
    h.update_str(f"{type(v).__module__}.{type(v).__qualname__}[{len(v)}")
    if len(v) > 16 and type(v) in (list, tuple):
        digest = hash_objects(v)  # all plain scalars (texts, labels): one Rust pass
        if digest is not None:
            h.update(digest)
            h.update_str("]")
            return
    for item in v:
        lin.feed(h, item, depth + 1)
    h.update_str("]")


def _feed_dict(lin, h, v, depth):
    lin.volatile = True
    h.update_str(f"{type(v).__module__}.{type(v).__qualname__}{{{len(v)}")
    if len(v) > 16:  # a lookup table of plain keys and values: one Rust pass each
        keys = hash_objects(list(v.keys()))
        values = hash_objects(list(v.values())) if keys is not None else None
        if values is not None:
            h.update(keys)
            h.update(values)
            h.update_str("}")
            return
    for k, item in v.items():
        lin.feed(h, k, depth + 1)
        lin.feed(h, item, depth + 1)
    h.update_str("}")


def _feed_dict_subclass(lin, h, v, depth):
    _feed_dict(lin, h, v, depth)
    feed_class_code(lin, h, type(v), depth)  # a user subclass's ``__missing__``, ``__getitem__``
    state = getattr(v, "__dict__", None)
    if state:
        _feed_dict(lin, h, dict(state), depth)
    if isinstance(getattr(v, "default_factory", None), type):
        h.update_str(f"default:{v.default_factory.__qualname__}")


def _feed_seq_subclass(lin, h, v, depth):
    _feed_seq(lin, h, v, depth)
    feed_class_code(lin, h, type(v), depth)


def _feed_set(lin, h, v, depth):
    # Iteration order of a set can differ between runs; what the library does with it
    # follows that order, so the key does too (a different order is a different key).
    h.update_str(type(v).__name__)  # a set is not the list of its items
    _feed_seq(lin, h, tuple(v), depth)  # a tuple: only its items can make the key volatile
    if type(v) is not frozenset:
        lin.volatile = True


def _feed_slice(lin, h, v, depth):
    h.update_str("slice")
    for part in (v.start, v.stop, v.step):
        lin.feed(h, part, depth + 1)


def _feed_range(lin, h, v, depth):
    h.update_str(f"range({v.start},{v.stop},{v.step})")


def _feed_float_like(lin, h, v, depth):
    h.update_str(f"{type(v).__module__}.{type(v).__qualname__}:{v!r}")


def _feed_ndarray(lin, h, v, depth):
    h.update_str(f"nd:{v.dtype.str}:{v.shape}")
    if v.dtype.hasobject:
        digest = hash_objects(v.ravel(order="C").tolist() if v.ndim != 1 else v)
        if digest is None:
            digest = _hash_pickled(v)
            lin.volatile = True  # lists, dicts ... change in place unseen (holds_python_objects)
        h.update(digest)
        return
    if not v.flags.c_contiguous:
        v = np.ascontiguousarray(v)
    if v.dtype.fields is None and v.size:
        h.update(xxh3_128(v.reshape(-1).view(np.uint8)))
    elif v.size:
        h.update(xxh3_128(v.tobytes()))


def _feed_module(lin, h, v, depth):
    h.update_str(f"module:{v.__name__}")


def _feed_type(lin, h, v, depth):
    h.update_str(f"type:{v.__module__}.{v.__qualname__}")
    if v.__module__ not in ("builtins",) and _is_user_module(v.__module__):
        feed_class_code(lin, h, v, depth)


_CLASSES_FED: set = set()  # classes whose code is being fed (a method reads its own class)


def feed_class_code(lin, h, cls, depth):
    """The code of ``cls`` and of its bases defined in user modules: two classes of the same
    name (redefined in a notebook, edited between runs, built by a factory function from its
    arguments) behave differently, so their instances must not share keys."""
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", None) or ""
        if klass is object or module == "builtins" or not _is_user_module(module):
            continue
        h.update_str(f"class:{module}.{klass.__qualname__}")
        lin.volatile = True  # its methods read globals, its attributes can be rebound
        if id(klass) in _CLASSES_FED:
            continue
        _CLASSES_FED.add(id(klass))
        try:
            _feed_user_class(lin, h, klass, depth)
        finally:
            _CLASSES_FED.discard(id(klass))


def _feed_function(lin, h, v, depth):
    module = getattr(v, "__module__", None) or ""
    if not _is_user_module(module) and not is_user_file(v.__code__.co_filename):
        # a library's function: its name and the library's version say what it does. Only
        # when its code is a library's too: a function made by ``exec`` (module ``None`` or
        # the caller's), or defined in a file loaded without ``sys.modules`` (``runpy``,
        # ``spec_from_file_location``), is the user's and keyed by its code
        h.update_str(f"fn:{module}.{v.__qualname__}")
        return
    from stratum.keys.purity import side_effect

    why = side_effect(v.__code__, v.__globals__, v.__closure__)
    if why:
        raise Unkeyable(f"user function {v.__qualname__} may have side effects ({why})")
    lin.volatile = True  # the globals it reads can be rebound
    h.update_str(f"userfn:{v.__qualname__}")
    _feed_code(lin, h, v.__code__, v.__globals__, depth)
    if v.__defaults__:
        lin.feed(h, v.__defaults__, depth + 1)
    if v.__kwdefaults__:
        lin.feed(h, v.__kwdefaults__, depth + 1)
    for cell in v.__closure__ or ():
        try:
            lin.feed(h, cell.cell_contents, depth + 1)
        except ValueError:
            h.update_str("emptycell")


def _feed_code(lin, h, code, globals_, depth):
    from interposer.rewrite import MARK

    h.update(code.co_code)
    h.update_str(repr(code.co_names))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(lin, h, const, globals_, depth + 1)
        elif const != MARK:
            lin.feed(h, const, depth + 1)
    for name in code.co_names:
        if globals_ is not None and name in globals_:
            value = globals_[name]
            if isinstance(value, types.FunctionType) and value.__code__ is code:
                continue  # recursion
            h.update_str(name)
            lin.feed(h, value, depth + 1)


def _feed_user_class(lin, h, v, depth):
    for name, member in sorted(vars(v).items()):
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property):
            for part in (member.fget, member.fset, member.fdel):
                if isinstance(part, types.FunctionType):
                    h.update_str(f"property:{name}")
                    _feed_method_code(lin, h, part, depth)
        elif isinstance(member, types.FunctionType):
            h.update_str(name)
            _feed_method_code(lin, h, member, depth)
        elif type(member) in _PLAIN_SCALARS and not name.startswith("__"):
            h.update_str(f"attr:{name}")  # class constants (THRESHOLD = 3)
            h.update_str(scalar_text(member))
        elif not name.startswith(("__", "_abc_")) and type(member) not in _DESCRIPTORS:
            # any other class attribute (SCALES = [1, 2], a table, an array) by content: a
            # lambda reading ``Cfg.SCALES[1]`` must not keep its key when the list changes
            h.update_str(f"attr:{name}")
            lin.feed(h, member, depth + 1)


_DESCRIPTORS = (types.MemberDescriptorType, types.GetSetDescriptorType,
                types.WrapperDescriptorType, types.MethodDescriptorType)


def _feed_method_code(lin, h, f, depth):
    """A method's code, defaults and closure (the values a factory function gave it). A method
    that may have a side effect (``LOG.append(...)`` on a global list, a global assigned) makes
    its object unkeyable, as a user function with one is: a library call running it (a
    pipeline fitting a step of the script's own class) must run, not be reused."""
    from stratum.keys.purity import side_effect

    why = side_effect(f.__code__, f.__globals__, f.__closure__)
    if why:
        raise Unkeyable(f"method {f.__qualname__} may have side effects ({why})")
    _feed_code(lin, h, f.__code__, f.__globals__, depth + 1)
    if f.__defaults__:
        lin.feed(h, f.__defaults__, depth + 1)
    if f.__kwdefaults__:
        lin.feed(h, f.__kwdefaults__, depth + 1)
    for name, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
        if name == "__class__":  # zero-argument super(): the class being fed
            continue
        try:
            value = cell.cell_contents
        except ValueError:
            h.update_str("emptycell")
            continue
        lin.feed(h, value, depth + 1)


def _feed_builtin(lin, h, v, depth):
    self_ = getattr(v, "__self__", None)
    if self_ is not None and not isinstance(self_, types.ModuleType):
        h.update_str(f"method:{v.__name__}")
        lin.feed(h, self_, depth + 1)
        return
    h.update_str(f"builtin:{getattr(v, '__module__', '')}.{v.__qualname__}")


def _feed_method(lin, h, v, depth):
    h.update_str(f"boundmethod:{v.__func__.__qualname__}")
    lin.feed(h, v.__func__, depth + 1)
    lin.feed(h, v.__self__, depth + 1)


def _feed_dtype(lin, h, v, depth):
    h.update_str(f"dtype:{v.str}:{v!r}")


_FEEDERS = {
    tuple: _feed_seq, list: _feed_seq, dict: _feed_dict, set: _feed_set, frozenset: _feed_set,
    slice: _feed_slice, range: _feed_range, np.ndarray: _feed_ndarray,
    types.ModuleType: _feed_module, type: _feed_type, types.FunctionType: _feed_function,
    types.BuiltinFunctionType: _feed_builtin, types.MethodType: _feed_method,
    type(Ellipsis): lambda lin, h, v, d: h.update_str("..."),
}


def _feeder_for(t):
    """Pick (and cache) the content feeder for a type not in the table yet."""
    from stratum.keys import keyrules

    if issubclass(t, dict):  # Bunch, OrderedDict, defaultdict ...: items, then own state
        feeder = _feed_dict_subclass
    elif issubclass(t, (tuple, list)):  # namedtuples and list subclasses (and their code)
        feeder = _feed_seq_subclass
    else:
        feeder = keyrules.feeder_for(t)
    if feeder is None:
        if issubclass(t, np.dtype):
            feeder = _feed_dtype
        elif issubclass(t, (np.generic, float)) or t.__module__.startswith("pandas._libs"):
            feeder = _feed_float_like
        elif issubclass(t, type):
            feeder = _feed_type
        elif t.__name__ == "ufunc":
            feeder = _feed_ufunc
        else:
            feeder = _unkeyable
    _FEEDERS[t] = feeder
    return feeder


def _feed_ufunc(lin, h, v, depth):
    """numpy's and scipy.special's ufuncs by name; one made by ``np.frompyfunc(f, ...)`` runs
    ``f``, which it does not show: not keyed."""
    name = v.__name__
    special = sys.modules.get("scipy.special")
    if getattr(np, name, None) is v or special is not None and getattr(special, name, None) is v:
        h.update_str(f"ufunc:{name}")
        return
    raise Unkeyable(f"the ufunc {name!r} runs a Python function it does not show")


def _unkeyable(lin, h, v, depth):
    raise Unkeyable(f"argument of type {type(v).__qualname__} cannot be keyed")


def file_key(path) -> str:
    """A data source: resolved path, size, mtime and a content hash of the file."""
    real = os.path.realpath(os.fspath(path))
    st = os.stat(real)
    h = Hasher()
    h.update_str(f"file:{real}:{st.st_size}:{st.st_mtime_ns}")
    with open(real, "rb") as fh:
        while True:
            chunk = fh.read(8 << 20)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def global_rng_key() -> str:
    """The state of numpy's global RNG (what ``random_state=None`` draws from)."""
    state = np.random.get_state()
    h = Hasher()
    h.update_str(f"rng:{state[0]}:{state[2]}:{state[3]}:{state[4]!r}")
    h.update(xxh3_128(np.ascontiguousarray(state[1]).view(np.uint8)))
    return h.hexdigest()
