import numpy as np
import pandas as pd

df = pd.read_csv("data/houses.csv")
df["price_k"] = df["price"] / 1000
df.loc[df["bedrooms"] >= 4, "big"] = True
df["big"] = df["big"].fillna(False).astype(bool)
df.loc[df["lot_size"].isna(), "lot_size"] = df["lot_size"].median()
df["condition"] = df["condition"].fillna("unknown")
df.rename(columns={"has_garage": "garage"}, inplace=True)
df.drop(columns=["id"], inplace=True)
df.dropna(subset=["year_built"], inplace=True)
df.sort_values(["price", "area"], ascending=False, inplace=True)
df.reset_index(drop=True, inplace=True)
del df["price"]
df.insert(0, "rank", np.arange(1, len(df) + 1))
df.iloc[0, df.columns.get_loc("area")] = 9999.0
df.at[1, "condition"] = "renovated"
df["neighborhood"] = df["neighborhood"].replace({"Downtown": "CBD"})
df.set_index("rank", inplace=True)
print(df.head(6))
print(df.dtypes)
print(df.shape, df["big"].sum(), df["condition"].value_counts().to_dict())
sub = df[df["garage"] == 1]
sub["price_k"] = sub["price_k"] * 2     # modifies a copy (copy-on-write)
print(df["price_k"].head(3).tolist(), sub["price_k"].head(3).tolist())
arr = df["price_k"].to_numpy()
print(arr.flags.writeable, round(float(arr.sum()), 3))
df.update(pd.DataFrame({"area": [1.0]}, index=[2]))
print(df.loc[2, "area"])
df.fillna({"year_built": 0}, inplace=True)
df["area"] = df["area"].clip(lower=500)
df.pop("big")
print(df.columns.tolist())
