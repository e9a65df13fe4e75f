"""``python -m stratum run --cluster ADDRESS`` on a real local Dask cluster (issue 16).

The cluster (tests/daskcluster.py): ``dask scheduler`` and two ``dask worker`` processes (each a
nanny and its worker process, one thread), every worker with its own local cache directory
(``STRATUM_CACHE_DIR`` in the worker's environment) and one shared second tier
(``STRATUM_CACHE_SHARED``, set by the client). Not ``LocalCluster``: it gives all its workers
one environment, and its nannies, running in the test process, would write
``OMP_NUM_THREADS=1`` and the like into the environment of every later plain run. The scripts
are corpus scripts (tests/corpus) and their data, compared byte for byte with ``python script.py``
(difftest.plain_result). Faults: a worker killed with SIGKILL mid-batch, a shared tier that
cannot be used.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip(
    "distributed", reason="Dask's distributed is not installed (pip install 'stratum[dask]')")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daskcluster  # noqa: E402
import difftest  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus"
SCRIPTS = ["eda_describe.py", "eda_groupby_agg.py", "clf_logreg_baseline.py", "fail_assert.py"]
# prints the thread pools and environment it sees: not the single-threaded ones a Dask nanny
# gives its workers (OMP_NUM_THREADS=1, ...)
THREADS = "cpu_threads_visible.py"
# Two scripts sharing a prefix that is worth reusing (a fitted model), for the cross-worker test.
PREFIX = """import pandas as pd
from sklearn.ensemble import RandomForestClassifier

df = pd.read_csv("data/churn.csv").dropna()
X = df.select_dtypes("number")
model = RandomForestClassifier(n_estimators=150, random_state=0).fit(X, df["churn"])
"""
SLEEPY = "import time\ntime.sleep({s})\nprint('slept {s}')\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, corpus_data):
    root = tmp_path_factory.mktemp("dask")
    work = root / "work"
    work.mkdir()
    for name in [*SCRIPTS, THREADS]:
        shutil.copy2(CORPUS / name, work / name)
    shutil.copytree(corpus_data, work / "data")
    (work / "prefix_a.py").write_text(
        PREFIX + "print('a', round(model.score(X, df['churn']), 4))\n")
    (work / "prefix_b.py").write_text(PREFIX + "print('b', len(model.estimators_))\n")
    for s in (2, 3):
        (work / f"sleepy_{s}.py").write_text(SLEEPY.format(s=s))
    caches = {n: root / f"cache-{n}" for n in ("a", "b")}
    pythonpath = difftest.build_env("plain", None)["PYTHONPATH"]
    procs = daskcluster.Cluster(root / "cluster", {
        n: {"STRATUM_CACHE_DIR": str(c), "PYTHONHASHSEED": "0", "PYTHONPATH": pythonpath}
        for n, c in caches.items()})
    try:
        client = distributed.Client(procs.address, set_as_default=False)
        try:
            client.wait_for_workers(2, timeout=120)
            yield {"root": root, "work": work, "caches": caches, "address": procs.address,
                   "shared": root / "shared", "client": client}
        finally:
            client.close()
    finally:
        procs.close()


def _run(c, *args, shared=None, timeout=600):
    env = difftest.build_env("stratum", c["root"] / "cache-client")
    env["STRATUM_ADMIT"] = "all"
    env["STRATUM_CACHE_SHARED"] = str(shared if shared is not None else c["shared"])
    return subprocess.run([sys.executable, "-m", "stratum", "run", "--cluster", c["address"],
                           *args], cwd=c["work"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


def _plain(c, script):
    return difftest.plain_result(c["work"], script)


def _same_as_plain(c, out: Path, scripts):
    rows = json.loads((out / "summary.json").read_text())
    assert [r["script"] for r in rows] == list(scripts)
    for r in rows:
        code, stdout, stderr = _plain(c, r["script"])
        assert (r["exit_code"], Path(r["stdout"]).read_bytes(),
                Path(r["stderr"]).read_bytes()) == (code, stdout, stderr), r["script"]
    return rows


def test_outputs_identical_to_plain(cluster, tmp_path):
    got = _run(cluster, "--out", str(tmp_path / "out"), *SCRIPTS, THREADS)
    assert got.returncode == 1, got.stderr.decode()  # fail_assert.py exits 1
    rows = _same_as_plain(cluster, tmp_path / "out", [*SCRIPTS, THREADS])
    assert {"script", "stdout", "stderr", "exit_code", "seconds", "reused", "executed",
            "run_id", "mode", "prediction"} <= set(rows[0])
    assert all(r["worker"] for r in rows) and all(r["mode"] == "warm" for r in rows)
    lines = [ln for ln in got.stderr.decode().splitlines() if ln.startswith("stratum run: [")]
    assert len(lines) == len(SCRIPTS) + 1
    # the workers' runs are in the client's trace store: trace show / merged see them
    env = difftest.build_env("stratum", cluster["root"] / "cache-client")
    listed = subprocess.run([sys.executable, "-m", "stratum", "trace", "list"], env=env,
                            capture_output=True, timeout=120)
    for s in SCRIPTS:
        assert s in listed.stdout.decode()
    # without --out: headers and the scripts' stdout on stdout, in the order given
    again = _run(cluster, *SCRIPTS[:2])
    assert again.returncode == 0
    text = again.stdout.decode()
    assert text.index("==> eda_describe.py (exit 0") < text.index("==> eda_groupby_agg.py")
    assert _plain(cluster, "eda_describe.py")[1].decode() in text


def test_prefix_from_one_worker_reused_on_the_other(cluster, tmp_path):
    from stratum.distributed import plugin

    first = _run(cluster, "--out", str(tmp_path / "one"), "prefix_a.py")
    assert first.returncode == 0, first.stderr.decode()
    row = _same_as_plain(cluster, tmp_path / "one", ["prefix_a.py"])[0]
    others = [w for w in cluster["client"].scheduler_info()["workers"] if w != row["worker"]]
    job = {"script": "prefix_b.py", "cwd": str(cluster["work"]), "flags": []}
    res = cluster["client"].submit(plugin.run_script, job, workers=others, pure=False,
                                   allow_other_workers=False).result(timeout=300)
    assert res["worker"] == others[0]
    assert (res["exit_code"], res["stdout"], res["stderr"]) == _plain(cluster, "prefix_b.py")
    fits = [n for n in res["trace"]["nodes"] if n["op"].endswith("RandomForestClassifier.fit")]
    assert fits and all(n["reused"] for n in fits), fits
    # it came from the shared tier into the other worker's own cache
    assert any((cluster["shared"] / "objects").rglob("*"))


def test_placement_sends_a_shared_prefix_to_one_worker(cluster, tmp_path):
    """The client's trace store holds prefix_a.py's run (from the test above, or made here):
    the plan predicts prefix_b.py (a similar script) shares its costly fit, so both go to one
    worker; the others are free."""
    scripts = ["prefix_a.py", "prefix_b.py", *SCRIPTS[:2]]
    _run(cluster, "prefix_a.py")
    got = _run(cluster, "--out", str(tmp_path / "out"), *scripts)
    assert got.returncode == 0, got.stderr.decode()
    rows = _same_as_plain(cluster, tmp_path / "out", scripts)
    assert "2 scripts placed by shared prefix" in " ".join(got.stderr.decode().split())
    assert rows[0]["worker"] == rows[1]["worker"]


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def test_worker_killed_mid_batch(cluster, tmp_path):
    scripts = ["sleepy_3.py", "sleepy_2.py", *SCRIPTS]
    client = cluster["client"]
    # both workers warm first, so the kill lands while scripts run
    _run(cluster, "--out", str(tmp_path / "warm"), *SCRIPTS[:2])
    pids = _worker_pids(client)
    env = difftest.build_env("stratum", cluster["root"] / "cache-client")
    env.update(STRATUM_ADMIT="all", STRATUM_CACHE_SHARED=str(cluster["shared"]))
    proc = subprocess.Popen([sys.executable, "-m", "stratum", "run", "--cluster",
                             cluster["address"], "--out", str(tmp_path / "out"), *scripts],
                            cwd=cluster["work"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        victim = None
        deadline = time.time() + 60
        while victim is None and time.time() < deadline:  # a worker with a run in progress
            time.sleep(0.2)
            for pid in pids.values():
                servers = _children(pid)
                if any(_children(s) for s in servers):
                    victim, orphans = pid, servers
                    break
        assert victim is not None, "no worker started a run"
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err.decode()  # fail_assert.py
    _same_as_plain(cluster, tmp_path / "out", scripts)
    # the killed worker's warm server and its runs did not outlive it
    deadline = time.time() + 20
    while time.time() < deadline and any(os.path.exists(f"/proc/{p}") for p in orphans):
        time.sleep(0.2)
    assert not [p for p in orphans if os.path.exists(f"/proc/{p}")]
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it


@pytest.mark.parametrize("kind", ["file", "protocol"])
def test_unusable_shared_tier_degrades_to_local(cluster, tmp_path, kind):
    not_a_dir = tmp_path / "tier-file"
    not_a_dir.write_text("x")
    shared = not_a_dir if kind == "file" else "nosuchprotocol://bucket/tier"
    got = _run(cluster, "--out", str(tmp_path / "out"), *SCRIPTS[:2], shared=shared)
    assert got.returncode == 0, got.stderr.decode()
    _same_as_plain(cluster, tmp_path / "out", SCRIPTS[:2])
    lines = [ln for ln in got.stderr.decode().splitlines() if "shared cache tier" in ln]
    assert len(lines) == 1, got.stderr.decode()
    assert lines[0].startswith("stratum: shared cache tier unusable")


def test_fsspec_url_tier_on_the_cluster(cluster, tmp_path):
    """STRATUM_CACHE_SHARED=file://...: the workers publish through fsspec, outputs exact."""
    tier = cluster["root"] / "url-tier"
    (cluster["work"] / "url_tier.py").write_text(TIER_SCRIPT)  # values no worker has yet
    got = _run(cluster, "--out", str(tmp_path / "out"), "url_tier.py", shared=f"file://{tier}")
    assert got.returncode == 0, got.stderr.decode()
    assert "shared cache tier" not in got.stderr.decode()
    _same_as_plain(cluster, tmp_path / "out", ["url_tier.py"])
    published = [p for p in (tier / "objects").rglob("*") if p.is_file()]
    assert published and not [p for p in published if p.name.startswith(".tmp-")]


def test_a_worker_without_the_clients_script_does_not_run_it(cluster, tmp_path):
    """A task carries a path and the file's digest: a worker that has no such file, another
    content under it, or no such working directory answers so without running anything (the
    client then runs the script itself, with one line saying why)."""
    from stratum.distributed import plugin

    work = str(cluster["work"])
    good = plugin.digest(os.path.join(work, "prefix_b.py"))
    assert plugin.unavailable({"script": "prefix_b.py", "cwd": work, "digest": good}) is None
    cases = {"another content": {"script": "prefix_b.py", "cwd": work, "digest": "0" * 64},
             "is not on": {"script": "nowhere.py", "cwd": work, "digest": good},
             "does not exist": {"script": "prefix_b.py", "cwd": str(tmp_path / "gone"),
                                "digest": good}}
    for said, job in cases.items():
        job["flags"] = []
        res = cluster["client"].submit(plugin.run_script, job, pure=False).result(timeout=300)
        assert said in res["unavailable"] and "stdout" not in res, res


# ---- Client(cluster=...): the submission API on the cluster -----------------------------------
CODE = """import sys
data = sys.stdin.read()
print(__name__, sys.argv, repr(data))
import pandas as pd
df = pd.DataFrame({"a": range(100), "b": [i % 7 for i in range(100)]})
print(df.groupby("b")["a"].sum().to_dict())
raise ValueError("from the code string")
"""


def _plain_code(folder: Path, name: str, code: str, argv, stdin: bytes):
    """``python NAME ARGS`` in ``folder`` with the code written there (removed after)."""
    path = folder / name
    path.write_text(code)
    try:
        p = subprocess.run([sys.executable, name, *argv], cwd=folder, input=stdin,
                           env=difftest.build_env("plain", None), capture_output=True,
                           timeout=300)
    finally:
        path.unlink()
    return p.returncode, p.stdout, p.stderr


def test_client_on_the_cluster(cluster, tmp_path):
    from stratum.client import Client, Result

    folder = tmp_path / "harness"
    folder.mkdir()
    want = _plain_code(folder, "agent.py", CODE, ["x", "1"], b"in\n")
    assert want[0] == 1 and b"agent.py" in want[2] and b"from the code string" in want[2]
    with Client(cluster=cluster["address"], cache_dir=cluster["root"] / "cache-client",
                fallback=False) as client:
        got = client.run(CODE, argv=["x", "1"], stdin="in\n", cwd=str(folder),
                         filename="agent.py")
        assert isinstance(got, Result)
        assert (got.returncode, got.stdout, got.stderr) == want
        assert got.worker and got.served and not got.timed_out
        assert got.operations and got.reused is not None and got.run_id is not None
        assert not (folder / "agent.py").exists()  # nothing written where the code "is"
        # a script path, from its folder, and submissions as futures
        futures = [client.submit(s, cwd=str(cluster["work"])) for s in SCRIPTS[:2]]
        for s, fut in zip(SCRIPTS[:2], futures):
            res = fut.result(timeout=300)
            assert (res.returncode, res.stdout, res.stderr) == _plain(cluster, s), s
        t0 = time.monotonic()
        slow = client.run("import time\nprint('start', flush=True)\ntime.sleep(60)\n",
                          cwd=str(folder), timeout=2)
        assert slow.timed_out and slow.returncode == -signal.SIGKILL
        assert slow.stdout == b"start\n" and time.monotonic() - t0 < 30
    # the runs are in this machine's trace store
    env = difftest.build_env("stratum", cluster["root"] / "cache-client")
    listed = subprocess.run([sys.executable, "-m", "stratum", "trace", "list"], env=env,
                            capture_output=True, timeout=120)
    assert "agent.py" in listed.stdout.decode()


# ---- without a cluster ------------------------------------------------------------------------
def test_shared_tier_between_two_caches(tmp_path):
    import numpy as np

    from stratum.cache import cache

    cache.set_shared_secret(tmp_path / "shared", os.urandom(32))
    a = cache.Cache(tmp_path / "a", 1 << 30, admit_all=True, shared=tmp_path / "shared")
    b = cache.Cache(tmp_path / "b", 1 << 30, admit_all=True, shared=tmp_path / "shared")
    key = "0123456789abcdef0123456789abcdef"
    assert a.put(key, np.arange(5), 1.0) and a.shared.published == 1
    with b.flight(key) as f:  # takes both locks, finds it in the tier
        assert f.hit and list(f.value) == [0, 1, 2, 3, 4]
    assert b.shared.hits == 1 and (tmp_path / "b" / "objects" / key[:2] / key).exists()
    # an entry signed by another cluster's secret is a miss, and left alone
    cache.set_shared_secret(tmp_path / "shared", os.urandom(32))
    c = cache.Cache(tmp_path / "c", 1 << 30, admit_all=True, shared=tmp_path / "shared")
    assert c.get(key) == (False, None)
    assert (tmp_path / "shared" / "objects" / key[:2] / key).exists()


def test_placement_groups_scripts_sharing_a_costly_prefix():
    from stratum.batch.plan import Imports, ScriptPlan
    from stratum.distributed import placement

    def plan(i, nodes):
        return ScriptPlan(i, f"s{i}.py", f"/x/s{i}.py", Imports(), nodes)

    plans = [plan(0, [("k1", 1.0), ("a", 0.5)]), plan(1, [("k1", 1.0)]),
             plan(2, [("k2", 0.001)]), plan(3, [("k2", 0.001)]), plan(4, [("k1", 1.0)]),
             plan(5, [])]
    assert placement.groups(plans) == [[0, 1, 4]]  # k2 is too cheap to group by
    where = placement.place(plans, ["w1", "w2"])
    assert where == {0: "w1", 1: "w1", 4: "w1"}  # a fair share: 3 of 6 scripts on 2 workers
    plans.append(plan(6, [("k1", 1.0)]))
    where = placement.place(plans, ["w1", "w2"])
    assert sorted(where) == [0, 1, 4, 6] and list(where.values()).count("w1") == 4


def test_placement_counts_the_size_of_a_shared_value():
    """A value that is cheap to compute but large (a 400 MB frame read in 0.05 s) costs 4 s to
    move at 100 MB/s: its scripts are grouped; a cheap small one is not."""
    from stratum.batch.plan import Imports, ScriptPlan
    from stratum.distributed import placement

    def plan(i, nodes, sizes):
        return ScriptPlan(i, f"s{i}.py", f"/x/s{i}.py", Imports(), nodes, sizes=sizes)

    big, small = {"read": 400_000_000}, {"read": 1_000}
    assert placement.groups([plan(0, [("read", 0.05)], big), plan(1, [("read", 0.05)], big),
                             plan(2, [], {})], 100e6) == [[0, 1]]
    assert placement.groups([plan(0, [("read", 0.05)], small),
                             plan(1, [("read", 0.05)], small)], 100e6) == []
    # on a faster network moving it is cheap: not grouped either
    assert placement.groups([plan(0, [("read", 0.05)], big), plan(1, [("read", 0.05)], big)],
                            10e9) == []
    # sizes survive the plan's round trip (a batch hands plans to its workers as dicts)
    p = plan(0, [("read", 0.05)], big)
    assert ScriptPlan.from_dict(p.as_dict()).sizes == big


# ---- the shared tier at an fsspec URL (file://: fsspec's code path), separate processes ------
TIER_SCRIPT = """import pandas as pd
df = pd.DataFrame({"a": range(2000), "b": [i % 11 for i in range(2000)]})
print(df.groupby("b")["a"].agg(["sum", "mean"]))
print(df.describe())
"""


def _tier_run(folder: Path, cache_dir: Path, shared: str):
    env = difftest.build_env("stratum", cache_dir)
    env.update(STRATUM_ADMIT="all", STRATUM_CACHE_SHARED=shared)
    return subprocess.run([sys.executable, "-m", "stratum", "tier.py"], cwd=folder, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=300)


def _reused(cache_dir: Path) -> list[bool]:
    return [bool(n["reused"]) for n in difftest.last_trace(cache_dir)["nodes"]]


def test_fsspec_url_tier_between_machines(tmp_path):
    """Two "machines" (processes with their own local caches and the cluster's secret) share
    a tier at a file:// URL: the second reuses what the first published; an entry whose bytes
    were changed, or signed with another secret, is a miss (and left in place)."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "tier.py").write_text(TIER_SCRIPT)
    plain = difftest.plain_result(folder, "tier.py")
    url = f"file://{tmp_path / 'tier'}"
    first = _tier_run(folder, tmp_path / "a", url)
    assert (first.returncode, first.stdout, first.stderr) == plain
    assert _reused(tmp_path / "a") and not any(_reused(tmp_path / "a"))
    entries = [p for p in (tmp_path / "tier" / "objects").rglob("*") if p.is_file()]
    assert entries and not [p for p in entries if p.name.startswith(".tmp-")]
    secret = (tmp_path / "a" / "shared-secret").read_bytes()

    def machine(name: str, key: bytes) -> Path:
        (tmp_path / name).mkdir(mode=0o700)
        (tmp_path / name / "shared-secret").write_bytes(key)
        os.chmod(tmp_path / name / "shared-secret", 0o600)
        return tmp_path / name

    second = _tier_run(folder, machine("b", secret), url)
    assert (second.returncode, second.stdout, second.stderr) == plain
    assert any(_reused(tmp_path / "b"))  # copied in from the tier
    assert any((tmp_path / "b" / "objects").rglob("*"))
    other = _tier_run(folder, machine("c", os.urandom(32)), url)
    assert (other.returncode, other.stdout, other.stderr) == plain
    assert not any(_reused(tmp_path / "c"))
    for path in entries:  # damaged in the tier: every copy is a miss, nothing is loaded
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    damaged = _tier_run(folder, machine("d", secret), url)
    assert (damaged.returncode, damaged.stdout, damaged.stderr) == plain
    assert not any(_reused(tmp_path / "d"))
    assert all(p.exists() for p in entries)


@pytest.mark.parametrize("shared", ["nosuchprotocol://bucket/tier", "file-in-the-way"])
def test_unusable_url_tier_is_one_line(tmp_path, shared):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "tier.py").write_text(TIER_SCRIPT)
    if shared == "file-in-the-way":
        (tmp_path / "blocker").write_text("x")
        shared = f"file://{tmp_path / 'blocker'}/tier"
    code, out, err = difftest.plain_result(folder, "tier.py")
    got = _tier_run(folder, tmp_path / "cache", shared)
    lines = got.stderr.decode().splitlines(keepends=True)
    said = [ln for ln in lines if "shared cache tier unusable" in ln]
    assert len(said) == 1 and said[0].startswith("stratum: ") and "caching locally" in said[0]
    rest = "".join(ln for ln in lines if ln not in said).encode()
    assert (got.returncode, got.stdout, rest) == (code, out, err)
    assert any((tmp_path / "cache" / "objects").rglob("*"))  # cached locally


def test_fsspec_tier_between_two_caches(tmp_path):
    import numpy as np

    from stratum.cache import cache

    url = f"file://{tmp_path / 'tier'}/"
    cache.set_shared_secret(url, os.urandom(32))
    a = cache.Cache(tmp_path / "a", 1 << 30, admit_all=True, shared=url)
    b = cache.Cache(tmp_path / "b", 1 << 30, admit_all=True, shared=url)
    assert isinstance(a.shared, cache.FsspecTier)
    key = "0123456789abcdef0123456789abcdef"
    assert a.put(key, np.arange(5), 1.0) and a.shared.published == 1
    assert a.put(key, np.arange(5), 1.0) and a.shared.published == 1  # kept: already there
    with b.flight(key) as f:  # published already: found, no lease taken
        assert f.hit and list(f.value) == [0, 1, 2, 3, 4]
    assert b.shared.hits == 1
    plain = cache.Cache(tmp_path / "p", 1 << 30, admit_all=True, shared=tmp_path / "dir-tier")
    assert isinstance(plain.shared, cache.DirectoryTier)  # a path: the directory code path


# ---- the shared tier is bounded (STRATUM_CACHE_SHARED_SIZE) -----------------------------------
@pytest.mark.parametrize("kind", ["directory", "url"])
def test_shared_tier_is_trimmed_to_its_budget_oldest_first(tmp_path, kind):
    import numpy as np

    from stratum.cache import cache

    where = tmp_path / "tier"
    shared = str(where) if kind == "directory" else f"file://{where}/"
    cache.set_shared_secret(shared, os.urandom(32))
    a = cache.Cache(tmp_path / "a", 1 << 30, admit_all=True, shared=shared)  # 0: no trims
    keys = [f"{i:02d}" + "0123456789abcdef0123456789abcd" for i in range(8)]
    for i, key in enumerate(keys):
        assert a.put(key, np.full(20_000, i, dtype=np.float64), 1.0)  # ~160 kB each
    files = {k: next(where.rglob(k)) for k in keys}
    size = files[keys[0]].stat().st_size
    now = time.time()
    for i, key in enumerate(keys):  # publication order = age; keys[3] read recently
        os.utime(files[key], (now - 10_000 + i, now - 10_000 + i))
    os.utime(files[keys[3]], (now, now))
    stale = files[keys[0]].parent / ".tmp-left-by-a-dead-publisher"
    stale.write_bytes(b"x")
    os.utime(stale, (now - 2 * cache.STALE_TMP, now - 2 * cache.STALE_TMP))
    report = a.shared.trim(int(5.5 * size))
    assert not report["skipped"]
    assert report["temp_files"] == 1 and not stale.exists()
    # 8 entries over a budget of 5.5: down to 0.9 of it (4.95), so 4 stay: the most recent
    gone = [k for k in keys if not files[k].exists()]
    assert gone == [keys[0], keys[1], keys[2], keys[4]], gone
    assert report["removed"] == 4 and report["entries"] == 4 and report["bytes"] == 4 * size
    # a second trim within TRIM_EVERY is skipped, unless forced (cache gc)
    assert a.shared.trim(1)["skipped"]
    assert a.shared.trim(int(1.5 * size), force=True)["removed"] == 3
    # a removed entry is a miss elsewhere, never an error
    b = cache.Cache(tmp_path / "b", 1 << 30, admit_all=True, shared=shared)
    assert b.get(keys[0]) == (False, None)
    assert b.get(keys[3])[0]


def test_cache_gc_trims_the_shared_tier(tmp_path):
    import numpy as np

    from stratum.cache import cache

    cache.set_shared_secret(tmp_path / "tier", os.urandom(32))
    a = cache.Cache(tmp_path / "a", 1 << 30, admit_all=True, shared=tmp_path / "tier")
    for i in range(3):
        assert a.put(f"{i:02d}" + "0123456789abcdef0123456789abcd", np.full(20_000, i, float), 1.0)
    env = dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "a"),
               STRATUM_CACHE_SHARED=str(tmp_path / "tier"), STRATUM_CACHE_SHARED_SIZE="200k")
    fd = os.open(tmp_path / "a" / "shared-secret", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, a.shared.secret)  # this machine's copy of the tier's secret
    os.close(fd)
    r = subprocess.run([sys.executable, "-m", "stratum", "cache", "gc"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "shared tier: removed 2 entries" in r.stdout, r.stdout
    assert len(list((tmp_path / "tier" / "objects").rglob("*0123456789abcd"))) == 1


def test_recorder_imports_worker_traces_in_batches(tmp_path):
    """The client imports what the workers recorded through one open store, many runs per
    transaction; each run's slot gets its id here."""
    from stratum.config import Settings
    from stratum.distributed.client import Recorder
    from stratum.trace.store import TraceStore

    worker = tmp_path / "worker"
    env = difftest.build_env("stratum", worker)
    (tmp_path / "t.py").write_text("import numpy as np\nprint(np.arange(5).sum())\n")
    r = subprocess.run([sys.executable, "-m", "stratum", "t.py"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    src = TraceStore(worker)
    exported = src.export_run(src.db.execute("SELECT max(id) FROM runs").fetchone()[0])
    src.close()
    here = tmp_path / "client"
    here.mkdir(mode=0o700)
    settings = Settings(**{**Settings.from_env().__dict__, "cache_dir": here})
    rec = Recorder(settings)
    slots = [rec.add({"trace": exported, "host": "elsewhere", "cache_dir": str(worker),
                      "result": {"run_id": 1}}) for _ in range(Recorder.BATCH - 1)]
    assert not rec.due() and all(s[0] is None for s in slots)
    slots.append(rec.add({"trace": exported, "host": "elsewhere", "cache_dir": str(worker)}))
    assert rec.due()
    rec.flush()
    rec.close()
    ids = [s[0] for s in slots]
    assert None not in ids and len(set(ids)) == Recorder.BATCH
    store = TraceStore(here)
    try:
        assert store.db.execute("SELECT count(*) FROM runs").fetchone()[0] == Recorder.BATCH
        nodes = store.db.execute("SELECT count(*) FROM nodes").fetchone()[0]
        assert nodes == Recorder.BATCH * len(exported["nodes"]) > 0
    finally:
        store.close()


LEASE_WORKER = """
import os, sys, time
from stratum.cache import cache
url, key, log = sys.argv[1], sys.argv[2], sys.argv[3]
cache.set_shared_secret(url, bytes.fromhex(os.environ["TIER_SECRET"]))
tier = cache.SharedTier.open(url, sys.argv[4])
handle = tier.lock(key)
with open(log, "a") as fh:
    fh.write(f"in {time.time():.3f}\\n")
time.sleep(0.8)
with open(log, "a") as fh:
    fh.write(f"out {time.time():.3f}\\n")
if handle is not None:
    tier.unlock(handle)
"""


def test_url_tier_leases_let_one_machine_compute_a_key_at_a_time(tmp_path):
    """Three processes (machines) take one key's lease on a file:// tier at once: their
    critical sections do not overlap; a stale lease (a holder that died) is taken over; a
    waiter stops waiting once the entry is published."""
    from stratum.cache import cache

    url = f"file://{tmp_path / 'tier'}"
    secret = os.urandom(32)
    key = "ab" + "0123456789abcdef0123456789abcd"
    log = tmp_path / "log"
    env = dict(difftest.build_env("plain", None), TIER_SECRET=secret.hex())
    procs = [subprocess.Popen([sys.executable, "-c", LEASE_WORKER, url, key, str(log),
                               str(tmp_path / f"local{i}")], env=env) for i in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    events = [ln.split() for ln in log.read_text().splitlines()]
    assert [e[0] for e in events] == ["in", "out"] * 3, events  # one holder at a time
    # a lease whose holder died long ago is taken over at once
    cache.set_shared_secret(url, secret)
    tier = cache.SharedTier.open(url, tmp_path / "local-x")
    lease = f"{tier.root}/locks/{key}"
    tier.fs.pipe_file(lease, f"gone:1:x {time.time() - 2 * cache.LEASE_SECONDS:.3f}".encode())
    t0 = time.time()
    handle = tier.lock(key)
    assert handle is not None and time.time() - t0 < 5
    # held by a live other: a waiter returns (None) as soon as the entry is published
    tier.fs.pipe_file(lease, f"other:2:y {time.time():.3f}".encode())
    assert tier.publish(key, [b"entry bytes"])
    assert tier.lock(key) is None
