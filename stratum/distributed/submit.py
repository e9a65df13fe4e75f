"""``Client(cluster="tcp://HOST:8786")``: the submission API (``stratum.server.client``) with
its runs on a Dask cluster; ``from stratum.client import Client`` is this class.

Each run is a task (``pure=False``, ``retries=2``) run by the warm stratum process of a worker:
the task, worker plugin, settings and trace recording of ``python -m stratum run --cluster``
(``client.connect``, ``client.submit``, ``client.record``; docs/distributed.md). The run is
the one the local Client makes (a code string runs as ``__main__`` named ``filename``, nothing
written where it "is"; ``argv``, ``stdin``, ``cwd``, ``timeout``, ``memory``), on a worker that
must see ``cwd`` and the script at the same paths (a shared filesystem, as for ``run
--cluster``); its environment is the worker's plus this process's ``STRATUM_*`` settings
(``env=`` is refused: it describes this machine). The :class:`Result` is the same, with
``worker`` set; ``run_id`` is the run in this machine's trace store; ``served``: a warm fork
(False: the worker ran it in a fresh interpreter, as a local batch would). A run the cluster
could not run at all (no scheduler, or every attempt failed in Dask's or stratum's machinery)
runs here cold, ``reason`` saying why (``fallback=False``: the error is raised). ``submit``
sends the task at once, so the cluster runs as many at a time as its workers have threads;
a thread of this process waits for each. Without ``cluster`` it is the local Client.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path

from stratum.distributed import client as dclient
from stratum.server import client as server_client


class Client(server_client.Client):
    """See the module; the arguments are the local Client's, plus ``cluster`` (a scheduler
    address) and ``cache_dir`` then meaning this machine's cache (its trace store, and the
    shared tier's secret handed to the workers)."""

    def __init__(self, cache_dir: str | None = None, fallback: bool = True,
                 wait: float | None = None, max_workers: int | None = None,
                 cluster: str | None = None):
        super().__init__(cache_dir, fallback, wait, max_workers)
        self.cluster = cluster
        self._dask = None  # the distributed.Client of ``cluster``, made at the first run
        self._settings = None
        self._recorder = None  # dclient.Recorder: one open trace store for every result

    def run(self, code_or_path: str, argv=(), stdin: bytes | str | None = None,
            cwd: str | None = None, timeout: float | None = None, memory: int | None = None,
            filename: str = "runfile.py", env: dict | None = None) -> server_client.Result:
        if not self.cluster:
            return super().run(code_or_path, argv, stdin, cwd, timeout, memory, filename, env)
        return self._finish(self._send(code_or_path, argv, stdin, cwd, timeout, memory,
                                       filename, env))

    def submit(self, code_or_path: str, **kwargs):
        if not self.cluster:
            return super().submit(code_or_path, **kwargs)
        sent = self._send(code_or_path, **kwargs)  # on the cluster now
        return self.pool().submit(self._finish, sent)

    def close(self) -> None:
        super().close()
        if self._dask is not None:
            self._dask.close()
            self._dask = None
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def _send(self, code_or_path, argv=(), stdin=None, cwd=None, timeout=None, memory=None,
              filename="runfile.py", env=None) -> tuple:
        """Submit the run as a task: (its future, what a cold run here would need)."""
        if env is not None:
            raise ValueError("Client(cluster=...): env= describes this machine; a run on a "
                             "worker has the worker's environment and this process's STRATUM_*")
        from stratum.distributed import plugin

        cwd = os.path.abspath(cwd or os.getcwd())
        target, _shown = server_client.run_target(code_or_path, cwd, filename)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        job = {"script": target[1], "cwd": cwd, "flags": [], "argv": [str(a) for a in argv],
               "digest": plugin.digest(os.path.join(cwd, target[1]))
               if target[0] == "script" else None,
               "code": target[2] if target[0] == "code" else None, "stdin": stdin,
               "timeout": timeout, "memory": memory}
        local = (target, list(argv), stdin, cwd, timeout, memory)
        try:
            dask, _settings = self._connect()
            return dclient.submit(dask, job, f"stratum-submit-{uuid.uuid4().hex}"), local, None
        except Exception as exc:  # noqa: BLE001 - no distributed, no scheduler, no worker
            if not self.fallback:
                raise
            return None, local, f"the cluster at {self.cluster} cannot be used ({exc})"

    def _connect(self):
        with self._lock:
            if self._dask is None:
                from stratum.config import Settings

                settings = Settings.from_env()
                if self.cache_dir:
                    settings = replace(settings, cache_dir=Path(self.cache_dir))
                self._dask = dclient.connect(self.cluster, settings)
                self._settings = settings
                self._recorder = dclient.Recorder(settings)
            return self._dask, self._settings

    def _finish(self, sent) -> server_client.Result:
        """The task's outcome as a :class:`Result` (a cold run here if it failed)."""
        future, local, why = sent
        if future is not None:
            try:
                res = future.result()
            except Exception as exc:  # noqa: BLE001 - every attempt failed in the machinery
                if not self.fallback:
                    raise
                why = f"the cluster could not run it ({exc!r})"
            else:
                if not res.get("unavailable"):
                    return self._result(res)
                why = f"the cluster cannot run it: {res['unavailable']}"
                if not self.fallback:
                    raise RuntimeError(why)
        env = dict(os.environ)
        return self._cold(*local[:4], env, *local[4:], why)

    def _result(self, res: dict) -> server_client.Result:
        from stratum.config import warn_once

        if res.get("tier_error"):
            warn_once("cluster-tier", f"shared cache tier unusable on worker "
                                      f"{res.get('worker')} ({res['tier_error']}); it caches "
                                      "locally only")
        got = res.get("result") or {}
        reused, executed = got.get("reused"), got.get("executed")
        warm = res["mode"] == "warm"
        return server_client.Result(
            res["stdout"], res["stderr"], res["exit_code"], res["seconds"], warm, reused,
            None if reused is None or executed is None else reused + executed,
            self._recorder.record(res), bool(res.get("timed_out")),
            None if warm else "a fresh interpreter on the worker", res.get("worker"))
