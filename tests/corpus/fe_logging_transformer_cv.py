# A custom transformer that logs what it learns (prints inside fit), cross-validated.
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


class MedianImputer(BaseEstimator, TransformerMixin):
    def __init__(self, verbose=True):
        self.verbose = verbose

    def fit(self, X, y=None):
        self.medians_ = X.median()
        if self.verbose:
            print(f"  [MedianImputer] fit on {len(X)} rows, lot_size median={self.medians_['lot_size']:.1f}")
        return self

    def transform(self, X):
        return X.fillna(self.medians_)


df = pd.read_csv("data/houses.csv")
X = df[["area", "bedrooms", "bathrooms", "year_built", "lot_size"]]
y = df["price"]
results = {}
for alpha in [0.1, 10.0]:
    print(f"alpha={alpha}")
    pipe = make_pipeline(MedianImputer(), StandardScaler(), Ridge(alpha=alpha))
    scores = cross_val_score(pipe, X, y, cv=KFold(3, shuffle=True, random_state=0))
    results[alpha] = scores.mean()
    print(f"  r2={scores.mean():.5f}")
quiet = make_pipeline(MedianImputer(verbose=False), StandardScaler(), Ridge())
print("quiet r2:", round(cross_val_score(quiet, X, y, cv=3).mean(), 5))
final = make_pipeline(MedianImputer(), StandardScaler(), Ridge(alpha=max(results, key=results.get)))
final.fit(X, y)
print("final coef:", np.round(final[-1].coef_, 1).tolist())
