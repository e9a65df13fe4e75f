"""A batch on a Dask cluster: ``python -m stratum run --cluster ADDRESS s1.py s2.py ...``.

Why a layer of its own: a batch (``stratum.batch``) runs on one machine, from one warm parent
it forks; here each script becomes a Dask task, and each Dask worker keeps one long-lived warm
stratum process (``server``) that imports the libraries once and forks one run per task, as a
local batch's warm parent does (it reuses ``stratum.batch.warm`` and ``stratum.batch.worker``,
so a run on a worker is the run ``stratum run`` makes locally). Dask only moves small messages
(the script's path, its cwd and flags; its output bytes back); values move through the cache's
shared tier (``STRATUM_CACHE_SHARED``, ``stratum.cache.cache``), and the placement
(``placement``) sends scripts predicted to share a costly prefix to the same worker.

- ``client``: the ``run --cluster`` command (plan, placement, submit, gather, outputs).
- ``plugin``: the Dask worker plugin and the task function (runs inside the Dask worker).
- ``server``: the warm process on a worker machine (no Dask in it; started by the plugin).
- ``placement``: which scripts go to which worker.

The scripts' folder must be on a filesystem every worker sees at the same path (NFS, or one
machine): tasks carry paths, not files (docs/distributed.md).
"""
