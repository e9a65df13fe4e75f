"""The batch's dry run on a data sample (``stratum/batch/dryrun.py``).

Scripts never seen before are dry-run on the first rows of their data, with their effects
suppressed, to predict what they share. Checked here: the prediction finds the sharing, the dry
run writes, deletes, prints and spawns nothing, a dry run that never ends is killed at its
budget, outputs stay byte-identical to plain runs, and the trace store records no dry run.

The scripts take a branch only on sampled data (``len(df) < 2000`` on a 3,000-row CSV), so
what that branch does happens in the dry run or not at all.
"""
import json
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

ROWS = 3000

SHARED = """\
import pandas as pd
from sklearn.linear_model import Ridge

df = pd.read_csv("data.csv")
df["c"] = df["a"] * df["b"]
df["d"] = df["c"].abs() + df["a"]
model = Ridge(alpha={alpha}).fit(df[["a", "b", "c", "d"]], df["y"])
print(len(df), [round(float(v), 6) for v in model.coef_])
"""

ONLY_ON_SAMPLE = """\
import os
import subprocess
import pandas as pd

df = pd.read_csv("data.csv")
total = float(df["a"].sum())
if len(df) < 2000:  # only in the dry run
{body}
print(len(df), round(total, 6))
"""

EFFECTS = {
    "writes.py": 'open("dry_written.txt", "w").write("x")',
    "deletes.py": 'os.remove("keep.txt")',
    "renames.py": 'os.rename("keep.txt", "moved.txt")',
    "spawns.py": 'subprocess.run(["sh", "-c", "echo x > spawned.txt"])',
    "system.py": 'os.system("echo x > system.txt")',
    "sink.py": 'df.to_csv("dry_sink.csv")',
    "prints.py": 'print("DRY RUN OUTPUT"); import sys; sys.stderr.write("DRY ERR\\n")',
}
FOREVER = """\
import pandas as pd

df = pd.read_csv("data.csv")
n = len(df)
while n < 2000:  # forever, on the sample only
    pass
print(n, float(df["b"].max()))
"""


@pytest.fixture()
def work(tmp_path):
    w = tmp_path / "work"
    w.mkdir()
    lines = ["a,b,y"] + [f"{(i * 37) % 101 / 10:.1f},{(i * 53) % 97 / 7:.3f},{i % 13}"
                         for i in range(ROWS)]
    (w / "data.csv").write_text("\n".join(lines) + "\n")
    (w / "keep.txt").write_text("keep me\n")
    return w


plain = difftest.plain_result


def batch(workdir: Path, cache: Path, *args, env_extra=None):
    return difftest.run_batch(workdir, cache, *args,
                              env={"STRATUM_DRYRUN": "1", **(env_extra or {})})  # off by default


def rows_of(out: Path) -> list[dict]:
    rows = json.loads((out / "summary.json").read_text())
    for r in rows:
        r["got"] = (r["exit_code"], Path(r["stdout"]).read_bytes(), Path(r["stderr"]).read_bytes())
    return rows


def runs_in(cache: Path) -> list[tuple]:
    db = sqlite3.connect(cache / "traces.db")
    try:
        runs = db.execute("SELECT id, script FROM runs").fetchall()
        ops = [r[0] for r in db.execute("SELECT op FROM nodes").fetchall()]
    finally:
        db.close()
    return runs, ops


def test_dry_run_predicts_sharing(work, tmp_path):
    scripts = []
    for i, alpha in enumerate((1.0, 3.0)):
        (work / f"s{i}.py").write_text(SHARED.format(alpha=alpha))
        scripts.append(f"s{i}.py")
    out, cache = tmp_path / "out", tmp_path / "cache"
    code, _, stderr = batch(work, cache, "--jobs", "2", "--explain", "--out", str(out), *scripts)
    assert code == 0, stderr
    rows = rows_of(out)
    for r in rows:  # --explain adds its report to stderr
        assert r["got"][:2] == plain(work, r["script"])[:2]
        basis = r["prediction"]
        assert basis.startswith("dry run on 1000 rows: "), basis
        # read_csv, the two features, the column selection: shared by both scripts
        shared = int(basis.rsplit(", ", 1)[1].split()[0])
        assert shared >= 3, basis
    assert b"dry run of 2 never-seen scripts" in stderr and b"predicted from" in stderr
    runs, ops = runs_in(cache)
    assert len(runs) == 2  # the workers' runs, none of the dry runs
    assert not [op for op in ops if "@sample" in op]


def test_effects_suppressed_in_dry_run(work, tmp_path):
    scripts = []
    for name, body in EFFECTS.items():
        (work / name).write_text(ONLY_ON_SAMPLE.format(body=textwrap.indent(body, "    ")))
        scripts.append(name)
    before = sorted(p.name for p in work.iterdir())
    out, cache = tmp_path / "out", tmp_path / "cache"
    code, stdout, stderr = batch(work, cache, "--jobs", "2", "--out", str(out), *scripts)
    assert code == 0, stderr
    assert sorted(p.name for p in work.iterdir() if p.name != "__pycache__") == before
    assert (work / "keep.txt").read_text() == "keep me\n"
    assert b"DRY" not in stdout and b"DRY" not in stderr
    rows = rows_of(out)
    for r in rows:
        assert r["got"] == plain(work, r["script"]), r["script"]
        assert r["got"][0] == 0 and b"DRY" not in r["got"][1] + r["got"][2]
        if r["script"] != "prints.py":
            assert ", stopped at " in r["prediction"], r
    stops = {r["script"]: r["prediction"] for r in rows}
    assert "stopped at subprocess.Popen" in stops["spawns.py"]
    assert "stopped at os.system" in stops["system.py"]
    assert "stopped at os.remove" in stops["deletes.py"]
    runs, ops = runs_in(cache)
    assert sorted(s for _, s in runs) == sorted(str(work / s) for s in scripts)
    assert not [op for op in ops if "@sample" in op]


def test_endless_dry_run_is_killed(work, tmp_path):
    (work / "forever.py").write_text(FOREVER)
    (work / "s0.py").write_text(SHARED.format(alpha=2.0))
    out = tmp_path / "out"
    code, _, stderr = batch(work, tmp_path / "cache", "--jobs", "2", "--out", str(out),
                            "forever.py", "s0.py", env_extra={"STRATUM_DRYRUN_SECONDS": "1"})
    assert code == 0, stderr
    rows = rows_of(out)
    assert "killed after 1s" in rows[0]["prediction"]
    assert rows[1]["prediction"].startswith("dry run on 1000 rows: ")
    for r in rows:
        assert r["got"] == plain(work, r["script"]), r["script"]


def test_dry_run_is_off_by_default_and_on_with_the_flag(work, tmp_path):
    for i in range(2):
        (work / f"s{i}.py").write_text(SHARED.format(alpha=i + 1))
    predictions = []
    for args in ([], ["--dry-run"]):
        out = tmp_path / f"out{len(args)}"
        code, _, stderr = batch(work, tmp_path / f"cache{len(args)}", "--jobs", "2", *args,
                                "--out", str(out), "s0.py", "s1.py",
                                env_extra={"STRATUM_DRYRUN": ""})
        assert code == 0, stderr
        predictions.append([r["prediction"] for r in rows_of(out)])
    assert predictions[0] == [None, None]
    assert all(p and p.startswith("dry run on 1000 rows: ") for p in predictions[1])


@pytest.mark.parametrize("how", ["flag", "env"])
def test_dry_run_off(work, tmp_path, how):
    for i in range(2):
        (work / f"s{i}.py").write_text(SHARED.format(alpha=i + 1))
    out = tmp_path / "out"
    args = ["--no-dry-run"] if how == "flag" else []
    env = {"STRATUM_DRYRUN": "0"} if how == "env" else {}
    code, _, stderr = batch(work, tmp_path / "cache", "--jobs", "2", *args, "--out", str(out),
                            "s0.py", "s1.py", env_extra=env)
    assert code == 0, stderr
    rows = rows_of(out)
    assert [r["prediction"] for r in rows] == [None, None]
    assert b"dry run" not in stderr
    for r in rows:
        assert r["got"] == plain(work, r["script"])


def test_corpus_with_dry_run_matches_plain(tmp_path):
    """Corpus scripts (reading the corpus data) with the dry run on: byte-identical outputs."""
    import shutil

    work = tmp_path / "w"
    work.mkdir()
    scripts = ["clf_logreg_baseline.py", "eda_groupby_agg.py", "fail_value_error.py",
               "io_stderr_warnings.py", "fe_helpers_module.py", "misc_atexit_exception.py"]
    for name in scripts:
        shutil.copy2(difftest.CORPUS_DIR / name, work / name)
    for helper in difftest.helper_modules(difftest.CORPUS_DIR):
        shutil.copy2(helper, work / helper.name)
    shutil.copytree(difftest.default_data_dir(), work / "data", copy_function=shutil.copy2)
    before = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    want = {s: plain(work, s) for s in scripts}
    for p in work.rglob("__pycache__"):  # the plain runs' bytecode
        shutil.rmtree(p)
    out = tmp_path / "out"
    batch(work, tmp_path / "cache", "--jobs", "2", "--out", str(out), *scripts)
    rows = rows_of(out)
    assert any((r["prediction"] or "").startswith("dry run") for r in rows)
    for r in rows:
        assert r["got"] == want[r["script"]], r["script"]
    after = sorted(str(p.relative_to(work)) for p in work.rglob("*") if "__pycache__" not in
                   str(p))
    assert after == [b for b in before if "__pycache__" not in b]
