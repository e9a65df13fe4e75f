"""
Plot the decision boundaries of classifiers
===========================================

Uses ``DecisionBoundaryDisplay`` when matplotlib is installed; otherwise evaluates the
same grid of predictions without plotting.
"""
import numpy as np
from sklearn.datasets import load_iris
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

iris = load_iris()
X = iris.data[:, :2]
y = iris.target

try:
    import matplotlib
    matplotlib.use("Agg")
    HAVE_MPL = True
except ImportError as exc:
    print(f"matplotlib unavailable ({exc.name}); computing the grid by hand")
    HAVE_MPL = False


def grid_predictions(clf, X, steps=6):
    x0 = np.linspace(X[:, 0].min() - 1, X[:, 0].max() + 1, steps)
    x1 = np.linspace(X[:, 1].min() - 1, X[:, 1].max() + 1, steps)
    xx0, xx1 = np.meshgrid(x0, x1)
    return clf.predict(np.c_[xx0.ravel(), xx1.ravel()]).reshape(xx0.shape)


classifiers = {
    "knn": KNeighborsClassifier(n_neighbors=15),
    "tree": DecisionTreeClassifier(max_depth=3, random_state=0),
    "svc": SVC(kernel="rbf", gamma=0.7, C=1.0),
}
for name, clf in classifiers.items():
    clf.fit(X, y)
    if HAVE_MPL:
        disp = DecisionBoundaryDisplay.from_estimator(clf, X, response_method="predict",
                                                      grid_resolution=6)
        Z = disp.response
    else:
        Z = grid_predictions(clf, X)
    print(f"{name}: train acc={clf.score(X, y):.3f}")
    print(Z)
    print("class counts on grid:", np.bincount(Z.ravel(), minlength=3))
print(DecisionBoundaryDisplay.__name__, "imported from", DecisionBoundaryDisplay.__module__)
