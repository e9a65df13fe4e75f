"""The stratum server (issue 14): wall time of a run started as a fresh process, plain vs
through a running server, for what an agent's loop starts over and over.

Four scripts: an empty one, one that only imports pandas / numpy / scikit-learn, a
random-forest script of a few seconds re-run unchanged (its results are in the cache from a
first run: a few KB), and a frame script re-run unchanged whose cached results are big (a
2e6-row CSV read, sorted, transformed, scaled, a model fitted: ~470 MB of entries). Each is
timed as

- ``plain``: ``python s.py``;
- ``cold``: ``python -m stratum s.py`` with no server (a fresh interpreter imports everything);
- ``server``: ``python -m stratum s.py`` handed to a running server (a warm fork), which holds
  the cache entries its recent runs used in memory (``STRATUM_SERVER_HOT_MB``, default);
- ``server-nohot``: the same, handed to a server holding none (``STRATUM_SERVER_HOT_MB=0``;
  its own cache directory): every entry is read and verified from disk (page cache);
- ``server-env``: ``STRATUM=1 python s.py`` handed to the first server;

alternating the modes, ``--repeat`` times (median). The servers are started in temporary cache
directories and stopped at the end. ``--quick``: 3 repeats, a ~1 s forest script and a 5e5-row
frame script.

    python bench/server.py [--quick] [--repeat N] [--json FILE]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--json", metavar="FILE")
    ns = ap.parse_args(argv)
    repeat = ns.repeat or (3 if ns.quick else 7)
    rows, trees = (3000, 60) if ns.quick else (6000, 200)
    frame_rows = 500_000 if ns.quick else 2_000_000
    work = Path(tempfile.mkdtemp(prefix="stratum-bench-server-"))
    cache, served_cache, nohot_cache = work / "cache", work / "scache", work / "ncache"
    base = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in base.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    env_cold = dict(base, STRATUM_CACHE_DIR=str(cache))
    env_srv = dict(base, STRATUM_CACHE_DIR=str(served_cache))
    env_nohot = dict(base, STRATUM_CACHE_DIR=str(nohot_cache))
    scripts = {"empty": EMPTY, "imports": IMPORTS,
               "forest rerun": FOREST.format(rows=rows, trees=trees), "frame rerun": FRAME}
    for name, text in scripts.items():
        (work / f"{name.split()[0]}.py").write_text(text)
    frame_csv(work / "frame.csv", frame_rows)
    py = sys.executable
    subprocess.run([py, "-m", "stratum", "serve", "--quiet"], env=env_srv, check=True)
    subprocess.run([py, "-m", "stratum", "serve", "--quiet"],
                   env=dict(env_nohot, STRATUM_SERVER_HOT_MB="0"), check=True)
    results = {}
    try:
        for name in scripts:
            f = f"{name.split()[0]}.py"
            modes = {"plain": ([py, f], base), "cold": ([py, "-m", "stratum", f], env_cold),
                     "server": ([py, "-m", "stratum", f], env_srv),
                     "server-nohot": ([py, "-m", "stratum", f], env_nohot),
                     "server-env": ([py, f], dict(env_srv, STRATUM="1"))}
            for cmd, env in modes.values():  # first runs fill the caches (a re-run is timed)
                run(cmd, env, work)
            time.sleep(2)  # the server holds the entries the first runs used (between runs)
            times = {m: [] for m in modes}
            for _ in range(repeat):
                for m, (cmd, env) in modes.items():
                    times[m].append(run(cmd, env, work))
            results[name] = {m: statistics.median(t) for m, t in times.items()}
            row = results[name]
            print(f"{name:>13}: " + "  ".join(f"{m} {row[m]:.3f}s" for m in modes) +
                  f"  (server: {row['plain'] / row['server']:.1f}x faster than plain)",
                  flush=True)
        st = subprocess.run([py, "-m", "stratum", "serve", "--status"], env=env_srv,
                            capture_output=True, text=True).stdout
        print("\n".join(st.strip().splitlines()[:2]) if st.strip() else "server: no status")
    finally:
        subprocess.run([py, "-m", "stratum", "serve", "--stop", "--quiet"], env=env_srv)
        subprocess.run([py, "-m", "stratum", "serve", "--stop", "--quiet"], env=env_nohot)
        shutil.rmtree(work, ignore_errors=True)  # the frame script's caches: ~1.4 GB
    if ns.json:
        Path(ns.json).write_text(json.dumps({"repeat": repeat, "rows": rows, "trees": trees,
                                             "frame_rows": frame_rows, "results": results},
                                            indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
