"""Per-operation costs of the hot paths (pytest-benchmark).

    pytest bench/test_hotpaths.py                      # measure
    pytest bench/test_hotpaths.py --benchmark-disable  # CI: run each body once, no timing

(i)   a rewritten loop of 10k ``df["a"]`` / ``arr + 1`` with the engine active vs the same loop
      plain: (engine - plain) / 10k is the cost of one intercepted library operation;
(ii)  the dispatch fast path: int arithmetic in a rewritten loop (engine active) vs plain;
(iii) ``Lineage.key_of`` of a 1M-float ndarray and a 100k-row DataFrame (content hashing);
(iv)  ``Cache.put`` / ``Cache.get`` of a 10 MB array;
(v)   what every executed reusable call pays on a cold cache: a miss (``Cache.get`` of an
      absent key) and the cross-process single flight (``Cache.flight``: lookup + key lock);
(vi)  closing a run: ``TraceStore.record`` of a 1,000-node trace; a call's key that includes an
      estimator (``key_of`` a Pipeline of three steps);
(vii) native kernels: one file per kernel family, ``bench/test_kernels_<family>.py``, same
      conventions (a ``plain`` and a ``native`` benchmark in one group, each asserting the
      result equals the library's); ``.ci/run`` runs every ``bench/test_*.py`` once.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from interposer import dispatch, rewrite as rw
from stratum.keys.lineage import Lineage

N = 10_000

LOOPS = textwrap.dedent("""
    def getitem_loop(df, n):
        for _ in range(n):
            x = df["a"]
        return x

    def add_loop(arr, n):
        for _ in range(n):
            y = arr + 1
        return y

    def int_loop(n):
        t = 0
        for i in range(n):
            t = t + i * 2 - (i % 3)
        return t
""")


def _functions(rewritten: bool) -> dict:
    code = compile(LOOPS, "<hotpaths>", "exec")
    if rewritten:
        code = rw.rewrite(code)
    ns = {"__name__": "__main__"}
    exec(code, ns)
    return ns


PLAIN = _functions(False)
REWRITTEN = _functions(True)
DF = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100)})
ARR = np.arange(100.0)


@pytest.fixture
def engine(tmp_path, monkeypatch):
    from stratum.session import activation

    monkeypatch.setenv("STRATUM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("STRATUM_DISABLE", raising=False)
    session = activation.activate()
    assert session is not None
    try:
        engine = session.load_engine()  # normally loaded at the first library operation
        dispatch.set_engine(engine)
        yield engine
    finally:
        activation.deactivate()


def _run(benchmark, fn, *args, engine=None):
    def setup():
        if engine is not None:
            engine.nodes.clear()  # the trace of 10k ops per round would otherwise pile up
        return args, {}

    return benchmark.pedantic(fn, setup=setup, rounds=5, iterations=1, warmup_rounds=1)


# ---- (i) intercepted library operations ------------------------------------------------------
@pytest.mark.benchmark(group="getitem-10k")
def test_getitem_plain(benchmark):
    out = _run(benchmark, PLAIN["getitem_loop"], DF, N)
    assert out.equals(DF["a"])


@pytest.mark.benchmark(group="getitem-10k")
def test_getitem_rewritten_no_engine(benchmark):
    assert dispatch.get_engine() is None
    out = _run(benchmark, REWRITTEN["getitem_loop"], DF, N)
    assert out.equals(DF["a"])


@pytest.mark.benchmark(group="getitem-10k")
def test_getitem_engine(benchmark, engine):
    out = _run(benchmark, REWRITTEN["getitem_loop"], DF, N, engine=engine)
    assert out.equals(DF["a"])
    assert engine.nodes, "the getitem calls were not intercepted"


@pytest.mark.benchmark(group="ndarray-add-10k")
def test_add_plain(benchmark):
    out = _run(benchmark, PLAIN["add_loop"], ARR, N)
    assert np.array_equal(out, ARR + 1)


@pytest.mark.benchmark(group="ndarray-add-10k")
def test_add_engine(benchmark, engine):
    out = _run(benchmark, REWRITTEN["add_loop"], ARR, N, engine=engine)
    assert np.array_equal(out, ARR + 1)
    assert engine.nodes, "the additions were not intercepted"


# ---- (ii) fast path for plain Python values ------------------------------------------------------
@pytest.mark.benchmark(group="int-arith-10k")
def test_int_plain(benchmark):
    assert _run(benchmark, PLAIN["int_loop"], N) == PLAIN["int_loop"](N)


@pytest.mark.benchmark(group="int-arith-10k")
def test_int_rewritten_no_engine(benchmark):
    assert _run(benchmark, REWRITTEN["int_loop"], N) == PLAIN["int_loop"](N)


@pytest.mark.benchmark(group="int-arith-10k")
def test_int_engine(benchmark, engine):
    assert _run(benchmark, REWRITTEN["int_loop"], N, engine=engine) == PLAIN["int_loop"](N)
    assert not engine.nodes, "plain ints must not reach the engine"


# ---- (iii) content keys -----------------------------------------------------------------------
@pytest.mark.benchmark(group="key_of")
def test_key_ndarray_1m(benchmark):
    a = np.random.default_rng(0).random(1_000_000)
    key = benchmark(lambda: Lineage().key_of(a))
    assert len(key) == 32


@pytest.mark.benchmark(group="key_of")
def test_key_dataframe_100k(benchmark):
    rng = np.random.default_rng(0)
    n = 100_000
    df = pd.DataFrame({
        "x": rng.random(n), "y": rng.integers(0, 100, n), "s": rng.choice(["a", "b", "c"], n),
        "c": pd.Categorical(rng.choice(["u", "v"], n)),
        "t": pd.date_range("2024-01-01", periods=n, freq="min"),
    })
    key = benchmark(lambda: Lineage().key_of(df))
    assert len(key) == 32


@pytest.mark.benchmark(group="key_of")
def test_key_estimator_pipeline(benchmark):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler()),
                     ("m", RandomForestRegressor(n_estimators=50, random_state=0))])
    key = benchmark(lambda: Lineage().key_of(pipe))
    assert len(key) == 32 and key == Lineage().key_of(pipe)


# ---- (iv) cache ---------------------------------------------------------------------------------
@pytest.fixture
def cache(tmp_path):
    from stratum.cache.cache import Cache

    c = Cache(tmp_path / "cache", 1 << 30)
    try:
        yield c
    finally:
        c.close()


ARRAY_10MB = np.random.default_rng(1).random((10 << 20) // 8)


@pytest.mark.benchmark(group="cache-10MB")
def test_cache_put(benchmark, cache):
    counter = iter(range(10**9))

    def put():
        key = f"{next(counter):032x}"
        assert cache.put(key, ARRAY_10MB, cost=10.0)

    benchmark.pedantic(put, rounds=5, iterations=1, warmup_rounds=1)


def _bench_get(benchmark, cache, key):
    """Benchmark loading ``key`` from ``cache``; the value must be the array stored."""
    def get():
        hit, value = cache.get(key)
        assert hit
        return value

    assert np.array_equal(benchmark(get), ARRAY_10MB)


@pytest.mark.benchmark(group="cache-10MB")
def test_cache_get_memory(benchmark, cache):
    key = "ab" * 16
    assert cache.put(key, ARRAY_10MB, cost=10.0)
    _bench_get(benchmark, cache, key)


@pytest.mark.benchmark(group="cache-10MB")
def test_cache_get_disk(benchmark, tmp_path):
    from stratum.cache.cache import Cache

    key = "cd" * 16
    with Cache(tmp_path / "c", 1 << 30) as writer:
        assert writer.put(key, ARRAY_10MB, cost=10.0)
    # a reader with no memory layer: every get loads (memory-maps) the entry from disk
    reader = Cache(tmp_path / "c", 1 << 30, memory_budget=0)
    try:
        _bench_get(benchmark, reader, key)
    finally:
        reader.close()


# ---- (v) the cold-cache path of an executed call --------------------------------------------------
@pytest.mark.benchmark(group="cold-call")
def test_cache_miss(benchmark, cache):
    keys = (f"{i:032x}" for i in range(10**9))
    assert benchmark(lambda: cache.get(next(keys))) == (False, None)


@pytest.mark.benchmark(group="cold-call")
def test_cache_flight_miss(benchmark, cache):
    keys = (f"{i:032x}" for i in range(10**9))

    def flight():
        with cache.flight(next(keys)) as f:
            return f.hit

    assert benchmark(flight) is False


# ---- (vi) closing a run -------------------------------------------------------------------------
@pytest.mark.benchmark(group="trace-store")
def test_trace_record_1000_nodes(benchmark, tmp_path):
    from stratum.engine.engine import Node  # the engine's own record type: stays in step with it
    from stratum.trace.store import TraceStore

    nodes = [Node(seq=i, key=f"{i:032x}", op="pandas.DataFrame.__getitem__",
                  site="/w/s.py:12", inputs=[f"{i + 1:032x}"], consts=["'a'"],
                  kind="Series", seconds=1e-4, nbytes=800, effect="pure",
                  reused=i % 2 == 0, reason=None, parent=None)
             for i in range(1000)]
    run = {"script": "/w/s.py", "argv": [], "cwd": "/w", "started": 0.0, "seconds": 1.0,
           "exit_code": 0, "reused": 500, "executed": 500, "saved": 0.0, "versions": "v"}
    store = TraceStore(tmp_path)
    try:
        run_id = benchmark(lambda: store.record(run, nodes))
        assert len(store.nodes(run_id)) == 1000
    finally:
        store.close()
