# Dimensionality reduction: PCA on numeric data, TruncatedSVD (LSA) on review text.
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sensors = np.load("data/sensors.npy")
print("sensors", sensors.shape, f"mean={sensors.mean():.4f}")
pca = PCA().fit(StandardScaler().fit_transform(sensors))
evr = pca.explained_variance_ratio_
print("explained variance ratio:", np.round(evr, 4))
cum = np.cumsum(evr)
for target in (0.5, 0.8, 0.9, 0.99):
    n = int(np.searchsorted(cum, target) + 1)
    print(f"components for {target:.0%} variance: {n}")

houses = pd.read_csv("data/houses.csv")
num = houses[["area", "bedrooms", "bathrooms", "year_built", "lot_size"]].fillna(houses.median(numeric_only=True))
pca2 = PCA(n_components=2, svd_solver="full")
proj = pca2.fit_transform(StandardScaler().fit_transform(num))
print(f"houses PCA 2 comps: {pca2.explained_variance_ratio_.sum():.4f}")
loadings = pd.DataFrame(pca2.components_.T, index=num.columns, columns=["pc1", "pc2"])
print(loadings.abs().round(3).sort_values("pc1", ascending=False))
print("projection std:", proj.std(axis=0).round(4))

reviews = pd.read_csv("data/reviews.csv")
texts = reviews["text"].fillna("")
y = (reviews["sentiment"] == "pos").astype(int)
tfidf = TfidfVectorizer(min_df=2)
Xt = tfidf.fit_transform(texts)
print(f"tfidf: {Xt.shape[0]} docs x {Xt.shape[1]} terms, nnz={Xt.nnz}")
svd = TruncatedSVD(n_components=20, random_state=0)
Z = svd.fit_transform(Xt)
print(f"svd explained: {svd.explained_variance_ratio_.sum():.4f}")
terms = np.array(tfidf.get_feature_names_out())
for i in range(3):
    top = terms[np.argsort(-np.abs(svd.components_[i]))[:5]]
    print(f"component {i}: {', '.join(top)}")
scores = {}
for k in [5, 30]:
    pipe = make_pipeline(TfidfVectorizer(min_df=2), TruncatedSVD(n_components=k, random_state=0),
                         LogisticRegression(max_iter=300))
    scores[k] = cross_val_score(pipe, texts, y, cv=2).mean()
    print(f"k={k:2d} acc={scores[k]:.4f}")
best_k = max(scores, key=scores.get)
print(f"best k: {best_k}")
