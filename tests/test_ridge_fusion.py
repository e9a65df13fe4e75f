"""Exact fusion of Ridge fits (stratum/kernels/ridge.py): bit-identical to scikit-learn.

Every comparison runs the same sequence of fits twice, plain and with the kernels installed
(the fused runs share the memo, so later fits replay the memoized Gram matrix), and compares
every fitted attribute byte for byte, the warnings (text, category, file, line) and the errors.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from stratum import kernels
from stratum.kernels import ridge as rk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402


@contextlib.contextmanager
def fused():
    kernels.install()
    try:
        yield
    finally:
        kernels.uninstall()


def attrs(m) -> dict:
    out = {}
    for name in ("coef_", "intercept_", "n_iter_", "solver_", "n_features_in_", "feature_names_in_"):
        if not hasattr(m, name):
            out[name] = "missing"
            continue
        v = getattr(m, name)
        if isinstance(v, np.ndarray):
            out[name] = (type(v), v.dtype.str, v.shape, v.strides, v.flags.c_contiguous,
                         v.tobytes() if v.dtype != object else tuple(v))
        else:
            out[name] = (type(v), np.asarray(v).tobytes() if v is not None else None, repr(v))
    return out


def run_fits(X, y, alphas, sample_weight=None, **params):
    """Each fit's attributes or error, and every warning shown."""
    results = []
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        for alpha in alphas:
            try:
                m = Ridge(alpha=alpha, **params).fit(X, y, sample_weight=sample_weight)
                results.append(attrs(m))
            except Exception as exc:
                results.append((type(exc), str(exc)))
    return results, [(str(w.message), w.category, w.filename, w.lineno) for w in shown]


def assert_same(plain, fused_):
    assert plain[0] == fused_[0]
    assert plain[1] == fused_[1]


ALPHA = st.sampled_from([0.0, 1e-12, 1e-3, 0.5, 1.0, 10.0, 1e6, 1e12, 1e300])


@st.composite
def problems(draw):
    n = draw(st.integers(1, 40))
    p = draw(st.integers(1, 12))
    targets = draw(st.sampled_from([0, 1, 2, 3]))  # 0: 1-D y
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * draw(st.sampled_from([1.0, 1e-3, 1e4]))
    if draw(st.booleans()) and p > 1:  # collinear columns: singular Gram, SVD fallback
        X[:, -1] = 2.0 * X[:, 0]
    if draw(st.booleans()):
        X = np.round(X, 1)  # repeated values, exactly representable sums less likely
    y = rng.normal(size=n) if targets == 0 else rng.normal(size=(n, targets))
    kind = draw(st.sampled_from(["f64", "f32", "f32x", "int", "F"]))
    if kind == "f32":
        X, y = X.astype(np.float32), y.astype(np.float32)
    elif kind == "f32x":  # float32 X, float64 y: the library converts y to float32
        X = X.astype(np.float32)
    elif kind == "int":
        X = np.round(X * 10).astype(np.int64)
    elif kind == "F":
        X = np.asfortranarray(X)
    sw = draw(st.sampled_from([None, "array", 2.5]))
    if sw == "array":
        sw = rng.uniform(0.1, 3.0, size=n)
    alphas = draw(st.lists(ALPHA, min_size=1, max_size=5))
    if targets >= 2 and draw(st.booleans()):
        alphas.append(list(rng.uniform(0.0, 5.0, size=targets)))
    return X, y, sw, alphas, draw(st.booleans())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fits_bit_identical(problem):
    X, y, sw, alphas, fit_intercept = problem
    plain = run_fits(X, y, alphas, sw, fit_intercept=fit_intercept)
    start = kernels.mark()
    with fused():
        first = run_fits(X, y, alphas, sw, fit_intercept=fit_intercept)
        # fresh arrays with the same content hit the memo
        again = run_fits(X.copy(order="K"), y.copy(), alphas,
                         sw.copy() if isinstance(sw, np.ndarray) else sw,
                         fit_intercept=fit_intercept)
    assert_same(plain, first)
    assert_same(plain, again)
    # the kernel took every fit; the library ran only where it must (SVD, errors, overflow)
    allowed = ("singular matrix: SVD solver", "non-finite", "alpha not usable")
    for (kernel, why), _count in _events_since(start).items():
        assert kernel == "Ridge.fit" and (why is None or why.startswith(allowed)), why


def _events_since(start):
    out: dict = {}
    for event in kernels._log[start:]:
        out[event] = out.get(event, 0) + 1
    return out


def test_memo_is_used_and_kernel_noted():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 20)), rng.normal(size=300)
    rk.MEMO.clear()
    start = kernels.mark()
    with fused():
        fitted = run_fits(X, y, [0.1, 1.0, 10.0])
    assert fitted == run_fits(X, y, [0.1, 1.0, 10.0])
    assert rk.stats()["misses"] == 1 and rk.stats()["hits"] == 2
    assert kernels.since(start) == "native Ridge.fit x3"


def test_singular_matrix_takes_the_library_svd_path():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    X = np.hstack([X, X[:, :1]])
    y = rng.normal(size=30)
    start = kernels.mark()
    with fused():
        out = run_fits(X, y, [0.0, 1.0])
    assert_same(run_fits(X, y, [0.0, 1.0]), out)
    assert out[0][0]["solver_"][2] == "'svd'"
    assert "library Ridge.fit: singular matrix: SVD solver" in kernels.since(start)


def test_ill_conditioned_warning_points_at_the_library_line():
    rng = np.random.default_rng(7)
    found = False
    for eps in (1e-8, 1e-9):
        X = rng.normal(size=(40, 3))
        X = np.hstack([X, X[:, :1] + eps * rng.normal(size=(40, 1))])
        y = rng.normal(size=(40, 2))
        for alphas in ([0.0], [[0.0, 1e-14]]):
            plain = run_fits(X, y, alphas)
            with fused():
                out = run_fits(X, y, alphas)
            assert_same(plain, out)
            found |= any("ill-conditioned" in w[0] for w in plain[1])
    assert found  # the case is exercised
    assert all(w[2].endswith("_ridge.py") for w in plain[1])


def test_dataframe_input_feature_names():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.normal(size=(50, 4)), columns=["a", "b", "c", "d"])
    y = pd.Series(rng.normal(size=50), name="target")
    plain = run_fits(df, y, [0.1, 1.0, 10.0])
    start = kernels.mark()
    with fused():
        out = run_fits(df, y, [0.1, 1.0, 10.0])
    assert_same(plain, out)
    assert "feature_names_in_" in out[0][0] and out[0][0]["feature_names_in_"] != "missing"
    assert kernels.since(start) == "native Ridge.fit x3"


def test_errors_are_the_librarys():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    cases = [
        (X, y, [[1.0, 2.0, 3.0]], None),  # wrong number of penalties
        (Xnan, y, [1.0], None),  # NaN in X
        (X, y, [1.0], -np.ones(20)),  # negative weights
        (X, y[:5], [1.0], None),  # inconsistent lengths
        (X, y, [float("inf")], None),  # non-finite regularised matrix
        (X, y, [-1.0], None),  # parameter validation
    ]
    for X_, y_, alphas, sw in cases:
        plain = run_fits(X_, y_, alphas, sw)
        assert isinstance(plain[0][0], tuple)  # an error
        with fused():
            assert_same(plain, run_fits(X_, y_, alphas, sw))


def test_outside_parity_the_library_runs_with_a_reason():
    from scipy import sparse

    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    cases = [({"solver": "svd"}, X.copy, "solver='svd'"),
             ({"positive": True}, X.copy, "positive=True"),
             ({"copy_X": False}, X.copy, "copy_X=False"),  # centres X in place: a copy each run
             ({}, lambda: sparse.csr_matrix(X), "sparse X")]
    for params, make_X, reason in cases:
        start = kernels.mark()
        with fused():
            out = run_fits(make_X(), y, [1.0], **params)
        assert out == run_fits(make_X(), y, [1.0], **params)
        assert reason in kernels.since(start)


def test_grid_search_and_cross_val_score_bit_identical():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 15))
    y = X @ rng.normal(size=15) + rng.normal(size=400)
    alphas = [0.0, 1e-3, 0.1, 1.0, 10.0, 100.0, 1e5]

    def run():
        search = GridSearchCV(Ridge(), {"alpha": alphas, "fit_intercept": [True, False]},
                              cv=KFold(5, shuffle=True, random_state=0),
                              scoring="neg_mean_squared_error").fit(X, y)
        scores = [cross_val_score(Ridge(alpha=a), X, y, cv=5).tobytes() for a in alphas]
        keys = [k for k in search.cv_results_ if "test_score" in k]  # not the timings
        return (search.best_params_, repr(search.best_score_),
                [np.asarray(search.cv_results_[k]).tobytes() for k in keys],
                attrs(search.best_estimator_), scores)

    plain = run()
    rk.MEMO.clear()
    with fused():
        out = run()
    assert plain == out
    # 2 fit_intercept x 5 folds + 5 folds of cross_val_score (+ the refit on all data)
    assert rk.stats()["misses"] <= 16 and rk.stats()["hits"] >= len(alphas) * 15 - 16


def test_memo_shared_across_runs_through_the_cache(tmp_path):
    """An agent trying one alpha per run: the second run loads the Gram matrix from the cache."""
    script = tmp_path / "one_alpha.py"
    script.write_text(
        "import sys, hashlib\n"
        "import numpy as np\n"
        "from sklearn.linear_model import Ridge\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.normal(size=(20000, 120)); y = rng.normal(size=20000)\n"
        "m = Ridge(alpha=float(sys.argv[1])).fit(X, y)\n"
        "print(hashlib.sha256(m.coef_.tobytes() + np.asarray(m.intercept_).tobytes()).hexdigest())\n"
        "if 'stratum.kernels.ridge' in sys.modules:\n"
        "    print(sys.modules['stratum.kernels.ridge'].stats(), file=sys.stderr)\n")
    env = dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(difftest.stratum_home()))
    outs = []
    for alpha in ("1.0", "2.0"):
        plain = subprocess.run([sys.executable, str(script), alpha], capture_output=True, env=env,
                               cwd=tmp_path)
        ours = subprocess.run([sys.executable, "-m", "stratum", str(script), alpha],
                              capture_output=True, env=env, cwd=tmp_path)
        assert plain.returncode == ours.returncode == 0, ours.stderr
        assert plain.stdout == ours.stdout
        outs.append(ours.stderr.decode())
    assert "'misses': 1" in outs[0] and "'loads': 0" in outs[0]
    assert "'misses': 0" in outs[1] and "'loads': 1" in outs[1]


def test_corpus_grid_search_script_plain_vs_stratum(tmp_path):
    script = difftest.CORPUS_DIR / "search_grid_ridge_alphas.py"
    sys.path.insert(0, str(difftest.CORPUS_DIR))
    try:
        from make_data import make_data
    finally:
        sys.path.remove(str(difftest.CORPUS_DIR))
    data = tmp_path / "data"
    make_data(data)
    cache = tmp_path / "cache"
    results, problems_ = difftest.run_differential(script, tmp_path / "work", cache, data_dir=data)
    assert not problems_, "\n".join(problems_)
    env = dict(os.environ, STRATUM_CACHE_DIR=str(cache), PYTHONPATH=str(difftest.stratum_home()))
    shown = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "1", "--json"],
                           capture_output=True, env=env, check=True, cwd=tmp_path)
    impls = [n.get("impl") or "" for n in json.loads(shown.stdout)["nodes"]]
    assert any("native Ridge.fit" in i for i in impls)
    assert not any("library Ridge.fit" in i for i in impls)


def test_blas_thread_count_is_part_of_the_key():
    """OpenBLAS may sum X^T y in another order with another thread count (seen at 800 x 700
    on 2 cores): a Gram matrix built with 2 threads must not serve a fit limited to 1."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(800, 700)), rng.normal(size=800)
    with threadpool_limits(1):
        plain_one = run_fits(X, y, [1.0, 2.0])
    plain_all = run_fits(X, y, [1.0, 2.0])
    with fused():
        all_threads = run_fits(X, y, [1.0, 2.0])
        with threadpool_limits(1):
            one_thread = run_fits(X, y, [1.0, 2.0])
    assert_same(plain_all, all_threads)
    assert_same(plain_one, one_thread)


def test_a_failure_of_the_kernel_itself_leaves_the_fit_to_the_library(monkeypatch):
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(60, 5)), rng.normal(size=60)
    plain = run_fits(X, y, [0.5, 5.0])

    def broken(*args):
        raise RuntimeError("kernel bug")

    for name in ("_content_key", "_build", "_prepare"):
        rk.MEMO.clear()
        with monkeypatch.context() as m:
            m.setattr(rk, name, broken)
            start = kernels.mark()
            with fused():
                assert_same(plain, run_fits(X, y, [0.5, 5.0]))
            assert kernels.since(start) == "library Ridge.fit: kernel failed (RuntimeError) x2"


@pytest.mark.parametrize("failing", [
    "Ridge(alpha=[1.0, 2.0, 3.0]).fit(X, Y)",  # raised by _ridge_regression after the memo hit
    "Ridge(alpha=np.inf).fit(X, Y)",  # parameter validation
    "Ridge(alpha=[1e300, 1.0]).fit(X.astype(np.float32), Y)",  # overflow warning, then solve
])
def test_errors_and_warnings_under_stratum_are_byte_identical(tmp_path, failing):
    script = tmp_path / "fails.py"
    script.write_text(
        "import numpy as np\n"
        "from sklearn.linear_model import Ridge\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.normal(size=(200, 5)); Y = rng.normal(size=(200, 2))\n"
        "for a in (0.1, 1.0):\n"
        "    print(Ridge(alpha=a).fit(X, Y).coef_.tobytes().hex()[:32])\n"
        "Ridge(alpha=1.0).fit(X.astype(np.float32), Y)\n"
        f"{failing}\n")
    data = tmp_path / "data"
    data.mkdir()
    plain = difftest.run_case(script, tmp_path / "work", "plain", data_dir=data)
    ours = difftest.run_case(script, tmp_path / "work", "stratum", tmp_path / "cache",
                             data_dir=data)
    assert plain.exit_code == 1 and b"Error" in plain.stderr
    assert not difftest.compare(plain, ours)


def test_grid_search_on_threads_shares_the_memo():
    from joblib import parallel_backend

    rng = np.random.default_rng(10)
    X = rng.normal(size=(300, 8))
    y = X @ rng.normal(size=8) + rng.normal(size=300)

    def run():
        with parallel_backend("threading", n_jobs=2):
            search = GridSearchCV(Ridge(), {"alpha": [0.01, 0.1, 1.0, 10.0]}, cv=3).fit(X, y)
        return search.best_params_, search.cv_results_["mean_test_score"].tobytes()

    plain = run()
    rk.MEMO.clear()
    start = kernels.mark()
    with fused():
        out = run()
    assert plain == out
    assert kernels.since(start) == "native Ridge.fit x13"  # 4 alphas x 3 folds + the refit
    assert rk.stats()["misses"] <= 4 + 3  # a fold's first fits may race on two threads
