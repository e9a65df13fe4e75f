"""An agent session: a sequence of scripts, each a small edit of the one before, run the way an
LLM search agent iterates; plain python vs stratum (cache cold at the first step).

Steps: a baseline pipeline; one more print; another model; another hyper-parameter; one more
feature column; a crash (a typo in a column name); the fix. Every step's outputs must be
byte-identical (stdout, stderr, exit code). Reported: seconds per step (medians over
``--repeat`` sessions, plain and stratum alternating), total, and the operations reused.

    python bench/session.py [--repeat 3] [--rows 20000] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
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

BASE = """\
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import {model_import}
from sklearn.impute import SimpleImputer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

df = pd.read_csv("data/train.csv")
df["rooms_per_area"] = df["rooms"] / df["area"]
{extra_feature}
num = ["area", "rooms", "age", "rooms_per_area"{extra_num}]
cat = ["city", "kind"]
pre = ColumnTransformer([
    ("num", Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler())]), num),
    ("cat", OneHotEncoder(handle_unknown="ignore"), cat),
])
model = Pipeline([("pre", pre), ("m", {model})])
scores = cross_val_score(model, df[num + cat], df["{target}"], cv=5, scoring="r2")
print(f"cv r2 = {{scores.mean():.4f}} +- {{scores.std():.4f}}")
{extra_print}
"""

STEPS = [
    ("baseline", {}),
    ("one more print", {"extra_print": 'print(df.describe().round(3).to_string())'}),
    ("another model", {"model_import": "GradientBoostingRegressor",
                       "model": "GradientBoostingRegressor(n_estimators=60, random_state=0)",
                       "extra_print": 'print(df.describe().round(3).to_string())'}),
    ("another hyper-parameter", {"model_import": "GradientBoostingRegressor",
                                 "model": "GradientBoostingRegressor(n_estimators=60, "
                                          "learning_rate=0.2, random_state=0)"}),
    ("one more feature", {"model_import": "GradientBoostingRegressor",
                          "model": "GradientBoostingRegressor(n_estimators=60, "
                                   "learning_rate=0.2, random_state=0)",
                          "extra_feature": 'df["age_sq"] = df["age"] ** 2',
                          "extra_num": ', "age_sq"'}),
    ("crash (typo)", {"model_import": "GradientBoostingRegressor",
                      "model": "GradientBoostingRegressor(n_estimators=60, "
                               "learning_rate=0.2, random_state=0)",
                      "extra_feature": 'df["age_sq"] = df["age"] ** 2',
                      "extra_num": ', "age_sq"', "target": "prise"}),
    ("fix", {"model_import": "GradientBoostingRegressor",
             "model": "GradientBoostingRegressor(n_estimators=60, learning_rate=0.2, "
                      "random_state=0)",
             "extra_feature": 'df["age_sq"] = df["age"] ** 2', "extra_num": ', "age_sq"'}),
]
DEFAULTS = {"model_import": "RandomForestRegressor",
            "model": "RandomForestRegressor(n_estimators=40, random_state=0, n_jobs=1)",
            "extra_feature": "", "extra_num": "", "extra_print": "", "target": "price"}


def make_data(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "area": rng.gamma(4, 30, rows).round(1), "rooms": rng.integers(1, 8, rows),
        "age": rng.integers(0, 80, rows).astype(float),
        "city": rng.choice(["north", "south", "east", "west", "center"], rows),
        "kind": rng.choice(["flat", "house", "loft"], rows),
    })
    df.loc[rng.random(rows) < 0.05, "age"] = np.nan
    df["price"] = (df.area * 2.5 + df.rooms * 10 - df.age.fillna(40) * 0.8
                   + rng.normal(0, 20, rows)).round(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def run(mode, script, work, cache):
    env = difftest.build_env(mode, cache)
    t0 = time.perf_counter()
    p = subprocess.run(difftest.command(mode, script, []), cwd=work, env=env,
                       capture_output=True, timeout=900)
    return time.perf_counter() - t0, (p.returncode, p.stdout, p.stderr)


def reused_ops(work, cache) -> list[str]:
    env = difftest.build_env("stratum", cache)
    p = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--last", "--json"],
                       cwd=work, env=env, capture_output=True, check=True)
    return [n["op"].rsplit(".", 1)[-1] for n in json.loads(p.stdout)["nodes"] if n["reused"]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--json", type=Path)
    ns = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="session-"))
    make_data(work / "data" / "train.csv", ns.rows)
    for i, (_, edits) in enumerate(STEPS):
        (work / f"step{i}.py").write_text(BASE.format(**{**DEFAULTS, **edits}))
    times = {"plain": [[] for _ in STEPS], "stratum": [[] for _ in STEPS]}
    reused: list[list[str]] = [[] for _ in STEPS]
    mismatches = []
    for rep in range(ns.repeat):
        cache = Path(tempfile.mkdtemp(prefix="session-cache-"))
        for i in range(len(STEPS)):
            script = f"step{i}.py"
            tp, out_p = run("plain", script, work, None)
            ts, out_s = run("stratum", script, work, cache)
            times["plain"][i].append(tp)
            times["stratum"][i].append(ts)
            if out_p != out_s:
                mismatches.append((rep, STEPS[i][0]))
            if rep == 0:
                reused[i] = reused_ops(work, cache)
        shutil.rmtree(cache, ignore_errors=True)
    rows = []
    for i, (name, _) in enumerate(STEPS):
        p, s = statistics.median(times["plain"][i]), statistics.median(times["stratum"][i])
        ops = sorted(set(reused[i]))
        rows.append({"step": name, "plain_s": round(p, 3), "stratum_s": round(s, 3),
                     "speedup": round(p / s, 2), "reused": len(reused[i]), "reused_ops": ops})
        print(f"{i} {name:<24} plain {p:6.2f}s  stratum {s:6.2f}s  x{p / s:5.2f}  "
              f"reused {len(reused[i]):3d} {', '.join(ops)}", flush=True)
    total_p = sum(r["plain_s"] for r in rows)
    total_s = sum(r["stratum_s"] for r in rows)
    print(f"total plain {total_p:.2f}s stratum {total_s:.2f}s speed-up x{total_p / total_s:.2f}; "
          f"outputs identical: {not mismatches}")
    if ns.json:
        ns.json.write_text(json.dumps({"steps": rows, "total_plain_s": total_p,
                                       "total_stratum_s": total_s, "mismatches": mismatches},
                                      indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
