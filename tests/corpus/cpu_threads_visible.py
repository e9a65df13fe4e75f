"""Multi-threaded library calls under the CPU budget: same bits, same visible environment.

HistGradientBoosting and KMeans run OpenMP loops, a forest uses joblib threads (n_jobs=2), a
large product goes through OpenBLAS: stratum takes CPU tokens around each, which must change
neither a result's bits nor what the script can see of threads and cores.
"""
import hashlib
import os

import numpy as np
import threadpoolctl
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


rng = np.random.default_rng(7)
X = rng.normal(size=(6000, 12))
y = X[:, 0] * 2.0 - X[:, 3] + rng.normal(scale=0.3, size=6000)

hgb = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(X, y)
print("hgb", digest(hgb.predict(X)), round(float(hgb.score(X, y)), 6))

km = KMeans(n_clusters=5, n_init=3, random_state=0).fit(X)
print("kmeans", digest(km.cluster_centers_), round(float(km.inertia_), 4))

rf = RandomForestClassifier(n_estimators=30, n_jobs=2, random_state=0).fit(X, y > 0)
print("forest", digest(rf.predict_proba(X)))

G = X.T @ X
print("gram", digest(G), digest(np.linalg.inv(G + np.eye(12))))

print("cpu_count", os.cpu_count(), "affinity", len(os.sched_getaffinity(0)))
print("thread settings", sorted(k for k in os.environ
                                if k.startswith(("OMP_", "GOMP_", "OPENBLAS_", "MKL_", "STRATUM_CPU"))))
print("pools", sorted((p["user_api"], p["internal_api"], p["num_threads"])
                      for p in threadpoolctl.threadpool_info()))
