"""Reuse across runs, adversarially: every run must still print what plain python prints.

Each test writes small agent-style scripts into a work dir, runs them plain and under
``python -m stratum`` (subprocesses, one shared cache dir), compares the outputs byte for byte
and reads the trace (``trace show --last --json``) to check what was reused.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

HEADER = """\
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def script(path: Path, body: str) -> Path:
    """An agent script: the usual imports, then ``body``."""
    return write(path, HEADER + textwrap.dedent(body))


def make_csv(path: Path, n: int = 400, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.integers(0, 5, n)})
    df["y"] = df.a * 3 - df.b + df.c + rng.normal(size=n) * 0.1
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


class Runner:
    def __init__(self, workdir: Path, cache: Path):
        self.workdir, self.cache = workdir, cache

    def run(self, script: str, mode: str = "stratum", env_extra=None, cache=None):
        env = difftest.build_env(mode, cache or self.cache)
        env.update(env_extra or {})
        cmd = difftest.command(mode, script, [])
        p = subprocess.run(cmd, cwd=self.workdir, env=env, capture_output=True, timeout=300)
        return p.returncode, p.stdout, p.stderr

    def trace(self, cache=None) -> dict:
        env = difftest.build_env("stratum", cache or self.cache)
        p = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--last", "--json"],
                           cwd=self.workdir, env=env, capture_output=True, timeout=60, check=True)
        return json.loads(p.stdout)

    def reused(self, cache=None) -> list[str]:
        return [n["op"] for n in self.trace(cache)["nodes"] if n["reused"]]

    def same_as_plain(self, script: str, **kw):
        plain = self.run(script, "plain", env_extra=kw.get("env_extra"))
        assert plain[0] == 0, plain[2].decode()
        got = self.run(script, **kw)
        assert got == plain, f"{script}: stratum differs from plain\nplain={plain}\nstratum={got}"
        return got


@pytest.fixture
def runner(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    make_csv(work / "data.csv")
    return Runner(work, tmp_path / "cache")


def test_rerun_reuses_costly_work(runner):
    script(runner.workdir / "s.py", """
        df = pd.read_csv("data.csv")
        X, y = df[["a", "b", "c"]], df["y"]
        rf = RandomForestRegressor(n_estimators=40, random_state=0)
        print(cross_val_score(rf, X, y, cv=3).round(6))
        print(rf.fit(X, y).predict(X[:3]).round(6))
    """)
    runner.same_as_plain("s.py")
    runner.same_as_plain("s.py")
    reused = runner.reused()
    assert any("cross_val_score" in op for op in reused)
    assert any(op.endswith(".fit") for op in reused)


def test_mutation_through_alias_is_not_reused_stale(runner):
    script(runner.workdir / "s.py", """
        import sys
        X = np.arange(200.0).reshape(100, 2)
        y = X[:, 0] * 2.0
        print(Ridge().fit(X, y).coef_.round(6))
        view = X[:, 1]
        view *= float(sys.argv[1]) if len(sys.argv) > 1 else 3.0   # writes X through a view
        print(Ridge().fit(X, y).coef_.round(6))
        X += 1                                                     # in place on X itself
        print(Ridge().fit(X, y).coef_.round(6))
    """)
    runner.same_as_plain("s.py")
    runner.same_as_plain("s.py")


def test_dataframe_mutation_rekeys(runner):
    script(runner.workdir / "s.py", """
        df = pd.read_csv("data.csv")
        m = Ridge().fit(df[["a", "b"]], df["y"])
        print(m.coef_.round(6))
        df["a"] = df["a"] * 10
        df.loc[df.c == 1, "b"] = 0.0
        m2 = Ridge().fit(df[["a", "b"]], df["y"])
        print(m2.coef_.round(6))
    """)
    for _ in range(2):
        runner.same_as_plain("s.py")


def test_unseeded_randomness_is_never_reused(runner):
    script(runner.workdir / "s.py", """
        X = np.random.rand(300, 3)
        y = X @ [1.0, 2.0, 3.0] + np.random.rand(300)
        rf = RandomForestRegressor(n_estimators=30).fit(X, y)
        print(repr(float(rf.predict(X[:1])[0])))
    """)
    outs = {runner.run("s.py")[1] for _ in range(2)}
    assert len(outs) == 2, "unseeded runs must differ, as they do under plain python"
    assert runner.reused() == []


def test_seeded_global_rng_is_reused_and_leaves_rng_in_place(runner):
    script(runner.workdir / "s.py", """
        np.random.seed(7)
        X = np.random.rand(300, 3)
        y = X @ [1.0, 2.0, 3.0]
        rf = RandomForestRegressor(n_estimators=30).fit(X, y)   # random_state=None: global RNG
        print(repr(float(rf.predict(X[:1])[0])))
        print(np.random.rand(2))                                 # RNG state after the fit
    """)
    runner.same_as_plain("s.py")
    runner.same_as_plain("s.py")
    assert any(op.endswith("RandomForestRegressor.fit") for op in runner.reused())


def test_edited_data_file_is_recomputed(runner):
    path = script(runner.workdir / "s.py", """
        df = pd.read_csv("data.csv")
        print(cross_val_score(Ridge(), df[["a", "b"]], df["y"], cv=3).round(6))
    """)
    runner.same_as_plain(path.name)
    make_csv(runner.workdir / "data.csv", seed=1)  # same size class, new content
    runner.same_as_plain(path.name)
    assert not any("read_csv" in op for op in runner.reused())


def test_edited_helper_function_is_recomputed(runner):
    helper = runner.workdir / "helpers_feat.py"
    write(helper, """
        def add(df):
            return df.assign(d=df.a * 2)
    """)
    script(runner.workdir / "s.py", """
        from sklearn.preprocessing import FunctionTransformer
        import helpers_feat
        df = pd.read_csv("data.csv")
        ft = FunctionTransformer(helpers_feat.add)
        print(ft.fit_transform(df).d.head(3).round(6).tolist())
    """)
    runner.same_as_plain("s.py")
    write(helper, """
        def add(df):
            return df.assign(d=df.a * 3)
    """)
    os.utime(helper, (1, 1))  # defeat mtime-based bytecode caches
    runner.same_as_plain("s.py")


def test_two_scripts_share_a_prefix(runner):
    prefix = textwrap.dedent("""
        df = pd.read_csv("data.csv")
        X, y = df[["a", "b", "c"]], df["y"]
        rf = RandomForestRegressor(n_estimators=40, random_state=0)
        scores = cross_val_score(rf, X, y, cv=3)
    """)
    script(runner.workdir / "one.py", prefix + "print(scores.mean().round(6))\n")
    script(runner.workdir / "two.py", prefix + "print(scores.round(3), Ridge().fit(X, y).coef_.round(4))\n")
    runner.same_as_plain("one.py")
    runner.same_as_plain("two.py")
    assert any("cross_val_score" in op for op in runner.reused())


FOREST_CV = """
    df = pd.read_csv("data.csv")
    rf = RandomForestRegressor(n_estimators=30, random_state=0)
    print(cross_val_score(rf, df[["a", "b", "c"]], df["y"], cv=3).round(6))
"""


def test_eight_processes_share_one_cache(runner):
    script(runner.workdir / "s.py", FOREST_CV)
    plain = runner.run("s.py", "plain")
    env = difftest.build_env("stratum", runner.cache)
    procs = [subprocess.Popen(difftest.command("stratum", "s.py", []), cwd=runner.workdir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    for r in results:
        assert r == plain
    # single flight: whatever the interleaving, exactly one process computed the CV
    last = runner.trace()["run"]["id"]
    executed = 0
    for run_id in range(last - 7, last + 1):
        p = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", str(run_id), "--json"],
                           cwd=runner.workdir, env=env, capture_output=True, check=True)
        executed += sum(1 for n in json.loads(p.stdout)["nodes"]
                        if n["op"].endswith("cross_val_score") and not n["reused"])
    assert executed == 1
    runner.same_as_plain("s.py")


def _entries(cache: Path) -> list[Path]:
    return [p for p in (cache / "objects").rglob("*") if p.is_file()]


def test_corrupted_and_tampered_entries_are_recomputed(runner):
    script(runner.workdir / "s.py", FOREST_CV)
    plain = runner.run("s.py", "plain")
    assert runner.run("s.py") == plain
    entries = _entries(runner.cache)
    assert entries
    for i, entry in enumerate(entries):
        data = bytearray(entry.read_bytes())
        if i % 2:
            data[len(data) // 2] ^= 0xFF  # flipped byte: HMAC mismatch
        else:
            data = data[: len(data) // 3]  # truncated
        entry.write_bytes(bytes(data))
    code, out, err = runner.run("s.py")
    assert (code, out) == plain[:2]
    lines = [l for l in err.decode().splitlines() if l.startswith("stratum:")]
    assert len(lines) == 1 and "damaged cache entry" in lines[0], err
    assert err.decode().replace("\n".join(lines) + "\n", "") == plain[2].decode()
    assert runner.run("s.py") == plain  # entries rewritten, clean again


@pytest.mark.parametrize("problem", ["unwritable", "foreign", "group-writable"])
def test_unusable_cache_dir_runs_uncached(runner, tmp_path, problem):
    bad = tmp_path / "badcache"
    if problem == "unwritable":
        bad.write_text("a file, not a directory")
    else:
        bad.mkdir(mode=0o700)
        if problem == "foreign":
            os.chown(bad, 12345, 12345)
        else:
            os.chmod(bad, 0o770)
    script(runner.workdir / "s.py", """
        df = pd.read_csv("data.csv")
        print(Ridge().fit(df[["a", "b"]], df["y"]).coef_.round(6))
    """)
    plain = runner.run("s.py", "plain")
    code, out, err = runner.run("s.py", cache=bad)
    assert (code, out) == plain[:2]
    extra = err.decode().splitlines()
    assert len(extra) == 1 and extra[0].startswith("stratum:") and "running uncached" in extra[0]


def test_cache_over_budget_evicts_and_stays_correct(runner):
    script(runner.workdir / "s.py", """
        import sys
        df = pd.read_csv("data.csv")
        for n in (20, 25, 30, 35):
            rf = RandomForestRegressor(n_estimators=n, random_state=0)
            print(n, cross_val_score(rf, df[["a", "b", "c"]], df["y"], cv=3).round(6))
    """)
    env = {"STRATUM_CACHE_SIZE": "600K"}
    for _ in range(3):
        runner.same_as_plain("s.py", env_extra=env)
    total = sum(p.stat().st_size for p in _entries(runner.cache))
    assert total <= 600 * 1024


def test_new_final_model_reuses_each_folds_preprocessing(runner):
    words = ["good", "bad", "fine", "awful", "great", "poor", "nice", "meh", "superb", "dull"]
    body = """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        rng = np.random.RandomState(0)
        words = {words!r}
        texts = [" ".join(rng.choice(words, 30)) + f" w{{i % 97}}" for i in range(3000)]
        y = np.array([t.count("good") + t.count("great") > t.count("bad") for t in texts])
        pipe = Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2))),
                         ("m", LogisticRegression(C={C}, max_iter=200))])
        print(cross_val_score(pipe, texts, y, cv=3).round(6))
    """
    script(runner.workdir / "a.py", body.format(words=words, C=1.0))
    script(runner.workdir / "b.py", body.format(words=words, C=10.0))
    runner.same_as_plain("a.py")
    runner.same_as_plain("b.py")
    reused = runner.reused()
    assert reused.count("sklearn.pipeline._fit_transform_one") == 3, reused
