# Clustering sweep: KMeans over k, DBSCAN over eps, Agglomerative over linkages.
import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/flowers.csv")
features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
X = StandardScaler().fit_transform(df[features])
truth = df["species"].astype("category").cat.codes.to_numpy()
print(f"X shape: {X.shape}, classes: {len(np.unique(truth))}")


def summarize(name, labels):
    n_clusters = len(set(labels)) - (1 if -1 in labels else 0)
    noise = int((labels == -1).sum())
    sil = silhouette_score(X, labels) if 1 < n_clusters < len(X) else float("nan")
    ari = adjusted_rand_score(truth, labels)
    return {"model": name, "clusters": n_clusters, "noise": noise, "silhouette": sil, "ari": ari}


results = []
inertias = {}
for k in range(2, 7):
    km = KMeans(n_clusters=k, n_init=4, random_state=0)
    labels = km.fit_predict(X)
    inertias[k] = km.inertia_
    results.append(summarize(f"kmeans_k{k}", labels))
    print(f"k={k}: inertia={km.inertia_:.3f} iters={km.n_iter_}")

drops = {k: inertias[k - 1] - inertias[k] for k in range(3, 7)}
print("inertia drops:", {k: round(v, 2) for k, v in drops.items()})

for eps in [0.3, 0.5, 0.8]:
    db = DBSCAN(eps=eps, min_samples=5).fit(X)
    results.append(summarize(f"dbscan_eps{eps}", db.labels_))
    print(f"eps={eps}: core samples={len(db.core_sample_indices_)}")

for linkage in ["ward", "complete", "average", "single"]:
    agg = AgglomerativeClustering(n_clusters=3, linkage=linkage)
    labels = agg.fit_predict(X)
    results.append(summarize(f"agglo_{linkage}", labels))
    print(f"{linkage:8s} sizes={np.bincount(labels).tolist()} leaves={agg.n_leaves_}")

table = pd.DataFrame(results).sort_values("ari", ascending=False).reset_index(drop=True)
print(table.round(4).to_string())
best = table.iloc[0]
print(f"best by ARI: {best['model']} ({best['ari']:.4f})")
km3 = KMeans(n_clusters=3, n_init=5, random_state=1).fit(X)
centers = pd.DataFrame(km3.cluster_centers_, columns=features).round(3)
print(centers.sort_values("petal_length").to_string(index=False))
print(pd.crosstab(truth, km3.labels_))
