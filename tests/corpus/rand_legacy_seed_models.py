# Legacy seeding: np.random.seed + Python's random, and models built without random_state.
import random

import numpy as np
import pandas as pd
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

np.random.seed(42)
random.seed(42)

df = pd.read_csv("data/flowers.csv")
features = list(df.columns[:4])
# pick a random subset of rows with the stdlib RNG, then a numpy-side shuffle
keep = sorted(random.sample(range(len(df)), 300))
sub = df.iloc[keep].reset_index(drop=True)
print("subset rows:", len(sub), "first ids:", keep[:5])
order = np.random.permutation(len(sub))
sub = sub.iloc[order].reset_index(drop=True)
noise_col = np.random.randn(len(sub))
sub["noise"] = noise_col
print(f"noise mean={noise_col.mean():.5f}")

X = sub[features + ["noise"]]
y = sub["species"]
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3)  # no random_state: global RNG
print("train class counts:", y_tr.value_counts().sort_index().to_dict())

results = {}
for name, model in [("rf", RandomForestClassifier(n_estimators=30)),
                    ("et", ExtraTreesClassifier(n_estimators=30)),
                    ("mlp", MLPClassifier(hidden_layer_sizes=(16,), max_iter=400))]:
    Xa, Xb = (StandardScaler().fit(X_tr).transform(X_tr), StandardScaler().fit(X_tr).transform(X_te)) \
        if name == "mlp" else (X_tr, X_te)
    model.fit(Xa, y_tr)
    acc = model.score(Xb, y_te)
    results[name] = acc
    print(f"{name}: acc={acc:.4f}")
    if hasattr(model, "feature_importances_"):
        print("   importances:", np.round(model.feature_importances_, 4).tolist())

cv_scores = cross_val_score(RandomForestClassifier(n_estimators=20), X, y, cv=KFold(4, shuffle=True))
print("cv:", np.round(cv_scores, 4).tolist())
print("after all that, next draw:", np.round(np.random.rand(3), 6).tolist(), random.randint(0, 10**6))
for name, acc in sorted(results.items(), key=lambda kv: (-kv[1], kv[0])):
    print(f"  {name:4s} {acc:.4f}")
random.shuffle(features)
print("shuffled features:", features)
