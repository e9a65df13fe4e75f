"""Executor: 20 scikit-learn pipelines as one merged graph vs one by one in Python.

Each pipeline is what an agent's script does: feature engineering on a 20k-row frame, a
train/test split, a ColumnTransformer (scaling + one-hot) and a model, scored on the test set.
The 20 differ only in the model. One by one, every pipeline redoes the shared preprocessing;
the merged graph computes it once and fits the 20 models concurrently on the executor's thread
pool (scikit-learn's fits release the GIL in Cython / BLAS). Scores must be identical.

    python bench/executor.py [--repeat 3] [--rows 20000]

Reported: median seconds of each mode and the ratio one-by-one / merged; also the merged graph
with jobs=1, which separates sharing (CSE) from parallelism. BLAS is pinned to one thread in
every mode so the thread pool is the only source of parallelism.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression, RidgeClassifier  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from stratum.replay.executor import Graph, run  # noqa: E402

NUM = [f"x{i}" for i in range(8)]
CAT = ["city", "plan"]


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(rows, len(NUM))), columns=NUM)
    df["city"] = rng.choice(["a", "b", "c", "d", "e"], rows)
    df["plan"] = rng.choice(["free", "pro", "team"], rows)
    df["y"] = ((df["x0"] + df["x1"] * df["x2"] + (df["city"] == "b")) > 0.3).astype(int)
    return df


def features(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["x0_city_mean"] = out.groupby("city")["x0"].transform("mean")
    out["x1_rank"] = out.groupby("plan")["x1"].rank(pct=True)
    out["ratio"] = out["x3"] / (out["x4"].abs() + 1.0)
    return out


def split(df: pd.DataFrame):
    cols = NUM + ["x0_city_mean", "x1_rank", "ratio"] + CAT
    return train_test_split(df[cols], df["y"], test_size=0.25, random_state=0)


def prep() -> ColumnTransformer:
    return ColumnTransformer([
        ("num", StandardScaler(), NUM + ["x0_city_mean", "x1_rank", "ratio"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])


def models():
    out = []
    for c in (0.01, 0.1, 1.0, 10.0, 100.0):
        out.append(LogisticRegression(C=c, max_iter=500))
    for a in (0.1, 1.0, 10.0):
        out.append(RidgeClassifier(alpha=a))
    for d in (3, 5, 8, 12, 16, None):
        out.append(DecisionTreeClassifier(max_depth=d, random_state=0))
    for n in (20, 40, 60):
        out.append(RandomForestClassifier(n_estimators=n, max_depth=8, random_state=0))
    for n in (20, 40):
        out.append(ExtraTreesClassifier(n_estimators=n, max_depth=8, random_state=0))
    out.append(GaussianNB())
    assert len(out) == 20
    return out


def one_by_one(rows: int) -> list[float]:
    """What 20 separate scripts do: everything, for each model."""
    scores = []
    for model in models():
        xtr, xte, ytr, yte = split(features(make_frame(rows)))
        pipe = Pipeline([("prep", prep()), ("model", model)])
        scores.append(float(pipe.fit(xtr, ytr).score(xte, yte)))
    return scores


def merged_graph(rows: int):
    g = Graph()
    frame = g.add("make_frame", lambda: make_frame(rows))
    feats = g.add("features", features, [frame])
    parts = g.add("split", split, [feats])
    xtr, xte, ytr, yte = (g.add(f"split[{i}]", (lambda p, i=i: p[i]), [parts]) for i in range(4))
    fitted = g.add("prep.fit", lambda x, y: prep().fit(x, y), [xtr, ytr])
    ttr = g.add("prep.transform(train)", lambda p, x: p.transform(x), [fitted, xtr])
    tte = g.add("prep.transform(test)", lambda p, x: p.transform(x), [fitted, xte])
    outs = []
    for i, model in enumerate(models()):
        fit = g.add(f"fit[{i}]", (lambda x, y, m=model: m.fit(x, y)), [ttr, ytr])
        outs.append(g.add(f"score[{i}]", lambda m, x, y: float(m.score(x, y)), [fit, tte, yte]))
    return g, outs


def merged(rows: int, jobs: int) -> list[float]:
    g, outs = merged_graph(rows)
    values, _ = run(g, outs, jobs=jobs)
    return [values[o] for o in outs]


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", type=int, default=20_000)
    args = ap.parse_args(argv)
    jobs = os.cpu_count() or 1
    times = {"one_by_one": [], "merged_jobs1": [], f"merged_jobs{jobs}": []}
    reference = None
    for _ in range(args.repeat):  # alternate the modes to cancel machine drift
        for mode in times:
            if mode == "one_by_one":
                secs, scores = timed(one_by_one, args.rows)
            else:
                secs, scores = timed(merged, args.rows, int(mode.removeprefix("merged_jobs")))
            reference = reference or scores
            if scores != reference:
                print(f"MISMATCH in {mode}: {scores} != {reference}", file=sys.stderr)
                return 1
            times[mode].append(secs)
    med = {m: statistics.median(t) for m, t in times.items()}
    print(f"command: python bench/executor.py --repeat {args.repeat} --rows {args.rows}")
    print(f"cores: {os.cpu_count()}, BLAS threads pinned to 1; 20 pipelines, scores identical")
    for m, s in med.items():
        print(f"  {m:>14}: median {s:.3f}s  ({', '.join(f'{t:.2f}' for t in times[m])})")
    base = med["one_by_one"]
    for m in list(med)[1:]:
        print(f"  ratio one_by_one / {m}: {base / med[m]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
