import pandas as pd

sales = pd.read_csv("data/sales.csv", parse_dates=["date"])
daily = sales.groupby(["date", "store"])["amount"].sum().unstack(fill_value=0.0)
print(daily.iloc[:3, :4])
print(daily.reset_index().columns.tolist()[:3])
daily.index.name = "day"
daily.columns.name = "shop"
print(daily.iloc[:3, :4])
print(daily.reset_index().columns.tolist()[:3])
print(daily.stack().reset_index().head(3))

s = sales.groupby("product")["units"].sum()
print(s.reset_index().columns.tolist())
s.name = "total_units"
s.index.name = "item"
print(s.reset_index().columns.tolist())
print(s.to_frame().head(2))

g = sales.groupby(["store", "product"])["amount"].mean()
print(g.reset_index().columns.tolist())
g.index.names = ["shop", "item"]
print(g.reset_index().columns.tolist())
print(g.head(3).round(3))
g.index = g.index.set_names("sku", level=1)
print(g.reset_index().columns.tolist())

frame = sales.head(6).copy()
frame.index = [f"r{i}" for i in range(6)]
print(frame[["store", "units"]])
frame.columns = [c.upper() for c in frame.columns]
print(frame[["STORE", "UNITS"]].T)
frame.attrs["source"] = "sales.csv"
print(frame.attrs, frame.head(1).attrs)
frame.index.name = "rid"
print(frame.reset_index().iloc[:2, :3])
frame.columns.name = "field"
print(frame.iloc[:2, :3])
print(frame.rename_axis(index="row", columns="col").iloc[:2, :3])
