import numpy as np
import pandas as pd

CFG = {"clip_q": 0.99, "min_count": 30}


def load(path):
    df = pd.read_csv(path)
    df.columns = [c.strip().lower() for c in df.columns]
    return df


def numeric_summary(df, cols):
    out = {}
    for c in cols:
        s = df[c].dropna()
        out[c] = {"mean": s.mean(), "std": s.std(), "skew": s.skew(),
                  "p99": s.quantile(CFG["clip_q"]), "n": int(s.size)}
    return pd.DataFrame(out).T


def clip_outliers(df, cols):
    df = df.copy()
    for c in cols:
        hi = df[c].quantile(CFG["clip_q"])
        df[c] = df[c].clip(upper=hi)
    return df


def add_ratio(df, num, den, name):
    df[name] = df[num] / df[den]          # mutates the caller's frame
    return df[name].describe()


def category_table(df, col, target):
    t = df.groupby(col)[target].agg(["mean", "count"])
    return t[t["count"] >= CFG["min_count"]].sort_values("mean", ascending=False)


def fmt_row(name, stats):
    return f"{name:<14}" + " ".join(f"{k}={v:>12.3f}" for k, v in stats.items())


houses = load("data/houses.csv")
num_cols = [c for c in houses.columns if houses[c].dtype.kind in "if" and c != "id"]
cat_cols = [c for c in houses.columns if houses[c].dtype.kind not in "if"]
print("numeric:", num_cols)
print("categorical:", cat_cols)
summ = numeric_summary(houses, num_cols)
print(summ.round(3))
for name, row in summ.iterrows():
    print(fmt_row(name, row.to_dict()))

clipped = clip_outliers(houses, ["area", "lot_size", "price"])
print(numeric_summary(clipped, ["area", "lot_size", "price"]).round(3))
CFG["clip_q"] = 0.9
clipped90 = clip_outliers(houses, ["area", "lot_size", "price"])
print(numeric_summary(clipped90, ["area", "lot_size", "price"]).round(3))
print("max price at 0.99 vs 0.9:", clipped["price"].max(), clipped90["price"].max())

print(add_ratio(houses, "price", "area", "price_per_area").round(3))
print("columns now:", houses.columns.tolist())
print(add_ratio(houses, "lot_size", "area", "lot_ratio").round(3))

for col in cat_cols:
    tbl = category_table(houses, col, "price_per_area")
    print(f"== {col}: {len(tbl)} levels with >= {CFG['min_count']} rows")
    print(tbl.round(2))
CFG["min_count"] = 400
print(category_table(houses, "neighborhood", "price").round(1))

corr = houses[num_cols + ["price_per_area"]].corr()["price"].drop("price")
for c, v in corr.sort_values(key=np.abs, ascending=False).items():
    bar = "#" * int(abs(v) * 40)
    print(f"{c:>15} {v:+.4f} {bar}")
for c in num_cols:
    s = houses[c]
    print(f"{c}: min={s.min():.2f} max={s.max():.2f} nulls={s.isna().sum()} "
          f"uniq={s.nunique()} mode={s.mode().iloc[0]}")
