"""
Comparing metrics through scorer objects
========================================

``get_scorer`` returns the scorer behind a scoring string; ``make_scorer`` builds one
from a metric function.
"""
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import fbeta_score, get_scorer, log_loss, make_scorer, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42, stratify=y)

clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
clf.fit(X_train, y_train)

SCORING_NAMES = ["accuracy", "balanced_accuracy", "f1", "precision", "recall",
                 "roc_auc", "average_precision", "neg_log_loss", "neg_brier_score"]

print("Built-in scorers")
for name in SCORING_NAMES:
    scorer = get_scorer(name)
    print(f"  {name:>20}: {scorer(clf, X_test, y_test): .4f}")

custom = {
    "f2": make_scorer(fbeta_score, beta=2),
    "f0.5": make_scorer(fbeta_score, beta=0.5),
    "specificity": make_scorer(recall_score, pos_label=0),
    "log_loss": make_scorer(log_loss, greater_is_better=False, response_method="predict_proba"),
}
print("Custom scorers")
for name, scorer in custom.items():
    print(f"  {name:>20}: {scorer(clf, X_test, y_test): .4f}")

print("Same scorers on the training split")
results = {name: get_scorer(name)(clf, X_train, y_train) for name in SCORING_NAMES[:4]}
for name, value in sorted(results.items(), key=lambda kv: -kv[1]):
    print(f"  {name:>20}: {value:.4f}")

print(repr(custom["f2"]))
print(repr(get_scorer("roc_auc")))
