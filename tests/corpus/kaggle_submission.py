import os

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.metrics import mean_squared_log_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

SEED = 42
DATA_DIR = "data"
OUT_DIR = "submissions"

full = pd.read_csv(os.path.join(DATA_DIR, "houses.csv"))
train, test = train_test_split(full, test_size=0.2, random_state=SEED)
test = test.drop(columns=["price"])
print(f"train {train.shape}, test {test.shape}")


def engineer(df):
    df = df.copy()
    df["age"] = 2024 - df["year_built"]
    df["total_rooms"] = df["bedrooms"] + df["bathrooms"]
    df["log_lot"] = np.log1p(df["lot_size"])
    return df


train, test = engineer(train), engineer(test)
features = [c for c in train.columns if c not in ("id", "price")]
cat = ["neighborhood", "condition"]
num = [c for c in features if c not in cat]
pre = ColumnTransformer([
    ("num", SimpleImputer(strategy="median"), num),
    ("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                      ("enc", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1))]), cat),
])
model = Pipeline([("pre", pre), ("rf", RandomForestRegressor(n_estimators=30, min_samples_leaf=2, random_state=SEED))])
X_tr, X_va, y_tr, y_va = train_test_split(train[features], np.log1p(train["price"]), test_size=0.2, random_state=SEED)
model.fit(X_tr, y_tr)
rmsle = np.sqrt(mean_squared_log_error(np.expm1(y_va), np.expm1(model.predict(X_va))))
print(f"validation RMSLE: {rmsle:.5f}")
model.fit(train[features], np.log1p(train["price"]))
preds = np.expm1(model.predict(test[features]))
os.makedirs(OUT_DIR, exist_ok=True)
sub = pd.DataFrame({"id": test["id"], "price": preds.round(2)}).sort_values("id")
sub.to_csv(os.path.join(OUT_DIR, "submission.csv"), index=False)
print(sub.head())
print("wrote", len(sub), "rows")
