import hashlib

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

df = pd.read_csv("data/houses.csv")
num = df.select_dtypes("number").drop(columns=["id", "price"])
X = num.fillna(num.median())
X = (X - X.mean()) / X.std()
y = df["price"] / 1000.0

alphas = [0.0, 1e-3, 0.1, 1.0, 3.0, 10.0, 100.0, 1e4, 1e8]
search = GridSearchCV(Ridge(), {"alpha": alphas, "fit_intercept": [True, False]},
                      cv=KFold(5, shuffle=True, random_state=0), scoring="neg_mean_squared_error")
search.fit(X, y)
print("best params:", search.best_params_)
print("best score:", repr(search.best_score_))
print("mean scores:", [repr(v) for v in search.cv_results_["mean_test_score"]])
best = search.best_estimator_
print("features:", list(best.feature_names_in_), best.n_features_in_, best.solver_)
print("coef sha:", hashlib.sha256(best.coef_.tobytes()).hexdigest()[:16], repr(best.intercept_))

# two targets, sample weights, one alpha per target
Y = np.column_stack([y, np.log(y)])
w = np.linspace(0.5, 2.0, len(y))
for alpha in (0.5, [0.5, 5.0], 50.0):
    m = Ridge(alpha=alpha).fit(X.to_numpy(), Y, sample_weight=w)
    print("multi:", hashlib.sha256(m.coef_.tobytes()).hexdigest()[:16],
          hashlib.sha256(np.asarray(m.intercept_).tobytes()).hexdigest()[:16])

for alpha in (0.01, 1.0, 100.0):
    scores = cross_val_score(Ridge(alpha=alpha), X, y, cv=5, scoring="r2")
    print(f"alpha={alpha}: {scores.tolist()!r}")
