import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

df = pd.read_csv("data/churn.csv").fillna(0)
X = df[["tenure", "monthly_charges", "total_charges", "support_calls"]]
y = df["churn"]
for it in [3, 5, 1000]:
    model = LogisticRegression(max_iter=it)  # unscaled features: lbfgs will not converge quickly
    model.fit(X, y)
    print(f"max_iter={it}: n_iter={model.n_iter_[0]} acc={accuracy_score(y, model.predict(X)):.4f}")
