"""
Calling aggregations by name
============================

Aggregations chosen at run time through ``getattr``, and bound methods kept for later.
"""
import pandas as pd

sales = pd.read_csv("data/sales.csv")
AGGS = ["sum", "mean", "max", "min", "count", "median", "std", "nunique"]

grouped = sales.drop(columns=["date", "product"]).groupby("store")
for agg in AGGS:
    result = getattr(grouped, agg)()
    print(f"--- {agg}")
    print(result[["units", "amount"]].round(2).head(3))

for agg in ["sum", "mean", "max"]:
    print(agg, getattr(sales.groupby(["store", "product"])["units"], agg)().round(3).iloc[:4].tolist())

numeric = sales[["units", "unit_price", "amount"]]
print(getattr(numeric, "sum")().round(2).to_dict())
print({name: round(float(getattr(numeric["amount"], name)()), 3) for name in ["mean", "var", "skew", "kurt"]})

summary = numeric.describe
total = numeric["units"].sum
col_mean = sales["amount"].mean
numeric = numeric[numeric["units"] > 15]
print("describe kept from before the filter:")
print(summary().round(2))
print("total units (bound before filter):", total(), "after:", numeric["units"].sum())
sales.loc[sales.index[:100], "amount"] = 0.0
print("mean amount via kept method:", round(col_mean(), 4), "fresh:", round(sales["amount"].mean(), 4))

methods = {name: getattr(pd.Series, name) for name in ["cumsum", "cummax", "diff"]}
s = pd.Series([3, 1, 4, 1, 5, 9, 2, 6])
for name, method in methods.items():
    print(name, method(s).tolist())

op = getattr(sales.groupby("product")["amount"], "agg")
print(op(["sum", "size"]).round(2).head(3))
