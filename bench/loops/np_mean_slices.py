"""np.mean / np.std over slices of a larger array, one row of results per slice."""
import numpy as np

rng = np.random.default_rng(2)
x = rng.normal(size=(4000, 16))
rows = []
for start in range(0, 4000 - 20, 2):
    window = x[start:start + 20]
    rows.append((np.mean(window), np.std(window[:, 0]), np.max(window[:, 1])))
arr = np.array(rows)
print(arr.shape, np.round(arr.sum(axis=0), 6).tolist())
