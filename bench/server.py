"""The stratum server (issue 14): wall time of a run started as a fresh process, plain vs
through a running server, for what an agent's loop starts over and over.

Three scripts: an empty one, one that only imports pandas / numpy / scikit-learn, and a
random-forest script of a few seconds re-run unchanged (its results are in the cache from a
first run). Each is timed as

- ``plain``: ``python s.py``;
- ``cold``: ``python -m stratum s.py`` with no server (a fresh interpreter imports everything);
- ``server``: ``python -m stratum s.py`` handed to a running server (a warm fork);
- ``server-env``: ``STRATUM=1 python s.py`` handed to the same server;

alternating the modes, ``--repeat`` times (median). The server is started in a temporary cache
directory and stopped at the end. ``--quick``: 3 repeats and a ~1 s script.

    python bench/server.py [--quick] [--repeat N] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
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
    work = Path(tempfile.mkdtemp(prefix="stratum-bench-server-"))
    cache, served_cache = work / "cache", work / "scache"
    base = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in base.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    env_cold = dict(base, STRATUM_CACHE_DIR=str(cache))
    env_srv = dict(base, STRATUM_CACHE_DIR=str(served_cache))
    scripts = {"empty": EMPTY, "imports": IMPORTS,
               "forest rerun": FOREST.format(rows=rows, trees=trees)}
    for name, text in scripts.items():
        (work / f"{name.split()[0]}.py").write_text(text)
    py = sys.executable
    subprocess.run([py, "-m", "stratum", "serve", "--quiet"], env=env_srv, check=True)
    results = {}
    try:
        for name in scripts:
            f = f"{name.split()[0]}.py"
            modes = {"plain": ([py, f], base), "cold": ([py, "-m", "stratum", f], env_cold),
                     "server": ([py, "-m", "stratum", f], env_srv),
                     "server-env": ([py, f], dict(env_srv, STRATUM="1"))}
            for cmd, env in modes.values():  # first runs fill the caches (a re-run is timed)
                run(cmd, env, work)
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
        print(st.strip().splitlines()[0] if st.strip() else "server: no status")
    finally:
        subprocess.run([py, "-m", "stratum", "serve", "--stop", "--quiet"], env=env_srv)
    if ns.json:
        Path(ns.json).write_text(json.dumps({"repeat": repeat, "rows": rows, "trees": trees,
                                             "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
