import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import precision_score, recall_score, f1_score, roc_curve, auc
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/churn.csv")
for c in ["contract", "payment_method", "internet", "gender"]:
    df[c] = df[c].astype("category")
y = (df["churn"] == "Yes").to_numpy().astype(int)
X = df.drop(columns=["customer_id", "churn"])
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=2)
model = HistGradientBoostingClassifier(max_iter=25, categorical_features="from_dtype", random_state=0)
model.fit(Xtr, ytr)
proba = model.predict_proba(Xte)[:, 1]
fpr, tpr, _ = roc_curve(yte, proba)
print(f"AUC={auc(fpr, tpr):.4f}")
best = (None, -1)
for t in np.arange(0.1, 0.91, 0.1):
    pred = (proba >= t).astype(int)
    f1 = f1_score(yte, pred, zero_division=0)
    print(f"t={t:.1f} precision={precision_score(yte, pred, zero_division=0):.3f} "
          f"recall={recall_score(yte, pred):.3f} f1={f1:.3f}")
    if f1 > best[1]:
        best = (round(float(t), 1), f1)
print("best threshold", best[0], f"f1={best[1]:.4f}")
