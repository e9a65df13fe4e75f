"""pandas scalar access (df.at / .iloc) in a loop, building a list of per-row results."""
import numpy as np
import pandas as pd

rng = np.random.default_rng(1)
df = pd.DataFrame({"a": rng.normal(size=1500), "b": rng.integers(0, 10, size=1500),
                   "c": rng.normal(size=1500)})
out = []
for i in range(len(df)):
    a = df.at[i, "a"]
    b = df.iloc[i, 1]
    out.append(a * b + df.at[i, "c"])
res = pd.Series(out)
print(round(float(res.sum()), 6), len(out))
