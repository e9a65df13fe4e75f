"""Cost of the merged graph: recording with and without merging, loading, predicting, drawing.

    PYTHONPATH=. python bench/merged.py [--runs 200] [--nodes 300]

Synthetic traces shaped like an agent session: every script shares a prefix (read, features),
each script has its own middle, each run its own tail and a few sinks.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from stratum.trace import graphview
from stratum.trace import mergestore
from stratum.engine.engine import Node
from stratum.trace.merged import MergedGraph
from stratum.trace.store import TraceStore


def trace(run: int, script: int, n: int) -> list[Node]:
    nodes, prev = [], None
    for seq in range(n):
        part = seq / n
        if part < 0.5:
            key = f"prefix-{seq}"
        elif part < 0.83:
            key = f"s{script}-{seq}"
        elif seq % 10 == 0:
            key = None
        else:
            key = f"r{run}-{seq}"
        effect = "sink" if key is None else "pure"
        nodes.append(Node(seq, key, f"mod.Op{seq % 17}", f"s{script}.py:{seq}",
                          [prev] if prev else [], [], "DataFrame", 0.001 * (seq % 7 + 1),
                          800, effect, seq % 3 == 0, None, None))
        prev = key or prev
    return nodes


def run_dict(run: int, script: int) -> dict:
    return {"script": f"/agent/s{script}.py", "argv": [], "cwd": "/agent", "started": run,
            "seconds": 1.0, "exit_code": 0, "reused": 0, "executed": 0, "saved": 0.0,
            "versions": ""}


@contextmanager
def merging(on: bool):
    saved = mergestore.merge_run, mergestore.catch_up
    if not on:
        mergestore.merge_run = lambda *a, **k: None
        mergestore.catch_up = lambda *a, **k: 0
    try:
        yield
    finally:
        mergestore.merge_run, mergestore.catch_up = saved


def median_time(fn, repeat: int = 7) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--nodes", type=int, default=300)
    ap.add_argument("--scripts", type=int, default=20)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="b5-bench-") as tmp:
        plain_dir, merged_dir = Path(tmp, "plain"), Path(tmp, "merged")
        plain_dir.mkdir()
        merged_dir.mkdir()
        # Interleave the two so both see the same machine noise.
        plain_t, merged_t = [], []
        step = 20
        for start in range(0, ns.runs, step):
            for on, d, acc in ((False, plain_dir, plain_t), (True, merged_dir, merged_t)):
                with merging(on):
                    store = TraceStore(d)
                    for r in range(start, min(ns.runs, start + step)):
                        nodes = trace(r, r % ns.scripts, ns.nodes)
                        t0 = time.perf_counter()
                        store.record(run_dict(r, r % ns.scripts), nodes)
                        acc.append(time.perf_counter() - t0)
                    store.close()
        pm, mm = statistics.median(plain_t), statistics.median(merged_t)
        print(f"record one run of {ns.nodes} nodes: {pm * 1e3:.2f} ms without merging, "
              f"{mm * 1e3:.2f} ms with merging (x{mm / pm:.2f})")
        store = TraceStore(merged_dir)
        g = MergedGraph.load(store)
        print(f"merged graph: {len(g.nodes)} nodes, {len(g.edges)} edges from {g.n_runs} runs")
        t = median_time(lambda: MergedGraph.load(store).nodes)
        print(f"MergedGraph.load(store).nodes (every run, {len(g.nodes)} nodes): {t * 1e3:.2f} ms")
        sel = list(range(1, 11))
        n_sel = len(MergedGraph.load(store, runs=sel).nodes)
        t = median_time(lambda: MergedGraph.load(store, runs=sel).nodes)
        print(f"MergedGraph.load(store, runs=10 ids).nodes ({n_sel} nodes): {t * 1e3:.2f} ms")
        t = median_time(lambda: MergedGraph.load(store).predict("/agent/s3.py"))
        p = g.predict("/agent/s3.py")
        print(f"MergedGraph.load(store).predict(script) ({len(p.nodes)} nodes, graph not "
              f"loaded): {t * 1e3:.2f} ms")
        t = median_time(lambda: g.predict("/agent/s3.py"))
        print(f"predict on a loaded graph: {t * 1e3:.2f} ms")
        t = median_time(lambda: graphview.to_html(g), repeat=3)
        print(f"to_html (capped at 500 drawn nodes): {t * 1e3:.1f} ms")
        store.close()
        # Backfill: a store whose merged tables are gone is rebuilt on open.
        with merging(True):
            db = TraceStore(plain_dir).db
            for table in ("merged_meta", "merged_nodes", "merged_edges", "merged_members",
                          "merged_scripts"):
                db.execute(f"DELETE FROM {table}")
            db.close()
            t0 = time.perf_counter()
            TraceStore(plain_dir).close()
            print(f"backfill of {ns.runs} runs on first open: "
                  f"{(time.perf_counter() - t0) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
