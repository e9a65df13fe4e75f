import pandas as pd

sales = pd.read_csv("data/sales.csv")
by_store = sales.groupby("store").agg(
    revenue=("amount", "sum"), orders=("amount", "size"), avg_units=("units", "mean"),
    max_discount=("discount", "max"),
)
print(by_store.round(2))
print(sales.groupby(["store", "product"])["amount"].sum().unstack(fill_value=0).round(1))
pt = pd.pivot_table(sales, index="product", columns="discount", values="units", aggfunc="sum",
                    fill_value=0, margins=True)
print(pt)
top = sales.groupby("product")["amount"].agg(["sum", "mean", "std", "count"]).sort_values("sum", ascending=False)
print(top.round(3))
sales["rank_in_store"] = sales.groupby("store")["amount"].rank(method="first", ascending=False)
print(sales[sales["rank_in_store"] <= 2].sort_values(["store", "rank_in_store"]))
print(sales.groupby("store")["amount"].transform("mean").head().round(4))
