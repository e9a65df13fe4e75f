"""A batch's shared part (``stratum.batch.shared``): work several scripts need, computed once by a
shared process on the executor, through the engine, then hit by every script.

A batch of three scripts sharing the data load and the feature engineering is recorded, then
run again with the cache objects deleted (traces kept) or with the data file rewritten. Every
script's output must equal its plain run byte for byte; the shared nodes must be computed once
(by the shared process) and hit by every script; a shared process that fails or crashes must
leave every output exact.
"""
import json
import pickle
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

SCRIPT = """\
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data.csv")
df["ab"] = df["a"] * df["b"]
df["a2"] = df["a"] ** 2
df["la"] = np.log(df["a"] + 0.5)
df["grp"] = df.groupby("cat")["a"].transform("mean")
X = df[["a", "b", "ab", "a2", "grp"]].to_numpy()
y = df["y"].to_numpy()
Xs = StandardScaler().fit_transform(X)
scores = cross_val_score(Ridge(alpha={alpha}), Xs, y, cv=3)
lr = LogisticRegression(max_iter=2).fit(Xs, y > 0)
print("{name}", round(float(scores.mean()), 6), len(df), round(float(lr.coef_.sum()), 6))
"""
OTHER = """\
import numpy as np

print("other", int(np.arange(10).sum()))
"""
SHARING = ["s1.py", "s2.py", "s3.py"]
SCRIPTS = [*SHARING, "other.py"]  # other.py shares nothing: it never waits


def write_data(path: Path, seed: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = 30000
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                       "cat": rng.choice(list("xyz"), n)})
    df["y"] = df.a * (2 + seed) - df.b + rng.normal(size=n) * 0.3
    df.to_csv(path, index=False)


plain = difftest.plain_result


def batch(work: Path, cache: Path, out: Path, *args, shared: str | None = None):
    env = difftest.build_env("stratum", cache)
    env.pop("STRATUM_BATCH_SHARED", None)
    if shared is not None:
        env["STRATUM_BATCH_SHARED"] = shared
    if out.exists():
        shutil.rmtree(out)
    p = subprocess.run([sys.executable, "-m", "stratum", "run", "--out", str(out), *args,
                        *SCRIPTS], cwd=work, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=600)
    rows = json.loads((out / "summary.json").read_text())
    for r in rows:
        r["got"] = (r["exit_code"], Path(r["stdout"]).read_bytes(), Path(r["stderr"]).read_bytes())
    report = out / "shared.json"
    return p, rows, json.loads(report.read_text()) if report.exists() else None


def run_nodes(cache: Path, run_id: int) -> list[dict]:
    db = sqlite3.connect(cache / "traces.db")
    try:
        cur = db.execute("SELECT key, op, reused, parent FROM nodes WHERE run_id=?", (run_id,))
        return [dict(zip(("key", "op", "reused", "parent"), row)) for row in cur]
    finally:
        db.close()


@pytest.fixture()
def recorded(tmp_path):
    """A work dir whose batch has been recorded once (history in traces.db)."""
    work = tmp_path / "work"
    work.mkdir()
    write_data(work / "data.csv", 0)
    for i, name in enumerate(SHARING):
        (work / name).write_text(SCRIPT.format(alpha=float(i + 1), name=name))
    (work / "other.py").write_text(OTHER)
    cache = tmp_path / "cache"
    p, rows, _ = batch(work, cache, tmp_path / "out0", "--jobs", "2")
    assert p.returncode == 0, p.stderr
    return work, cache


def drop_objects(cache: Path) -> None:
    shutil.rmtree(cache / "objects", ignore_errors=True)


def check_exact(work, rows, explain=False):
    for r in rows:
        want = plain(work, r["script"])
        if explain:  # --explain: each script's stderr ends with stratum's report
            assert r["got"][:2] == want[:2], r["script"]
            assert r["got"][2].startswith(want[2]), r["script"]
        else:
            assert r["got"] == want, r["script"]


def check_once_and_hit(cache, rows, report):
    stored = {n["key"] for n in report["nodes"] if n["target"] and n["status"] == "stored"}
    assert stored, report
    for n in report["nodes"]:
        assert n["status"] in ("stored", "ran", "hit"), n
    for r in rows:  # every sharing script hit every shared node the shared process stored
        if r["script"] not in SHARING:
            continue
        nodes = [n for n in run_nodes(cache, r["run_id"]) if n["parent"] is None]
        mine = {n["key"]: n["reused"] for n in nodes if n["key"] in stored}
        assert set(mine) == stored, (r["script"], mine)
        assert all(mine.values()), (r["script"], mine)


def test_cold_cache_shared_part_computed_once_and_hit(recorded, tmp_path):
    work, cache = recorded
    drop_objects(cache)
    p, rows, report = batch(work, cache, tmp_path / "out", "--jobs", "2", "--explain")
    assert p.returncode == 0, p.stderr
    check_exact(work, rows, explain=True)
    assert report is not None, p.stderr
    assert sorted(report["waiting"]) == SHARING  # other.py started at once
    ops = {n["op"] for n in report["nodes"] if n["target"]}
    assert "pandas.read_csv" in ops, ops
    assert all(n["key"] == n["recorded_key"] for n in report["nodes"])
    # A value whose computation warned (ConvergenceWarning) is left to the scripts. (It is a
    # target only if the recording found it worth caching: admission depends on its cost.)
    for fit in [n for n in report["nodes"] if n["op"].endswith("LogisticRegression.fit")]:
        assert fit["status"] == "ran" and "warning" in fit["reason"], fit
    check_once_and_hit(cache, rows, report)
    assert b"shared part on the executor" in p.stderr


def test_data_file_changed(recorded, tmp_path):
    work, cache = recorded
    write_data(work / "data.csv", 1)
    p, rows, report = batch(work, cache, tmp_path / "out", "--jobs", "2")
    assert p.returncode == 0, p.stderr
    check_exact(work, rows)
    assert report is not None and report["stale_sources"], p.stderr
    assert report["key_map"]  # recorded keys -> the new data's keys
    check_once_and_hit(cache, rows, report)


def test_jobs_1_and_2_same_outputs(recorded, tmp_path):
    work, cache = recorded
    got = []
    for jobs in ("1", "2"):
        drop_objects(cache)
        p, rows, report = batch(work, cache, tmp_path / f"out{jobs}", "--jobs", jobs)
        assert p.returncode == 0 and report is not None, p.stderr
        assert report["jobs"] == int(jobs)
        got.append([r["got"] for r in rows])
    assert got[0] == got[1]
    check_exact(work, rows)


def test_crashed_shared_process_leaves_outputs_exact(recorded, tmp_path):
    work, cache = recorded
    drop_objects(cache)
    p, rows, report = batch(work, cache, tmp_path / "out", "--jobs", "2", shared="crash")
    assert p.returncode == 0, p.stderr
    check_exact(work, rows)
    assert report is None
    assert b"the batch's shared part failed" in p.stderr, p.stderr


def test_missing_recipe_target_leaves_outputs_exact(recorded, tmp_path):
    """Recipes naming a callable that no longer exists: those nodes are skipped (and what
    depends on them cancelled); the scripts compute them."""
    work, cache = recorded
    drop_objects(cache)
    db = sqlite3.connect(cache / "traces.db")
    rows = db.execute("SELECT rowid, recipe FROM nodes WHERE op='pandas.read_csv'").fetchall()
    for rowid, blob in rows:
        recipe = pickle.loads(blob)
        recipe = (("fn", "pandas", "no_such_reader"), *recipe[1:])
        db.execute("UPDATE nodes SET recipe=? WHERE rowid=?", (pickle.dumps(recipe), rowid))
    db.commit()
    db.close()
    p, rows, report = batch(work, cache, tmp_path / "out", "--jobs", "2")
    assert p.returncode == 0, p.stderr
    check_exact(work, rows)
    assert report is not None
    first = report["nodes"][0]
    assert first["op"] == "pandas.read_csv" and first["status"] == "skipped", first
    assert not any(n["status"] in ("stored", "hit") for n in report["nodes"]), report["nodes"]
    for r in rows[:3]:  # nothing was shared: each script ran its own read
        nodes = run_nodes(cache, r["run_id"])
        assert any(n["op"] == "pandas.read_csv" for n in nodes)


def test_turned_off(recorded, tmp_path):
    work, cache = recorded
    drop_objects(cache)
    p, rows, report = batch(work, cache, tmp_path / "out", "--jobs", "2", shared="0")
    assert p.returncode == 0, p.stderr
    assert report is None
    check_exact(work, rows)


def test_order_changes_and_cycles():
    """An in-place change runs after the other readers of what it changes; a constraint that
    would make a cycle is dropped, never the data edges."""
    from stratum.batch import shared as bs

    def item(op, refs, recipe=None):
        return bs.Item(op, "s.py:1", op, recipe or (("fn", "m", op), (), (),
                                                     ("pure", None, op, None)), refs)

    load = item("load", {})
    read = item("read", {"k_load": (0, "res")},
                (("fn", "m", "read"), (("r", "k_load"),), (), ("pure", None, "read", None)))
    change = item("set", {"k_load": (0, "res")},
                  (("fn", "operator", "setitem"), (("r", "k_load"), ("c", "x"), ("c", 1)), (),
                   ("mutates", 0, "set", None)))
    items = [load, change, read]
    bs._order_changes(items)
    assert change.after == {2}
    ordered = bs._topological(items)
    assert [it.op for it in ordered] == ["load", "read", "set"]
    assert ordered[2].after == {1}
    # A cycle through an ordering constraint: the constraint goes, the data edges stay.
    a = item("a", {})
    b = item("b", {"k_a": (0, "res")})
    a.after = {1}
    assert [it.op for it in bs._topological([a, b])] == ["a", "b"]
