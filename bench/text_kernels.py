"""Native text-vectorizer kernels vs scikit-learn, side by side (medians of ``--repeat`` runs).

(1) ``fit_transform`` of each vectorizer on 50k generated short texts (5-20 words from a
    5000-word vocabulary, one text in ten with non-ASCII words), in this process: library
    (kernels uninstalled) and native (kernels installed) alternately; the outputs are checked
    equal (matrix bytes and vocabulary) before any time is reported.
(2) End to end: a text-classification script (TF-IDF + LogisticRegression, 5-fold
    ``cross_val_score`` on 20k texts) run as ``python script.py``, ``python -m stratum
    script.py`` and the same with ``STRATUM_NATIVE=0``, each stratum run with a fresh (cold)
    cache; and the same cross-validation in this process, library vs native kernels.

    python bench/text_kernels.py [--repeat 5] [--docs 50000] [--e2e-docs 20000] [--json FILE]

Ratios > 1 mean native / stratum is faster. The machine is noisy: compare ratios, not seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WORDS_SEED = 0
NON_ASCII = ["naïve", "café", "straße", "İstanbul", "ΣΟΦΟΣ", "日本語", "🙂", "señor", "déjà", "vu"]


def make_docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    docs = []
    for i in range(n):
        ws = [rng.choice(words) for _ in range(rng.randint(5, 20))]
        if i % 10 == 0:
            ws[rng.randrange(len(ws))] = rng.choice(NON_ASCII)
        if i % 3 == 0:
            ws[0] = ws[0].capitalize()
        docs.append(" ".join(ws) + rng.choice([".", "!", "", "?"]))
    return docs


def configs():
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
    return {
        "CountVectorizer()": CountVectorizer,
        "TfidfVectorizer()": TfidfVectorizer,
        "HashingVectorizer()": HashingVectorizer,
        "TfidfVectorizer(ngram_range=(1, 2), min_df=2)": lambda: TfidfVectorizer(ngram_range=(1, 2), min_df=2),
        "CountVectorizer(analyzer='char_wb', ngram_range=(2, 4))":
            lambda: CountVectorizer(analyzer="char_wb", ngram_range=(2, 4)),
    }


def _same(a, b) -> bool:
    return (a.shape == b.shape and a.dtype == b.dtype and a.indices.tobytes() == b.indices.tobytes()
            and a.indptr.tobytes() == b.indptr.tobytes() and a.data.tobytes() == b.data.tobytes())


def bench_kernels(docs, repeat: int) -> list[dict]:
    from stratum import kernels
    rows = []
    for name, make in configs().items():
        times = {"library": [], "native": []}
        outputs = {}
        for r in range(repeat):
            for mode in (("library", "native") if r % 2 == 0 else ("native", "library")):
                (kernels.install if mode == "native" else kernels.uninstall)()
                est = make()
                t0 = time.perf_counter()
                X = est.fit_transform(docs)
                times[mode].append(time.perf_counter() - t0)
                outputs[mode] = (X, getattr(est, "vocabulary_", None))
                kernels.uninstall()
        (xl, vl), (xn, vn) = outputs["library"], outputs["native"]
        if not _same(xl, xn) or (vl is not None and list(vl.items()) != list(vn.items())):
            raise SystemExit(f"{name}: native output differs from the library's")
        lib, nat = statistics.median(times["library"]), statistics.median(times["native"])
        rows.append({"config": name, "library_s": lib, "native_s": nat, "ratio": lib / nat})
        print(f"{name:58s} library {lib:7.3f}s  native {nat:7.3f}s  {lib / nat:5.2f}x", flush=True)
    return rows


def _cv_task(n_docs: int):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    docs = make_docs(n_docs)
    y = np.array([("a" in d.split()[0]) + ("e" in d.split()[-1]) for d in docs]) % 2
    return lambda: cross_val_score(make_pipeline(TfidfVectorizer(sublinear_tf=True),
                                                 LogisticRegression(max_iter=200)), docs, y, cv=5)


def bench_cv(n_docs: int, repeat: int) -> dict:
    """The end-to-end pipeline's work in this process (no start-up, no tracing): library vs
    native kernels, so the share of the vectorizer in a TF-IDF + LR cross-validation shows."""
    from stratum import kernels
    task = _cv_task(n_docs)
    times = {"library": [], "native": []}
    scores = {}
    for r in range(repeat):
        for mode in (("library", "native") if r % 2 == 0 else ("native", "library")):
            (kernels.install if mode == "native" else kernels.uninstall)()
            t0 = time.perf_counter()
            scores[mode] = task().tobytes()
            times[mode].append(time.perf_counter() - t0)
            kernels.uninstall()
    if scores["library"] != scores["native"]:
        raise SystemExit("cross_val_score differs with native kernels")
    lib, nat = statistics.median(times["library"]), statistics.median(times["native"])
    print(f"{'cross_val_score(TF-IDF + LR, cv=5), in process':58s} library {lib:7.3f}s  "
          f"native {nat:7.3f}s  {lib / nat:5.2f}x", flush=True)
    return {"docs": n_docs, "library_s": lib, "native_s": nat, "ratio": lib / nat}


E2E_SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, {bench!r})
    from text_kernels import make_docs
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    docs = make_docs({n})
    y = np.array([("a" in d.split()[0]) + ("e" in d.split()[-1]) for d in docs]) % 2
    pipe = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=200))
    print(cross_val_score(pipe, docs, y, cv=5).round(6).tolist())
''')


def bench_e2e(n_docs: int, repeat: int) -> dict:
    base = Path(tempfile.mkdtemp(prefix="k6b-text-e2e-"))
    script = base / "text_clf.py"
    script.write_text(E2E_SCRIPT.format(bench=str(Path(__file__).resolve().parent), n=n_docs))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    modes = {
        "plain": ([sys.executable, str(script)], {}),
        "stratum": ([sys.executable, "-m", "stratum", str(script)], {}),
        "stratum STRATUM_NATIVE=0": ([sys.executable, "-m", "stratum", str(script)], {"STRATUM_NATIVE": "0"}),
    }
    times = {m: [] for m in modes}
    outputs = {}
    for r in range(repeat):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))
        for m in order:
            cmd, extra = modes[m]
            run_env = dict(env, **extra, STRATUM_CACHE_DIR=str(base / f"cache-{m}-{r}".replace(" ", "_")))
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=run_env, cwd=base, capture_output=True, timeout=600)
            times[m].append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise SystemExit(f"{m} failed:\n{proc.stderr.decode()}")
            outputs[m] = proc.stdout
    if len(set(outputs.values())) != 1:
        raise SystemExit(f"outputs differ: {outputs}")
    med = {m: statistics.median(t) for m, t in times.items()}
    for m in modes:
        print(f"e2e {m:26s} {med[m]:7.3f}s  plain/this {med['plain'] / med[m]:5.2f}x", flush=True)
    return {"docs": n_docs, "median_s": med}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--e2e-docs", type=int, default=20_000)
    ap.add_argument("--e2e-repeat", type=int, default=3)
    ap.add_argument("--no-e2e", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]), flush=True)
    out = {"kernels": bench_kernels(make_docs(args.docs), args.repeat)}
    if not args.no_e2e:
        out["cv_in_process"] = bench_cv(args.e2e_docs, args.e2e_repeat)
        out["e2e"] = bench_e2e(args.e2e_docs, args.e2e_repeat)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
