# Some candidate models fail to fit: catch, log, keep going; a grid with invalid combos.
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.naive_bayes import MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

df = pd.read_csv("data/churn.csv")
y = (df["churn"] == "Yes").astype(int)
X_raw = df[["tenure", "monthly_charges", "total_charges", "support_calls"]]  # still has NaN
X_ok = X_raw.fillna(0)
X_neg = X_ok - X_ok.mean()  # negative values: MultinomialNB refuses them

candidates = [
    ("logreg_nan", LogisticRegression(max_iter=2000), X_raw),
    ("logreg", LogisticRegression(max_iter=2000), X_ok),
    ("knn_too_many", KNeighborsClassifier(n_neighbors=5000), X_ok),
    ("mnb_negative", MultinomialNB(), X_neg),
    ("mnb", MultinomialNB(), X_ok),
    ("svc_bad_kernel", SVC(kernel="cubic"), X_ok),
    ("linreg_wrong_shape", LinearRegression(), X_ok.iloc[:-5]),
]
scores, failures = {}, {}
for name, model, X in candidates:
    try:
        model.fit(X, y)
        scores[name] = model.score(X, y)
        print(f"[ok]   {name}: train score {scores[name]:.4f}")
    except Exception as exc:
        msg = str(exc).splitlines()[0]
        failures[name] = type(exc).__name__
        print(f"[FAIL] {name}: {type(exc).__name__}: {msg[:90]}")

print(f"{len(scores)} fitted, {len(failures)} failed")
for name, err in sorted(failures.items()):
    print(f"  {name:20s} {err}")
print("best:", max(scores, key=scores.get))

try:
    cross_val_score(LogisticRegression(), X_raw, y, cv=3, error_score="raise")
except ValueError as exc:
    print("cv raised:", type(exc).__name__, str(exc).splitlines()[0][:60])

X_part = X_ok.copy()
X_part.iloc[:100, 2] = np.nan  # only the folds that train on these rows fail
nan_scores = cross_val_score(LogisticRegression(max_iter=200), X_part, y, cv=3, error_score=np.nan)
print("cv with error_score=nan:", np.round(nan_scores, 4).tolist(), "mean ignoring nan:", round(np.nanmean(nan_scores), 4))

grid = GridSearchCV(LogisticRegression(max_iter=3000, random_state=0),
                    {"penalty": ["l1", "l2"], "solver": ["lbfgs", "liblinear"], "C": [0.1, 1.0]},
                    cv=3, error_score=np.nan)
grid.fit(X_ok, y)
res = pd.DataFrame(grid.cv_results_)
failed = res["mean_test_score"].isna()
print(f"grid: {int(failed.sum())} of {len(res)} candidates failed")
print(res.loc[~failed, ["param_penalty", "param_solver", "param_C", "mean_test_score"]]
      .sort_values("mean_test_score", ascending=False).round(4).to_string(index=False))
print("best:", grid.best_params_, round(grid.best_score_, 4))
