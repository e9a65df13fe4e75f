"""Batch mode: a batch of agent-style scripts that share data loading and feature engineering.

Generates a CSV (``--rows``, default 50k) and ``--scripts`` scripts (default 20): each reads the
CSV, applies the same feature function, then cross-validates its own model / hyper-parameters.
Measured side by side, per repeat (medians over ``--repeat``):

- plain: ``python s.py`` for each script, one after the other;
- cold: ``python -m stratum run --jobs J`` with an empty cache;
- edited: the batch resubmitted with small edits (one more print in every script, another
  hyper-parameter in every fifth), warm merged graph and cache;
- limit: the sum of the costs of the distinct nodes of the cold batch's traces (each key once,
  top-level nodes only) / cores + one import of the libraries: the best a batch could do.

Every script's output in the cold batch must equal its plain run (checked; in the edited
batch a sample of three, to keep the run short).

``--dry-run-compare``: only cold batches, side by side per repeat (the order alternates): with
the dry run on a data sample (``stratum/batch/dryrun.py``, ``STRATUM_DRYRUN=1``) and without it
(``STRATUM_DRYRUN=0``, the default), each on an empty cache, plus the dry run's own time (from the batch's
summary); outputs of both checked against plain runs in the first repeat.

    python bench/batch.py [--quick] [--repeat 1] [--jobs 2] [--json out.json]

``--warm-graph objects|data`` measures instead a warm graph with a cold cache: the batch is
recorded once, then per repeat, side by side and in alternating order, the cache objects are
deleted (``objects``; traces.db kept) or the CSV is rewritten with new values (``data``) before
each of two batches: with the shared part on the executor (``stratum.batch.shared``) and
without it (``STRATUM_BATCH_SHARED=0``: shared work is only deduplicated by the cache's per-key
single flight). ``--inline-features`` writes the feature steps at the scripts' top level
instead of in a function (a memoized user function has no recipe, so the shared part can only
hold its input, the read).
    python bench/batch.py --dry-run-compare [--repeat 2]
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
sys.path.insert(0, str(HERE.parent / "tests"))
import difftest  # noqa: E402

#: The feature steps every script of the batch shares, on a frame named ``{v}``.
FEATURES = """\
{v}["ratio"] = {v}["x1"] / ({v}["x2"].abs() + 1.0)
{v}["x1_sq"] = {v}["x1"] ** 2
{v}["x3_log"] = np.log1p({v}["x3"].abs())
{v}["grp_mean"] = {v}.groupby("cat")["x3"].transform("mean")
{v}["grp_std"] = {v}.groupby("cat")["x4"].transform("std")
{v}["cat_code"] = {v}["cat"].astype("category").cat.codes
"""
_HEAD = """\
import numpy as np
import pandas as pd
from sklearn.model_selection import cross_val_score
from sklearn.{module} import {cls}

"""
_TAIL = """\
cols = ["x1", "x2", "x3", "x4", "ratio", "x1_sq", "x3_log", "grp_mean", "grp_std", "cat_code"]
X = feats[cols].to_numpy()
y = feats["y"].to_numpy()
model = {cls}({params})
scores = cross_val_score(model, X, y, cv=3)
print("{name}: r2 = %.4f" % scores.mean())
{extra}"""


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


#: Scripts with the feature steps in a function (memoized as one node) ...
TEMPLATE = (_HEAD + "\ndef make_features(df):\n    out = df.copy()\n"
            + "".join("    " + _braces(line) + "\n"
                      for line in FEATURES.format(v="out").splitlines())
            + "    return out\n\n\n"
            + 'df = pd.read_csv("data.csv")\nfeats = make_features(df)\n' + _TAIL)
#: ... or at the top level (each step its own node, with a recipe).
INLINE = (_HEAD + 'df = pd.read_csv("data.csv")\nfeats = df.copy()\n'
          + _braces(FEATURES.format(v="feats")) + _TAIL)

MODELS = [  # cheap models: the shared loading / features and the imports are a real share
    ("linear_model", "Ridge", ["alpha=0.1", "alpha=0.5", "alpha=1.0", "alpha=3.0", "alpha=10.0",
                               "alpha=30.0", "alpha=100.0"]),
    ("linear_model", "Lasso", ["alpha=0.01", "alpha=0.1"]),
    ("linear_model", "ElasticNet", ["alpha=0.05, l1_ratio=0.5", "alpha=0.1, l1_ratio=0.2"]),
    ("tree", "DecisionTreeRegressor", ["max_depth=4, random_state=0", "max_depth=6, random_state=0",
                                       "max_depth=8, random_state=0"]),
    ("ensemble", "RandomForestRegressor", ["n_estimators=4, max_depth=5, random_state=0",
                                           "n_estimators=6, max_depth=4, random_state=0"]),
    ("linear_model", "BayesianRidge", [""]),
    ("linear_model", "HuberRegressor", ["max_iter=100"]),
    ("linear_model", "LinearRegression", [""]),
    ("linear_model", "SGDRegressor", ["random_state=0"]),
]





def variants() -> list[tuple[str, str, str]]:
    return [(m, c, p) for m, c, ps in MODELS for p in ps]


def write_data(path: Path, rows: int, seed: int = 7) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(1, 5)})
    df["cat"] = rng.choice(["a", "b", "c", "d", "e"], size=rows)
    df["y"] = (df.x1 * 2 - df.x2 + np.sin(df.x3) + (df.cat == "c") * 0.5
               + rng.normal(scale=0.3, size=rows))
    df.to_csv(path, index=False, float_format="%.6f")


def write_scripts(work: Path, n: int, edited: bool, template: str = TEMPLATE) -> list[str]:
    names = []
    for i, (module, cls, params) in enumerate((variants() * 3)[:n]):
        if edited and i % 5 == 4 and "max_depth" in params:
            params = params.replace("max_depth=", "max_depth=1+")
        elif edited and i % 5 == 4 and "alpha=" in params:
            params = params.replace("alpha=", "alpha=2*")
        name = f"s{i + 1:02d}_{cls.lower()}.py"
        extra = 'print("std = %.4f" % scores.std())\n' if edited else ""
        (work / name).write_text(template.format(module=module, cls=cls, params=params,
                                                 name=name, extra=extra))
        names.append(name)
    return names


def timed(cmd, cwd, env) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    return time.perf_counter() - t0, p


def plain_batch(work, scripts, env) -> tuple[float, dict]:
    outs, total = {}, 0.0
    for s in scripts:
        seconds, p = timed([sys.executable, s], work, env)
        total += seconds
        outs[s] = (p.returncode, p.stdout, p.stderr)
    return total, outs


def warm_graph(ns, base: Path, work: Path) -> int:
    """Warm merged graph, cold cache: the batch with its shared part on the executor vs
    without (``STRATUM_BATCH_SHARED=0``), side by side, after deleting the cache objects or
    rewriting the data file."""
    template = INLINE if ns.inline_features else TEMPLATE
    scripts = write_scripts(work, ns.scripts, edited=False, template=template)
    plain_env = difftest.build_env("plain", None)
    cache = base / "cache"
    env_on = difftest.build_env("stratum", cache)
    env_on.pop("STRATUM_BATCH_SHARED", None)
    env_off = dict(env_on, STRATUM_BATCH_SHARED="0")
    t_plain, outs = plain_batch(work, scripts, plain_env)
    t_rec, rows = stratum_batch(work, scripts, env_on, ns.jobs, base / "out")  # the history
    check(rows, outs)
    figures: dict[str, list] = {"plain": [t_plain], "on": [], "off": [], "shared_seconds": [],
                                "shared_nodes": [], "shared_stored": []}
    seed = 7
    for rep in range(ns.repeat):
        order = [("on", env_on), ("off", env_off)]
        if rep % 2:
            order.reverse()
        got = {}
        for label, env in order:
            if ns.warm_graph == "objects":
                shutil.rmtree(cache / "objects", ignore_errors=True)
            else:
                seed += 1
                write_data(work / "data.csv", ns.rows, seed)
            seconds, rows = stratum_batch(work, scripts, env, ns.jobs, base / "out")
            if ns.warm_graph == "objects":
                check(rows, outs)
            elif rep == 0:  # new data: a sample checked against plain runs on that data
                sample = scripts[:3]
                check([r for r in rows if r["script"] in sample],
                      plain_batch(work, sample, plain_env)[1])
            figures[label].append(seconds)
            got[label] = seconds
            report = base / "out" / "shared.json"
            if label == "on" and report.exists():
                shared = json.loads(report.read_text())
                figures["shared_seconds"].append(shared["seconds"])
                figures["shared_nodes"].append(len(shared["nodes"]))
                figures["shared_stored"].append(
                    sum(n["status"] == "stored" for n in shared["nodes"]))
            elif label == "on":
                figures["shared_seconds"].append(0.0)
                figures["shared_nodes"].append(0)
                figures["shared_stored"].append(0)
        print(f"repeat {rep + 1}: shared part on {got['on']:.2f}s  off {got['off']:.2f}s  "
              f"(on/off {got['on'] / got['off']:.2f}; shared part "
              f"{figures['shared_nodes'][-1]} nodes, {figures['shared_stored'][-1]} stored, "
              f"{figures['shared_seconds'][-1]:.2f}s)", flush=True)
    med = {k: statistics.median(v) for k, v in figures.items() if v}
    cmd = "python bench/batch.py " + " ".join(sys.argv[1:])
    print(f"\n{cmd}\n{ns.scripts} scripts, {ns.rows} rows, --jobs {ns.jobs}, "
          f"{len(os.sched_getaffinity(0))} cores, warm graph, cold cache "
          f"({'objects deleted' if ns.warm_graph == 'objects' else 'data file rewritten'}), "
          f"{'inline features' if ns.inline_features else 'feature function'}, "
          f"medians of {ns.repeat}")
    vs_plain("batch", med, (("plain", "plain python, sequential (once)"),
                            ("on", "shared part on the executor"),
                            ("off", "without (STRATUM_BATCH_SHARED=0)")))
    print(f"shared part: {med['shared_nodes']:.0f} nodes, {med['shared_stored']:.0f} stored, "
          f"{med['shared_seconds']:.2f}s; on/off {med['on'] / med['off']:.2f}")
    return finish(ns, figures, med, base)


def vs_plain(what: str, med: dict, rows) -> None:
    """A markdown table of medians, each against the plain runs."""
    print(f"| {what} | seconds | vs plain |\n|---|---:|---:|")
    for k, label in rows:
        print(f"| {label} | {med[k]:.2f} | {med['plain'] / med[k]:.2f}x |")


def finish(ns, figures: dict, med: dict, base: Path) -> int:
    if ns.json:
        Path(ns.json).write_text(json.dumps({"args": vars(ns), "figures": figures,
                                             "medians": med}, indent=1))
    shutil.rmtree(base, ignore_errors=True)
    return 0


def stratum_batch(work, scripts, env, jobs, out) -> tuple[float, list]:
    if out.exists():
        shutil.rmtree(out)
    seconds, p = timed([sys.executable, "-m", "stratum", "run", "--jobs", str(jobs),
                        "--out", str(out), *scripts], work, env)
    if not (out / "summary.json").exists():
        raise SystemExit(f"batch failed:\n{p.stderr.decode()}")
    return seconds, json.loads((out / "summary.json").read_text())


def check(rows, plain_outs) -> None:
    for r in rows:
        got = (r["exit_code"], Path(r["stdout"]).read_bytes(), Path(r["stderr"]).read_bytes())
        if got != plain_outs[r["script"]]:
            raise SystemExit(f"{r['script']}: batch output differs from plain python")


def distinct_cost(cache: Path, rows) -> tuple[float, int, int]:
    """Sum of node costs counting each key once (top-level nodes): the work the batch needs."""
    sys.path.insert(0, str(difftest.stratum_home()))
    from stratum.trace.store import TraceStore

    store = TraceStore(cache)
    try:
        costs: dict[str, float] = {}
        total_nodes = 0
        for r in rows:
            for n in store.nodes(r["run_id"]):
                if n["parent"] is not None:
                    continue
                total_nodes += 1
                key = n["key"] or f"{r['run_id']}:{n['seq']}"
                if not n["reused"]:
                    costs[key] = max(costs.get(key, 0.0), n["seconds"])
                else:
                    costs.setdefault(key, 0.0)
        return sum(costs.values()), len(costs), total_nodes
    finally:
        store.close()


def import_seconds(env, work) -> float:
    cmd = [sys.executable, "-c", "import numpy, pandas, sklearn.model_selection, "
           "sklearn.linear_model, sklearn.ensemble, sklearn.tree"]
    return statistics.median(timed(cmd, work, env)[0] for _ in range(3))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="4 scripts, 3k rows (CI)")
    ap.add_argument("--scripts", type=int, default=20)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--warm-graph", choices=("objects", "data"),
                    help="warm graph, cold cache: shared part on the executor vs off")
    ap.add_argument("--inline-features", action="store_true",
                    help="feature steps at the scripts' top level, not in a function")
    ap.add_argument("--dry-run-compare", action="store_true",
                    help="cold batches with and without the dry run, side by side")
    ns = ap.parse_args(argv)
    if ns.quick:
        ns.scripts, ns.rows = 4, 3000
    if ns.dry_run_compare:
        return compare_dry_run(ns, argv)
    cores = len(os.sched_getaffinity(0))
    base = Path(tempfile.mkdtemp(prefix="stratum-bench-batch-"))
    work = base / "work"
    work.mkdir()
    write_data(work / "data.csv", ns.rows)
    if ns.warm_graph:
        return warm_graph(ns, base, work)
    plain_env = difftest.build_env("plain", None)
    figures = {"plain": [], "cold": [], "edited": [], "limit": [], "distinct_nodes": [],
               "nodes": [], "import": []}
    for rep in range(ns.repeat):
        cache = base / f"cache{rep}"
        env = difftest.build_env("stratum", cache)
        scripts = write_scripts(work, ns.scripts, edited=False)
        t_plain, outs = plain_batch(work, scripts, plain_env)
        t_cold, rows = stratum_batch(work, scripts, env, ns.jobs, base / "out")
        check(rows, outs)
        cost, distinct, nodes = distinct_cost(cache, rows)
        imp = import_seconds(plain_env, work)
        scripts = write_scripts(work, ns.scripts, edited=True)
        t_edit, rows_edit = stratum_batch(work, scripts, env, ns.jobs, base / "out")
        sample = scripts[3:6] if rep == 0 else []  # an edited hyper-parameter among them
        check([r for r in rows_edit if r["script"] in sample],
              plain_batch(work, sample, plain_env)[1])
        for k, v in (("plain", t_plain), ("cold", t_cold), ("edited", t_edit),
                     ("limit", cost / cores + imp), ("distinct_nodes", distinct),
                     ("nodes", nodes), ("import", imp)):
            figures[k].append(v)
        print(f"repeat {rep + 1}: plain {t_plain:.2f}s  cold batch {t_cold:.2f}s  "
              f"edited batch {t_edit:.2f}s  limit {cost / cores + imp:.2f}s "
              f"(distinct node cost {cost:.2f}s / {cores} cores + import {imp:.2f}s)", flush=True)
    med = {k: statistics.median(v) for k, v in figures.items()}
    cmd = "python bench/batch.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"\n{cmd}\n{ns.scripts} scripts, {ns.rows} rows, --jobs {ns.jobs}, {cores} cores, "
          f"medians of {ns.repeat}")
    vs_plain("run", med, (("plain", "plain python, sequential"),
                          ("cold", f"stratum run --jobs {ns.jobs}, cold cache"),
                          ("edited", "resubmitted with small edits (warm)"),
                          ("limit", "limit: distinct node cost / cores + one import")))
    print(f"nodes: {med['nodes']:.0f} top-level in the cold batch, {med['distinct_nodes']:.0f} "
          f"distinct; one import of the libraries {med['import']:.2f}s")
    return finish(ns, figures, med, base)


def compare_dry_run(ns, argv) -> int:
    """Cold batch with the dry run vs without it, side by side; the dry run's own cost."""
    import re

    base = Path(tempfile.mkdtemp(prefix="stratum-bench-dryrun-"))
    work = base / "work"
    work.mkdir()
    write_data(work / "data.csv", ns.rows)
    scripts = write_scripts(work, ns.scripts, edited=False)
    plain_env = difftest.build_env("plain", None)
    figures: dict[str, list] = {"with": [], "without": [], "dryrun": []}
    outs = None
    for rep in range(ns.repeat):
        order = ("with", "without") if rep % 2 == 0 else ("without", "with")
        got = {}
        for mode in order:
            env = difftest.build_env("stratum", base / f"cache-{mode}-{rep}")
            env["STRATUM_DRYRUN"] = "0" if mode == "without" else "1"
            out = base / "out"
            if out.exists():
                shutil.rmtree(out)
            seconds, p = timed([sys.executable, "-m", "stratum", "run", "--jobs", str(ns.jobs),
                                "--out", str(out), *scripts], work, env)
            rows = json.loads((out / "summary.json").read_text())
            if rep == 0:
                outs = outs or plain_batch(work, scripts, plain_env)[1]
                check(rows, outs)
            text = " ".join(p.stderr.decode(errors="replace").split())
            m = re.search(r"dry run of (\d+) never-seen scripts on (\d+) rows in ([\d.]+)s", text)
            if mode == "with":
                if m is None:
                    raise SystemExit(f"no dry run in the batch:\n{p.stderr.decode()}")
                figures["dryrun"].append(float(m.group(3)))
            got[mode] = seconds
        figures["with"].append(got["with"])
        figures["without"].append(got["without"])
        print(f"repeat {rep + 1}: cold with dry run {got['with']:.2f}s (dry run itself "
              f"{figures['dryrun'][-1]:.2f}s), without {got['without']:.2f}s", flush=True)
    med = {k: statistics.median(v) for k, v in figures.items()}
    cmd = "python bench/batch.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"\n{cmd}\n{ns.scripts} scripts, {ns.rows} rows, --jobs {ns.jobs}, medians of "
          f"{ns.repeat}\n| cold batch | seconds |\n|---|---:|\n"
          f"| without the dry run (STRATUM_DRYRUN=0) | {med['without']:.2f} |\n"
          f"| with the dry run | {med['with']:.2f} |\n"
          f"| of which the dry run | {med['dryrun']:.2f} |")
    return finish(ns, figures, med, base)


if __name__ == "__main__":
    sys.exit(main())
