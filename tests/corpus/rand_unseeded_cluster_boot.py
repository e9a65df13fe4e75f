# No seed anywhere: results change from run to run, so print only what cannot vary.
import random

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.ensemble import GradientBoostingClassifier, IsolationForest
from sklearn.model_selection import ShuffleSplit, cross_val_score
from sklearn.utils import resample

df = pd.read_csv("data/flowers.csv")
X = df.iloc[:, :4].to_numpy()
y = df["species"].to_numpy()

boot_means = []
for i in range(5):
    Xb = resample(X)
    boot_means.append(Xb.mean(axis=0))
boot = np.array(boot_means)
print("bootstrap shape:", boot.shape, "all within data range:",
      bool(((boot >= X.min(axis=0)) & (boot <= X.max(axis=0))).all()))

km = KMeans(n_clusters=3, n_init=3).fit(X)
print("kmeans labels:", sorted(np.unique(km.labels_).tolist()), "n centers:", len(km.cluster_centers_))
mbk = MiniBatchKMeans(n_clusters=4, n_init=3, batch_size=64).fit(X)
print("minibatch sizes sum:", int(np.bincount(mbk.labels_, minlength=4).sum()))
pca = PCA(n_components=2, svd_solver="randomized").fit(X)
print("pca components shape:", pca.components_.shape, "ratio<=1:", bool(pca.explained_variance_ratio_.sum() <= 1))
svd = TruncatedSVD(n_components=2).fit(X)
print("svd ok:", svd.components_.shape)
iso = IsolationForest(n_estimators=20).fit(X)
print("iso labels:", sorted(set(iso.predict(X).tolist())))
scores = cross_val_score(GradientBoostingClassifier(n_estimators=10, subsample=0.7), X, y,
                         cv=ShuffleSplit(n_splits=3, test_size=0.2))
print("n scores:", len(scores), "in [0,1]:", bool(((scores >= 0) & (scores <= 1)).all()))
pick = random.choice(["a", "b", "c"])
print("picked one of three:", pick in {"a", "b", "c"})
draws = [random.random() for _ in range(4)] + np.random.rand(4).tolist()
print("distinct draws:", len(set(draws)))
