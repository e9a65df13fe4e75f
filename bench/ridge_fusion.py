"""Exact fusion of Ridge fits: a grid search over alpha, plain python vs stratum.

Two figures, each measured side by side (alternating, medians of ``--repeat`` runs):

1. ``GridSearchCV(Ridge(), {"alpha": 20 values}, cv=5)`` on N x P float64 data, whole script:
   plain ``python`` vs ``python -m stratum`` with a fresh (cold) cache per run. The search's
   seconds are timed inside the script (``perf_counter`` around ``fit``) and the process's
   wall time too. Both sides print a digest of ``cv_results_`` scores and the best estimator,
   which must match byte for byte.
2. The fit phase alone, in process: 20 ``Ridge(alpha).fit`` on one fold-sized array, the
   library as is vs with the kernel installed (memo emptied before each repeat, so every
   repeat pays one build and 19 replays).

    python bench/ridge_fusion.py [--rows 20000] [--cols 200] [--repeat 3] [--blas-threads 1]

``--blas-threads`` pins the BLAS thread count on both sides (0 = the library's default). On a
small shared machine a multi-threaded BLAS mostly measures the scheduler: with 2 OpenBLAS
threads on 2 busy cores a 200 x 200 solve took 0.4 s instead of 1 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SCRIPT = textwrap.dedent("""
    import hashlib, sys, time
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV

    rows, cols = int(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols))
    y = X @ rng.normal(size=cols) + rng.normal(size=rows)
    alphas = np.logspace(-3, 4, 20).tolist()
    t0 = time.perf_counter()
    search = GridSearchCV(Ridge(), {"alpha": alphas}, cv=5).fit(X, y)
    seconds = time.perf_counter() - t0
    scores = np.concatenate([search.cv_results_[f"split{i}_test_score"] for i in range(5)])
    digest = hashlib.sha256(scores.tobytes() + search.best_estimator_.coef_.tobytes()).hexdigest()
    print(digest[:16], search.best_params_)
    print(f"{seconds:.6f}", file=sys.stderr)
""")


def run_script(script: Path, args, stratum: bool, env) -> tuple[float, float, bytes]:
    cmd = [sys.executable] + (["-m", "stratum"] if stratum else []) + [str(script), *args]
    cache = tempfile.mkdtemp(prefix="r6-bench-cache-")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=dict(env, STRATUM_CACHE_DIR=cache))
    wall = time.perf_counter() - t0
    subprocess.run(["rm", "-rf", cache], check=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode())
    return float(proc.stderr.decode().split()[-1]), wall, proc.stdout


def grid_search(rows: int, cols: int, repeat: int, threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    env["PYTHONPATH"] = str(ROOT)
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    with tempfile.TemporaryDirectory(prefix="r6-bench-") as tmp:
        script = Path(tmp) / "grid_ridge.py"
        script.write_text(SCRIPT)
        plain, ours, outs = [], [], set()
        for _ in range(repeat):
            for stratum, into in ((False, plain), (True, ours)):
                fit_s, wall, out = run_script(script, [str(rows), str(cols)], stratum, env)
                into.append((fit_s, wall))
                outs.add(out)
    if len(outs) != 1:
        raise SystemExit(f"outputs differ between plain and stratum: {outs}")
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    return {"plain_fit": med(plain, 0), "stratum_fit": med(ours, 0),
            "plain_wall": med(plain, 1), "stratum_wall": med(ours, 1), "output": outs.pop()}


def fit_phase(rows: int, cols: int, repeat: int, threads: int) -> dict:
    import contextlib

    import numpy as np
    from sklearn.linear_model import Ridge
    from threadpoolctl import threadpool_limits

    from stratum import kernels
    from stratum.kernels import ridge as rk

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows * 4 // 5, cols))  # one training fold of the search above
    y = X @ rng.normal(size=cols) + rng.normal(size=len(X))
    alphas = np.logspace(-3, 4, 20).tolist()

    def fits():
        t0 = time.perf_counter()
        coefs = [Ridge(alpha=a).fit(X, y).coef_.tobytes() for a in alphas]
        return time.perf_counter() - t0, coefs

    plain, fused, first = [], [], []
    limits = threadpool_limits(threads) if threads else contextlib.nullcontext()
    with limits:
        _fit_repeats(repeat, fits, alphas, X, y, plain, fused, first, kernels, rk, Ridge)
    return {"plain": statistics.median(plain), "fused": statistics.median(fused),
            "first_fit": statistics.median(first), "n_fits": len(alphas)}


def _fit_repeats(repeat, fits, alphas, X, y, plain, fused, first, kernels, rk, Ridge):
    for _ in range(repeat):
        seconds, expected = fits()
        plain.append(seconds)
        rk.MEMO.clear()
        kernels.install()
        try:
            t0 = time.perf_counter()
            Ridge(alpha=alphas[0]).fit(X, y)  # the build: centring + Gram matrix, memoized
            first.append(time.perf_counter() - t0)
            rk.MEMO.clear()
            seconds, got = fits()
        finally:
            kernels.uninstall()
        if got != expected:
            raise SystemExit("fused coefficients differ from the library's")
        fused.append(seconds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--cols", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--blas-threads", type=int, default=1)
    a = ap.parse_args(argv)
    cmd = (f"python bench/ridge_fusion.py --rows {a.rows} --cols {a.cols} --repeat {a.repeat} "
           f"--blas-threads {a.blas_threads}")
    gs = grid_search(a.rows, a.cols, a.repeat, a.blas_threads)
    fp = fit_phase(a.rows, a.cols, max(a.repeat, 5), a.blas_threads)
    print(f"$ {cmd}")
    print(f"GridSearchCV(Ridge(), 20 alphas, cv=5) on {a.rows} x {a.cols}, medians of {a.repeat}:")
    print(f"  search.fit   plain {gs['plain_fit']:.3f} s   stratum (cold cache) "
          f"{gs['stratum_fit']:.3f} s   speed-up {gs['plain_fit'] / gs['stratum_fit']:.2f}x")
    print(f"  whole run    plain {gs['plain_wall']:.3f} s   stratum (cold cache) "
          f"{gs['stratum_wall']:.3f} s   speed-up {gs['plain_wall'] / gs['stratum_wall']:.2f}x")
    print(f"  same output on both sides: {gs['output'].decode().strip()}")
    print(f"fit phase: {fp['n_fits']} Ridge fits on {a.rows * 4 // 5} x {a.cols}, "
          f"medians of {max(a.repeat, 5)}:")
    print(f"  library {fp['plain']:.3f} s   fused {fp['fused']:.3f} s   speed-up "
          f"{fp['plain'] / fp['fused']:.2f}x   (first fused fit, which builds: "
          f"{fp['first_fit'] * 1000:.1f} ms; library per fit {fp['plain'] / fp['n_fits'] * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
