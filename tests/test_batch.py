"""``python -m stratum run``: a batch gives each script exactly what ``python script.py`` gives.

Batches of corpus scripts (and a few written here) run in one work dir; each script's stdout,
stderr and exit code are compared byte for byte with plain sequential ``python script.py`` runs
from the same directory (stdin /dev/null, as in a batch). Traces are read to check that work
shared by two scripts is computed once.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

from stratum.batch import plan as batch_plan

CORPUS = ["clf_logreg_baseline.py", "eda_groupby_agg.py", "fail_value_error.py",
          "fail_sys_exit.py", "fail_syntax.py", "misc_os_exit.py", "misc_atexit_exception.py",
          "io_stderr_warnings.py", "fe_helpers_module.py", "misc_keyboard_interrupt.py",
          "reg_ridge_alphas.py", "clf_convergence_warning.py"]

SEGFAULT = "import ctypes\nprint('before the crash', flush=True)\nctypes.string_at(0)\n"


plain = difftest.plain_result


def batch(workdir: Path, cache: Path, *args, env_extra=None):
    return difftest.run_batch(workdir, cache, *args, env=env_extra)


def outputs(out_dir: Path) -> list[dict]:
    rows = json.loads((out_dir / "summary.json").read_text())
    for r in rows:
        r["out_bytes"] = Path(r["stdout"]).read_bytes()
        r["err_bytes"] = Path(r["stderr"]).read_bytes()
    return rows


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """One work dir: the chosen corpus scripts, their helper modules, the data, a segfault."""
    work = tmp_path_factory.mktemp("batch") / "work"
    work.mkdir()
    for name in CORPUS:
        shutil.copy2(difftest.CORPUS_DIR / name, work / name)
    for helper in difftest.helper_modules(difftest.CORPUS_DIR):
        shutil.copy2(helper, work / helper.name)
    shutil.copytree(difftest.default_data_dir(), work / "data", copy_function=shutil.copy2)
    (work / "crash_segv.py").write_text(SEGFAULT)
    return work


@pytest.fixture(scope="module")
def plain_results(corpus_dir):
    return {s: plain(corpus_dir, s) for s in [*CORPUS, "crash_segv.py"]}


def test_corpus_batch_matches_plain_runs(corpus_dir, plain_results, tmp_path):
    scripts = [*CORPUS, "crash_segv.py"]
    out = tmp_path / "out"
    code, stdout, stderr = batch(corpus_dir, tmp_path / "cache", "--jobs", "2", "--out", str(out),
                                 *scripts)
    rows = outputs(out)
    assert [r["script"] for r in rows] == scripts
    for r in rows:
        want = plain_results[r["script"]]
        assert (r["exit_code"], r["out_bytes"], r["err_bytes"]) == want, r["script"]
    assert code == 1  # some scripts fail on purpose
    assert stdout == b""  # with --out, nothing of the scripts on the batch's own stdout
    assert b"crash_segv.py" in stderr and b"killed by SIGSEGV" in stderr  # the summary table
    # a warm second batch (everything cached) prints the same
    assert batch(corpus_dir, tmp_path / "cache", "--out", str(out), *scripts)[0] == 1
    for r in outputs(out):
        assert (r["exit_code"], r["out_bytes"], r["err_bytes"]) == plain_results[r["script"]]


# Seen to differ twice under heavy load before 2026-11-24; the one cause found that only --jobs 2
# can trigger (a busy cache index printing a line on a script's stderr) is fixed, and the test
# is a hard failure again: a mismatch names the script, the stream and the bytes.
def test_jobs_1_and_2_identical(corpus_dir, tmp_path):
    scripts = ["fail_value_error.py", "eda_groupby_agg.py", "misc_os_exit.py",
               "clf_logreg_baseline.py", "crash_segv.py"]
    got, fronts = [], []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        fronts.append(batch(corpus_dir, tmp_path / f"cache{jobs}", "--jobs", jobs, "--out",
                            str(out), *scripts)[2])
        got.append([(r["exit_code"], r["out_bytes"], r["err_bytes"]) for r in outputs(out)])
    if got[0] != got[1]:
        detail = difftest.describe_differences(scripts, got[0], got[1]) + "".join(
            f"\nstderr of the batch with --jobs {j}:\n" + e.decode("utf-8", "backslashreplace")
            for j, e in zip("12", fronts))
        pytest.fail(detail)


def test_out_files_and_summary(corpus_dir, tmp_path):
    out = tmp_path / "o"
    scripts = ["eda_groupby_agg.py", "fail_sys_exit.py"]
    code, stdout, _ = batch(corpus_dir, tmp_path / "cache", "--out", str(out), *scripts)
    assert code == 1 and stdout == b""
    rows = json.loads((out / "summary.json").read_text())
    assert [Path(r["stdout"]).name for r in rows] == ["1_eda_groupby_agg.stdout",
                                                     "2_fail_sys_exit.stdout"]
    assert [Path(r["stderr"]).name for r in rows] == ["1_eda_groupby_agg.stderr",
                                                     "2_fail_sys_exit.stderr"]
    for r in rows:
        assert {"script", "stdout", "stderr", "exit_code", "seconds", "reused", "executed",
                "run_id"} <= set(r)
        assert Path(r["stdout"]).parent == out
        assert isinstance(r["seconds"], float) and r["seconds"] > 0
        env = difftest.build_env("stratum", tmp_path / "cache")
        shown = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", str(r["run_id"]),
                                "--json"], cwd=corpus_dir, env=env, capture_output=True)
        trace = json.loads(shown.stdout)
        assert trace["run"]["script"] == str(corpus_dir / r["script"])
        assert trace["run"]["exit_code"] == r["exit_code"]
        nodes = trace["nodes"]
        assert r["reused"] == sum(n["reused"] for n in nodes)
        assert r["executed"] == len(nodes) - r["reused"]
    assert rows[0]["executed"] > 0 and rows[1]["exit_code"] == plain(corpus_dir,
                                                                     scripts[1])[0]


def test_a_folder_of_scripts(tmp_path):
    """``run DIR``: its scripts in sorted order, not the helper module one of them imports."""
    folder = tmp_path / "agent"
    folder.mkdir()
    (folder / "helpers.py").write_text("def double(s):\n    return s * 2\n")
    (folder / "b_uses_helper.py").write_text(
        "import pandas as pd\nfrom helpers import double\n"
        "print(double(pd.Series([1, 2, 3])).sum())\n")
    (folder / "a_plain.py").write_text("import numpy as np\nprint(np.arange(4).sum())\n")
    (folder / "notes.txt").write_text("not a script\n")
    out = tmp_path / "o"
    code, _, stderr = batch(tmp_path, tmp_path / "cache", "--out", str(out), "agent")
    assert code == 0, stderr
    rows = outputs(out)
    assert [r["script"] for r in rows] == [os.path.join("agent", "a_plain.py"),
                                          os.path.join("agent", "b_uses_helper.py")]
    for r in rows:
        assert (r["exit_code"], r["out_bytes"], r["err_bytes"]) == plain(tmp_path, r["script"])
    (tmp_path / "empty_dir").mkdir()
    code, _, stderr = batch(tmp_path, tmp_path / "cache", "--out", str(out), "empty_dir")
    assert code == 2 and b"no scripts" in stderr


def test_printed_outputs_in_given_order(corpus_dir, tmp_path):
    """Without --out: a header per script, its stdout on stdout and its stderr on stderr."""
    import re

    scripts = ["fail_value_error.py", "eda_groupby_agg.py"]
    code, stdout, stderr = batch(corpus_dir, tmp_path / "cache", "--jobs", "2", *scripts)
    assert code == 1
    want_out, want_err = b"", b""
    for k, s in enumerate(scripts):
        rc, out, err = plain(corpus_dir, s)
        want_out += (b"\n" if k else b"") + f"==> {s} (exit {rc}, TIME) <==\n".encode() + out
        want_err += err
    assert re.sub(rb", [0-9]+\.[0-9]{2}s\) <==", b", TIME) <==", stdout) == want_out
    # stderr (not a terminal): a progress line per script as it finished, then the scripts'
    # stderr in the order given, then the summary table
    progress = re.match(rb"(stratum run: \[[12]/2\] [^\n]*\n){2}", stderr)
    assert progress, stderr
    rest = stderr[progress.end():]
    assert rest.startswith(want_err)
    assert b"stratum run: 2 scripts" in rest[len(want_err):]


def test_progress_lines_off_a_terminal(tmp_path):
    """Off a terminal a line per script as it finishes (name, exit, seconds, reuse), flushed on
    stderr, no control codes; stdout stays the scripts' own; a rerun says what it reused."""
    import re

    work = tmp_path / "w"
    work.mkdir()
    (work / "a_fit.py").write_text(  # a fit long enough to be worth caching
        "import numpy as np\nfrom sklearn.ensemble import RandomForestRegressor\n"
        "X = np.random.default_rng(0).normal(size=(2000, 4))\n"
        "m = RandomForestRegressor(n_estimators=30, random_state=0).fit(X, X.sum(axis=1))\n"
        "print(round(float(m.predict(X[:3]).sum()), 6))\n")
    (work / "b_exit.py").write_text("print('bye')\nraise SystemExit(3)\n")
    out = tmp_path / "o"
    for attempt in ("cold", "warm"):
        code, stdout, stderr = batch(work, tmp_path / "cache", "--out", str(out), "a_fit.py",
                                     "b_exit.py")
        assert code == 1 and stdout == b"", stderr
        assert b"\x1b" not in stderr and b"\r" not in stderr
        lines = re.findall(rb"^stratum run: \[([12])/2\] (\S+): (exit \d+), [0-9.]+s(.*)$",
                           stderr, re.M)
        assert sorted(n for n, *_ in lines) == [b"1", b"2"], stderr
        got = {name: (status, tail) for _, name, status, tail in lines}
        assert set(got) == {b"a_fit.py", b"b_exit.py"}
        assert got[b"b_exit.py"][0] == b"exit 3"
        status, tail = got[b"a_fit.py"]
        reused, total = map(int, re.fullmatch(rb", (\d+)/(\d+) operations reused", tail).groups())
        assert status == b"exit 0" and total > 0
        assert (reused == 0) if attempt == "cold" else (reused > 0)


SHARED = """\
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

df = pd.read_csv("shared.csv")
X, y = df[["a", "b", "c"]], df["y"]
model = RandomForestRegressor(n_estimators=60, random_state=0).fit(X, y)
print({tail!r}, round(float(model.predict(X[:5]).sum()), 6))
"""


def _shared_dir(tmp_path: Path) -> Path:
    import numpy as np
    import pandas as pd

    work = tmp_path / "shared"
    work.mkdir()
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(4000, 3)), columns=["a", "b", "c"])
    df["y"] = df.a * 2 + df.b - df.c + rng.normal(size=4000)
    df.to_csv(work / "shared.csv", index=False)
    (work / "one.py").write_text(SHARED.format(tail="one"))
    (work / "two.py").write_text(SHARED.format(tail="two") + "print(len(df))\n")
    return work


def test_shared_node_computed_once(tmp_path):
    work = _shared_dir(tmp_path)
    out = tmp_path / "out"
    code, _, err = batch(work, tmp_path / "cache", "--jobs", "2", "--out", str(out),
                         "one.py", "two.py")
    assert code == 0, err
    rows = outputs(out)
    for r in rows:
        assert (r["exit_code"], r["out_bytes"], r["err_bytes"]) == plain(work, r["script"])
    env = difftest.build_env("stratum", tmp_path / "cache")
    fits = {}
    for r in rows:
        shown = subprocess.run([sys.executable, "-m", "stratum", "trace", "show",
                                str(r["run_id"]), "--json"], cwd=work, env=env,
                               capture_output=True, check=True)
        for n in json.loads(shown.stdout)["nodes"]:
            if n["op"].endswith("RandomForestRegressor.fit"):
                fits.setdefault(n["key"], []).append(n["reused"])
    assert len(fits) == 1, fits  # the same fit (same key) in both scripts
    (flags,) = fits.values()
    assert sorted(flags) == [False, True]  # executed once, reused (waited for) once


NOISY_INIT = """\
import sys, warnings
print("noisylib: imported")
sys.stderr.write("noisylib: on stderr\\n")
warnings.warn("noisylib is old", FutureWarning)
VALUE = 7
"""


def test_noisy_library_import_is_not_hidden(tmp_path):
    """A library that prints / warns at import: each script shows it where plain python does,
    and the batch's own output never does."""
    site = tmp_path / "lib" / "site-packages"
    (site / "noisylib").mkdir(parents=True)
    (site / "noisylib" / "__init__.py").write_text(NOISY_INIT)
    (site / "quietlib").mkdir()
    (site / "quietlib" / "__init__.py").write_text("VALUE = 3\n")
    work = tmp_path / "w"
    work.mkdir()
    (work / "n1.py").write_text("import quietlib\nimport noisylib\nprint(noisylib.VALUE)\n")
    (work / "n2.py").write_text("import numpy\nimport noisylib\nimport quietlib\n"
                                "print(quietlib.VALUE + noisylib.VALUE)\n")
    (work / "n3.py").write_text("import quietlib\nprint(quietlib.VALUE)\n")
    extra = {"PYTHONPATH": os.pathsep.join([str(difftest.stratum_home()), str(site)])}
    out = tmp_path / "out"
    code, stdout, stderr = batch(work, tmp_path / "cache", "--out", str(out), "n1.py", "n2.py",
                                 "n3.py", env_extra=extra)
    assert code == 0
    assert b"noisylib" not in stdout and b"noisylib" not in stderr
    env = difftest.build_env("plain", None)
    env.update(extra)
    for r in outputs(out):
        p = subprocess.run([sys.executable, r["script"]], cwd=work, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True)
        assert (r["exit_code"], r["out_bytes"], r["err_bytes"]) == \
            (p.returncode, p.stdout, p.stderr), r["script"]
    assert b"quietlib" in stderr  # imported once by the warm parent (table caption)


C_NOISY_INIT = """\
import ctypes
ctypes.CDLL(None).printf(b"cnoisy: C-level write left in libc's buffer\\n")
VALUE = 5
"""


def test_c_level_buffered_import_output_stays_with_its_script(tmp_path):
    """A library whose import ``printf``s into libc's (unflushed) stdio buffer is noisy: were
    it preloaded, every fork would copy the buffer and every worker's exit would write it into
    scripts that never imported the library."""
    site = tmp_path / "lib" / "site-packages"
    (site / "cnoisy").mkdir(parents=True)
    (site / "cnoisy" / "__init__.py").write_text(C_NOISY_INIT)
    work = tmp_path / "w"
    work.mkdir()
    (work / "c1.py").write_text("import cnoisy\nimport os\nprint(cnoisy.VALUE, flush=True)\n"
                                "os._exit(0)\n")
    (work / "c2.py").write_text("import cnoisy\nimport json\nprint(json.dumps(2))\n")
    (work / "c3.py").write_text("import json\nprint(json.dumps(3))\n")
    extra = {"PYTHONPATH": os.pathsep.join([str(difftest.stratum_home()), str(site)])}
    out = tmp_path / "out"
    code, _, stderr = batch(work, tmp_path / "cache", "--out", str(out), "c1.py", "c2.py",
                            "c3.py", env_extra=extra)
    assert code == 0, stderr
    assert b"cnoisy" not in stderr  # not preloaded: each script imports it itself
    env = difftest.build_env("plain", None)
    env.update(extra)
    rows = {r["script"]: r for r in outputs(out)}
    for script in ("c1.py", "c3.py"):
        r = rows[script]
        p = subprocess.run([sys.executable, script], cwd=work, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True)
        assert (r["exit_code"], r["out_bytes"], r["err_bytes"]) == \
            (p.returncode, p.stdout, p.stderr), script
    assert rows["c2.py"]["out_bytes"].count(b"cnoisy") == 1


def test_order_sensitive_and_shadowing_scripts_run_fresh(tmp_path):
    work = tmp_path / "w"
    (work / "sub").mkdir(parents=True)
    (work / "late.py").write_text(
        "import os\nos.environ['OMP_NUM_THREADS'] = '1'\nimport numpy as np\nprint(np.ones(3).sum())\n")
    (work / "early.py").write_text("import sklearn.linear_model\nprint('early')\n")
    (work / "sub" / "threadpoolctl.py").write_text("NAME = 'mine'\n")
    (work / "sub" / "shadow.py").write_text("import threadpoolctl\nprint(threadpoolctl.NAME)\n")
    (work / "sub2").mkdir()  # json: loaded by stratum's batch process, not by a plain start
    (work / "sub2" / "json.py").write_text("def dumps(x):\n    return 'mine'\n")
    (work / "sub2" / "uses_json.py").write_text("import json\nprint(json.dumps(1))\n")
    out = tmp_path / "out"
    code, _, err = batch(work, tmp_path / "cache", "--out", str(out), "early.py", "late.py",
                         "sub/shadow.py", "sub2/uses_json.py")
    assert code == 0, err
    rows = outputs(out)
    assert [r["mode"] for r in rows] == ["warm", "exec", "exec", "exec"]
    for r in rows:
        assert (r["exit_code"], r["out_bytes"], r["err_bytes"]) == plain(work, r["script"])


def test_scheduler_prefers_shared_cost_and_defers_blocked():
    def plan(i, nodes):
        return batch_plan.ScriptPlan(i, f"s{i}.py", f"/x/s{i}.py", batch_plan.Imports(), nodes)

    load, feat = "a" * 32, "b" * 32
    plans = [plan(0, [("c" * 32, 1.0)]),  # independent
             plan(1, [(load, 2.0), (feat, 1.0), ("d" * 32, 0.5)]),
             plan(2, [(load, 2.0), (feat, 1.0), ("e" * 32, 0.5)]),
             plan(3, [(load, 2.0), ("f" * 32, 0.1)])]
    cached: set[str] = set()
    s = batch_plan.Scheduler(plans, "/nonexistent", cached=cached.__contains__)
    assert s.shared == {load, feat}
    assert s.pick([0, 1, 2, 3], []) == 1  # covers the most shared cost; ties: given order
    assert s.pick([0, 2, 3], [1]) == 0  # 2 and 3 would wait for 1's load: run 0 meanwhile
    assert s.pick([2, 3], [1, 0]) == 2  # nothing independent left: start it (it will wait)
    cached.update({load, feat})
    assert s.pick([3, 2], [1]) == 2  # once computed nobody is blocked: the longest work first
    long = batch_plan.Scheduler([plan(0, [("c" * 32, 1.0)]), plan(1, [("g" * 32, 9.0)])],
                                "/nonexistent", cached=cached.__contains__)
    assert long.pick([0, 1], []) == 1


def test_scan_imports_leading_and_late(tmp_path):
    p = tmp_path / "s.py"
    p.write_text(textwrap.dedent('''\
        """doc"""
        from __future__ import annotations
        import numpy as np, os
        from sklearn.linear_model import Ridge
        from . import sibling
        x = 1
        import pandas
        def f():
            from sklearn import metrics
        '''))
    got = batch_plan.scan_imports(str(p))
    assert got.leading == ["numpy", "os", "sklearn.linear_model", "sklearn.linear_model.Ridge"]
    assert got.late == ["pandas", "sklearn", "sklearn.metrics"]
    p.write_text("import numpy\ndef (:\n")
    assert batch_plan.scan_imports(str(p)).leading == []


@pytest.mark.parametrize("width", [80, 120])
def test_summary_table_fits_the_terminal(width):
    """Long paths fold, statuses and numbers stay whole: nothing cut to "…"."""
    import io
    import re

    from rich.console import Console

    from stratum.batch import job

    plans = [batch_plan.ScriptPlan(i, s, "/x/" + s, batch_plan.Imports())
             for i, s in enumerate(["agents/session_0042/clf_random_forest_tuned_again.py",
                                    "crash_segv.py"])]
    state = job._Batch(plans, {}, 2)
    state.preloaded, state.import_seconds = ["numpy", "pandas", "sklearn"], 1.25
    rows = [{"script": p.script, "exit_code": code, "seconds": secs, "reused": reused,
             "executed": executed, "prediction": "its own history (12 nodes)"}
            for p, code, secs, reused, executed in zip(plans, (0, -11), (123.456, 0.5),
                                                       (1234, 0), (56789, 3))]
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(
        job.summary_table(rows, state, None, explain=True))
    text = buf.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= width, text
    for word in ("script", "status", "seconds", "reused", "executed", "predicted",
                 "killed by SIGSEGV", "exit 0", "123.46", "1234", "56789", "0.50"):
        assert word in text, (word, text)
    column = "".join(re.split("[│┃]", line)[2].strip() for line in text.splitlines()
                     if line.startswith(("│", "┃")))
    assert plans[0].script in column and "crash_segv.py" in column
