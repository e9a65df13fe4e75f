import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler


class AgeAdder(BaseEstimator, TransformerMixin):
    def __init__(self, year=2024, fill="median"):
        self.year = year
        self.fill = fill

    def fit(self, X, y=None):
        self.fill_value_ = X["year_built"].median() if self.fill == "median" else X["year_built"].mean()
        return self

    def transform(self, X):
        X = X.copy()
        X["age"] = self.year - X["year_built"].fillna(self.fill_value_)
        X = X.drop(columns=["year_built"])
        return X


df = pd.read_csv("data/houses.csv")
cols = ["area", "bedrooms", "bathrooms", "year_built", "lot_size"]
X = df[cols].copy()
X["lot_size"] = X["lot_size"].fillna(0)
y = df["price"]
squash = FunctionTransformer(lambda a: np.sign(a) * np.log1p(np.abs(a)))
for fill in ["median", "mean"]:
    for use_log in [False, True]:
        steps = [AgeAdder(fill=fill)] + ([squash] if use_log else []) + [StandardScaler(), Ridge(alpha=3.0)]
        s = cross_val_score(make_pipeline(*steps), X, y, cv=3)
        print(f"fill={fill:6s} log={use_log!s:5s} r2={s.mean():.5f}")
t = AgeAdder().fit(X)
print("fill value", t.fill_value_)
print(t.transform(X.head(3)))
print(AgeAdder(year=2000).get_params())
