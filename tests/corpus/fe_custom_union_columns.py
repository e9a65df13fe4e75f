# Custom transformers (BaseEstimator + TransformerMixin), FeatureUnion, ColumnTransformer passthrough.
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


class Winsorizer(BaseEstimator, TransformerMixin):
    """Clip each column to quantiles learned in fit."""

    def __init__(self, lower=0.01, upper=0.99):
        self.lower = lower
        self.upper = upper

    def fit(self, X, y=None):
        arr = np.asarray(X, dtype=float)
        self.lo_ = np.nanquantile(arr, self.lower, axis=0)
        self.hi_ = np.nanquantile(arr, self.upper, axis=0)
        self.n_features_in_ = arr.shape[1]
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lo_, self.hi_)

    def get_feature_names_out(self, input_features=None):
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray([f"wins_{c}" for c in input_features], dtype=object)


class RatioFeatures(BaseEstimator, TransformerMixin):
    def __init__(self, eps=1.0):
        self.eps = eps

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        arr = np.asarray(X, dtype=float)
        return np.column_stack([arr[:, 0] / (arr[:, 1] + self.eps), arr[:, 0] / (arr[:, 2] + self.eps)])


df = pd.read_csv("data/houses.csv")
y = df["price"]
num_cols = ["area", "bedrooms", "bathrooms", "year_built", "lot_size"]
cat_cols = ["neighborhood", "condition"]
X = df[num_cols + cat_cols + ["has_garage"]]
cv = KFold(n_splits=4, shuffle=True, random_state=7)


def evaluate(name, model, results):
    scores = cross_val_score(model, X, y, cv=cv, scoring="neg_root_mean_squared_error")
    results[name] = -scores.mean()
    print(f"{name:22s} rmse={-scores.mean():10.2f} +/- {scores.std():8.2f}")


numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("wins", Winsorizer())])
categorical = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
results = {}
for lower, upper in [(0.0, 1.0), (0.01, 0.99), (0.05, 0.95)]:
    pre = ColumnTransformer([("num", numeric, num_cols), ("cat", categorical, cat_cols)],
                            remainder="passthrough")
    pre.set_params(num__wins__lower=lower, num__wins__upper=upper)
    evaluate(f"wins_{lower}_{upper}", make_pipeline(pre, StandardScaler(), Ridge(alpha=1.0)), results)

union = FeatureUnion([
    ("scaled", StandardScaler()),
    ("ratios", make_pipeline(RatioFeatures(), StandardScaler())),
    ("pca", PCA(n_components=2)),
])
num_union = Pipeline([("impute", SimpleImputer(strategy="median")), ("union", union)])
pre_union = ColumnTransformer([("num", num_union, num_cols), ("cat", categorical, cat_cols)],
                              remainder="passthrough")
evaluate("union", make_pipeline(pre_union, Ridge(alpha=1.0)), results)

print("--- ranking ---")
for rank, (name, rmse) in enumerate(sorted(results.items(), key=lambda kv: kv[1]), 1):
    print(f"{rank}. {name} {rmse:.2f}")

pre = ColumnTransformer([("num", numeric, num_cols), ("cat", categorical, cat_cols)],
                        remainder="passthrough", verbose_feature_names_out=True)
Xt = pre.fit_transform(X)
names = pre.get_feature_names_out()
print(Xt.shape, len(names))
print(list(names))
w = pre.named_transformers_["num"].named_steps["wins"]
print("winsor lo:", np.round(w.lo_, 2).tolist())
print("winsor hi:", np.round(w.hi_, 2).tolist())
print(RatioFeatures(eps=0.5).fit_transform(X[num_cols].fillna(0).head(3)).round(3))
print(Winsorizer(lower=0.1).get_params())
