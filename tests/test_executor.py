"""The native graph executor: order, concurrency, GIL, freeing, spilling, errors, scale."""
from __future__ import annotations

import time
import traceback
import weakref

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratum.cache.cache import Cache
from stratum.replay.executor import KERNELS, CacheSpill, Graph, run


def test_dependency_order():
    log = []

    def step(name):
        def fn(*xs):
            log.append(name)
            return name + "(" + ",".join(xs) + ")"
        return fn

    g = Graph()
    a = g.add("a", step("a"))
    b = g.add("b", step("b"), [a])
    c = g.add("c", step("c"), [a])
    d = g.add("d", step("d"), [b, c, a])
    g.add("unused", step("unused"), [a])
    values, stats = run(g, [d], jobs=2)
    assert values == {d: "d(b(a()),c(a()),a())"}
    assert "unused" not in log  # only ancestors of the outputs run
    for node, deps in (("b", "a"), ("c", "a"), ("d", "bca")):
        assert all(log.index(x) < log.index(node) for x in deps)
    assert [n["status"] for n in stats["nodes"]] == ["ok"] * 4


def test_independent_python_nodes_overlap():
    # time.sleep releases the GIL: two sleeping nodes run at the same time on two threads.
    g = Graph()
    a = g.add("sleep_a", lambda: time.sleep(0.3) or "a")
    b = g.add("sleep_b", lambda: time.sleep(0.3) or "b")
    values, stats = run(g, [a, b], jobs=2)
    assert values == {a: "a", b: "b"}
    sa, sb = stats["nodes"]
    assert sa["start"] < sb["end"] and sb["start"] < sa["end"]
    assert sa["thread"] != sb["thread"]


def test_native_kernels_run_without_the_gil():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 7)), rng.normal(size=(300, 7))
    g = Graph()
    a, b = g.const(x), g.const(y)
    s = g.add("s", "add", [a, b])
    m = g.add("m", "mul", [s, b])
    q = g.add("q", "sqrt", [g.add("abs", "abs", [m])])
    values, stats = run(g, [s, m, q], jobs=2)
    np.testing.assert_array_equal(values[s], x + y)
    np.testing.assert_array_equal(values[m], (x + y) * y)
    np.testing.assert_array_equal(values[q], np.sqrt(np.abs((x + y) * y)))
    native = [n for n in stats["nodes"] if n["kind"] == "native"]
    assert len(native) == 4 and all(n["gil"] is False for n in native)


class Box:
    """A value with weak references (to observe when the executor releases it)."""

    def __init__(self, v):
        self.v = v


def test_values_are_freed_at_their_last_use():
    freed = []
    refs = {}

    def make(name):
        def fn(*inputs):
            box = Box(name)
            refs[name] = weakref.ref(box, lambda _r: freed.append(name))
            return box
        return fn

    def check_a_gone(b):
        return ("a" in freed, b.v)

    g = Graph()
    a = g.add("a", make("a"))
    b = g.add("b", make("b"), [a])
    c = g.add("c", check_a_gone, [b])
    d = g.add("d", lambda c_: ("b" in freed, c_), [c])
    values, stats = run(g, [d], jobs=1)
    # a was released once b (its only consumer) finished, b once c finished: before the end.
    assert values[d] == (True, (True, "b"))
    assert stats["frees"] == 3


def _mixed_graph():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=500), "y": rng.integers(0, 9, 500)})
    g = Graph()
    f = g.const(frame, "frame")
    col = g.add("col", lambda df: df["x"].to_numpy().copy(), [f])
    sq = g.add("sq", "mul", [col, col])
    grp = g.add("grp", lambda df: df.groupby("y")["x"].sum(), [f])
    z = g.add("z", lambda a, s: a - s.mean(), [sq, grp])
    neg = g.add("neg", "neg", [z])
    tot = g.add("tot", lambda a, b, df: float(a.sum() + b.sum()) + len(df), [z, neg, f])
    return g, [grp, neg, tot, sq]


def test_spill_and_reload_under_a_tiny_budget(tmp_path):
    g, outs = _mixed_graph()
    plain, _ = run(g, outs, jobs=2)
    cache = Cache(tmp_path / "c", 1 << 30, memory_budget=0)
    spilled, stats = run(g, outs, jobs=2, memory_budget=1, spill=CacheSpill(cache))
    assert stats["spills"] > 0 and stats["reloads"] > 0
    assert set(spilled) == set(plain)
    pd.testing.assert_series_equal(spilled[outs[0]], plain[outs[0]])
    np.testing.assert_array_equal(spilled[outs[1]], plain[outs[1]])
    assert spilled[outs[2]] == plain[outs[2]]
    np.testing.assert_array_equal(spilled[outs[3]], plain[outs[3]])


def test_exception_propagates_with_its_traceback_and_cancels_dependents():
    raised = []
    finished = []

    def failing_step(x):
        exc = KeyError(f"missing column {x!r}")
        raised.append(exc)
        raise exc

    g = Graph()
    a = g.add("a", lambda: "col")
    bad = g.add("bad", failing_step, [a])
    after = g.add("after", lambda v: finished.append("after") or v, [bad])
    after2 = g.add("after2", lambda v: finished.append("after2") or v, [after])
    ok = g.add("independent", lambda v: finished.append("independent") or v * 2, [a])
    with pytest.raises(KeyError) as info:
        run(g, [after2, ok], jobs=2)
    assert info.value is raised[0]
    assert str(info.value) == "\"missing column 'col'\""
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "failing_step"
    assert finished == ["independent"]

    values, stats = run(g, [after2, ok], jobs=2, errors="collect")
    assert values == {ok: "colcol"}
    status = {n["op"]: n["status"] for n in stats["nodes"]}
    assert status == {"a": "ok", "bad": "error", "after": "cancelled", "after2": "cancelled",
                      "independent": "ok"}
    [(node, exc)] = stats["errors"]
    assert node == bad and type(exc) is KeyError and exc is raised[-1]


def test_kernel_errors():
    g = Graph()
    a, b = g.const(np.ones(3)), g.const(np.ones(4))
    s = g.add("bad_add", "add", [a, b])
    with pytest.raises(ValueError, match=r"native kernel add \(node bad_add\): operands have "
                                         r"shapes \[3\] and \[4\]"):
        run(g, [s])
    g = Graph()
    n = g.add("ints_neg", "neg", [g.const(np.arange(3))])
    with pytest.raises(TypeError, match="native kernel neg .* takes float64 arrays"):
        run(g, [n])
    with pytest.raises(ValueError, match="no native kernel named 'nope'"):
        Graph().add("x", "nope")


def test_ten_thousand_nodes():
    g = Graph()
    layer = [g.add(f"src{i}", (lambda i=i: i)) for i in range(100)]
    while len(g) < 10_000:
        layer = [g.add("sum", lambda a, b: a + b, [layer[j], layer[(j + 1) % len(layer)]])
                 for j in range(min(len(layer), 10_000 - len(g)))]
    values, stats = run(g, layer, jobs=2)
    assert len(g) == 10_000 and stats["ran"] == len(stats["nodes"]) > 9_900
    assert values == _sequential(g, layer)
    assert stats["frees"] == stats["ran"] - len(layer)


def _sequential(g: Graph, outputs):
    """Reference: evaluate every node in order in plain Python (numpy for kernels)."""
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "maximum": np.maximum, "neg": np.negative, "abs": np.abs, "sqrt": np.sqrt}
    vals = []
    with np.errstate(all="ignore"):
        for fn, ins in zip(g.impls, g.inputs):
            args = [vals[i] for i in ins]
            vals.append(ref[fn](*args) if isinstance(fn, str) else fn(*args))
    return {o: vals[o] for o in outputs}


_PY_OPS = {
    "py_sum": lambda *xs: sum(xs[1:], xs[0]) * 0.5 if xs else np.zeros(4),
    "py_shift": lambda *xs: (xs[0] if xs else np.zeros(4)) + 1.25,
}


@st.composite
def dags(draw):
    n = draw(st.integers(1, 25))
    g = Graph()
    for i in range(n):
        if i < 2 or draw(st.booleans()):
            name = draw(st.sampled_from(sorted(_PY_OPS)))
            k = draw(st.integers(0, min(i, 3)))
            ins = draw(st.lists(st.integers(0, i - 1), min_size=k, max_size=k)) if i else []
            if not ins:
                seed = draw(st.integers(0, 1000))
                g.add(f"src{i}", lambda seed=seed: np.random.default_rng(seed).normal(size=4))
            else:
                g.add(name, _PY_OPS[name], ins)
        else:
            kname = draw(st.sampled_from(sorted(KERNELS)))
            ins = draw(st.lists(st.integers(0, i - 1), min_size=KERNELS[kname],
                                max_size=KERNELS[kname]))
            g.add(kname, kname, ins)
    outs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4, unique=True))
    return g, outs


@settings(max_examples=60, deadline=None)
@given(dags(), st.integers(1, 3), st.sampled_from([None, 1, 64]))
def test_random_dags_match_sequential_evaluation(tmp_path_factory, case, jobs, budget):
    g, outs = case
    spill = None
    if budget is not None:
        spill = CacheSpill(Cache(tmp_path_factory.mktemp("spill"), 1 << 30, memory_budget=0))
    with np.errstate(all="ignore"):
        values, _ = run(g, outs, jobs=jobs, memory_budget=budget, spill=spill)
    expect = _sequential(g, outs)
    assert sorted(values) == sorted(expect)
    for o in outs:
        np.testing.assert_array_equal(values[o], expect[o])
