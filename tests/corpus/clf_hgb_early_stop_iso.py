# HistGradientBoosting with early stopping, then IsolationForest outlier scores.
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/churn.csv")
y = (df["churn"] == "Yes").astype(int).to_numpy()
X = pd.get_dummies(df.drop(columns=["customer_id", "churn"]), dtype=float)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)

# -- HGB: native NaN support, early stopping on an internal validation split
for lr in [0.05, 0.2]:
    hgb = HistGradientBoostingClassifier(learning_rate=lr, max_iter=300, early_stopping=True,
                                         validation_fraction=0.15, n_iter_no_change=8,
                                         random_state=0)
    hgb.fit(X_tr, y_tr)
    auc = roc_auc_score(y_te, hgb.predict_proba(X_te)[:, 1])
    print(f"HGB lr={lr}: stopped after {hgb.n_iter_} iters, best val={hgb.validation_score_.max():.4f}, test auc={auc:.4f}")
    print(f"   train curve tail: {np.round(hgb.train_score_[-3:], 4).tolist()}")

# -- outliers in the numeric columns
num = df[["tenure", "monthly_charges", "total_charges", "support_calls"]].fillna(0)
for contamination in [0.01, 0.05]:
    iso = IsolationForest(n_estimators=50, contamination=contamination, random_state=1).fit(num)
    flags = iso.predict(num)
    scores = iso.score_samples(num)
    print(f"contamination={contamination}: outliers={int((flags == -1).sum())} offset={iso.offset_:.4f} "
          f"min score={scores.min():.4f}")
worst = num.assign(score=scores).nsmallest(3, "score")
print(worst.round(3).to_string())
