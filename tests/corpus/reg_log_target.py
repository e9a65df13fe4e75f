import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_percentage_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline


def load():
    df = pd.read_csv("data/houses.csv")
    df = df[df["price"] > 0]
    return df


df = load()
X = df[["area", "bedrooms", "bathrooms", "year_built", "lot_size"]]
y = df["price"]
Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=3)
plain = make_pipeline(SimpleImputer(), LinearRegression()).fit(Xtr, ytr)
logm = TransformedTargetRegressor(regressor=make_pipeline(SimpleImputer(), LinearRegression()),
                                  func=np.log1p, inverse_func=np.expm1).fit(Xtr, ytr)
for name, m in [("plain", plain), ("log-target", logm)]:
    mape = mean_absolute_percentage_error(yte, m.predict(Xte))
    print(f"{name:10s} MAPE={mape:.5f}")
print(np.round(logm.predict(Xte.head()), 1))
