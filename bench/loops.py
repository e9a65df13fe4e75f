"""Cost per traced operation in loops of many small operations, cold (issue: per-op cost).

Every script of ``bench/loops/`` (numpy arithmetic in a 50x50 loop, pandas ``df.at`` /
``.iloc`` per row, ``np.mean`` over slices, ``iterrows`` building a list of results, one
matplotlib ``ax.plot`` per point, a loop at the end of a long script) runs as ``python script.py`` and ``python -m stratum
script.py`` alternately, ``--repeat`` times each; every stratum run gets a FRESH cache dir, so
nothing can be reused. Reported per script: median wall seconds, the slowdown
stratum/plain (target <= 1.3x), the number of library operations (nodes of the run's trace,
``python -m stratum trace show --last --json``, plus the calls each folded call site of a hot
loop ran untraced) and the cost of one traced operation,
(stratum - plain) / nodes, in microseconds: capture, keying, recording and writing the trace.

    python bench/loops.py [--repeat N] [--quick] [--pythonpath DIR] [--json FILE] [filter,...]

Every run's output must be plain python's (exit 1 otherwise). ``--quick`` (CI): two scripts,
one repeat. ``--pythonpath DIR``: the stratum to measure (another
checkout, e.g. an older commit for a before/after). Scripts that need a library that is not
installed (matplotlib) are skipped. The machine is noisy: compare ratios measured side by side
in one run, never seconds across runs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LOOPS = HERE / "loops"
QUICK = ("np_arith.py", "pd_scalar.py")
NEEDS = {"mpl_points.py": "matplotlib"}
_CPU_DIR = ""  # set by main(): a CPU-token pool of this benchmark's own


def _env(cache_dir: Path | None, pythonpath: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([pythonpath] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(REPO)])
    if cache_dir is not None:
        env["STRATUM_CACHE_DIR"] = str(cache_dir)
    # A CPU-token pool of this benchmark's own (stratum/cpu/budget.py): a measured run must not
    # wait behind other stratum processes on the machine, whose work is not its overhead.
    env["STRATUM_CPU_DIR"] = _CPU_DIR
    return env


def _run(cmd, cwd: Path, env: dict) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=1800)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr.decode()[-2000:]}")
    return seconds, proc.stdout


def _nodes(cache_dir: Path, env: dict) -> int | None:
    proc = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--last", "--json"],
                          env=env, cwd=cache_dir, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, timeout=600)
    try:
        nodes = json.loads(proc.stdout)["nodes"]
    except (ValueError, KeyError):
        return None
    # A folded call site (a hot loop, stratum/engine/fold.py) is one node standing for the
    # calls that ran untraced after it: count those calls, which are operations too.
    count = 0
    for n in nodes:
        m = re.match(r"ran untraced: (\d+) calls", n.get("reason") or "")
        count += 1 + (int(m.group(1)) if n.get("kind") == "folded" and m else 0)
    return count


def bench_script(script: Path, base: Path, repeat: int, pythonpath: str) -> dict:
    work = base / script.stem
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(script, work / script.name)
    plain, strat, nodes, outputs = [], [], None, set()
    for r in range(repeat):
        cache = base / "cache" / f"{script.stem}-{r}"
        order = ("plain", "stratum") if r % 2 == 0 else ("stratum", "plain")
        for mode in order:
            if mode == "plain":
                seconds, out = _run([sys.executable, script.name], work, _env(None, pythonpath))
                plain.append(seconds)
                outputs.add(out)
                continue
            shutil.rmtree(cache, ignore_errors=True)
            env = _env(cache, pythonpath)
            seconds, out = _run([sys.executable, "-m", "stratum", script.name], work, env)
            strat.append(seconds)
            outputs.add(out)
            if r == repeat - 1:
                nodes = _nodes(cache, env)
            shutil.rmtree(cache, ignore_errors=True)
    p, s = statistics.median(plain), statistics.median(strat)
    per_op = (s - p) / nodes * 1e6 if nodes else None
    return {"script": script.name, "plain_s": p, "stratum_s": s, "ratio": s / p,
            "nodes": nodes, "us_per_op": per_op, "plain_runs": plain, "stratum_runs": strat,
            "same_output": len(outputs) == 1}


def _available(script: Path) -> bool:
    need = NEEDS.get(script.name)
    if need is None:
        return True
    import importlib.util

    return importlib.util.find_spec(need) is not None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("filter", nargs="?", help="comma-separated substrings of script names")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK)}, 1 repeat (CI)")
    ap.add_argument("--pythonpath", default=str(REPO), help="the stratum checkout to measure")
    ap.add_argument("--json", metavar="FILE")
    ns = ap.parse_args(argv)
    global _CPU_DIR
    _CPU_DIR = tempfile.mkdtemp(prefix="stratum-bench-cpu-")
    repeat = 1 if ns.quick else ns.repeat
    scripts = sorted(LOOPS.glob("*.py"))
    if ns.quick:
        scripts = [s for s in scripts if s.name in QUICK]
    if ns.filter:
        words = ns.filter.split(",")
        scripts = [s for s in scripts if any(w in s.name for w in words)]
    rows, skipped = [], []
    base = Path(tempfile.mkdtemp(prefix="stratum-loops-"))
    try:
        for script in scripts:
            if not _available(script):
                skipped.append(f"{script.name} (needs {NEEDS[script.name]})")
                continue
            row = bench_script(script, base, repeat, os.path.abspath(ns.pythonpath))
            rows.append(row)
            print(f"{script.name}: plain {row['plain_s']:.2f}s stratum {row['stratum_s']:.2f}s "
                  f"{row['ratio']:.2f}x nodes {row['nodes']}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"## loops: cold run, {repeat} repeat(s), median wall seconds; "
          "ratio = stratum/plain (target <= 1.3x)\n")
    print("| script | plain s | stratum s | ratio | traced ops | us per op |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        per_op = f"{r['us_per_op']:.0f}" if r["us_per_op"] is not None else "-"
        same = "" if r["same_output"] else " **output differs from plain python**"
        print(f"| {r['script']}{same} | {r['plain_s']:.2f} | {r['stratum_s']:.2f} | "
              f"{r['ratio']:.2f}x | {r['nodes'] if r['nodes'] is not None else '-'} | {per_op} |")
    if skipped:
        print(f"\nskipped: {', '.join(skipped)}")
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump({"repeat": repeat, "scripts": rows, "skipped": skipped}, fh, indent=1)
    return 0 if all(r["same_output"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
