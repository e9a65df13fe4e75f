"""Pictures of the merged graph: Graphviz source, and one self-contained HTML file (inline SVG).

The HTML needs nothing else: no network, no script, the layout is computed here
(``stratum.trace.layout``). Nodes are sized by mean cost, coloured by whether their sightings executed
or reused the operation, shared nodes get a thick outline and their script count; hovering a
node shows its op, call site and numbers. Nodes recorded inside a composite operation (the folds
of ``cross_val_score``) are folded into it, and past ``cap`` nodes only the most shared and
costly ones are drawn, with a note saying so.
"""
from __future__ import annotations

import html
import math

from stratum.trace.layout import layered_rows

COLOURS = {"executed": "#e07b39", "reused": "#2e9e5b", "both": "#3b73b9", "per-run": "#9aa0a6"}
DX, DY, MARGIN, R_MIN, R_MAX = 100, 96, 60, 6.0, 24.0


def status(n) -> str:
    if n.per_run:
        return "per-run"
    if n.executions and n.reuses:
        return "both"
    return "reused" if n.reuses else "executed"


def seconds_text(s: float) -> str:
    if s >= 1:
        return f"{s:.2f}s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f}ms"
    return f"{s * 1e6:.0f}\u00b5s"


def short_op(op: str) -> str:
    parts = op.split(".")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return f"{parts[-2]}.{parts[-1]}"
    return parts[-1]


def describe(n, folded: int = 0) -> str:
    mean = n.mean_seconds
    lines = [n.op, n.site, f"id {n.id}", f"{n.kind}, {n.nbytes} bytes, effect {n.effect}",
             f"seen in {n.runs} run(s) of {n.scripts} script(s)",
             f"executed {n.executions}x" + (f", mean {mean:.6f}s" if mean is not None else ""),
             f"reused {n.reuses}x"]
    if folded:
        lines.append(f"{folded} operation(s) recorded inside it (folded)")
    return "\n".join(lines)


# ---- Graphviz ----------------------------------------------------------------------------------
def to_dot(graph) -> str:
    """Graphviz source of the whole graph; containment as dashed grey edges."""
    out = ["digraph stratum {", '  rankdir=TB; node [shape=box, style="rounded,filled", '
           'fontname="Helvetica", fontsize=10];']
    for n in graph.nodes.values():
        mean = n.mean_seconds
        label = short_op(n.op) + (f"\\n{seconds_text(mean)}" if mean is not None else "") + \
            (f"\\nx{n.scripts} scripts" if n.scripts >= 2 and not n.per_run else "")
        attrs = [f'label="{_dot_text(label, raw=True)}"', f'fillcolor="{COLOURS[status(n)]}"',
                 f'tooltip="{_dot_text(describe(n))}"']
        if n.scripts >= 2 and not n.per_run:
            attrs.append("penwidth=3")
        out.append(f'  "{_dot_text(n.id)}" [{", ".join(attrs)}];')
    for s, d in graph.edges:
        out.append(f'  "{_dot_text(s)}" -> "{_dot_text(d)}";')
    for n in graph.nodes.values():
        if n.parent is not None and n.parent in graph.nodes:
            out.append(f'  "{_dot_text(n.id)}" -> "{_dot_text(n.parent)}" '
                       '[style=dashed, color=gray, arrowhead=none];')
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_text(text: str, raw: bool = False) -> str:
    """Quote for a DOT string; ``raw`` keeps the ``\\n`` escapes already in a label."""
    text = str(text)
    if not raw:
        text = text.replace("\\", "\\\\")
    text = text.replace('"', '\\"')
    return text.replace("\n", "\\n")


# ---- HTML --------------------------------------------------------------------------------------
def visible_nodes(graph, cap: int):
    """(drawn ids, folded-children count per drawn id, edges between drawn ids, note)."""
    nodes = graph.nodes

    def top(nid):
        seen = set()
        while nodes[nid].parent in nodes and nid not in seen:
            seen.add(nid)
            nid = nodes[nid].parent
        return nid

    tops = {nid: top(nid) for nid in nodes}
    folded: dict[str, int] = {}
    for nid, t in tops.items():
        if t != nid:
            folded[t] = folded.get(t, 0) + 1
    drawn = [nid for nid in nodes if tops[nid] == nid]
    note = ""
    if len(drawn) > cap:
        rank = sorted(drawn, key=lambda i: (nodes[i].per_run, -nodes[i].scripts, -nodes[i].runs,
                                            -nodes[i].seconds, i))
        keep = set(rank[:cap])
        note = (f"showing {cap} of {len(drawn)} nodes: the most shared and costly "
                "(use --json or --dot for all)")
        drawn = [i for i in drawn if i in keep]
    keep = set(drawn)
    edges = []
    for s, d in graph.edges:
        s, d = tops[s], tops[d]
        if s != d and s in keep and d in keep:
            edges.append((s, d))
    return drawn, folded, list(dict.fromkeys(edges)), note


def to_html(graph, cap: int = 500, title: str = "stratum merged graph") -> str:
    drawn, folded, edges, note = visible_nodes(graph, cap)
    nodes = graph.nodes
    rows = layered_rows(drawn, edges)
    widest = max((len(r) for r in rows), default=1)
    width = widest * DX + 2 * MARGIN
    height = max(1, len(rows)) * DY + 2 * MARGIN
    costs = [nodes[i].mean_seconds or 0.0 for i in drawn]
    top_cost = max(costs, default=0.0) or 1.0
    xy, radius = {}, {}
    for ri, row in enumerate(rows):
        x0 = MARGIN + (width - 2 * MARGIN - len(row) * DX) / 2 + DX / 2
        for ci, nid in enumerate(row):
            xy[nid] = (x0 + ci * DX, MARGIN + ri * DY + DY / 2)
            cost = nodes[nid].mean_seconds or 0.0
            radius[nid] = R_MIN + (R_MAX - R_MIN) * math.sqrt(cost / top_cost)
    svg = [f'<svg class="graph" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" data-nodes="{len(drawn)}" '
           f'data-edges="{len(edges)}" role="img">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#8a8f98"/></marker></defs>', '<g class="edges">']
    for s, d in edges:
        svg.append(_edge(xy[s], radius[s], xy[d], radius[d]))
    svg.append("</g>")
    svg.append('<g class="nodes">')
    for nid in drawn:
        svg.append(_node(nodes[nid], xy[nid], radius[nid], folded.get(nid, 0)))
    svg.append("</g></svg>")
    t = graph.totals()
    summary = (f"{t['runs']} run(s) of {t['scripts']} script(s): {t['nodes']} nodes "
               f"({t['merged_nodes']} merged by key, {t['per_run_nodes']} per-run), "
               f"{t['edges']} edges, {t['shared_by_scripts']} shared by 2+ scripts; "
               f"{t['executions']} executions, {t['reuses']} reuses")
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p>",
        f'<p class="note">{html.escape(note)}</p>' if note else "",
        _legend(), '<div class="scroll">', "\n".join(svg), "</div></body></html>\n"])


def _node(n, xy, r, folded) -> str:
    x, y = xy
    shared = n.scripts >= 2 and not n.per_run
    label = short_op(n.op)
    if len(label) > 22:
        label = label[:21] + "\u2026"
    if folded:
        label += f" +{folded}"
    mean = n.mean_seconds
    cost = seconds_text(mean) if mean is not None else "reused"
    parts = [f'<g class="node {status(n)}{" shared" if shared else ""}" '
             f'data-id="{html.escape(n.id)}"><title>{html.escape(describe(n, folded))}</title>',
             f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{COLOURS[status(n)]}" '
             f'stroke="{"#111" if shared else "#fff"}" stroke-width="{3 if shared else 1}"/>',
             f'<text x="{x:.1f}" y="{y + r + 11:.1f}" class="op">{html.escape(label)}</text>',
             f'<text x="{x:.1f}" y="{y + r + 21:.1f}" class="cost">{cost}</text>']
    if shared:
        parts.append(f'<text x="{x + r + 2:.1f}" y="{y - r + 4:.1f}" class="count">'
                     f'\u00d7{n.scripts}</text>')
    parts.append("</g>")
    return "".join(parts)


def _edge(a, ra, b, rb) -> str:
    (x1, y1), (x2, y2) = a, b
    if y2 > y1:
        y1, y2 = y1 + ra, y2 - rb - 2
        bend = (y2 - y1) / 2
        d = (f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} "
             f"{x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}")
    else:  # same row or upwards (a wrapped layer, a broken cycle): loop out to the side
        side = DX * 0.6
        d = (f"M{x1 + ra:.1f},{y1:.1f} C{x1 + ra + side:.1f},{y1:.1f} "
             f"{x2 + rb + side:.1f},{y2:.1f} {x2 + rb + 2:.1f},{y2:.1f}")
    return f'<path d="{d}" marker-end="url(#arrow)"/>'


def _legend() -> str:
    items = [("executed", "executed every time"), ("reused", "reused every time"),
             ("both", "executed and reused"), ("per-run", "per-run (sink / unkeyable)")]
    out = ['<svg class="legend" width="760" height="34">']
    x = 10
    for cls, text in items:
        out.append(f'<circle cx="{x + 8}" cy="17" r="7" fill="{COLOURS[cls]}"/>'
                   f'<text x="{x + 20}" y="21">{html.escape(text)}</text>')
        x += 165
    out.append(f'<circle cx="{x + 8}" cy="17" r="7" fill="#fff" stroke="#111" stroke-width="3"/>'
               f'<text x="{x + 20}" y="21">\u00d7N shared by N scripts</text></svg>')
    return "".join(out) + '<p class="note">size: mean cost; hover a node for details</p>'


_CSS = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 6px}p{margin:4px 0;font-size:13px}.note{color:#666}
.scroll{overflow:auto;border:1px solid #ddd;max-height:85vh}
svg text{font-size:9px;text-anchor:middle;fill:#333}
svg.legend text{font-size:12px;text-anchor:start}
.edges path{fill:none;stroke:#8a8f98;stroke-width:1;opacity:.7}
.node text.cost{fill:#777}.node text.count{text-anchor:start;font-weight:bold;fill:#111}
.node:hover circle{stroke:#d22;stroke-width:3}
"""
