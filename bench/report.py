"""Write bench/RESULTS.md from the JSON outputs of the benchmark commands.

    python bench/overhead.py --repeat 3 --json OUT/overhead.json
    python bench/rerun.py --repeat 3 --json OUT/rerun.json tests/corpus/{reg,clf,text,search,fe}_*.py
    python bench/session.py --repeat 2 --json OUT/session.json
    pytest bench/test_hotpaths.py --benchmark-columns=median,min,rounds > OUT/hotpaths.txt
    python bench/report.py OUT [--machine "text"]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_median(text: str, name: str) -> float:
    m = re.search(rf"^{name}\s+([\d.]+)", text, re.M)
    return float(m.group(1)) if m else float("nan")


def overhead_section(ov: dict) -> list[str]:
    sc = ov["scripts"]
    ratios = [s["ratio"] for s in sc]
    nodes = [s["nodes"] for s in sc if s["nodes"] is not None]
    startup = {s["command"]: s["median_s"] for s in ov["startup"]}
    out = [
        "## Cold run: overhead when nothing can be reused (issue 2)", "",
        "`python bench/overhead.py --repeat 3` — every corpus script (tests/corpus), plain vs "
        "`python -m stratum` with a fresh cache per run. Ratio = plain / stratum (1.00x = no "
        "overhead; target ≥ 0.95x).", "",
        f"- {len(sc)} scripts: total plain {ov['total_plain_s']:.2f}s, stratum "
        f"{ov['total_stratum_s']:.2f}s, ratio of totals "
        f"**{ov['total_plain_s'] / ov['total_stratum_s']:.3f}x**; median per-script ratio "
        f"**{statistics.median(ratios):.3f}x**; {sum(r >= 0.95 for r in ratios)}/{len(ratios)} "
        "scripts at ≥ 0.95x.",
        "- **Target not met.** The gap is a fixed start-up cost, not a per-operation cost (see the "
        "per-operation figures below): `python -m` start-up with stratum disabled ≈ 35 ms, "
        "activation ≈ 30 ms (importing the `bytecode` package alone 16 ms), rewriting a script "
        "≈ 5 ms, the trace write 2–3 ms. Scripts that run < 0.5 s plain (EDA on small frames, "
        "failing scripts) show the worst ratios for that reason.",
        f"- Nodes per script: median {statistics.median(nodes):.0f}, max {max(nodes)}.", "",
        "Interpreter start + imports (median wall seconds):", "",
        "| command | seconds |", "|---|---:|",
        *[f"| `{cmd}` | {sec:.3f} |" for cmd, sec in startup.items()], "",
        "| script | plain s | stratum s | ratio | nodes |", "|---|---:|---:|---:|---:|",
        *[f"| {s['script']} | {s['plain_s']:.3f} | {s['stratum_s']:.3f} | {s['ratio']:.3f}x | "
          f"{s['nodes']} |" for s in sc], "",
    ]
    return out


def hotpath_section(hp: str) -> list[str]:
    m = lambda name: _bench_median(hp, name)  # noqa: E731
    gp, gn, ge = m("test_getitem_plain"), m("test_getitem_rewritten_no_engine"), m("test_getitem_engine")
    ap, ae = m("test_add_plain"), m("test_add_engine")
    ip, inn, ie = m("test_int_plain"), m("test_int_rewritten_no_engine"), m("test_int_engine")
    return [
        "## Cost per intercepted operation (issue 2)", "",
        "`pytest bench/test_hotpaths.py` (pytest-benchmark; loops of 10,000 operations in rewritten "
        "code; milliseconds per loop):", "",
        "| what | plain | rewritten, stratum inactive | stratum active | per operation |",
        "|---|---:|---:|---:|---:|",
        f"| `df[\"a\"]` (traced) | {gp:.1f} | {gn:.1f} | {ge:.1f} | +{(ge - gp) / 10:.1f} µs |",
        f"| `arr + 1` on an ndarray (traced) | {ap:.1f} | – | {ae:.1f} | +{(ae - ap) / 10:.1f} µs |",
        f"| `i + 1` on ints (plain fast path) | {ip:.2f} | {inn:.2f} | {ie:.2f} | "
        f"+{(ie - ip) * 100:.0f} ns |", "",
        f"Keys: `key_of` of a 1M-float ndarray {m('test_key_ndarray_1m'):.2f} ms, of a 100k-row mixed "
        f"DataFrame {m('test_key_dataframe_100k'):.2f} ms. Cache, 10 MB array: put "
        f"{m('test_cache_put'):.1f} ms, get from disk {m('test_cache_get_disk'):.1f} ms, from memory "
        f"{m('test_cache_get_memory'):.2f} ms.", "",
    ]


def rerun_section(rr: dict) -> list[str]:
    s = rr["summary"]
    return [
        "## Re-run of an unchanged script (issue 3)", "",
        "`python bench/rerun.py --repeat 3 tests/corpus/{reg,clf,text,search,fe}_*.py` — compute "
        "time = full run minus a twin holding only the script's imports (plain twin for plain, "
        "stratum twin for stratum); the cache warmed by one run first.", "",
        f"- {s['scripts']} scripts: compute {s['total_compute_plain_s']:.2f}s plain in total, "
        f"{s['total_compute_stratum_s']:.2f}s under stratum: **{s['total_compute_ratio']:.2f}** of "
        f"plain (median per script {s['median_compute_ratio']:.2f}; target ≤ 0.10). Peak RSS: "
        f"median ratio stratum / plain {s['median_rss_ratio']:.3f}.",
        "- These corpus scripts compute only 0.02–0.6 s, so stratum's own fixed work in a run that "
        "uses a library (loading the engine and opening the cache, ~20–40 ms; the imports-only twin "
        "never loads them) counts as compute here. On real work the re-run is dominated by loading "
        "results: in the agent session below an unchanged 8 s pipeline re-runs in about 1 s, most "
        "of it interpreter start and imports.", "",
        "| script | compute plain s | compute stratum s | ratio | RSS plain MiB | RSS stratum MiB |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {r['script']} | {r['compute_plain_s']:.3f} | {r['compute_stratum_s']:.3f} | "
          f"{r['compute_ratio']:.2f} | {r['rss_plain_mib']:.0f} | {r['rss_stratum_mib']:.0f} |"
          for r in rr["scripts"]], "",
    ]


def session_section(ss: dict) -> list[str]:
    tp, ts = ss["total_plain_s"], ss["total_stratum_s"]
    return [
        "## An agent session of small edits (issue 3)", "",
        "`python bench/session.py --repeat 2` — 20,000 rows; a ColumnTransformer + model pipeline "
        "under 5-fold CV; each step a small edit of the previous one; the cache cold at step 0; "
        f"outputs byte-identical at every step: {'yes' if not ss['mismatches'] else 'NO'}.", "",
        "| step | plain s | stratum s | speed-up | reused operations |", "|---|---:|---:|---:|---|",
        *[f"| {r['step']} | {r['plain_s']:.2f} | {r['stratum_s']:.2f} | {r['speedup']:.2f}x | "
          f"{r['reused']}: {', '.join(r['reused_ops'])} |" for r in ss["steps"]],
        f"| **total** | **{tp:.2f}** | **{ts:.2f}** | **{tp / ts:.2f}x** | |", "",
        "A new model or hyper-parameter reuses every fold's fitted preprocessing "
        "(`_fit_transform_one`), but the model fit dominates those steps, so they run at plain "
        "speed; an unchanged pipeline with one more print, and the fix after a crash, are restored "
        "whole (`cross_val_score`).", "",
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--machine", default="2 cores, 23 GiB, Linux")
    ns = ap.parse_args(argv)
    load = lambda name: json.loads((ns.outdir / name).read_text())  # noqa: E731
    lines = [
        "# Benchmark results", "",
        f"Machine: {ns.machine}. Every ratio is measured side by side in one run (plain `python` "
        "and stratum alternating), medians of the stated repeats; the machine is small and noisy, "
        "so compare ratios, not seconds across runs. Regenerate with the commands in "
        "`bench/report.py`.", "",
        *overhead_section(load("overhead.json")),
        *hotpath_section((ns.outdir / "hotpaths.txt").read_text()),
        *rerun_section(load("rerun.json")),
        *session_section(load("session.json")),
    ]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
