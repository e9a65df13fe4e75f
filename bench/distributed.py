"""A batch on a Dask cluster (issue 16): ``stratum run --cluster`` on a 2-worker local cluster vs
local ``stratum run --jobs 2`` vs plain python one script after another.

The batch is bench/cpu_mix.py's mixed batch (its data and scripts: OpenMP / BLAS fits, single-
threaded fits, EDA; ``--quick``: 8 scripts, 6,000 rows). Per repeat, medians over ``--repeat``:

- plain: ``python s.py`` for every script, one after the other;
- local: ``python -m stratum run --jobs 2 --out DIR`` on an empty cache;
- cluster: ``python -m stratum run --cluster ADDRESS --out DIR`` on a fresh cluster of two
  worker processes (one thread each; each its own empty local cache, one shared tier), so the
  warm stratum process of each worker starts inside the measured time, as the local batch's
  warm parent does. Starting the cluster itself is not measured.

Both workers run on this machine: they share its cores and its CPU budget, so "cluster" here
measures the machinery's cost (scheduler round trips, a warm process per worker, the shared
tier), not the gain of more machines. For the on-paper estimate of 100 machines
(bench/RESULTS.md) it also measures, on the same cluster:

- ``task_ms``: a round trip of a trivial Dask task (``pure=False``), submitted 200 at once;
- ``noop_ms``: ``run --cluster`` of 40 scripts that only ``pass``, per script (task + fork of
  the warm process + the script's outputs and trace back to the client);
- ``tier_bytes``: bytes the batch left in the shared tier, per script; ``tier_mb_s``: copying
  them (read, MAC check, local write) as a local miss does, in MB/s.

Every script's stdout, stderr and exit code in both batches must equal its plain run byte for
byte (checked in every repeat); any difference is printed and the exit status is 1.

    python bench/distributed.py [--quick] [--repeat 3] [--scripts N] [--rows N] [--json F]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import cpu_mix  # noqa: E402
import daskcluster  # noqa: E402
import difftest  # noqa: E402

# This file's own name would shadow Dask's ``distributed`` (python puts bench/ first on the path).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.modules.pop("distributed", None)


def start_cluster(base: Path, pool: Path):
    """Two ``dask worker`` processes (1 thread each, own caches, this benchmark's token pool)
    and a scheduler, in processes of their own (tests/daskcluster.py)."""
    import distributed

    pythonpath = difftest.build_env("plain", None)["PYTHONPATH"]
    cluster = daskcluster.Cluster(base / "cluster", {
        name: {"STRATUM_CACHE_DIR": str(base / f"cache-{name}"), "PYTHONHASHSEED": "0",
               "STRATUM_CPU_DIR": str(pool), "PYTHONPATH": pythonpath}
        for name in ("a", "b")})
    try:
        client = distributed.Client(cluster.address, set_as_default=False)
        client.wait_for_workers(2, timeout=120)
    except BaseException:
        cluster.close()
        raise
    return cluster, client


def cluster_batch(work, scripts, env, address, out):
    if out.exists():
        shutil.rmtree(out)
    seconds, cpu, p = cpu_mix.timed([sys.executable, "-m", "stratum", "run", "--cluster",
                                     address, "--out", str(out), *scripts], work, env)
    if not (out / "summary.json").exists():
        raise SystemExit(f"cluster batch failed (exit {p.returncode}):\n{p.stderr.decode()}")
    return seconds, json.loads((out / "summary.json").read_text())


def task_round_trip(client, n=200) -> float:
    t0 = time.perf_counter()
    futures = [client.submit(abs, -i, pure=False) for i in range(n)]
    client.gather(futures)
    return (time.perf_counter() - t0) / n * 1000


def noop_per_script(work, env, address, base, n=40) -> float:
    folder = work / "noop"
    folder.mkdir()
    for i in range(n):
        (folder / f"noop_{i:02d}.py").write_text("pass\n")
    cluster_batch(work, [f"noop/noop_{i:02d}.py" for i in range(2)], env, address,
                  base / "noop-warm")  # the warm processes exist
    seconds, rows = cluster_batch(work, [f"noop/noop_{i:02d}.py" for i in range(n)], env,
                                  address, base / "noop-out")
    assert all(r["exit_code"] == 0 for r in rows)
    return seconds / n * 1000


def tier_figures(shared: Path, n_scripts: int, base: Path) -> tuple[float, float | None]:
    """Bytes per script in the tier; the copy rate of a local miss (read, MAC, local write)."""
    from stratum.cache import cache

    files = [p for p in (shared / "objects").rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    if not files:
        return 0.0, None
    secret = cache.shared_secret(base / "cache-client")
    cache.set_shared_secret(shared, secret)
    local = cache.Cache(base / "copy-probe", 1 << 40, shared=shared)
    t0 = time.perf_counter()
    for p in files:
        local._copy_from_shared(p.name)  # noqa: SLF001 - the tier copy alone, no unpickling
    seconds = time.perf_counter() - t0
    local.close()
    return total / n_scripts, total / seconds / 1e6


def trace_import_ms(client_cache: Path, base: Path) -> tuple[float, float] | None:
    """What the client spends per result recording a worker's trace (export, then import into
    a fresh store), per run: one transaction per run (``TraceStore.import_run``, as before
    batching), and as ``run --cluster`` now does it (``distributed.client.Recorder``: one open
    store, ``Recorder.BATCH`` runs per transaction)."""
    from stratum.distributed.client import Recorder
    from stratum.trace.store import TraceStore

    src = TraceStore(client_cache)
    try:
        runs = [src.export_run(r["id"]) for r in src.runs(limit=10_000)]
    finally:
        src.close()
    if not runs:
        return None
    out = []
    for batch in (1, Recorder.BATCH):
        folder = base / f"import-probe-{batch}"
        folder.mkdir(mode=0o700)
        dst = TraceStore(folder)
        try:
            t0 = time.perf_counter()
            for i in range(0, len(runs), batch):
                dst.import_runs(runs[i:i + batch])
            out.append((time.perf_counter() - t0) / len(runs) * 1000)
        finally:
            dst.close()
    return out[0], out[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 scripts, 6,000 rows, 1 repeat (CI)")
    ap.add_argument("--scripts", type=int, default=len(cpu_mix.ORDER))
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json")
    ns = ap.parse_args(argv)
    if ns.quick:
        ns.scripts, ns.rows, ns.repeat = 8, 6000, 1
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("skipped: Dask's distributed is not installed (pip install 'stratum[dask]')")
        return 0
    base = Path(tempfile.mkdtemp(prefix="stratum-bench-dask-"))
    work = base / "work"
    work.mkdir()
    cpu_mix.write_data(work, ns.rows)
    scripts = cpu_mix.write_scripts(work, cpu_mix.ORDER[:ns.scripts])
    plain_env = difftest.build_env("plain", None)
    print(f"{len(scripts)} scripts, {ns.rows} rows, 2 workers x 1 thread vs --jobs 2, "
          f"{len(os.sched_getaffinity(0))} cores, load {cpu_mix._load()}", flush=True)
    figures: dict[str, list] = {k: [] for k in ("plain", "local", "cluster", "task_ms",
                                                "noop_ms", "tier_bytes", "tier_mb_s",
                                                "import_ms", "import_batched_ms")}
    problems: list[str] = []
    plain_ref = None
    try:
        for rep in range(ns.repeat):
            seconds, _cpu, plain_ref, _each = cpu_mix.plain_batch(work, scripts, plain_env)
            figures["plain"].append(seconds)
            pool = base / f"pool-{rep}"
            local_env, _ = cpu_mix.stratum_envs(base / f"cache-local-{rep}", pool)
            seconds, _cpu, rows = cpu_mix.stratum_batch(work, scripts, local_env, 2,
                                                        base / "out-local")
            figures["local"].append(seconds)
            problems += cpu_mix.differences("local", cpu_mix.batch_results(rows), plain_ref)
            rep_base = base / f"cluster-{rep}"
            rep_base.mkdir()
            cluster, client = start_cluster(rep_base, pool)
            try:
                env = dict(local_env, STRATUM_CACHE_DIR=str(rep_base / "cache-client"),
                           STRATUM_CACHE_SHARED=str(rep_base / "shared"))
                seconds, rows = cluster_batch(work, scripts, env, cluster.address,
                                              base / "out-cluster")
                figures["cluster"].append(seconds)
                problems += cpu_mix.differences("cluster", cpu_mix.batch_results(rows),
                                                plain_ref)
                tb, rate = tier_figures(rep_base / "shared", len(scripts), rep_base)
                figures["tier_bytes"].append(tb)
                figures["tier_mb_s"].append(rate)
                one, batched = trace_import_ms(rep_base / "cache-client", rep_base) or (0, 0)
                figures["import_ms"].append(one)
                figures["import_batched_ms"].append(batched)
                figures["task_ms"].append(task_round_trip(client))
                figures["noop_ms"].append(noop_per_script(work, env, cluster.address,
                                                          rep_base))
                shutil.rmtree(work / "noop", ignore_errors=True)
            finally:
                client.close()
                cluster.close()
            print(f"repeat {rep + 1}: plain {figures['plain'][-1]:.2f}s, local run "
                  f"{figures['local'][-1]:.2f}s, cluster run {figures['cluster'][-1]:.2f}s; "
                  f"task {figures['task_ms'][-1]:.2f} ms, no-op script "
                  f"{figures['noop_ms'][-1]:.1f} ms, tier {figures['tier_bytes'][-1] / 1e6:.2f}"
                  f" MB/script at {figures['tier_mb_s'][-1] or 0:.0f} MB/s, trace import "
                  f"{figures['import_ms'][-1] or 0:.1f} ms/script one by one, "
                  f"{figures['import_batched_ms'][-1] or 0:.1f} batched; "
                  f"load {cpu_mix._load()}", flush=True)
        cpu_mix.report_differences(problems)
        med = cpu_mix.medians(figures)
        print(f"\nmedians of {ns.repeat}: plain {med['plain']:.2f}s | local run --jobs 2 "
              f"{med['local']:.2f}s ({med['plain'] / med['local']:.2f}x) | cluster run, 2 "
              f"workers {med['cluster']:.2f}s ({med['plain'] / med['cluster']:.2f}x); "
              f"task round trip {med['task_ms']:.2f} ms; per no-op script "
              f"{med['noop_ms']:.1f} ms; tier {med['tier_bytes'] / 1e6:.2f} MB per script, "
              f"copied at {med['tier_mb_s'] or 0:.0f} MB/s; trace import "
              f"{med['import_ms'] or 0:.1f} ms per script one by one, "
              f"{med['import_batched_ms'] or 0:.1f} batched")
        if ns.json:
            Path(ns.json).write_text(json.dumps({"args": vars(ns), "figures": figures,
                                                 "medians": med, "differences": problems},
                                                indent=1) + "\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if problems:
        print(f"\n{len(problems)} output difference(s) from plain python (see above)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
