"""stratum's on-disk state repairs itself: real ``python -m stratum`` runs against a damaged
trace store."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import numpy as np
    a = np.arange(300_000, dtype=float)
    b = np.sqrt(a) * 2.0
    print(float(b.sum()), float(b[-1]))
""")


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache"), STRATUM_ADMIT="all",
             PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for name in ("STRATUM", "STRATUM_DISABLE", "STRATUM_EXPLAIN", "STRATUM_CACHE"):
        e.pop(name, None)
    return e


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture
def plain(script):
    """The script's output without stratum."""
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=True).stdout


def stratum(env, *args, preexec=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "stratum", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=60, preexec_fn=preexec,
                          cwd=cwd)


def cache_dir(env) -> Path:
    return Path(env["STRATUM_CACHE_DIR"])


def runs(env) -> list[int]:
    """Run ids the trace store lists (``trace list``), checking the command succeeds."""
    r = stratum(env, "trace", "list")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return [int(line.split("│")[1]) for line in r.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]


def damage(path: Path, how: str) -> None:
    size = path.stat().st_size
    assert size > 4 * 4096, "the store should have several pages"
    with open(path, "r+b") as f:
        if how == "overwritten":  # every page but the first two and the last
            f.seek(2 * 4096)
            f.write(b"\xa5" * (size - 3 * 4096))
        elif how == "truncated":
            f.truncate(size // 2)
        else:  # not a SQLite file at all
            f.truncate(0)
            f.write(b"this is not a database\n" * 100)


def damaged_files(env) -> list[str]:
    return sorted(p.name for p in cache_dir(env).iterdir() if ".damaged" in p.name)


# ---------------------------------------------------------------------- trace store

@pytest.mark.parametrize("how", ["overwritten", "truncated", "not_sqlite"])
def test_damaged_trace_store_is_set_aside_once(env, script, plain, how):
    for _ in range(2):
        r = stratum(env, script)
        assert (r.stdout, r.stderr) == (plain, "")
    damage(cache_dir(env) / "traces.db", how)

    r = stratum(env, script)
    assert r.stdout == plain
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stratum: the trace store was damaged"), \
        r.stderr
    assert len(damaged_files(env)) == 1 and damaged_files(env)[0].startswith("traces.db.damaged-")

    r = stratum(env, script)
    assert (r.stdout, r.stderr) == (plain, "")  # repaired: nothing more to say
    assert runs(env) == [1, 2]  # the run that found the damage, and this one, in the new store


def test_at_most_two_damaged_stores_are_kept(env, script, plain):
    assert stratum(env, script).stderr == ""
    for _ in range(4):
        damage(cache_dir(env) / "traces.db", "not_sqlite")
        r = stratum(env, script)
        assert r.stdout == plain and r.stderr.count("\n") == 1
    kept = damaged_files(env)
    assert len(kept) == 2 and all(n.startswith("traces.db.damaged-") for n in kept), kept


@pytest.mark.parametrize("command", [["list"], ["show"], ["show", "--json"], ["merged"]])
def test_trace_commands_report_a_damaged_store_in_one_line(env, script, plain, command):
    assert stratum(env, script).stderr == ""
    damage(cache_dir(env) / "traces.db", "not_sqlite")
    r = stratum(env, "trace", *command)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("stratum: the trace store") and "damaged" in r.stderr
    r = stratum(env, script)  # the store was set aside: a new one, without a word
    assert (r.stdout, r.stderr) == (plain, "")
    assert runs(env) == [1]


def test_concurrent_runs_set_a_damaged_store_aside_once(env, script, plain):
    assert stratum(env, script).stderr == ""
    damage(cache_dir(env) / "traces.db", "overwritten")
    procs = [subprocess.Popen([sys.executable, "-m", "stratum", str(script)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [o for o, _ in outs] == [plain] * 4
    errs = "".join(e for _, e in outs)
    assert errs.count("\n") == 1 and errs.startswith("stratum: the trace store was damaged"), errs
    assert len(damaged_files(env)) == 1
    assert runs(env) == [1, 2, 3, 4]  # every run recorded in the one new store


def test_set_aside_waits_for_an_open_store_to_close(env, script, plain):
    """A connection open on the damaged file would delete the new store's -wal and -shm by
    name when it closes; the store is set aside only once no connection is open on it."""
    from stratum.store import TraceStore

    assert stratum(env, script).stderr == ""
    held = TraceStore(cache_dir(env))
    try:
        damage(cache_dir(env) / "traces.db", "overwritten")
        proc = subprocess.Popen([sys.executable, "-m", "stratum", str(script)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        assert proc.poll() is None  # waiting for this process's connection to close
        assert damaged_files(env) == []
    finally:
        held.close()
    out, err = proc.communicate(timeout=60)
    assert out == plain and err.startswith("stratum: the trace store was damaged")
    assert err.count("\n") == 1
    assert runs(env) == [1]
