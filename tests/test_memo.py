"""User-function memoization: a pure user function is one node, skipped on a later run;
a function with an effect is always run. Every run is compared with plain python."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import difftest  # noqa: E402

HEADER = textwrap.dedent("""\
    import numpy as np, pandas as pd
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"a": rng.rand(50000), "b": rng.rand(50000), "g": rng.randint(0, 50, 50000)})
    """)


class Case:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.cache = tmp_path / "cache"

    def write(self, body: str) -> None:
        (self.dir / "s.py").write_text(HEADER + textwrap.dedent(body))

    def run(self, mode: str) -> subprocess.CompletedProcess:
        env = difftest.build_env(mode, self.cache)
        cmd = difftest.command(mode, "s.py", [])
        return subprocess.run(cmd, cwd=self.dir, env=env, capture_output=True, timeout=300)

    def same_as_plain(self) -> dict:
        plain = self.run("plain")
        got = self.run("stratum")
        assert (got.returncode, got.stdout, got.stderr) == \
            (plain.returncode, plain.stdout, plain.stderr), got.stderr.decode()
        out = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--json"],
                             cwd=self.dir, env=difftest.build_env("stratum", self.cache),
                             capture_output=True, check=True)
        return json.loads(out.stdout)


def _node(trace, name):
    return [n for n in trace["nodes"] if n["op"] == f"__main__.{name}"]


FEAT = """
    SCALE = {scale}
    def helper(frame):
        return frame["a"] * SCALE
    def feat_eng(frame):
        out = frame.assign(c=helper(frame), d=np.log1p(frame["b"]))
        m = out.groupby("g")["d"].transform("mean")
        return out.assign(e=m)
    f = feat_eng(df)
    print(f["e"].sum().round(6), f["c"].sum().round(6))
"""


def test_pure_function_is_one_node_and_skipped_on_rerun(tmp_path):
    case = Case(tmp_path)
    case.write(FEAT.format(scale=3.0))
    first = case.same_as_plain()
    node = _node(first, "feat_eng")
    assert node and not node[0]["reused"] and node[0]["reason"] is None
    inner = [n for n in first["nodes"] if n["parent"] == first["nodes"].index(node[0])
             or n["op"] == "pandas.DataFrame.assign"]
    assert inner  # the body's operations are recorded under it on the first run
    second = case.same_as_plain()
    node2 = _node(second, "feat_eng")
    assert node2 and node2[0]["reused"]
    assert not any(n["op"] == "pandas.DataFrame.assign" for n in second["nodes"])  # body skipped
    assert len(second["nodes"]) < len(first["nodes"])


def test_changed_global_or_callee_recomputes(tmp_path):
    case = Case(tmp_path)
    case.write(FEAT.format(scale=3.0))
    case.same_as_plain()
    case.write(FEAT.format(scale=4.0))  # a global the body reads through a helper
    trace = case.same_as_plain()
    assert not _node(trace, "feat_eng")[0]["reused"]
    case.write(FEAT.format(scale=4.0).replace('frame["a"] * SCALE', 'frame["a"] * SCALE + 1'))
    trace = case.same_as_plain()  # the helper's code changed
    assert not _node(trace, "feat_eng")[0]["reused"]


@pytest.mark.parametrize("body, why", [
    ("""
    def f(frame):
        print("rows", len(frame))
        return frame["a"].sum()
    """, "prints"),
    ("""
    import time
    def f(frame):
        return frame["a"].sum() + (time.time() > 0)
    """, "reads a clock"),
    ("""
    seen = []
    def f(frame):
        seen.append(1)
        return frame["a"].sum() + len(seen)
    """, "changes a global list"),
])
def test_functions_with_effects_are_never_memoized(tmp_path, body, why):
    case = Case(tmp_path)
    case.write(textwrap.dedent(body) + "print(f(df).round(6))\nprint(f(df).round(6))\n")
    for _ in range(2):
        trace = case.same_as_plain()
        assert not _node(trace, "f"), why  # not even routed as one node


def test_in_place_change_of_an_argument_is_not_admitted(tmp_path):
    case = Case(tmp_path)
    case.write("""
    def add_col(frame):
        frame["z"] = frame["a"] * 2
        return frame["z"].sum()
    print(add_col(df).round(6), list(df.columns))
    """)
    for _ in range(2):
        trace = case.same_as_plain()
        node = _node(trace, "add_col")
        assert node and not node[0]["reused"]
        assert "side effects" in node[0]["reason"]


def test_fitting_an_estimator_passed_in_is_not_admitted(tmp_path):
    case = Case(tmp_path)
    case.write("""
    from sklearn.linear_model import Ridge
    def train(model, frame):
        model.fit(frame[["a", "b"]], frame["g"])
        return model.score(frame[["a", "b"]], frame["g"])
    m = Ridge()
    print(round(train(m, df), 6), m.coef_.round(6))
    """)
    for _ in range(2):
        trace = case.same_as_plain()
        assert not _node(trace, "train")[0]["reused"]


def test_seeded_randomness_inside_is_memoized_with_the_rng_state(tmp_path):
    case = Case(tmp_path)
    case.write("""
    np.random.seed(1)
    def noisy(frame):  # draws from the global RNG through the library
        return frame.sample(n=2000).assign(n=frame["a"] * 2)
    out = noisy(df)
    print(out["n"].sum().round(6), out.index[:5].tolist(), np.random.rand(2).round(6))
    """)
    case.same_as_plain()
    trace = case.same_as_plain()  # the draw after the call matches: RNG state restored
    assert _node(trace, "noisy")[0]["reused"]


def test_unseeded_randomness_inside_is_not_reused(tmp_path):
    case = Case(tmp_path)
    case.write("""
    def noisy(frame):
        return frame.sample(n=2000).assign(n=frame["a"] * 2)
    print(len(noisy(df)))
    """)
    for _ in range(2):
        trace = case.same_as_plain()
        node = _node(trace, "noisy")
        assert node and not node[0]["reused"] and "side effects" in node[0]["reason"]


def test_exception_inside_is_identical(tmp_path):
    case = Case(tmp_path)
    case.write("""
    def broken(frame):
        return frame["missing"] * 2
    broken(df)
    """)
    for _ in range(2):
        case.same_as_plain()


def test_recursion_depth_is_unchanged(tmp_path):
    case = Case(tmp_path)
    case.write("""
    import sys
    def depth(n, frame):
        return n if n == 0 else depth(n - 1, frame)
    print(depth(sys.getrecursionlimit() - 60, df))
    """)
    case.same_as_plain()
