# Which features matter? impurity importance vs permutation importance on a held-out set.
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/houses.csv")
df["year_built"] = df["year_built"].fillna(df["year_built"].median())
df["lot_size"] = df["lot_size"].fillna(df["lot_size"].median())
df = pd.get_dummies(df, columns=["neighborhood", "condition"], dtype=float)
rng = np.random.RandomState(3)
df["random_noise"] = rng.normal(size=len(df))
y = df.pop("price")
X = df.drop(columns=["id"])
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=5)

rf = RandomForestRegressor(n_estimators=40, max_depth=8, n_jobs=1, random_state=0).fit(X_tr, y_tr)
print(f"RF  R2 train={rf.score(X_tr, y_tr):.4f} test={rf.score(X_te, y_te):.4f}")
ridge = RidgeCV(alphas=np.logspace(-2, 3, 12)).fit(X_tr, y_tr)
print(f"Ridge alpha={ridge.alpha_:.4f} R2 test={ridge.score(X_te, y_te):.4f}")

mdi = pd.Series(rf.feature_importances_, index=X.columns)


def perm_table(model, label):
    r = permutation_importance(model, X_te, y_te, n_repeats=5, random_state=42, n_jobs=1)
    t = pd.DataFrame({"mean": r.importances_mean, "std": r.importances_std}, index=X.columns)
    t = t.sort_values("mean", ascending=False)
    print(f"--- permutation importance ({label}) ---")
    for feat, row in t.head(6).iterrows():
        print(f"{feat:26s} {row['mean']:.4f} +/- {row['std']:.4f}")
    return t


perm_rf = perm_table(rf, "rf")
perm_ridge = perm_table(ridge, "ridge")
compare = pd.DataFrame({"mdi": mdi, "perm_rf": perm_rf["mean"], "perm_ridge": perm_ridge["mean"]})
print(compare.sort_values("perm_rf", ascending=False).round(4).head(8).to_string())
useless = [f for f in X.columns if perm_rf.loc[f, "mean"] - 2 * perm_rf.loc[f, "std"] <= 0]
print(f"{len(useless)} features not clearly useful:", sorted(useless))
print("noise rank (mdi):", int(mdi.rank(ascending=False)["random_noise"]),
      "noise rank (perm):", int(perm_rf["mean"].rank(ascending=False)["random_noise"]))
r = permutation_importance(rf, X_te, y_te, n_repeats=3, random_state=0, scoring=["r2", "neg_mean_absolute_error"])
for metric in sorted(r):
    top = X.columns[np.argmax(r[metric].importances_mean)]
    print(f"{metric}: top={top} value={r[metric].importances_mean.max():.4f}")
