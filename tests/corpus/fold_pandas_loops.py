# Hot loops over a frame: scalar reads, writes through .loc / .iloc / .at, an in-place Series
# method, and a memoized user function with its own loop. The frame's later uses must see them.
import numpy as np
import pandas as pd

df = pd.DataFrame({"a": np.arange(300.0), "b": np.arange(300) % 7, "c": list("xyz") * 100})
s0 = df["a"].sum()
for i in range(300):
    df.loc[i, "a"] = df.at[i, "a"] * 2 + df.iat[i, 1]
for i in range(0, 300, 2):
    df.iloc[i, 1] = -1
for i in range(100):
    df.at[i, "c"] = "w"
s = df["a"].copy()
for k in range(100):
    s.clip(lower=10.0 + k, upper=500.0, inplace=True)


def weighted(frame):
    total = 0.0
    for j in range(120):
        total += frame["a"].iloc[j] * (j % 3)
    return total


print(s0, df["a"].sum(), df["b"].value_counts().sort_index().to_dict())
print(df.groupby("c")["a"].mean().round(6).to_dict(), round(float(s.sum()), 6))
print(round(weighted(df), 6), round(weighted(df.iloc[::-1].reset_index(drop=True)), 6))
rows = [r.a + r.b for r in df.itertuples()]
print(len(rows), round(sum(rows), 6))
