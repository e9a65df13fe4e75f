"""
Controlling randomness with RandomState instances
=================================================

Passing the same ``RandomState`` object to several estimators: each fit consumes the
shared generator, so repeated fits give different models.
"""
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_wine, make_blobs
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

X, _ = make_blobs(n_samples=300, centers=4, cluster_std=2.5, random_state=np.random.RandomState(7))
rng = np.random.RandomState(0)
for i in range(3):
    km = KMeans(n_clusters=4, n_init=1, random_state=rng).fit(X)
    print(f"KMeans fit {i}: inertia={km.inertia_:.3f}, n_iter={km.n_iter_}")

km_a = KMeans(n_clusters=4, n_init=1, random_state=np.random.RandomState(1)).fit(X)
km_b = KMeans(n_clusters=4, n_init=1, random_state=np.random.RandomState(1)).fit(X)
print("fresh RandomState(1) twice equal:", np.allclose(km_a.cluster_centers_, km_b.cluster_centers_))

wine = load_wine()
shared = np.random.RandomState(42)
forest = RandomForestClassifier(n_estimators=20, max_depth=3, random_state=shared)
for i in range(3):
    forest.fit(wine.data, wine.target)
    imp = np.round(forest.feature_importances_[:3], 4)
    print(f"forest fit {i}: oob-free train acc={forest.score(wine.data, wine.target):.4f}, imp={imp}")
print("state after fits:", shared.randint(1000))

scores = cross_val_score(RandomForestClassifier(n_estimators=10, random_state=np.random.RandomState(3)),
                         wine.data, wine.target, cv=3)
print("cv scores:", np.round(scores, 4))
print("global draw unaffected:", np.random.RandomState(5).rand(2).round(4))
