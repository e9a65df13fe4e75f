# SGD trained with partial_fit over mini-batches, then CalibratedClassifierCV.
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

df = pd.read_csv("data/churn.csv")
y = (df["churn"] == "Yes").astype(int).to_numpy()
X = pd.get_dummies(df.drop(columns=["customer_id", "churn"]), dtype=float)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)

# -- SGD with partial_fit over mini-batches (needs imputation + scaling first)
X_tr_f = X_tr.fillna(X_tr.median())
X_te_f = X_te.fillna(X_tr.median())
scaler = StandardScaler().fit(X_tr_f)
A_tr, A_te = scaler.transform(X_tr_f), scaler.transform(X_te_f)
sgd = SGDClassifier(loss="log_loss", alpha=1e-3, learning_rate="optimal", random_state=0)
classes = np.unique(y_tr)
batch = 300
history = []
for epoch in range(3):
    for start in range(0, len(A_tr), batch):
        sgd.partial_fit(A_tr[start:start + batch], y_tr[start:start + batch], classes=classes)
    acc = accuracy_score(y_te, sgd.predict(A_te))
    history.append(acc)
    print(f"epoch {epoch}: test acc={acc:.4f} t_={sgd.t_:.0f} |w|={np.linalg.norm(sgd.coef_):.4f}")
print("best epoch:", int(np.argmax(history)), "n_iter_", sgd.n_iter_)

# -- calibration of an uncalibrated margin classifier
for method in ["sigmoid", "isotonic"]:
    cal = CalibratedClassifierCV(LinearSVC(C=0.1, max_iter=5000), method=method, cv=3)
    cal.fit(A_tr, y_tr)
    p = cal.predict_proba(A_te)[:, 1]
    frac_pos, mean_pred = calibration_curve(y_te, p, n_bins=5)
    print(f"{method:8s} brier={brier_score_loss(y_te, p):.4f} logloss={log_loss(y_te, p):.4f} "
          f"n_calibrators={len(cal.calibrated_classifiers_)}")
    print("   reliability:", np.round(frac_pos, 3).tolist())
