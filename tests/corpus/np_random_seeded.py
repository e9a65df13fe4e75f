import random

import numpy as np

np.random.seed(42)
print(np.random.rand(3))
print(np.random.randint(0, 100, size=5))
print(np.random.normal(0, 1, (2, 3)).round(6))
perm = np.random.permutation(10)
print(perm)
rng = np.random.default_rng(7)
print(rng.integers(0, 10, 8))
print(rng.choice(["a", "b", "c"], size=6, p=[0.5, 0.3, 0.2]))
print(rng.standard_normal(3))
random.seed(1)
print(random.random(), random.choice(range(100)), random.sample(range(50), 4))
# simple bootstrap of a mean
data = np.random.exponential(2.0, size=200)
boots = np.array([np.random.choice(data, size=len(data)).mean() for _ in range(200)])
print(f"mean={data.mean():.6f} ci=({np.percentile(boots, 2.5):.6f}, {np.percentile(boots, 97.5):.6f})")
X = rng.normal(size=(100, 3))
w = np.array([2.0, -1.0, 0.5])
y = X @ w + rng.normal(scale=0.5, size=100)
w_hat = np.linalg.inv(X.T @ X) @ X.T @ y
print("w_hat", w_hat)
