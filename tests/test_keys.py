"""Lineage keys (stratum/keys/lineage.py): equal content, equal key across
instances; any change, a different key."""
from __future__ import annotations

import copy
import os

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from stratum.keys.lineage import Lineage, Unkeyable, file_key, global_rng_key


def k(v):
    """Key from a fresh Lineage (no identity map shared with other calls)."""
    return Lineage().key_of(v)


def _frame():
    return pd.DataFrame({
        "i": np.arange(5, dtype=np.int64),
        "f": [1.5, np.nan, 3.0, -0.0, 1e300],
        "s": ["a", "bé", None, "😀", ""],
        "c": pd.Categorical(["x", "y", "x", "z", "y"]),
        "d": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-04-01", "2024-05-01"]),
        "b": [True, False, True, True, False],
        "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
    }, index=pd.Index(list("vwxyz"), name="idx"))


def _pipeline(C=1.0, n_components=2):
    return Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=n_components)),
                     ("clf", LogisticRegression(C=C, max_iter=200))])


SAME_CONTENT = {
    "ndarray": lambda: np.arange(12.0).reshape(3, 4),
    "ndarray_f_order": lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "ndarray_strings": lambda: np.array(["a", "bb", "ccc"]),
    "ndarray_object": lambda: np.array(["a", 1, None, 2.5], dtype=object),
    "dataframe_mixed": _frame,
    "series": lambda: pd.Series([1.0, np.nan, 2.0], index=["a", "b", "c"], name="s"),
    "index": lambda: pd.Index(["a", "b", "c"], name="n"),
    "range_index": lambda: pd.RangeIndex(0, 10, 2),
    "multiindex": lambda: pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)],
                                                    names=["k", "j"]),
    "sparse_csr": lambda: sp.csr_matrix(np.eye(4) * 3),
    "sparse_coo": lambda: sp.coo_matrix(([1.0, 2.0], ([0, 2], [1, 3])), shape=(3, 4)),
    "nested": lambda: {"a": [1, 2, (3, 4.5)], "b": {"c": None, "d": "x"}, 3: (True,)},
    "slice": lambda: slice(1, None, 2),
    "tuple_of_slices": lambda: (slice(None), [0, 2]),
    "np_scalars": lambda: [np.float64(1.5), np.int32(3), np.bool_(True), np.float32(np.nan)],
    "dtype": lambda: np.dtype("float32"),
    "estimator": lambda: LogisticRegression(C=0.5, penalty="l2"),
    "pipeline": _pipeline,
    "onehot": lambda: OneHotEncoder(categories=[["a", "b"]], handle_unknown="ignore"),
    "ellipsis_range": lambda: (Ellipsis, range(3)),
}


@pytest.mark.parametrize("name", sorted(SAME_CONTENT))
def test_same_content_same_key(name):
    make = SAME_CONTENT[name]
    a, b = make(), make()
    ka, kb = k(a), Lineage().key_of(b)
    assert ka == kb
    assert isinstance(ka, str) and len(ka) == 32
    # and stable when asked again on the same instance
    lin = Lineage()
    assert lin.key_of(a) == lin.key_of(a) == ka


def test_layout_does_not_matter_but_dtype_does():
    a = np.arange(12.0).reshape(3, 4)
    assert k(a) == k(np.asfortranarray(a)) == k(a.copy())
    assert k(a[:, 1]) == k(np.ascontiguousarray(a[:, 1]))


def _changed_frames():
    base = _frame()
    out = {}
    df = base.copy(); df.iloc[2, 1] = 3.0000001; out["one value"] = df
    df = base.copy(); df.loc["v", "s"] = "A"; out["one string"] = df
    df = base.copy(); df["i"] = df["i"].astype(np.int32); out["dtype"] = df
    out["shape"] = base.iloc[:4]
    out["column name"] = base.rename(columns={"f": "g"})
    out["index label"] = base.rename(index={"z": "q"})
    out["index name"] = base.rename_axis("other")
    out["column order"] = base[["f", "i", "s", "c", "d", "b", "n"]]
    out["row order"] = base.iloc[[1, 0, 2, 3, 4]]
    df = base.copy(); df["c"] = df["c"].cat.add_categories(["w"]); out["categories"] = df
    df = base.copy(); df["d"] = df["d"] + pd.Timedelta("1ns"); out["datetime"] = df
    df = base.copy(); df["n"] = df["n"].fillna(0); out["NA filled"] = df
    df = base.copy(); df.loc["v", "f"] = np.nan; out["NaN"] = df
    df = base.copy(); df["c"] = df["c"].astype(object); out["categorical to object"] = df
    return out


@pytest.mark.parametrize("what", sorted(_changed_frames()))
def test_any_frame_change_changes_the_key(what):
    assert k(_frame()) != k(_changed_frames()[what])


ARRAY = np.arange(12.0).reshape(3, 4)


def _changed_arrays():
    out = {}
    a = ARRAY.copy(); a[1, 2] = np.nextafter(a[1, 2], 100); out["one value"] = a
    out["dtype"] = ARRAY.astype(np.float32)
    out["int dtype"] = ARRAY.astype(np.int64)
    out["shape"] = ARRAY.reshape(4, 3)
    out["transposed"] = ARRAY.T
    out["flattened"] = ARRAY.ravel()
    a = ARRAY.copy(); a[0, 0] = -0.0; out["negative zero"] = a
    return out


@pytest.mark.parametrize("what", sorted(_changed_arrays()))
def test_any_array_change_changes_the_key(what):
    assert k(ARRAY) != k(_changed_arrays()[what])


def test_other_changes_change_the_key():
    s = pd.Series([1.0, 2.0], index=["a", "b"], name="s")
    assert k(s) != k(s.rename("t"))
    assert k(s) != k(pd.Series([1.0, 2.0], index=["a", "c"], name="s"))
    mi = SAME_CONTENT["multiindex"]()
    assert k(mi) != k(mi.set_names(["k", "x"]))
    assert k(mi) != k(pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 2)], names=["k", "j"]))
    m = sp.csr_matrix(np.eye(4) * 3)
    m2 = m.tolil(); m2[0, 1] = 1.0; m2 = m2.tocsr()
    assert k(m) != k(m2) and k(m) != k(m.tocsc()) and k(m) != k(m.toarray())
    assert k(slice(1, None, 2)) != k(slice(1, None, 3)) != k(slice(None, 1, 2))
    assert k((1, 2)) != k((2, 1)) != k([2, 1])
    assert k({"a": 1, "b": 2}) != k({"a": 2, "b": 1})
    assert k([1, [2, 3]]) != k([1, [2, 4]])
    assert k(np.float64(1.0)) != k(np.float32(1.0)) != k(1.0)
    assert k(1) != k(1.0) != k(True) != k("1")
    assert k(np.int64(1)) != k(np.int32(1))


def test_argument_order_matters():
    # positional arguments are a tuple: order is part of the key
    x, y = np.zeros(3), np.ones(3)
    assert k((x, y)) != k((y, x))
    assert k(("a", "b")) != k(("b", "a"))


def test_estimator_keys():
    assert k(LogisticRegression(C=0.5)) != k(LogisticRegression(C=0.25))
    assert k(LogisticRegression()) != k(Ridge())
    assert k(_pipeline()) != k(_pipeline(C=2.0))  # a parameter of a nested estimator
    assert k(_pipeline()) != k(_pipeline(n_components=3))
    p = _pipeline()
    q = _pipeline()
    q.set_params(scale__with_mean=False)
    assert k(p) != k(q)
    # step names are part of the identity
    r = Pipeline([("scaler", StandardScaler()), ("pca", PCA(n_components=2)),
                  ("clf", LogisticRegression(C=1.0, max_iter=200))])
    assert k(p) != k(r)


# ---- user functions: keyed by code ----------------------------------------------------------------
def _make_module_fn(src: str, name: str = "f", extra_globals=None):
    """A user function defined in a ``__main__``-like module namespace."""
    g = {"__name__": "__main__"}
    g.update(extra_globals or {})
    exec(compile(src, "<user>", "exec"), g)
    return g[name]


FN = "def f(x):\n    return x * SCALE + 1\n"


def test_user_function_same_code_same_key():
    a = _make_module_fn(FN, extra_globals={"SCALE": 2})
    b = _make_module_fn(FN, extra_globals={"SCALE": 2})
    assert k(a) == k(b)


def test_user_function_constant_change():
    a = _make_module_fn(FN, extra_globals={"SCALE": 2})
    b = _make_module_fn(FN.replace("+ 1", "+ 2"), extra_globals={"SCALE": 2})
    assert k(a) != k(b)


def test_user_function_global_change():
    a = _make_module_fn(FN, extra_globals={"SCALE": 2})
    b = _make_module_fn(FN, extra_globals={"SCALE": 3})
    assert k(a) != k(b)
    # a global that is itself a user function: its code counts too
    src = "def helper(v):\n    return v + 1\ndef f(x):\n    return helper(x)\n"
    c = _make_module_fn(src)
    d = _make_module_fn(src.replace("v + 1", "v + 2"))
    assert k(c) != k(d)


def test_user_function_closure_change():
    src = "def make(n):\n    def f(x):\n        return x + n\n    return f\n"
    make = _make_module_fn(src, "make")
    assert k(make(1)) == k(make(1))
    assert k(make(1)) != k(make(2))
    lam = _make_module_fn("def make(n):\n    return lambda x: x * n\n", "make")
    assert k(lam(3)) != k(lam(4))


def test_user_function_default_change():
    a = _make_module_fn("def f(x, s=1):\n    return x * s\n")
    b = _make_module_fn("def f(x, s=2):\n    return x * s\n")
    assert k(a) != k(b)


def test_library_function_keyed_by_name():
    assert k(np.log) == k(np.log) and k(np.log) != k(np.exp)
    assert k(pd.concat) != k(pd.merge)


# ---- unkeyable --------------------------------------------------------------------------------
class _Opaque:
    __slots__ = ("x", "__weakref__")


@pytest.mark.parametrize("value", [
    lambda: _Opaque(),
    lambda: open(os.devnull),
    lambda: (i for i in range(3)),
    lambda: [1, (2, _Opaque())],
], ids=["object", "file", "generator", "nested"])
def test_unkeyable(value):
    v = value()
    try:
        with pytest.raises(Unkeyable):
            Lineage().key_of(v)
    finally:
        if hasattr(v, "close"):
            v.close()


# ---- files ------------------------------------------------------------------------------------
def test_file_key(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes(b"a,b\n1,2\n")
    k1 = file_key(p)
    assert file_key(str(p)) == k1
    st = os.stat(p)
    # same size, same mtime (restored), different content
    p.write_bytes(b"a,b\n1,3\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(p).st_size == st.st_size and os.stat(p).st_mtime_ns == st.st_mtime_ns
    k2 = file_key(p)
    assert k2 != k1
    # content restored, mtime restored: the same key again
    p.write_bytes(b"a,b\n1,2\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file_key(p) == k1
    # other length
    p.write_bytes(b"a,b\n1,2\n3,4\n")
    assert file_key(p) != k1
    # a symlink resolves to the same file
    link = tmp_path / "link.csv"
    link.symlink_to(p)
    assert file_key(link) == file_key(p)


def test_file_key_missing_file(tmp_path):
    with pytest.raises(OSError):
        file_key(tmp_path / "nope.csv")


# ---- global RNG ----------------------------------------------------------------------------------
def test_global_rng_key():
    saved = np.random.get_state()
    try:
        np.random.seed(123)
        a = global_rng_key()
        np.random.rand()
        b = global_rng_key()
        assert a != b
        np.random.seed(123)
        assert global_rng_key() == a
        np.random.seed(123)
        assert global_rng_key() == a
        np.random.seed(124)
        assert global_rng_key() != a
        np.random.seed(123)
        np.random.standard_normal()  # gauss cache state is part of the key
        c = global_rng_key()
        assert c != a
    finally:
        np.random.set_state(saved)


# ---- identity map -----------------------------------------------------------------------------
def test_remember_then_key_of():
    lin = Lineage()
    df = _frame()
    lin.remember(df, "ab" * 16)
    assert lin.key_of(df) == "ab" * 16
    assert lin.known(df) == "ab" * 16
    # another object with the same content is keyed by content
    assert lin.key_of(_frame()) == k(_frame()) != "ab" * 16
    lin.forget(df)
    assert lin.key_of(df) == k(_frame())


def test_identity_map_is_weak():
    lin = Lineage()
    a = np.ones(3)
    lin.remember(a, "cd" * 16)
    n = len(lin._ids)
    del a
    assert len(lin._ids) == n - 1


def test_mutated_array_invalidates_remembered_ndarray_keys():
    lin = Lineage()
    a = np.arange(5.0)
    df = pd.DataFrame({"x": [1, 2]})
    lin.remember(a, "ef" * 16)
    lin.remember(df, "01" * 16)
    assert lin.key_of(a) == "ef" * 16
    a[0] = 100.0  # written through a path stratum may not see
    lin.mutated_array(a)
    assert lin.known(a) is None
    assert lin.key_of(a) == k(a.copy()) != "ef" * 16
    assert lin.key_of(a) == k(np.array([100.0, 1, 2, 3, 4]))
    # only ndarrays are distrusted
    assert lin.key_of(df) == "01" * 16


def test_array_write_invalidates_only_arrays_sharing_its_memory():
    lin = Lineage()
    big, other = np.arange(10.0), np.arange(4.0)
    view, copy_ = big[2:6], big.copy()
    for i, a in enumerate((big, other, view, copy_)):
        lin.remember(a, f"{i:032x}")
    alias = np.frombuffer(big)  # base is ``big``: the same memory
    lin.remember(alias, "a" * 32)
    other[0] = 5.0  # memory no other array shares
    lin.mutated_array(other)
    assert lin.known(big) == f"{0:032x}" and lin.known(view) == f"{2:032x}"
    assert lin.known(copy_) == f"{3:032x}" and lin.known(other) is None
    view[0] = -1.0  # a view: its owner, the owner's other views and aliases changed too
    lin.mutated_array(view)
    assert lin.known(big) is None and lin.known(view) is None and lin.known(alias) is None
    assert lin.known(copy_) == f"{3:032x}"
    assert lin.key_of(big) == k(big.copy())
    # memory no ndarray owns (as_strided, memory maps): a write there may reach any array
    strided = np.lib.stride_tricks.as_strided(copy_, shape=(2,), strides=(8,))
    lin.remember(strided, "b" * 32)
    assert lin.known(strided) == "b" * 32
    lin.mutated_array(other)
    assert lin.known(strided) is None  # keyed on trust only while no array was written
    lin.remember(strided, "b" * 32)
    strided[0] = 7.0
    lin.mutated_array(strided)
    assert lin.known(copy_) is None and lin.key_of(copy_) == k(copy_.copy())
    # a write through something that is not an array (``a.flat``) dates its array
    lin.remember(other, "c" * 32)
    lin.remember(big, "d" * 32)
    other.flat[1] = 3.0
    lin.mutated_array(other.flat)
    assert lin.known(other) is None and lin.known(big) == "d" * 32


def test_plain_scalars_never_remembered():
    lin = Lineage()
    lin.remember(1.5, "aa" * 16)
    assert lin.key_of(1.5) == k(1.5) != "aa" * 16


def test_copies_are_not_confused():
    a = SAME_CONTENT["pipeline"]()
    assert k(a) == k(copy.deepcopy(a))
    lin = Lineage()
    x = np.arange(4.0)
    kx = lin.key_of(x)
    y = x.copy()
    y[0] = 9
    assert lin.key_of(y) != kx
