"""End-to-end overhead of ``python -m stratum`` on a cold cache, per corpus script.

For every script of ``tests/corpus`` (helpers and ``make_data.py`` excluded) this runs
``python script.py`` and ``python -m stratum script.py`` alternately, ``--repeat`` times each,
in a work dir rebuilt the same way ``tests/difftest.py`` does (same relative invocation, same
environment). Every stratum run gets a FRESH cache dir, so nothing can be reused: this is the
pure cost of tracing. The median wall time per script is reported with the ratio plain/stratum
(1.00x = no overhead; the target is >= 0.95x, i.e. stratum at most 5% slower), plus the number
of nodes recorded in the trace (``python -m stratum trace show --last --json``).

Separately: interpreter start + imports, ``python -c "import numpy, pandas, sklearn"`` vs
``python -m stratum`` on an empty script and on a script that imports the three libraries.

    python bench/overhead.py [--repeat N] [--quick] [--before DIR] [--json FILE] [filter,...]

``--quick`` (CI): three scripts, one repeat. Machines are noisy: compare ratios measured side
by side in one run, never absolute seconds across runs. ``--before DIR``: also run each script
under the stratum of another checkout (an export of an earlier commit, with its compiled
extension), in the same alternation, for a before / after column measured side by side.
The summary also counts scripts more than 1.3x slower than plain (issue 11's bound).

``--used-cache``: each stratum run starts from a copy of a cache dir an unrelated earlier run
made (one numpy call, nothing a corpus script can reuse) instead of an empty one: still cold for
the script, but the cache index and the trace store exist, as they do for every run of an
agent's search after its first. Creating them (SQLite's switch to WAL, the schema, the secret)
is a one-time cost a fresh dir charges to every run.
"""
from __future__ import annotations

import argparse
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
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

import difftest  # noqa: E402

QUICK_SCRIPTS = ("eda_groupby_agg.py", "reg_ridge_alphas.py", "clf_logreg_baseline.py")


def _nodes(cache_dir: Path) -> int | None:
    if not cache_dir.is_dir():  # e.g. a syntax error: the script never started, nothing traced
        return 0
    env = difftest.build_env("stratum", cache_dir)
    proc = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--last", "--json"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                          cwd=cache_dir)  # not the source tree, which has no compiled extension
    if proc.returncode != 0:
        return None
    try:
        return len(json.loads(proc.stdout)["nodes"])
    except (ValueError, KeyError):
        return None


#: What makes a cache dir "used" for --used-cache: one library call no corpus script makes.
USED_CACHE_SCRIPT = "import numpy as np\nprint(int(np.full(3, 7919).sum()))\n"


def used_cache(base: Path, name: str, env_extra: dict | None = None) -> Path:
    """A cache dir after one unrelated run (see ``--used-cache``), made by the stratum that
    ``env_extra`` selects."""
    d = base / "used" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "warm.py").write_text(USED_CACHE_SCRIPT)
    env = difftest.build_env("stratum", d / "cache")
    env.update(env_extra or {})
    subprocess.run([sys.executable, "-m", "stratum", "warm.py"], cwd=d, env=env,
                   stdout=subprocess.DEVNULL, check=True)
    return d / "cache"


def _fresh(cache_dir: Path, template: Path | None) -> None:
    shutil.rmtree(cache_dir, ignore_errors=True)
    if template is not None:
        shutil.copytree(template, cache_dir)


def bench_script(script: Path, base: Path, data_dir: Path, repeat: int,
                 before: str | None = None, templates: dict | None = None) -> dict:
    templates = templates or {}
    workdir = base / "w" / script.stem
    plain_t, strat_t, before_t, nodes, exits = [], [], [], None, set()
    for r in range(repeat):
        cache_dir = base / "cache" / f"{script.stem}-{r}"
        # alternate which mode goes first so a drift of the machine hits both equally
        order = ("plain", "stratum") if r % 2 == 0 else ("stratum", "plain")
        if before:
            order = (*order, "before") if r % 2 == 0 else ("before", *order)
        for mode in order:
            if mode == "plain":
                res = difftest.run_case(script, workdir, "plain", None, data_dir=data_dir)
                plain_t.append(res.seconds)
                exits.add(("plain", res.exit_code))
            elif mode == "before":
                _fresh(cache_dir, templates.get("before"))
                res = difftest.run_case(script, workdir, "stratum", cache_dir, data_dir=data_dir,
                                        env_extra={"PYTHONPATH": before})
                before_t.append(res.seconds)
                shutil.rmtree(cache_dir, ignore_errors=True)
            else:
                _fresh(cache_dir, templates.get("stratum"))
                res = difftest.run_case(script, workdir, "stratum", cache_dir, data_dir=data_dir)
                strat_t.append(res.seconds)
                exits.add(("stratum", res.exit_code))
                if r == repeat - 1:
                    nodes = _nodes(cache_dir)
                shutil.rmtree(cache_dir, ignore_errors=True)
    p, s = statistics.median(plain_t), statistics.median(strat_t)
    codes = {m: c for m, c in exits}
    return {"script": script.name, "plain_s": p, "stratum_s": s, "ratio": p / s if s else None,
            "before_s": statistics.median(before_t) if before_t else None,
            "nodes": nodes, "plain_runs": plain_t, "stratum_runs": strat_t,
            "exit_plain": codes.get("plain"), "exit_stratum": codes.get("stratum"),
            "same_exit": len({c for _, c in exits}) == 1}


def bench_startup(base: Path, repeat: int) -> list[dict]:
    d = base / "startup"
    d.mkdir(parents=True, exist_ok=True)
    (d / "empty.py").write_text("")
    (d / "imports.py").write_text("import numpy, pandas, sklearn\n")
    env_plain = difftest.build_env("plain", None)
    cases = [
        ("python empty.py", [sys.executable, "empty.py"], False),
        ('python -c "import numpy, pandas, sklearn"',
         [sys.executable, "-c", "import numpy, pandas, sklearn"], False),
        ("python -m stratum empty.py", [sys.executable, "-m", "stratum", "empty.py"], True),
        ("python -m stratum imports.py", [sys.executable, "-m", "stratum", "imports.py"], True),
    ]
    times: dict[str, list[float]] = {c[0]: [] for c in cases}
    for r in range(max(repeat, 3)):
        for label, cmd, strat in cases:
            cache_dir = base / "cache" / f"startup-{r}"
            if cache_dir.exists():
                shutil.rmtree(cache_dir)
            env = difftest.build_env("stratum", cache_dir) if strat else env_plain
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            times[label].append(time.perf_counter() - t0)
            shutil.rmtree(cache_dir, ignore_errors=True)
    return [{"command": k, "median_s": statistics.median(v), "runs": v} for k, v in times.items()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("filter", nargs="?", help="comma-separated substrings of script names")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="3 scripts, 1 repeat (CI)")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--before", metavar="DIR",
                    help="also measure the stratum of this checkout, side by side")
    ap.add_argument("--used-cache", action="store_true",
                    help="start each stratum run from a cache dir an unrelated run made")
    ns = ap.parse_args(argv)
    before = os.path.abspath(ns.before) if ns.before else None
    # A CPU-token pool of this benchmark's own (stratum/cpu/budget.py): a measured run must not
    # wait behind other stratum processes on the machine, whose work is not its overhead.
    os.environ["STRATUM_CPU_DIR"] = tempfile.mkdtemp(prefix="stratum-bench-cpu-")
    repeat = 1 if ns.quick else ns.repeat
    scripts = difftest.corpus_scripts(filter_text=ns.filter)
    if ns.quick:
        scripts = [s for s in scripts if s.name in QUICK_SCRIPTS] or scripts[:3]

    base = Path(tempfile.mkdtemp(prefix="stratum-overhead-"))
    try:
        data_dir = base / "data-src"
        sys.path.insert(0, str(difftest.CORPUS_DIR))
        from make_data import make_data  # type: ignore

        make_data(data_dir)
        templates = {}
        if ns.used_cache:
            templates["stratum"] = used_cache(base, "stratum")
            if before:
                templates["before"] = used_cache(base, "before", {"PYTHONPATH": before})
        rows = []
        t_all = time.perf_counter()
        for s in scripts:
            row = bench_script(s, base, data_dir, repeat, before, templates)
            rows.append(row)
            print(f"[{len(rows)}/{len(scripts)}] {s.name}: plain {row['plain_s']:.3f}s "
                  f"stratum {row['stratum_s']:.3f}s ratio {row['ratio']:.3f}x "
                  f"nodes {row['nodes']}", file=sys.stderr, flush=True)
        startup = bench_startup(base, repeat)
        total = time.perf_counter() - t_all
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print(f"## stratum cold-run overhead ({len(rows)} scripts, {repeat} repeat(s), "
          f"median wall seconds; ratio = plain/stratum, target >= 0.95x)\n")
    head = "| script | plain s | stratum s | ratio | nodes | exit |"
    if before:
        head += " before s | before: stratum/plain | after: stratum/plain |"
    print(head)
    print("|---|---:|---:|---:|---:|---|" + ("---:|---:|---:|" if before else ""))
    for r in rows:
        flag = "" if r["ratio"] is None or r["ratio"] >= 0.95 else " **<0.95**"
        ex = str(r["exit_plain"]) if r["same_exit"] else f"{r['exit_plain']} vs {r['exit_stratum']}!"
        line = (f"| {r['script']} | {r['plain_s']:.3f} | {r['stratum_s']:.3f} | "
                f"{r['ratio']:.3f}x{flag} | {r['nodes'] if r['nodes'] is not None else '-'} | {ex} |")
        if before and r["before_s"] is not None and r["plain_s"]:
            line += (f" {r['before_s']:.3f} | {r['before_s'] / r['plain_s']:.2f}x | "
                     f"{r['stratum_s'] / r['plain_s']:.2f}x |")
        print(line)
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    tp = sum(r["plain_s"] for r in rows)
    ts = sum(r["stratum_s"] for r in rows)
    if ratios:
        gm = statistics.geometric_mean(ratios)
        below = sum(1 for x in ratios if x < 0.95)
        print(f"\n**Total** plain {tp:.2f}s, stratum {ts:.2f}s, ratio of totals {tp / ts:.3f}x; "
              f"geometric mean of ratios {gm:.3f}x; median {statistics.median(ratios):.3f}x; "
              f"min {min(ratios):.3f}x; {below}/{len(ratios)} scripts below 0.95x; "
              f"{sum(1 for x in ratios if x < 1 / 1.3)} more than 1.3x slower than plain.")
        if before:
            slow = sum(1 for r in rows if r["before_s"] and r["plain_s"]
                       and r["before_s"] / r["plain_s"] > 1.3)
            tb = sum(r["before_s"] or 0.0 for r in rows)
            print(f"Before (`{before}`): total {tb:.2f}s; {slow} scripts more than 1.3x slower.")
    print("\n## interpreter start + imports (median wall seconds)\n")
    print("| command | median s |")
    print("|---|---:|")
    for s in startup:
        print(f"| `{s['command']}` | {s['median_s']:.3f} |")
    print(f"\n(benchmark wall time {total:.0f}s)")
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump({"repeat": repeat, "scripts": rows, "startup": startup,
                       "total_plain_s": tp, "total_stratum_s": ts}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
