"""
Loading features from sparse, JSON and pickle files
===================================================
"""
import json
import os
import pickle

import numpy as np
import scipy.sparse as sp
from scipy.sparse import load_npz, save_npz
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score
import pandas as pd

os.makedirs("out_unruled", exist_ok=True)
reviews = pd.read_csv("data/reviews.csv").fillna({"text": ""})
vec = TfidfVectorizer(min_df=3)
X = vec.fit_transform(reviews["text"])
save_npz("out_unruled/tfidf.npz", X)
X_loaded = load_npz("out_unruled/tfidf.npz")
os.remove("out_unruled/tfidf.npz")  # zip members carry a timestamp: keep no such file
print(type(X_loaded).__name__, X_loaded.shape, X_loaded.nnz, (X_loaded != X).nnz)
y = reviews["sentiment"].eq("pos").astype(int).to_numpy()
clf = LogisticRegression(max_iter=1000).fit(X_loaded, y)
print(f"train acc from npz: {clf.score(X_loaded, y):.4f}")
print("cv:", np.round(cross_val_score(LogisticRegression(max_iter=1000), X_loaded, y, cv=3), 4))

with open("data/config.json", encoding="utf-8") as fh:
    config = json.load(fh)
print("config keys:", sorted(config))

houses = pd.read_csv("data/houses.csv").dropna()
payload = {"columns": ["area", "bedrooms", "bathrooms"],
           "rows": houses[["area", "bedrooms", "bathrooms"]].head(300).values.tolist(),
           "target": houses["price"].head(300).tolist()}
with open("out_unruled/train.json", "w", encoding="utf-8") as fh:
    json.dump(payload, fh)
with open("out_unruled/train.json", encoding="utf-8") as fh:
    back = json.load(fh)
Xj = np.array(back["rows"])
ridge = Ridge(alpha=1.0).fit(Xj, back["target"])
print("ridge from json:", np.round(ridge.coef_, 3), round(float(ridge.intercept_), 2))

with open("out_unruled/model.pkl", "wb") as fh:
    pickle.dump({"ridge": ridge, "columns": back["columns"]}, fh)
with open("out_unruled/model.pkl", "rb") as fh:
    bundle = pickle.load(fh)
print("unpickled:", bundle["columns"], np.round(bundle["ridge"].predict(Xj[:3]), 2))
bundle["ridge"].set_params(alpha=100.0).fit(Xj, back["target"])
print("refit unpickled:", np.round(bundle["ridge"].coef_, 3))

with open("out_unruled/arrays.pkl", "wb") as fh:
    pickle.dump((Xj, np.asarray(back["target"])), fh)
with open("out_unruled/arrays.pkl", "rb") as fh:
    Xp, yp = pickle.load(fh)
print("pickled arrays equal:", np.array_equal(Xp, Xj), Xp.dtype, yp[:3])
print("csr roundtrip:", sp.csr_matrix(Xp[:2]).toarray().tolist())
