# Refitting after set_params in a loop, and poking at fitted attributes before predicting.
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/flowers.csv")
X = df.iloc[:, :4].to_numpy()
y = df["species"].to_numpy()
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=2, stratify=y)
sc = StandardScaler().fit(X_tr)
A_tr, A_te = sc.transform(X_tr), sc.transform(X_te)

rf = RandomForestClassifier(random_state=0)
log = []
for n in [5, 20, 50]:
    for depth in [2, None]:
        rf.set_params(n_estimators=n, max_depth=depth)
        rf.fit(A_tr, y_tr)
        acc = rf.score(A_te, y_te)
        log.append((n, depth, acc))
        print(f"n={n:2d} depth={depth!s:4s} acc={acc:.4f} trees={len(rf.estimators_)}")
print("best:", max(log, key=lambda t: (t[2], -t[0])))

lr = LogisticRegression(max_iter=500).fit(A_tr, y_tr)
p0 = lr.predict_proba(A_te[:4])
print("original:", p0.round(4).tolist())
lr.coef_[:, 0] = 0.0  # drop sepal_length by hand
p1 = lr.predict_proba(A_te[:4])
print("sepal_length zeroed:", p1.round(4).tolist())
print("changed:", bool(np.abs(p1 - p0).max() > 1e-9))
lr.intercept_ += 5.0 * (lr.classes_ == "setosa-ish")
print("setosa boosted:", lr.predict(A_te[:6]).tolist())
lr.coef_ = lr.coef_ * 0.0
print("all coef zero:", lr.predict_proba(A_te[:2]).round(4).tolist())
lr.classes_ = np.array(["A", "B", "C"])
print("relabelled:", lr.predict(A_te[:3]).tolist())
lr.fit(A_tr, y_tr)
print("refit restores:", lr.predict(A_te[:3]).tolist(), round(lr.score(A_te, y_te), 4))

sc2 = StandardScaler().fit(X_tr)
print("scaled row:", sc2.transform(X_te[:1]).round(4).tolist())
sc2.mean_ = np.zeros(4)
sc2.scale_[:] = 1.0
print("identity scaler row:", sc2.transform(X_te[:1]).round(4).tolist())

target = df["petal_width"].to_numpy()
ridge = Ridge(alpha=1.0).fit(X[:, :3], target)
base = ridge.predict(X[:3, :3])
for shift in [0.0, 0.5, 1.0]:
    ridge.intercept_ = ridge.intercept_ + shift
    print(f"shift={shift}: {ridge.predict(X[:3, :3]).round(4).tolist()}")
ridge.set_params(alpha=100.0)
print("after set_params (not refit):", ridge.predict(X[:1, :3]).round(4).tolist(), ridge.alpha)
ridge.fit(X[:, :3], target)
print("after refit:", ridge.predict(X[:1, :3]).round(4).tolist(), "base:", base[:1].round(4).tolist())
