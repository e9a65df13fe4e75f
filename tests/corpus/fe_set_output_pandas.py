# Switching scikit-learn to pandas output part-way through, and a temporary config context.
import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

df = pd.read_csv("data/houses.csv")
num = ["area", "bedrooms", "lot_size"]
cat = ["neighborhood"]


def build():
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), cat),
    ])


out = build().fit_transform(df)
print("default output:", type(out).__name__, out.shape)
print(np.round(out[:2], 3))

with sklearn.config_context(transform_output="pandas"):
    out_ctx = build().fit_transform(df)
    print("inside context:", type(out_ctx).__name__)
    print(out_ctx.head(2).round(3).to_string())

out_after = build().fit_transform(df)
print("after context:", type(out_after).__name__)

sklearn.set_config(transform_output="pandas")
frame = build().fit_transform(df)
print("after set_config:", type(frame).__name__, list(frame.columns)[:4])
print(frame.describe().loc[["mean", "std"]].round(3).to_string())
scaled = StandardScaler().fit_transform(df[num].fillna(0))
print(type(scaled).__name__, scaled.columns.tolist())
sklearn.set_config(transform_output="default")
print("reset:", type(StandardScaler().fit_transform(df[num].fillna(0))).__name__)
