"""``python -m stratum run --cluster ADDRESS s1.py s2.py ...``: a batch as tasks of a Dask cluster.

The same command as a local ``run`` (``stratum.batch.job``: its options, plan, output files,
progress lines, summary.json and table), with the scripts sent to the cluster: one task per
script (``pure=False``: a script is run every time it is asked for; ``retries=2``; a worker
that dies has its tasks run elsewhere by the scheduler), placed by ``placement`` and run by
the worker plugin (``plugin``) in a fork of that worker's warm stratum process. Each task
returns the script's stdout / stderr bytes, exit code and trace; this process writes them where
a local ``run`` writes them and records the trace in its own store, so ``trace merged`` and the
next batch's plan see the whole cluster's runs. A script the cluster could not run at all
(every attempt failed in stratum's or Dask's machinery) runs here as ``python -m stratum``, as a
local batch does when its warm parent fails.

``connect``, ``submit`` and ``record`` are what ``Client(cluster=ADDRESS)``
(``stratum.server.client``) shares with this command: the same plugin and settings, the same
task, the same trace recording.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path


def main(argv: list[str]) -> int:
    from stratum.batch import job

    ns = job.parser().parse_args(argv)
    try:
        import distributed  # noqa: F401 - present? (``connect`` uses it)
    except ImportError:
        sys.stderr.write("stratum run: --cluster needs Dask's distributed package: "
                         "pip install 'stratum[dask]'\n")
        return 2
    got = job.prepare(ns)
    if isinstance(got, int):
        return got
    settings, flags, plans, work, out_dir, files = got
    t0 = time.perf_counter()
    try:
        client = connect(ns.cluster, settings)
    except (OSError, TimeoutError, ValueError) as exc:
        sys.stderr.write(f"stratum run: cannot reach the Dask scheduler at {ns.cluster} "
                         f"({exc})\n")
        shutil.rmtree(work, ignore_errors=True)
        return 2
    try:
        return _run(client, ns, settings, flags, plans, files, out_dir, t0)
    finally:
        client.close()
        shutil.rmtree(work, ignore_errors=True)


class _State:
    """What the summary table of ``stratum.batch.job`` shows about the batch."""

    def __init__(self, t0, workers, threads):
        self.t0 = t0
        self.jobs = threads
        self.where = f"{len(workers)} Dask workers, {threads} threads"
        self.dryrun = None
        self.shared: dict = {}
        self.import_seconds = 0.0
        self.preloaded: list[str] = []
        self.caption = ""


def connect(address: str, settings, timeout: float = 30):
    """A ``distributed.Client`` of the scheduler at ``address`` with stratum's worker plugin
    registered (``StratumPlugin``: this process's ``STRATUM_*`` settings but the machine-local
    ones, the shared tier's secret, the client's values of the variables a nanny changes) and
    at least one worker. ImportError without Dask's distributed; OSError, TimeoutError or
    ValueError if the cluster cannot be reached."""
    import distributed

    from stratum.distributed import plugin

    secret = None
    if settings.cache_shared and settings.cache_enabled and not settings.disabled:
        from stratum.cache import cache
        from stratum.config import CacheDirError

        try:
            secret = cache.shared_secret(settings.cache_dir).hex()
        except CacheDirError as exc:
            sys.stderr.write(f"stratum: no secret for the shared cache tier ({exc}); "
                             "the workers cache locally only\n")
    env = {k: v for k, v in os.environ.items()
           if k.startswith("STRATUM_") and k not in plugin.LOCAL_SETTINGS}
    if secret is None:
        env.pop("STRATUM_CACHE_SHARED", None)
    plain_env = {k: os.environ.get(k) for k in plugin.nanny_variables()}
    client = distributed.Client(address, timeout=timeout, set_as_default=False)
    try:
        client.register_plugin(plugin.StratumPlugin(env, secret, plain_env), name=plugin.NAME)
        client.wait_for_workers(1, timeout=120)
    except BaseException:
        client.close()
        raise
    return client


def submit(client, job: dict, key: str, **where):
    """One run as a task (``plugin.run_script``): ``pure=False`` (run every time it is asked
    for), ``retries=2`` (a worker that dies has it run elsewhere)."""
    from stratum.distributed import plugin

    return client.submit(plugin.run_script, job, pure=False, retries=2, key=key, **where)


def _run(client, ns, settings, flags, plans, files, out_dir, t0) -> int:
    import json

    from distributed import as_completed

    from stratum.batch import job
    from stratum.distributed import placement, plugin

    info = client.scheduler_info()["workers"]
    workers = sorted(info)
    threads = sum(int(w.get("nthreads", 1)) for w in info.values())
    where = placement.place(plans, workers)
    cwd = os.getcwd()
    tag = uuid.uuid4().hex[:8]
    futures = {}
    for p in plans:
        pin = {"workers": [where[p.index]], "allow_other_workers": True} \
            if p.index in where else {}
        fut = submit(client, {"script": p.script, "cwd": cwd, "flags": flags,
                              "digest": plugin.digest(p.path)},
                     f"stratum-run-{tag}-{p.index}", **pin)
        futures[fut] = p.index
    n = len(plans)
    state = _State(t0, workers, threads)
    results: list[dict | None] = [None] * n
    counts: list[tuple | None] = [None] * n
    run_ids: list = [None] * n  # slots of the recorder (batched imports of the traces)
    recorder = Recorder(settings)
    tier_errors: dict[str, list[str]] = {}
    imports = []
    done = 0
    for fut, res in as_completed(list(futures), with_results=True, raise_errors=False,
                                 loop=client.loop):
        i = futures[fut]
        if isinstance(res, dict) and res.get("unavailable"):
            res = _run_here(plans[i], flags, files, i, res["unavailable"])
        elif isinstance(res, BaseException) or not isinstance(res, dict):
            res = _run_here(plans[i], flags, files, i, repr(res))
        results[i] = res
        _write(files["stdout"][i], res["stdout"])
        _write(files["stderr"][i], res["stderr"])
        got = res.get("result") or None
        if got:
            counts[i] = (int(got.get("reused", 0)), int(got.get("executed", 0)))
        run_ids[i] = recorder.add(res)
        if recorder.due():
            recorder.flush()
        if res.get("tier_error"):
            tier_errors.setdefault(res["tier_error"], []).append(res.get("worker") or "?")
        if res.get("import_seconds") is not None:
            imports.append(res["import_seconds"])
        done += 1
        sys.stderr.write(job.Lines.line(done, n, plans[i].script, res["exit_code"],
                                        res["seconds"], counts[i]) + "\n")
        sys.stderr.flush()
    recorder.close()
    run_ids = [slot[0] for slot in run_ids]
    rows = []
    for i, p in enumerate(plans):
        res = results[i]
        rows.append({
            "script": p.script,
            "stdout": files["stdout"][i],
            "stderr": files["stderr"][i],
            "exit_code": res["exit_code"],
            "seconds": round(res["seconds"], 4),
            "reused": counts[i][0] if counts[i] else 0,
            "executed": counts[i][1] if counts[i] else 0,
            "run_id": run_ids[i],
            "mode": res["mode"],
            "prediction": p.basis,
            "worker": res.get("worker"),
        })
    if ns.out:
        with open(os.path.join(out_dir, "summary.json"), "w") as fh:
            json.dump(rows, fh, indent=1)
            fh.write("\n")
    else:
        job.print_outputs(rows)
    used = sorted({r["worker"] for r in rows if r["worker"]})
    state.caption = (f"warm stratum process per worker started in at most "
                     f"{max(imports, default=0.0):.2f}s; {len(where)} scripts placed by shared "
                     f"prefix; ran on {len(used)} of {len(workers)} workers")
    job.print_table(rows, state, None, ns.explain)
    for why, who in tier_errors.items():
        sys.stderr.write(f"stratum: shared cache tier unusable on {len(set(who))} worker(s) "
                         f"({why}); they cached locally only\n")
    return 0 if all(r["exit_code"] == 0 for r in rows) else 1


def _run_here(plan, flags, files, i, why: str) -> dict:
    """The cluster could not run this script: run it here, as python -m stratum."""
    sys.stderr.write(f"stratum run: the cluster could not run {plan.script} ({why}); "
                     "running it here\n")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "stratum", *flags, plan.script],
                          stdin=subprocess.DEVNULL, capture_output=True)
    return {"stdout": proc.stdout, "stderr": proc.stderr, "exit_code": proc.returncode,
            "seconds": time.perf_counter() - t0, "mode": "exec", "worker": None,
            "result": None, "trace": None}


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


class Recorder:
    """Imports the traces runs on the cluster recorded into this machine's trace store, through
    one open store and in batches: ``add`` queues a run (returns a slot), ``flush`` imports
    what is queued in one transaction and fills the slots' run ids. A batch flushes every
    ``BATCH`` runs or ``WAIT`` seconds and at its end; a ``Client(cluster=)`` after each run
    (its result carries the id). Thread-safe (a Client's futures finish on other threads)."""

    BATCH = 32
    WAIT = 0.5

    def __init__(self, settings):
        self.settings = settings
        self._store = None
        self._pending: list[tuple[dict, list]] = []
        self._since = 0.0
        self._lock = threading.Lock()

    def add(self, res: dict) -> list:
        """A slot ``[run_id]``: the worker's own id when it recorded into this very store, else
        None until the flush that imports the run."""
        got = res.get("result") or {}
        if res.get("trace") is None or _same_store(self.settings, res):
            return [got.get("run_id") if _same_store(self.settings, res) else None]
        slot = [None]
        with self._lock:
            if not self._pending:
                self._since = time.monotonic()
            self._pending.append((res["trace"], slot))
        return slot

    def due(self) -> bool:
        with self._lock:
            return bool(self._pending) and (len(self._pending) >= self.BATCH or
                                            time.monotonic() - self._since >= self.WAIT)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            try:
                if self._store is None:
                    from stratum.config import prepare_cache_dir
                    from stratum.trace.store import TraceStore

                    prepare_cache_dir(Path(self.settings.cache_dir))  # maybe its first use
                    self._store = TraceStore(self.settings.cache_dir)
                ids = self._store.import_runs([trace for trace, _ in pending])
            except Exception as exc:  # noqa: BLE001 - a record, not the run's output
                from stratum.config import warn_once

                warn_once("cluster-trace", f"could not record a worker's trace here ({exc})")
                return
            for (_, slot), run_id in zip(pending, ids):
                slot[0] = run_id

    def record(self, res: dict):
        """Import one run now; its id here (None if it could not be recorded)."""
        slot = self.add(res)
        self.flush()
        return slot[0]

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _same_store(settings, res) -> bool:
    import socket

    return res.get("host") == socket.gethostname() and \
        res.get("cache_dir") == os.path.realpath(settings.cache_dir)
