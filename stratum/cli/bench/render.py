"""The terminal report of ``stratum bench``: one rich table per mode, then every mismatch.

Tables fit the width they are printed at: numbers and headers never wrap or get cut (``no_wrap``,
short headers explained in the table's caption), a long script path folds onto more lines
instead of ending in "…", and where even that is too wide the least important columns go
(``exit``, then ``reused``; ``DROP_ORDER``) with a note saying so. Off a terminal the report is
printed at its natural width, at least ``PLAIN_WIDTH`` (``report_width``), so a log keeps one
row per line.
"""
from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

#: off a terminal: the report's width when its tables are narrower
PLAIN_WIDTH = 120
#: columns left out, in this order, while a table is wider than the console
DROP_ORDER = ("exit", "reused")
#: what a script path folds down to at the least before columns are dropped
SCRIPT_MIN = 14
LEGEND = ("median wall seconds (s) of {repeat} run(s) per side, plain and stratum "
          "alternating; speed-up = plain / stratum; reused = operations reused / traced; same = "
          "stdout, stderr and exit code byte-identical to plain")


def _s(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _x(x) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _reused(row: dict) -> str:
    t = row.get("trace")
    if not t or t.get("reused") is None:
        return "-"
    return f"{t['reused']}/{t['nodes']}"


def _same(ok: bool) -> Text:
    return Text("yes", style="green") if ok else Text("NO", style="bold red")


def _columns(res: dict) -> list[tuple[str, list]]:
    """(header, cells: one per script, then the total) for each column after the script's."""
    rows, t = res["scripts"], res["total"]
    reused = [r["trace"]["reused"] for r in rows if r.get("trace") and r["trace"].get("reused")
              is not None]
    nodes = [r["trace"]["nodes"] for r in rows if r.get("trace") and r["trace"].get("nodes")
             is not None]
    side = "batch s" if res["mode"] == "batch" else "stratum s"
    exits = [str(r["exit_plain"]) if r["exit_plain"] == r["exit_stratum"]
             else f"{r['exit_plain']} vs {r['exit_stratum']}" for r in rows]
    return [
        ("plain s", [_s(r["plain_s"]) for r in rows] + [_s(t["plain_s"])]),
        (side, [_s(r["stratum_s"]) for r in rows] + [_s(t["stratum_s"])]),
        ("speed-up", [_x(r["speedup"]) for r in rows] +
         [Text(_x(t["speedup"]), style="bold")]),
        ("reused", [_reused(r) for r in rows] +
         [f"{sum(reused)}/{sum(nodes)}" if nodes else "-"]),
        ("exit", exits + [""]),
        ("same", [_same(r["identical"]) for r in rows] + [_same(t["identical"])]),
    ]


def _width(header: str, cells: list) -> int:
    return max(cell_len(str(c)) for c in [header, *cells])


def _table_width(widths: list[int]) -> int:
    """A rich table's width for these column widths: a border per column and one more, padding
    1 + 1 inside (none at the outer edges: ``pad_edge=False``)."""
    return sum(widths) + 3 * len(widths) + 1 - 2


def mode_table(res: dict, width: int | None = None) -> Table:
    """The table of one mode; ``width``: the room it has (None: as wide as it needs)."""
    title = f"{res['mode']}: {res['description']}"
    rows = res["scripts"]
    total_label = f"total ({len(rows)} scripts)"
    cols = _columns(res)
    script_w = max(cell_len(r["script"]) for r in [*rows, {"script": total_label}])
    dropped = []
    if width is not None:
        for name in DROP_ORDER:
            need = _table_width([min(script_w, SCRIPT_MIN)] + [_width(h, c) for h, c in cols])
            if need <= width:
                break
            cols = [(h, c) for h, c in cols if h != name]
            dropped.append(name)
    caption = (f"left out for width: {', '.join(dropped)} (a wider terminal or --json has "
               "them)") if dropped else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left",
                  pad_edge=False)
    table.add_column("script", overflow="fold")
    for header, cells in cols:
        table.add_column(header, justify="right", no_wrap=True, min_width=_width(header, cells))
    for k, r in enumerate(rows):
        table.add_row(r["script"], *(c[k] for _, c in cols))
    table.add_section()
    table.add_row(Text(total_label, style="bold"), *(c[-1] for _, c in cols))
    return table


def report_width(results: list[dict]) -> int:
    """Off a terminal: the widest table's natural width, at least ``PLAIN_WIDTH``."""
    wide = Console(width=10_000)
    return max([PLAIN_WIDTH] + [wide.measure(mode_table(res)).maximum for res in results
                                if res.get("available") and "error" not in res])


def print_report(console: Console, results: list[dict], repeat: int) -> None:
    console.print("[bold]stratum bench[/bold]: " + escape(LEGEND.format(repeat=repeat)))
    for res in results:
        console.print()
        if not res["available"]:
            console.print(f"[yellow]{escape(res['note'])}[/yellow]")
        elif "error" in res:
            console.print(f"[bold red]batch mode failed:[/bold red] {escape(res['error'])}")
        else:
            console.print(mode_table(res, console.width))
    for res in results:
        for r in res.get("scripts", []):
            if r["identical"]:
                continue
            console.print()
            console.rule(f"[bold red]MISMATCH[/bold red] {escape(r['script'])} ({res['mode']}, "
                         f"run(s) {', '.join(r['mismatch_runs'])})", style="red")
            if not r["plain_deterministic"]:
                console.print("[yellow]note: the plain runs differ among themselves too: the "
                              "script's output is not deterministic[/yellow]")
            console.print(Text(r["diff"]))


def failed(results: list[dict]) -> bool:
    """True when any output differed or the batch command itself failed."""
    return any("error" in res or not res.get("total", {}).get("identical", True)
               for res in results)
