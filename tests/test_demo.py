"""``python -m stratum demo``: the built-in example runs end to end, its outputs are identical,
``--keep`` leaves a folder that works on its own, and the options are checked."""
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

from stratum.cli import demo  # noqa: E402


def stratum(args, cwd, tmp_path, timeout=300):
    env = difftest.build_env("stratum", tmp_path / "user-cache")
    p = subprocess.run([sys.executable, "-m", "stratum", *args], cwd=cwd, env=env,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_help_describes_the_command(tmp_path):
    code, out, _ = stratum(["demo", "--help"], tmp_path, tmp_path)
    assert code == 0
    assert "usage: python -m stratum demo" in out
    assert "plain python and under stratum" in out and "--keep DIR" in out and "--rows N" in out
    code, out, _ = stratum(["--help"], tmp_path, tmp_path)
    assert code == 0 and "python -m stratum demo" in out


def test_usage_errors_are_one_line_exit_2(tmp_path):
    code, out, err = stratum(["demo", "--rows", "10"], tmp_path, tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1 and "--rows" in err
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("not the demo's\n")
    code, out, err = stratum(["demo", "--keep", str(full)], tmp_path, tmp_path)
    assert code == 2 and err.count("\n") == 1 and "not empty" in err
    assert (full / "mine.txt").read_text() == "not the demo's\n"  # left alone


def test_edits_are_the_baseline_with_one_named_change_each():
    texts = [e.script() for e in demo.EDITS]
    assert texts[0] == demo.BASELINE and len(set(texts)) == len(texts) >= 5
    for edit in demo.EDITS[1:]:
        assert edit.changes and edit.what
        assert "data/customers.csv" in edit.script()  # every edit shares the costly prefix


def test_demo_keep(tmp_path):
    keep = tmp_path / "kept"
    code, out, err = stratum(["demo", "--keep", str(keep), "--rows", "500"], tmp_path, tmp_path)
    assert code == 0, out + err
    # progress: one line per run naming the script; no control codes in a pipe
    assert "\x1b" not in out
    for e in demo.EDITS:
        assert re.search(rf"^  plain +python scripts/{e.name}\.py +\d+\.\d\d s$", out, re.M), out
    assert re.search(r"^  stratum +python -m stratum scripts/01_baseline\.py +\(re-run\)", out,
                     re.M)
    # the table: every step and the total, every output identical
    header = next(line for line in out.splitlines() if "plain s" in line)
    for col in ("step", "plain s", "stratum s", "speed-up", "identical"):
        assert col in header
    rows = [line for line in out.splitlines()
            if re.match(r"^│ (baseline|\d+ edits|total)", line)]
    assert [r.split("│")[1].strip() for r in rows] == \
        ["baseline, first run", "baseline, re-run", "4 edits, one batch", "total"], out
    for r in rows:
        cells = [c.strip() for c in r.strip("│").split("│")]
        assert cells[-1] == "yes" and re.fullmatch(r"\d+\.\d+x", cells[3]), r
    for e in demo.EDITS[1:]:  # each edit's own row, and what it changed
        row = rf"^│ +{e.name}\.py +│ +\d+\.\d\d │ +│ +│ +yes +│$"
        assert re.search(row, out, re.M), out
        assert f"scripts/{e.name}.py" in out and e.what in out
    assert "NO" not in out and "FAILED" not in out
    # where to look next names the demo's cache, so the commands work as printed
    cache = keep / "cache"
    assert f"STRATUM_CACHE_DIR={cache} python -m stratum trace merged --html graph.html" in out
    assert "python -m stratum bench" in out and "--explain" in out
    # the kept folder: scripts, data, a cache with the recorded runs
    for e in demo.EDITS:
        assert (keep / "scripts" / f"{e.name}.py").read_text() == e.script()
    assert (keep / "data" / "customers.csv").stat().st_size > 0
    assert (keep / "data" / "usage.csv").stat().st_size > 0
    db = sqlite3.connect(cache / "traces.db")
    try:
        scripts = [Path(s).name for (s,) in db.execute("SELECT script FROM runs")]
    finally:
        db.close()
    assert scripts.count("01_baseline.py") == 2 and len(scripts) == len(demo.EDITS) + 1
    assert list(cache.glob("objects/**/*")), "nothing was cached"
    # a kept script run plain prints what the demo said it printed
    plain = subprocess.run([sys.executable, "scripts/05_importances.py"], cwd=keep,
                           env=difftest.build_env("plain", None), capture_output=True,
                           timeout=120)
    assert plain.returncode == 0
    lines = plain.stdout.decode().splitlines()
    assert len(lines) == 2 and lines[0].startswith("ROC AUC")
    assert f"  scripts/05_importances.py    {lines[0]}\n" in out
    assert re.search(rf"^ +{re.escape(lines[1])}$", out, re.M)
    # the folder can be given again: the demo starts over in it (an empty cache first)
    assert (keep / demo.MARKER).is_file()


def test_a_differing_output_fails_the_demo_with_the_diff(tmp_path):
    import io

    from stratum.cli.bench.runs import Outcome

    out, err = io.StringIO(), io.StringIO()
    d = demo.Demo(tmp_path, 500, out=out, err=err)
    plain = Outcome(0, b"ROC AUC 0.7800\n", b"", 1.0)
    assert d.compare("scripts/01_baseline.py", plain, plain, "stratum")
    d.rows_out.append(demo.Row("baseline", 1.0, 0.5, True))
    assert not d.compare("scripts/01_baseline.py", plain,
                         Outcome(0, b"ROC AUC 0.7801\n", b"", 0.5), "stratum (re-run)")
    d.rows_out.append(demo.Row("baseline again", 1.0, 0.5, False))
    assert d.finish([]) == 1
    assert re.search(r"│ baseline again .*│ +NO +│", out.getvalue())
    assert "exactly what plain python printed" not in out.getvalue()
    text = err.getvalue()
    assert "-ROC AUC 0.7800" in text and "+ROC AUC 0.7801" in text
    assert "FAILED" in text and "bug in stratum" in text


def test_keep_folder_of_an_earlier_demo_starts_over(tmp_path):
    old = tmp_path / "old"
    (old / "cache").mkdir(parents=True)
    (old / "cache" / "traces.db").write_text("an earlier demo's runs")
    (old / "graph.html").write_text("the user's")
    assert isinstance(demo.keep_folder(str(old)), str)  # not a demo's folder: refused
    (old / demo.MARKER).write_text("")
    assert demo.keep_folder(str(old)) == old
    assert not (old / "cache").exists()  # the first run is cold again
    assert (old / "graph.html").read_text() == "the user's"
    assert demo.keep_folder(str(tmp_path / "new" / "sub")) == tmp_path / "new" / "sub"
