import pandas as pd

sales = pd.read_csv("data/sales.csv")
stores = pd.read_csv("data/stores.csv")
targets = pd.DataFrame({
    "store": ["S01", "S02", "S03", "S09", "S03"],
    "target": [40000, 35000, 30000, 10000, 31000],
})
print(targets)

m = stores.merge(targets, on="store", how="outer", indicator=True)
print(m)
print(m["_merge"].value_counts())
only_left = m.loc[m["_merge"] == "left_only", "store"].tolist()
print("stores without target:", only_left)

for how in ["inner", "left", "right", "outer"]:
    r = stores.merge(targets, on="store", how=how, indicator="src")
    print(f"{how:6s} -> {r.shape} {r['src'].value_counts().to_dict()}")

for validate in ["one_to_one", "one_to_many", "many_to_one", "many_to_many"]:
    try:
        r = stores.merge(targets, on="store", validate=validate)
        print(f"validate={validate}: ok, {len(r)} rows")
    except pd.errors.MergeError as e:
        print(f"validate={validate}: MergeError: {e}")

dedup = targets.drop_duplicates("store", keep="last")
print(dedup)
per_store = sales.groupby("store", as_index=False)["amount"].sum()
perf = per_store.merge(dedup, on="store", how="left", validate="1:1")
perf["pct_of_target"] = (perf["amount"] / perf["target"] * 100).round(2)
print(perf)

# many-to-many explosion check
left = pd.DataFrame({"k": ["a", "a", "b", "c"], "x": [1, 2, 3, 4]})
right = pd.DataFrame({"k": ["a", "a", "b", "d"], "y": [10, 20, 30, 40]})
mm = left.merge(right, on="k", how="outer", indicator=True, sort=True)
print(mm)
print("rows:", len(left), len(right), "->", len(mm))
j = left.set_index("k").join(right.set_index("k"), how="inner", lsuffix="_l")
print(j)
s = left.merge(right, left_on="x", right_on=right["y"] // 10, suffixes=("_left", "_right"))
print(s)

# concat with keys
q1 = sales[sales["date"] < "2023-04-01"].groupby("product")["units"].sum()
q2 = sales[(sales["date"] >= "2023-04-01") & (sales["date"] < "2023-07-01")].groupby("product")["units"].sum()
both = pd.concat([q1, q2], keys=["Q1", "Q2"], names=["quarter", "product"])
print(both.head(12))
print(both.unstack(0).assign(delta=lambda d: d["Q2"] - d["Q1"]))
frames = {s: g.head(2) for s, g in sales.groupby("store")}
stacked = pd.concat(frames, names=["store_key", "row"])
print(stacked.iloc[:6, :4])
print(stacked.index.get_level_values(0).unique().tolist())
side = pd.concat([stores.set_index("store"), targets.drop_duplicates("store").set_index("store")],
                 axis=1, join="inner")
print(side)
