"""stratum's on-disk state repairs itself: real ``python -m stratum`` runs against a damaged
trace store, a damaged or unsafe cache secret, and a full disk (a file size limit)."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

HOME = difftest.stratum_home()  # the stratum under test: installed, or this source tree

SCRIPT = textwrap.dedent("""
    import numpy as np
    a = np.arange(300_000, dtype=float)
    b = np.sqrt(a) * 2.0
    print(float(b.sum()), float(b[-1]))
""")


@pytest.fixture(autouse=True)
def _outside_the_source_tree(tmp_path, monkeypatch):
    """Child processes start in a scratch folder: from a checkout's root, ``python -m`` and
    ``-c`` would import the source tree's stratum instead of the one under test."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache"), STRATUM_ADMIT="all",
             PYTHONPATH=os.pathsep.join([str(HOME), os.environ.get("PYTHONPATH", "")]))
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
    from stratum.trace.store import TraceStore

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


# ---------------------------------------------------------------------- secret

def test_damaged_secret_is_replaced_once(env, script, plain):
    assert stratum(env, script).stderr == ""
    secret = cache_dir(env) / "secret"
    old = secret.read_bytes()
    secret.write_bytes(old[:7])

    r = stratum(env, script)
    assert r.stdout == plain
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("stratum: cache secret was damaged")
    new = secret.read_bytes()
    assert len(new) == 32 and new != old and secret.stat().st_mode & 0o777 == 0o600
    assert (cache_dir(env) / "secret.damaged").read_bytes() == old[:7]

    r = stratum(env, script)
    assert (r.stdout, r.stderr) == (plain, "")
    assert secret.read_bytes() == new
    show = stratum(env, "trace", "show", "--json")
    import json

    assert any(n["reused"] for n in json.loads(show.stdout)["nodes"])  # the cache works again


def test_processes_agree_on_one_new_secret(env, tmp_path):
    d = cache_dir(env)
    code = textwrap.dedent(f"""
        import os, sys, time
        from stratum.cache.cache import Cache
        while not os.path.exists({str(tmp_path / 'go')!r}):
            time.sleep(0.001)
        with Cache({str(d)!r}, 1 << 20) as c:
            print(c.secret.hex())
    """)
    subprocess.run([sys.executable, "-c", code.replace("while", "if False and", 1)], env=env,
                   check=True, capture_output=True)
    (d / "secret").write_bytes(b"too short")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    time.sleep(0.5)
    (tmp_path / "go").touch()
    outs = [p.communicate(timeout=60) for p in procs]
    secrets = {o.strip() for o, _ in outs}
    assert secrets == {(d / "secret").read_bytes().hex()}
    errs = "".join(e for _, e in outs)
    assert errs.count("\n") == 1 and "cache secret was damaged" in errs, errs


@pytest.mark.parametrize("unsafe", ["readable", "foreign"])
def test_unsafe_secret_is_refused_not_replaced(env, script, plain, unsafe):
    assert stratum(env, script).stderr == ""
    secret = cache_dir(env) / "secret"
    if unsafe == "readable":
        secret.chmod(0o644)
    else:
        if os.getuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(secret, 12345, 12345)
    before = secret.read_bytes(), secret.stat()
    for _ in range(2):  # refused every time: a secret others may know is never trusted
        r = stratum(env, script)
        assert r.stdout == plain
        assert r.stderr.count("\n") == 1 and "running uncached" in r.stderr, r.stderr
        assert ("accessible by other users" if unsafe == "readable" else "another user") \
            in r.stderr
    after = secret.read_bytes(), secret.stat()
    assert after[0] == before[0] and after[1].st_ino == before[1].st_ino
    assert after[1].st_mode == before[1].st_mode and after[1].st_uid == before[1].st_uid
    assert not (cache_dir(env) / "secret.damaged").exists()


# ---------------------------------------------------------------------- full disk

def _file_size_limit(limit: int):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past it fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


@pytest.mark.parametrize("limit", [4096, 64 << 10, 1 << 20])
def test_full_disk_is_one_line_per_run(env, script, plain, limit):
    pre = _file_size_limit(limit)
    for _ in range(2):  # a fresh cache, then one that has what did fit
        r = stratum(env, script, preexec=pre)
        assert r.returncode == 0 and r.stdout == plain
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("stratum: no room to write"), r.stderr
        assert "File too large" in lines[0]
    r = stratum(env, script)  # room again: the cache works
    assert (r.stdout, r.stderr) == (plain, "")
