import numpy as np
import pandas as pd

houses = pd.read_csv("data/houses.csv")
churn = pd.read_csv("data/churn.csv")

def missing_report(df, name):
    rate = df.isna().mean()
    rate = rate[rate > 0].sort_values(ascending=False)
    print(f"[{name}] {df.isna().any(axis=1).sum()} rows with NaN; per column:")
    for col, r in rate.items():
        print(f"   {col:16s} {r:7.2%}  ({df[col].isna().sum()} missing)")
    return rate

r1 = missing_report(houses, "houses")
r2 = missing_report(churn, "churn")
print(r1.round(5).to_dict())

fill_values = {
    "lot_size": houses["lot_size"].median(),
    "year_built": int(houses["year_built"].mode()[0]),
    "condition": "unknown",
}
print("fill values:", fill_values)
filled = houses.fillna(fill_values)
print(filled.isna().sum().sum(), filled["condition"].value_counts().to_dict())

# per-group fill
houses["lot_grp"] = houses["lot_size"].fillna(houses.groupby("neighborhood")["lot_size"].transform("mean"))
print(houses[["neighborhood", "lot_size", "lot_grp"]][houses["lot_size"].isna()].head(5).round(2))

# dropna with thresh / subset / how
print(len(houses.dropna()), len(houses.dropna(how="all")), len(houses.dropna(thresh=10)),
      len(houses.dropna(thresh=9)), len(houses.dropna(subset=["year_built", "condition"])))
print(houses.dropna(axis=1).columns.tolist())

# interpolation on an ordered series
s = pd.Series([1.0, np.nan, np.nan, 4.0, np.nan, 6.0, np.nan, np.nan, np.nan, 10.0, np.nan])
print(pd.DataFrame({
    "raw": s,
    "linear": s.interpolate(),
    "limit1": s.interpolate(limit=1),
    "both": s.interpolate(limit_direction="both"),
    "ffill": s.ffill(),
    "bfill_lim": s.bfill(limit=1),
    "nearest": s.interpolate(method="nearest"),
}))
ts = pd.Series([10.0, np.nan, 14.0, np.nan, np.nan, 20.0],
               index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-05",
                                     "2024-01-09", "2024-01-10"]))
print(pd.concat([ts, ts.interpolate(), ts.interpolate(method="time")], axis=1, keys=["raw", "lin", "time"]))

churn["monthly_charges"] = churn["monthly_charges"].fillna(churn.groupby("contract")["monthly_charges"].transform("median"))
churn["total_charges"] = churn["total_charges"].fillna(churn["monthly_charges"] * churn["tenure"])
print(churn.isna().sum().to_dict())
print(churn[["monthly_charges", "total_charges"]].describe().round(3))

m = houses[["area", "lot_size", "year_built"]].to_numpy()
print(np.isnan(m).sum(axis=0), np.nanmean(m, axis=0).round(3), np.nanstd(m, axis=0).round(3))
col_means = np.nanmean(m, axis=0)
idx = np.where(np.isnan(m))
m[idx] = np.take(col_means, idx[1])
print(np.isnan(m).sum(), m[:3].round(1))

flags = houses[["lot_size", "year_built", "condition"]].isna().astype(int).add_suffix("_missing")
print(flags.sum())
print(flags.value_counts().head())
combo = houses.assign(**flags)
print(combo.groupby("lot_size_missing")["price"].mean().round(2))
na_types = pd.Series([None, np.nan, pd.NA, pd.NaT, "x", 0], dtype=object)
print(na_types.isna().tolist(), na_types.notna().sum())
print(pd.Series([1, None, 3], dtype="Int64"), pd.Series([1.5, None]).fillna(0).tolist())
print(houses.replace({"condition": {"poor": np.nan}})["condition"].isna().mean().round(4))
