import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

df = pd.read_csv("data/churn.csv").dropna()
y = df.pop("churn").eq("Yes").astype(int)
X = pd.get_dummies(df.drop(columns="customer_id"), dtype=float)
print(f"X: {X.shape}, positive rate {y.mean():.4f}")

models = {
    "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
    "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15)),
    "nb": GaussianNB(),
    "tree": DecisionTreeClassifier(max_depth=5, random_state=0),
    "rf": RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0),
    "gb": GradientBoostingClassifier(n_estimators=25, random_state=0),
}
results = []
for name, model in models.items():
    scores = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    results.append((name, scores.mean(), scores.std()))
    print(f"{name:8s} auc={scores.mean():.4f} (+/- {scores.std():.4f})")
table = pd.DataFrame(results, columns=["model", "auc", "std"]).sort_values("auc", ascending=False)
print(table.reset_index(drop=True))
print("winner:", table.iloc[0]["model"])
