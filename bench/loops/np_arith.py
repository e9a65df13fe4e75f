"""Array arithmetic in a 50x50 nested loop: blocks of a larger image, results written in place."""
import numpy as np

rng = np.random.default_rng(0)
img = rng.normal(size=(1000, 1000))
w = np.linspace(0.0, 1.0, 20)
out = np.zeros((50, 50))
acc = np.zeros(20)
total = 0.0
for i in range(50):
    for j in range(50):
        block = img[i * 20:(i + 1) * 20, j * 20:(j + 1) * 20]
        z = (block - w) * 2.0 + 1.0
        out[i, j] = z.mean()
        acc += z[0] / 3.0
        total += float(z.sum())
print(round(total, 6), round(float(out.sum()), 6), np.round(acc, 6).tolist())
