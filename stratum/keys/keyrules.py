"""Content-key rules for library types (pandas, scipy.sparse, scikit-learn).

Each rule feeds what determines a value's behaviour into the hasher: data buffers, dtypes,
index and column labels for frames; class and parameters for unfitted estimators.
"""
from __future__ import annotations

import functools
import sys
import types

import numpy as np

from stratum.keys.content import Unkeyable, hash_pickled, is_user_module
from stratum.keys.randomness import rng_types


def _feed_values(lin, h, values, depth):
    """Feed the data of a pandas array-like (ndarray or extension array)."""
    if isinstance(values, np.ndarray):
        lin.feed_content(h, values, depth + 1)
        return
    h.update_str(f"ea:{type(values).__qualname__}:{values.dtype!r}")
    codes = getattr(values, "codes", None)
    if codes is not None and hasattr(values, "categories"):  # Categorical
        lin.feed_content(h, np.asarray(codes), depth + 1)
        _feed_index(lin, h, values.categories, depth)
        h.update_str(f"ordered:{values.ordered}")
        return
    for attr in ("_ndarray", "_data", "_mask"):  # numpy-backed, datetime, masked arrays
        part = getattr(values, attr, None)
        if isinstance(part, np.ndarray):
            h.update_str(attr)
            lin.feed_content(h, part, depth + 1)
    if not any(isinstance(getattr(values, a, None), np.ndarray) for a in ("_ndarray", "_data")):
        lin.feed_content(h, np.asarray(values, dtype=object), depth + 1)


def _feed_index(lin, h, index, depth):
    import pandas as pd

    h.update_str(f"index:{type(index).__qualname__}:{index.names!r}")
    if isinstance(index, pd.RangeIndex):
        h.update_str(f"range:{index.start}:{index.stop}:{index.step}")
    elif isinstance(index, pd.MultiIndex):
        for level, codes in zip(index.levels, index.codes):
            _feed_index(lin, h, level, depth)
            lin.feed_content(h, np.asarray(codes), depth + 1)
    else:
        _feed_values(lin, h, index._values, depth)


def feed_frame(lin, h, df, depth):
    h.update_str(f"DataFrame:{df.shape}")
    _feed_index(lin, h, df.columns, depth)
    _feed_index(lin, h, df.index, depth)
    for i in range(df.shape[1]):
        _feed_values(lin, h, df.iloc[:, i]._values, depth)
    h.update_str(f"flags:{df.flags.allows_duplicate_labels}:{sorted(df.attrs.items())!r}")


def feed_series(lin, h, s, depth):
    h.update_str(f"Series:{len(s)}")
    lin.feed(h, s.name, depth + 1)
    _feed_index(lin, h, s.index, depth)
    _feed_values(lin, h, s._values, depth)


def feed_index(lin, h, index, depth):
    _feed_index(lin, h, index, depth)


def feed_extension_array(lin, h, values, depth):
    _feed_values(lin, h, values, depth)


def feed_sparse(lin, h, m, depth):
    m = m.tocsr() if m.format not in ("csr", "csc", "coo") else m
    h.update_str(f"sparse:{m.format}:{m.shape}:{m.dtype.str}")
    for part in ("data", "indices", "indptr", "row", "col", "coords"):
        value = getattr(m, part, None)
        if isinstance(value, np.ndarray):
            lin.feed_content(h, value, depth + 1)
        elif isinstance(value, tuple):
            for v in value:
                lin.feed_content(h, np.asarray(v), depth + 1)


def is_fitted(est) -> bool:
    return any(k.endswith("_") and not k.startswith("__") for k in vars(est))


def feed_estimator(lin, h, est, depth):
    """Unfitted: class, parameters and any other attribute it holds (``set_output``'s
    configuration, metadata requests). Fitted outside any traced op: its pickled state."""
    t = type(est)
    h.update_str(f"est:{t.__module__}.{t.__qualname__}")
    _check_attributes(est)
    if is_user_module(t.__module__ or ""):  # an estimator class of the script's own
        lin.feed_class_code(h, t, depth)
    if is_fitted(est):
        h.update(hash_pickled(est))
        _feed_held_callables(lin, h, est, depth)
        return
    try:
        params = est.get_params(deep=False)
    except Exception as exc:  # a half-built object, ``__init__(**kwargs)`` (no parameters)
        raise Unkeyable(f"its parameters cannot be read ({type(exc).__name__})") from None
    for name in sorted(params):
        h.update_str(name)
        lin.feed(h, params[name], depth + 1)
    for name, value in sorted(vars(est).items()):
        if name not in params:
            h.update_str(f"attr:{name}")
            lin.feed(h, value, depth + 1)


def _feed_held_callables(lin, h, est, depth) -> None:
    """Pickling names a function by its module and name only, and an object by its class's
    name and its own attributes: a fitted ``FunctionTransformer`` copied by ``deepcopy`` or
    loaded from a file must be keyed by its function's code and the globals that reads too
    (``lin.feed`` of a user function, which makes the key volatile), a model holding an object
    of the script's own (``KNeighborsRegressor(weights=w)``) by that object's class, whose
    attributes and methods the script can change (``K.p = 3``)."""
    todo = [(v, 0) for v in vars(est).values()]
    seen = 0
    while todo and seen < 200:
        v, level = todo.pop()
        seen += 1
        t = type(v)
        if t in (types.FunctionType, types.MethodType, functools.partial):
            lin.feed(h, v, depth + 1)
        elif isinstance(v, type) and is_user_module(getattr(v, "__module__", None) or ""):
            lin.feed_class_code(h, v, depth + 1)
        elif is_user_module(getattr(t, "__module__", None) or ""):
            lin.feed_class_code(h, t, depth + 1)
            if level < 4 and type(getattr(v, "__dict__", None)) is dict:
                todo.extend((x, level + 1) for x in list(vars(v).values())[:64])
        elif level < 4 and t in (list, tuple):
            todo.extend((x, level + 1) for x in v[:64])
        elif level < 4 and t is dict:
            todo.extend((x, level + 1) for x in list(v.values())[:64])
        elif level < 4 and hasattr(t, "get_params") and type(getattr(v, "__dict__", None)) is dict:
            todo.extend((x, level + 1) for x in list(vars(v).values())[:64])


#: Attributes that make a library object impossible to key soundly, with the reason: what they
#: stand for must run every time (data, not code: one row per rule).
UNKEYABLE_ATTRIBUTES = {
    "_skl_callbacks": "scikit-learn callbacks are registered on it (they must run)",
}


def _check_attributes(obj) -> None:
    state = getattr(obj, "__dict__", None)
    if not state:
        return
    for name, why in UNKEYABLE_ATTRIBUTES.items():
        if state.get(name):
            raise Unkeyable(why)


_DICT_ONLY: dict[type, bool] = {}
_PLAIN_OBJECT_SIZE = object.__basicsize__ + 2 * np.dtype(np.intp).itemsize  # + dict, weakrefs


def state_is_dict(t: type) -> bool:
    """Does an instance of ``t`` keep its whole state in its ``__dict__``?

    True for classes written in Python without ``__slots__`` on top of ``object``: their
    instances are an object header, a dict and a weak-reference list, nothing else. A C or
    Cython base (or slots) stores state outside the dict, which feeding ``__dict__`` would miss.
    """
    r = _DICT_ONLY.get(t)
    if r is None:
        r = _DICT_ONLY[t] = (t.__itemsize__ == 0 and t.__basicsize__ <= _PLAIN_OBJECT_SIZE
                             and t.__dictoffset__ != 0)
    return r


def feed_lib_object(lin, h, obj, depth):
    """Other library objects (CV splitters, scorers, column selectors, groupby objects, a
    ``np.poly1d``): class and complete state.

    The state is the ``__dict__``, item by item, when the object keeps all of it there
    (``state_is_dict``); otherwise what pickling it saves (``__reduce__`` / ``__getstate__``);
    an object that neither describes is not keyed (its calls run)."""
    t = type(obj)
    h.update_str(f"obj:{t.__module__}.{t.__qualname__}")
    _check_attributes(obj)
    if not state_is_dict(t):
        h.update(hash_pickled(obj))
        return
    state = obj.__dict__
    for name in sorted(state):
        h.update_str(name)
        lin.feed(h, state[name], depth + 1)


def feed_rng(lin, h, obj, depth):
    """A random generator object: every use draws from it and changes it, so a call given one
    can never be skipped (its draws would not be made)."""

    raise Unkeyable(f"a random generator object ({type(obj).__qualname__}) is an input")


def feeder_for(t):
    module = getattr(t, "__module__", "") or ""
    root = module.partition(".")[0]
    if root == "pandas":
        import pandas as pd
        from pandas.api.extensions import ExtensionArray

        if issubclass(t, pd.DataFrame):
            return feed_frame
        if issubclass(t, pd.Series):
            return feed_series
        if issubclass(t, pd.Index):
            return feed_index
        if issubclass(t, ExtensionArray):
            return feed_extension_array
        if module.startswith("pandas._libs") or t.__name__ in ("Timestamp", "Timedelta", "Period"):
            return None
        return feed_lib_object
    if root == "scipy" and "sparse" in module:
        return feed_sparse
    if root == "numpy":
        if issubclass(t, rng_types()):
            return feed_rng
        if state_is_dict(t) or hasattr(t, "__reduce_ex__") and t.__module__.startswith(
                ("numpy.lib", "numpy.polynomial")):
            return feed_lib_object  # np.poly1d, np.vectorize, polynomial classes
        return None
    sklearn_base = sys.modules.get("sklearn.base")
    if sklearn_base is not None and issubclass(t, sklearn_base.BaseEstimator):
        return feed_estimator
    if root == "sklearn" and t.__name__ == "CallbackContext":
        return feed_callback_context
    if root in ("sklearn", "scipy"):
        return feed_lib_object  # frozen distributions, splitters, scorers ... (complete state)
    return None


def feed_callback_context(lin, h, v, depth):
    """sklearn's progress-callback context, handed to every fold: bookkeeping (a creation
    time, a random id) when no callback is registered, so it adds nothing to the key; with
    callbacks, skipping the fold would skip their calls, so the call is not reusable."""
    node = v
    while node is not None:
        if getattr(node, "_callbacks", None) or getattr(node, "_propagated_callbacks", None):
            raise Unkeyable("sklearn callbacks are registered (they must run)")
        node = getattr(node, "parent", None)
    h.update_str(f"callback_ctx:{getattr(v, 'task_name', '')}")
