import pandas as pd

sales = pd.read_csv("data/sales.csv")
stores = pd.read_csv("data/stores.csv")
merged = sales.merge(stores, on="store", how="left", validate="many_to_one")
print(merged.shape)
print(merged.head())
region = merged.groupby("region", as_index=False)["amount"].sum().sort_values("amount")
print(region)
per_m2 = merged.groupby(["store", "floor_m2"])["amount"].sum().reset_index()
per_m2["per_m2"] = per_m2["amount"] / per_m2["floor_m2"]
print(per_m2.round(3))
h1 = sales[sales["date"] < "2023-07-01"].assign(half="H1")
h2 = sales[sales["date"] >= "2023-07-01"].assign(half="H2")
both = pd.concat([h1, h2], ignore_index=True)
print(both["half"].value_counts().sort_index())
wide = pd.concat([h1.groupby("product")["units"].sum(), h2.groupby("product")["units"].sum()],
                 axis=1, keys=["H1", "H2"])
wide["growth"] = (wide["H2"] / wide["H1"] - 1).round(4)
print(wide)
dummies = pd.get_dummies(merged[["region", "product"]].head(8), prefix=["r", "p"])
print(dummies)
outer = stores.merge(pd.DataFrame({"store": ["S01", "S99"], "manager": ["Ann", "Zoë"]}),
                     on="store", how="outer", indicator=True)
print(outer)
