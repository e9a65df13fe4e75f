"""``python -m stratum bench``: tables, JSON, a self-contained HTML report, mismatches caught."""
import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

from stratum.cli.bench import expand, modes  # noqa: E402

SCRIPTS = {
    "a_pandas.py": """\
        import pandas as pd
        df = pd.DataFrame({"a": range(6), "b": list("xyzxyz")})
        print(df.groupby("b").a.sum().to_dict())
    """,
    "b_fails.py": """\
        import sys
        print("before the error")
        sys.stdout.flush()
        raise KeyError("no such column")
    """,
    "c_stderr.py": """\
        import sys, warnings
        print("a line on stderr", file=sys.stderr)
        warnings.warn("careful")
        print("done")
    """,
}
HAS_BATCH = importlib.util.find_spec("stratum.batch.job") is not None


def bench(args, cwd, tmp):
    env = difftest.build_env("stratum", tmp / "outer-cache")
    p = subprocess.run([sys.executable, "-m", "stratum", "bench", *args], cwd=cwd, env=env,
                       capture_output=True, timeout=600)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "work" / "scripts"
    d.mkdir(parents=True)
    for name, src in SCRIPTS.items():
        (d / name).write_text(textwrap.dedent(src))
    (d / "notes.txt").write_text("not a script\n")
    return d


def test_directory_expands_to_its_scripts_sorted(folder):
    assert expand([str(folder)]) == [str(folder / n) for n in sorted(SCRIPTS)]


def test_bench_folder_table_json_html(folder, tmp_path):
    cwd = folder.parent
    out_json, out_html = tmp_path / "b.json", tmp_path / "b.html"
    code, out, err = bench(["--repeat", "1", "--modes", "cold,rerun,batch", "--json",
                            str(out_json), "--html", str(out_html), "scripts"], cwd, tmp_path)
    assert code == 0, out + err
    # the scripts' own output is captured, not mixed into the report
    assert "before the error" not in out and "a line on stderr" not in out + err
    for mode in ("cold", "rerun"):
        assert re.search(rf"^{mode}: ", out, re.M), out
    for name in SCRIPTS:
        assert f"scripts/{name}" in out
    # progress off a terminal: a plain line per finished step on stderr, naming mode and script
    assert "\x1b" not in err and "\r" not in err
    assert not re.search(r"^stratum bench: \w+ \d+/\d+ ", out, re.M)  # stdout: the report only
    for k, name in enumerate(sorted(SCRIPTS), 1):
        assert re.search(rf"^stratum bench: cold {k}/3 scripts/{name} \(run 1/1\): "
                         rf"plain [0-9.]+s, stratum [0-9.]+s$", err, re.M), err
        assert f"stratum bench: rerun {2 * k - 1}/6 scripts/{name} (prime): " in err, err
        assert f"stratum bench: rerun {2 * k}/6 scripts/{name} (run 1/1): " in err, err
    if HAS_BATCH:
        assert re.search(r"^stratum bench: batch 1/1 all 3 scripts \(run 1/1\): plain [0-9.]+s, "
                         r"batch [0-9.]+s$", err, re.M), err
    assert "total (3 scripts)" in out and "MISMATCH" not in out
    if not HAS_BATCH:
        assert "batch mode unavailable" in out

    doc = json.loads(out_json.read_text())
    assert doc["repeat"] == 1 and doc["scripts"] == [f"scripts/{n}" for n in sorted(SCRIPTS)]
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["pandas"]
    by_mode = {m["mode"]: m for m in doc["modes"]}
    assert set(by_mode) == {"cold", "rerun", "batch"}
    for mode in ("cold", "rerun"):
        rows = {r["script"]: r for r in by_mode[mode]["scripts"]}
        assert len(rows) == 3 and by_mode[mode]["total"]["identical"]
        for r in rows.values():
            assert len(r["plain_runs"]) == len(r["stratum_runs"]) == 1
            assert r["identical"] and r["plain_s"] > 0 and r["stratum_s"] > 0
            assert r["speedup"] == pytest.approx(r["plain_s"] / r["stratum_s"])
        failing = rows["scripts/b_fails.py"]
        assert failing["exit_plain"] == failing["exit_stratum"] == 1
        pandas_row = rows["scripts/a_pandas.py"]
        assert pandas_row["trace"]["nodes"] > 0
        parts = pandas_row["breakdown"].values()
        assert sum(parts) == pytest.approx(pandas_row["stratum_runs"][-1])
    assert by_mode["batch"]["available"] == HAS_BATCH

    html = out_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 4
    # self-contained: no script, stylesheet, image or font fetched from anywhere
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"(src|href)=", html) and "url(" not in html and "http" not in html


def test_nondeterministic_script_is_a_mismatch(tmp_path):
    (tmp_path / "clock.py").write_text("import time\nprint(time.time())\n")
    (tmp_path / "steady.py").write_text("print('same every time')\n")
    out_json = tmp_path / "m.json"
    code, out, err = bench(["--repeat", "1", "--modes", "cold", "--json", str(out_json),
                            "clock.py", "steady.py"], tmp_path, tmp_path)
    assert code == 1, out + err
    assert "MISMATCH clock.py" in out and "MISMATCH steady.py" not in out
    assert "--- plain stdout" in out and "+++ stratum stdout" in out
    rows = {r["script"]: r for r in json.loads(out_json.read_text())["modes"][0]["scripts"]}
    assert not rows["clock.py"]["identical"] and rows["clock.py"]["mismatch_runs"] == ["0"]
    assert rows["clock.py"]["diff"].startswith("--- plain stdout")
    assert rows["steady.py"]["identical"] and rows["steady.py"]["diff"] == ""


def test_missing_script_is_a_usage_error(tmp_path):
    code, _, err = bench(["--repeat", "1", "nope.py"], tmp_path, tmp_path)
    assert code == 2 and "nope.py" in err


def test_batch_summary_contract(tmp_path):
    """The reader of ``stratum run --out DIR`` on a summary written by hand."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "0_a.stdout").write_bytes(b"hello\n")
    (out_dir / "0_a.stderr").write_bytes(b"")
    (out_dir / "1_b.stdout").write_bytes(b"")
    (out_dir / "1_b.stderr").write_bytes(b"Traceback\n")
    (out_dir / "summary.json").write_text(json.dumps([
        {"script": "a.py", "stdout": str(out_dir / "0_a.stdout"),
         "stderr": str(out_dir / "0_a.stderr"), "exit_code": 0, "seconds": 0.5, "reused": 3,
         "executed": 4},
        {"script": "b.py", "stdout": "1_b.stdout", "stderr": "1_b.stderr", "exit_code": 1,
         "seconds": 0.25, "reused": 0, "executed": 1},
    ]))
    entries = modes.read_summary(out_dir, tmp_path)
    assert [e["script"] for e in entries] == ["a.py", "b.py"]
    assert entries[0]["outcome"].shown() == (0, b"hello\n", b"")
    assert entries[1]["outcome"].shown() == (1, b"", b"Traceback\n")
    assert entries[1]["outcome"].seconds == 0.25 and entries[0]["reused"] == 3


@pytest.mark.skipif(not HAS_BATCH, reason="stratum.batch.job (python -m stratum run) not installed")
def test_bench_batch_mode_real(folder, tmp_path):
    out_json = tmp_path / "batch.json"
    code, out, err = bench(["--repeat", "1", "--modes", "batch", "--json", str(out_json),
                            "scripts"], folder.parent, tmp_path)
    assert code == 0, out + err
    res = json.loads(out_json.read_text())["modes"][0]
    assert res["available"] and "error" not in res
    assert [r["script"] for r in res["scripts"]] == [f"scripts/{n}" for n in sorted(SCRIPTS)]
    assert all(r["identical"] for r in res["scripts"]) and res["total"]["stratum_s"] > 0


def _result(names, exits=None):
    """A mode's result as ``modes`` makes it, with numbers of every width."""
    rows = []
    for k, name in enumerate(names):
        p, t = 10.0 ** (k % 4) + 0.123456, 0.5 + k
        rows.append({"script": name, "plain_s": p, "stratum_s": t, "speedup": p / t,
                     "exit_plain": 0, "exit_stratum": 0 if exits is None else exits[k],
                     "identical": True, "mismatch_runs": [], "diff": "",
                     "plain_deterministic": True, "trace": {"reused": 100 * k, "nodes": 999}})
    p, t = sum(r["plain_s"] for r in rows), sum(r["stratum_s"] for r in rows)
    return {"mode": "rerun", "available": True, "description": modes.DESCRIPTIONS["rerun"],
            "scripts": rows, "total": {"plain_s": p, "stratum_s": t, "speedup": p / t,
                                       "identical": True}}


@pytest.mark.parametrize("width", [80, 120])
def test_tables_fit_the_terminal(width):
    """At 80 and 120 columns: no header or cell cut to "…", every number and header shown."""
    import io

    from rich.console import Console

    from stratum.cli.bench import render

    names = ["scripts/clf_forest.py", "scripts/eda_groupby_agg.py", "b.py",
             "scripts/reg_ridge_alphas_with_a_rather_long_name.py"]
    res = _result(names, exits=[0, 0, 2, 0])
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    render.print_report(console, [res], 3)
    text = buf.getvalue()
    assert "…" not in text and "..." not in text, text
    assert max(len(line) for line in text.splitlines()) <= width
    for header in ("script", "plain s", "stratum s", "speed-up", "reused", "exit", "same"):
        assert header in text, (header, text)
    for r in res["scripts"]:
        for number in (f"{r['plain_s']:.3f}", f"{r['stratum_s']:.3f}", f"{r['speedup']:.2f}x",
                       f"{r['trace']['reused']}/999"):
            assert number in text, (number, text)
    assert "0 vs 2" in text
    # a long path folds onto more lines instead of being cut: the script column, read down,
    # holds every name whole
    column = "".join(line[1:].split("│" if "│" in line[1:] else "┃")[0].strip()
                     for line in text.splitlines() if line.startswith(("│", "┃")))
    for name in names:
        assert name in column, (name, text)
    assert "total (4 scripts)" in text or "total(4scripts)" in column


def test_narrow_terminal_drops_columns_with_a_note():
    import io

    from rich.console import Console

    from stratum.cli.bench import render

    buf = io.StringIO()
    Console(file=buf, width=56, color_system=None).print(
        render.mode_table(_result(["scripts/clf_forest.py", "b.py"]), 56))
    text = buf.getvalue()
    assert "…" not in text and "left out for width: exit, reused" in text
    assert "10.123" in text and "speed-up" in text


def test_off_a_terminal_the_report_has_its_natural_width():
    from stratum.cli.bench import render

    short = _result(["a.py"])
    assert render.report_width([short]) == render.PLAIN_WIDTH
    long = _result(["x" * 150 + ".py"])
    assert render.report_width([long]) > 150


def test_live_progress_line_names_mode_and_script():
    """On a terminal: one live line, ``cold 3/7 clf_forest.py ...``, erased at the end."""
    import io

    from rich.console import Console

    from stratum.cli.bench import progress

    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system=None)
    with progress.Live(console, total=9) as live:
        steps = progress.LiveSteps("cold", 7, live)
        for name in ("a.py", "b.py"):
            steps.begin(f"scripts/{name}", "run 1/1")
            steps.done("plain 0.10s, stratum 0.20s")
        steps.begin("scripts/clf_forest.py", "run 1/1")
        live.progress.refresh()
        shown = buf.getvalue()
    assert "cold 3/7 clf_forest.py run 1/1" in shown, shown
    assert "2/9" in shown  # steps done of all modes
    assert "\x1b[" in shown or "\r" in shown  # redrawn in place


def test_plain_progress_lines():
    import io

    from stratum.cli.bench import progress

    buf = io.StringIO()
    with progress.Reporter({"rerun": 2, "batch": 1}, stream=buf) as reporter:
        steps = reporter("rerun")
        steps.begin("scripts/a.py", "prime")
        steps.done("stratum 0.30s (cache primed)")
        steps.begin("scripts/a.py", "run 1/1")
        steps.done("plain 0.10s, stratum 0.20s")
        batch = reporter("batch")
        batch.begin("all 1 scripts", "run 1/1")
        batch.done("plain 0.10s, batch 0.20s")
    assert buf.getvalue().splitlines() == [
        "stratum bench: rerun 1/2 scripts/a.py (prime): stratum 0.30s (cache primed)",
        "stratum bench: rerun 2/2 scripts/a.py (run 1/1): plain 0.10s, stratum 0.20s",
        "stratum bench: batch 1/1 all 1 scripts (run 1/1): plain 0.10s, batch 0.20s"]
