import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix, f1_score,
                             roc_auc_score)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

df = pd.read_csv("data/churn.csv")
print(df.shape)
print(df["churn"].value_counts())
y = (df["churn"] == "Yes").astype(int)
X = df.drop(columns=["customer_id", "churn"])
num_cols = ["tenure", "monthly_charges", "total_charges", "senior", "support_calls"]
cat_cols = ["contract", "payment_method", "internet", "gender"]

preprocess = ColumnTransformer([
    ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), num_cols),
    ("cat", OneHotEncoder(handle_unknown="ignore"), cat_cols),
])
clf = Pipeline([("prep", preprocess), ("lr", LogisticRegression(max_iter=1000, C=1.0))])
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
clf.fit(X_train, y_train)
pred = clf.predict(X_test)
proba = clf.predict_proba(X_test)[:, 1]
print(f"accuracy: {accuracy_score(y_test, pred):.4f}")
print(f"f1:       {f1_score(y_test, pred):.4f}")
print(f"roc_auc:  {roc_auc_score(y_test, proba):.4f}")
print(classification_report(y_test, pred, target_names=["stay", "churn"], digits=4))
print(confusion_matrix(y_test, pred))
