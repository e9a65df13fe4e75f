"""Content-key rules for library types (pandas, scipy.sparse, scikit-learn).

Each rule feeds what determines a value's behaviour into the hasher: data buffers, dtypes,
index and column labels for frames; class and parameters for unfitted estimators.
"""
from __future__ import annotations

import sys

import numpy as np


def _feed_values(lin, h, values, depth):
    """Feed the data of a pandas array-like (ndarray or extension array)."""
    if isinstance(values, np.ndarray):
        lin._feed_content(h, values, depth + 1)
        return
    h.update_str(f"ea:{type(values).__qualname__}:{values.dtype!r}")
    codes = getattr(values, "codes", None)
    if codes is not None and hasattr(values, "categories"):  # Categorical
        lin._feed_content(h, np.asarray(codes), depth + 1)
        _feed_index(lin, h, values.categories, depth)
        h.update_str(f"ordered:{values.ordered}")
        return
    for attr in ("_ndarray", "_data", "_mask"):  # numpy-backed, datetime, masked arrays
        part = getattr(values, attr, None)
        if isinstance(part, np.ndarray):
            h.update_str(attr)
            lin._feed_content(h, part, depth + 1)
    if not any(isinstance(getattr(values, a, None), np.ndarray) for a in ("_ndarray", "_data")):
        lin._feed_content(h, np.asarray(values, dtype=object), depth + 1)


def _feed_index(lin, h, index, depth):
    import pandas as pd

    h.update_str(f"index:{type(index).__qualname__}:{index.names!r}")
    if isinstance(index, pd.RangeIndex):
        h.update_str(f"range:{index.start}:{index.stop}:{index.step}")
    elif isinstance(index, pd.MultiIndex):
        for level, codes in zip(index.levels, index.codes):
            _feed_index(lin, h, level, depth)
            lin._feed_content(h, np.asarray(codes), depth + 1)
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
            lin._feed_content(h, value, depth + 1)
        elif isinstance(value, tuple):
            for v in value:
                lin._feed_content(h, np.asarray(v), depth + 1)


def is_fitted(est) -> bool:
    return any(k.endswith("_") and not k.startswith("__") for k in vars(est))


def feed_estimator(lin, h, est, depth):
    """Unfitted: class and parameters. Fitted outside any traced op: its pickled state."""
    t = type(est)
    h.update_str(f"est:{t.__module__}.{t.__qualname__}")
    from stratum.lineage import _is_user_module, feed_class_code

    if _is_user_module(t.__module__ or ""):  # an estimator class of the script's own
        feed_class_code(lin, h, t, depth)
    if is_fitted(est):
        from stratum.lineage import _hash_pickled

        h.update(_hash_pickled(est))
        return
    params = est.get_params(deep=False)
    for name in sorted(params):
        h.update_str(name)
        lin.feed(h, params[name], depth + 1)


def feed_lib_object(lin, h, obj, depth):
    """Other library objects (CV splitters, scorers, groupby objects): class and state."""
    t = type(obj)
    h.update_str(f"obj:{t.__module__}.{t.__qualname__}")
    state = getattr(obj, "__dict__", None)
    if state is None:
        from stratum.lineage import Unkeyable

        raise Unkeyable(f"argument of type {t.__qualname__} cannot be keyed")
    for name in sorted(state):
        h.update_str(name)
        lin.feed(h, state[name], depth + 1)


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
    sklearn_base = sys.modules.get("sklearn.base")
    if sklearn_base is not None and issubclass(t, sklearn_base.BaseEstimator):
        return feed_estimator
    if root == "sklearn" and t.__name__ == "CallbackContext":
        return feed_callback_context
    if root == "sklearn":
        return feed_lib_object
    return None


def feed_callback_context(lin, h, v, depth):
    """sklearn's progress-callback context, handed to every fold: bookkeeping (a creation
    time, a random id) when no callback is registered, so it adds nothing to the key; with
    callbacks, skipping the fold would skip their calls, so the call is not reusable."""
    node = v
    while node is not None:
        if getattr(node, "_callbacks", None) or getattr(node, "_propagated_callbacks", None):
            from stratum.lineage import Unkeyable

            raise Unkeyable("sklearn callbacks are registered (they must run)")
        node = getattr(node, "parent", None)
    h.update_str(f"callback_ctx:{getattr(v, 'task_name', '')}")
