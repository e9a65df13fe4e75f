"""A local Dask cluster in processes of its own, for tests/test_distributed.py and
bench/distributed.py: ``dask scheduler`` and one ``dask worker`` (a nanny and its worker
process, one thread) per entry of ``workers``, each with its own environment (its own
``STRATUM_CACHE_DIR``), started as a user would start them.

Not ``LocalCluster`` / ``SpecCluster`` in the test process: their nannies run in the calling
process and write ``distributed.nanny.pre-spawn-environ`` (``OMP_NUM_THREADS=1``, ...) into its
``os.environ``, which every later plain run the tests compare with would inherit.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class Cluster:
    def __init__(self, root: Path, workers: dict[str, dict], timeout: float = 120):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        file = self.root / "scheduler.json"
        base = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
        try:
            self._start([sys.executable, "-m", "distributed.cli.dask_scheduler",
                         "--scheduler-file", str(file), "--port", "0", "--no-dashboard",
                         "--host", "127.0.0.1"], base, "scheduler")
            deadline = time.time() + timeout
            while not file.exists() and time.time() < deadline:
                time.sleep(0.1)
            self.address = json.loads(file.read_text())["address"]
            for name, env in workers.items():
                self._start([sys.executable, "-m", "distributed.cli.dask_worker",
                             "--scheduler-file", str(file), "--nthreads", "1",
                             "--nworkers", "1", "--memory-limit", "0", "--no-dashboard",
                             "--name", name, "--host", "127.0.0.1"],
                            {**base, **env}, f"worker-{name}")
        except BaseException:
            self.close()
            raise

    def _start(self, cmd, env, name) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=log,
                                           stdin=subprocess.DEVNULL, start_new_session=True))
        log.close()

    def close(self) -> None:
        """Workers first, then the scheduler: SIGTERM, then SIGKILL of each one's process
        group (its nanny's worker process) after 30 s."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
        self.procs = []
