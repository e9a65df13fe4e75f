# Notebook-style iteration: a custom transformer is evaluated, then redefined (same name) and
# evaluated again; a transformer class built by a factory function captures its parameter.
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/houses.csv")
X = df[["area", "bedrooms", "bathrooms", "lot_size"]].fillna(0)
y = df["price"]


class LogFeatures(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)  # v1: forgot the log


def evaluate(label):
    scores = cross_val_score(make_pipeline(LogFeatures(), StandardScaler(), Ridge()), X, y, cv=4)
    print(f"{label}: r2={scores.mean():.5f}")
    return scores.mean()


results = {"v1": evaluate("v1 (identity)")}


class LogFeatures(BaseEstimator, TransformerMixin):  # noqa: F811 - fixed version
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.log1p(np.asarray(X, dtype=float))


results["v2"] = evaluate("v2 (log1p)")


def make_power(p):
    class Power(BaseEstimator, TransformerMixin):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return np.asarray(X, dtype=float) ** p

    return Power


for p in [0.5, 1.0, 2.0]:
    model = make_pipeline(make_power(p)(), StandardScaler(), Ridge())
    results[f"pow{p}"] = cross_val_score(model, X, y, cv=4).mean()
    print(f"power {p}: r2={results[f'pow{p}']:.5f}")
    fitted = model.fit(X, y)
    print(f"   first prediction: {fitted.predict(X.head(1))[0]:.2f}")
for name, r2 in sorted(results.items(), key=lambda kv: -kv[1]):
    print(f"{name:6s} {r2:.5f}")
