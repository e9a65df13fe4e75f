import numpy as np
import pandas as pd

df = pd.read_csv("data/stores.csv")
df["score"] = 0.0
print("step 0\n", df, sep="")
steps = [
    ("bump north", lambda d: d.loc[d["region"] == "north", "score"].__len__()),
]
for i in range(1, 6):
    if i == 1:
        df.loc[df["region"] == "north", "score"] += 1.5
    elif i == 2:
        df["score"] = df["score"] + df["floor_m2"] / 1000
    elif i == 3:
        df.iloc[0, df.columns.get_loc("opened")] = 1999
        df.at[df.index[-1], "region"] = "far-west"
    elif i == 4:
        df.loc[len(df)] = ["S09", "central", 300, 2021, 0.0]
    else:
        df.drop(index=2, inplace=True)
        df.sort_values("score", ascending=False, inplace=True)
    print(f"step {i}: rows={len(df)} score_sum={df['score'].sum():.4f} "
          f"mean_floor={df['floor_m2'].mean():.2f}")
    print(df.groupby("region")["score"].agg(["count", "sum"]).round(3))

sales = pd.read_csv("data/sales.csv")
stats = []
for rnd in range(4):
    sales.loc[sales["units"] > 15 - rnd, "amount"] *= 0.9
    sales.loc[sales.index % 7 == rnd, "discount"] = 0.25
    g = sales.groupby(["store", "product"]).agg(total=("amount", "sum"), disc=("discount", "mean"))
    stats.append(round(g["total"].sum(), 2))
    print(f"round {rnd}: total={g['total'].sum():.2f} top={g['total'].idxmax()} "
          f"mean_disc={g['disc'].mean():.5f}")
    print(g.sort_values("total", ascending=False).head(2).round(3))
print(stats)

arr = sales[["units", "amount"]].to_numpy(copy=True)
for k in range(3):
    arr[:, 1] -= arr[:, 1].mean()
    arr[arr[:, 0] > 12, 0] = 12
    print(k, arr.sum(axis=0).round(4), np.abs(arr[:, 1]).max().round(4))
s = sales["units"].copy()
for k in range(3):
    s.iloc[k] = -1
    s[s > 20] = 20
    print(k, s.value_counts().sort_index().tail(3).to_dict(), s.sum())
sales.iat[0, sales.columns.get_loc("units")] = 999
print(sales.head(2))
print(sales.describe().round(3))
