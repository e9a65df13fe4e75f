"""The command line: the -m form, errors as python gives them, traces, cache, doctor, fallbacks."""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

SCRIPT = """\
import numpy as np
import pandas as pd
df = pd.DataFrame({"a": np.arange(5.0), "b": list("vwxyz")})
df["c"] = df.a * 2
print(df.groupby("b").c.sum().tolist())
"""


def run(args, cwd, cache, mode="stratum", env_extra=None, stdin=None):
    env = difftest.build_env(mode, cache)
    env.update(env_extra or {})
    cmd = [sys.executable, *args] if mode == "plain" else [sys.executable, "-m", "stratum", *args]
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=120, input=stdin)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.fixture
def work(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "s.py").write_text(SCRIPT)
    return tmp_path / "w", tmp_path / "cache"


def test_help_and_version(work):
    cwd, cache = work
    code, out, _ = run(["--help"], cwd, cache)
    assert code == 0 and "python -m stratum" in out and "trace" in out and "doctor" in out
    code, out, _ = run(["--version"], cwd, cache)
    assert code == 0 and out.startswith("stratum ")


def test_module_form_matches_python_dash_m(work):
    cwd, cache = work
    pkg = cwd / "agentpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(textwrap.dedent("""\
        import sys
        import pandas as pd
        print(__name__, __spec__.name, __package__, sys.argv[1:], sys.argv[0].endswith("train.py"))
        print(pd.Series([1, 2, 3]).mean())
        raise SystemExit(4)
    """))
    plain = run(["-m", "agentpkg.train", "x", "--y"], cwd, cache, mode="plain")
    assert plain[0] == 4
    assert run(["-m", "agentpkg.train", "x", "--y"], cwd, cache) == plain
    missing = run(["-m", "no_such_module_here"], cwd, cache)
    assert missing == run(["-m", "no_such_module_here"], cwd, cache, mode="plain")


def test_missing_script_is_reported_like_python(work):
    cwd, cache = work
    plain = run(["nope.py", "a"], cwd, cache, mode="plain")
    assert plain[0] == 2
    assert run(["nope.py", "a"], cwd, cache) == plain


def test_trace_list_and_show(work):
    cwd, cache = work
    assert run(["s.py"], cwd, cache)[0] == 0
    assert run(["s.py"], cwd, cache)[0] == 0
    code, out, _ = run(["trace", "list"], cwd, cache)
    assert code == 0 and "s.py" in out and out.count("s.py") >= 2
    code, out, _ = run(["trace", "show", "--last", "--json"], cwd, cache)
    doc = json.loads(out)
    assert doc["run"]["script"].endswith("s.py") and doc["run"]["exit_code"] == 0
    ops = [n["op"] for n in doc["nodes"]]
    assert any("groupby" in op for op in ops) and "builtins.print" in ops
    for n in doc["nodes"]:
        assert {"op", "site", "key", "inputs", "seconds", "reused"} <= set(n)
        assert n["site"].startswith(str(cwd)) or "site-packages" in n["site"]
    first = doc["run"]["id"]
    code, out, _ = run(["trace", "show", str(first - 1), "--json"], cwd, cache)
    assert json.loads(out)["run"]["id"] == first - 1
    code, out, _ = run(["trace", "show"], cwd, cache)
    assert code == 0 and "groupby" in out
    code, out, err = run(["trace", "show", "999999"], cwd, cache)
    assert (code, out, err) == (2, "", "stratum: no recorded run with id 999999\n")
    assert run(["trace", "merged", "999999"], cwd, cache)[::2] == (2, err)
    assert run(["replay", "999999"], cwd, cache)[0] == 2


def test_explain_only_when_asked(work):
    cwd, cache = work
    quiet = run(["s.py"], cwd, cache)
    assert quiet[2] == ""
    code, out, err = run(["--explain", "s.py"], cwd, cache)
    assert out == quiet[1] and "operations traced" in err and "executed" in err
    code, out, err = run(["s.py"], cwd, cache, env_extra={"STRATUM_EXPLAIN": "1"})
    assert "operations traced" in err


def test_cache_subcommands(work):
    cwd, cache = work
    (cwd / "big.py").write_text(textwrap.dedent("""\
        import numpy as np
        from sklearn.ensemble import RandomForestRegressor
        rng = np.random.RandomState(0)
        X = rng.rand(600, 5); y = X.sum(1)
        print(RandomForestRegressor(n_estimators=30, random_state=0).fit(X, y).predict(X[:2]).round(4))
    """))
    assert run(["big.py"], cwd, cache)[0] == 0
    code, out, _ = run(["cache", "stats"], cwd, cache)
    assert code == 0 and "entries" in out
    entries = int(next(l for l in out.splitlines() if l.strip().startswith("entries")).split(":")[1])
    assert entries >= 1
    assert "hits" not in out and "misses" not in out  # this process's counters: always 0
    assert "MiB" in out or "KiB" in out
    assert re.search(r"newest: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out)
    code, out, _ = run(["cache", "stats", "--json"], cwd, cache)
    assert json.loads(out)["entries"] == entries
    code, out, _ = run(["cache", "gc"], cwd, cache)
    assert code == 0 and out.startswith("cache gc: removed ") and out.count("\n") == 1
    code, out, _ = run(["cache", "gc", "--json"], cwd, cache)
    assert code == 0 and json.loads(out)["corrupt"] == 0
    code, out, _ = run(["cache", "clear"], cwd, cache)
    assert code == 0 and out.startswith(f"removed {entries} entries")


def test_bad_cache_size_is_said_once_and_not_credited(work):
    cwd, cache = work
    code, out, err = run(["cache", "stats"], cwd, cache, env_extra={"STRATUM_CACHE_SIZE": "banana"})
    assert code == 0 and "budget: 2.0 GiB (default)" in out
    assert err == "stratum: STRATUM_CACHE_SIZE='banana' is not a size (such as 512M or 2G); " \
                  "using the default\n"
    code, out, err = run(["s.py"], cwd, cache, env_extra={"STRATUM_CACHE_SIZE": "banana"})
    assert code == 0 and err.count("stratum:") == 1 and "STRATUM_CACHE_SIZE" in err
    assert "budget: 2.0 GiB (default)" in run(["cache", "stats"], cwd, cache)[1]
    code, out, err = run(["cache", "stats"], cwd, cache, env_extra={"STRATUM_CACHE_SIZE": "1G"})
    assert "budget: 1.0 GiB (STRATUM_CACHE_SIZE)" in out and err == ""


def test_doctor(work):
    cwd, cache = work
    code, out, _ = run(["doctor"], cwd, cache)
    assert code == 0
    assert "[ok] native module" in out and "[ok] interposer" in out and "[ok] cache directory" in out
    # the STRATUM=1 start-up hook: found where it is installed, and said when it is not
    line = next(l for l in out.splitlines() if "stratum.pth" in l)
    if "[ok]" in line:
        assert Path(line.split("stratum.pth", 1)[1].split()[0]).name == "stratum.pth"
    else:
        assert "[--]" in line and "STRATUM=1 does nothing" in line


def test_disable_runs_plain_and_records_nothing(work):
    cwd, cache = work
    plain = run(["s.py"], cwd, cache, mode="plain")
    assert run(["s.py"], cwd, cache, env_extra={"STRATUM_DISABLE": "1"}) == plain
    assert "no recorded runs" in run(["trace", "show"], cwd, cache)[2]


def test_missing_native_module_degrades_to_plain(work, tmp_path):
    cwd, cache = work
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(textwrap.dedent("""\
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == "stratum._native":
                    raise ImportError("simulated: extension not built")
        sys.meta_path.insert(0, _Block())
    """))
    plain = run(["s.py"], cwd, cache, mode="plain")
    env = {"PYTHONPATH": f"{block}:{difftest.stratum_home()}"}
    code, out, err = run(["s.py"], cwd, cache, env_extra=env)
    assert (code, out) == plain[:2]
    assert err.splitlines() == [
        "stratum: native module unavailable (simulated: extension not built); running without stratum"]


def _bare_checkout(tmp_path) -> Path:
    """A copy of the source tree without its built extension (a fresh clone, never built)."""
    import shutil

    repo = Path(__file__).resolve().parent.parent
    copy = tmp_path / "clone"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(
        "*.so", "*.pyd", "__pycache__", ".git", "target", "bench", "docs", "tests"))
    return copy


def test_source_checkout_uses_the_installed_copy(work, tmp_path):
    """Run from a clone's root, the source tree shadows the installed package: the installed
    copy (which has the extension) is used instead, and doctor says so."""
    _, cache = work
    clone = _bare_checkout(tmp_path)
    (clone / "s.py").write_text(SCRIPT)
    code, out, err = run(["doctor"], clone, cache)
    assert code == 0, out + err
    assert "[ok] native module" in out and "source checkout" in out and str(clone) in out
    plain = run(["s.py"], clone, cache, mode="plain")
    assert run(["s.py"], clone, cache) == plain
    code, out, err = run(["trace", "list"], clone, cache)
    assert code == 0 and "s.py" in out and err == ""


def test_source_checkout_without_installed_copy_says_why(work, tmp_path):
    _, cache = work
    clone = _bare_checkout(tmp_path)
    alone = {"STRATUM_FROM_CHECKOUT": "1"}  # as if no installed copy existed
    code, out, err = run(["doctor"], clone, cache, env_extra=alone)
    assert code == 1
    assert "source checkout without its built extension" in out and "pip install -e ." in out
    for args in (["trace", "list"], ["run", "x.py"], ["cache", "stats"]):
        code, out, err = run(args, clone, cache, env_extra=alone)
        assert code == 1 and err.count("\n") == 1, (args, err)
        assert err.startswith("stratum: running from a source checkout without its built "
                              f"extension ({clone}); ") and "pip install -e ." in err


@pytest.mark.parametrize("args", [["trace"], ["trace", "list"], ["trace", "show"],
                                  ["trace", "merged"], ["trace", "prune"], ["trace", "clear"],
                                  ["cache"], ["cache", "stats"], ["cache", "clear"],
                                  ["cache", "gc"], ["doctor"]])
def test_every_subcommand_help_has_a_description(work, args):
    cwd, cache = work
    code, out, _ = run([*args, "--help"], cwd, cache)
    assert code == 0
    paragraphs = out.split("\n\n")
    assert paragraphs[0].startswith("usage:") and paragraphs[1].strip() \
        and not paragraphs[1].startswith(("positional", "options")), out


def test_help_names_the_actual_cache_dir(work, tmp_path):
    cwd, _ = work
    env = difftest.build_env("stratum", None)
    env.pop("STRATUM_CACHE_DIR", None)
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    for args in (["--help"], ["cache", "--help"], ["trace", "list", "--help"]):
        p = subprocess.run([sys.executable, "-m", "stratum", *args], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and str(tmp_path / "xdg" / "stratum") in p.stdout, args


def test_trace_show_hides_cheap_rows_and_shows_time_saved(work):
    cwd, cache = work
    assert run(["s.py"], cwd, cache, env_extra={"STRATUM_ADMIT": "all"})[0] == 0
    assert run(["s.py"], cwd, cache, env_extra={"STRATUM_ADMIT": "all"})[0] == 0
    doc = json.loads(run(["trace", "show", "--json"], cwd, cache)[1])
    cheap = [n for n in doc["nodes"] if n["reason"] == "cheap operation (not worth caching)"]
    code, out, _ = run(["trace", "show"], cwd, cache)
    assert code == 0 and "cheap operation (not worth" not in out.split("┘")[0]
    if cheap:
        assert f"{len(cheap)} cheap operation" in out and "--all shows them" in out
    code, out, _ = run(["trace", "show", "--all"], cwd, cache)
    assert "hidden" not in out
    if any(n["reused"] for n in doc["nodes"]):
        assert "saved " in out


def test_trace_prune_and_clear_keep_the_merged_graph_consistent(work):
    cwd, cache = work
    (cwd / "t.py").write_text(SCRIPT.replace("* 2", "* 3"))
    for script in ("s.py", "s.py", "t.py", "s.py"):
        assert run([script], cwd, cache)[0] == 0
    assert run(["trace", "prune"], cwd, cache)[0] == 2
    code, out, _ = run(["trace", "prune", "--script", "s.py", "--keep", "1"], cwd, cache)
    assert (code, out) == (0, "removed 2 runs (2 left)\n")
    runs = json.loads(run(["trace", "merged", "--json"], cwd, cache)[1])
    doc = json.loads(run(["trace", "show", "--json"], cwd, cache)[1])
    assert doc["run"]["script"].endswith("s.py")
    merged = json.loads(run(["trace", "merged", "--json"], cwd, cache)[1])
    assert merged == runs
    # the merged graph counts the two runs left, as if the others had never been recorded
    nodes = merged["nodes"]
    assert nodes and max(n["runs"] for n in nodes) <= 2
    assert run(["trace", "prune", "--older-than", "1"], cwd, cache)[1] == \
        "removed 0 runs (2 left)\n"
    code, out, _ = run(["trace", "clear"], cwd, cache)
    assert (code, out) == (0, "removed 2 runs (0 left)\n")
    merged = json.loads(run(["trace", "merged", "--json"], cwd, cache)[1])
    assert merged["nodes"] == [] and merged["edges"] == []
    assert "no recorded runs" in run(["trace", "show"], cwd, cache)[2]


def test_closed_pipe_ends_quietly(work):
    cwd, cache = work
    assert run(["s.py"], cwd, cache)[0] == 0
    env = difftest.build_env("stratum", cache)
    for args in (["trace", "merged", "--json"], ["trace", "merged", "--dot", "-"],
                 ["trace", "show"], ["trace", "list"]):
        p = subprocess.Popen([sys.executable, "-m", "stratum", *args], cwd=cwd, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.close()  # the reader is gone before anything is written
        err = p.stderr.read().decode()
        p.wait(timeout=120)
        assert err == "" and p.returncode == 0, (args, err)


def test_closed_pipe_after_the_first_line_always_exits_0(work):
    # ``trace merged --json | head -1``: the reader leaves while the command may still be
    # writing, or after it wrote everything; either way: status 0, nothing on stderr
    cwd, cache = work
    for n in (3, 4):
        (cwd / f"s{n}.py").write_text(SCRIPT.replace("df.a * 2", f"df.a * {n}"))
        assert run([f"s{n}.py"], cwd, cache)[0] == 0
    env = difftest.build_env("stratum", cache)
    for args in [["trace", "merged", "--json"]] * 4 + [["trace", "merged"], ["--help"]]:
        p = subprocess.Popen([sys.executable, "-m", "stratum", *args], cwd=cwd, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.readline()
        p.stdout.close()
        err = p.stderr.read().decode()
        p.wait(timeout=120)
        assert err == "" and p.returncode == 0, (args, err)


def test_run_missing_directory_is_a_usage_error(work):
    cwd, cache = work
    code, out, err = run(["run", "missing_dir/"], cwd, cache)
    assert (code, out, err) == (2, "", "stratum run: no such script or directory: missing_dir/\n")


def test_module_mode_is_pythons_to_the_traceback(tmp_path):
    """``python -m stratum -m pkg.mod`` runs the module through runpy's own frames: the
    traceback of an error has the two ``<frozen runpy>`` lines ``python -m pkg.mod`` shows, and
    the module sees the same argv, __spec__ and __package__."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text(
        "import sys\nimport numpy as np\n"
        "print(sys.argv, __name__, __spec__.name, __package__, np.arange(3).sum())\n"
        "def f():\n    raise ValueError('boom')\nf()\n")
    env = dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache"))
    plain = subprocess.run([sys.executable, "-m", "pkg.mod", "a"], cwd=tmp_path, env=env,
                           capture_output=True, timeout=120)
    got = subprocess.run([sys.executable, "-m", "stratum", "-m", "pkg.mod", "a"], cwd=tmp_path,
                         env=env, capture_output=True, timeout=120)
    assert b'File "<frozen runpy>"' in plain.stderr
    assert (got.returncode, got.stdout, got.stderr) == (plain.returncode, plain.stdout, plain.stderr)


def test_command_form_is_python_dash_c(tmp_path):
    """``python -m stratum -c CODE args`` (no server) runs as ``python -c CODE args``: argv
    ``['-c', ...]``, sys.path[0] ``''``, the __main__ of a command, a traceback in ``<string>``;
    a missing argument is python's usage error."""
    code = ("import sys\nimport numpy as np\nprint(sys.argv, repr(sys.path[0]), list(vars()))\n"
            "def f():\n    raise ValueError(np.arange(2))\nf()\n")
    env = dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache"))
    plain = subprocess.run([sys.executable, "-c", code, "a", "-b"], cwd=tmp_path, env=env,
                           capture_output=True, timeout=120)
    got = subprocess.run([sys.executable, "-m", "stratum", "-c", code, "a", "-b"], cwd=tmp_path,
                         env=env, capture_output=True, timeout=120)
    assert plain.stdout.startswith(b"['-c', 'a', '-b'] ''") and b'"<string>", line 6' in \
        plain.stderr
    assert (got.returncode, got.stdout, got.stderr) == (plain.returncode, plain.stdout,
                                                        plain.stderr)
    bad = subprocess.run([sys.executable, "-m", "stratum", "-c"], cwd=tmp_path, env=env,
                         capture_output=True, timeout=120)
    assert (bad.returncode, bad.stderr) == (2, b"Argument expected for the -c option\n")
