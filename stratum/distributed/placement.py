"""Which worker each script of a cluster batch goes to.

Scripts the batch plan (``stratum.batch.plan.predict``, from the merged graph of past runs)
predicts to compute the same costly nodes form a group; a group goes to one worker, so the
prefix is computed once there and reused from that machine's local cache, instead of read
from the shared tier by every other machine (or waited for on its lock). A group holds at most
its fair share of the batch (``ceil(scripts / workers)``) per worker, so a batch whose scripts
all share one prefix is still spread over the cluster (the shared tier then carries the
prefix); the rest go where Dask puts them. The restriction is loose
(``allow_other_workers=True``): a worker that dies or lags does not hold its scripts.

What grouping saves, per shared node, is measured from the merged graph: its recorded seconds
(a script on another machine would wait that long on the tier's lock while the first computes
it, its worker idle, or compute it again where the lock does not hold) plus moving its value
there, its recorded size over the cluster's bandwidth (Dask's own estimate,
``distributed.scheduler.bandwidth``, 100 MB/s unless configured). Scripts are grouped when
their shared nodes save at least ``GROUP_SECONDS`` together: a large value that is cheap to
compute (a big frame read from a file) groups its scripts as a costly fit does, a small cheap
one does not (docs/distributed.md).
"""
from __future__ import annotations

import math

#: Shared predicted seconds above which scripts are grouped on one worker.
GROUP_SECONDS = 0.25
#: Nodes saving less than this (seconds, moving included) are not counted as shared work.
COSTLY = 0.01
#: Bytes per second a value moves between machines when Dask's config does not say.
BANDWIDTH = 100e6


def bandwidth() -> float:
    """The cluster's bandwidth estimate: Dask's ``distributed.scheduler.bandwidth``."""
    try:
        import dask

        return float(dask.config.get("distributed.scheduler.bandwidth", BANDWIDTH)) or BANDWIDTH
    except Exception:  # noqa: BLE001 - no dask here, or an odd setting
        return BANDWIDTH


def saving(seconds: float, nbytes: int, rate: float) -> float:
    """Seconds one node saves a second script on the same machine: waiting for (or redoing)
    its computation, and moving its value."""
    return seconds + nbytes / rate


def groups(plans, rate: float = BANDWIDTH) -> list[list[int]]:
    """Indices of scripts sharing predicted nodes that save at least ``GROUP_SECONDS``
    together when on one machine (each list sorted, lists by size); ``rate``: bytes/second."""
    parent = list(range(len(plans)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    cost: dict[str, float] = {}
    for p in plans:
        for key, seconds in p.nodes:
            worth = saving(seconds, p.sizes.get(key, 0), rate)
            if worth < COSTLY:
                continue
            cost[key] = max(cost.get(key, 0.0), worth)
            if key in owner:
                parent[find(p.index)] = find(owner[key])
            else:
                owner[key] = p.index
    shared: dict[int, float] = {}
    users: dict[str, set[int]] = {}
    for p in plans:
        for key, _ in p.nodes:
            if key in cost:
                users.setdefault(key, set()).add(p.index)
    for key, who in users.items():
        if len(who) > 1:
            root = find(next(iter(who)))
            shared[root] = shared.get(root, 0.0) + cost[key]
    out: dict[int, list[int]] = {}
    for p in plans:
        root = find(p.index)
        if shared.get(root, 0.0) >= GROUP_SECONDS:
            out.setdefault(root, []).append(p.index)
    return sorted((sorted(g) for g in out.values() if len(g) > 1), key=lambda g: (-len(g), g))


def place(plans, workers: list[str], rate: float | None = None) -> dict[int, str]:
    """Script index -> worker address for the grouped scripts (the others are free)."""
    if len(workers) < 2 or not plans:
        return {}
    cap = math.ceil(len(plans) / len(workers))
    load = {w: 0 for w in workers}
    out: dict[int, str] = {}
    for group in groups(plans, bandwidth() if rate is None else rate):
        rest = list(group)
        while rest:
            worker = min(workers, key=lambda w: (load[w], workers.index(w)))
            room = cap - load[worker]
            if room <= 0:
                break
            take, rest = rest[:room], rest[room:]
            for i in take:
                out[i] = worker
            load[worker] += len(take)
    return out
