# Callbacks with side effects inside costly library calls: a warm run must not skip them
import pandas as pd
import numpy as np

df = pd.DataFrame({"a": np.arange(300000) % 7, "b": np.arange(300000.0)})
seen = []


def tag(d):
    d["tagged"] = 1          # mutates the frame pipe hands it
    return d


out = df.pipe(tag)
print("tagged" in df.columns, out.shape)
res = df.groupby("a").apply(lambda g: print("group", g.name) or g.b.sum())
print(res.head(3).tolist())
tot = df.b.apply(lambda v: seen.append(v) or v * 2).sum()
print(tot, len(seen))
