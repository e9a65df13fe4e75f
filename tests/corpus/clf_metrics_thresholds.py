# Evaluation report: classification_report, confusion matrix, ROC AUC, PR curve, threshold sweep.
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (average_precision_score, classification_report, confusion_matrix,
                             f1_score, precision_recall_curve, precision_score, recall_score,
                             roc_auc_score, roc_curve)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/churn.csv")
df["total_charges"] = df["total_charges"].fillna(0)
df["monthly_charges"] = df["monthly_charges"].fillna(df["monthly_charges"].mean())
y = df["churn"].map({"Yes": 1, "No": 0})
X = pd.get_dummies(df.drop(columns=["customer_id", "churn"]), dtype=float)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=21)

models = {
    "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced")),
    "gbm": GradientBoostingClassifier(n_estimators=60, max_depth=3, learning_rate=0.1, random_state=0),
}
probas = {}
for name, model in models.items():
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    proba = model.predict_proba(X_test)[:, 1]
    probas[name] = proba
    print(f"===== {name} =====")
    print(classification_report(y_test, pred, target_names=["stay", "churn"], digits=4))
    cm = confusion_matrix(y_test, pred)
    tn, fp, fn, tp = cm.ravel()
    print(f"confusion: tn={tn} fp={fp} fn={fn} tp={tp}")
    print(pd.DataFrame(cm, index=["true_stay", "true_churn"], columns=["pred_stay", "pred_churn"]))
    print(f"ROC AUC={roc_auc_score(y_test, proba):.4f}  AP={average_precision_score(y_test, proba):.4f}")
    rep = classification_report(y_test, pred, output_dict=True)
    print(f"macro f1={rep['macro avg']['f1-score']:.4f} weighted f1={rep['weighted avg']['f1-score']:.4f}")

proba = probas["gbm"]
precision, recall, thresholds = precision_recall_curve(y_test, proba)
f1s = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
best = int(np.argmax(f1s[:-1]))
print(f"PR curve: {len(thresholds)} thresholds, best F1={f1s[best]:.4f} at t={thresholds[best]:.4f}")
fpr, tpr, roc_t = roc_curve(y_test, proba)
youden = int(np.argmax(tpr - fpr))
print(f"ROC: {len(fpr)} points, Youden t={roc_t[youden]:.4f} tpr={tpr[youden]:.4f} fpr={fpr[youden]:.4f}")

rows = []
for t in np.arange(0.1, 0.91, 0.1):
    pred_t = (proba >= t).astype(int)
    rows.append({
        "threshold": round(float(t), 1),
        "precision": precision_score(y_test, pred_t, zero_division=0),
        "recall": recall_score(y_test, pred_t),
        "f1": f1_score(y_test, pred_t),
        "flagged": int(pred_t.sum()),
    })
sweep = pd.DataFrame(rows)
print(sweep.round(4).to_string(index=False))
best_row = sweep.sort_values(["f1", "threshold"], ascending=[False, True]).iloc[0]
print(f"chosen threshold {best_row['threshold']} -> f1 {best_row['f1']:.4f}")
cost = {t: int(((proba >= t) & (y_test == 0)).sum() * 10 + ((proba < t) & (y_test == 1)).sum() * 50)
        for t in (0.2, 0.3, 0.4, 0.5)}
print("cost by threshold:", cost, "-> best", min(cost, key=cost.get))
agree = np.corrcoef(probas["logreg"], probas["gbm"])[0, 1]
print(f"model agreement (corr of probas): {agree:.4f}")
