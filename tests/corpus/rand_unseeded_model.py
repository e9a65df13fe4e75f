# Unseeded models: print only what does not depend on the random draws.
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import KFold

df = pd.read_csv("data/flowers.csv")
X = df.iloc[:, :4].to_numpy()
y = df["species"].to_numpy()
rf = RandomForestClassifier(n_estimators=10)
rf.fit(X, y)
print(len(rf.estimators_), rf.classes_.tolist(), rf.n_features_in_)
print(rf.predict(X[:5]).shape, np.isclose(rf.feature_importances_.sum(), 1.0))
km = KMeans(n_clusters=3, n_init=2).fit(X)
print(km.cluster_centers_.shape, sorted(set(km.labels_.tolist())))
sizes = [len(te) for _, te in KFold(n_splits=3, shuffle=True).split(X)]
print(sizes)
idx = np.arange(len(X))
np.random.shuffle(idx)
print(np.sort(idx)[:5], idx.size)
