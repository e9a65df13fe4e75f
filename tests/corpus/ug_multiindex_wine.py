"""
Reshaping with a MultiIndex
===========================
"""
import numpy as np
import pandas as pd
from pandas import MultiIndex
from sklearn.datasets import load_wine

wine = load_wine(as_frame=True)
df = wine.frame.copy()
df["cultivar"] = df["target"].map(dict(enumerate(wine.target_names)))
df["alcohol_band"] = pd.cut(df["alcohol"], bins=[0, 12.5, 13.5, 20], labels=["low", "mid", "high"])

stats = df.groupby(["cultivar", "alcohol_band"], observed=True)[["color_intensity", "hue"]].agg(["mean", "count"])
print(stats.round(3))
print(stats.columns.tolist()[:3])
flat = stats.copy()
flat.columns = ["_".join(c) for c in flat.columns]
print(flat.reset_index().head(4))

wide = df.pivot_table(index="cultivar", columns="alcohol_band", values="proline",
                      aggfunc="median", observed=False)
print(wide)
long = wide.stack(future_stack=True).rename("proline").reset_index()
print(long.head(5))

idx = MultiIndex.from_product([wine.target_names, ["min", "max"]], names=["cultivar", "stat"])
rows = []
for name, stat in idx:
    col = df.loc[df["cultivar"] == name, "magnesium"]
    rows.append(getattr(col, stat)())
ranges = pd.Series(rows, index=idx, name="magnesium")
print(ranges.unstack())
print(ranges.loc[(slice(None), "max")].to_dict())
print(np.round(df.groupby("cultivar")["flavanoids"].quantile([0.25, 0.75]).unstack(), 3))
swapped = stats.swaplevel(0, 1).sort_index()
print(swapped.index[:4].tolist())
