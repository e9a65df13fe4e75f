"""Native categorical kernels vs the library, side by side; prints median ratios.

    python -P bench/kernels_categorical.py [--repeat 7] [--e2e-repeat 3] [--no-e2e] [--only NAME]
                                          [--breakdown]

(i)  In-process: each operation on 50k rows x 10 string columns (pandas ``str`` dtype, 5..50
     categories) with the kernels uninstalled (library) and installed (native), alternating,
     ``--repeat`` times; ratio = median library seconds / median native seconds.
(ii) End to end: a corpus-style script (read_csv, ColumnTransformer with OneHotEncoder in a
     Pipeline, 5-fold ``cross_val_score``) as ``python script.py`` vs ``python -m stratum``
     with a fresh cache (cold), with and without ``STRATUM_NATIVE=0``; median wall seconds.
(iii) ``--breakdown``: native dense ``fit_transform`` next to native sparse ``fit_transform``
     and the allocation floor of a dense result (see ``breakdown``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder

from stratum import kernels

ROWS, COLS = 50_000, 10


def make_frame(rows: int = ROWS, cols: int = COLS, seed: int = 0, via_csv: bool = True) -> pd.DataFrame:
    """String columns as scripts get them: from ``read_csv`` (whose parser shares one ``str``
    object per distinct value), or, with ``via_csv=False``, one object per cell (``astype``)."""
    rng = np.random.default_rng(seed)
    data = {f"c{j}": rng.choice([f"{'cat' if j % 2 else 'région'}_{k}" for k in range(5 + 5 * j)],
                                rows) for j in range(cols)}
    df = pd.DataFrame(data).astype("str")
    if not via_csv:
        return df
    with tempfile.TemporaryDirectory(prefix="stratum-bench-") as d:
        df.to_csv(Path(d) / "frame.csv", index=False)
        return pd.read_csv(Path(d) / "frame.csv")


def _cv_pipeline(df: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import cross_val_score
    from sklearn.naive_bayes import BernoulliNB
    from sklearn.pipeline import Pipeline

    target = (df["c1"].str.len() + df["c4"].str.len()) % 2
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), list(df.columns))])
    model = Pipeline([("pre", pre), ("clf", BernoulliNB())])
    return lambda: cross_val_score(model, df, target, cv=5)


def cases(df: pd.DataFrame):
    y = np.array(df["c3"].tolist(), dtype=object)
    fitted_sparse = OneHotEncoder(handle_unknown="ignore").fit(df)
    fitted_dense = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(df)
    fitted_label = LabelEncoder().fit(y)
    return {
        "OneHotEncoder().fit_transform (sparse)": lambda: OneHotEncoder().fit_transform(df),
        "OneHotEncoder(sparse_output=False).fit_transform": lambda: OneHotEncoder(
            sparse_output=False).fit_transform(df),
        "OneHotEncoder(drop='first').fit_transform": lambda: OneHotEncoder(
            drop="first").fit_transform(df),
        "OneHotEncoder.fit": lambda: OneHotEncoder().fit(df),
        "OneHotEncoder.transform (fitted)": lambda: fitted_sparse.transform(df),
        "OneHotEncoder(sparse_output=False).transform (fitted)": lambda: fitted_dense.transform(df),
        "OrdinalEncoder().fit_transform": lambda: OrdinalEncoder().fit_transform(df),
        "LabelEncoder().fit_transform (object y)": lambda: LabelEncoder().fit_transform(y),
        "LabelEncoder.transform (object y)": lambda: fitted_label.transform(y),
        "cross_val_score(Pipeline(OneHotEncoder, BernoulliNB), cv=5)": _cv_pipeline(df),
    }


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def in_process(repeat: int, via_csv: bool, only: str = "") -> list[tuple[str, float, float]]:
    df = make_frame(via_csv=via_csv)
    rows = []
    for name, fn in cases(df).items():
        if only not in name:
            continue
        lib, nat = [], []
        fn()  # warm both paths once
        kernels.install()
        fn()
        kernels.uninstall()
        for _ in range(repeat):
            lib.append(_time(fn))
            kernels.install()
            try:
                nat.append(_time(fn))
            finally:
                kernels.uninstall()
        rows.append((name, statistics.median(lib), statistics.median(nat)))
    return rows


E2E_SCRIPT = textwrap.dedent("""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    df = pd.read_csv("data.csv")
    y = df.pop("target")
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), list(df.columns))])
    model = Pipeline([("pre", pre), ("clf", MODEL)])
    scores = cross_val_score(model, df, y, cv=5)
    print("cv accuracy: %.4f +/- %.4f" % (scores.mean(), scores.std()))
""")


MODELS = {"LogisticRegression": "LogisticRegression(max_iter=50)", "BernoulliNB": "BernoulliNB()"}


def end_to_end(repeat: int, model: str) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="stratum-bench-kernels-"))
    df = make_frame()
    df["target"] = (df["c1"].str.len() + df["c4"].str.len()) % 2
    df.to_csv(work / "data.csv", index=False)
    (work / "script.py").write_text(E2E_SCRIPT.replace("MODEL", MODELS[model]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    modes = {
        "plain python": ([sys.executable, "script.py"], {}),
        "stratum cold": ([sys.executable, "-m", "stratum", "script.py"], {}),
        "stratum cold, STRATUM_NATIVE=0": ([sys.executable, "-m", "stratum", "script.py"],
                                           {"STRATUM_NATIVE": "0"}),
    }
    seconds: dict[str, list[float]] = {m: [] for m in modes}
    outputs: dict[str, set[bytes]] = {m: set() for m in modes}
    for i in range(repeat):
        for mode, (cmd, extra) in modes.items():
            run_env = dict(env, **extra, STRATUM_CACHE_DIR=str(work / f"cache-{mode[-1]}-{i}"))
            t0 = time.perf_counter()
            out = subprocess.run(cmd, cwd=work, env=run_env, capture_output=True, check=True)
            seconds[mode].append(time.perf_counter() - t0)
            outputs[mode].add(out.stdout + out.stderr)
    shutil.rmtree(work, ignore_errors=True)
    same = len(set().union(*outputs.values())) == 1
    print(f"end-to-end outputs byte-identical across modes: {same}")
    return {m: statistics.median(s) for m, s in seconds.items()}


def breakdown(repeat: int, via_csv: bool) -> list[tuple[str, float]]:
    """Where native dense ``fit_transform`` time goes: the whole call, the same call with sparse
    output (validation + string kernels + CSR), and the floor any dense result pays, library or
    native: a fresh ``np.zeros`` of the output's shape with one write per page (the kernel
    zeroing ~110 MB on first touch)."""
    df = make_frame(via_csv=via_csv)
    shape = OneHotEncoder(sparse_output=False).fit_transform(df).shape

    def floor():
        out = np.zeros(shape)
        out.reshape(-1)[::512] = 1.0  # 512 float64 = one 4 KiB page

    parts = {"native dense fit_transform": lambda: OneHotEncoder(sparse_output=False).fit_transform(df),
             "native sparse fit_transform": lambda: OneHotEncoder().fit_transform(df),
             f"np.zeros{shape} + one write per page": floor}
    seconds: dict[str, list[float]] = {k: [] for k in parts}
    kernels.install()
    try:
        for fn in parts.values():
            fn()
        for _ in range(repeat):
            for k, fn in parts.items():
                seconds[k].append(_time(fn))
    finally:
        kernels.uninstall()
    return [(k, statistics.median(v)) for k, v in seconds.items()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--e2e-repeat", type=int, default=3)
    ap.add_argument("--no-e2e", action="store_true")
    ap.add_argument("--only", default="", help="run the operations whose name contains this")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time the parts of native dense fit_transform")
    ap.add_argument("--frame", choices=["csv", "astype", "both"], default="both",
                    help="string columns read by read_csv (shared objects) or built by astype")
    args = ap.parse_args(argv)
    cmd = "python -P bench/kernels_categorical.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"# {cmd}\n# {ROWS} rows x {COLS} str columns; median of {args.repeat}")
    for frame in (["csv", "astype"] if args.frame == "both" else [args.frame]):
        print(f"\ncolumns from {'read_csv' if frame == 'csv' else 'astype(str), one object per cell'}:\n")
        print("| operation | library ms | native ms | speed-up |\n|---|---:|---:|---:|")
        for name, lib, nat in in_process(args.repeat, frame == "csv", args.only):
            print(f"| {name} | {lib * 1e3:.1f} | {nat * 1e3:.1f} | {lib / nat:.2f}x |")
        if args.breakdown:
            print("\n| part (native kernels installed) | ms |\n|---|---:|")
            for name, sec in breakdown(args.repeat, frame == "csv"):
                print(f"| {name} | {sec * 1e3:.1f} |")
    if not args.no_e2e:
        for model in MODELS:
            res = end_to_end(args.e2e_repeat, model)
            print(f"\nend to end, {model}, median of {args.e2e_repeat} "
                  "(read_csv, OneHotEncoder in a Pipeline, cross_val_score cv=5):\n")
            print("| mode | seconds | plain / mode |\n|---|---:|---:|")
            plain = res["plain python"]
            for mode, s in res.items():
                print(f"| {mode} | {s:.2f} | {plain / s:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
