import numpy as np
import pandas as pd

rng = np.random.default_rng(123)
idx = pd.date_range("2024-01-01 00:00", periods=24 * 21, freq="h", tz="UTC")
temp = 10 + 5 * np.sin(np.arange(len(idx)) * 2 * np.pi / 24) + rng.normal(0, 0.7, len(idx))
load = 100 + np.cumsum(rng.normal(0, 1.5, len(idx)))
df = pd.DataFrame({"temp": temp, "load": load}, index=idx)
df.iloc[rng.choice(len(df), 12, replace=False), 0] = np.nan
print(df.head())
print(df.index.tz, df.index.freqstr, len(df))

local = df.tz_convert("Europe/Paris")
print(local.index[:3])
print("hours with missing temp:", int(df["temp"].isna().sum()))

df["temp_filled"] = df["temp"].interpolate(method="time")
daily = df.resample("D").agg({"temp": ["min", "max", "mean"], "load": "last"})
print(daily.head(5).round(3))
print(daily.columns.tolist())

df["hour"] = df.index.hour
df["weekday"] = df.index.day_name()
profile = df.groupby("hour")["temp_filled"].mean()
print(profile.round(3).to_string())
by_day = df.pivot_table(index="weekday", values="load", aggfunc=["mean", "std"])
print(by_day.round(2))

roll = df["load"].rolling("6h").mean()
print(roll.iloc[:8].round(4))
centered = df["temp_filled"].rolling(5, center=True).median()
print(centered.dropna().head(3).round(4))
shifted = df["load"].shift(freq="2h")
print(shifted.index[:2], round(float(shifted.iloc[0]), 4))
anoms = df[(df["load"] - roll).abs() > 3]
print(f"{len(anoms)} anomalies; first at {anoms.index.min() if len(anoms) else None}")
period = df.index.to_period("W")
print(pd.Series(period).value_counts().sort_index())
td = df.index.to_series().diff().dropna()
print(td.value_counts())
print((df.index[-1] - df.index[0]), (df.index[-1] - df.index[0]).total_seconds() / 3600)
