"""A layered layout of a directed graph, for drawing the merged graph without graphviz.

Longest-path layering (sources pulled down next to their first consumer, unconnected nodes
in a last row), then a few sweeps of
barycentre ordering to cut edge crossings; layers wider than ``max_row`` wrap onto extra rows.
Deterministic: the same graph always gets the same picture.
"""
from __future__ import annotations

from collections import deque


def layered_rows(ids: list[str], edges, max_row: int = 24, sweeps: int = 4) -> list[list[str]]:
    """Rows of node ids, top to bottom; edges mostly point down. Cycles are broken."""
    index = {n: i for i, n in enumerate(ids)}
    succ: dict[str, list[str]] = {n: [] for n in ids}
    pred: dict[str, list[str]] = {n: [] for n in ids}
    for s, d in dict.fromkeys(edges):
        if s != d and s in index and d in index:
            succ[s].append(d)
            pred[d].append(s)
    layer = _layers(ids, succ, pred)
    layers: dict[int, list[str]] = {}
    for n in ids:
        layers.setdefault(layer[n], []).append(n)
    order = [layers[k] for k in sorted(layers)]
    _order(order, succ, pred, sweeps)
    rows = []
    for nodes in order:
        rows.extend(nodes[i:i + max_row] for i in range(0, len(nodes), max_row))
    return rows


def _layers(ids, succ, pred) -> dict[str, int]:
    indeg = {n: len(pred[n]) for n in ids}
    queue = deque(n for n in ids if indeg[n] == 0)
    placed: dict[str, int] = {}
    topo: list[str] = []
    scan = iter(ids)
    while len(topo) < len(ids):
        if not queue:  # a cycle: break it at the earliest node not placed yet
            queue.append(next(n for n in scan if n not in placed))
        n = queue.popleft()
        if n in placed:
            continue
        placed[n] = max((placed[p] + 1 for p in pred[n] if p in placed), default=0)
        topo.append(n)
        for d in succ[n]:
            indeg[d] -= 1
            if indeg[d] == 0 and d not in placed:
                queue.append(d)
    for n in reversed(topo):  # a source sits just above its first consumer
        if not pred[n] and succ[n]:
            placed[n] = max(0, min(placed[d] for d in succ[n]) - 1)
    bottom = max((placed[n] for n in ids if pred[n] or succ[n]), default=-1) + 1
    for n in ids:  # unconnected nodes (a print of a literal) go below the graph
        if not pred[n] and not succ[n]:
            placed[n] = bottom
    return placed


def _order(order: list[list[str]], succ, pred, sweeps: int) -> None:
    pos: dict[str, float] = {}

    def place(nodes):
        mid = (len(nodes) - 1) / 2
        for i, n in enumerate(nodes):
            pos[n] = i - mid

    for nodes in order:
        place(nodes)
    for _ in range(sweeps):
        for rng, nbrs in ((range(1, len(order)), pred), (range(len(order) - 2, -1, -1), succ)):
            for li in rng:
                nodes = order[li]

                def bary(n, nbrs=nbrs):
                    ps = [pos[m] for m in nbrs[n] if m in pos]
                    return sum(ps) / len(ps) if ps else pos[n]

                nodes.sort(key=bary)
                place(nodes)
