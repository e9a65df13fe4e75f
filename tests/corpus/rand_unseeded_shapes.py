# Unseeded randomness: values differ run to run, so only deterministic facts are printed.
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

a = np.random.rand(100, 3)
print(a.shape, a.dtype, bool(((a >= 0) & (a < 1)).all()))
b = np.random.rand(100, 3)
print("two draws differ:", bool((a != b).any()))
perm = np.random.permutation(10)
print(sorted(perm.tolist()) == list(range(10)))
rng = np.random.default_rng()
print(rng.normal(size=(4, 2)).shape, rng.integers(0, 5, 1000).max() <= 4)
df = pd.read_csv("data/flowers.csv")
s = df.sample(frac=0.5)
print(len(s), sorted(s.columns.tolist()), s.index.is_unique)
tr, te = train_test_split(df, test_size=0.2)
print(len(tr), len(te), len(set(tr.index) & set(te.index)))
noise = np.random.normal(size=len(df))
df["noise"] = noise
print(df.shape, df["noise"].notna().all())
