import numpy as np
import pandas as pd

df = pd.read_csv("data/churn.csv")
df["churned"] = (df["churn"] == "Yes").astype(int)
print(df.shape)

summary = df.groupby("contract").agg(
    n=("customer_id", "count"),
    churn_rate=("churned", "mean"),
    avg_tenure=("tenure", "mean"),
    med_monthly=("monthly_charges", "median"),
    max_calls=("support_calls", "max"),
    total_nan=("total_charges", lambda s: s.isna().sum()),
)
print(summary.round(4))

df["tenure_z"] = df.groupby("contract")["tenure"].transform(lambda s: (s - s.mean()) / s.std())
df["monthly_pct_of_grp"] = df["monthly_charges"] / df.groupby("internet")["monthly_charges"].transform("sum")
df["grp_size"] = df.groupby(["contract", "internet"])["customer_id"].transform("size")
print(df[["customer_id", "contract", "tenure_z", "monthly_pct_of_grp", "grp_size"]].head(6).round(5))

df["order_in_pay"] = df.groupby("payment_method").cumcount()
df["calls_rank"] = df.groupby("contract")["support_calls"].rank(method="dense", ascending=False)
df["tenure_pct_rank"] = df.groupby("internet")["tenure"].rank(pct=True).round(4)
print(df[["payment_method", "order_in_pay", "calls_rank", "tenure_pct_rank"]].head(8))

big = df.groupby("payment_method").filter(lambda g: g["churned"].mean() > 0.3)
print("after filter:", big.shape, sorted(big["payment_method"].unique()))

def top_n(g, n=2):
    return g.nlargest(n, "monthly_charges")[["customer_id", "monthly_charges"]]

top = df.groupby("contract", group_keys=True)[["customer_id", "monthly_charges"]].apply(top_n)
print(top)

df["tenure_bin"] = pd.cut(df["tenure"], bins=[-1, 12, 24, 48, 72], labels=["0-12", "13-24", "25-48", "49-72"])
df["charge_q"] = pd.qcut(df["monthly_charges"], q=5, labels=False, duplicates="drop")
print(df["tenure_bin"].value_counts(sort=False))
print(df.groupby(["tenure_bin", "charge_q"], observed=True)["churned"].mean().unstack().round(3))
bins_out, edges = pd.qcut(df["tenure"], 4, retbins=True)
print(edges.round(3), bins_out.cat.categories.tolist())
print(pd.cut(df["support_calls"], 3).value_counts().sort_index())

for col in ["contract", "internet", "payment_method", "gender"]:
    rates = df.groupby(col)["churned"].agg(["mean", "size"])
    best = rates["mean"].idxmin()
    print(f"{col:15s} lowest churn: {best} ({rates.loc[best, 'mean']:.3%} of {rates.loc[best, 'size']})")

cum = df.sort_values("tenure").groupby("contract")["churned"].cumsum()
print(cum.groupby(df["contract"]).max().to_dict())
print(df.groupby("contract")["monthly_charges"].shift(1).head(5).tolist())
print(df.groupby("internet")["monthly_charges"].diff().abs().mean().round(6))
ngrp = df.groupby(["gender", "senior"]).ngroup()
print(ngrp.value_counts().sort_index().to_dict())
print(df.groupby("contract")["tenure"].describe().round(2))
first_last = df.groupby("internet").agg(first_id=("customer_id", "first"), last_id=("customer_id", "last"))
print(first_last)
print(df.groupby("contract").size().pipe(lambda s: s / s.sum()).round(4))
print(np.round(df.groupby("contract")["tenure"].quantile([0.25, 0.75]).unstack(), 2))
