"""The machine-wide CPU budget (stratum/cpu/): tokens as file locks, what operations take, and
what the traces record. Processes here use a pool directory of their own (STRATUM_CPU_DIR)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

from stratum.cpu import budget as B
from stratum.cpu import demand as D

HOLDER = textwrap.dedent("""\
    import sys, time
    from stratum.cpu.budget import Budget
    b = Budget(sys.argv[1], int(sys.argv[2]))
    b.take(int(sys.argv[3]))
    print("held", flush=True)
    time.sleep(float(sys.argv[4]))
    b.give()
    print("given", flush=True)
""")


def _holder(pool, cores, k, seconds):
    """A process that takes k tokens, says so, holds them ``seconds`` and gives them back."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(pool), str(cores), str(k),
                          str(seconds)], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(difftest.stratum_home())})
    assert p.stdout.readline() == "held\n"
    return p


def test_take_and_give_in_one_process(tmp_path):
    b = B.Budget(str(tmp_path / "pool"), 2)
    assert b.take(1) == 1 and len(b.held) == 1
    b.give()
    assert b.take(5) == 2 and sorted(b.held) == [0, 1]  # never more than the pool
    b.give()
    assert b.held == []
    assert oct(os.stat(tmp_path / "pool").st_mode & 0o777) == "0o700"


def test_a_request_waits_for_all_its_tokens(tmp_path):
    pool = tmp_path / "pool"
    other = _holder(pool, 2, 1, 0.6)
    b = B.Budget(str(pool), 2)
    t0 = time.perf_counter()
    assert b.take(2) == 2  # one is free at once; the second only when the holder gives it back
    waited = time.perf_counter() - t0
    assert other.stdout.readline() == "given\n"
    assert waited >= 0.4, waited
    b.give()
    other.wait(10)


def test_a_killed_holder_frees_its_tokens(tmp_path):
    pool = tmp_path / "pool"
    other = _holder(pool, 2, 2, 60)  # holds the whole pool for a minute
    b = B.Budget(str(pool), 2)
    assert not _try(b, 1)  # none free
    other.send_signal(signal.SIGKILL)
    other.wait(10)
    t0 = time.perf_counter()
    assert b.take(2) == 2
    assert time.perf_counter() - t0 < 5
    b.give()


def _try(b, k) -> bool:
    """Could k tokens be taken without waiting? (leaves none taken)"""
    b._try_slots(k)
    got = len(b.held) >= k
    b.give()
    return got


def test_a_waiting_multi_token_request_goes_before_new_single_ones(tmp_path):
    pool = tmp_path / "pool"
    first = _holder(pool, 2, 1, 1.0)  # holds one token for a second
    # a request for both tokens queues (holding the turnstile) ...
    big = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""\
        import sys, time
        from stratum.cpu.budget import Budget
        b = Budget(sys.argv[1], 2)
        b.take(2)
        print("big", time.time(), flush=True)
        time.sleep(0.5)
        b.give()
    """), str(pool)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(difftest.stratum_home())})
    time.sleep(0.3)
    # ... so a single-token request made after it waits for it, though a token is free now
    b = B.Budget(str(pool), 2)
    b.take(1)
    small_at = time.time()
    b.give()
    big_at = float(big.stdout.readline().split()[1])
    assert big_at <= small_at, (big_at, small_at)
    big.wait(10)
    first.wait(10)


def test_a_child_forked_while_tokens_are_held_takes_none(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATUM_CPU_DIR", str(tmp_path / "pool"))
    monkeypatch.setattr(B, "_process", {"budget": None, "pid": None, "off": False})
    parent = B.current()
    parent.take(1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no budget of its own, and the parent's token stays the parent's
        ok = B.current() is None
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.waitpid(pid, 0)
    assert not _try(B.Budget(str(tmp_path / "pool"), parent.cores), parent.cores)  # still held
    parent.give()
    pid = os.fork()  # forked while holding nothing (a batch worker): a budget of its own
    if pid == 0:
        os._exit(0 if B.current() is not None and B.current().take(1) == 1 else 1)
    assert os.waitpid(pid, 0)[1] == 0
    os.close(r)


def test_unsafe_pool_directory_is_refused(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir(mode=0o777)
    os.chmod(pool, 0o777)
    with pytest.raises(B.BudgetError):
        B.Budget(str(pool), 2)


# ---- demand -------------------------------------------------------------------------------

def test_library_knowledge():
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    small, wide = np.zeros((100, 5)), np.zeros((5000, 50))
    lc = D.library_cores
    assert lc("x.fit", (small,), {}, HistGradientBoostingClassifier(), 4, True) == 4
    assert lc("cross_val_score", (make_pipeline(StandardScaler(), HistGradientBoostingClassifier()),
                                  small), {}, None, 4, True) == 4
    assert lc("x.fit", (small,), {}, RandomForestClassifier(n_jobs=-1), 4, True) == 4
    assert lc("x.fit", (small,), {}, RandomForestClassifier(n_jobs=-2), 4, True) == 3
    assert lc("x.fit", (small,), {}, RandomForestClassifier(), 4, True) == 1
    assert lc("x.fit", (small,), {}, LogisticRegression(), 4, True) == 1
    assert lc("x.fit", (wide,), {}, LogisticRegression(), 4, True) == 4
    assert lc("x.fit", (small,), {}, GridSearchCV(LogisticRegression(), {}, n_jobs=2), 4,
              True) == 2
    assert lc("cross_val_score", (LogisticRegression(), small), {"n_jobs": -1}, None, 4,
              True) == 4
    assert lc("operator.matmul", (wide, wide.T), {}, None, 4, False) == 4
    assert lc("operator.matmul", (small, small.T), {}, None, 4, False) == 1


def test_measured_cores_come_first():
    assert D.cores_from_ratio(1.0, 4) == 1
    assert D.cores_from_ratio(1.9, 4) == 2
    assert D.cores_from_ratio(3.95, 4) == 4
    assert D.cores_from_ratio(9.0, 4) == 4
    h = D.History(None, 4)
    h.by_key["k"] = (2.0, 1.0)
    h.by_site[("op", "s.py:3")] = 3.0
    assert h.predict("k", "op", "s.py:3", 4) == (1, 2.0)  # its own past beats the library
    assert h.predict("new", "op", "s.py:3", 1) == (3, None)
    assert h.predict("new", "op", "s.py:9", 2) == (2, None)


# ---- what a run records and what a script sees ---------------------------------------------

SCRIPT = textwrap.dedent("""\
    import os
    import numpy as np
    import threadpoolctl
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 20))
    y = (X[:, 0] + rng.normal(size=20000) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    print("score", round(model.score(X, y), 6))
    print("cpus", os.cpu_count(), len(os.sched_getaffinity(0)))
    print("env", sorted(k for k in os.environ if k.startswith(("OMP", "OPENBLAS", "MKL",
                                                                "GOMP", "STRATUM_CPU"))))
    print("pools", sorted((p["user_api"], p["num_threads"])
                          for p in threadpoolctl.threadpool_info()))
""")


def test_cpu_seconds_recorded_and_nothing_visible_changes(tmp_path):
    (tmp_path / "s.py").write_text(SCRIPT)
    env = difftest.build_env("plain", None)
    plain = subprocess.run([sys.executable, "s.py"], cwd=tmp_path, env=env, capture_output=True)
    senv = {**difftest.build_env("stratum", tmp_path / "cache")}
    got = subprocess.run([sys.executable, "-m", "stratum", "s.py"], cwd=tmp_path, env=senv,
                         capture_output=True)
    assert (got.returncode, got.stdout, got.stderr) == (plain.returncode, plain.stdout,
                                                        plain.stderr)
    trace = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--json"],
                           cwd=tmp_path, env=senv, capture_output=True, text=True)
    assert trace.returncode == 0, trace.stderr
    nodes = json.loads(trace.stdout)["nodes"]
    fit = [n for n in nodes if n["op"].endswith("HistGradientBoostingClassifier.fit")]
    assert fit and fit[0]["cpu"] > 0, fit
    assert all(n["cpu"] is None or n["cpu"] >= 0 for n in nodes)
    shown = subprocess.run([sys.executable, "-m", "stratum", "trace", "show"], cwd=tmp_path,
                           env={**senv, "COLUMNS": "200"}, capture_output=True, text=True)
    assert "cpu s" in shown.stdout
    explained = subprocess.run([sys.executable, "-m", "stratum", "--explain", "s.py"],
                               cwd=tmp_path, env=senv, capture_output=True, text=True)
    assert "CPU seconds of executed operations" in explained.stderr


KILLER = textwrap.dedent("""\
    import fcntl, glob, os, signal
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    def scorer(est, X, y):
        # inside cross_val_score, which holds every token: note that, then die as an agent's
        # timeout would kill the run
        held = []
        for path in sorted(glob.glob(os.path.join(os.environ["STRATUM_CPU_DIR"], "slot-*"))):
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)
            os.close(fd)
        with open("held.txt", "w") as fh:
            fh.write(repr(held))
        os.kill(os.getpid(), signal.SIGKILL)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = (X[:, 0] > 0).astype(int)
    cross_val_score(HistGradientBoostingClassifier(max_iter=5), X, y, scoring=scorer, cv=2)
""")
AFTER = textwrap.dedent("""\
    import time
    time.sleep(1.0)
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 5))
    y = (X[:, 1] > 0).astype(int)
    print(HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y).score(X, y))
""")


def test_a_worker_killed_holding_tokens_does_not_stall_the_batch(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "killer.py").write_text(KILLER)
    (work / "after.py").write_text(AFTER)
    pool = tmp_path / "pool"
    code, _, stderr = difftest.run_batch(work, tmp_path / "cache", "--jobs", "2", "--out",
                                         str(tmp_path / "out"), "killer.py", "after.py",
                                         env={"STRATUM_CPU_DIR": str(pool)})
    rows = {r["script"]: r for r in json.loads((tmp_path / "out" / "summary.json").read_text())}
    assert (work / "held.txt").read_text() == repr([True] * len(list(pool.glob("slot-*"))))
    assert rows["killer.py"]["exit_code"] == -9, rows
    assert rows["after.py"]["exit_code"] == 0, stderr
    want = difftest.plain_result(work, "after.py")
    assert Path(rows["after.py"]["stdout"]).read_bytes() == want[1]
    assert code == 1
