# cross_validate with train scores and fitted estimators, then learning / validation curves.
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate, learning_curve, validation_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

df = pd.read_csv("data/churn.csv").dropna().head(2000)
y = (df["churn"] == "Yes").astype(int).to_numpy()
X = pd.get_dummies(df.drop(columns=["customer_id", "churn"]), drop_first=True, dtype=float)
print(f"{X.shape[0]} rows, {X.shape[1]} features")
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=11)

models = {
    "logreg": make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)),
    "tree_d4": DecisionTreeClassifier(max_depth=4, random_state=0),
    "tree_full": DecisionTreeClassifier(random_state=0),
}
summary = {}
fitted = {}
for name, model in models.items():
    res = cross_validate(model, X, y, cv=cv, scoring=["accuracy", "roc_auc"],
                         return_train_score=True, return_estimator=True)
    gap = res["train_roc_auc"].mean() - res["test_roc_auc"].mean()
    summary[name] = {"test_auc": res["test_roc_auc"].mean(), "train_auc": res["train_roc_auc"].mean(),
                     "test_acc": res["test_accuracy"].mean(), "gap": gap}
    fitted[name] = res["estimator"]
    print(f"{name:10s} test_auc={res['test_roc_auc'].mean():.4f} train_auc={res['train_roc_auc'].mean():.4f} gap={gap:.4f}")
    print(f"{'':10s} keys={sorted(k for k in res if not k.endswith('_time'))}")

for name, row in sorted(summary.items(), key=lambda kv: -kv[1]["test_auc"]):
    flag = "OVERFIT" if row["gap"] > 0.1 else "ok"
    print(f"{name:10s} {row['test_auc']:.4f} {flag}")

coefs = np.vstack([est[-1].coef_[0] for est in fitted["logreg"]])
coef_df = pd.DataFrame(coefs, columns=X.columns).T
coef_df["mean"] = coef_df.mean(axis=1)
coef_df["std"] = coef_df.iloc[:, :3].std(axis=1)
print(coef_df[["mean", "std"]].sort_values("mean").round(4).to_string())
depths = [est.get_depth() for est in fitted["tree_full"]]
leaves = [est.get_n_leaves() for est in fitted["tree_full"]]
print("full tree depths:", depths, "leaves:", leaves)
imp = pd.Series(np.mean([e.feature_importances_ for e in fitted["tree_d4"]], axis=0), index=X.columns)
print(imp.sort_values(ascending=False).head(5).round(4))

sizes, train_sc, val_sc = learning_curve(
    models["logreg"], X, y, cv=cv, train_sizes=[0.2, 0.5, 1.0], scoring="roc_auc")
for n, tr, va in zip(sizes, train_sc.mean(axis=1), val_sc.mean(axis=1)):
    print(f"n={n:5d} train={tr:.4f} val={va:.4f}")

depth_range = [1, 3, 6, 12]
tr, va = validation_curve(DecisionTreeClassifier(random_state=0), X, y, param_name="max_depth",
                          param_range=depth_range, cv=cv, scoring="roc_auc")
curve = pd.DataFrame({"depth": depth_range, "train": tr.mean(axis=1), "val": va.mean(axis=1)})
print(curve.round(4).to_string(index=False))
print("best depth:", int(curve.loc[curve["val"].idxmax(), "depth"]))
