"""Re-run of an unchanged script: compute time and peak memory, plain python vs stratum (warm).

Compute time excludes interpreter start and imports: for every script a twin holding only its
top-level imports is timed the same way, and its median is subtracted (plain twin for plain,
stratum twin for stratum). Runs alternate plain / stratum to cancel machine drift; medians of
``--repeat`` runs. Peak RSS comes from ``wait4`` of each child.

    python bench/rerun.py [--repeat 5] [--json out.json] [--quick] [script.py ...]

Without scripts it uses the differential corpus (tests/corpus) minus scripts that fail on
purpose. The target (issue 3): stratum's compute ≤ 10% of plain's.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import difftest  # noqa: E402


def imports_only(source: str) -> str:
    tree = ast.parse(source)
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return ast.unparse(ast.Module(body=keep, type_ignores=[])) + "\n"


def timed(cmd, cwd, env, stdin: bytes | None) -> tuple[float, int, int]:
    """(seconds, peak RSS in KiB, exit code) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stdin:
        proc.stdin.write(stdin)
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_maxrss, proc.returncode


def measure(script: Path, data_dir: Path, repeat: int) -> dict:
    spec = difftest.read_spec(script)
    work = Path(tempfile.mkdtemp(prefix="rerun-"))
    cache = Path(tempfile.mkdtemp(prefix="rerun-cache-"))
    try:
        shutil.copytree(data_dir, work / "data")
        for helper in difftest.helper_modules(script.parent):
            shutil.copy2(helper, work / helper.name)
        shutil.copy2(script, work / script.name)
        twin = work / f"imports_{script.name}"
        twin.write_text(imports_only(script.read_text()))
        env_plain = difftest.build_env("plain", None)
        env_strat = difftest.build_env("stratum", cache)
        stdin = "".join(line + "\n" for line in spec.stdin).encode() if spec.stdin else None

        def cmd(mode, name):
            return difftest.command(mode, name, list(spec.args))

        timed(cmd("stratum", script.name), work, env_strat, stdin)  # warm the cache
        rows = {k: [] for k in ("plain", "stratum", "plain_imports", "stratum_imports")}
        rss = {"plain": [], "stratum": []}
        for _ in range(repeat):
            for mode in ("plain", "stratum"):
                env = env_plain if mode == "plain" else env_strat
                seconds, peak, _ = timed(cmd(mode, script.name), work, env, stdin)
                rows[mode].append(seconds)
                rss[mode].append(peak)
                seconds, _, _ = timed(cmd(mode, twin.name), work, env, None)
                rows[f"{mode}_imports"].append(seconds)
        med = {k: statistics.median(v) for k, v in rows.items()}
        compute_plain = max(med["plain"] - med["plain_imports"], 1e-3)
        compute_strat = max(med["stratum"] - med["stratum_imports"], 0.0)
        return {
            "script": script.name, **{f"{k}_s": round(v, 4) for k, v in med.items()},
            "compute_plain_s": round(compute_plain, 4), "compute_stratum_s": round(compute_strat, 4),
            "compute_ratio": round(compute_strat / compute_plain, 3),
            "rss_plain_mib": round(statistics.median(rss["plain"]) / 1024, 1),
            "rss_stratum_mib": round(statistics.median(rss["stratum"]) / 1024, 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scripts", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="3 scripts, 1 repeat (CI)")
    ns = ap.parse_args(argv)
    scripts = ns.scripts or [s for s in difftest.corpus_scripts(filter_text="")
                             if not s.stem.startswith(("fail_", "misc_os_exit", "misc_keyboard"))]
    repeat = ns.repeat
    if ns.quick:
        scripts, repeat = scripts[:3], 1
    data = Path(tempfile.mkdtemp(prefix="rerun-data-"))
    sys.path.insert(0, str(difftest.CORPUS_DIR))
    from make_data import make_data

    make_data(data)
    results = []
    for script in scripts:
        r = measure(script.resolve(), data, repeat)
        results.append(r)
        print(f"{r['script']:<34} compute plain {r['compute_plain_s']:7.3f}s  stratum "
              f"{r['compute_stratum_s']:7.3f}s  ratio {r['compute_ratio']:6.3f}  "
              f"start+imports {r['plain_imports_s']:.2f}s / {r['stratum_imports_s']:.2f}s  "
              f"RSS {r['rss_plain_mib']:.0f} / {r['rss_stratum_mib']:.0f} MiB", flush=True)
    shutil.rmtree(data, ignore_errors=True)
    ratios = [r["compute_ratio"] for r in results]
    total_plain = sum(r["compute_plain_s"] for r in results)
    total_strat = sum(r["compute_stratum_s"] for r in results)
    summary = {"scripts": len(results), "median_compute_ratio": statistics.median(ratios),
               "total_compute_plain_s": round(total_plain, 3),
               "total_compute_stratum_s": round(total_strat, 3),
               "total_compute_ratio": round(total_strat / total_plain, 3) if total_plain else None,
               "median_rss_ratio": statistics.median(
                   r["rss_stratum_mib"] / r["rss_plain_mib"] for r in results)}
    print(json.dumps(summary, indent=1))
    if ns.json:
        ns.json.write_text(json.dumps({"summary": summary, "scripts": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
