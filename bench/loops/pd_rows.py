"""A per-row loop over a frame (iterrows) building a list of dict results."""
import numpy as np
import pandas as pd

rng = np.random.default_rng(3)
df = pd.DataFrame({"x": rng.normal(size=2000), "g": rng.integers(0, 5, size=2000)})
results = []
for idx, row in df.iterrows():
    results.append({"i": idx, "y": row["x"] ** 2, "g": int(row["g"])})
out = pd.DataFrame(results)
print(out.groupby("g")["y"].sum().round(6).tolist())
