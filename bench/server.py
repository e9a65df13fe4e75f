"""The stratum server (issue 14): wall time of runs started as fresh processes, plain vs
through a running server, for what an agent's loop starts over and over. Four parts, each
alternating its modes ``--repeat`` times (medians), every stratum output checked byte for byte
(stdout, stderr, exit code) against plain python's:

``startup``: an empty script, one that only imports pandas / numpy / scikit-learn, a
random-forest script re-run unchanged (its results cached by a first run: a few KB), and a
frame script re-run unchanged whose cached results are big (a 2e6-row CSV read, sorted,
transformed, scaled, a model fitted: ~470 MB of entries), each timed as ``plain`` (``python
s.py``), ``cold`` (``python -m stratum s.py``, no server), ``server`` (the same command handed
to a running server: a warm fork, which holds the cache entries its recent runs used in
memory, ``STRATUM_SERVER_HOT_MB``), ``server-nohot`` (the same, handed to a second server
holding none, ``STRATUM_SERVER_HOT_MB=0``, its own cache directory: every entry read and
verified from disk) and ``server-env`` (``STRATUM=1 python s.py`` handed to the first).

``concurrent``: 8 distinct small agent-style scripts (``workloads.variants``: a pandas
preprocessing and a scikit-learn model under 5-fold cross-validation) submitted at once:
plain one after another, plain 8 at once, ``python -m stratum`` 8 at once without a server,
8 ``python -m stratum`` processes handed to the server at once, and 8 ``Client().submit``
from threads; the stratum caches are emptied before each (every run computes). Scripts per
minute of wall time.

``session``: an agent session (``workloads.session_steps``, the steps of bench/session.py: a
pipeline edited step by step, two crashes and their fixes) run one step after the other:
plain, ``python -m stratum`` without a server, and handed to the server; each mode's cache
empty at the first step.

``corpus``: a cold run (empty cache) of a few tests/corpus scripts, plain vs handed to the
server vs ``python -m stratum`` without a server.

The servers run in temporary cache directories and are stopped at the end. All processes get
``PYTHONHASHSEED=0`` (outputs comparable byte for byte). ``--quick``: fewer rows and repeats.

    python bench/server.py [--quick] [--repeat N] [--parts startup,concurrent,session,corpus]
                           [--json FILE]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
import workloads  # noqa: E402

PARTS = ("startup", "concurrent", "session", "corpus")
CORPUS = ["clf_logreg_baseline", "clf_random_forest", "reg_ridge_alphas", "eda_groupby_agg",
          "text_tfidf_logreg", "fail_value_error"]

EMPTY = "pass\n"
IMPORTS = "import numpy\nimport pandas\nimport sklearn.ensemble\nimport sklearn.model_selection\n"
FOREST = """\
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

rng = np.random.RandomState(0)
X = pd.DataFrame(rng.normal(size=({rows}, 20)), columns=[f"f{{i}}" for i in range(20)])
y = (X["f0"] + X["f1"] * X["f2"] + rng.normal(scale=0.5, size={rows}) > 0).astype(int)
model = RandomForestClassifier(n_estimators={trees}, random_state=0)
scores = cross_val_score(model, X, y, cv=3)
print(f"cv accuracy {{scores.mean():.4f}}")
"""

FRAME = """\
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("frame.csv")
df["ga"] = df.groupby("g")["a"].transform("mean")
df = df.sort_values(["g", "a"]).reset_index(drop=True)
dummies = pd.get_dummies(df["s"], dtype=float)
X = np.hstack([df[["a", "b", "c", "ga"]].to_numpy(), dummies.to_numpy()])
Xs = StandardScaler().fit_transform(X)
y = df["a"] * 2 - df["b"] + df["c"] ** 2
model = Ridge(alpha=1.0).fit(Xs, y)
pred = model.predict(Xs)
agg = df.groupby("g").agg({{"a": "mean", "b": "sum", "c": "std"}})
print(agg.head())
print(round(float(np.mean((pred - y) ** 2)), 6))
"""


def frame_csv(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.RandomState(0)
    pd.DataFrame({"g": rng.randint(0, 1000, rows), "a": rng.normal(size=rows).round(4),
                  "b": rng.normal(size=rows).round(4), "c": rng.normal(size=rows).round(4),
                  "s": rng.choice(["x", "y", "z"], rows)}).to_csv(path, index=False)


def run(cmd, env, cwd) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def captured(cmd, env, cwd) -> tuple[float, tuple]:
    """(seconds, (exit code, stdout, stderr)) of one process."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL,
                       check=False)
    return time.perf_counter() - t0, (r.returncode, r.stdout, r.stderr)


def at_once(cmds, env, cwd) -> tuple[float, list[tuple]]:
    """Start every command together: (wall seconds until the last ended, their outputs)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cmds]
    outs = []
    for p in procs:
        out, err = p.communicate()
        outs.append((p.returncode, out, err))
    return time.perf_counter() - t0, outs


def submitted(files, cache, env, cwd) -> tuple[float, list[tuple]]:
    """The same through ``Client().submit`` from threads of this process."""
    from stratum.client import Client

    t0 = time.perf_counter()
    with Client(cache_dir=str(cache), max_workers=len(files)) as client:
        futures = [client.submit(f, cwd=str(cwd), env=env) for f in files]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - t0
    if not all(r.served for r in results):
        print("  (some submissions were not served: " +
              "; ".join(sorted({r.reason or "" for r in results if not r.served})) + ")")
    return wall, [(r.returncode, r.stdout, r.stderr) for r in results]


def served(cache) -> int | None:
    """Runs the server has served so far (None: no server answers)."""
    from stratum.server import server

    st = server.ask(str(cache), "status")
    return None if st is None else st["served"]


def empty_cache(env) -> None:
    for what in (("cache", "clear"), ("trace", "clear")):
        subprocess.run([sys.executable, "-m", "stratum", *what], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def differ(got: list[tuple], want: list[tuple], names: list[str]) -> list[str]:
    return [n for n, g, w in zip(names, got, want) if g != w]


def startup_part(ns, work, envs, repeat) -> dict:
    rows, trees = (3000, 60) if ns.quick else (6000, 200)
    frame_rows = 500_000 if ns.quick else 2_000_000
    scripts = {"empty": EMPTY, "imports": IMPORTS,
               "forest rerun": FOREST.format(rows=rows, trees=trees), "frame rerun": FRAME}
    frame_csv(work / "frame.csv", frame_rows)
    for name, text in scripts.items():
        (work / f"{name.split()[0]}.py").write_text(text)
    py = sys.executable
    results: dict = {"rows": rows, "trees": trees, "frame_rows": frame_rows}
    for name in scripts:
        f = f"{name.split()[0]}.py"
        modes = {"plain": ([py, f], envs["plain"]),
                 "cold": ([py, "-m", "stratum", f], envs["cold"]),
                 "server": ([py, "-m", "stratum", f], envs["server"]),
                 "server-nohot": ([py, "-m", "stratum", f], envs["nohot"]),
                 "server-env": ([py, f], dict(envs["server"], STRATUM="1"))}
        for cmd, env in modes.values():  # first runs fill the caches (a re-run is timed)
            run(cmd, env, work)
        time.sleep(2)  # the server holds the entries the first runs used (between runs)
        times: dict = {m: [] for m in modes}
        for _ in range(repeat):
            for m, (cmd, env) in modes.items():
                times[m].append(run(cmd, env, work))
        results[name] = {m: statistics.median(t) for m, t in times.items()}
        row = results[name]
        print(f"{name:>13}: " + "  ".join(f"{m} {row[m]:.3f}s" for m in modes) +
              f"  (server: {row['plain'] / row['server']:.1f}x faster than plain)", flush=True)
    return results


def concurrent_part(ns, work, envs, repeat) -> dict:
    """8 distinct scripts at once: scripts per minute, outputs checked against plain."""
    py = sys.executable
    files = []
    for name, _, src in workloads.variants(8):
        (work / name).write_text(src)
        files.append(name)
    seq, cold, srv = envs["plain"], envs["cold"], envs["server"]

    def plain_sequential():
        outs, t = [], 0.0
        for f in files:
            dt, out = captured([py, f], seq, work)
            t += dt
            outs.append(out)
        return t, outs

    modes = {
        "plain, one after another": (None, plain_sequential),
        "plain, 8 at once": (None, lambda: at_once([[py, f] for f in files], seq, work)),
        "stratum no server, 8 at once": (cold, lambda: at_once(
            [[py, "-m", "stratum", f] for f in files], cold, work)),
        "server, 8 processes at once": (srv, lambda: at_once(
            [[py, "-m", "stratum", f] for f in files], srv, work)),
        "server, 8 Client.submit": (srv, lambda: submitted(files, envs["server_cache"], srv,
                                                           work)),
    }
    walls: dict = {m: [] for m in modes}
    mismatches: dict = {m: set() for m in modes}
    for _ in range(repeat):
        want = None
        for m, (cache_env, fn) in modes.items():
            if cache_env is not None:
                empty_cache(cache_env)  # every run computes: a cold cache
            wall, outs = fn()
            walls[m].append(wall)
            if want is None:
                want = outs  # plain, one after another
            mismatches[m] |= set(differ(outs, want, files))
    out = {}
    for m in modes:
        wall = statistics.median(walls[m])
        out[m] = {"wall": wall, "per_minute": 60 * len(files) / wall,
                  "identical": not mismatches[m], "differ": sorted(mismatches[m])}
        print(f"  {m:>30}: {wall:7.2f}s  {out[m]['per_minute']:5.1f} scripts/min  " +
              ("outputs identical" if not mismatches[m] else
               f"OUTPUTS DIFFER: {', '.join(sorted(mismatches[m]))}"), flush=True)
    return out


def session_part(ns, work, envs, repeat) -> dict:
    """An agent session's steps one after the other: plain, stratum without a server, served."""
    py = sys.executable
    steps = workloads.session_steps()
    for name, _, src in steps:
        (work / name).write_text(src)
    names = [name for name, _, _ in steps]
    modes = {"plain": ([py], envs["plain"], None),
             "stratum no server": ([py, "-m", "stratum"], envs["cold"], envs["cold"]),
             "server": ([py, "-m", "stratum"], envs["server"], envs["server"])}
    totals: dict = {m: [] for m in modes}
    per_step: dict = {m: [[] for _ in names] for m in modes}
    mismatches: dict = {m: set() for m in modes}
    for _ in range(repeat):
        want = None
        for m, (pre, env, cache_env) in modes.items():
            if cache_env is not None:
                empty_cache(cache_env)  # the session starts with an empty cache
            outs, total = [], 0.0
            for i, name in enumerate(names):
                dt, o = captured([*pre, name], env, work)
                per_step[m][i].append(dt)
                total += dt
                outs.append(o)
            totals[m].append(total)
            if want is None:
                want = outs
            mismatches[m] |= set(differ(outs, want, names))
    out = {}
    for m in modes:
        out[m] = {"total": statistics.median(totals[m]),
                  "steps": [statistics.median(t) for t in per_step[m]],
                  "identical": not mismatches[m], "differ": sorted(mismatches[m])}
        print(f"  {m:>18}: {out[m]['total']:7.2f}s for {len(names)} steps  (" +
              " ".join(f"{t:.2f}" for t in out[m]["steps"]) + ")  " +
              ("outputs identical" if not mismatches[m] else
               f"OUTPUTS DIFFER: {', '.join(sorted(mismatches[m]))}"), flush=True)
    return out


def corpus_part(ns, work, envs, repeat) -> dict:
    """A cold run (empty cache) of a few corpus scripts: plain vs served vs no server."""
    py = sys.executable
    corpus = ROOT / "tests" / "corpus"
    sys.path.insert(0, str(corpus))
    try:
        from make_data import make_data
    finally:
        sys.path.remove(str(corpus))
    folder = work / "corpus"
    make_data(folder / "data")
    names = CORPUS[:4] if ns.quick else CORPUS
    for name in names:
        (folder / f"{name}.py").write_text((corpus / f"{name}.py").read_text())
    modes = {"plain": ([py], envs["plain"], None),
             "server": ([py, "-m", "stratum"], envs["server"], envs["server"]),
             "stratum no server": ([py, "-m", "stratum"], envs["cold"], envs["cold"])}
    times: dict = {m: {n: [] for n in names} for m in modes}
    mismatches: dict = {m: set() for m in modes}
    for _ in range(repeat):
        for name in names:
            want = None
            for m, (pre, env, cache_env) in modes.items():
                if cache_env is not None:
                    empty_cache(cache_env)
                dt, o = captured([*pre, f"{name}.py"], env, folder)
                times[m][name].append(dt)
                if want is None:
                    want = o
                elif o != want:
                    mismatches[m].add(name)
    out = {}
    for m in modes:
        row = {n: statistics.median(times[m][n]) for n in names}
        out[m] = {"scripts": row, "total": sum(row.values()), "identical": not mismatches[m],
                  "differ": sorted(mismatches[m])}
    for n in names:
        print(f"  {n:>22}: " + "  ".join(f"{m} {out[m]['scripts'][n]:.2f}s" for m in modes),
              flush=True)
    for m in modes:
        print(f"  {m:>22}: {out[m]['total']:.2f}s in all  " +
              ("outputs identical" if out[m]["identical"] else
               f"OUTPUTS DIFFER: {', '.join(out[m]['differ'])}"), flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--json", metavar="FILE")
    ns = ap.parse_args(argv)
    parts = [p for p in ns.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    work = Path(tempfile.mkdtemp(prefix="stratum-bench-server-"))
    cache, served_cache, nohot_cache = work / "cache", work / "scache", work / "ncache"
    base = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in base.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    base["PYTHONHASHSEED"] = "0"  # outputs comparable byte for byte (set orders)
    envs = {"plain": base, "cold": dict(base, STRATUM_CACHE_DIR=str(cache)),
            "server": dict(base, STRATUM_CACHE_DIR=str(served_cache)),
            "nohot": dict(base, STRATUM_CACHE_DIR=str(nohot_cache)),
            "server_cache": served_cache}
    py = sys.executable
    rows = 2000 if ns.quick else 5000
    workloads.make_data(work / "data" / "train.csv", rows)
    subprocess.run([py, "-m", "stratum", "serve", "--quiet"], env=envs["server"], check=True)
    if "startup" in parts:  # a second server holding no entries (``server-nohot``)
        subprocess.run([py, "-m", "stratum", "serve", "--quiet"],
                       env=dict(envs["nohot"], STRATUM_SERVER_HOT_MB="0"), check=True)
    results: dict = {"rows": rows, "load_before": os.getloadavg(),
                     "date": time.strftime("%Y-%m-%d %H:%M")}
    status = 0
    try:
        for part in parts:
            repeat = ns.repeat or ((3 if ns.quick else 7) if part == "startup" else
                                   (1 if ns.quick else 3))
            print(f"{part} (median of {repeat}):", flush=True)
            fn = {"startup": startup_part, "concurrent": concurrent_part,
                  "session": session_part, "corpus": corpus_part}[part]
            before = served(served_cache)
            results[part] = fn(ns, work, envs, repeat)
            after = served(served_cache)
            print(f"  ({after - before} runs served)" if before is not None and after is not None
                  else "  THE SERVER STOPPED: its figures are not served runs", flush=True)
            if after is None:
                status = 1
            if part != "startup" and not all(v.get("identical", True)
                                              for v in results[part].values()):
                status = 1
        st = subprocess.run([py, "-m", "stratum", "serve", "--status"], env=envs["server"],
                            capture_output=True, text=True).stdout
        print("\n".join(st.strip().splitlines()[:2]) if st.strip() else "server: no status")
        results["server_status"] = st.strip().splitlines()[:2] if st.strip() else None
    finally:
        subprocess.run([py, "-m", "stratum", "serve", "--stop", "--quiet"], env=envs["server"])
        subprocess.run([py, "-m", "stratum", "serve", "--stop", "--quiet"], env=envs["nohot"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)  # the frame script's caches: ~1.4 GB
    results["load_after"] = os.getloadavg()
    print(f"load average before {results['load_before'][0]:.1f}, after "
          f"{results['load_after'][0]:.1f}")
    if ns.json:
        Path(ns.json).write_text(json.dumps(results, indent=1))
    return status


if __name__ == "__main__":
    sys.exit(main())
