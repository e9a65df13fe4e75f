import pandas as pd

sales = pd.read_csv("data/sales.csv", parse_dates=["date"])
print(sales.dtypes)
sales["month"] = sales["date"].dt.month
sales["weekday"] = sales["date"].dt.day_name()
sales["quarter"] = sales["date"].dt.quarter
print(sales.groupby("month")["amount"].sum().round(2))
print(sales.groupby("weekday")["units"].mean().round(3).sort_index())
monthly = sales.set_index("date").resample("ME")["amount"].agg(["sum", "count"])
print(monthly.round(2))
weekly = sales.set_index("date")["amount"].resample("W").sum()
print(weekly.rolling(4).mean().dropna().head(6).round(3))
print(sales["date"].min(), sales["date"].max(), (sales["date"].max() - sales["date"].min()).days)
sales["days_since_start"] = (sales["date"] - pd.Timestamp("2023-01-01")).dt.days
print(sales[["date", "days_since_start"]].drop_duplicates("date").tail(3))
print(pd.to_datetime(["2023-03-01", "2023-03-15"]).strftime("%d/%m/%Y").tolist())
