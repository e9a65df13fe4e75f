"""Categorical encoding kernels: scikit-learn's object-dtype helpers, done in Rust.

``OneHotEncoder``, ``OrdinalEncoder`` (and every ``_BaseEncoder``) and ``LabelEncoder`` find
categories and codes of string columns with pure-Python helpers from ``sklearn.utils._encode``
(``set`` + ``sorted`` to fit, a dict lookup per element to transform); that is most of their
time. These kernels replace exactly those helpers, as the encoder modules bound them
(``_encoders._unique`` ...), and nothing else: validation, fitted attributes, drop indices,
sparse assembly, warnings and error messages stay the library's own code, so the estimator is
the library's in every attribute and its own ``transform`` / ``inverse_transform`` /
``get_feature_names_out`` work after a native fit.

A kernel applies to 1-D object ndarrays whose elements are all exact ``str``. Anything else
(numeric columns, NaN / None, numbers mixed in, counts for infrequent categories, an unknown
value, whose message lists a set in hash order) runs the library, with the reason noted.

``OneHotEncoder.transform`` is also replaced as a whole (see ``_onehot_transform``): its body is
the library's, line for line, except the numpy expressions that turn codes into CSR
``indices`` / ``indptr``, which are one Rust pass, and, for dense output, the CSR and its
``toarray``: Rust writes the ones straight into the array ``toarray`` would have allocated.
"""
from __future__ import annotations

import threading
import warnings

import numpy as np

from stratum import _native
from stratum.kernels import KERNELS, Fallback, Kernel

NOT_STR = "an element is not an exact str (None, NaN, number, str subclass)"


def _object_1d(values, what: str = "values") -> str | None:
    if type(values) is not np.ndarray:
        return f"{what} is {type(values).__name__}, not a numpy array"
    if values.dtype != object:
        return f"{what} dtype is {values.dtype} (the library's numpy path)"
    if values.ndim != 1:
        return f"{what} is {values.ndim}-D"
    if values.size == 0:
        return f"{what} is empty"
    return None


def _arg(args, kwargs, pos: int, name: str, default=None):
    if len(args) > pos:
        return args[pos]
    return kwargs.get(name, default)


# _unique(values, *, return_inverse=False, return_counts=False)
def _unique_parity(args, kwargs):
    if kwargs.get("return_counts"):
        return "return_counts (infrequent categories)"
    if len(args) != 1 or set(kwargs) - {"return_inverse", "return_counts"}:
        return "unexpected arguments"
    return _object_1d(args[0])


def _unique_run(original, args, kwargs):
    values = args[0]
    inverse = bool(kwargs.get("return_inverse", False))
    found = _native.str_unique(values, inverse)
    if found is None:
        raise Fallback(NOT_STR)
    uniques, codes = found
    uniques = np.array(uniques, dtype=values.dtype)  # as _unique_python builds it
    return (uniques, codes) if inverse else uniques


# _check_unknown(values, known_values, return_mask=False)
# ``_BaseEncoder._transform`` calls ``_check_unknown(Xi, cats, return_mask=True)`` and, when all
# values are known, ``_encode(Xi, uniques=cats)`` right after on the same, unchanged arrays. The
# codes found by the first call are handed to the second (same thread, same objects, consumed
# once) instead of being computed twice.
_handoff = threading.local()


def _check_unknown_parity(args, kwargs):
    _handoff.codes = None  # a new check: nothing from an earlier one may be handed on
    if len(args) < 2 or set(kwargs) - {"return_mask"}:
        return "unexpected arguments"
    return _object_1d(args[0]) or _object_1d(args[1], "known_values")


def _check_unknown_run(original, args, kwargs):
    values, known = args[0], args[1]
    return_mask = _arg(args, kwargs, 2, "return_mask", False)
    _handoff.codes = None
    found = _native.str_encode(values, known)
    if found is None:
        raise Fallback(NOT_STR)
    if found[1]:
        raise Fallback("unknown values (the library lists them)")
    if return_mask:
        _handoff.codes = (values, known, found[0])
        return [], np.ones(len(values), dtype=np.bool_)
    return []


# _encode(values, *, uniques, check_unknown=True)
def _encode_parity(args, kwargs):
    if len(args) != 1 or "uniques" not in kwargs or set(kwargs) - {"uniques", "check_unknown"}:
        reason = "unexpected arguments"
    else:
        reason = _object_1d(args[0]) or _object_1d(kwargs["uniques"], "uniques")
    if reason is not None:
        _handoff.codes = None  # the library runs this one: a handed-over result must not linger
    return reason


def _encode_run(original, args, kwargs):
    handed = getattr(_handoff, "codes", None)
    _handoff.codes = None
    if handed is not None and handed[0] is args[0] and handed[1] is kwargs["uniques"]:
        return handed[2]
    found = _native.str_encode(args[0], kwargs["uniques"])
    if found is None:
        raise Fallback(NOT_STR)
    if found[1]:
        raise Fallback("unknown values (the library raises)")
    return found[0]


_HELPERS = (("_unique", _unique_parity, _unique_run),
            ("_check_unknown", _check_unknown_parity, _check_unknown_run),
            ("_encode", _encode_parity, _encode_run))

for _module, _label, _names in (
        ("sklearn.preprocessing._encoders", "OneHotEncoder/OrdinalEncoder",
         ("_unique", "_check_unknown", "_encode")),
        ("sklearn.preprocessing._label", "LabelEncoder", ("_unique", "_encode"))):
    for _name, _parity, _run in _HELPERS:
        if _name in _names:
            KERNELS.append(Kernel(f"{_label} {_name.lstrip('_')}", _module, None, _name,
                                  _parity, _run))


# OneHotEncoder.transform -------------------------------------------------------------------------

SKLEARN_VERSION = "1.9.1"  # the version whose OneHotEncoder.transform body is replicated below


def _onehot_transform_parity(args, kwargs):
    import sklearn

    if sklearn.__version__ != SKLEARN_VERSION:
        return f"scikit-learn {sklearn.__version__} (kernel replicates {SKLEARN_VERSION})"
    if kwargs or len(args) != 2:
        return "unexpected arguments"
    if threading.active_count() != 1:
        return "other threads are running (warnings are captured process-wide)"
    return None


_wrapped_transform = None


def _onehot_transform_run(original, args, kwargs):
    global _wrapped_transform
    if not hasattr(original, "__wrapped__"):
        raise Fallback("transform is not set_output-wrapped as expected")
    if _wrapped_transform is None:
        from sklearn.utils._set_output import _wrap_method_output

        # the same set_output wrapper the library's transform has, around the body below
        _wrapped_transform = _wrap_method_output(_onehot_transform, "transform")
    return _wrapped_transform(*args)


def _onehot_transform(self, X):
    """``OneHotEncoder.transform`` of scikit-learn 1.9.1 with the output assembly in Rust.

    Any exception or warning before the assembly (unfitted, bad input, unknown categories with
    a warning) makes the library run the call instead, so that the user sees the library's own
    traceback and warnings, once. Capturing warnings here changes no warning registry: the
    library's own ``check_array`` enters ``catch_warnings`` on this path as well.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils._set_output import _get_output_config
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(self)
    except NotFittedError:
        raise Fallback("not fitted: the library raises") from None
    transform_output = _get_output_config("transform", estimator=self)["dense"]
    if transform_output != "default" and self.sparse_output:
        raise Fallback("dense set_output with sparse_output: the library raises")
    if self.handle_unknown == "warn":
        warn_on_unknown, handle_unknown = True, "infrequent_if_exist"
    else:
        warn_on_unknown = self.drop is not None and self.handle_unknown in {
            "ignore", "infrequent_if_exist"}
        handle_unknown = self.handle_unknown
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            X_int, X_mask = self._transform(X, handle_unknown=handle_unknown,
                                            ensure_all_finite="allow-nan",
                                            warn_on_unknown=warn_on_unknown)
        except Exception as exc:
            raise Fallback(f"{type(exc).__name__} while validating: the library raises") from None
    if caught:
        raise Fallback("a warning while validating: the library issues it")

    with warnings.catch_warnings(record=True) as caught:  # e.g. numpy on an exotic ``dtype``
        warnings.simplefilter("always")
        try:
            out = _assemble(self, X_int, X_mask)
        except Exception as exc:  # e.g. MemoryError in np.zeros: the library raises it
            raise Fallback(f"{type(exc).__name__} while assembling: the library raises") from None
    if caught:  # it would name this module's line, not the library's: let the library warn
        raise Fallback("a warning while assembling: the library issues it")
    return out


def _assemble(self, X_int, X_mask):
    """The end of the library's ``transform``: ``indices`` / ``indptr`` come from Rust, and a
    dense result (``sparse_output=False``) is written by Rust directly (see ``_dense``)."""
    from scipy import sparse
    from sklearn.utils import _align_api_if_sparse
    from sklearn.utils.fixes import _ensure_sparse_index_int32

    n_samples, n_features = X_int.shape
    if self._drop_idx_after_grouping is None:
        drop = [len(cats) for cats in self.categories_]  # a code no cell has: nothing dropped
    else:  # 'if_binary' leaves None for non-binary features: drop nothing there
        drop = [len(cats) if d is None else int(d)
                for d, cats in zip(self._drop_idx_after_grouping, self.categories_)]
    feature_indices = np.cumsum([0] + self._n_features_outs)
    offsets = [int(v) for v in feature_indices[:-1]]
    codes = np.ascontiguousarray(X_int, dtype=np.int64)
    mask = np.ascontiguousarray(X_mask)
    if not self.sparse_output:
        out = _dense(self.dtype, codes, mask, offsets,
                     [int(w) for w in self._n_features_outs], drop)
        if out is not None:
            return out
    indices, indptr = _native.onehot_csr(codes, mask, offsets, drop, int(feature_indices[-1]))
    data = np.ones(indptr[-1])

    out = sparse.csr_array(
        (data, indices, indptr),
        shape=(n_samples, feature_indices[-1]),
        dtype=self.dtype,
    )
    if self.sparse_output:
        _ensure_sparse_index_int32(out)
        return _align_api_if_sparse(out)
    else:
        return out.toarray()


# dtypes written directly, by kind: the itemsizes whose "one" has no padding bytes (long double's
# padding holds whatever scipy's C++ ``+=`` leaves there: those keep scipy's ``toarray``)
_DIRECT = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (4, 8), "c": (8, 16)}


def _dense(dtype_param, codes, mask, offsets, widths, drop):
    """``csr_array((ones, indices, indptr), dtype=dtype_param).toarray()`` without the CSR.

    scipy decides the dtype and the cell value: a 1x1 matrix built and densified the library's
    way gives both (and raises, making the library run, where scipy rejects ``dtype_param``).
    The result is what ``toarray`` allocates, ``np.zeros(shape, dtype)`` in C order, with the
    kept cells set in one Rust pass. None: take the CSR path (a dtype not in ``_DIRECT``).
    """
    from scipy import sparse

    probe = sparse.csr_array((np.ones(1), np.zeros(1, dtype=np.int32),
                              np.array([0, 1], dtype=np.int32)), shape=(1, 1),
                             dtype=dtype_param).toarray()
    dtype, one = probe.dtype, probe.tobytes()
    if (dtype.itemsize not in _DIRECT.get(dtype.kind, ()) or not dtype.isnative
            or one != np.ones(1, dtype=dtype).tobytes()):
        return None
    out = np.zeros((codes.shape[0], sum(widths)), dtype=dtype)
    if out.size:
        _native.onehot_dense(codes, mask, offsets, widths, drop, out.view(np.uint8), one)
    return out


KERNELS.append(Kernel("OneHotEncoder.transform", "sklearn.preprocessing._encoders",
                      "OneHotEncoder", "transform", _onehot_transform_parity,
                      _onehot_transform_run))
