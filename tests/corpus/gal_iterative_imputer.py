"""
Imputing missing values with variants of IterativeImputer
=========================================================

With ``sample_posterior=True`` each call to ``transform`` draws new imputations.
"""
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.linear_model import BayesianRidge

X_full, y_full = load_diabetes(return_X_y=True)
rng = np.random.RandomState(0)
X_missing = X_full.copy()
mask = rng.rand(*X_missing.shape) < 0.2
X_missing[mask] = np.nan
print(f"missing values: {mask.sum()} of {mask.size}")

imputer = IterativeImputer(estimator=BayesianRidge(), sample_posterior=True,
                           max_iter=5, random_state=0)
imputer.fit(X_missing)
first = imputer.transform(X_missing)
second = imputer.transform(X_missing)
print("two transforms identical:", np.array_equal(first, second))
print("first draw  :", np.round(first[mask][:5], 5))
print("second draw :", np.round(second[mask][:5], 5))
print("rmse first/second:",
      round(float(np.sqrt(np.mean((first[mask] - X_full[mask]) ** 2))), 6),
      round(float(np.sqrt(np.mean((second[mask] - X_full[mask]) ** 2))), 6))

det = IterativeImputer(max_iter=5, random_state=0).fit(X_missing)
a, b = det.transform(X_missing), det.transform(X_missing)
print("deterministic imputer identical:", np.array_equal(a, b), "n_iter_:", det.n_iter_)

simple = SimpleImputer(strategy="mean").fit_transform(X_missing)
print("mean-imputation rmse:", round(float(np.sqrt(np.mean((simple[mask] - X_full[mask]) ** 2))), 6))

again = IterativeImputer(estimator=BayesianRidge(), sample_posterior=True,
                         max_iter=5, random_state=0).fit_transform(X_missing)
print("refit == first transform of fit?", np.array_equal(again, first))
