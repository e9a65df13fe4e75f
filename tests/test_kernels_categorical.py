"""Differential tests of the categorical native kernels (stratum/kernels/categorical.py).

Every case runs twice in this process, library only and with the kernels installed, on the
same generated input, and compares everything: each fitted attribute (``vars(estimator)``),
outputs (dtype, shape, values; sparse indices / indptr / data and their dtypes), warnings
(message, category, file, line) and exceptions (type and message), then the library's own
``transform`` / ``inverse_transform`` / ``get_feature_names_out`` on the fitted estimators.
Generated inputs mix unicode (Latin-1, BMP, astral, lone surrogates), empty strings, None / NaN,
numbers, single rows, single and many categories, and unknown values at transform time.

Needs the installed extension (``python -P -m pytest``).
"""
from __future__ import annotations

import math
import os
import pickle
import sqlite3
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder

from stratum import _native, kernels

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------------------ comparing


def _same_scalar(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, np.floating) and np.isnan(a):
        return bool(np.isnan(b))
    return bool(a == b)


def assert_same(a, b, path="value"):
    """Exact equality, type and dtype included (NaN equals NaN)."""
    assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert a.flags.c_contiguous == b.flags.c_contiguous, f"{path}: layout"
        assert a.flags.owndata == b.flags.owndata or a.base is not None and b.base is not None, \
            f"{path}: ownership"
        if a.dtype == object:
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel())):
                assert _same_scalar(x, y), f"{path}[{i}]: {x!r} vs {y!r}"
        else:
            assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), f"{path}: values"
    elif sp.issparse(a):
        assert a.format == b.format and a.shape == b.shape and a.dtype == b.dtype, path
        for part in ("indices", "indptr", "data"):
            assert_same(getattr(a, part), getattr(b, part), f"{path}.{part}")
        assert a.has_sorted_indices == b.has_sorted_indices, f"{path}: sorted flag"
    elif isinstance(a, pd.DataFrame):
        assert a.equals(b) and list(a.columns) == list(b.columns), path
        assert list(a.dtypes) == list(b.dtypes), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: length"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (str, bytes, bool, int, float, type(None), np.generic)):
        assert _same_scalar(a, b), f"{path}: {a!r} vs {b!r}"
    elif isinstance(a, type):
        assert a is b, path
    else:  # estimators' own parameters (dtype classes, callables) compare by identity/equality
        assert a is b or a == b, f"{path}: {a!r} vs {b!r}"


def outcome(fn):
    """(result or None, (exception type, message) or None, warnings as comparable tuples)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = fn(), None
        except Exception as exc:  # compared below: type and message must match
            result, error = None, (type(exc), str(exc))
    return result, error, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


def differential(make_and_run):
    """Run ``make_and_run()`` (returns (estimator, outputs)) with and without the kernels; compare.
    Returns the kernel events of the native run."""
    kernels.uninstall()
    lib = outcome(make_and_run)
    kernels.install()
    try:
        start = kernels.mark()
        nat = outcome(make_and_run)
        events = kernels._log[start:]
    finally:
        kernels.uninstall()
    assert lib[1] == nat[1], f"exceptions differ: {lib[1]} vs {nat[1]}"
    assert lib[2] == nat[2], f"warnings differ: {lib[2]} vs {nat[2]}"
    if lib[1] is None:
        (est_l, out_l), (est_n, out_n) = lib[0], nat[0]
        assert_same(out_l, out_n, "output")
        assert_same(vars(est_l), vars(est_n), "fitted")
        if _picklable(est_l):  # byte-identical fitted estimators
            assert pickle.dumps(est_l) == pickle.dumps(est_n), "pickled estimators differ"
    return lib, nat, events


def _picklable(est) -> bool:
    try:
        pickle.dumps(est)
    except Exception:  # e.g. a lambda feature_name_combiner
        return False
    return True


def used_native(events) -> bool:
    return any(reason is None for _, reason in events)


# ------------------------------------------------------------------------------ generating

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
CHARS = st.one_of(st.sampled_from("abcAB _-0é"), st.characters(max_codepoint=0x10FFFF,
                                                                  exclude_categories=["Cs"]),
                  SURROGATES)
STRINGS = st.text(CHARS, max_size=4)
MISSING = st.sampled_from([None, float("nan"), np.nan])
NUMBERS = st.one_of(st.integers(-3, 3), st.floats(allow_nan=False, width=32))


@st.composite
def str_pool(draw, max_size=12):
    return draw(st.lists(STRINGS, min_size=1, max_size=max_size, unique=True))


@st.composite
def column(draw, n, pool, kind):
    """One column's values: str from ``pool``, maybe with missing values / numbers mixed in."""
    if kind == "int":
        return np.array(draw(st.lists(st.integers(-2, 5), min_size=n, max_size=n)), dtype=np.int64)
    if kind == "float":
        vals = draw(st.lists(st.one_of(st.sampled_from([0.5, 1.0, -2.0]), st.just(np.nan)),
                             min_size=n, max_size=n))
        return np.array(vals, dtype=np.float64)
    extra = {"str": st.nothing(), "missing": MISSING, "mixed": NUMBERS}[kind]
    vals = draw(st.lists(st.one_of(st.sampled_from(pool), extra), min_size=n, max_size=n))
    out = np.empty(n, dtype=object)
    out[:] = vals
    return out


@st.composite
def frames(draw, allow_missing=True):
    """(fit X, transform X): DataFrames (object / str / category / numeric columns) or 2-D arrays."""
    n = draw(st.integers(1, 40))
    m = draw(st.integers(1, 4))
    kinds = ["str", "str", "int", "float"] + (["missing", "mixed"] if allow_missing else [])
    cols, pools, col_kinds = [], [], []
    for _ in range(m):
        kind = draw(st.sampled_from(kinds))
        pool = draw(str_pool())
        pools.append(pool)
        col_kinds.append(kind)
        cols.append(draw(column(n, pool, kind)))
    n2 = draw(st.integers(1, 20))
    unknown = draw(st.booleans())
    cols2 = []
    for kind, pool, col in zip(col_kinds, pools, cols):
        pool2 = pool + (draw(str_pool(3)) if unknown else [])
        cols2.append(draw(column(n2, pool2, kind)) if kind != "str" or unknown
                     else np.array(draw(st.lists(st.sampled_from(list(col)), min_size=n2,
                                                 max_size=n2)), dtype=object))
    container = draw(st.sampled_from(["object", "str", "category", "ndarray"]))
    return _container(cols, container), _container(cols2, container)


def _container(cols, container):
    if container == "ndarray":
        out = np.empty((len(cols[0]), len(cols)), dtype=object)
        for j, c in enumerate(cols):
            out[:, j] = c
        return out
    df = pd.DataFrame({f"f{j}é": pd.Series(c, dtype=c.dtype) for j, c in enumerate(cols)})
    for j, c in enumerate(cols):
        if c.dtype == object and all(isinstance(v, str) for v in c):
            if container == "str":
                df[f"f{j}é"] = df[f"f{j}é"].astype("str")
            elif container == "category":
                df[f"f{j}é"] = df[f"f{j}é"].astype("category")
    return df


OHE_PARAMS = st.fixed_dictionaries({
    "sparse_output": st.booleans(),
    "drop": st.sampled_from([None, "first", "if_binary"]),
    "handle_unknown": st.sampled_from(["error", "ignore", "infrequent_if_exist", "warn"]),
    "dtype": st.sampled_from([np.float64, np.float32, np.int64, np.uint8, bool]),
    "min_frequency": st.sampled_from([None, None, None, 2]),
})


# ------------------------------------------------------------------------------ tests


@SETTINGS
@given(data=frames(), params=OHE_PARAMS)
def test_onehot_matches_library(data, params):
    X, X2 = data

    def run():
        enc = OneHotEncoder(**params)
        fitted = enc.fit_transform(X)
        out = [fitted, enc.transform(X2)]
        out.append(enc.get_feature_names_out())
        out.append(enc.inverse_transform(out[0]))
        return enc, out

    differential(run)


# every dtype scipy.sparse accepts (long double: scipy's toarray, not the direct write), ways of
# spelling them, and dtypes scipy rejects (the library raises its own error)
DENSE_DTYPES = [np.float64, np.float32, np.int8, np.int16, np.int32, np.int64, np.uint8,
                np.uint16, np.uint32, np.uint64, bool, np.bool_, np.complex64, np.complex128,
                np.longdouble, np.clongdouble, float, int, complex, "float32", "i2",
                np.dtype("<f8"), np.dtype(">f8"), np.float16, object, str]


def _layout(X, how):
    """The same values with other strides / memory orders (numpy inputs), or row order (frames)."""
    if how == "C":
        return X
    if isinstance(X, pd.DataFrame):
        return X.iloc[::-1] if how == "reversed" else X
    return {"F": np.asfortranarray(X), "reversed": X[::-1, ::-1],
            "strided": np.repeat(X, 2, axis=0)[::2]}[how]


def assert_dense_same(a, b, path):
    """A dense result: type, dtype, shape, strides, every flag and every byte."""
    assert type(a) is type(b), path
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape, a.strides) == (b.dtype, b.shape, b.strides), path
        flags = ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA", "WRITEABLE", "ALIGNED",
                 "WRITEBACKIFCOPY")
        assert [a.flags[f] for f in flags] == [b.flags[f] for f in flags], f"{path}: flags"
        assert (a.base is None) == (b.base is None), f"{path}: base"
        assert a.tobytes() == b.tobytes(), f"{path}: bytes"


@SETTINGS
@given(data=frames(), layout=st.sampled_from(["C", "F", "reversed", "strided"]),
       params=st.fixed_dictionaries({
           "drop": st.sampled_from([None, "first", "if_binary"]),
           "handle_unknown": st.sampled_from(["error", "ignore", "infrequent_if_exist", "warn"]),
           "dtype": st.sampled_from(DENSE_DTYPES),
           "min_frequency": st.sampled_from([None, None, 2]),
           "max_categories": st.sampled_from([None, None, 2]),
       }))
def test_onehot_dense_matches_library(data, layout, params):
    """``sparse_output=False``: the directly written array is the library's ``toarray`` result."""
    X, X2 = (_layout(x, layout) for x in data)

    def run():
        enc = OneHotEncoder(sparse_output=False, **params)
        return enc, [enc.fit_transform(X), enc.transform(X2), enc.transform(X)]

    lib, nat, events = differential(run)
    if lib[1] is None:
        for i, (a, b) in enumerate(zip(lib[0][1], nat[0][1])):
            assert_dense_same(a, b, f"output[{i}]")


@pytest.mark.parametrize("dtype", DENSE_DTYPES, ids=str)
@pytest.mark.parametrize("drop", [None, "first", "if_binary", ["y", "q", 2]], ids=str)
def test_onehot_dense_dtypes(dtype, drop):
    def run():
        enc = OneHotEncoder(sparse_output=False, dtype=dtype, drop=drop, handle_unknown="ignore")
        return enc, [enc.fit_transform(FRAME), enc.transform(NEW), enc.transform(FRAME.iloc[::-1])]

    lib, nat, events = differential(run)
    transforms = [r for k, r in events if k == "OneHotEncoder.transform"]
    if lib[1] is None:
        for i, (a, b) in enumerate(zip(lib[0][1], nat[0][1])):
            assert_dense_same(a, b, f"output[{i}]")
        assert transforms[0] is None  # fit_transform wrote the array natively (NEW can warn)
    else:  # scipy rejects the dtype: the library raised its own error, from its own frames
        assert lib[1][0] is ValueError and all("assembling" in r for r in transforms)


def test_onehot_dense_unknown_error_is_the_librarys():
    X, X2 = pd.DataFrame({"s": ["a", "b"]}), pd.DataFrame({"s": ["a", "zz", "yy"]})
    lib, _, events = differential(lambda: (None, OneHotEncoder(sparse_output=False).fit(X)
                                           .transform(X2)))
    assert lib[1][0] is ValueError and "Found unknown categories" in lib[1][1]
    assert ("OneHotEncoder.transform", "ValueError while validating: the library raises") in events


def test_onehot_dense_rejects_inconsistent_input():
    """Bad arguments are a ValueError (the kernel then lets the library run), never a panic."""
    codes = np.array([[0, 1], [1, 0]], dtype=np.int64)
    mask = np.ones((2, 2), dtype=bool)
    out = np.zeros((2, 4))
    _native.onehot_dense(codes, mask, [0, 2], [2, 2], [2, 2], out.view(np.uint8), bytes(np.ones(1)))
    assert out.tolist() == [[1, 0, 0, 1], [0, 1, 1, 0]]
    one = bytes(np.ones(1))
    bad = [
        (codes, mask, [0, 2], [2, 1], [2, 2], np.zeros((2, 4)).view(np.uint8), one),  # shape
        (codes, mask, [0, 1], [2, 2], [2, 2], np.zeros((2, 4)).view(np.uint8), one),  # offsets
        (codes + 1, mask, [0, 2], [2, 2], [5, 5], np.zeros((2, 4)).view(np.uint8), one),  # code
        (-codes - 1, mask, [0, 2], [2, 2], [5, 5], np.zeros((2, 4)).view(np.uint8), one),
        (codes, mask, [0, 2], [2, 2], [2, 2], np.zeros((2, 4)).view(np.uint8), b"\x01" * 3),
        (codes, mask, [0, 2], [2, 2], [2, 2], np.zeros((4, 32), np.uint8)[::2], one),  # strided
        (codes, mask[:1], [0, 2], [2, 2], [2, 2], np.zeros((2, 4)).view(np.uint8), one),
    ]
    for args in bad:  # TypeError: rust-numpy's "not contiguous"
        with pytest.raises((ValueError, TypeError)):
            _native.onehot_dense(*args)
    with pytest.raises(TypeError):  # non-contiguous codes
        _native.onehot_dense(np.zeros((2, 4), dtype=np.int64)[:, ::2], mask, [0, 2], [2, 2],
                             [2, 2], np.zeros((2, 4)).view(np.uint8), one)


@SETTINGS
@given(data=frames(), sparse=st.booleans())
def test_onehot_fit_then_library_methods(data, sparse):
    """A native fit leaves an estimator on which the library's own methods all work."""
    X, X2 = data

    def run():
        enc = OneHotEncoder(sparse_output=sparse, handle_unknown="ignore").fit(X)
        kernels.uninstall()  # from here on the library only, in both runs
        out = [enc.transform(X), enc.transform(X2), enc.get_feature_names_out()]
        out.append(enc.inverse_transform(out[1]))
        return enc, out

    differential(run)


@SETTINGS
@given(data=frames(), params=st.fixed_dictionaries({
    "handle_unknown": st.sampled_from(["error", "use_encoded_value"]),
    "encoded_missing_value": st.sampled_from([np.nan, -2]),
    "dtype": st.sampled_from([np.float64, np.float32, np.int64]),
}))
def test_ordinal_matches_library(data, params):
    X, X2 = data
    if params["handle_unknown"] == "use_encoded_value":
        params["unknown_value"] = -1

    def run():
        enc = OrdinalEncoder(**params)
        out = [enc.fit_transform(X), enc.transform(X2)]
        out.append(enc.inverse_transform(out[0]))
        return enc, out

    differential(run)


@st.composite
def labels(draw):
    pool = draw(str_pool(20))
    kind = draw(st.sampled_from(["str", "str", "missing", "mixed"]))
    y = list(draw(column(draw(st.integers(1, 60)), pool, kind)))
    y2 = list(draw(column(draw(st.integers(1, 10)), pool + draw(str_pool(2)), "str")))
    wrap = draw(st.sampled_from(["list", "array", "series", "str-series"]))
    conv = {"list": lambda v: v, "array": lambda v: np.array(v, dtype=object),
            "series": lambda v: pd.Series(v, dtype=object),
            "str-series": lambda v: pd.Series(v, dtype=object if kind != "str" else "str")}[wrap]
    return conv(y), conv(y2)


@SETTINGS
@given(data=labels())
def test_label_encoder_matches_library(data):
    y, y2 = data

    def run():
        a, b = LabelEncoder(), LabelEncoder()
        out = [a.fit_transform(y), b.fit(y).transform(y)]
        out.append(a.inverse_transform(out[0]))
        try:
            out.append(a.transform(y2))
        except ValueError as exc:
            out.append(("ValueError", str(exc)))
        return a, out

    differential(run)


FRAME = pd.DataFrame({"a": ["x", "y", "x", "zé", "y", "x"], "b": ["p", "q", "p", "p", "q", "r"],
                      "n": [1, 2, 1, 1, 3, 2]})
NEW = pd.DataFrame({"a": ["x", "w", "zé"], "b": ["r", "p", "s"], "n": [2, 1, 9]})


@pytest.mark.parametrize("params", [
    {"sparse_output": False, "output": "pandas"},
    {"categories": [["zé", "y", "x"], ["p", "q", "r"], [1, 2, 3]]},
    {"categories": [["zé", "y", "x"], ["p", "q", "r"], [1, 2, 3]], "handle_unknown": "ignore",
     "drop": ["y", "q", 2]},
    {"drop": ["y", "q", 2], "handle_unknown": "ignore"},
    {"max_categories": 2, "handle_unknown": "infrequent_if_exist"},
    {"min_frequency": 2, "drop": "first", "handle_unknown": "infrequent_if_exist"},
    {"feature_name_combiner": lambda feature, category: f"{feature}={category}",
     "handle_unknown": "warn"},
    {"drop": "if_binary", "dtype": np.int32, "handle_unknown": "ignore"},
], ids=lambda p: ",".join(f"{k}" for k in p))
def test_onehot_configurations(params):
    params = dict(params)
    output = params.pop("output", None)

    def run():
        enc = OneHotEncoder(**params)
        if output:
            enc.set_output(transform=output)
        out = [enc.fit_transform(FRAME), enc.transform(FRAME.iloc[::-1]), enc.transform(NEW),
               enc.get_feature_names_out()]
        if output is None:
            out.append(enc.inverse_transform(out[0]))
        return enc, out

    _, _, events = differential(run)
    assert used_native(events)


def test_unfitted_and_sparse_pandas_output_errors_are_the_librarys():
    lib, nat, _ = differential(lambda: (None, OneHotEncoder().transform(FRAME)))
    assert lib[1][0].__name__ == "NotFittedError"
    enc = OneHotEncoder().fit(FRAME)
    enc.set_output(transform="pandas")
    lib, nat, _ = differential(lambda: (None, enc.transform(FRAME)))
    assert lib[1][0] is ValueError


def test_kernels_apply_to_string_columns_and_explain_the_rest():
    X = pd.DataFrame({"s": ["b", "a", "b", "c"], "n": [1, 2, 1, 3], "m": ["x", None, "y", "x"]})
    _, _, events = differential(lambda: (lambda e: (e, e.fit_transform(X)))(OneHotEncoder()))
    assert used_native(events)
    reasons = {r for _, r in events if r is not None}
    assert any("dtype is int64" in r for r in reasons)  # the numeric column: library
    assert any("not an exact str" in r for r in reasons)  # the column with None: library


def test_unknown_category_error_is_the_librarys():
    X, X2 = pd.DataFrame({"s": ["a", "b"]}), pd.DataFrame({"s": ["a", "zz", "yy"]})
    lib, nat, events = differential(lambda: (OneHotEncoder(), OneHotEncoder().fit(X).transform(X2)))
    assert lib[1][0] is ValueError and "Found unknown categories" in lib[1][1]
    assert any(r and "unknown" in r for _, r in events)


def test_many_categories_and_unicode_order():
    rng = np.random.default_rng(0)
    pool = ["", "a", "A", "é", "€", "\U0001F600", "a\U0001F600", "\ud800", "ab", "b", "\x00",
            "Z" * 30] + [f"c{i}" for i in range(3000)]
    col = np.array([pool[i] for i in rng.integers(0, len(pool), 20000)], dtype=object)
    found = _native.str_unique(col, True)
    assert found is not None
    uniques, codes = found
    assert uniques == sorted(set(col.tolist()))
    assert np.array_equal(np.array(uniques, dtype=object)[codes], col)
    differential(lambda: (lambda e: (e, e.fit_transform(pd.DataFrame({"c": col}))))(OneHotEncoder()))


def test_native_does_not_touch_string_objects():
    """Reading strings must not fill CPython's UTF-8 cache (it would change sys.getsizeof)."""
    values = np.array(["été" + str(i % 7) for i in range(50)] + ["\U0001F600x"], dtype=object)
    before = [sys.getsizeof(v) for v in values]
    _native.str_unique(values, True)
    _native.str_encode(values, np.array(sorted(set(values)), dtype=object))
    assert [sys.getsizeof(v) for v in values] == before


def test_returned_codes_own_their_memory():
    y = np.array(["b", "a", "b"], dtype=object)
    library = LabelEncoder().fit_transform(y)
    kernels.install()
    try:
        start = kernels.mark()
        native = LabelEncoder().fit_transform(y)
        assert kernels._log[start:] == [("LabelEncoder unique", None)]
    finally:
        kernels.uninstall()
    assert library.flags.owndata and native.flags.owndata and native.base is None
    native.resize(4, refcheck=False)


def test_str_subclass_falls_back():
    class S(str):
        pass

    assert _native.str_unique(np.array([S("a"), "b"], dtype=object), False) is None
    assert _native.str_encode(np.array(["a"], dtype=object), np.array([S("a")], dtype=object)) is None


# ------------------------------------------------------------------------------ corpus scripts

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

CORPUS = ["clf_logreg_baseline", "reg_gbr_cross_validate", "clf_svc", "kaggle_submission"]


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_native_and_not_native_match_plain(name, corpus_data, tmp_path, monkeypatch):
    script = difftest.CORPUS_DIR / f"{name}.py"
    work = tmp_path / "work"
    plain = difftest.run_case(script, work, "plain", None, data_dir=corpus_data)
    native = difftest.run_case(script, work, "stratum", tmp_path / "c1", data_dir=corpus_data)
    monkeypatch.setenv("STRATUM_NATIVE", "0")
    off = difftest.run_case(script, work, "stratum", tmp_path / "c2", data_dir=corpus_data)
    assert difftest.compare(plain, native, "plain", "stratum-native") == []
    assert difftest.compare(plain, off, "plain", "stratum-native-0") == []
    assert any(s.startswith("native ") or "; native " in s for s in _impls(tmp_path / "c1"))
    assert not any("native " in s for s in _impls(tmp_path / "c2"))


def _impls(cache_dir: Path) -> list[str]:
    db = next(cache_dir.rglob("traces.db"))
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT impl FROM nodes WHERE impl IS NOT NULL")]
