import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/churn.csv")
df["total_charges"] = df["total_charges"].fillna(0)
df["monthly_charges"] = df["monthly_charges"].fillna(df["monthly_charges"].mean())
df["churn"] = df["churn"].map({"Yes": 1, "No": 0})
X = pd.get_dummies(df.drop(columns=["customer_id", "churn"]), drop_first=True)
y = df["churn"]
print("features:", X.shape[1])
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=1)

rf = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0)
rf.fit(X_train, y_train)
print(f"train acc: {accuracy_score(y_train, rf.predict(X_train)):.4f}")
print(f"test acc:  {accuracy_score(y_test, rf.predict(X_test)):.4f}")
print(f"test auc:  {roc_auc_score(y_test, rf.predict_proba(X_test)[:, 1]):.4f}")
importances = pd.DataFrame({"feature": X.columns, "importance": rf.feature_importances_})
print(importances.sort_values("importance", ascending=False).head(10).to_string(index=False))
