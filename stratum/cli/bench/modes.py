"""The measuring modes of ``stratum bench``: how plain and stratum runs are paired and timed.

Every mode alternates plain and stratum (A B, then B A, ...) so a drift of the machine hits both
sides equally, and compares every stratum run's output with the plain run it is paired with.
Each mode reports its steps (one script's pair of runs, a priming run, one whole batch) to the
``stratum.cli.bench.progress.Steps`` it is given: ``begin`` with the script, ``done`` with the
seconds; ``steps`` says how many a mode makes.

- cold:    each stratum run gets a fresh, empty cache: the pure cost of tracing;
- rerun:   one cache per script, primed by one run, then repeated runs reuse it;
- session: the scripts in the order given share one cache, empty at the first script: an
           agent's sequence of small edits, each run once;
- batch:   the whole set as one ``python -m stratum run --out DIR ...`` (fresh cache) against
           the plain runs one after another.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from stratum.cli.bench.progress import Steps
from stratum.cli.bench.runs import (Outcome, breakdown, differences, env_for, outcome_from_files,
                                    plain_cmd, run, stratum_cmd, trace_of)

MODES = ("cold", "rerun", "session", "batch")
DEFAULT_MODES = ("cold", "rerun", "batch")
DESCRIPTIONS = {
    "cold": "every stratum run with a fresh empty cache (nothing can be reused)",
    "rerun": "warm cache: primed by one stratum run, then the same script again",
    "session": "the scripts in the order given share one cache, empty at the first one",
    "batch": "the whole set as one `python -m stratum run` vs plain runs one after another "
             "(per-script seconds are the batch's own, without interpreter start: compare totals)",
}

def _note(plain: Outcome, other: Outcome, label: str = "stratum") -> str:
    """What a finished step's progress line says: both times, and a difference if any."""
    same = "" if plain.shown() == other.shown() else ", OUTPUT DIFFERS"
    return f"plain {plain.seconds:.2f}s, {label} {other.seconds:.2f}s{same}"


@dataclass
class Pair:
    """One repetition of one script: the plain run, the stratum run, the stratum run's trace."""

    plain: Outcome
    stratum: Outcome
    trace: dict | None = None


def _alternate(rep: int, plain: Callable, strat: Callable):
    """Run both, plain first on even repetitions and stratum first on odd ones."""
    if rep % 2 == 0:
        a = plain()
        return a, strat()
    b = strat()
    return plain(), b


def _median(xs):
    return statistics.median(xs) if xs else None


def _ratio(plain_s, strat_s):
    return plain_s / strat_s if plain_s is not None and strat_s else None


def script_result(script: str, pairs: list[Pair], extra_checks: list[tuple[str, Outcome]] = ()
                  ) -> dict:
    """Timings (raw and medians) and the byte-for-byte verdict for one script in one mode."""
    checks = [(str(i), p.plain, p.stratum) for i, p in enumerate(pairs)]
    checks += [(label, pairs[0].plain, o) for label, o in extra_checks]
    mismatch_runs, diff = [], ""
    for label, plain, other in checks:
        if plain.shown() != other.shown():
            mismatch_runs.append(label)
            diff = diff or differences(plain, other)
    plain_t = [p.plain.seconds for p in pairs]
    strat_t = [p.stratum.seconds for p in pairs]
    last = pairs[-1]
    p_s, s_s = _median(plain_t), _median(strat_t)
    return {
        "script": script, "plain_runs": plain_t, "stratum_runs": strat_t,
        "plain_s": p_s, "stratum_s": s_s, "speedup": _ratio(p_s, s_s),
        "exit_plain": last.plain.exit_code, "exit_stratum": last.stratum.exit_code,
        "identical": not mismatch_runs, "mismatch_runs": mismatch_runs, "diff": diff,
        "plain_deterministic": len({p.plain.shown() for p in pairs}) == 1,
        "trace": last.trace, "breakdown": breakdown(last.stratum.seconds, last.trace),
        "other_runs": {label: o.seconds for label, o in extra_checks},
    }


def _mode_result(mode: str, rows: list[dict], stratum_total: float | None = None,
                 plain_total: float | None = None, **extra) -> dict:
    p = plain_total if plain_total is not None else sum(r["plain_s"] for r in rows)
    s = stratum_total if stratum_total is not None else sum(r["stratum_s"] for r in rows)
    return {"mode": mode, "available": True, "description": DESCRIPTIONS[mode], "scripts": rows,
            "total": {"plain_s": p, "stratum_s": s, "speedup": _ratio(p, s),
                      "identical": all(r["identical"] for r in rows)}, **extra}


def _stratum_traced(script: str, cwd: Path, cache: Path) -> tuple[Outcome, dict | None]:
    out = run(stratum_cmd(script), cwd, cache)
    return out, trace_of(cache, script, cwd)


def _what(r: int, repeat: int) -> str:
    return f"run {r + 1}/{repeat}"


def cold(scripts: list[str], cwd: Path, repeat: int, tmp: Path, tick: Steps) -> dict:
    rows = []
    for i, s in enumerate(scripts):
        pairs = []
        for r in range(repeat):
            tick.begin(s, _what(r, repeat))
            cache = tmp / f"cold-{i}-{r}"

            def strat():
                try:
                    return _stratum_traced(s, cwd, cache)
                finally:
                    shutil.rmtree(cache, ignore_errors=True)

            plain, (out, trace) = _alternate(r, lambda: run(plain_cmd(s), cwd), strat)
            pairs.append(Pair(plain, out, trace))
            tick.done(_note(plain, out))
        rows.append(script_result(s, pairs))
    return _mode_result("cold", rows)


def rerun(scripts: list[str], cwd: Path, repeat: int, tmp: Path, tick: Steps) -> dict:
    rows = []
    for i, s in enumerate(scripts):
        cache = tmp / f"rerun-{i}"
        tick.begin(s, "prime")
        prime = run(stratum_cmd(s), cwd, cache)  # also checked: a cold run must match too
        tick.done(f"stratum {prime.seconds:.2f}s (cache primed)")
        pairs = []
        for r in range(repeat):
            tick.begin(s, _what(r, repeat))
            plain, (out, trace) = _alternate(r, lambda: run(plain_cmd(s), cwd),
                                             lambda: _stratum_traced(s, cwd, cache))
            pairs.append(Pair(plain, out, trace))
            tick.done(_note(plain, out))
        shutil.rmtree(cache, ignore_errors=True)
        rows.append(script_result(s, pairs, [("prime", prime)]))
    return _mode_result("rerun", rows)


def session(scripts: list[str], cwd: Path, repeat: int, tmp: Path, tick: Steps) -> dict:
    pairs: list[list[Pair]] = [[] for _ in scripts]
    for r in range(repeat):
        cache = tmp / f"session-{r}"
        for i, s in enumerate(scripts):
            tick.begin(s, _what(r, repeat))
            plain, (out, trace) = _alternate(r, lambda: run(plain_cmd(s), cwd),
                                             lambda: _stratum_traced(s, cwd, cache))
            pairs[i].append(Pair(plain, out, trace))
            tick.done(_note(plain, out))
        shutil.rmtree(cache, ignore_errors=True)
    return _mode_result("session", [script_result(s, p) for s, p in zip(scripts, pairs)])


# ---- batch ------------------------------------------------------------------------------------
def batch_available() -> bool:
    return importlib.util.find_spec("stratum.batch.job") is not None


def _resolve(path: str, cwd: Path, out_dir: Path) -> Path:
    p = Path(path)
    if p.is_absolute():
        return p
    return cwd / p if (cwd / p).exists() else out_dir / p


def read_summary(out_dir: Path, cwd: Path) -> list[dict]:
    """``DIR/summary.json`` of ``stratum run --out DIR``, with the outputs.

    One entry per script in the order given: ``script``, ``outcome`` (exit code, stdout and
    stderr bytes, seconds), ``reused``, ``executed``.
    """
    entries = json.loads((out_dir / "summary.json").read_text())
    return [{"script": e["script"], "reused": e.get("reused"), "executed": e.get("executed"),
             "outcome": outcome_from_files(int(e["exit_code"]),
                                           _resolve(e["stdout"], cwd, out_dir),
                                           _resolve(e["stderr"], cwd, out_dir),
                                           float(e["seconds"]))}
            for e in entries]


class BatchFailed(Exception):
    """``stratum run`` itself failed: no summary to compare."""


def _batch_run(scripts: list[str], cwd: Path, cache: Path, out_dir: Path
               ) -> tuple[float, list[dict]]:
    cmd = [sys.executable, "-m", "stratum", "run", "--out", str(out_dir), *scripts]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env_for(cache), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    try:
        entries = read_summary(out_dir, cwd)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        tail = proc.stderr.decode("utf-8", "replace")[-2000:]
        raise BatchFailed(f"`{' '.join(cmd[1:])}` exited {proc.returncode} without a usable "
                          f"summary.json ({type(exc).__name__}: {exc})\n{tail}") from None
    if len(entries) != len(scripts):
        raise BatchFailed(f"summary.json lists {len(entries)} scripts, {len(scripts)} were given")
    return wall, entries


def batch(scripts: list[str], cwd: Path, repeat: int, tmp: Path, tick: Steps) -> dict:
    if not batch_available():
        return {"mode": "batch", "available": False, "description": DESCRIPTIONS["batch"],
                "note": "batch mode unavailable: this stratum has no `python -m stratum run` "
                        "(stratum.batch.job)"}
    pairs: list[list[Pair]] = [[] for _ in scripts]
    counts: list[dict] = [{} for _ in scripts]
    plain_totals, batch_walls = [], []
    for r in range(repeat):
        cache, out_dir = tmp / f"batch-cache-{r}", tmp / f"batch-out-{r}"
        tick.begin(f"all {len(scripts)} scripts", _what(r, repeat))
        try:
            plains, (wall, entries) = _alternate(
                r, lambda: [run(plain_cmd(s), cwd) for s in scripts],
                lambda: _batch_run(scripts, cwd, cache, out_dir))
        except BatchFailed as exc:
            tick.done("the batch command failed (see the report)")
            return {"mode": "batch", "available": True, "description": DESCRIPTIONS["batch"],
                    "error": str(exc)}
        finally:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(out_dir, ignore_errors=True)
        plain_totals.append(sum(p.seconds for p in plains))
        batch_walls.append(wall)
        for i, (plain, entry) in enumerate(zip(plains, entries)):
            pairs[i].append(Pair(plain, entry["outcome"]))
            counts[i] = {"reused": entry["reused"], "executed": entry["executed"]}
        differ = [s for s, p, e in zip(scripts, plains, entries)
                  if p.shown() != e["outcome"].shown()]
        tick.done(f"plain {plain_totals[-1]:.2f}s, batch {wall:.2f}s"
                  + (f", OUTPUT DIFFERS: {', '.join(differ)}" if differ else ""))
    rows = []
    for s, p, c in zip(scripts, pairs, counts):
        row = script_result(s, p)
        row["trace"] = {"reused": c["reused"], "executed": c["executed"],
                        "nodes": (c["reused"] or 0) + (c["executed"] or 0)}
        rows.append(row)
    return _mode_result("batch", rows, stratum_total=_median(batch_walls),
                        plain_total=_median(plain_totals), plain_total_runs=plain_totals,
                        batch_runs=batch_walls)


RUNNERS = {"cold": cold, "rerun": rerun, "session": session, "batch": batch}


def steps(mode: str, n_scripts: int, repeat: int) -> int:
    """How many steps ``mode`` reports (``Steps.begin`` ... ``done``)."""
    if mode == "batch":
        return repeat if batch_available() else 0
    return n_scripts * (repeat + (1 if mode == "rerun" else 0))
