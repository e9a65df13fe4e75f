import itertools

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/houses.csv")
df = pd.get_dummies(df, columns=["neighborhood", "condition"], dummy_na=True, dtype=float)
X = df.drop(columns=["id", "price"]).fillna(-1)
y = df["price"]
X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.25, random_state=2024)
leaderboard = []
for lr, depth, n in itertools.product([0.05, 0.2], [2, 3], [20, 40]):
    m = GradientBoostingRegressor(learning_rate=lr, max_depth=depth, n_estimators=n, random_state=0)
    m.fit(X_tr, y_tr)
    mae = mean_absolute_error(y_val, m.predict(X_val))
    leaderboard.append({"lr": lr, "depth": depth, "n": n, "mae": mae})
    print(f"lr={lr} depth={depth} n={n} -> MAE {mae:,.1f}")
lb = pd.DataFrame(leaderboard).sort_values("mae").reset_index(drop=True)
print(lb.head())
best = lb.iloc[0]
print(f"BEST: lr={best.lr} depth={int(best.depth)} n={int(best.n)} mae={best.mae:.2f}")
print("train loss tail:", np.round(m.train_score_[-3:], 1))
