"""``python -m stratum trace merged [RUN ...] [--json] [--dot FILE|-] [--html FILE]``."""
from __future__ import annotations

import json
import os
import sys


def add_parser(tsub) -> None:
    text = "all runs stitched into one graph by lineage key"
    p = tsub.add_parser("merged", help=text, description=text[:1].upper() + text[1:] + ".")
    p.add_argument("runs", nargs="*", type=int, metavar="RUN",
                   help="only these run ids (default: every run)")
    p.add_argument("--json", action="store_true", help="nodes and edges with all fields")
    p.add_argument("--dot", metavar="FILE", help="write Graphviz source to FILE ('-': stdout)")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML picture")
    p.add_argument("--cap", type=int, default=500, help="most stages (boxes) drawn in the HTML picture: the most shared and costly "
                   "(default 500)")
    p.add_argument("--top", type=int, default=15, help="rows in the table of shared nodes")


def run(ns, store) -> int:
    from stratum.trace import graphview
    from stratum.trace.merged import MergedGraph

    if ns.runs:
        known = {r for (r,) in store.db.execute(
            f"SELECT id FROM runs WHERE id IN ({','.join('?' * len(ns.runs))})", ns.runs)}
        missing = [r for r in ns.runs if r not in known]
        if missing:
            sys.stderr.write(f"stratum: no recorded run with id {missing[0]}\n")
            return 2  # a usage error, as everywhere a run id is given
    if ns.json and ns.dot == "-":
        sys.stderr.write("stratum: --json and --dot - both write to stdout; choose one\n")
        return 2
    graph = MergedGraph.load(store, ns.runs or None)
    if ns.dot:
        _write(ns.dot, graphview.to_dot(graph))
    if ns.html:
        _write(ns.html, graphview.to_html(graph, cap=max(1, ns.cap)))
    if ns.json:
        json.dump(graph.as_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif ns.dot != "-":
        _summary(graph, ns.top)
        for what, target in (("Graphviz source", ns.dot), ("HTML picture", ns.html)):
            if target:
                print(f"wrote {what} to {target}")
    return 0


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        return
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)


def _summary(graph, top: int) -> None:
    from rich.table import Table

    from stratum.cli.output import console as stdout_console
    from stratum.trace.graphview import seconds_text, short_op

    console = stdout_console()
    t = graph.totals()
    scope = "every run" if graph.runs is None else \
        "runs " + ", ".join(str(r) for r in graph.runs)
    console.print(f"[bold]merged graph[/bold] of {scope}: {t['runs']} run(s) of "
                  f"{t['scripts']} script(s)")
    console.print(f"  nodes: {t['nodes']} ({t['merged_nodes']} merged by lineage key, "
                  f"{t['per_run_nodes']} per-run), edges: {t['edges']}")
    console.print(f"  shared: {t['shared_by_scripts']} node(s) by 2+ scripts, "
                  f"{t['shared_by_runs']} by 2+ runs")
    console.print(f"  sightings: {t['executions']} executed "
                  f"({seconds_text(t['executed_seconds'])}), {t['reuses']} reused "
                  f"(about {seconds_text(t['saved_seconds'])} saved)")
    shared = graph.shared(by="runs")
    if not shared:
        return
    table = Table(title="most costly shared nodes")
    for col in ("op", "first site", "scripts", "runs", "executed", "reused", "mean", "total"):
        table.add_column(col, justify="left" if col in ("op", "first site") else "right")
    for n in shared[:top]:
        mean = n.mean_seconds
        table.add_row(short_op(n.op), os.path.basename(n.site), str(n.scripts), str(n.runs),
                      str(n.executions), str(n.reuses),
                      seconds_text(mean) if mean is not None else "-", seconds_text(n.seconds))
    console.print(table)
