import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

df = pd.read_csv("data/houses.csv")
X = df.drop(columns=["id", "price"])
y = df["price"]
num = X.select_dtypes(include="number").columns.tolist()
cat = X.select_dtypes(exclude="number").columns.tolist()
print("num:", num)
print("cat:", cat)

pre = ColumnTransformer([
    ("num", SimpleImputer(strategy="median"), num),
    ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                          OneHotEncoder(handle_unknown="ignore", sparse_output=False)), cat),
])
model = make_pipeline(pre, GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0))
cv = KFold(n_splits=3, shuffle=True, random_state=42)
res = cross_validate(model, X, y, cv=cv, scoring=["r2", "neg_mean_absolute_error"],
                     return_train_score=True)
for key in sorted(k for k in res if not k.endswith("_time")):
    vals = res[key]
    print(f"{key:28s} {np.mean(vals):.4f} {np.round(vals, 4)}")
