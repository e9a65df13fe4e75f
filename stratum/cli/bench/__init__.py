"""``python -m stratum bench``: measure stratum on your own scripts, with no change to them.

    python -m stratum bench [--repeat N] [--modes cold,rerun,batch] [--json FILE] [--html FILE]
                            s1.py s2.py ... | DIR

Each script runs as ``python s.py`` and as ``python -m stratum s.py`` from the current
directory, alternately, in the modes asked for (see ``modes``). Every stratum run's stdout,
stderr and exit code must equal the plain run's byte for byte: a mismatch is shown as a
unified diff and makes the command exit 1. The scripts' own output is captured, never shown.

stdout is the report (``render``: a table per mode, then the mismatches); progress goes to
stderr while it runs (``progress``: a live line on a terminal, else a line per finished step).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from stratum.cli.bench import modes as _modes
from stratum.cli.bench.progress import Reporter, Steps
from stratum.batch.folders import expand


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m stratum bench",
        description="Time scripts under plain python and under stratum, side by side, and "
                    "check that their outputs are byte-identical.")
    ap.add_argument("paths", nargs="+", metavar="script.py|DIR")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side and mode (default 3)")
    ap.add_argument("--modes", default=",".join(_modes.DEFAULT_MODES),
                    help=f"comma-separated, of {', '.join(_modes.MODES)} "
                         f"(default {','.join(_modes.DEFAULT_MODES)})")
    ap.add_argument("--json", metavar="FILE", help="write every raw timing as JSON")
    ap.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    ns = ap.parse_args(argv)
    ns.modes = [m.strip() for m in ns.modes.split(",") if m.strip()]
    bad = [m for m in ns.modes if m not in _modes.MODES]
    if bad or not ns.modes:
        ap.error(f"unknown mode(s) {', '.join(bad)}; choose from {', '.join(_modes.MODES)}")
    if ns.repeat < 1:
        ap.error("--repeat must be at least 1")
    return ns


def measure(scripts: list[str], mode_names: list[str], repeat: int, cwd: Path,
            ticker=lambda _mode: Steps()) -> list[dict]:
    """Run every mode asked for; the results are plain dicts (what ``--json`` writes).
    ``ticker(mode)`` gives the ``Steps`` a mode reports its progress to."""
    tmp = Path(tempfile.mkdtemp(prefix="stratum-bench-"))
    try:
        return [_modes.RUNNERS[m](scripts, cwd, repeat, tmp, ticker(m)) for m in mode_names]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def document(argv: list[str], scripts: list[str], repeat: int, cwd: Path,
             results: list[dict]) -> dict:
    from stratum.cli.bench.machine import describe

    return {"command": shlex.join(["python", "-m", "stratum", "bench", *argv]),
            "cwd": str(cwd), "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": describe(), "repeat": repeat, "scripts": scripts, "modes": results}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ns = _parse(argv)
    scripts = expand(ns.paths)
    missing = [s for s in scripts if not os.path.isfile(s)]
    if missing or not scripts:
        sys.stderr.write(f"stratum bench: no such script: {', '.join(missing)}\n" if missing
                         else "stratum bench: no .py files found\n")
        return 2
    cwd = Path.cwd()
    totals = {m: _modes.steps(m, len(scripts), ns.repeat) for m in ns.modes}
    with Reporter(totals) as reporter:
        results = measure(scripts, ns.modes, ns.repeat, cwd, reporter)
    doc = document(argv, scripts, ns.repeat, cwd, results)
    from stratum.cli.bench import render
    from stratum.cli.output import console as stdout_console

    # a terminal: its width (the tables fit it); else the report's natural width, >= 120
    console = stdout_console(render.report_width(results))
    render.print_report(console, results, ns.repeat)
    if ns.json:
        Path(ns.json).write_text(json.dumps(doc, indent=1) + "\n")
    if ns.html:
        from stratum.cli.bench import htmlreport

        Path(ns.html).write_text(htmlreport.render(doc), encoding="utf-8")
    return 1 if render.failed(results) else 0
