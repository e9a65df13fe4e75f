"""Pictures of the merged graph: Graphviz source of every node, and one HTML page of its stages.

The Graphviz source (``to_dot``) is the whole graph, one box per node, for tools. The HTML page
(``to_html``) is for a person asking "what costs time, and what did reuse save": it draws the
pipeline-level view of ``stratum.trace.pipeline`` (data sources, feature steps, fits and
evaluations labelled with their estimator and call site; cheap operations and prints folded
away), laid out by ``stratum.trace.layout`` with the costliest stages first, and a table of the
seconds each stage cost and saved. The page is one self-contained file (inline SVG, CSS and a
small script: no network, no other file) that fits the graph to the window on load, zooms with
the wheel or buttons and pans by dragging. Opened as ``page.html#selfcheck`` its script measures
the laid-out page and writes a JSON report into ``<pre id="layout-report">`` (costliest stages
inside the window, no horizontal overflow, legend items apart, distinct model labels), which
tests read from a headless browser.
"""
from __future__ import annotations

import html

from stratum.trace.layout import layered_rows
from stratum.trace.pipeline import pipeline_view, short_op, short_site, status  # noqa: F401

COLOURS = {"executed": "#e07b39", "reused": "#2e9e5b", "both": "#3b73b9", "per-run": "#9aa0a6"}
TINTS = {"executed": "#fbe7da", "reused": "#dcf1e4", "both": "#e0e9f6", "per-run": "#e8eaed"}


def seconds_text(s: float) -> str:
    if s >= 1:
        return f"{s:.2f}s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f}ms"
    return f"{s * 1e6:.0f}\u00b5s"


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
BOX_H, GAP_X, GAP_Y, MARGIN = 64, 36, 56, 24
BOX_MIN, BOX_MAX = 150, 380
LABEL_PX, SMALL_PX = 8.2, 6.7  # mean advance of a bold 13px / an 11px character (DejaVu Sans)
MAX_ROW = 5  # stages side by side before a layer wraps: the page stays readable when fitted
TOP_MARKED = 5  # the costliest stages the self-check requires inside the window
KIND_NAMES = {"source": "data source", "fit": "fit", "evaluate": "evaluation",
              "step": "operation", "steps": "cheap operations, folded into one box"}


def _fit_text(text: str, px: float, width: float) -> str:
    room = max(4, int(width / px))
    return text if len(text) <= room else text[:room - 1] + "\u2026"


def _lines(st) -> tuple[str, str, str]:
    where = st.site + (f" \u00b7 \u00d7{st.scripts} scripts" if st.shared else "")
    if st.per_run:
        where += f" \u00b7 per-run \u00d7{st.runs}"
    cost = seconds_text(st.cost) if st.executions else "never executed"
    what = f"{cost} per run"
    if st.reuses:
        what += f" \u00b7 reused {st.reuses}\u00d7"
    if st.saved >= 0.0005:
        what += f" \u00b7 saved {seconds_text(st.saved)}"
    return st.label, where, what


def _box_width(lines) -> float:
    a, b, c = lines
    text = max(len(a) * LABEL_PX, len(b) * SMALL_PX, len(c) * SMALL_PX)
    return max(BOX_MIN, min(BOX_MAX, text + 26))


def stage_description(st, nodes) -> str:
    out = [st.label, f"{KIND_NAMES.get(st.kind, st.kind)} at {st.site}"]
    if st.kind == "steps":
        counts: dict[str, int] = {}
        for m in st.members:
            counts[nodes[m].op] = counts.get(nodes[m].op, 0) + 1
        for op, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
            out.append(f"  {c} \u00d7 {op}")
    else:
        n = nodes[st.members[0]]
        out += [n.op, n.site, f"id {n.id}"]
    if st.estimator:
        out.append(f"estimator: {st.estimator}")
    out += [f"seen in {st.runs} run(s) of {st.scripts} script(s)",
            f"executed {st.executions}\u00d7, reused {st.reuses}\u00d7",
            f"{seconds_text(st.cost)} per run, {seconds_text(st.seconds)} computed in all, "
            f"{seconds_text(st.saved)} saved by reuse"]
    if st.folded and st.kind != "steps":
        out.append(f"{st.folded} operation(s) folded into it")
    return "\n".join(out)


def reduced_edges(edges):
    """The edges not implied by a longer path (a transitive reduction, for drawing only): the
    labels a stage takes straight from a group of steps that also feeds its fit would
    otherwise cross the fit's box."""
    succ: dict[str, list[str]] = {}
    for s, d in edges:
        succ.setdefault(s, []).append(d)
    out = []
    for s, d in edges:
        stack = [m for m in succ.get(s, ()) if m != d]
        seen = set(stack)
        while stack:
            m = stack.pop()
            if m == d:
                break
            for x in succ.get(m, ()):
                if x not in seen and x != s:
                    seen.add(x)
                    stack.append(x)
        else:
            out.append((s, d))
    return out


def to_html(graph, cap: int = 500, title: str = "stratum merged graph") -> str:
    """The page: a pipeline-level picture of ``graph`` and its table of time saved."""
    view = pipeline_view(graph, cap)
    nodes = graph.nodes
    stages = {s.id: s for s in view.stages}
    rows = layered_rows([s.id for s in view.stages], view.edges, max_row=MAX_ROW)
    lines = {sid: _lines(st) for sid, st in stages.items()}
    width_of = {sid: _box_width(ln) for sid, ln in lines.items()}
    row_w = [sum(width_of[i] for i in r) + GAP_X * (len(r) - 1) for r in rows]
    width = max(row_w, default=BOX_MIN) + 2 * MARGIN
    height = max(1, len(rows)) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN
    xy = {}
    for ri, row in enumerate(rows):
        x = MARGIN + (width - 2 * MARGIN - row_w[ri]) / 2
        for sid in row:
            xy[sid] = (x, MARGIN + ri * (BOX_H + GAP_Y))
            x += width_of[sid] + GAP_X
    top_cost = max((s.cost for s in view.stages), default=0.0) or 1.0
    marked = {s.id for s in sorted(view.stages, key=lambda s: -s.cost)[:TOP_MARKED]}
    drawn = reduced_edges(view.edges)
    svg = [f'<svg id="graph" class="graph" data-width="{width:.0f}" data-height="{height:.0f}" '
           f'data-nodes="{len(view.stages)}" data-edges="{len(view.edges)}" '
           f'data-drawn-edges="{len(drawn)}" role="img" '
           f'aria-label="{html.escape(title)}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#7d838c"/></marker></defs><g id="world"><g class="edges">']
    for s, d in drawn:
        svg.append(_edge(xy[s], width_of[s], xy[d], width_of[d]))
    svg.append('</g><g class="nodes">')
    for st in view.stages:
        svg.append(_box(st, xy[st.id], width_of[st.id], lines[st.id], top_cost,
                        st.id in marked, stage_description(st, nodes)))
    svg.append("</g></g></svg>")
    t = graph.totals()
    saved = sum(s.saved for s in view.stages)
    summary = (f"{t['runs']} run(s) of {t['scripts']} script(s) \u00b7 {t['nodes']} recorded "
               f"nodes drawn as {len(view.stages)} stage(s) \u00b7 "
               f"{seconds_text(t['executed_seconds'])} computed, "
               f"{seconds_text(saved)} saved by reuse")
    groups = [st for st in view.stages if st.kind == "steps"]
    away = f" ({view.folded_away} feeding nothing drawn)" if view.folded_away else ""
    folded = (f"{sum(len(st.members) for st in groups)} cheap op(s) drawn as {len(groups)} "
              f"dashed box(es); {view.folded_total} more folded into the stages around them"
              f"{away}; {view.prints} print(s) not drawn. "
              "Hover a box for details; wheel or buttons zoom, drag pans.")
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f'<header><h1>{html.escape(title)}</h1><p class="summary">{html.escape(summary)}</p>',
        _costliest(view.stages), f'<p class="note">{html.escape(folded)}</p>',
        f'<p class="note cap">{html.escape(view.note)}</p>' if view.note else "",
        '<div class="bar">', _legend(),
        '<div class="zoom"><button type="button" id="zoom-out" title="zoom out">\u2212</button>'
        '<button type="button" id="zoom-fit" title="fit to the window">fit</button>'
        '<button type="button" id="zoom-in" title="zoom in">+</button></div></div></header>',
        '<div id="viewport" class="viewport">', "".join(svg), "</div>",
        _table(view.stages), '<pre id="layout-report" hidden></pre>',
        f"<script>{_JS}</script></body></html>\n"])


def _costliest(stages, n: int = 4) -> str:
    top = [s for s in sorted(stages, key=lambda s: -s.cost) if s.executions][:n]
    if not top:
        return ""
    parts = [f"<b>{html.escape(s.label)}</b> {seconds_text(s.cost)}" for s in top]
    return '<p class="costliest">Costliest per run: ' + " \u00b7 ".join(parts) + "</p>"


def _box(st, xy, w, lines, top_cost, marked, title) -> str:
    x, y = xy
    colour = COLOURS[st.status]
    label, where, what = lines
    cls = " ".join(["node", st.status] + ["shared"] * st.shared + ["steps"] * (st.kind == "steps"))
    attrs = (f'class="{cls}" data-id="{html.escape(st.id)}" data-kind="{st.kind}" '
             f'data-cost="{st.cost:.6f}" data-label="{html.escape(label)}" '
             f'data-site="{html.escape(st.site)}"')
    if st.estimator:
        attrs += f' data-model="{html.escape(st.estimator)}"'
    if marked:
        attrs += ' data-top="1"'
    bar = max(2.0, (w - 16) * min(1.0, st.cost / top_cost)) if st.executions else 0.0
    dash = ' stroke-dasharray="5 3"' if st.kind == "steps" else ""
    return "".join([
        f'<g {attrs}><title>{html.escape(title)}</title>',
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BOX_H}" rx="7" '
        f'fill="{"#f3f4f6" if st.kind == "steps" else TINTS[st.status]}" '
        f'stroke="{"#1d2430" if st.shared else colour}" stroke-width="{2.5 if st.shared else 1.2}"'
        f'{dash}/>',
        f'<rect x="{x:.1f}" y="{y:.1f}" width="6" height="{BOX_H}" rx="3" fill="{colour}"/>',
        f'<text class="label" x="{x + 14:.1f}" y="{y + 19:.1f}">'
        f'{html.escape(_fit_text(label, LABEL_PX, w - 26))}</text>',
        f'<text class="site" x="{x + 14:.1f}" y="{y + 35:.1f}">'
        f'{html.escape(_fit_text(where, SMALL_PX, w - 26))}</text>',
        f'<text class="cost" x="{x + 14:.1f}" y="{y + 50:.1f}">'
        f'{html.escape(_fit_text(what, SMALL_PX, w - 26))}</text>',
        f'<rect class="costbar" x="{x + 10:.1f}" y="{y + BOX_H - 8:.1f}" width="{bar:.1f}" '
        f'height="4" rx="2" fill="{colour}"/>' if bar else "",
        "</g>"])


def _edge(a, wa, b, wb) -> str:
    (xa, ya), (xb, yb) = a, b
    x1, x2 = xa + wa / 2, xb + wb / 2
    if yb > ya:
        y1, y2 = ya + BOX_H, yb - 2
        bend = (y2 - y1) / 2
        d = (f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} "
             f"{x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}")
    else:  # same row or upwards (a wrapped layer, a broken cycle): loop out to the right
        x1, x2 = xa + wa, xb + wb
        y1, y2 = ya + BOX_H / 2, yb + BOX_H / 2
        side = GAP_X * 0.8
        d = (f"M{x1:.1f},{y1:.1f} C{x1 + side:.1f},{y1:.1f} "
             f"{x2 + side:.1f},{y2:.1f} {x2 + 2:.1f},{y2:.1f}")
    return f'<path d="{d}" marker-end="url(#arrow)"/>'


def _legend() -> str:
    items = [f'<li><span class="sw" style="background:{COLOURS[c]}"></span>{html.escape(t)}</li>'
             for c, t in (("executed", "executed every time"), ("reused", "reused every time"),
                          ("both", "executed and reused"),
                          ("per-run", "per-run (not reusable)"))]
    items += ['<li><span class="sw shared"></span>\u00d7N: shared by N scripts</li>',
              '<li><span class="sw steps"></span>cheap ops folded</li>',
              '<li><span class="sw bar"></span>cost per run</li>']
    return '<ul class="legend">' + "".join(items) + "</ul>"


def _table(stages) -> str:
    rows = sorted(stages, key=lambda s: (-s.saved, -s.seconds, s.id))
    head = [("stage", "text"), ("site", "text"), ("runs", "num"), ("executed", "num"),
            ("reused", "num"), ("per run", "num"), ("compute s", "num"), ("saved s", "num")]
    out = ['<section class="saved"><h2>Time saved by reuse</h2>'
           '<p class="note">One row per stage, most saved first; click a column to sort. '
           "Compute: seconds spent executing it over every run; saved: its cost per run "
           "times the runs that reused it, less the time restoring it took.</p>"
           '<table id="saved-table"><thead><tr>']
    for name, kind in head:
        out.append(f'<th data-type="{kind}" title="sort by {name}">{name}</th>')
    out.append("</tr></thead><tbody>")
    for s in rows:
        cells = [(s.label, s.label), (s.site, s.site), (s.runs, s.runs),
                 (s.executions, s.executions), (s.reuses, s.reuses),
                 (seconds_text(s.cost), f"{s.cost:.6f}"), (f"{s.seconds:.3f}", f"{s.seconds:.6f}"),
                 (f"{s.saved:.3f}", f"{s.saved:.6f}")]
        out.append(f'<tr data-id="{html.escape(s.id)}">' + "".join(
            f'<td data-v="{html.escape(str(v))}">{html.escape(str(c))}</td>' for c, v in cells)
            + "</tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


_CSS = """
*{box-sizing:border-box}
html,body{margin:0;padding:0;overflow-x:hidden}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;background:#f6f7f9}
header{padding:10px 16px 6px;background:#fff;border-bottom:1px solid #dde1e6}
h1{font-size:17px;margin:0 0 2px}h2{font-size:15px;margin:0 0 4px}
p{margin:2px 0;font-size:13px}.costliest{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.note{color:#5b6470;font-size:12px}.cap{color:#a3461b}
.bar{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:6px 16px;
 margin-top:6px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;margin:0;padding:0;font-size:12px}
.legend li{display:flex;align-items:center;gap:5px;white-space:nowrap}
.sw{display:inline-block;width:13px;height:13px;border-radius:3px}
.sw.shared{background:#fff;border:2.5px solid #1d2430}
.sw.steps{background:#fff;border:1.5px dashed #7d838c}
.sw.bar{width:18px;height:5px;background:#7d838c}
.zoom button{font:inherit;font-size:13px;min-width:34px;padding:2px 8px;margin-left:4px;
 border:1px solid #c3c9d1;border-radius:5px;background:#fff;cursor:pointer}
.zoom button:hover{background:#eef1f5}
.viewport{position:relative;width:100%;height:calc(100vh - 130px);min-height:300px;overflow:hidden;
 background:#fff;cursor:grab;touch-action:none;border-bottom:1px solid #dde1e6}
.viewport.dragging{cursor:grabbing}
svg.graph{display:block;width:100%;height:100%}
.edges path{fill:none;stroke:#9aa1aa;stroke-width:1.4}
.node text{font-size:11px;fill:#5b6470}
.node text.label{font-size:13px;font-weight:600;fill:#1d2430}
.node text.cost{fill:#1d2430}
.node:hover rect.box,.node.hl rect.box{stroke:#d22;stroke-width:3}
.saved{padding:12px 16px 24px;max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:12px;background:#fff;min-width:60%}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}
td:first-child{max-width:420px;overflow:hidden;text-overflow:ellipsis}
th{cursor:pointer;background:#eef1f5;user-select:none}
th.sorted::after{content:" \\25BE"}
tbody tr:hover{background:#fff6e8}
#layout-report{white-space:pre-wrap;font-size:11px;padding:8px 16px}
"""

_JS = r"""
(function () {
  var vp = document.getElementById('viewport'), svg = document.getElementById('graph');
  var world = document.getElementById('world');
  var W = +svg.dataset.width, H = +svg.dataset.height, view = {k: 1, x: 0, y: 0};
  function apply() {
    world.setAttribute('transform', 'translate(' + view.x + ',' + view.y + ') scale(' + view.k + ')');
  }
  function size() {  // the graph fills the first screen, below the header
    var top = vp.getBoundingClientRect().top + window.scrollY;
    vp.style.height = Math.max(300, window.innerHeight - top - 4) + 'px';
  }
  function fit() {
    var r = vp.getBoundingClientRect(), pad = 8;
    var k = Math.min((r.width - 2 * pad) / W, (r.height - 2 * pad) / H, 1.4);
    view.k = k; view.x = (r.width - W * k) / 2; view.y = Math.max(pad, (r.height - H * k) / 2);
    apply();
  }
  function zoom(f, cx, cy) {
    var r = vp.getBoundingClientRect();
    if (cx === undefined) { cx = r.width / 2; cy = r.height / 2; }
    var k = Math.max(0.05, Math.min(8, view.k * f));
    view.x = cx - (cx - view.x) * k / view.k; view.y = cy - (cy - view.y) * k / view.k;
    view.k = k; apply();
  }
  vp.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = vp.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});
  var drag = null;
  vp.addEventListener('pointerdown', function (e) {
    drag = {x: e.clientX, y: e.clientY, vx: view.x, vy: view.y};
    vp.classList.add('dragging'); vp.setPointerCapture(e.pointerId);
  });
  vp.addEventListener('pointermove', function (e) {
    if (!drag) return;
    view.x = drag.vx + e.clientX - drag.x; view.y = drag.vy + e.clientY - drag.y; apply();
  });
  function end() { drag = null; vp.classList.remove('dragging'); }
  vp.addEventListener('pointerup', end); vp.addEventListener('pointercancel', end);
  document.getElementById('zoom-in').onclick = function () { zoom(1.25); };
  document.getElementById('zoom-out').onclick = function () { zoom(0.8); };
  document.getElementById('zoom-fit').onclick = fit;
  window.addEventListener('resize', function () { size(); fit(); });

  // The table: sort by a column; a row shows its stage in the graph.
  var table = document.getElementById('saved-table');
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener('click', function () {
      var num = th.dataset.type === 'num', body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.classList.contains('sorted') && !th.classList.contains('asc');
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var c = num ? (+y) - (+x) : x.localeCompare(y);
        return asc ? -c : c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
        h.classList.remove('sorted', 'asc');
      });
      th.classList.add('sorted'); if (asc) th.classList.add('asc');
    });
  });
  Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
    tr.addEventListener('mouseenter', function () { mark(tr.dataset.id, true); });
    tr.addEventListener('mouseleave', function () { mark(tr.dataset.id, false); });
  });
  function mark(id, on) {
    var g = svg.querySelector('g.node[data-id="' + (window.CSS && CSS.escape ? CSS.escape(id) : id) + '"]');
    if (g) g.classList.toggle('hl', on);
  }

  size(); fit();
  if (location.hash === '#selfcheck') selfcheck();

  function box(el) {
    var r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  }
  function overlap(a, b) {
    return a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
           a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  }
  function selfcheck() {
    var w = window.innerWidth, h = window.innerHeight, i, j;
    var nodes = Array.prototype.slice.call(svg.querySelectorAll('g.node'));
    var rects = nodes.map(function (g) { return box(g.querySelector('rect.box')); });
    var inside = function (r) { return r.left >= 0 && r.top >= 0 && r.right <= w && r.bottom <= h; };
    var costliest = [];
    nodes.forEach(function (g, k) {
      if (g.dataset.top) costliest.push({label: g.dataset.label, cost: +g.dataset.cost,
                                         rect: rects[k], inside: inside(rects[k])});
    });
    var legend = Array.prototype.slice.call(document.querySelectorAll('.legend li')).map(box);
    var legendOverlaps = [], legendNode = [], nodeOverlaps = [];
    for (i = 0; i < legend.length; i++) {
      for (j = i + 1; j < legend.length; j++) if (overlap(legend[i], legend[j])) legendOverlaps.push([i, j]);
      for (j = 0; j < rects.length; j++) if (overlap(legend[i], rects[j])) legendNode.push([i, j]);
    }
    for (i = 0; i < rects.length; i++)
      for (j = i + 1; j < rects.length; j++) if (overlap(rects[i], rects[j])) nodeOverlaps.push([i, j]);
    var models = nodes.filter(function (g) { return g.dataset.model; }).map(function (g) {
      return g.dataset.label + ' @ ' + g.dataset.site;
    });
    var distinct = models.filter(function (m, k) { return models.indexOf(m) === k; });
    var de = document.documentElement;
    var report = {
      viewport: [w, h], scale: view.k, nodes: nodes.length,
      document_width: Math.max(de.scrollWidth, document.body.scrollWidth),
      no_horizontal_overflow: Math.max(de.scrollWidth, document.body.scrollWidth) <= w,
      costliest: costliest,
      costliest_visible: costliest.length > 0 && costliest.every(function (c) { return c.inside; }),
      legend_items: legend.length, legend_overlaps: legendOverlaps,
      legend_node_overlaps: legendNode, node_overlaps: nodeOverlaps,
      models: models, models_distinct: distinct.length === models.length
    };
    document.getElementById('layout-report').textContent = JSON.stringify(report);
  }
})();
"""
