# Hot loops (folded after STRATUM_FOLD_AFTER calls per site) that write into a traced array
# through views, through out= and in place: every later use must see every write, cold and warm.
import numpy as np

rng = np.random.default_rng(0)
a = rng.normal(size=(200, 50))
before = float(a.sum())
for i in range(200):
    row = a[i]
    row[i % 50] = i * 0.5
    row *= 1.0001
b = np.zeros(50)
for i in range(200):
    np.add(b, a[i], out=b)
flat = a.ravel()
for i in range(0, 10000, 97):
    flat[i] = -flat[i]
print(round(before, 6), round(float(a.sum()), 6), round(float(b.sum()), 6))
print(np.round(a.mean(axis=0)[:5], 6).tolist())
print(round(float(np.linalg.norm(a.copy())), 6), round(float(np.abs(a).max()), 6))
