"""The op registry (interposer/registry.py): what effect each intercepted operation gets."""
from __future__ import annotations

import builtins

import numpy as np
import pandas as pd
import sklearn.model_selection
import sklearn.model_selection._validation  # noqa: F401 - rows name it
import sklearn.pipeline
import sklearn.utils  # noqa: F401 - rows name it (resolved from sys.modules)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from interposer import registry as R


def _callable(f):
    spec = R.resolve_callable(f)
    assert spec is not None, f
    return spec


def _method(t, name):
    spec = R.resolve_method(t, name)
    assert spec is not None, (t, name)
    return spec


def test_read_csv_is_a_source():
    s = _callable(pd.read_csv)
    assert s.effect == R.SOURCE and s.reusable
    assert s.path_arg == (0, "filepath_or_buffer")


def test_to_csv_is_a_sink():
    s = _method(pd.DataFrame, "to_csv")
    assert s.effect == R.SINK and not s.reusable
    assert s.name == "pandas.DataFrame.to_csv"
    assert _method(pd.Series, "to_csv").effect == R.SINK


def test_print_is_a_sink():
    s = _callable(builtins.print)
    assert s.effect == R.SINK and not s.reusable


def test_drop_is_pure_with_inplace_rule():
    s = _method(pd.DataFrame, "drop")
    assert s.effect == R.PURE and s.reusable and s.inplace_rule


def test_dataframe_insert_mutates_self():
    s = _method(pd.DataFrame, "insert")
    assert s.effect == R.MUTATES and s.mutates == "self" and not s.reusable


def test_ndarray_sort_mutates_self():
    s = _method(np.ndarray, "sort")
    assert s.effect == R.MUTATES and s.mutates == "self" and not s.reusable
    # bound method of an instance at a call site resolves the same way
    a = np.array([3, 1, 2])
    assert R.resolve_method(type(a), "sort").effect == R.MUTATES


def test_np_log_is_pure():
    s = _callable(np.log)
    assert s.effect == R.PURE and s.reusable
    assert "log" in s.name


def test_np_random_rand_uses_the_global_rng():
    s = _callable(np.random.rand)
    assert s.effect == R.RANDOM and s.random == "global"


def test_train_test_split_is_random_by_random_state():
    s = _callable(train_test_split)
    assert s.effect == R.RANDOM and s.random == "random_state" and s.reusable


def test_estimator_fit_is_fit_returning_self():
    s = _method(LogisticRegression, "fit")
    assert s.effect == R.FIT and s.returns_self and s.reusable and not s.composite
    assert s.name == "sklearn.linear_model._logistic.LogisticRegression.fit"
    assert type(LogisticRegression()) is LogisticRegression


def test_estimator_predict_is_pure():
    s = _method(LogisticRegression, "predict")
    assert s.effect == R.PURE and s.reusable


def test_pipeline_fit_is_composite():
    s = _method(Pipeline, "fit")
    assert s.effect == R.FIT and s.composite
    assert _method(GridSearchCV, "fit").composite
    assert _method(Pipeline, "predict").composite


def test_cross_val_score_is_composite():
    s = _callable(cross_val_score)
    assert s.effect == R.PURE and s.composite and s.reusable


def test_user_function_is_not_a_library_op():
    def mine(x):
        return x

    assert R.resolve_callable(mine) is None
    assert R.resolve_callable(lambda: 0) is None
    assert R.resolve_callable(len) is None


def test_non_library_class_is_not_a_library_op():
    class Mine:
        def fit(self, X):
            return self

    assert R.resolve_callable(Mine) is None
    assert not R.is_lib_type(Mine)
    assert R.resolve_method(Mine, "fit").effect == R.OPAQUE  # only asked for library types
    assert not R.is_lib_type(dict) and not R.is_lib_type(list)


def test_library_classes_are_library_types():
    for t in (np.ndarray, pd.DataFrame, pd.Series, LogisticRegression, StandardScaler):
        assert R.is_lib_type(t)
    s = _callable(pd.DataFrame)
    assert s.effect == R.PURE and not s.reusable


def test_private_methods_are_not_ops():
    assert R.resolve_method(pd.DataFrame, "_get_item") is None
    assert R.resolve_method(pd.DataFrame, "__getitem__") is not None


def test_estimator_method_table():
    assert _method(StandardScaler, "fit_transform").effect == R.FIT
    assert _method(StandardScaler, "transform").effect == R.PURE
    assert _method(StandardScaler, "set_params").effect == R.MUTATES
    assert _method(StandardScaler, "partial_fit").effect == R.MUTATES
    assert _method(StandardScaler, "get_params").reusable is False
    assert _method(StandardScaler, "frobnicate").effect == R.OPAQUE


def test_random_generators_mutate_themselves():
    s = _method(type(np.random.default_rng(0)), "normal")
    assert s.effect == R.MUTATES and s.mutates == "self" and s.random == "self"
    assert _callable(np.random.seed).mutates == "global_rng"


def test_operators():
    assert R.operator_spec("add").effect == R.PURE
    assert R.operator_spec("iadd").effect == R.MUTATES and R.operator_spec("iadd").mutates == 0
    assert R.operator_spec("setitem").effect == R.MUTATES


def _unresolved_rows() -> list[str]:
    return sorted(name for name in R.all_rows() if R._lookup_path(name) is None)


def test_every_row_names_an_existing_object():
    assert _unresolved_rows() == [], "registry rows that name nothing in these library versions"


def test_resolved_rows_map_back_to_their_spec():
    for name, spec in R.all_rows().items():
        obj = R._lookup_path(name)
        if obj is None or not callable(obj) or name.count(".") >= 2 and isinstance(
                R._lookup_path(name.rsplit(".", 1)[0]), type):
            continue  # methods are resolved through resolve_method
        if isinstance(obj, type):
            continue
        got = R.resolve_callable(obj)
        assert got is spec, name


def test_call_site_cache_keeps_no_receiver_alive():
    import gc
    import weakref

    from interposer import dispatch

    class NoEngine:
        def call(self, spec, fn, args, kwargs, recv=None):
            return fn(*args, **(kwargs or {}))

    dispatch.set_engine(NoEngine())
    try:
        est = LogisticRegression()
        ref = weakref.ref(est)
        wrapped = dispatch._call(est.get_params)
        assert isinstance(wrapped, dispatch.TracedMethod)
        del est, wrapped
        gc.collect()
        assert ref() is None
    finally:
        dispatch.set_engine(None)


def test_a_patch_during_an_indexing_pass_leaves_no_row_out(monkeypatch):
    # Looking a row up can import a scikit-learn module (its lazy __getattr__) whose import-time
    # patch asks for a reindex in the middle of the pass. The rows indexed before it were then
    # dropped, and the resolution under way missed them: with some hash seeds (the order of the
    # library roots) pandas.read_csv fell back to pandas' default spec, a pure call keyed by its
    # path, and a changed data file was not noticed (test_batch_shared, test_replay).
    real = R._lookup_path
    roots = []

    def lookup(name):
        root = name.split(".")[0]
        if not roots:
            roots.append(root)
        elif root != roots[0] and len(roots) == 1:
            roots.append(root)  # the pass has moved past its first library: "a patch lands"
            R.reindex()
        return real(name)

    R.reindex()
    monkeypatch.setattr(R, "_lookup_path", lookup)
    R.resolve_callable(len)  # learn which library this process indexes first
    first = roots[0]
    rows = [(real(n), s) for n, s in R.all_rows().items()
            if n.split(".")[0] == first and n.count(".") == 1 and callable(real(n))
            and not isinstance(real(n), type)]
    assert rows, first
    fn, spec = rows[0]
    roots.clear()
    R.reindex()
    try:
        assert R.resolve_callable(fn) is spec, (first, spec.name)  # in the interrupted pass
        assert len(roots) == 2, roots
    finally:
        monkeypatch.undo()
        R.reindex()


def test_looking_rows_up_does_not_import_submodules_and_indexes_them_once_imported():
    """numpy imports ``numpy.random`` on first use (scikit-learn its subpackages): building the
    index must not import them (that cost every numpy script ~13 ms of start-up), and their
    rows (``np.random.shuffle`` changes its argument) must be indexed once they are imported."""
    import subprocess
    import sys

    code = """if True:
        import sys
        import stratum
        stratum.activate()
        import numpy as np
        from interposer import registry
        registry.resolve_callable(np.arange)
        assert "numpy.random" not in sys.modules, "indexing imported numpy.random"
        assert "numpy.random" in registry.PENDING, registry.PENDING
        from numpy.random import shuffle
        spec = registry.resolve_callable(shuffle)
        assert spec.name == "numpy.random.shuffle" and spec.mutates == 0, spec
        assert "numpy.random" not in registry.PENDING
        print("ok")
    """
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "ok\n", p.stderr
