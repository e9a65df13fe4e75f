"""
Multiple metric evaluation with cross_validate
==============================================
"""
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import make_scorer, max_error, median_absolute_error
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

X, y = load_diabetes(return_X_y=True)
cv = KFold(n_splits=5, shuffle=True, random_state=0)
scoring = ["r2", "neg_mean_absolute_error", "neg_root_mean_squared_error"]


def summarize(name, res):
    keys = sorted(k for k in res if k.startswith(("test_", "train_")))
    parts = [f"{k}={np.mean(res[k]):.4f}" for k in keys]
    print(f"{name}: " + ", ".join(parts))


for name, est in [("ols", LinearRegression()), ("ridge", Ridge(alpha=1.0)),
                  ("ridge10", Ridge(alpha=10.0))]:
    res = cross_validate(est, X, y, cv=cv, scoring=scoring, return_train_score=True)
    summarize(name, res)

custom = {"max_err": make_scorer(max_error, greater_is_better=False),
          "medae": make_scorer(median_absolute_error), "r2": "r2"}
res = cross_validate(Ridge(alpha=0.5), X, y, cv=cv, scoring=custom, return_estimator=True)
summarize("custom", res)
print("estimator coefs (first 3):", [np.round(e.coef_[:3], 2).tolist() for e in res["estimator"][:2]])

wine = load_wine()
clf = make_pipeline(StandardScaler(), SVC(C=1.0))
res = cross_validate(clf, wine.data, wine.target, cv=4,
                     scoring=("accuracy", "f1_macro", "precision_macro", "recall_macro"))
table = pd.DataFrame({k: v for k, v in res.items() if k.startswith("test_")})
print(table.round(4))
print(table.mean().round(4).to_dict())
res = cross_validate(clf, wine.data, wine.target, cv=3, scoring="balanced_accuracy",
                     return_indices=True)
print(sorted(res), [len(ix) for ix in res["indices"]["test"]], np.round(res["test_score"], 4))
