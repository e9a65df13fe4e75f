# Hand-editing fitted models: prune a forest's trees in place, flip / zero coefficients,
# then score again on a large held-out frame (big enough that predictions are worth caching).
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

rng = np.random.default_rng(7)
cols = [f"f{i}" for i in range(8)]
X = pd.DataFrame(rng.normal(size=(4000, 8)), columns=cols)
y = ((X["f0"] + 0.5 * X["f1"] - 0.25 * X["f2"]) > 0).astype(int)
X_big = pd.DataFrame(rng.normal(size=(250000, 8)), columns=cols)
y_big = ((X_big["f0"] + 0.5 * X_big["f1"] - 0.25 * X_big["f2"]) > 0).astype(int)

rf = RandomForestClassifier(n_estimators=40, max_depth=6, random_state=0).fit(X, y)
history = {}
history["rf_40"] = accuracy_score(y, rf.predict(X))
print(f"40 trees: train acc={history['rf_40']:.4f} mean proba={rf.predict_proba(X)[:, 1].mean():.5f}")
for keep in [20, 5, 1]:
    del rf.estimators_[keep:]  # prune in place
    history[f"rf_{keep}"] = accuracy_score(y, rf.predict(X))
    print(f"{keep:2d} trees: train acc={history[f'rf_{keep}']:.4f} mean proba={rf.predict_proba(X)[:, 1].mean():.5f}")

lr = LogisticRegression(max_iter=500).fit(X, y)
base = lr.predict(X_big)
print("lr coef:", np.round(lr.coef_[0], 3).tolist())
print(f"lr big acc={accuracy_score(y_big, base):.4f} positives={int(base.sum())}")
for j in [0, 1]:
    lr.coef_[0, j] = 0.0  # knock out one feature in place
    pred = lr.predict(X_big)
    print(f"without f{j}: acc={accuracy_score(y_big, pred):.4f} positives={int(pred.sum())}")
w = lr.coef_[0]
w *= -1.0  # a view of coef_: flips the model
pred = lr.predict(X_big)
print(f"flipped: acc={accuracy_score(y_big, pred):.4f} positives={int(pred.sum())}")
for name, acc in sorted(history.items(), key=lambda kv: (-kv[1], kv[0])):
    print(f"{name:6s} {acc:.4f}")
