"""
Inspecting the training log of iterative estimators
===================================================

``HistGradientBoostingClassifier(verbose=1)`` and ``SGDClassifier(verbose=1)`` print a
training log; we capture it and keep only the timing-free parts.
"""
import io
import re
from contextlib import redirect_stdout

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)

TIMING = re.compile(r"\d+\.\d+ ?s(econds)?\b")


def training_log(estimator):
    buf = io.StringIO()
    with redirect_stdout(buf):
        estimator.fit(X, y)
    return [TIMING.sub("<t>", line) for line in buf.getvalue().splitlines()]


hgb = HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=8, verbose=1,
                                     early_stopping=False, random_state=0)
log = training_log(hgb)
print(f"HGB log: {len(log)} lines")
for line in log:
    print("  " + line)
print(f"HGB accuracy: {hgb.score(X, y):.4f}, n_iter_={hgb.n_iter_}")

hgb2 = HistGradientBoostingClassifier(max_iter=3, max_depth=2, verbose=2, random_state=0,
                                      early_stopping=True, validation_fraction=0.2)
log = training_log(hgb2)
print("HGB verbose=2:")
print("\n".join("  " + line for line in log if line.startswith("[")))

sgd = SGDClassifier(max_iter=4, tol=None, verbose=1, random_state=0)
log = training_log(sgd)
epochs = [line for line in log if line.startswith("-- Epoch")]
norms = [line for line in log if line.startswith("Norm")]
print(f"SGD log: {len(log)} lines, {len(epochs)} epochs")
for line in norms:
    print("  " + line.split(", T:")[0])
print(f"SGD accuracy: {sgd.score(X, y):.4f}")

# Uncaptured: the log goes straight to stdout
SGDClassifier(max_iter=1, tol=None, verbose=1, random_state=1).fit(X[:50], y[:50])
print("done")
