import sys
import traceback

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

df = pd.read_csv("data/houses.csv")
candidates = [["area"], ["area", "lot_size"], ["area", "missing_col"], ["bedrooms", "bathrooms"]]
for cols in candidates:
    try:
        X = df[cols]
        m = LinearRegression().fit(X, df["price"])
        print(cols, "r2 =", round(m.score(X, df["price"]), 5))
    except Exception as exc:
        print(f"{cols} failed: {type(exc).__name__}")
        traceback.print_exc()
try:
    np.linalg.inv(np.zeros((2, 2)))
except np.linalg.LinAlgError:
    traceback.print_exc(file=sys.stdout)
print("done")
