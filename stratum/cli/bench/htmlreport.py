"""The self-contained HTML report of ``stratum bench``: inline CSS and SVG, nothing fetched."""
from __future__ import annotations

from html import escape

from stratum.cli.bench import svg
from stratum.cli.bench.machine import one_line

CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
tr.total td { font-weight: bold; border-top: 2px solid #888; }
.no { color: #b00; font-weight: bold; } .yes { color: #080; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
code { background: #f0f0f0; padding: 1px 3px; }
"""


def _f(x, fmt="{:.3f}") -> str:
    return "-" if x is None else fmt.format(x)


def _table(res: dict) -> str:
    head = ("script", "plain s", "stratum s", "speed-up", "reused / nodes", "exit", "identical")
    rows = []
    for r in res["scripts"] + [None]:
        if r is None:
            t = res["total"]
            cells = [f"total ({len(res['scripts'])} scripts)", _f(t["plain_s"]),
                     _f(t["stratum_s"]), _f(t["speedup"], "{:.2f}x"), "", "",
                     "yes" if t["identical"] else "NO"]
            cls = ' class="total"'
        else:
            tr = r.get("trace") or {}
            cells = [r["script"], _f(r["plain_s"]), _f(r["stratum_s"]),
                     _f(r["speedup"], "{:.2f}x"),
                     f"{tr['reused']} / {tr['nodes']}" if tr.get("reused") is not None else "-",
                     str(r["exit_plain"]) if r["exit_plain"] == r["exit_stratum"]
                     else f"{r['exit_plain']} vs {r['exit_stratum']}",
                     "yes" if r["identical"] else "NO"]
            cls = ""
        tds = "".join(
            f'<td class="{c.lower()}">{escape(c)}</td>' if i == 6 else f"<td>{escape(c)}</td>"
            for i, c in enumerate(cells))
        rows.append(f"<tr{cls}>{tds}</tr>")
    ths = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><tr>{ths}</tr>{''.join(rows)}</table>"


def mode_charts(res: dict, standalone: bool = False) -> list[str]:
    """The bar chart of plain vs stratum per script, and where stratum's time went."""
    labels = [r["script"] for r in res["scripts"]]
    side = "stratum run (batch)" if res["mode"] == "batch" else "python -m stratum"
    charts = [svg.grouped_bars(
        f"{res['mode']}: median wall seconds per script", labels,
        [("python", svg.PLAIN, [r["plain_s"] for r in res["scripts"]]),
         (side, svg.STRATUM, [r["stratum_s"] for r in res["scripts"]])],
        standalone=standalone)]
    with_parts = [r for r in res["scripts"] if r.get("breakdown")]
    if with_parts:
        names = list(with_parts[0]["breakdown"])
        charts.append(svg.stacked_bars(
            f"{res['mode']}: where the time of the last stratum run went",
            [r["script"] for r in with_parts],
            [(n, [r["breakdown"][n] for r in with_parts]) for n in names],
            standalone=standalone))
    return charts


def render(doc: dict) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>stratum bench</title>", f"<style>{CSS}</style></head><body>",
           "<h1>stratum bench</h1>",
           f"<p>Command: <code>{escape(doc['command'])}</code> in <code>{escape(doc['cwd'])}"
           f"</code>, {escape(doc['date'])}.</p>",
           f"<p>Machine: {escape(one_line(doc['machine']))}.</p>",
           f"<p>Median wall seconds of {doc['repeat']} run(s) per side, plain and stratum "
           "alternating; speed-up = plain / stratum. Outputs (stdout, stderr, exit code) are "
           "compared byte for byte for every run.</p>"]
    for res in doc["modes"]:
        out.append(f"<h2>{escape(res['mode'])}</h2><p>{escape(res['description'])}</p>")
        if not res["available"]:
            out.append(f"<p>{escape(res['note'])}</p>")
            continue
        if "error" in res:
            out.append(f'<p class="no">batch mode failed</p><pre>{escape(res["error"])}</pre>')
            continue
        out.append(_table(res))
        out.extend(f"<div>{c}</div>" for c in mode_charts(res))
        for r in res["scripts"]:
            if not r["identical"]:
                out.append(f'<h3 class="no">mismatch: {escape(r["script"])} (runs '
                           f'{escape(", ".join(r["mismatch_runs"]))})</h3>')
                if not r["plain_deterministic"]:
                    out.append("<p>The plain runs differ among themselves too: the script's "
                               "output is not deterministic.</p>")
                out.append(f"<pre>{escape(r['diff'])}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
