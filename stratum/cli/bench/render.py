"""The terminal report of ``stratum bench``: one rich table per mode, then every mismatch."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text


def _s(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _x(x) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _reused(row: dict) -> str:
    t = row.get("trace")
    if not t or t.get("reused") is None:
        return "-"
    return f"{t['reused']}/{t['nodes']}"


def mode_table(res: dict) -> Table:
    title = f"{res['mode']}: {res['description']}"
    stratum_col = "batch s" if res["mode"] == "batch" else "stratum s"
    table = Table(title=title, title_justify="left")
    table.add_column("script", no_wrap=True)
    for col in ("plain s", stratum_col, "speed-up", "reused/nodes", "exit", "identical"):
        table.add_column(col, justify="right")
    for r in res["scripts"]:
        same = Text("yes", style="green") if r["identical"] else Text("NO", style="bold red")
        exit_ = (str(r["exit_plain"]) if r["exit_plain"] == r["exit_stratum"]
                 else f"{r['exit_plain']} vs {r['exit_stratum']}")
        table.add_row(r["script"], _s(r["plain_s"]), _s(r["stratum_s"]), _x(r["speedup"]),
                      _reused(r), exit_, same)
    t = res["total"]
    rows = res["scripts"]
    reused = [r["trace"]["reused"] for r in rows if r.get("trace") and r["trace"].get("reused")
              is not None]
    nodes = [r["trace"]["nodes"] for r in rows if r.get("trace") and r["trace"].get("nodes")
             is not None]
    table.add_section()
    table.add_row(Text(f"total ({len(rows)} scripts)", style="bold"), _s(t["plain_s"]),
                  _s(t["stratum_s"]), Text(_x(t["speedup"]), style="bold"),
                  f"{sum(reused)}/{sum(nodes)}" if nodes else "-", "",
                  Text("yes", style="green") if t["identical"] else Text("NO", style="bold red"))
    return table


def print_report(console: Console, results: list[dict], repeat: int) -> None:
    console.print(f"[bold]stratum bench[/bold]: median wall seconds of {repeat} run(s) per side, "
                  "plain and stratum alternating; speed-up = plain / stratum")
    for res in results:
        console.print()
        if not res["available"]:
            console.print(f"[yellow]{escape(res['note'])}[/yellow]")
        elif "error" in res:
            console.print(f"[bold red]batch mode failed:[/bold red] {escape(res['error'])}")
        else:
            console.print(mode_table(res))
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
