"""Write bench/RESULTS.md (and its SVG plots) from the outputs of the benchmark commands.

    python bench/overhead.py --repeat 3 --json OUT/overhead.json
    python bench/rerun.py --repeat 3 --json OUT/rerun.json tests/corpus/{reg,clf,text,search,fe}_*.py
    python bench/session.py --repeat 2 --json OUT/session.json
    python bench/variants.py --repeat 2 --json OUT/variants.json
    pytest bench/test_hotpaths.py --benchmark-columns=median,min,rounds > OUT/hotpaths.txt
    python bench/report.py OUT [--machine "text"]

Only the sections whose input is in OUT are rewritten; the others are kept as they are in
RESULTS.md (with the machine and date they were measured on), so one suite can be re-measured
without re-running all of them. This script is the only writer of RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
UNITS_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def _bench_median(text: str, name: str) -> float:
    """Median of benchmark ``name`` in milliseconds, whatever unit its group's table used."""
    unit = "ms"
    for line in text.splitlines():
        head = re.search(r"\(time in (\w+)\)", line)
        if head:
            unit = head.group(1)
            continue
        m = re.match(rf"{name}\s+([\d.,]+)", line)
        if m:
            return float(m.group(1).replace(",", "")) * UNITS_MS.get(unit, 1.0)
    return float("nan")


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
        f"- Issue 11's bound (cold stratum at most 1.3x plain): "
        f"{sum(r < 1 / 1.3 for r in ratios)} of {len(ratios)} scripts are over it. What a run "
        "costs before and after the script (imports, rewrite, trace) is broken down in the "
        "start-up section; it dominates the ratio of scripts that run < 0.5 s plain.",
        (f"- Nodes per script: median {statistics.median(nodes):.0f}, max {max(nodes)}."
         if nodes else "- Nodes per script: not recorded in this run."), "",
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
        f"Measured {datetime.date.today().isoformat()} on {_this_machine()}.", "",
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
        f"Cold-cache path of an executed reusable call: a cache miss {m('test_cache_miss') * 1e3:.0f} "
        f"µs, the single flight (lookup + per-key file lock) {m('test_cache_flight_miss') * 1e3:.0f} "
        f"µs. `key_of` a 3-step Pipeline {m('test_key_estimator_pipeline') * 1e3:.0f} µs. Closing a "
        f"run: recording a 1,000-node trace {m('test_trace_record_1000_nodes'):.1f} ms.", "",
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


def _this_machine() -> str:
    from stratum.cli.bench.machine import describe, one_line

    return one_line(describe())


def _harness(doc: dict) -> str:
    """The command that produced ``doc``, without where its JSON went."""
    return re.sub(r" --json \S+", "", doc["harness"])


def _machine_line(doc: dict) -> str:
    from stratum.cli.bench.machine import one_line

    return f"Measured {doc['date'][:10]} on {one_line(doc['machine'])}."


def _plots(doc: dict, res: dict, stem: str, labels: dict[str, str]) -> list[str]:
    """Write the mode's charts as ``bench/<stem>*.svg``; the Markdown lines that show them."""
    from stratum.cli.bench.htmlreport import mode_charts

    named = {**res, "scripts": [{**r, "script": labels.get(r["script"], r["script"])}
                                for r in res["scripts"]]}
    out = []
    for i, chart in enumerate(mode_charts(named, standalone=True)):
        name = f"{stem}.svg" if i == 0 else f"{stem}_time.svg"
        (HERE / name).write_text(chart + "\n")
        alt = "plain vs stratum, seconds per script" if i == 0 else "where stratum's time went"
        out.append(f"![{stem}: {alt}]({name})")
    return out + [""]


def _bench_rows(res: dict, labels: dict[str, str]) -> list[str]:
    rows = []
    for r in res["scripts"]:
        t = r.get("trace") or {}
        ops = ", ".join(t.get("reused_ops") or [])
        rows.append(f"| {labels.get(r['script'], r['script'])} | {r['plain_s']:.2f} | "
                    f"{r['stratum_s']:.2f} | {r['speedup']:.2f}x | "
                    f"{t.get('reused', '-')} / {t.get('nodes', '-')}{': ' + ops if ops else ''} | "
                    f"{'yes' if r['identical'] else '**NO**'} |")
    tot = res["total"]
    rows.append(f"| **total** | **{tot['plain_s']:.2f}** | **{tot['stratum_s']:.2f}** | "
                f"**{tot['speedup']:.2f}x** | | {'yes' if tot['identical'] else '**NO**'} |")
    return ["| script | plain s | stratum s | speed-up | reused / nodes: reused operations | "
            "identical |", "|---|---:|---:|---:|---|---|", *rows, ""]


def session_section(doc: dict) -> list[str]:
    res = doc["modes"][0]
    labels = {f: f"{i} {d}" for i, (f, d) in enumerate(doc["descriptions"].items())}
    tot = res["total"]
    return [
        "## An agent session of small edits (issue 3)", "",
        f"`{_harness(doc)}` (the machinery of `python -m stratum bench --modes session`) — "
        f"{doc['rows']:,} rows; a ColumnTransformer + model pipeline under 5-fold CV; each step a "
        "small edit of the previous one, run once; one cache shared by the steps, empty at step 0; "
        f"median of {doc['repeat']} session(s) per side, plain and stratum alternating. "
        f"{_machine_line(doc)}", "",
        f"- Whole session: plain {tot['plain_s']:.1f} s, stratum {tot['stratum_s']:.1f} s, "
        f"**{tot['speedup']:.2f}x**; outputs byte-identical at every step: "
        f"{'yes' if tot['identical'] else '**NO**'}.", "",
        *_bench_rows(res, labels),
        "A new model or hyper-parameter reuses every fold's fitted preprocessing "
        "(`_fit_transform_one`), but the model fit dominates those steps, so they run at plain "
        "speed; an unchanged pipeline with one more print, and the fix after a crash (before or "
        "after the training), are restored whole (`cross_val_score`).", "",
        *_plots(doc, res, "session", labels),
    ]


def variants_section(doc: dict) -> list[str]:
    out = [
        "## A search batch of pipeline variants (issue 7)", "",
        f"`{_harness(doc)}` — {len(doc['scripts'])} variants of one pipeline (models, "
        f"hyper-parameters, feature sets), {doc['rows']:,} rows, 5-fold CV; median of "
        f"{doc['repeat']} run(s) per side, plain and stratum alternating. {_machine_line(doc)}", "",
        "Each variant reuses the data load and the per-fold preprocessing fitted by an earlier "
        "variant with the same feature set (`_fit_transform_one`); the model fits, which dominate, "
        "are new in every variant, so reuse alone gains little on such a batch: sharing one warm "
        "interpreter and running in parallel is batch mode's job.", "",
    ]
    for res in doc["modes"]:
        if not res["available"]:
            out += [f"- {res['mode']}: {res['note']}.", ""]
            continue
        if "error" in res:
            out += [f"- {res['mode']}: failed: {res['error'].splitlines()[0]}", ""]
            continue
        tot = res["total"]
        out += [f"### {res['mode']}: {res['description']}", "",
                f"Total plain {tot['plain_s']:.1f} s, stratum {tot['stratum_s']:.1f} s, "
                f"**{tot['speedup']:.2f}x**; outputs byte-identical: "
                f"{'yes' if tot['identical'] else '**NO**'}.", "",
                *_bench_rows(res, {}), *_plots(doc, res, f"variants_{res['mode']}", {})]
    return out


def _sections(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header lines before the first ``## `` heading, and each section's lines by heading."""
    head, sections, current = [], {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line
            sections[current] = []
        if current is None:
            head.append(line)
        else:
            sections[current].append(line)
    return head, sections


SECTIONS = [  # (heading prefix, input file in OUT, writer)
    ("## Cold run", "overhead.json", overhead_section),
    ("## Cost per intercepted operation", "hotpaths.txt", hotpath_section),
    ("## Re-run of an unchanged script", "rerun.json", rerun_section),
    ("## An agent session of small edits", "session.json", session_section),
    ("## A search batch of pipeline variants", "variants.json", variants_section),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--machine", help="machine description for the header (default: this one)")
    ns = ap.parse_args(argv)
    from stratum.cli.bench.machine import describe, one_line

    results = HERE / "RESULTS.md"
    old_head, old = _sections(results.read_text()) if results.exists() else ([], {})
    earlier = _earlier(old_head)
    lines = []
    for prefix, name, writer in SECTIONS:
        path = ns.outdir / name
        if path.exists():
            data = path.read_text() if name.endswith(".txt") else json.loads(path.read_text())
            lines += writer(data)
            continue
        kept = [body for heading, body in old.items() if heading.startswith(prefix)]
        if kept:
            body = kept[0]
            if earlier and not any(line.startswith("Measured ") for line in body):
                note = [f"Measured on the earlier run's machine: {earlier}.", ""]
                body = body[:2] + note + body[2:]
            lines += body
    machine = ns.machine or one_line(describe())
    header = [
        "# Benchmark results", "",
        f"Machine: {machine}; last updated {datetime.date.today().isoformat()}. Each section says "
        "how and where it was measured. Every ratio is measured side by side in one run (plain "
        "`python` and stratum alternating), medians of the stated repeats; the machine is small "
        "and noisy, so compare ratios, not seconds across runs. Regenerate with the commands in "
        "`bench/report.py`.", "",
    ]
    results.write_text("\n".join(header + lines).rstrip("\n") + "\n")
    return 0


def _earlier(head: list[str]) -> str | None:
    """The machine of the previous header, for the sections kept from it."""
    for line in head:
        if line.startswith("Machine:"):
            text = line.removeprefix("Machine:").split(". Every ratio")[0]
            return text.split("; last updated")[0].strip()
    return None


if __name__ == "__main__":
    raise SystemExit(main())
