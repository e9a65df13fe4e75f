"""A mixed OpenMP / BLAS batch (issue 13): ``stratum run`` vs plain python when the scripts'
thread pools compete for the cores.

scikit-learn's OpenMP code (HistGradientBoosting, KMeans, pairwise reductions) and OpenBLAS
(Ridge / LogisticRegression lbfgs on wide data, PCA, the coordinate descent of ElasticNet /
Lasso) each start one thread per core and spin while waiting; two such processes on two cores
steal each other's time. stratum's machine-wide CPU token budget (``STRATUM_CPU_BUDGET=0``
turns it off; on by default) is meant to stop that. This benchmark measures it on a realistic
batch; nothing is downloaded.

Generated data (``--rows`` scales them; ``--quick`` makes them small): ``diamonds.csv`` (a
diamonds-like regression table: numeric + categorical columns, a few missing values),
``churn.csv`` (a churn classification table, 4/5 as many rows) and ``reviews.csv`` (short
review texts for TF-IDF, 1/4 as many rows). Generated scripts (41; ``--scripts N`` takes the
first N, ``--quick`` 8, a mix): agent-style edits of three base pipelines, each reading its
CSV and running the same feature lines (work a batch can share), then a model: OpenMP / BLAS
heavy fits (HistGradientBoosting, RandomForest with ``n_jobs``, KMeans, ElasticNet / Lasso,
Ridge / LogisticRegression lbfgs / PCA on wide polynomial features), single-threaded ones
(liblinear, DecisionTree, KNN on a sample, GaussianNB / MultinomialNB, SGD) and EDA-only
scripts. Every script is seeded and prints with fixed formatting.

Measured per repeat, the order alternating (medians over ``--repeat``), CPU seconds (user +
sys of the processes, from ``getrusage``) beside each wall time:

- plain: ``python s.py`` for every script, one after the other;
- on: ``python -m stratum run --jobs J --out DIR`` on an empty cache (the CPU budget on);
- off: the same with ``STRATUM_CPU_BUDGET=0``;
- limit: the sum over distinct node keys of the top-level nodes' wall seconds in the traces of
  the "on" batch / cores + one import of the libraries (as ``bench/batch.py``); with the
  traces' ``cpu`` column (when the store has it, else "n/a") the same from CPU seconds.

The budget's token pool (``STRATUM_CPU_DIR``) is one of the benchmark's own, shared by all the
processes of one measurement: other stratum processes on a shared machine (a test suite in
another checkout) take no tokens from it. ``--machine-pool`` uses the default machine-wide pool.

Every script's stdout, stderr and exit code in both batches must equal its plain run byte for
byte (checked in every repeat); any difference is printed and the exit status is 1.

``--pair``: two heavy scripts (a HistGradientBoostingClassifier fit on the churn table and a
KMeans fit, or an ElasticNet fit with ``--pair-with elasticnet``, on the diamonds table, so no
work is shared and only the thread pools interact) run: one after the other with plain python;
started at the same moment with plain python; started at the same moment each as its own
``python -m stratum script.py`` process, budget on and ``STRATUM_CPU_BUDGET=0``. The two
stratum processes use one empty cache dir (as two scripts of one user do with the default
``~/.cache/stratum``; ``--separate-caches`` gives each its own: the scripts share no work, so
the cache dir decides nothing here but where traces go, and the token pool is shared either
way). Outputs checked against the sequential plain runs; each process's seconds are reported.

The load average is printed with every repeat: OpenMP code slows down many times over when
other work holds the cores (a HistGradientBoosting fit measured 5x slower with 2 threads than
with 1 at a load of 5), so compare ratios measured side by side on a quiet machine.

    python bench/cpu_mix.py [--quick] [--repeat 1] [--jobs 2] [--rows 50000] [--scripts 41]
                            [--json out.json] [--verbose] [--keep] [--machine-pool]
    python bench/cpu_mix.py --pair [--quick] [--repeat 3] [--pair-with kmeans|elasticnet]
                            [--separate-caches]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import difftest  # noqa: E402

BUDGET = "STRATUM_CPU_BUDGET"
TIMEOUT = 1800  # seconds for one command: a hung run fails the benchmark, it does not hang CI

# ---------------------------------------------------------------------------------- the data


def write_data(work: Path, rows: int, seed: int = 13) -> None:
    """diamonds.csv (``rows``), churn.csv (4/5) and reviews.csv (1/4), all seeded."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = rows
    cuts = np.array(["Fair", "Good", "Very Good", "Premium", "Ideal"])
    colors = np.array(list("DEFGHIJ"))
    clarities = np.array(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"])
    carat = np.round(np.clip(rng.lognormal(-0.45, 0.55, n), 0.2, 5.0), 2)
    cut = rng.choice(5, n, p=[0.03, 0.09, 0.22, 0.26, 0.40])
    color = rng.choice(7, n, p=[0.12, 0.18, 0.18, 0.21, 0.15, 0.10, 0.06])
    clarity = rng.choice(8, n, p=[0.02, 0.17, 0.24, 0.23, 0.15, 0.09, 0.07, 0.03])
    side = 6.45 * carat ** (1 / 3)
    x = np.round(side * rng.normal(1.0, 0.01, n), 2)
    y = np.round(side * rng.normal(1.0, 0.01, n), 2)
    depth = np.round(rng.normal(61.75, 1.4, n), 1)
    z = np.round((x + y) / 2 * depth / 100, 2)
    z[rng.random(n) < 0.0005] = 0.0  # a few broken rows, as in the real table
    table = np.round(rng.normal(57.4, 2.2, n), 0)
    log_price = (8.45 + 1.7 * np.log(carat) + 0.06 * cut - 0.08 * color + 0.11 * clarity
                 - 0.01 * np.abs(depth - 61.8) + rng.normal(0, 0.13, n))
    price = np.round(np.exp(log_price)).astype(int)
    d = pd.DataFrame({"carat": carat, "cut": cuts[cut], "color": colors[color],
                      "clarity": clarities[clarity], "depth": depth, "table": table,
                      "price": price, "x": x, "y": y, "z": z})
    d.loc[rng.random(n) < 0.01, "depth"] = np.nan
    d.to_csv(work / "diamonds.csv", index=False)

    m = rows * 4 // 5
    contracts = np.array(["month-to-month", "one-year", "two-year"])
    payments = np.array(["electronic-check", "mailed-check", "bank-transfer", "credit-card"])
    internets = np.array(["dsl", "fiber", "none"])
    regions = np.array([f"region_{i:02d}" for i in range(12)])
    contract = rng.choice(3, m, p=[0.55, 0.25, 0.20])
    payment = rng.choice(4, m)
    internet = rng.choice(3, m, p=[0.35, 0.45, 0.20])
    region = rng.choice(12, m)
    tenure = np.clip(rng.gamma(1.5 + contract, 12.0, m), 0, 72).round().astype(int)
    monthly = np.round(20 + 35 * (internet == 1) + 15 * (internet == 0)
                       + rng.gamma(2.0, 10.0, m), 2)
    total = np.round(monthly * tenure * rng.normal(1.0, 0.03, m), 2)
    age = rng.integers(18, 85, m)
    products = rng.integers(1, 6, m)
    calls = rng.poisson(1.0 + 1.5 * (internet == 1), m)
    usage = np.round(rng.gamma(2.0, 80.0, m), 1)
    logit = (-0.6 + 1.1 * (contract == 0) - 0.9 * (contract == 2) - 0.035 * tenure
             + 0.018 * (monthly - 60) + 0.35 * calls + 0.4 * (payment == 0)
             + 0.25 * (internet == 1) - 0.1 * products + 0.15 * np.sin(region)
             + 0.004 * (age - 45) + rng.normal(0, 0.8, m))
    churn = (rng.random(m) < 1 / (1 + np.exp(-logit))).astype(int)
    c = pd.DataFrame({"customer_id": np.arange(100000, 100000 + m), "tenure": tenure,
                      "monthly_charges": monthly, "total_charges": total, "age": age,
                      "n_products": products, "support_calls": calls, "usage_gb": usage,
                      "contract": contracts[contract], "payment": payments[payment],
                      "internet": internets[internet], "region": regions[region],
                      "churn": churn})
    c.loc[rng.random(m) < 0.02, "total_charges"] = np.nan
    c.to_csv(work / "churn.csv", index=False)

    k = max(rows // 4, 200)
    good = ("great excellent love perfect fast friendly helpful easy reliable recommend "
            "amazing smooth happy quality worth").split()
    bad = ("slow broken terrible refund rude late waste poor disappointed awful cancel "
           "crash expensive confusing never").split()
    neutral = ("the a product service delivery app price support order account time it was "
               "and but with my for this very not really quite plan bill phone network "
               "speed customer day week month update").split()
    rating = rng.choice(5, k, p=[0.12, 0.10, 0.15, 0.28, 0.35]) + 1
    texts = []
    for r in rating:
        words = int(rng.integers(6, 30))
        p_good = (r - 1) / 4 * 0.35
        p_bad = (5 - r) / 4 * 0.35
        kind = rng.choice(3, words, p=[p_good, p_bad, 1 - p_good - p_bad])
        texts.append(" ".join(good[rng.integers(len(good))] if t == 0 else
                              bad[rng.integers(len(bad))] if t == 1 else
                              neutral[rng.integers(len(neutral))] for t in kind))
    rv = pd.DataFrame({"review_id": np.arange(k), "rating": rating, "text": texts,
                       "label": (rating >= 4).astype(int)})
    rv.loc[rng.random(k) < 0.01, "text"] = np.nan
    rv.to_csv(work / "reviews.csv", index=False)


# ---------------------------------------------------------------------------------- the scripts

#: The shared part of each base pipeline: identical lines in every script of that base.
DIAMONDS = """\
df = pd.read_csv("diamonds.csv")
df["depth"] = df["depth"].fillna(df["depth"].median())
df = df[(df["x"] > 0) & (df["y"] > 0) & (df["z"] > 0)].reset_index(drop=True)
df["volume"] = df["x"] * df["y"] * df["z"]
df["log_carat"] = np.log(df["carat"])
df["log_price"] = np.log(df["price"])
df["cut_code"] = df["cut"].map({"Fair": 0, "Good": 1, "Very Good": 2, "Premium": 3, "Ideal": 4})
"""
DIAMONDS_XY = """\
num = ["carat", "log_carat", "depth", "table", "x", "y", "z", "volume", "cut_code"]
X = pd.get_dummies(df[num + ["color", "clarity"]], columns=["color", "clarity"], dtype=float)
y = df["log_price"].to_numpy()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
"""
CHURN = """\
df = pd.read_csv("churn.csv")
df["total_charges"] = df["total_charges"].fillna(df["monthly_charges"] * df["tenure"])
df["charges_per_month"] = df["total_charges"] / (df["tenure"] + 1)
df["calls_per_year"] = df["support_calls"] / (df["tenure"] / 12 + 1)
df["usage_per_dollar"] = df["usage_gb"] / df["monthly_charges"]
df["region_charges"] = df.groupby("region")["monthly_charges"].transform("mean")
"""
CHURN_XY = """\
num = ["tenure", "monthly_charges", "total_charges", "age", "n_products", "support_calls",
       "usage_gb", "charges_per_month", "calls_per_year", "usage_per_dollar", "region_charges"]
cats = ["contract", "payment", "internet", "region"]
X = pd.get_dummies(df[num + cats], columns=cats, dtype=float)
y = df["churn"].to_numpy()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)
"""
REVIEWS = """\
df = pd.read_csv("reviews.csv")
df["text"] = df["text"].fillna("").str.lower()
df["n_words"] = df["text"].str.split().str.len()
"""
REVIEWS_XY = """\
vec = TfidfVectorizer(min_df=3, ngram_range=(1, 2), sublinear_tf=True)
X = vec.fit_transform(df["text"])
y = df["label"].to_numpy()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
"""

_REG_METRICS = """\
pred = model.predict(X_test)
print("{name}: rmse = %.4f" % np.sqrt(mean_squared_error(y_test, pred)))
print("{name}: r2 = %.4f" % r2_score(y_test, pred))
"""
_CLF_METRICS = """\
pred = model.predict(X_test)
print("{name}: accuracy = %.4f" % accuracy_score(y_test, pred))
print("{name}: f1 = %.4f" % f1_score(y_test, pred))
"""
_AUC = 'print("{name}: auc = %.4f" % roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))\n'
_WIDE = "make_pipeline(StandardScaler(), PolynomialFeatures(degree=2, include_bias=False), {est})"


def _reg(est: str, wide: bool = False, extra: str = "") -> str:
    model = _WIDE.format(est=est) if wide else est
    return f"model = {model}\nmodel.fit(X_train, y_train)\n" + _REG_METRICS + extra


def _clf(est: str, wide: bool = False, auc: bool = True, extra: str = "") -> str:
    model = _WIDE.format(est=est) if wide else est
    return (f"model = {model}\nmodel.fit(X_train, y_train)\n" + _CLF_METRICS
            + (_AUC if auc else "") + extra)


_TOP = """\
top = np.argsort(model.feature_importances_)[::-1][:5]
print("{name}: top features", [X.columns[i] for i in top])
"""
_SAMPLE = ("X_train, y_train, X_test, y_test = "
           "X_train[:{n}], y_train[:{n}], X_test[:{m}], y_test[:{m}]\n")

#: name -> (base, extra imports, body after the base's lines). Names say the model family.
SCRIPTS: dict[str, tuple[str, str, str]] = {
    # --- diamonds: regression
    "d01_hgb": ("d", "from sklearn.ensemble import HistGradientBoostingRegressor",
                _reg("HistGradientBoostingRegressor(max_iter=200, random_state=0)")),
    "d02_hgb_slow": ("d", "from sklearn.ensemble import HistGradientBoostingRegressor",
                     _reg("HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, "
                          "max_leaf_nodes=63, early_stopping=False, random_state=0)")),
    "d03_hgb_l2": ("d", "from sklearn.ensemble import HistGradientBoostingRegressor",
                   _reg("HistGradientBoostingRegressor(max_iter=400, l2_regularization=1.0, "
                        "early_stopping=False, random_state=0)")),
    "d04_rf_all": ("d", "from sklearn.ensemble import RandomForestRegressor",
                   _reg("RandomForestRegressor(n_estimators=40, max_depth=12, n_jobs=-1, "
                        "random_state=0)", extra=_TOP)),
    "d05_rf_2": ("d", "from sklearn.ensemble import RandomForestRegressor",
                 _reg("RandomForestRegressor(n_estimators=30, min_samples_leaf=5, "
                      "max_features=0.5, n_jobs=2, random_state=0)")),
    "d06_enet": ("d", "from sklearn.linear_model import ElasticNet",
                 _reg("ElasticNet(alpha=0.005, l1_ratio=0.5, max_iter=1000)", wide=True)),
    "d07_lasso": ("d", "from sklearn.linear_model import Lasso",
                  _reg("make_pipeline(StandardScaler(), Lasso(alpha=0.0001, max_iter=5000))")),
    "d08_ridge_wide": ("d", "from sklearn.linear_model import Ridge",
                       _reg("Ridge(alpha=1.0)", wide=True)),
    "d09_ridge_alphas": ("d", "from sklearn.linear_model import Ridge", """\
for alpha in [0.1, 1.0, 10.0, 100.0]:
    model = make_pipeline(StandardScaler(), PolynomialFeatures(degree=2, include_bias=False),
                          Ridge(alpha=alpha))
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    print("{name}: alpha=%g rmse = %.4f" % (alpha, np.sqrt(mean_squared_error(y_test, pred))))
"""),
    "d10_pca_linreg": ("d", "from sklearn.decomposition import PCA\n"
                       "from sklearn.linear_model import LinearRegression",
                       _reg("PCA(n_components=40, random_state=0), LinearRegression()",
                            wide=True, extra='print("{name}: explained = %.4f" % model[2]'
                            '.explained_variance_ratio_.sum())\n')),
    "d11_tree": ("d", "from sklearn.tree import DecisionTreeRegressor",
                 _reg("DecisionTreeRegressor(max_depth=10, random_state=0)", extra=_TOP)),
    "d12_knn": ("d", "from sklearn.neighbors import KNeighborsRegressor",
                _SAMPLE.format(n=4000, m=1000)
                + _reg("make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=10))")),
    "d15_hgb_depths": ("d", "from sklearn.ensemble import HistGradientBoostingRegressor", """\
for depth in [3, 6, None]:
    model = HistGradientBoostingRegressor(max_iter=200, max_depth=depth, early_stopping=False,
                                          random_state=0)
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    print("{name}: max_depth=%s rmse = %.4f" % (depth, np.sqrt(mean_squared_error(y_test, pred))))
"""),
    "d16_rf_sqrt": ("d", "from sklearn.ensemble import RandomForestRegressor",
                    _reg("RandomForestRegressor(n_estimators=100, max_features=\"sqrt\", "
                         "min_samples_leaf=3, n_jobs=-1, random_state=0)")),
    "d17_enet_l1_ratios": ("d", "from sklearn.linear_model import ElasticNet", """\
for l1_ratio in [0.2, 0.5, 0.8]:
    model = make_pipeline(StandardScaler(),
                          ElasticNet(alpha=0.0002, l1_ratio=l1_ratio, max_iter=5000))
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    print("{name}: l1_ratio=%.1f r2 = %.4f" % (l1_ratio, r2_score(y_test, pred)))
"""),
    "d13_eda": ("d", "", """\
print(df.shape)
print(df.groupby("cut")["price"].agg(["mean", "median", "count"]).round(2))
print(df.groupby(["color", "clarity"])["price"].mean().unstack().round(0))
print(df["clarity"].value_counts())
"""),
    "d14_eda_describe": ("d", "", """\
print(df.describe().round(3))
print(df[["carat", "depth", "table", "volume", "log_carat", "log_price"]].corr().round(3))
print(df.pivot_table(index="cut", columns="color", values="log_price", aggfunc="mean").round(3))
"""),
    # --- churn: classification
    "c01_hgb": ("c", "from sklearn.ensemble import HistGradientBoostingClassifier",
                _clf("HistGradientBoostingClassifier(max_iter=200, random_state=0)")),
    "c02_hgb_slow": ("c", "from sklearn.ensemble import HistGradientBoostingClassifier",
                     _clf("HistGradientBoostingClassifier(max_iter=500, learning_rate=0.05, "
                          "max_leaf_nodes=15, early_stopping=False, random_state=0)")),
    "c03_hgb_balanced": ("c", "from sklearn.ensemble import HistGradientBoostingClassifier",
                         _clf("HistGradientBoostingClassifier(max_iter=200, "
                              "class_weight=\"balanced\", random_state=0)")),
    "c04_logreg_wide": ("c", "from sklearn.linear_model import LogisticRegression",
                        _clf("LogisticRegression(max_iter=300)", wide=True)),
    "c05_logreg_wide_c": ("c", "from sklearn.linear_model import LogisticRegression",
                          _clf("LogisticRegression(C=0.1, max_iter=300)", wide=True)),
    "c06_liblinear": ("c", "from sklearn.linear_model import LogisticRegression",
                      _clf("make_pipeline(StandardScaler(), "
                           "LogisticRegression(solver=\"liblinear\", C=1.0, random_state=0))")),
    "c07_liblinear_l1": ("c", "from sklearn.linear_model import LogisticRegression",
                         _clf("make_pipeline(StandardScaler(), LogisticRegression("
                              "solver=\"liblinear\", l1_ratio=1.0, C=0.1, random_state=0))")),
    "c08_gnb": ("c", "from sklearn.naive_bayes import GaussianNB", _clf("GaussianNB()")),
    "c09_tree": ("c", "from sklearn.tree import DecisionTreeClassifier",
                 _clf("DecisionTreeClassifier(max_depth=6, random_state=0)", extra=_TOP)),
    "c10_rf": ("c", "from sklearn.ensemble import RandomForestClassifier",
               _clf("RandomForestClassifier(n_estimators=80, max_depth=10, n_jobs=2, "
                    "random_state=0)")),
    "c11_knn": ("c", "from sklearn.neighbors import KNeighborsClassifier",
                _SAMPLE.format(n=4000, m=1000)
                + _clf("make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15))")),
    "c12_kmeans": ("c", "from sklearn.cluster import KMeans", """\
Z = StandardScaler().fit_transform(X)
km = KMeans(n_clusters=10, n_init=20, random_state=0).fit(Z)
print("{name}: inertia = %.2f" % km.inertia_)
print(pd.Series(y).groupby(km.labels_).mean().round(4))
"""),
    "c13_pca_logreg": ("c", "from sklearn.decomposition import PCA\n"
                       "from sklearn.linear_model import LogisticRegression",
                       _clf("PCA(n_components=60, random_state=0), "
                            "LogisticRegression(max_iter=500)", wide=True)),
    "c15_kmeans_elbow": ("c", "from sklearn.cluster import KMeans", """\
Z = StandardScaler().fit_transform(X)
for k in [4, 6, 8, 10, 12]:
    km = KMeans(n_clusters=k, n_init=5, random_state=0).fit(Z)
    print("{name}: k=%d inertia = %.2f" % (k, km.inertia_))
"""),
    "c16_hgb_lr_sweep": ("c", "from sklearn.ensemble import HistGradientBoostingClassifier", """\
for lr in [0.03, 0.1, 0.3]:
    model = HistGradientBoostingClassifier(learning_rate=lr, max_iter=200, early_stopping=False,
                                           random_state=0)
    model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    print("{name}: lr=%.2f auc = %.4f" % (lr, roc_auc_score(y_test, proba)))
"""),
    "c14_eda": ("c", "", """\
print(df.shape)
print(df.groupby("contract")["churn"].mean().round(4))
print(df.groupby(["payment", "internet"])["churn"].agg(["mean", "count"]).round(4))
print(df.describe().round(2))
"""),
    # --- reviews: text classification
    "r01_tfidf_liblinear": ("r", "from sklearn.linear_model import LogisticRegression",
                            _clf("LogisticRegression(solver=\"liblinear\", C=1.0, "
                                 "random_state=0)")),
    "r02_tfidf_liblinear_c4": ("r", "from sklearn.linear_model import LogisticRegression",
                               _clf("LogisticRegression(solver=\"liblinear\", C=4.0, "
                                    "random_state=0)")),
    "r03_tfidf_svc": ("r", "from sklearn.svm import LinearSVC",
                      _clf("LinearSVC(C=0.5, random_state=0)", auc=False)),
    "r04_tfidf_nb": ("r", "from sklearn.naive_bayes import MultinomialNB",
                     _clf("MultinomialNB(alpha=0.5)")),
    "r05_tfidf_sgd": ("r", "from sklearn.linear_model import SGDClassifier",
                      _clf("SGDClassifier(loss=\"log_loss\", alpha=1e-5, random_state=0)")),
    "r06_svd_kmeans": ("r", "from sklearn.cluster import KMeans\n"
                       "from sklearn.decomposition import TruncatedSVD", """\
Z = TruncatedSVD(n_components=50, random_state=0).fit_transform(X)
km = KMeans(n_clusters=6, n_init=10, random_state=0).fit(Z)
print("{name}: inertia = %.4f" % km.inertia_)
print(pd.Series(y).groupby(km.labels_).agg(["mean", "count"]).round(4))
"""),
    "r08_tfidf_lbfgs": ("r", "from sklearn.linear_model import LogisticRegression",
                        _clf("LogisticRegression(C=2.0, max_iter=500)")),
    "r07_eda": ("r", "", """\
print(df["rating"].value_counts().sort_index())
print(df.groupby("rating")["n_words"].describe().round(2))
print(df["text"].str.split().explode().value_counts().head(15))
"""),
}
#: ``--scripts N`` takes the first N of this order (``--quick``: 8): any prefix is a mix.
ORDER = ["d01_hgb", "c06_liblinear", "r01_tfidf_liblinear", "c12_kmeans", "d08_ridge_wide",
         "d13_eda", "c04_logreg_wide", "d06_enet"]
ORDER += [k for k in SCRIPTS if k not in ORDER]

_BASES = {"d": (DIAMONDS, DIAMONDS_XY), "c": (CHURN, CHURN_XY), "r": (REVIEWS, REVIEWS_XY)}
_IMPORTS = {
    "d": "from sklearn.metrics import mean_squared_error, r2_score",
    "c": "from sklearn.metrics import accuracy_score, f1_score, roc_auc_score",
    "r": "from sklearn.feature_extraction.text import TfidfVectorizer\n"
         "from sklearn.metrics import accuracy_score, f1_score, roc_auc_score",
}


def script_text(name: str) -> str:
    base, imports, body = SCRIPTS[name]
    shared, xy = _BASES[base]
    eda = name.endswith(("_eda", "_eda_describe"))
    head = ["import numpy as np", "import pandas as pd"]
    if not eda:
        head += ["from sklearn.model_selection import train_test_split", _IMPORTS[base]]
        if base in "dc":
            head.append("from sklearn.pipeline import make_pipeline\n"
                        "from sklearn.preprocessing import PolynomialFeatures, StandardScaler")
    if imports:
        head.append(imports)
    return ("\n".join(head) + "\n\n" + shared + ("" if eda else xy)
            + body.replace("{name}", name))


def write_scripts(work: Path, names) -> list[str]:
    files = []
    for name in names:
        (work / f"{name}.py").write_text(script_text(name))
        files.append(f"{name}.py")
    return files


#: ``--pair``: the two heavy scripts (different tables: nothing shared, only the thread pools
#: meet). ``[[big|quick]]``: the default size's setting, and ``--quick``'s (CI: a light run).
PAIR = {
    "hgb": ("c", "from sklearn.ensemble import HistGradientBoostingClassifier",
            _clf("HistGradientBoostingClassifier(max_iter=[[500|100]], max_leaf_nodes=63, "
                 "early_stopping=False, random_state=0)")),
    "kmeans": ("d", "from sklearn.cluster import KMeans", """\
Z = StandardScaler().fit_transform(X)
km = KMeans(n_clusters=24, n_init=[[20|4]], random_state=0).fit(Z)
print("{name}: inertia = %.2f" % km.inertia_)
print(pd.Series(y).groupby(km.labels_).mean().round(4))
"""),
    "elasticnet": ("d", "from sklearn.linear_model import ElasticNet",
                   _reg("ElasticNet(alpha=[[0.004|0.02]], l1_ratio=0.5, max_iter=1000)",
                        wide=True)),
}


def pair_text(name: str, quick: bool) -> str:
    import re

    SCRIPTS[f"pair_{name}"] = PAIR[name]
    try:
        text = script_text(f"pair_{name}")
    finally:
        del SCRIPTS[f"pair_{name}"]
    return re.sub(r"\[\[([^|\]]*)\|([^\]]*)\]\]", r"\2" if quick else r"\1", text)


# ---------------------------------------------------------------------------------- running


def _cpu() -> float:
    """User + sys seconds of the waited-for children so far (theirs and their children's)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, cwd, env) -> tuple[float, float, subprocess.CompletedProcess]:
    c0, t0 = _cpu(), time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=TIMEOUT)
    return time.perf_counter() - t0, _cpu() - c0, p


def plain_batch(work, scripts, env) -> tuple[float, float, dict, dict]:
    """Every script with plain python, one after the other: wall, cpu, outputs, per-script wall."""
    outs, each = {}, {}
    c0, t0 = _cpu(), time.perf_counter()
    for s in scripts:
        seconds, _, p = timed([sys.executable, s], work, env)
        each[s] = seconds
        outs[s] = difftest.Result(p.stdout, p.stderr, p.returncode, mode="plain")
    return time.perf_counter() - t0, _cpu() - c0, outs, each


def stratum_batch(work, scripts, env, jobs, out) -> tuple[float, float, list]:
    if out.exists():
        shutil.rmtree(out)
    seconds, cpu, p = timed([sys.executable, "-m", "stratum", "run", "--jobs", str(jobs),
                             "--out", str(out), *scripts], work, env)
    if not (out / "summary.json").exists():
        raise SystemExit(f"batch failed (exit {p.returncode}):\n{p.stderr.decode()}")
    return seconds, cpu, json.loads((out / "summary.json").read_text())


def batch_results(rows) -> dict:
    return {r["script"]: difftest.Result(Path(r["stdout"]).read_bytes(),
                                         Path(r["stderr"]).read_bytes(), r["exit_code"])
            for r in rows}


def differences(label: str, got: dict, plain: dict) -> list[str]:
    """Each script's differences from its plain run, as readable text (empty: identical)."""
    problems = []
    for script, ref in plain.items():
        if script not in got:
            problems.append(f"{script} ({label}): no result")
            continue
        for p in difftest.compare(ref, got[script], "plain", label):
            problems.append(f"{script} ({label}): {p}")
    return problems


def report_differences(problems: list[str]) -> None:
    for p in problems:
        print("OUTPUT DIFFERS: " + p.replace("\n", "\n    "), flush=True)


def distinct_cost(cache: Path, run_ids) -> dict:
    """The work the batch needs: top-level nodes' wall (and, when the store has the column, CPU)
    seconds, counting each key once (a key's executed nodes: their maximum; reused: 0)."""
    db = sqlite3.connect(Path(cache) / "traces.db", timeout=30)
    try:
        have = {row[1] for row in db.execute("PRAGMA table_info(nodes)")}
        cpu_col = "cpu" in have
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        nodes = 0
        for run_id in run_ids:
            rows = db.execute(
                f"SELECT seq, key, seconds, reused, {'cpu' if cpu_col else 'NULL'} FROM nodes "
                "WHERE run_id=? AND parent IS NULL", (run_id,)).fetchall()
            for seq, key, seconds, reused, cpu_s in rows:
                nodes += 1
                key = key or f"{run_id}:{seq}"
                if reused:
                    wall.setdefault(key, 0.0)
                    cpu.setdefault(key, 0.0)
                else:
                    wall[key] = max(wall.get(key, 0.0), seconds or 0.0)
                    cpu[key] = max(cpu.get(key, 0.0), cpu_s or 0.0)
    finally:
        db.close()
    return {"wall": sum(wall.values()), "cpu": sum(cpu.values()) if cpu_col else None,
            "distinct": len(wall), "nodes": nodes}


IMPORTS = ("numpy, pandas, sklearn.model_selection, sklearn.metrics, sklearn.pipeline, "
           "sklearn.preprocessing, sklearn.ensemble, sklearn.linear_model, sklearn.tree, "
           "sklearn.neighbors, sklearn.naive_bayes, sklearn.cluster, sklearn.decomposition, "
           "sklearn.svm, sklearn.feature_extraction.text")


def import_seconds(env, work) -> float:
    cmd = [sys.executable, "-c", f"import {IMPORTS}"]
    return statistics.median(timed(cmd, work, env)[0] for _ in range(3))


def stratum_envs(cache: Path, pool: Path | None) -> tuple[dict, dict]:
    """(budget on, budget off) environments on ``cache``, the token pool in ``pool`` (None: the
    machine's). "On" is stratum's default unless the caller set another non-zero
    ``STRATUM_CPU_BUDGET`` (kept: a setting to try)."""
    on = difftest.build_env("stratum", cache)
    if on.get(BUDGET, "").strip() in ("", "0"):
        on.pop(BUDGET, None)
    if pool is not None:
        on["STRATUM_CPU_DIR"] = os.fspath(pool)
    return on, dict(on, **{BUDGET: "0"})


def token_pool(ns, base: Path) -> Path | None:
    """The budget's token pool for this benchmark: its own (other stratum processes on a
    shared machine, e.g. a test suite, take no tokens from it), or with ``--machine-pool``
    the default one every stratum process of the user shares."""
    return None if ns.machine_pool else base / "cpu-pool"


def _fmt(x, spec=".2f", unit="") -> str:
    return "n/a" if x is None else format(x, spec) + unit


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def finish(ns, doc: dict, base: Path, problems: list[str]) -> int:
    if problems:
        print(f"\n{len(problems)} output difference(s) from plain python (see above)")
    if ns.json:
        doc.update(args=vars(ns), differences=problems)
        Path(ns.json).write_text(json.dumps(doc, indent=1) + "\n")
    if not ns.keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"kept {base}")
    return 1 if problems else 0


def medians(figures: dict) -> dict:
    return {k: (statistics.median(v) if v and None not in v else None)
            for k, v in figures.items()}


# ---------------------------------------------------------------------------------- the batch


def _new_work(kind: str, rows: int) -> tuple[int, Path, Path]:
    """(cores, a fresh temporary folder, its work/ folder holding the generated tables)."""
    base = Path(tempfile.mkdtemp(prefix=f"stratum-bench-{kind}-"))
    work = base / "work"
    work.mkdir()
    write_data(work, rows)
    return len(os.sched_getaffinity(0)), base, work


def mix(ns, argv) -> int:
    cores, base, work = _new_work("cpumix", ns.rows)
    scripts = write_scripts(work, ORDER[:ns.scripts])
    plain_env = difftest.build_env("plain", None)
    print(f"{len(scripts)} scripts, {ns.rows} rows, --jobs {ns.jobs}, {cores} cores, "
          f"load {_load()}", flush=True)
    keys = ("plain", "on", "off", "plain_cpu", "on_cpu", "off_cpu", "limit", "limit_cpu",
            "node_wall", "node_cpu", "distinct_nodes", "nodes", "import", "load")
    figures: dict[str, list] = {k: [] for k in keys}
    per_script: dict[str, list] = {s: [] for s in scripts}
    problems: list[str] = []
    plain_ref = None
    for rep in range(ns.repeat):
        order = ["plain", "on", "off"]
        order = order[rep % 3:] + order[:rep % 3]
        if rep % 2:
            order.reverse()
        figures["load"].append(os.getloadavg()[0])
        got = {}
        for mode in order:
            if mode == "plain":
                wall, cpu, outs, each = plain_batch(work, scripts, plain_env)
                bad = {s: r for s, r in outs.items() if r.exit_code != 0}
                if bad:  # the benchmark's own scripts must run
                    s, r = next(iter(bad.items()))
                    raise SystemExit(f"{s} failed under plain python:\n{r.stderr.decode()}")
                if plain_ref is None:
                    plain_ref = outs
                else:  # plain python itself must be deterministic
                    now = differences(f"plain, repeat {rep + 1}", outs, plain_ref)
                    report_differences(now)
                    problems += now
                for s, t in each.items():
                    per_script[s].append(t)
            else:
                cache = base / f"cache-{mode}-{rep}"
                env = stratum_envs(cache, token_pool(ns, base))[mode == "off"]
                wall, cpu, rows = stratum_batch(work, scripts, env, ns.jobs, base / "out")
                got[mode + "_outs"] = batch_results(rows)
                if mode == "on":
                    cost = distinct_cost(cache, [r["run_id"] for r in rows])
                shutil.rmtree(cache, ignore_errors=True)
            got[mode], got[mode + "_cpu"] = wall, cpu
        for mode in ("on", "off"):  # checked once the plain outputs exist
            problems_now = differences(f"{mode}, repeat {rep + 1}", got[mode + "_outs"],
                                       plain_ref)
            report_differences(problems_now)
            problems += problems_now
        imp = import_seconds(plain_env, work)
        got.update(limit=cost["wall"] / cores + imp, node_wall=cost["wall"],
                   node_cpu=cost["cpu"], distinct_nodes=cost["distinct"],
                   nodes=cost["nodes"], limit_cpu=None if cost["cpu"] is None
                   else cost["cpu"] / cores + imp)
        got["import"] = imp
        for k in keys:
            if k != "load":
                figures[k].append(got[k])
        print(f"repeat {rep + 1} ({' '.join(order)}; load {_load()}): plain {got['plain']:.2f}s "
              f"(cpu {got['plain_cpu']:.1f}s)  on {got['on']:.2f}s (cpu {got['on_cpu']:.1f}s)  "
              f"off {got['off']:.2f}s (cpu {got['off_cpu']:.1f}s)  limit {got['limit']:.2f}s "
              f"(distinct node wall {cost['wall']:.2f}s, cpu {_fmt(cost['cpu'], unit='s')} / "
              f"{cores} cores + import {imp:.2f}s)", flush=True)
    med = medians(figures)
    if ns.verbose:
        print("\n| script | plain s (median) |\n|---|---:|")
        for s, ts in per_script.items():
            print(f"| {s} | {statistics.median(ts):.2f} |")
    cmd = "python bench/cpu_mix.py " + " ".join(argv)
    print(f"\n{cmd}\n{len(scripts)} scripts, {ns.rows} rows, --jobs {ns.jobs}, {cores} cores, "
          f"medians of {ns.repeat}, load average {ns.load0:.2f} before the first run (the "
          f"benchmark's own runs keep about {cores} cores busy; at the repeats' starts: median "
          f"{med['load']:.2f})")
    print("| run | seconds | plain / this | CPU seconds |\n|---|---:|---:|---:|")
    for k, label in (("plain", "plain python, one after the other"),
                     ("on", f"stratum run --jobs {ns.jobs}, empty cache, CPU budget on"),
                     ("off", f"stratum run --jobs {ns.jobs}, empty cache, {BUDGET}=0")):
        print(f"| {label} | {med[k]:.2f} | {med['plain'] / med[k]:.2f}x | {med[k + '_cpu']:.1f} |")
    print(f"| limit: distinct node wall / cores + one import | {med['limit']:.2f} | "
          f"{med['plain'] / med['limit']:.2f}x | |")
    lim_cpu = med["limit_cpu"]
    print(f"| limit: distinct node CPU / cores + one import | {_fmt(lim_cpu)} | "
          f"{'n/a' if lim_cpu is None else format(med['plain'] / lim_cpu, '.2f') + 'x'} | |")
    print(f"budget on / off: {med['on'] / med['off']:.2f} (wall), "
          f"{med['on_cpu'] / med['off_cpu']:.2f} (CPU); nodes: {med['nodes']:.0f} top-level, "
          f"{med['distinct_nodes']:.0f} distinct keys, their wall {med['node_wall']:.2f}s, "
          f"CPU {_fmt(med['node_cpu'], unit='s')}; one import of the libraries "
          f"{med['import']:.2f}s")
    doc = {"figures": figures, "medians": med, "per_script_plain": per_script,
           "cores": cores, "scripts": scripts}
    return finish(ns, doc, base, problems)


# ---------------------------------------------------------------------------------- the pair


def together(cmds, cwd, env_of, outdir: Path) -> tuple[float, float, dict, dict]:
    """Start every (name, cmd) at once: wall until the last ends, CPU of all, their outputs,
    each one's wall."""
    import threading

    outdir.mkdir(parents=True, exist_ok=True)
    envs = {name: env_of(name) for name, _ in cmds}
    files = {name: (open(outdir / f"{name}.stdout", "wb"), open(outdir / f"{name}.stderr", "wb"))
             for name, _ in cmds}
    codes: dict = {}
    each: dict = {}

    def wait(name, p, t0):
        try:
            codes[name] = p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        each[name] = time.perf_counter() - t0

    c0, t0 = _cpu(), time.perf_counter()
    threads = []
    for name, cmd in cmds:
        out, err = files[name]
        p = subprocess.Popen(cmd, cwd=cwd, env=envs[name], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err)
        threads.append(threading.Thread(target=wait, args=(name, p, t0)))
        threads[-1].start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    for out, err in files.values():
        out.close()
        err.close()
    if len(codes) != len(cmds):
        raise SystemExit(f"a process of {[c for _, c in cmds]} did not end")
    results = {name: difftest.Result((outdir / f"{name}.stdout").read_bytes(),
                                     (outdir / f"{name}.stderr").read_bytes(), code)
               for name, code in codes.items()}
    return wall, cpu, results, each


def pair(ns, argv) -> int:
    cores, base, work = _new_work("cpupair", ns.rows)
    scripts = []
    for name in ("hgb", ns.pair_with):
        (work / f"pair_{name}.py").write_text(pair_text(name, ns.quick))
        scripts.append(f"pair_{name}.py")
    plain_env = difftest.build_env("plain", None)
    print(f"pair {' + '.join(scripts)}, {ns.rows} rows, {cores} cores, "
          f"{'separate caches' if ns.separate_caches else 'one cache dir'}, load {_load()}",
          flush=True)
    modes = ["seq", "plain", "on", "off"]
    labels = {"seq": "plain python, one after the other",
              "plain": "plain python, started together",
              "on": "python -m stratum each, started together, CPU budget on",
              "off": f"python -m stratum each, started together, {BUDGET}=0"}
    figures: dict[str, list] = {k: [] for m in modes for k in (m, m + "_cpu")}
    figures.update({f"{m}:{s}": [] for m in modes for s in scripts}, load=[])
    problems: list[str] = []
    ref = None
    for rep in range(ns.repeat):
        order = modes[rep % 4:] + modes[:rep % 4]
        if rep % 2:
            order.reverse()
        figures["load"].append(os.getloadavg()[0])
        got, outs = {}, {}
        for mode in order:
            if mode == "seq":
                wall, cpu, res, each = plain_batch(work, scripts, plain_env)
            elif mode == "plain":
                wall, cpu, res, each = together(
                    [(s, [sys.executable, s]) for s in scripts], work, lambda s: plain_env,
                    base / "out" / f"{mode}{rep}")
            else:
                def env_of(s, mode=mode):
                    cache = base / f"cache-{mode}-{rep}"
                    if ns.separate_caches:
                        cache = cache / Path(s).stem
                    cache.mkdir(parents=True, exist_ok=True)
                    return stratum_envs(cache, token_pool(ns, base))[mode == "off"]
                wall, cpu, res, each = together(
                    [(s, [sys.executable, "-m", "stratum", s]) for s in scripts], work, env_of,
                    base / "out" / f"{mode}{rep}")
            got[mode], got[mode + "_cpu"], outs[mode] = wall, cpu, res
            for s, t in each.items():
                got[f"{mode}:{s}"] = t
        if ref is None:
            bad = {s: r for s, r in outs["seq"].items() if r.exit_code != 0}
            if bad:
                s, r = next(iter(bad.items()))
                raise SystemExit(f"{s} failed under plain python:\n{r.stderr.decode()}")
            ref = outs["seq"]
        for mode in order:
            now = differences(f"{mode}, repeat {rep + 1}", outs[mode], ref)
            report_differences(now)
            problems += now
        for k, v in got.items():
            figures[k].append(v)
        print(f"repeat {rep + 1} (load {_load()}): " + "  ".join(
            f"{m} {got[m]:.2f}s (cpu {got[m + '_cpu']:.1f}s; "
            + ", ".join(f"{Path(s).stem} {got[f'{m}:{s}']:.2f}s" for s in scripts) + ")"
            for m in order), flush=True)
    med = medians(figures)
    cmd = "python bench/cpu_mix.py " + " ".join(argv)
    each = ", ".join(f"{s} {med['seq:' + s]:.2f}s" for s in scripts)
    print(f"\n{cmd}\n{' + '.join(scripts)} (alone, plain: {each}), {ns.rows} rows, {cores} "
          f"cores, {'separate caches' if ns.separate_caches else 'one empty cache dir'}, "
          f"medians of {ns.repeat}, load average {ns.load0:.2f} before the first run (the "
          f"benchmark's own runs keep about {cores} cores busy; at the repeats' starts: median "
          f"{med['load']:.2f})")
    print("| run | seconds | sequential / this | together plain / this | CPU seconds | "
          "each script's seconds |\n|---|---:|---:|---:|---:|---|")
    for m in modes:
        each = ", ".join(f"{med[f'{m}:{s}']:.2f}" for s in scripts)
        print(f"| {labels[m]} | {med[m]:.2f} | {med['seq'] / med[m]:.2f}x | "
              f"{med['plain'] / med[m]:.2f}x | {med[m + '_cpu']:.1f} | {each} |")
    print(f"budget on / off: {med['on'] / med['off']:.2f} (wall), "
          f"{med['on_cpu'] / med['off_cpu']:.2f} (CPU)")
    doc = {"figures": figures, "medians": med, "cores": cores, "scripts": scripts}
    return finish(ns, doc, base, problems)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="8 scripts, 6,000 rows, 1 repeat (CI); --pair: 6,000 rows")
    ap.add_argument("--scripts", type=int, default=len(ORDER), help="the first N of the batch")
    ap.add_argument("--rows", type=int, default=50_000,
                    help="diamonds rows (churn 4/5, reviews 1/4)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--verbose", action="store_true", help="per-script plain seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data, scripts)")
    ap.add_argument("--pair", action="store_true",
                    help="two heavy scripts started together, plain vs stratum")
    ap.add_argument("--pair-with", choices=("kmeans", "elasticnet"), default="kmeans")
    ap.add_argument("--separate-caches", action="store_true",
                    help="--pair: each stratum process its own empty cache dir")
    ap.add_argument("--machine-pool", action="store_true",
                    help="the budget's default machine-wide token pool, not one of its own")
    ns = ap.parse_args(argv)
    ns.load0 = os.getloadavg()[0]  # before the benchmark's own work
    if ns.quick:
        ns.scripts, ns.rows, ns.repeat = 8, 6000, 1
    ns.scripts = max(1, min(ns.scripts, len(ORDER)))
    return pair(ns, argv) if ns.pair else mix(ns, argv)


if __name__ == "__main__":
    sys.exit(main())
