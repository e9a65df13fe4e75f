import numpy as np
import pandas as pd

df = pd.read_csv("data/churn.csv")
loyal = df.query("tenure > 48 and contract == 'two-year'")
print(len(loyal), loyal["churn"].value_counts().to_dict())
min_calls = 3
print(df.query("support_calls >= @min_calls")[["customer_id", "support_calls", "churn"]].head())
df["segment"] = df["tenure"].apply(lambda t: "new" if t < 12 else ("mid" if t < 36 else "long"))
df["charge_band"] = pd.cut(df["monthly_charges"], bins=[0, 40, 80, 200], labels=["low", "mid", "high"])
print(df.groupby(["segment", "charge_band"], observed=True)["churn"].apply(lambda s: (s == "Yes").mean()).round(4))
print(df.sort_values(["monthly_charges", "customer_id"], ascending=[False, True]).head(5))
print(df.loc[df["senior"] == 1, ["tenure", "monthly_charges"]].mean().round(4))
print(df.iloc[100:105, [0, 1, 4]])
print(df.nlargest(3, "total_charges")[["customer_id", "total_charges"]])
row_fn = lambda r: f"{r['customer_id']}:{r['contract'][:3]}"
print(df.head(4).apply(row_fn, axis=1).tolist())
df["log_total"] = np.log1p(df["total_charges"])
print(df["log_total"].describe().round(4))
print(df.select_dtypes("number").agg(["min", "max"]).T)
