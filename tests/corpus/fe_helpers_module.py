import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from helpers_fe import churn_features, log_transform, report

df = pd.read_csv("data/churn.csv")
df = churn_features(df)
y = df["churn"].eq("Yes").astype(int)
num = ["tenure", "monthly_charges", "total_charges", "avg_charge", "calls_per_year", "long_term"]
cat = ["contract", "internet"]
pre = ColumnTransformer([
    ("num", Pipeline([("imp", SimpleImputer()), ("log", FunctionTransformer(log_transform))]), num),
    ("cat", OneHotEncoder(), cat),
])
scores = {}
for depth in [4, 8]:
    pipe = Pipeline([("pre", pre), ("rf", RandomForestClassifier(n_estimators=20, max_depth=depth, random_state=0))])
    scores[depth] = report(f"rf depth={depth}", cross_val_score(pipe, df[num + cat], y, cv=3, scoring="accuracy"))
print("best depth:", max(scores, key=scores.get))
print(np.round(log_transform(df[num].head(3).to_numpy()), 4))
