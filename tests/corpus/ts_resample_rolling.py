import numpy as np
import pandas as pd

sales = pd.read_csv("data/sales.csv", parse_dates=["date"])
print(f"loaded {len(sales)} rows, {sales['date'].nunique()} distinct days")
daily = sales.groupby("date")["amount"].sum().asfreq("D", fill_value=0.0)
daily.index.name = "day"
print(daily.head(10).round(2))
print("index freq:", daily.index.freq, "| dtype:", daily.index.dtype)

# date parts
parts = pd.DataFrame({
    "dow": daily.index.dayofweek,
    "week": daily.index.isocalendar().week.to_numpy(),
    "month": daily.index.month,
    "is_month_end": daily.index.is_month_end,
}, index=daily.index)
print(parts.head(8))
print(parts["is_month_end"].sum(), "month ends")

# rolling / expanding / ewm
feat = pd.DataFrame({"amount": daily})
for w in (3, 7, 14):
    feat[f"roll_mean_{w}"] = daily.rolling(w, min_periods=1).mean()
    feat[f"roll_std_{w}"] = daily.rolling(w).std()
feat["expanding_max"] = daily.expanding().max()
feat["ewm_05"] = daily.ewm(alpha=0.5, adjust=False).mean()
feat["ewm_span10"] = daily.ewm(span=10).mean()
print(feat.iloc[10:16].round(3).to_string())

# shift / diff / pct_change
lagged = pd.DataFrame({
    "amount": daily,
    "lag1": daily.shift(1),
    "lag7": daily.shift(7),
    "diff1": daily.diff(),
    "pct": daily.pct_change(fill_method=None).replace([np.inf, -np.inf], np.nan),
})
print(lagged.iloc[5:12].round(4))
print("corr with lag1:", round(lagged["amount"].corr(lagged["lag1"]), 6))
print("corr with lag7:", round(lagged["amount"].corr(lagged["lag7"]), 6))

# resample at several frequencies
for rule in ["W", "ME", "QE"]:
    r = daily.resample(rule).agg(["sum", "mean", "max"])
    print(f"--- resample {rule}: {r.shape}")
    print(r.head(4).round(2))

weekly = daily.resample("W-MON").sum()
print(weekly.describe().round(3))
print(weekly.idxmax(), round(weekly.max(), 2))
monthly = sales.set_index("date").groupby("store").resample("ME")["units"].sum()
print(monthly.unstack(level=0).iloc[:3])
print(daily.loc["2023-03-01":"2023-03-07"].round(2).tolist())
print(daily.at_time("00:00").shape, daily.first("10D").sum().round(2) if hasattr(daily, "first") else None)
q = daily.groupby(daily.index.quarter).agg(["count", "sum"]).round(1)
q.index = [f"Q{i}" for i in q.index]
print(q)
