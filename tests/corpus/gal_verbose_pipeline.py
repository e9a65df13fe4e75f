"""
Verbose pipelines and grid search
=================================

``Pipeline(verbose=True)`` reports each step as it is fitted, ``GridSearchCV(verbose=1)``
reports the number of fits.
"""
import io
import re
from contextlib import redirect_stdout

from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

X, y = load_iris(return_X_y=True)


def fit_logged(estimator, X, y):
    """Fit, then print the verbose log with its elapsed times masked."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        estimator.fit(X, y)
    print(re.sub(r"total=\s*[0-9.]+(s|min)", "total=<t>", buf.getvalue()), end="")
    return estimator


pipe = Pipeline([("scaler", StandardScaler()), ("pca", PCA(n_components=2)),
                 ("clf", LogisticRegression())], verbose=True)
fit_logged(pipe, X, y)
print(f"training accuracy: {pipe.score(X, y):.3f}")

pipe2 = make_pipeline(StandardScaler(), LogisticRegression(C=0.1), verbose=True)
fit_logged(pipe2, X[::2], y[::2])
print(f"half-data accuracy: {pipe2.score(X[1::2], y[1::2]):.3f}")

param_grid = {"C": [0.01, 0.1, 1.0]}
search = GridSearchCV(LogisticRegression(max_iter=500), param_grid, cv=3, verbose=1)
fit_logged(search, X, y)
print(f"best params: {search.best_params_}, best score: {search.best_score_:.4f}")

quiet = Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression())])
quiet.set_params(verbose=True)
fit_logged(quiet, X, y)
quiet.set_params(verbose=False)
quiet.fit(X, y)
print("refit quietly; classes:", quiet.classes_)

# Tiny steps always report total=   0.0s: printed straight to stdout
tiny = make_pipeline(StandardScaler(), MinMaxScaler(), verbose=True)
print(tiny.fit_transform(X[:6, :2]).round(3))
