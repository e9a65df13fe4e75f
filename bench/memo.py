"""Time saved by user-function memoization on re-runs.

    python bench/memo.py [--repeat 5] [--quick] [--json out.json]

Scripts: the corpus scripts that call user functions on library data, plus two generated
feature-engineering scripts: one whose helper does Python-level work (a loop over 60k texts),
which no per-operation reuse can skip, and one whose helper makes a few costly library calls
(50k rows: log transforms, group-wise statistics, rolling means), each of which stratum would
reuse on its own anyway. Each is run warm (cache primed by one run) with memoization on
(``STRATUM_MEMO=1``, the default) and off (``STRATUM_MEMO=0``: the function's body runs and
only its library calls are reused one by one), alternating; medians. Outputs are checked
against a plain run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import difftest  # noqa: E402

CORPUS = ("fe_user_functions", "reg_feature_eng_helpers", "fe_helpers_module",
          "text_preprocess_udf", "reg_log_target")

FEATURES = textwrap.dedent("""\
    import numpy as np, pandas as pd
    rng = np.random.RandomState(0)
    n = 50000
    raw = pd.DataFrame({"store": rng.randint(0, 200, n), "day": np.tile(np.arange(250), n // 250),
                        "sales": rng.gamma(2.0, 50.0, n), "price": rng.uniform(1, 9, n)})

    def features(df):
        df = df.sort_values(["store", "day"])
        out = df.assign(log_sales=np.log1p(df["sales"]), revenue=df["sales"] * df["price"])
        g = out.groupby("store")
        out = out.assign(store_mean=g["log_sales"].transform("mean"),
                         store_std=g["log_sales"].transform("std"),
                         roll=g["sales"].transform(lambda s: s.rolling(7, min_periods=1).mean()))
        return out.assign(z=(out["log_sales"] - out["store_mean"]) / out["store_std"])

    feats = features(raw)
    print(feats[["z", "roll", "revenue"]].describe().round(4).to_string())
    """)


# Python-level work inside the function (a loop over texts): per-operation reuse cannot skip it,
# since it is not a library call; memoizing the function skips it whole.
FEATURES_LOOP = textwrap.dedent("""\
    import numpy as np, pandas as pd
    rng = np.random.RandomState(1)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
                      "iota", "kappa", "lambda", "mu"])
    docs = pd.DataFrame({"text": [" ".join(row) for row in rng.choice(words, (60000, 12)).tolist()]})

    def text_features(df):
        toks = [t.lower().split() for t in df["text"]]
        return pd.DataFrame({
            "n_words": [len(t) for t in toks],
            "n_long": [sum(len(w) > 5 for w in t) for t in toks],
            "vowels": [sum(c in "aeiou" for c in " ".join(t)) for t in toks],
        })

    feats = text_features(docs)
    print(feats.describe().round(4).to_string())
    """)


def run(cmd, cwd, env, stdin=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=600)
    return time.perf_counter() - t0, p


def measure(script: Path, data: Path, repeat: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="memo-"))
    try:
        difftest._copy_inputs(script, work, data, difftest.helper_modules(script.parent))
        spec = difftest.read_spec(script)
        stdin = spec.stdin or None
        _, plain = run([sys.executable, script.name, *spec.args], work,
                       difftest.build_env("plain", None), stdin)
        envs = {}
        for label, flag in (("memo", "1"), ("no memo", "0")):
            env = difftest.build_env("stratum", work / f"cache-{flag}")
            env["STRATUM_MEMO"] = flag
            envs[label] = env
            run([sys.executable, "-m", "stratum", script.name, *spec.args], work, env, stdin)
        times = {k: [] for k in envs}
        identical = True
        for i in range(repeat):
            for label in (("memo", "no memo") if i % 2 == 0 else ("no memo", "memo")):
                seconds, p = run([sys.executable, "-m", "stratum", script.name, *spec.args],
                                 work, envs[label], stdin)
                times[label].append(seconds)
                identical &= (p.stdout, p.stderr, p.returncode) == \
                    (plain.stdout, plain.stderr, plain.returncode)
        trace = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--json"],
                               cwd=work, env=envs["memo"], capture_output=True, check=True)
        nodes = json.loads(trace.stdout)["nodes"]
        memo_nodes = [n for n in nodes if n["op"].startswith("__main__.")
                      or n["op"].startswith("helpers_")]
        on, off = statistics.median(times["memo"]), statistics.median(times["no memo"])
        return {"script": script.stem, "memo_s": on, "no_memo_s": off, "saved_s": off - on,
                "ratio": off / on, "memo_nodes": len(memo_nodes),
                "memo_reused": sum(1 for n in memo_nodes if n["reused"]),
                "identical": identical}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ns = ap.parse_args()
    repeat = 2 if ns.quick else ns.repeat
    tmp = Path(tempfile.mkdtemp(prefix="memo-bench-"))
    sys.path.insert(0, str(difftest.CORPUS_DIR))
    from make_data import make_data  # type: ignore

    make_data(tmp / "data")
    gen = tmp / "gen"
    gen.mkdir()
    (gen / "features_heavy.py").write_text(FEATURES)
    (gen / "features_loop.py").write_text(FEATURES_LOOP)
    scripts = [gen / "features_loop.py", gen / "features_heavy.py"]
    scripts += [difftest.CORPUS_DIR / f"{name}.py" for name in CORPUS
                if (difftest.CORPUS_DIR / f"{name}.py").exists()]
    if ns.quick:
        scripts = scripts[:2]
    rows = []
    print(f"{'script':28s} {'memo':>8s} {'no memo':>8s} {'saved':>8s} {'memo nodes':>11s}")
    for script in scripts:
        r = measure(script, tmp / "data", repeat)
        rows.append(r)
        print(f"{r['script']:28s} {r['memo_s']:7.3f}s {r['no_memo_s']:7.3f}s "
              f"{r['saved_s']:+7.3f}s {r['memo_reused']:>4d}/{r['memo_nodes']:<4d}"
              f"{'' if r['identical'] else '  OUTPUT DIFFERS'}", flush=True)
    total_on = sum(r["memo_s"] for r in rows)
    total_off = sum(r["no_memo_s"] for r in rows)
    print(f"total warm re-run: {total_off:.3f}s without memoization -> {total_on:.3f}s with "
          f"(saved {total_off - total_on:.3f}s, x{total_off / total_on:.2f})")
    result = {"scripts": rows, "total_memo_s": total_on, "total_no_memo_s": total_off,
              "command": "python bench/memo.py " + " ".join(sys.argv[1:])}
    if ns.json:
        Path(ns.json).write_text(json.dumps(result, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
