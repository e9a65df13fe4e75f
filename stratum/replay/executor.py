"""Run a graph of operations on the native executor (``native/src/executor.rs``).

A node is a Python callable or a native kernel applied to the values of earlier nodes.
Independent nodes run concurrently on a thread pool (Python nodes take the GIL, native kernels
run without it); each intermediate is freed at its last use and, above ``memory_budget`` bytes,
spilled through ``spill`` (see :class:`CacheSpill`) and reloaded when needed.

    g = Graph()
    a = g.add("load", load_frame)
    b = g.add("fit", fit_model, [a])
    values, stats = run(g, [b], jobs=2)
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

from stratum import _native

#: Native kernels by name -> number of inputs.
KERNELS: dict[str, int] = dict(_native.executor_kernels())


@dataclass
class Graph:
    """Nodes in the order they were added; a node's inputs are nodes added before it."""

    ops: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    impls: list = field(default_factory=list)
    keys: list = field(default_factory=list)

    def add(self, op: str, fn, inputs=(), key: str | None = None) -> int:
        """Add a node computing ``fn(*values of inputs)``; returns its id.

        ``fn`` is a callable, or the name of a native kernel (``KERNELS``) that takes float64
        arrays. ``key`` names the value in the spill store (a lineage key when there is one).
        """
        inputs = [int(i) for i in inputs]
        nid = len(self.ops)
        for i in inputs:
            if not 0 <= i < nid:
                raise ValueError(f"node {op!r}: input {i} is not an earlier node")
        if isinstance(fn, str):
            if fn not in KERNELS:
                raise ValueError(f"no native kernel named {fn!r} (have {sorted(KERNELS)})")
            if KERNELS[fn] != len(inputs):
                raise ValueError(f"native kernel {fn} takes {KERNELS[fn]} inputs, got {len(inputs)}")
        elif not callable(fn):
            raise TypeError(f"node {op!r}: fn must be callable or a kernel name")
        self.ops.append(str(op))
        self.inputs.append(inputs)
        self.impls.append(fn)
        self.keys.append(key)
        return nid

    def const(self, value, op: str = "const") -> int:
        """A node whose value is ``value``."""
        return self.add(op, lambda: value)

    def __len__(self) -> int:
        return len(self.ops)


class CacheSpill:
    """Spill store backed by a stratum cache (``Cache.put`` / ``Cache.get``).

    Spilled values are written as if infinitely costly, so admission never refuses them for
    being cheap; a cache refusing one (too big, unpicklable) leaves it in memory. For real
    memory relief the cache's own memory layer should be off (``memory_budget=0``).
    """

    def __init__(self, cache):
        self.cache = cache

    def put(self, key: str, value) -> bool:
        return bool(self.cache.put(key, value, float("inf")))

    def get(self, key: str):
        found, value = self.cache.get(key)
        if not found:
            raise LookupError(f"spilled value {key} is no longer in the cache")
        return value


def nbytes(value) -> int:
    """Memory a value holds, cheaply: buffer sizes of arrays and frames, 0 if unknown."""
    n = getattr(value, "nbytes", None)
    if isinstance(n, int):
        return n
    blocks = getattr(getattr(value, "_mgr", None), "blocks", None)
    if blocks is not None:
        return sum(getattr(b.values, "nbytes", 0) or 0 for b in blocks)
    return 0


def run(graph: Graph, outputs, jobs: int | None = None, memory_budget: int | None = None,
        spill=None, errors: str = "raise"):
    """Execute the nodes ``outputs`` depend on; return ``({output id: value}, stats)``.

    ``stats``: ``nodes`` (per node: op, kind, status ok/error/cancelled, start, end, seconds,
    thread, gil held by a native kernel), ``peak_bytes``, ``spills``, ``reloads``, ``frees``,
    ``errors`` ([(node id, exception)]). With ``errors="raise"`` the first failing node's own
    exception (lowest id) is raised once every runnable node has finished; nodes depending on a
    failed node are cancelled, the others complete.
    """
    outputs = [int(o) for o in outputs]
    jobs = jobs or os.cpu_count() or 1
    run_tag = uuid.uuid4().hex
    keys = [k if k is not None else _spill_key(run_tag, i) for i, k in enumerate(graph.keys)]
    nodes = list(zip(graph.ops, graph.inputs, graph.impls, keys))
    put = get = None
    if spill is not None and memory_budget is not None:
        put, get = spill.put, spill.get
    values, stats, errs = _native.execute_graph(nodes, outputs, jobs, nbytes, memory_budget,
                                                put, get)
    stats["errors"] = errs
    if errs and errors == "raise":
        raise errs[0][1]
    return values, stats


def _spill_key(tag: str, i: int) -> str:
    return f"{int(tag, 16) ^ i:032x}"
