"""``STRATUM=1 python ...``: the ``.pth`` start-up hook and the entry trap.

The corpus-wide comparison (outputs vs plain, traces vs ``python -m stratum``) runs in
test_differential.py; this file covers the other command-line forms, child processes,
``STRATUM_DISABLE``, and that the trap is gone once the main program is known.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import difftest  # noqa: E402

pytestmark = pytest.mark.skipif(difftest.env_mode_available() is not None,
                                reason=str(difftest.env_mode_available()))


def _run(cmd, cwd, cache, *, stratum=True, extra=None, stdin=None):
    env = difftest.build_env("env" if stratum else "plain", cache)
    env.update(extra or {})
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=300, input=stdin)


def _runs(cwd, cache) -> list[dict]:
    env = difftest.build_env("stratum", cache)
    db = os.path.join(cache, "traces.db")
    if not os.path.exists(db):
        return []
    out = subprocess.run([sys.executable, "-c", (
        "import sqlite3, json, sys; db = sqlite3.connect(sys.argv[1]); "
        "print(json.dumps([dict(zip(('id','script','argv','exit_code','nodes','reused'), r)) "
        "for r in db.execute('SELECT id, script, argv, exit_code, nodes, reused FROM runs')]))"),
        db], cwd=cwd, env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def _same(a, b):
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), \
        (a.stderr.decode(), b.stderr.decode())


def test_trap_is_uninstalled_once_the_main_program_runs(tmp_path):
    (tmp_path / "s.py").write_text(textwrap.dedent("""\
        from interposer import trap
        def f(x):
            return x + 1
        before = trap.stats()["frames"]
        for i in range(10000):
            f(i)
        after = trap.stats()["frames"]
        print(trap.installed(), after - before)
        """))
    run = _run([sys.executable, "s.py"], tmp_path, tmp_path / "c")
    assert run.returncode == 0, run.stderr
    # uninstalled, and not one of the 10000 calls entered the hook
    assert run.stdout == b"False 0\n"
    kept = _run([sys.executable, "s.py"], tmp_path, tmp_path / "c",
                extra={"STRATUM_KEEP_TRAP": "1"})
    installed, frames = kept.stdout.split()
    assert installed == b"True" and int(frames) >= 10000  # the counter does count


def test_c_and_m_forms_and_stdin(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "tool.py").write_text(textwrap.dedent("""\
        import sys
        import numpy as np
        print(sys.argv[1:], np.arange(4).sum())
        raise SystemExit(3)
        """))
    code = "import numpy as np; print((np.arange(3) * 2).tolist())"
    for cmd, stdin in (([sys.executable, "-m", "pkg.tool", "a", "b"], None),
                       ([sys.executable, "-c", code], None),
                       ([sys.executable, "-"], code.encode())):
        plain = _run(cmd, tmp_path, None, stratum=False, stdin=stdin)
        got = _run(cmd, tmp_path, tmp_path / "c", stdin=stdin)
        _same(plain, got)
    scripts = [r["script"] for r in _runs(tmp_path, tmp_path / "c")]
    assert scripts[0] == "pkg.tool" and "-c" in scripts[1]
    assert _runs(tmp_path, tmp_path / "c")[0]["exit_code"] == 3


def test_child_processes_run_under_stratum(tmp_path):
    (tmp_path / "child.py").write_text(textwrap.dedent("""\
        import sys
        import pandas as pd
        df = pd.DataFrame({"a": range(5)})
        print("child", df["a"].sum(), sys.argv[1:])
        """))
    (tmp_path / "parent.py").write_text(textwrap.dedent("""\
        import subprocess, sys
        import numpy as np
        out = subprocess.run([sys.executable, "child.py", "x"], capture_output=True, text=True)
        print("parent got:", out.stdout.strip(), np.arange(3).sum())
        """))
    plain = _run([sys.executable, "parent.py"], tmp_path, None, stratum=False)
    got = _run([sys.executable, "parent.py"], tmp_path, tmp_path / "c")
    _same(plain, got)
    scripts = sorted(os.path.basename(r["script"]) for r in _runs(tmp_path, tmp_path / "c"))
    assert scripts == ["child.py", "parent.py"]


def test_joblib_workers_are_reached(tmp_path):
    (tmp_path / "s.py").write_text(textwrap.dedent("""\
        import numpy as np
        from sklearn.linear_model import Ridge
        from sklearn.model_selection import cross_val_score
        rng = np.random.RandomState(0)
        X, y = rng.rand(50000, 60), rng.rand(50000)
        print(cross_val_score(Ridge(), X, y, cv=4, n_jobs=2).round(6))
        """))
    plain = _run([sys.executable, "s.py"], tmp_path, None, stratum=False)
    got = _run([sys.executable, "s.py"], tmp_path, tmp_path / "c")
    _same(plain, got)
    # The folds ran in worker processes, which started stratum from the environment too:
    # their results are in the cache, although only the script's own run is recorded. The data
    # is big enough that each fold's fit (~10 ms) clears the cache's admission threshold (2 ms)
    # with a wide margin even on a loaded machine; 400 rows did not (a CI run admitted 3).
    index = os.path.join(tmp_path, "c", "index.db")
    import sqlite3

    db = sqlite3.connect(index)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    entries = db.execute(f"SELECT count(*) FROM {tables[0]}").fetchone()[0]
    db.close()
    assert entries >= 4
    assert [os.path.basename(r["script"]) for r in _runs(tmp_path, tmp_path / "c")] == ["s.py"]


def test_stratum_disable_wins(tmp_path):
    (tmp_path / "s.py").write_text("import numpy as np\nprint(np.arange(3).sum())\n")
    got = _run([sys.executable, "s.py"], tmp_path, tmp_path / "c",
               extra={"STRATUM_DISABLE": "1"})
    assert got.returncode == 0 and got.stdout == b"3\n" and got.stderr == b""
    assert _runs(tmp_path, tmp_path / "c") == []


def test_script_that_does_not_compile(tmp_path):
    (tmp_path / "s.py").write_text("print(1\n")
    plain = _run([sys.executable, "s.py"], tmp_path, None, stratum=False)
    got = _run([sys.executable, "s.py"], tmp_path, tmp_path / "c")
    _same(plain, got)
    assert _runs(tmp_path, tmp_path / "c") == []
