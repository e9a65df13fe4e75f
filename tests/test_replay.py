"""``python -m stratum replay``: recorded on a sample CSV, replayed on the full one."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import difftest

PIPELINE = textwrap.dedent("""\
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    df = pd.read_csv("data/sample.csv")
    df["ab"] = df["a"] * df["b"]
    X = pd.get_dummies(df[["a", "b", "ab", "c"]], columns=["c"])
    y = df["y"]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    model = LogisticRegression(C=0.05, max_iter=200).fit(Xtr, ytr)
    acc = model.score(Xte, yte)
    other = LogisticRegression(C=1.0, max_iter=200).fit(Xtr, ytr).score(Xte, yte)
    print("gap", abs(acc - other))
    print(f"accuracy: {acc:.4f} on", Xte.shape)
    print("mean a:", df["a"].mean(), "rows:", df.shape)
    print(df.groupby("c")["y"].mean().round(6))
    print("coef", model.coef_.round(4))
    print("done")
""")

BRANCHY = textwrap.dedent("""\
    import pandas as pd

    df = pd.read_csv("data/sample.csv")
    print("mean b:", df["b"].mean())
    if len(df) > 1000:
        print("large data set")
    else:
        print("small data set")
""")

PRINTS_LEN = textwrap.dedent("""\
    import pandas as pd

    df = pd.read_csv("data/sample.csv")
    print(len(df))
    print(f"rows: {df.shape[0]}")
    print("rows:", len(df), f"({len(df):,} in all)", str(len(df)))
    print(f"mean a: {round(float(df['a'].mean()), 4)}")
""")

UNSEEN = textwrap.dedent("""\
    import pandas as pd

    df = pd.read_csv("data/sample.csv")
    names = [c.upper() for c in df.columns]
    print("columns", names)
    print("max a:", df["a"].max())
""")


@pytest.fixture
def project(tmp_path):
    """A project directory with data/sample.csv (300 rows) and data/full.csv (4000 rows)."""
    rng = np.random.default_rng(0)
    n = 4000
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                       "c": rng.choice(["x", "y", "z"], n)})
    df["y"] = ((df.a + 0.3 * df.b + (df.c == "y") + rng.normal(size=n)) > 0.2).astype(int)
    (tmp_path / "data").mkdir()
    df.to_csv(tmp_path / "data" / "full.csv", index=False)
    df.head(300).to_csv(tmp_path / "data" / "sample.csv", index=False)
    return tmp_path


def _env(project):
    env = dict(os.environ)
    env["STRATUM_CACHE_DIR"] = str(project / "cache")
    for var in ("STRATUM_DISABLE", "STRATUM_EXPLAIN"):
        env.pop(var, None)
    # the stratum under test (a worktree's), not whichever one site-packages points at
    env["PYTHONPATH"] = str(difftest.stratum_home())
    return env


def _py(project, *args):
    return subprocess.run([sys.executable, "-P", *args], cwd=project, env=_env(project),
                          capture_output=True, text=True, timeout=300)


def _record(project, source: str, name: str = "script.py"):
    (project / name).write_text(source)
    rec = _py(project, "-m", "stratum", name)
    assert rec.returncode == 0, rec.stderr
    return rec


def _plain_on_full(project, source: str):
    (project / "full_script.py").write_text(source.replace("data/sample.csv", "data/full.csv"))
    plain = _py(project, "full_script.py")
    assert plain.returncode == 0, plain.stderr
    return plain.stdout


def test_replay_on_full_data_prints_what_plain_python_prints(project):
    rec = _record(project, PIPELINE)
    expected = _plain_on_full(project, PIPELINE)
    assert rec.stdout != expected  # the sample and the full data give different answers
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected
    assert out.stderr == ""


def test_replay_without_rebind_reproduces_the_recording(project):
    rec = _record(project, PIPELINE)
    out = _py(project, "-m", "stratum", "replay")
    assert out.returncode == 0, out.stderr
    assert out.stdout == rec.stdout


def test_control_flow_on_a_changed_value_is_a_divergence(project):
    rec = _record(project, BRANCHY)
    assert rec.stdout.endswith("small data set\n")
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 1
    assert "DIVERGENCE" in out.stderr and "builtins.len" in out.stderr
    assert "gave 300 when recorded and 4000 on replay" in out.stderr
    assert f"{project / 'script.py'}:5" in out.stderr
    # what came before the guard is printed (recomputed), nothing after it
    full_mean = pd.read_csv(project / "data" / "full.csv")["b"].mean()
    assert out.stdout == f"mean b: {full_mean}\n"


def test_a_different_pick_of_max_is_a_divergence(project):
    # max() of two scores returns one of the two objects; which one is a decision replay checks
    source = PIPELINE.replace('print("done")', 'print("best:", max(acc, other))')
    rec = _record(project, source)
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 1, out.stderr
    assert "DIVERGENCE" in out.stderr and "builtins.max (which input it picked)" in out.stderr
    assert "gave 1 when recorded and 0 on replay" in out.stderr
    assert f"{project / 'script.py'}:18" in out.stderr
    assert out.stdout == _plain_on_full(project, source).rsplit("best:", 1)[0]
    # on the sample itself nothing diverges
    again = _py(project, "-m", "stratum", "replay")
    assert again.returncode == 0 and again.stdout == rec.stdout


def test_print_of_values_stratum_could_not_see_is_reported_unchecked(project):
    _record(project, UNSEEN)
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 3, out.stderr
    assert "PARTIAL" in out.stderr and "script.py:5" in out.stderr
    assert "could not see" in out.stderr
    assert out.stdout == _plain_on_full(project, UNSEEN)


def test_several_runs_replay_in_one_graph(project):
    # Issue 6: two runs' f-string nodes ran at once and imported their function on executor
    # threads, one seeing the other's half-imported module (see tests/test_replay_plan.py).
    _record(project, PIPELINE, "one.py")
    _record(project, PIPELINE.replace("C=0.05", "C=1.0"), "two.py")
    out = _py(project, "-m", "stratum", "replay", "1", "2",
              "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 0, out.stderr
    first = _plain_on_full(project, PIPELINE)
    second = _plain_on_full(project, PIPELINE.replace("C=0.05", "C=1.0"))
    assert out.stdout == first + second
    assert out.stderr == "stratum replay: run 1 (one.py)\nstratum replay: run 2 (two.py)\n"


def test_unknown_run(project):
    _record(project, BRANCHY)
    out = _py(project, "-m", "stratum", "replay", "99")
    assert out.returncode == 2 and "no such run" in out.stderr


def test_a_value_that_only_reaches_print_is_recomputed_not_a_guard(project):
    # Issue 15 item 5: print(len(df)) ended in "DIVERGENCE ... guard builtins.len gave 300 ...
    # 4000": a value that only reaches a print cannot have steered the script.
    rec = _record(project, PRINTS_LEN)
    assert rec.stdout.startswith("300\n")
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout == _plain_on_full(project, PRINTS_LEN)
    assert out.stdout.startswith("4000\n")
    assert out.stderr == ""


def test_a_printed_value_kept_in_a_variable_stays_a_guard(project):
    # Where else ``n`` goes (an ``if``, a ``range``) stratum cannot see: still checked.
    source = PRINTS_LEN.replace("print(len(df))", "n = len(df)\nprint(n)")
    _record(project, source)
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 1
    assert "DIVERGENCE" in out.stderr and "gave 300 when recorded and 4000 on replay" in out.stderr
    assert out.stdout == ""


def test_rebind_of_a_file_the_run_never_read_is_an_error(project):
    rec = _record(project, BRANCHY)
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/other.csv=data/full.csv")
    assert out.returncode == 2
    assert out.stdout == ""  # nothing replayed
    assert out.stderr == ("stratum replay: --rebind: run 1 (script.py) never read data/other.csv "
                          "(it read: data/sample.csv); nothing replayed\n")
    # a right OLD next to a wrong one is still an error
    both = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv",
               "--rebind", "sample.csv=data/full.csv")
    assert both.returncode == 2 and both.stdout == ""
    assert "never read sample.csv (it read: data/sample.csv)" in both.stderr
    # the same file by its absolute path is the file the run read
    absolute = _py(project, "-m", "stratum", "replay",
                   "--rebind", f"{project / 'data' / 'sample.csv'}=data/sample.csv")
    assert absolute.returncode == 0, absolute.stderr
    assert absolute.stdout == rec.stdout


def test_replay_of_a_run_that_crashed_says_so(project):
    source = textwrap.dedent("""\
        import pandas as pd

        df = pd.read_csv("data/sample.csv")
        print("mean b:", df["b"].mean())
        print(df["missing"].sum())
        print("not reached")
    """)
    (project / "script.py").write_text(source)
    rec = _py(project, "-m", "stratum", "script.py")
    assert rec.returncode == 1 and "KeyError" in rec.stderr
    out = _py(project, "-m", "stratum", "replay", "--rebind", "data/sample.csv=data/full.csv")
    assert out.returncode == 1
    full_mean = pd.read_csv(project / "data" / "full.csv")["b"].mean()
    assert out.stdout == f"mean b: {full_mean}\n"  # what could be replayed is
    assert out.stderr == (
        "stratum replay: the recorded run 1 (script.py) ended with exit code 1 after its last "
        f"recorded operation (builtins.print at {project / 'script.py'}:4); replayed up to there\n")
