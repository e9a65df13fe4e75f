"""Sound by default: a reuse must be what the library would return, for objects, effects and
output channels nobody wrote a rule for.

Each case comes from code stratum's authors did not write (scikit-learn's and pandas' own tests
and gallery) and failed before its rule was fixed. Every run uses ``STRATUM_ADMIT=all``, so
every reusable result is admitted to the cache whatever it cost: a wrong reuse shows on any
machine, not only on a loaded one. Each script runs plain, then under ``python -m stratum``
cold and warm on one cache, and must print the same bytes each time.
"""
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_reuse import Runner, write  # noqa: E402

ADMIT_ALL = {"STRATUM_ADMIT": "all"}


@pytest.fixture
def runner(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    return Runner(work, tmp_path / "cache")


def same_cold_and_warm(runner, body: str, name: str = "s.py", runs: int = 2):
    write(runner.workdir / name, textwrap.dedent(body))
    for _ in range(runs):
        runner.same_as_plain(name, env_extra=ADMIT_ALL)


def test_callable_library_objects_are_keyed_by_their_state(runner):
    """A column selector, a scorer, a polynomial: each instance computes with its own
    parameters (they were keyed by their class: every selector returned the first's columns)."""
    same_cold_and_warm(runner, """
        import numpy as np, pandas as pd
        from sklearn.compose import make_column_selector
        from sklearn.datasets import make_classification
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score, get_scorer, make_scorer
        df = pd.DataFrame({"a": [1, 2], "b": [1.0, 2.0], "c": ["x", "y"]})
        for inc in (np.number, object, "float64", "int64"):
            print(inc, make_column_selector(dtype_include=inc)(df))
        X, y = make_classification(random_state=0)
        m = LogisticRegression().fit(X, y)
        for name in ("accuracy", "f1", "roc_auc", "neg_log_loss"):
            print(name, get_scorer(name)(m, X, y))
        print(make_scorer(f1_score, average="macro")(m, X, y))
        for c in ([1, 2], [3, 0, 1]):
            print(np.poly1d(c)(2.0))
    """)


def test_a_fitted_model_drawing_from_its_generator_draws_again(runner):
    """IterativeImputer(sample_posterior=True).transform draws from the fitted model's RNG:
    two calls give two draws (the second was the first's result)."""
    same_cold_and_warm(runner, """
        import numpy as np
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer
        rng = np.random.RandomState(0)
        X = rng.rand(50, 3)
        X[::4, 1] = np.nan
        imp = IterativeImputer(sample_posterior=True, random_state=0).fit(X)
        a, b = imp.transform(X), imp.transform(X)
        print(np.array_equal(a, b), a[:4, 1], b[:4, 1], a.sum() + b.sum())
    """)


def test_copy_false_changes_the_input_on_every_run(runner):
    same_cold_and_warm(runner, """
        import numpy as np
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import StandardScaler, normalize
        X = np.arange(12, dtype=float).reshape(4, 3)
        s = StandardScaler(copy=False).fit(X)
        s.transform(X)
        print(X)
        Y = np.array([[1.0, np.nan], [3.0, 4.0]])
        SimpleImputer(copy=False).fit_transform(Y)
        print(Y)
        Z = np.array([[3.0, 4.0], [1.0, 0.0]])
        normalize(Z, copy=False)
        print(Z, Z.sum())
    """)


def test_a_file_read_by_an_unknown_reader_is_keyed_by_content(runner):
    """scipy.sparse.load_npz has no registry row: the fit on what it read must follow the file."""
    import numpy as np
    import scipy.sparse as sp

    write(runner.workdir / "s.py", """
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import Ridge
m = sp.load_npz("m.npz")
print(Ridge().fit(m, np.arange(m.shape[0], dtype=float)).coef_.round(6))
""")
    outputs = []
    for seed in (1, 2, 1):
        sp.save_npz(runner.workdir / "m.npz", sp.csr_matrix(np.random.RandomState(seed).rand(20, 3)))
        outputs.append(runner.same_as_plain("s.py", env_extra=ADMIT_ALL)[1])
    assert outputs[0] != outputs[1] and outputs[0] == outputs[2]


def test_pandas_options_are_part_of_every_key(runner):
    """A run under other options reads the same file into another frame (the key was the
    file's, so the second run reused the first's frame)."""
    (runner.workdir / "t.csv").write_text("a,b\nx,1.5\ny,\nz,3.0\n")
    write(runner.workdir / "s.py", """
import os, warnings
import pandas as pd
warnings.simplefilter("ignore")
pd.set_option("future.infer_string", os.environ.get("INFER") == "1")
df = pd.read_csv("t.csv")
print(df.dtypes.tolist(), df["a"].str.upper().dtype)
with pd.option_context("future.infer_string", os.environ.get("INFER") != "1"):
    print(pd.read_csv("t.csv").dtypes.tolist())
""")
    for infer in ("1", "0", "1"):
        runner.same_as_plain("s.py", env_extra={**ADMIT_ALL, "INFER": infer})


def test_a_formatter_setting_is_keyed_by_no_address():
    """``pd.set_option("display.float_format", "{:,.1f}".format)``: the option's repr named the
    bound method's address and not its format, so two forks of one process (the server's runs)
    could key two different formatters alike and reuse printed text made under the other one
    (seen as a run-to-run difference of the corpus' ug_options through the server). A setting
    that is not plain data now gives a key no other call shares; plain settings stay stable."""
    import numpy as np
    import pandas as pd

    from stratum.keys import libsettings

    plain = libsettings.pandas_options()
    assert plain == libsettings.pandas_options()
    fmt = "{:,.1f}".format
    with pd.option_context("display.float_format", fmt):
        one, two = libsettings.pandas_options(), libsettings.pandas_options()
        assert one != two and " at 0x" not in one
    assert libsettings.pandas_options() == plain
    with np.printoptions(formatter={"float": lambda x: f"{x:.2f}"}):
        one, two = libsettings.numpy_printoptions(), libsettings.numpy_printoptions()
        assert one != two and " at 0x" not in one
    with np.printoptions(precision=3):
        assert libsettings.numpy_printoptions() == libsettings.numpy_printoptions()


def test_output_under_a_formatter_setting_is_not_reused(runner):
    same_cold_and_warm(runner, """
        import numpy as np
        import pandas as pd
        df = pd.DataFrame({"a": np.arange(6) / 7.0, "b": list("abcdef")})
        pd.set_option("display.float_format", "{:,.3f}".format)
        print(df)
        print(df.describe())
        pd.reset_option("display.float_format")
        print(df)
    """)


def test_query_and_eval_read_the_callers_variables(runner):
    """``df.query("a > @threshold")`` and ``pd.eval`` read variables the call was not given:
    a run with another threshold reused the first run's rows; inside a function, pandas' walk
    up the stack landed in stratum's frames (``UndefinedVariableError: local variable 't'``)."""
    write(runner.workdir / "s.py", """
import os
import numpy as np
import pandas as pd
threshold = float(os.environ["T"])
df = pd.DataFrame({"a": np.arange(3000) % 97, "b": np.arange(3000) % 13})
sel = df.query("a > @threshold and b < 7")
print(len(sel), sel["a"].sum())
k = threshold
print(df.eval("a * @k + b").sum())
a = df["a"]
print(pd.eval("a + threshold").sum())

def rows_below(frame, t):
    return frame.query("a < @t").shape

def nested(frame):
    t = threshold / 2
    return frame.query("a < @t", level=0).shape, helper(frame)

def helper(frame):
    limit = 3
    return len(frame.query("b < @limit and a > @threshold"))

print(rows_below(df, threshold), nested(df))
print(df.groupby("b").apply(lambda g: len(g.query("a < @threshold")), include_groups=False)
      .tolist()[:5])
df.eval("c = a + @k", inplace=True)
print(df["c"].sum())
""")
    for t in ("5", "10", "5", "10"):
        runner.same_as_plain("s.py", env_extra={**ADMIT_ALL, "T": t})


def test_now_and_today_read_the_clock(runner):
    """``pd.Timestamp("now")``, ``pd.to_datetime("today")``, ``date_range(end="now")``, a
    list or a text column holding "now": a second run printed the first run's time (the key
    held the word, not the time), and so did what was computed from it (``.floor``)."""
    import time

    write(runner.workdir / "s.py", """
import numpy as np
import pandas as pd
sec = lambda t: int(pd.Timestamp(t).value // 10**9)
print(sec(pd.Timestamp("now").floor("s")))
print(sec(pd.to_datetime("today").floor("s")))
print(sec(pd.date_range(end="now", periods=2, freq="D").floor("s")[1]))
print(sec(pd.Series(["now"], dtype="datetime64[ns]")[0]))
print(sec(pd.to_datetime(pd.Series(["2020-01-01", "now"]))[1]))
print(sec(pd.Series(["today", "2020-01-01"]).astype("datetime64[ns]")[0]))
print(int(np.array(["now"], dtype="datetime64[s]")[0].astype("int64")))
""")
    runs = []
    for _ in range(2):
        code, out, err = runner.run("s.py", env_extra=ADMIT_ALL)
        assert code == 0, err.decode()
        runs.append([int(x) for x in out.split()])
        time.sleep(1.2)
    assert len(runs[0]) == 7 and all(b > a for a, b in zip(*runs)), runs


def test_a_reader_moves_on_at_every_call(runner):
    """``reader.get_chunk(10)`` twice on ``read_csv(..., iterator=True)``: the second call
    returned the first one's rows (a pandas method was taken as pure, keyed by the reader and
    its argument). A pandas type that is an iterator changes at every call."""
    (runner.workdir / "d.csv").write_text("a,b\n" + "".join(f"{i},{i % 7}\n"
                                                           for i in range(500)))
    same_cold_and_warm(runner, """
        import pandas as pd
        reader = pd.read_csv("d.csv", iterator=True)
        print(reader.get_chunk(10)["a"].sum(), reader.get_chunk(10)["a"].sum())
        print(reader.read(5)["a"].tolist())
        with pd.read_csv("d.csv", chunksize=200) as r:
            print([int(c["a"].sum()) for c in r])
    """)


def test_a_class_attribute_that_is_not_a_scalar_is_part_of_the_key(runner):
    """A lambda reading ``Cfg.SCALES[1]`` given to ``apply``: the class was keyed by its code
    and its scalar constants only, so editing the list reused the old result."""
    write(runner.workdir / "s.py", """
import os
import numpy as np
import pandas as pd

class Cfg:
    SCALES = [1.0, float(os.environ["S"])]
    TABLE = {"k": float(os.environ["S"])}
    ARR = np.array([float(os.environ["S"])])
    __slots__ = ()

df = pd.DataFrame({"a": np.arange(2000.0)})
print(df["a"].apply(lambda v: v * Cfg.SCALES[1]).sum())
print(df["a"].map(lambda v: v + Cfg.TABLE["k"] + Cfg.ARR[0]).sum())
""")
    for scale in ("2", "3", "2"):
        runner.same_as_plain("s.py", env_extra={**ADMIT_ALL, "S": scale})


def test_pd_eval_assigning_into_a_target_changes_it(runner):
    """``pd.eval("c = df.a * df.b", target=df, inplace=True)`` writes into ``df``: its key
    stayed, so what was computed from ``df`` next reused the previous expression's column."""
    write(runner.workdir / "s.py", """
import os
import warnings
import numpy as np
import pandas as pd
warnings.simplefilter("ignore")
df = pd.DataFrame({"a": np.arange(1000.0), "b": np.arange(1000.0) % 7, "c": 0.0})
pd.eval(os.environ["E"], target=df, inplace=True)
print(df["c"].sum(), df.sum().sum())
""")
    for expr in ("c = df.a + df.b", "c = df.a * df.b", "c = df.a + df.b"):
        runner.same_as_plain("s.py", env_extra={**ADMIT_ALL, "E": expr})


def test_fresh_random_data_from_unknown_calls_is_not_reused(runner):
    """scipy.sparse.random_array(rng=None) draws new data every run: a fit on it must not be
    the previous run's (the unknown call's output got a stable key)."""
    same_cold_and_warm(runner, """
        import numpy as np
        import scipy.sparse as sp
        from sklearn.linear_model import Ridge
        m = sp.random_array((30, 4), density=0.5, rng=None)
        y = np.arange(30.0)
        coef = Ridge().fit(m, y).coef_
        rows = m.toarray().tolist()  # plain Python lists: keyed by what they hold
        again = Ridge().fit(sp.csr_array(np.array(rows)), y).coef_  # same solver, same data
        print(np.array_equal(coef, again))
    """, runs=3)


def test_verbose_output_and_warnings_replay_exactly(runner):
    """A reused verbose fit prints its progress; a reused transform warns once, not twice."""
    same_cold_and_warm(runner, """
        import re, sys, warnings
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler
        import io, contextlib
        X, y = load_iris(return_X_y=True)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            Pipeline([("s", StandardScaler()), ("m", LogisticRegression(max_iter=500))],
                     verbose=True).fit(X, y)
            g = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1]}, verbose=1,
                             cv=3).fit(X, y)
        print(re.sub(r"total=\\s*[0-9.]+s", "total=Ts", buf.getvalue()))
        print(g.best_params_)
        enc = OneHotEncoder(handle_unknown="warn").fit([["a"], ["b"]])
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            enc.transform([["c"]])
        print(len(w), [str(x.message)[:40] for x in w])
    """)


def test_log_records_inside_an_operation_are_not_skipped(runner):
    """A library call that logs is not admitted: the record must be emitted again."""
    write(runner.workdir / "helpers_log.py", """
import logging
from sklearn.base import BaseEstimator, TransformerMixin
class Logged(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        logging.getLogger("fe").warning("fitting on %d rows", len(X))
        return self
    def transform(self, X):
        return X * 2
""")
    same_cold_and_warm(runner, """
        import logging, sys
        import numpy as np
        from sklearn.model_selection import cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.linear_model import Ridge
        from helpers_log import Logged
        logging.basicConfig(stream=sys.stdout, format="%(name)s %(message)s")
        X = np.arange(40.0).reshape(20, 2)
        print(cross_val_score(make_pipeline(Logged(), Ridge()), X, X[:, 0], cv=2))
    """)


def test_callbacks_registered_on_an_estimator_are_called(runner):
    same_cold_and_warm(runner, """
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        calls = []
        try:
            from sklearn.callback import FitCallback
        except ImportError:
            FitCallback = None
        X = np.arange(40.0).reshape(20, 2)
        y = np.arange(20) % 2
        est = LogisticRegression()
        if FitCallback is not None and hasattr(est, "set_callbacks"):
            class Count(FitCallback):
                def on_fit_begin(self, estimator, **kw):
                    calls.append("begin")
                def on_fit_task_end(self, estimator, context, **kw):
                    calls.append("task")
                def on_fit_end(self, estimator, context, **kw):
                    calls.append("end")
            try:
                est.set_callbacks(Count())
            except Exception as exc:
                print("no callbacks:", type(exc).__name__)
        est.fit(X, y)
        print(est.coef_.round(6), len(calls) > 0 or FitCallback is None or calls)
    """)


def test_a_failure_of_stratum_runs_the_operation_plain(monkeypatch, capfd):
    """stratum's own bug while keying degrades to the plain operation with one stderr line;
    the library's own exception still reaches the script unchanged."""
    import numpy as np

    from interposer import registry
    from stratum.keys import lineage
    from stratum.config import Settings
    from stratum.engine.engine import Engine

    def broken(lin, h, v, depth):
        raise RuntimeError("a bug in a key rule")

    monkeypatch.setitem(lineage._FEEDERS, np.ndarray, broken)
    engine = Engine(None, Settings.from_env())
    spec = registry.OpSpec("numpy.sum")
    arr = np.arange(4)
    assert engine.call(spec, np.sum, (arr,), {}) == 6
    assert engine.call(spec, np.sum, (arr,), {}) == 6
    err = capfd.readouterr().err
    assert err.count("stratum: internal error while handling numpy.sum") == 1, err

    def fails(a):
        raise ValueError("the library's own error")

    monkeypatch.setitem(lineage._FEEDERS, np.ndarray, lineage._feed_ndarray)
    with pytest.raises(ValueError, match="library's own"):
        engine.call(spec, fails, (arr,), {})


def test_a_reused_pandas_result_shares_its_inputs_axes(runner):
    """pandas hands the input's own index object to many results (``s.map(f).index is
    s.index``); a loaded result gets the caller's objects back, as a computed one has them."""
    same_cold_and_warm(runner, """
        import numpy as np
        import pandas as pd
        s = pd.Series([1.0, 4.0], index=pd.Index(["a", "b"], name="bar"), name="foo")
        rs = s.map(np.sqrt)
        print(rs.index is s.index, s is not rs, rs.tolist())
        df = pd.DataFrame({"a": [1, -2]})
        d2 = df.abs()
        print(d2.columns is df.columns, d2.index is df.index, d2.values.tolist())
    """)


def test_a_memoized_function_returning_an_indexer_writes_into_the_callers_frame(runner):
    """pandas' own tests call ``indexer_sl = lambda x: x.loc`` and write through the result:
    a reused indexer held a copy of the frame, so the write reached nothing."""
    same_cold_and_warm(runner, """
        import pandas as pd
        def indexer(x):
            return x.loc
        ser = pd.Series([1.0, 2.0], index=["a", "b"])
        indexer(ser)["a"] = 5.0
        indexer(ser)["c"] = 7.0
        print(ser.tolist(), list(ser.index))
    """)


def test_a_function_is_keyed_again_after_the_globals_it_reads_change(runner):
    """A user function's key was remembered at its first use: after ``K = 3.0`` (or a list
    changed in place, a closure's ``nonlocal``), ``apply`` / ``rolling.apply`` / a scorer made
    from it reused the result computed with the old value."""
    same_cold_and_warm(runner, """
        import numpy as np, pandas as pd
        from sklearn.datasets import load_breast_cancer
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import make_scorer
        from sklearn.model_selection import cross_val_score
        from sklearn.preprocessing import FunctionTransformer
        s = pd.Series(np.arange(6.0))
        K = 2.0
        def f(v):
            return v * K
        print(s.apply(f).sum())
        K = 3.0
        print(s.apply(f).sum())
        W = [1.0, 2.0]
        def g(v):
            return v * W[0]
        print(s.map(g).sum())
        W[0] = 5.0
        print(s.map(g).sum())
        def make():
            n = 1
            def h(v):
                return v + n
            def bump():
                nonlocal n
                n += 10
            return h, bump
        h, bump = make()
        print(s.apply(h).sum())
        bump()
        print(s.apply(h).sum())
        thr = 2
        def above(w):
            return float((w > thr).sum())
        x = pd.Series(np.arange(40.0) % 9)
        for thr in (2, 4, 6):
            print(thr, x.rolling(5).apply(above, raw=True).sum())
        ft = FunctionTransformer(f)
        X = np.arange(6.0).reshape(3, 2)
        for K in (1.0, 4.0):
            print(ft.fit_transform(X).sum(), FunctionTransformer(f).fit_transform(X).sum())
        X, y = load_breast_cancer(return_X_y=True)
        X, y = X[:150, :5], y[:150]
        def cost(y_true, y_pred):
            return -(FN_COST * ((y_true == 1) & (y_pred == 0)).sum()
                     + ((y_true == 0) & (y_pred == 1)).sum())
        scorer = make_scorer(cost)
        for FN_COST in (1, 10):
            print(FN_COST, cross_val_score(LogisticRegression(max_iter=1000), X, y, cv=3,
                                           scoring=scorer))
    """)


def test_a_mapping_changed_in_place_is_keyed_again(runner):
    """``OrderedDict`` and ``Counter`` accept weak references, so their first key was
    remembered by identity: ``s.map(d)`` after ``d["a"] = 100`` reused the old mapping's
    result. A parameter dict changed in place inside an estimator (``class_weight``) kept the
    estimator's key too."""
    same_cold_and_warm(runner, """
        import collections
        import pandas as pd
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score
        s = pd.Series(list("aabcc"))
        for d in (collections.OrderedDict(a=1, b=2, c=3), collections.Counter("abcc")):
            print(s.map(d).sum())
            d["a"] = 100
            print(s.map(d).sum())
        X, y = load_iris(return_X_y=True)
        cw = {0: 1.0, 1: 1.0, 2: 1.0}
        m = LogisticRegression(class_weight=cw, max_iter=500)
        print(cross_val_score(m, X, y, cv=3).round(6))
        cw[1] = 50.0
        print(cross_val_score(m, X, y, cv=3).round(6))
        m.fit(X, y)
        print(m.predict(X[::10]))
        cw[2] = 80.0
        print(m.fit(X, y).predict(X[::10]))
    """)


def test_functions_of_code_not_imported_as_modules_are_keyed_by_code(runner):
    """A function made by ``exec`` or defined in a file loaded by ``runpy.run_path`` or
    ``spec_from_file_location`` has no module in ``sys.modules``: it was keyed by its name, so
    another function of that name (or the file's edit) reused the first one's result."""
    write(runner.workdir / "helper.py", "import os\nFACTOR = float(os.environ['F'])\n"
                                        "def f(v):\n    return v * FACTOR\n")
    write(runner.workdir / "s.py", """
import importlib.util, runpy
import numpy as np, pandas as pd
s = pd.Series(np.arange(6.0))
for src in ("def f(v): return v * 2", "def f(v): return v * 3"):
    ns = {}
    exec(src, ns)
    print(s.apply(ns["f"]).sum())
spec = importlib.util.spec_from_file_location("helper_cfg", "helper.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print(s.apply(mod.f).sum(), s.apply(runpy.run_path("helper.py")["f"]).sum())
""")
    for factor in ("2", "5"):
        runner.same_as_plain("s.py", env_extra={**ADMIT_ALL, "F": factor})


def test_a_dict_subclass_of_the_script_is_keyed_by_its_code(runner):
    """``s.map(D(a=1))`` where ``D`` defines ``__missing__``: the mapping was keyed by its
    items only, so editing ``__missing__`` reused the old result."""
    for default in ("42", "43"):
        write(runner.workdir / "s.py", f"""
import pandas as pd
class D(dict):
    def __missing__(self, k):
        return {default}
print(pd.Series(list("abcx")).map(D(a=1, b=2)).tolist())
""")
        runner.same_as_plain("s.py", env_extra=ADMIT_ALL)


def test_writes_to_shared_memory_reach_every_key(runner):
    """A frame over an array (``copy=False``), an ndarray subclass view, and arrays over memory
    Python writes without numpy (``bytearray``, ``ctypes``, ``memoryview``, a second memory
    map of one file): after the write, results computed before were reused."""
    same_cold_and_warm(runner, """
        import ctypes
        import numpy as np, pandas as pd
        arr = np.arange(12.0).reshape(4, 3)
        df = pd.DataFrame(arr, columns=list("abc"), copy=False)
        print(df.median().tolist())
        arr[0, 0] = 100.0
        print(df.median().tolist(), df.iloc[0, 0])
        v = np.arange(5.0)
        s = pd.Series(v, copy=False)
        print(s.quantile(0.9))
        v[4] = 50.0
        print(s.quantile(0.9), s.iloc[4])
        base = np.arange(6.0)
        mm = base.view(np.ma.MaskedArray)
        print(np.ma.median(mm))
        base[0] = 50.0
        print(np.ma.median(mm))
        buf = bytearray(np.arange(8.0).tobytes())
        a = np.frombuffer(buf, dtype=np.float64)
        print(np.median(a))
        buf[0:8] = np.array([100.0]).tobytes()
        print(np.median(a))
        c = (ctypes.c_double * 4)(1, 2, 3, 4)
        ca = np.ctypeslib.as_array(c)
        print(np.median(ca))
        c[0] = 99
        print(np.median(ca))
        w = np.memmap("mm.dat", dtype="float64", mode="w+", shape=(6,))
        w[:] = np.arange(6.0)
        w.flush()
        r = np.memmap("mm.dat", dtype="float64", mode="r", shape=(6,))
        print(np.median(r))
        w[:] = 7.0
        w.flush()
        print(np.median(r))
    """)


def test_a_model_holding_the_data_it_was_fitted_on_sees_later_writes(runner):
    """``KNeighborsRegressor.fit(X, y)`` keeps ``X`` and ``y`` themselves, a ``KernelDensity``
    a tree over ``X``'s memory: writing into ``X`` afterwards changes plain python's
    predictions. A restored fit held copies; a cold run kept the model's key."""
    same_cold_and_warm(runner, """
        import numpy as np
        from sklearn.neighbors import KernelDensity, KNeighborsRegressor, NearestNeighbors
        rng = np.random.RandomState(0)
        X = rng.rand(40, 2)
        y = rng.rand(40)
        q = np.array([[0.5, 0.5], [0.1, 0.9]])
        knn = KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(X, y)
        print(knn.predict(q).round(6))
        y *= 10
        X[:, 0] = 0.5
        print(knn.predict(q).round(6))
        Z = rng.rand(50, 2)
        kde = KernelDensity(bandwidth=0.3).fit(Z)
        print(kde.score_samples(q).round(6))
        Z += 5.0
        print(kde.score_samples(q).round(6))
        Y = rng.rand(30, 2)
        nn = NearestNeighbors(n_neighbors=2, algorithm="ball_tree").fit(Y)
        print(nn.kneighbors(q)[0].round(6))
        Y[:] = 0.5
        print(nn.kneighbors(q)[0].round(6))
    """)


def test_what_a_fitted_model_holds_is_compared_at_each_use(runner):
    """A scorer's function inside a fitted search, a ``FunctionTransformer`` four levels down a
    pipeline, a bound method or a ``partial``, a function reading a large global table: after
    the global changes, the fitted model's remembered key was used and its results reused. A
    ufunc made by ``np.frompyfunc(f)`` and a fitted model copied by ``deepcopy`` likewise."""
    same_cold_and_warm(runner, """
        import copy
        from functools import partial
        import numpy as np
        from sklearn.linear_model import LinearRegression, LogisticRegression
        from sklearn.metrics import make_scorer
        from sklearn.model_selection import GridSearchCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer
        rng = np.random.RandomState(0)
        X = rng.rand(60, 3)
        y = (X[:, 0] + 0.3 * rng.rand(60) > 0.6).astype(int)
        W = 1
        def cost(t, p):
            return -float(W * ((t == 1) & (p == 0)).sum() + ((t == 0) & (p == 1)).sum())
        gs = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, scoring=make_scorer(cost),
                          cv=2).fit(X, y)
        print(gs.score(X, y))
        W = 10
        print(gs.score(X, y))
        SCALE = 2.0
        def scale(A):
            return A * SCALE
        pipe = make_pipeline(FunctionTransformer(scale), LinearRegression()).fit(X, X[:, 1])
        print(pipe.predict(X[:3]).round(6))
        SCALE = 3.0
        print(pipe.predict(X[:3]).round(6))
        class Shift:
            k = 1.0
            def apply(self, A):
                return A + self.k
        sh = Shift()
        K = 1.0
        def add(A, off):
            return A + off * K
        fts = [FunctionTransformer(sh.apply).fit(X),
               FunctionTransformer(partial(add, off=1)).fit(X)]
        print([ft.transform(X[:2]).sum().round(6) for ft in fts])
        sh.k, K = 5.0, 7.0
        print([ft.transform(X[:2]).sum().round(6) for ft in fts])
        TABLE = {i: float(i % 7) for i in range(200)}
        def look(A):
            return A + TABLE[3]
        ft = FunctionTransformer(look).fit(X)
        print(ft.transform(X[:2]).sum().round(6))
        TABLE[3] = 50.0
        print(ft.transform(X[:2]).sum().round(6))
        M = 2
        def times(v):
            return v * M
        u = np.frompyfunc(times, 1, 1)
        print(u(np.arange(4)))
        M = 5
        print(u(np.arange(4)))
        c = copy.deepcopy(FunctionTransformer(times).fit(X))
        print(c.transform(X[:2]).sum().round(6))
        M = 9
        print(c.transform(X[:2]).sum().round(6))
    """)


def test_frames_over_memory_written_elsewhere_are_keyed_again(runner):
    """A column taken from a frame over an array the script holds, a series over a
    ``bytearray``, a model fitted with keyword arguments or on such a frame: writing into the
    array afterwards changed plain python's results, not stratum's."""
    same_cold_and_warm(runner, """
        import numpy as np, pandas as pd
        from sklearn.neighbors import KNeighborsRegressor
        arr = np.arange(12.0).reshape(4, 3)
        df = pd.DataFrame(arr, columns=list("abc"), copy=False)
        s = df["a"]
        print(s.sum())
        arr[0, 0] = 100.0
        print(s.sum())
        buf = bytearray(np.arange(4.0).tobytes())
        t = pd.Series(np.frombuffer(buf, dtype=np.float64), copy=False)
        print(t.sum())
        buf[0:8] = np.array([100.0]).tobytes()
        print(t.sum())
        rng = np.random.RandomState(1)
        X, y = rng.rand(30, 2), rng.rand(30)
        q = np.array([[0.5, 0.5]])
        knn = KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(X=X, y=y)
        print(knn.predict(q).round(6))
        X[:, 0] = 0.5
        print(knn.predict(q).round(6))
        Z = rng.rand(30, 2)
        knn2 = KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(
            pd.DataFrame(Z, copy=False), y)
        print(knn2.predict(pd.DataFrame(q)).round(6))
        Z[:, 1] = 0.5
        print(knn2.predict(pd.DataFrame(q)).round(6))
    """)


def test_python_objects_in_object_columns_changed_in_place_are_seen(runner):
    """Lists and dicts stored in an object column or array and changed by plain Python
    (``df["tags"].iloc[0].append("w")``, ``df.at[0, "tok"].append(...)``): no library call
    sees the change, so a value holding them is keyed by content at each use (what was
    computed from the column before kept its key and was reused)."""
    same_cold_and_warm(runner, """
        import numpy as np, pandas as pd
        df = pd.DataFrame({"tags": [["a", "b"], ["c"], ["d", "e", "f"]] * 50, "x": range(150)})
        print(df["tags"].apply(len).sum())
        df["tags"].iloc[0].append("w")
        print(df["tags"].apply(len).sum(), df["tags"].str.len().sum())
        a = np.empty(4, dtype=object)
        for i in range(4):
            a[i] = [i] * (i + 1)
        print(pd.Series(a).map(len).sum())
        a[0].extend([9, 9, 9])
        print(pd.Series(a).map(len).sum())
        d = pd.DataFrame({"k": [1, 2, 1, 2], "d": [{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}]})
        print(d.groupby("k")["d"].agg(lambda s: sum(x["v"] for x in s)).tolist())
        d["d"].iloc[0]["v"] = 100
        print(d.groupby("k")["d"].agg(lambda s: sum(x["v"] for x in s)).tolist())
        d["tok"] = pd.Series(["a b", "c", "d e f", "g"]).str.split()
        print(d.explode("tok").shape)
        d.at[0, "tok"].append("zz")
        print(d.explode("tok").shape)
        for t in d["tok"]:
            t.append("x")
        print(d["tok"].str.len().sum())
        s = pd.Series(["p", "q"] * 10)  # strings keep their keys: nothing to see here
        print(s.str.upper().value_counts().to_dict())
    """)


def test_writes_into_a_frames_blocks_under_pandas_are_seen(runner):
    """``df["a"].array[0] = v`` writes into the frame's own block (the column's extension
    array is the block), as does a view from ``to_numpy()`` made writeable: no pandas call
    changes the frame, and what was computed from it before kept its key."""
    same_cold_and_warm(runner, """
        import pandas as pd
        df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1, 2, 3], "g": ["x", "y", "x"],
                           "i": pd.array([1, 2, 3], dtype="Int64"),
                           "c": pd.Categorical(["p", "q", "p"]),
                           "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])})
        def show():
            print(df["a"].sum(), df.groupby("g")["a"].sum().to_dict(), df.b.max(), df.i.sum(),
                  df.groupby("c", observed=True)["a"].sum().to_dict(), df.t.max(),
                  df["g"].value_counts().to_dict())
        show()
        df["a"].array[0] = 100.0
        arr = df["b"].array
        arr[:] = [9, 9, 9]
        df.iloc[:, 3].array[0] = 9
        df["c"].array[1] = "p"
        df["t"].array[0] = pd.Timestamp("2030-01-01")
        df["g"].array[2] = "z"
        show()
        shallow = df.copy(deep=False)
        print(shallow["a"].sum())
        a = df["a"].to_numpy()
        a.flags.writeable = True
        a[1] = 50.0
        print(shallow["a"].sum(), df.sum(numeric_only=True).to_dict())
    """)


def test_warnings_of_pandas_option_setters_name_the_scripts_line(runner):
    """stratum counts pandas' option changes by wrapping ``_set_option_impl``; that frame
    made pandas' ``find_stack_level`` stop one frame short, so ``set_option``'s deprecation
    warnings were attributed to pandas' file, where the default filters hide them."""
    write(runner.workdir / "s.py", textwrap.dedent("""
        import pandas as pd
        pd.set_option("mode.copy_on_write", True)
        pd.options.mode.copy_on_write = False
        with pd.option_context("future.infer_string", False):
            print(pd.Series(["a"]).dtype)
        pd.reset_option("all")
        pd.set_option("display.max_rows", "y")
    """))
    plain = runner.run("s.py", "plain")
    assert plain[0] == 1 and plain[2].count(b"Pandas4Warning") >= 3, plain
    for _ in range(2):
        assert runner.run("s.py", env_extra=ADMIT_ALL) == plain


def test_objects_of_the_scripts_classes_held_by_a_model_are_compared_with_their_class(runner):
    """A ``weights`` callable of the script's own class, a step whose ``predict`` reads a
    class attribute or a global: changing the class (``K.p = 3``) or the global changes
    what the fitted model computes, with nothing of the model or the instance changed."""
    same_cold_and_warm(runner, """
        import numpy as np
        from sklearn.base import BaseEstimator, RegressorMixin
        from sklearn.neighbors import KNeighborsRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        class K:
            p = 1
            def __call__(self, d):
                return 1.0 / (d + 1e-9) ** self.p
        X = np.array([[0.0], [1.0], [3.0]]); y = np.array([0.0, 1.0, 10.0])
        m = KNeighborsRegressor(n_neighbors=3, weights=K()).fit(X, y)
        print(np.round(m.predict([[0.9]]), 4))
        K.p = 3
        print(np.round(m.predict([[0.9]]), 4))
        SCALE = 2.0
        class M(RegressorMixin, BaseEstimator):
            bias = 0.0
            def fit(self, X, y):
                self.mean_ = float(np.mean(y))
                return self
            def predict(self, X):
                return np.full(len(X), self.mean_ * SCALE + self.bias)
        p = make_pipeline(StandardScaler(), M()).fit(X, y)
        print(p.predict(X))
        SCALE = 3.0
        print(p.predict(X))
        M.bias = 1.0
        print(p.predict(X))
        LOG = []
        class Logged(M):
            def predict(self, X):
                LOG.append(len(X))  # a side effect a reused pipeline call would skip
                return super().predict(X)
        q = make_pipeline(StandardScaler(), Logged()).fit(X, y)
        q.predict(X)
        print(LOG)
    """)


def test_consumed_iterators_and_untraced_in_place_paths(runner):
    """A ``KFold.split`` generator used up by one cross-validation (the next one raises), a
    model's array changed by ``operator.setitem`` / ``operator.iadd`` / ``__imul__``, and
    object arrays or lists holding the script's own lists (a reuse handed back copies): each
    was reused."""
    same_cold_and_warm(runner, """
        import operator
        import numpy as np, pandas as pd
        from sklearn.linear_model import LinearRegression, Ridge
        from sklearn.model_selection import KFold, cross_val_score
        X = np.arange(40.0).reshape(20, 2); y = X.sum(1) + np.arange(20) % 3
        gen = KFold(2).split(X)
        print(np.round(cross_val_score(Ridge(), X, y, cv=gen), 4))
        try:
            print(np.round(cross_val_score(Ridge(), X, y, cv=gen), 4))
        except Exception as e:
            print(type(e).__name__)
        m = LinearRegression().fit(X[:, :1], y)
        print(np.round(m.predict([[1.0]]), 4))
        operator.setitem(m.coef_, 0, 9.0)
        print(np.round(m.predict([[1.0]]), 4))
        operator.iadd(m.coef_, 1.0)
        print(np.round(m.predict([[1.0]]), 4))
        m.coef_.__imul__(2.0)
        print(np.round(m.predict([[1.0]]), 4))
        L = [1, 2]
        p = np.array([L, None], dtype=object)
        L.append(3)
        print(p[0])
        s = pd.Series([[1], [2, 3]])
        t = s.tolist()
        t[0].append(7)
        print(s.map(len).tolist())
    """)


def test_an_array_resized_in_place(runner):
    """numpy refuses ``a.resize(n)`` while anything holds a weak reference to ``a``, and the
    engine's map of keys did (ValueError on a cold run). (On a warm run an array loaded from
    the cache does not own its memory and cannot be resized: docs/reuse.md.)"""
    same_cold_and_warm(runner, """
        import numpy as np
        h = np.zeros(4)
        h.resize(6)
        print(h, h.sum())
        a = np.arange(6.0)
        print(a.sum())
        a.resize((2, 4), refcheck=False)
        print(a, a.sum())
    """, runs=1)
