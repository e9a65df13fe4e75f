import pandas as pd

sales = pd.read_csv("data/sales.csv", parse_dates=["date"])
stores = pd.read_csv("data/stores.csv")
sales = sales.merge(stores[["store", "region"]], on="store")
sales["month"] = sales["date"].dt.strftime("%Y-%m")

pt = sales.pivot_table(index=["region", "store"], columns="month", values="amount",
                       aggfunc="sum", fill_value=0).round(1)
print(pt.iloc[:, :4])
print("pivot shape:", pt.shape, "| index levels:", pt.index.names)

pt2 = pd.pivot_table(sales, index="product", columns="region", values=["units", "amount"],
                     aggfunc={"units": "sum", "amount": "mean"}, margins=True, margins_name="ALL")
print(pt2.round(2))
print(pt2.columns.tolist()[:5])

# melt back to long format
wide = pt.reset_index()
long = wide.melt(id_vars=["region", "store"], var_name="month", value_name="revenue")
print(long.head(6))
print(long.groupby("month")["revenue"].sum().head(3).round(2))
m2 = pd.melt(stores, id_vars="store", value_vars=["floor_m2", "opened"])
print(m2.sort_values(["store", "variable"]).head(6).to_string(index=False))

# stack / unstack with MultiIndex
g = sales.groupby(["region", "product", "discount"])["units"].sum()
print(g.head(8))
u = g.unstack("discount")
print(u.head(6))
print(u.stack().head(5))
print(u.columns.name, u.index.nlevels)
swapped = g.swaplevel(0, 1).sort_index()
print(swapped.loc["apples"].head(4))
print(g.xs("coffee", level="product").head(4))
print(g.loc[("north", "tea")])

# crosstab variants
ct = pd.crosstab(sales["region"], sales["product"])
print(ct)
ctn = pd.crosstab(sales["region"], sales["discount"], normalize="index").round(4)
print(ctn)
ctv = pd.crosstab([sales["region"], sales["store"]], sales["discount"] > 0,
                  values=sales["amount"], aggfunc="sum", margins=True).round(2)
print(ctv)

# MultiIndex columns from agg, flattened the way agents do it
agg = sales.groupby("store").agg({"amount": ["sum", "mean"], "units": ["min", "max"]})
print(agg.round(2))
agg.columns = ["_".join(c) for c in agg.columns]
print(agg.reset_index().head(3))
mi = pd.MultiIndex.from_product([["a", "b"], [1, 2, 3]], names=["letter", "num"])
frame = pd.DataFrame({"v": range(6)}, index=mi)
print(frame)
print(frame.unstack())
print(frame.T)
