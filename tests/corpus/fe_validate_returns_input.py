# Helper functions that check a frame and hand the same object back (agents chain them)
import numpy as np
import pandas as pd


def check_frame(df, required):
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise KeyError(f"missing columns: {missing}")
    dup_rows = df.astype(str).duplicated().sum()
    if dup_rows > len(df) // 2:
        raise ValueError(f"too many duplicate rows: {dup_rows}")
    return df


def with_summary(df):
    stats = df.select_dtypes("number").agg(["mean", "std"]).round(3)
    return df, stats


def standardize(arr):
    if not np.isfinite(arr).all():
        raise ValueError("non-finite values")
    return arr


sales = pd.read_csv("data/sales.csv")
checked = check_frame(sales, ["amount", "units"])
print("same object:", checked is sales)
checked["amount_k"] = checked["amount"] / 1000
print(sales.columns.tolist())
print(sales["amount_k"].sum().round(4))

frame, stats = with_summary(sales)
print(frame is sales)
print(stats)
frame.loc[frame["units"] > 20, "units"] = 20
print(sales["units"].max(), sales["units"].sum())

arr = np.load("data/sensors.npy")
same = standardize(arr)
same[:, 0] = 0.0
print(same is arr, float(arr[:, 0].sum()), round(float(arr.sum()), 4))
try:
    check_frame(sales, ["amount", "profit"])
except KeyError as e:
    print("caught:", e)
