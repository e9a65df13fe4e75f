"""How many cores a library operation will keep busy: the tokens it takes from the budget.

Two sources, the measured one first:

- **history**: every traced operation records its CPU seconds next to its wall seconds
  (``Node.cpu``), so the merged graph knows what each key, and each operation at each call
  site, kept busy on average (CPU / wall). A key seen before is predicted by its own past; a
  call site seen before (the same line after an edit of a hyper-parameter) bounds it from
  below. :class:`History` reads them once per process from ``traces.db``.
- **the library**: what scikit-learn and numpy are known to do before anything was measured.
  Estimators whose Cython code runs OpenMP ``prange`` loops (``HistGradientBoosting*``, the
  k-means family, nearest-neighbour queries) use one thread per core; ``n_jobs`` says how many
  workers joblib starts (``-1``: one per core); estimators and numpy functions built on BLAS
  level-3 calls use OpenBLAS's threads once the data is large enough for OpenBLAS to split it.

A prediction is only ever a count of tokens: it decides when an operation runs, never how
many threads it starts, so a wrong prediction costs time, not a different result.
"""
from __future__ import annotations

import math
import os
import sqlite3

#: scikit-learn estimators whose fit / predict run OpenMP loops over every core.
OPENMP_ESTIMATORS = frozenset({
    "HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "KMeans",
    "MiniBatchKMeans", "BisectingKMeans", "KNeighborsClassifier", "KNeighborsRegressor",
    "KNeighborsTransformer", "RadiusNeighborsClassifier", "RadiusNeighborsRegressor",
    "RadiusNeighborsTransformer", "NearestNeighbors", "NearestCentroid", "LocalOutlierFactor",
    "TSNE", "DBSCAN", "OPTICS", "Isomap", "SpectralEmbedding", "LabelPropagation",
    "LabelSpreading", "SilhouetteScore",
})
#: Estimators doing most of their work in BLAS (matrix products, factorizations): OpenBLAS
#: splits the work over its threads once the data is large.
BLAS_ESTIMATORS = frozenset({
    "LinearRegression", "Ridge", "RidgeCV", "RidgeClassifier", "RidgeClassifierCV",
    "LogisticRegression", "LogisticRegressionCV", "ElasticNet", "ElasticNetCV", "Lasso",
    "LassoCV", "LassoLars", "Lars", "OrthogonalMatchingPursuit", "BayesianRidge", "ARDRegression",
    "PCA", "IncrementalPCA", "KernelPCA", "TruncatedSVD", "FactorAnalysis", "FastICA", "NMF",
    "LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis", "GaussianMixture",
    "BayesianGaussianMixture", "MLPClassifier", "MLPRegressor", "KernelRidge",
    "GaussianProcessRegressor", "GaussianProcessClassifier", "Nystroem", "PLSRegression",
    "CCA", "SpectralClustering", "MultiTaskElasticNet", "MultiTaskLasso", "HuberRegressor",
    "PoissonRegressor", "GammaRegressor", "TweedieRegressor", "QuantileRegressor",
})
#: numpy / operator functions that call BLAS level 3 (or LAPACK) on their whole input.
BLAS_FUNCTIONS = frozenset({
    "operator.matmul", "numpy.dot", "numpy.matmul", "numpy.inner", "numpy.tensordot",
    "numpy.einsum", "numpy.cov", "numpy.corrcoef",
})
#: Input elements from which OpenBLAS runs a product on more than one thread (its own
#: thresholds are around 65k multiply-adds for gemm; a fit repeats many such products).
BLAS_SIZE = 100_000
#: CPU / wall above which an operation counts as using more than one core.
PARALLEL_RATIO = 1.25
#: Nodes cheaper than this on average are not read from the history (most nodes are: a
#: store of many runs holds tens of thousands); an unknown key is predicted like a new one.
CHEAP = 0.002


def cores_from_ratio(ratio: float, cores: int) -> int:
    """Tokens for an operation that kept ``ratio`` cores busy on average."""
    if ratio < PARALLEL_RATIO:
        return 1
    return max(1, min(cores, math.ceil(ratio - 0.1)))


def _effective_jobs(n_jobs, cores: int) -> int:
    if n_jobs is None or isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
        return 1
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return max(1, min(n_jobs, cores))


def _size(v) -> int:
    shape = getattr(v, "shape", None)
    if isinstance(shape, tuple) and shape and all(isinstance(s, int) for s in shape):
        n = 1
        for s in shape:
            n *= s
        return n
    return 0


def _estimators(root, depth: int = 0):
    """The estimator ``root`` and those nested in its parameters (pipelines, searches)."""
    yield root
    if depth > 3:
        return
    try:
        params = root.get_params(deep=False)
    except Exception:  # noqa: BLE001 - an estimator whose parameters cannot be read
        return
    for v in params.values():
        if hasattr(v, "get_params") and not isinstance(v, type):
            yield from _estimators(v, depth + 1)
        elif isinstance(v, (list, tuple)):
            for item in v:  # Pipeline.steps, ColumnTransformer.transformers: (name, est, ...)
                parts = item if isinstance(item, tuple) else (item,)
                for part in parts:
                    if hasattr(part, "get_params") and not isinstance(part, type):
                        yield from _estimators(part, depth + 1)


def library_cores(name: str, args, kwargs, recv, cores: int, sklearn_rules: bool) -> int:
    """What the library is known to use for this call, before any measurement."""
    data = max((_size(v) for v in (*args[:3], *kwargs.values())), default=0)
    if name in BLAS_FUNCTIONS:
        return cores if data >= BLAS_SIZE else 1
    if not sklearn_rules:
        return 1
    k = _effective_jobs(kwargs.get("n_jobs"), cores)
    roots = [v for v in (recv, *args[:1]) if hasattr(v, "get_params") and not isinstance(v, type)]
    for root in roots:
        for est in _estimators(root):
            cls = type(est).__name__
            if cls in OPENMP_ESTIMATORS:
                return cores
            if cls in BLAS_ESTIMATORS and data >= BLAS_SIZE:
                k = cores
            n_jobs = getattr(est, "n_jobs", None)
            k = max(k, _effective_jobs(n_jobs, cores))
    return min(k, cores)


class History:
    """Measured cores per key and per (operation, call site), read once from ``traces.db``."""

    def __init__(self, cache_dir, cores: int):
        self.cores = cores
        self.by_key: dict[str, tuple[float, float]] = {}  # key -> (mean wall s, cores)
        self.by_site: dict[tuple[str, str], float] = {}  # (op, site) -> cores
        path = os.path.join(os.fspath(cache_dir), "traces.db") if cache_dir else None
        if path and os.path.exists(path):
            try:
                self._load(path)
            except sqlite3.Error:  # no history (an old store, a busy or damaged one)
                self.by_key.clear()
                self.by_site.clear()

    def _load(self, path: str) -> None:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            have = {row[1] for row in db.execute("PRAGMA table_info(merged_nodes)")}
            if "cpu" not in have:
                return
            for key, op, site, seconds, cpu, execs in db.execute(
                    "SELECT key, op, site, seconds, cpu, executions FROM merged_nodes"
                    " WHERE key IS NOT NULL AND executions > 0 AND cpu IS NOT NULL"
                    " AND seconds >= ? * executions", (CHEAP,)):
                ratio = cpu / seconds if seconds > 0 else 1.0
                self.by_key[key] = (seconds / execs, ratio)
                if seconds / execs >= 0.01:
                    prev = self.by_site.get((op, site), 0.0)
                    self.by_site[(op, site)] = max(prev, ratio)
        finally:
            db.close()

    def predict(self, key, op: str, site: str, library: int) -> tuple[int, float | None]:
        """(tokens, predicted wall seconds or None) for one call."""
        past = self.by_key.get(key) if key is not None else None
        if past is not None:
            # its own past (cheap keys are not loaded: they fall through to the site / library)
            return cores_from_ratio(past[1], self.cores), past[0]
        ratio = self.by_site.get((op, site))
        if ratio is not None:
            return max(library, cores_from_ratio(ratio, self.cores)), None
        return library, None
