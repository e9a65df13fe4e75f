import numpy as np

data = np.load("data/sensors.npy")
print(data.shape, data.dtype, round(float(data.mean()), 6))

# boolean masks and where/select
spikes = data > 50
print("spikes per sensor:", spikes.sum(axis=0))
rows, cols = np.nonzero(spikes)
print(list(zip(rows.tolist(), cols.tolist())))
clean = np.where(spikes, np.nan, data)
print(np.nanmax(clean, axis=0).round(4))
level = np.select([data < -5, data < 5, data < 50], ["low", "mid", "high"], default="spike")
vals, counts = np.unique(level, return_counts=True)
print(dict(zip(vals.tolist(), counts.tolist())))

# unique with inverse / index
ints = np.round(data[:, 0]).astype(int)
u, first, inv, cnt = np.unique(ints, return_index=True, return_inverse=True, return_counts=True)
print(u, first[:5], inv[:10], cnt)
print(np.bincount(ints - ints.min())[:8])

# argsort / argpartition / sorting
col = data[:, 3]
order = np.argsort(col, kind="stable")
print(order[:5], order[-5:], col[order[:3]].round(4))
top5 = np.argpartition(col, -5)[-5:]
print(sorted(top5.tolist()), np.sort(col[top5]).round(4))
print(np.argmax(data, axis=0), np.argmin(data, axis=1)[:10])
ranks = col.argsort().argsort()
print(ranks[:10])
print(np.searchsorted(np.sort(col), [-5, 0, 5]).tolist())
print(np.lexsort((data[:, 1], ints))[:8])

# cumsum / diff / cumulative stats
cs = np.cumsum(data, axis=0)
print(cs[-1].round(4))
print(np.diff(data[:6, 0]).round(4), np.diff(data[:, 0], n=2)[:3].round(4))
print(np.cumprod(np.array([1.01, 0.99, 1.02, 0.98])).round(6))
running_max = np.maximum.accumulate(data[:, 2])
print(running_max[::100].round(3))

# broadcasting and einsum
mu = data.mean(axis=0, keepdims=True)
sd = data.std(axis=0, ddof=1, keepdims=True)
z = (data - mu) / sd
print(z.shape, np.abs(z).max(axis=0).round(3))
cov = np.einsum("ij,ik->jk", z, z) / (len(z) - 1)
print(np.allclose(cov, np.corrcoef(data, rowvar=False)), cov[:3, :3].round(4))
tr = np.einsum("ii->", cov)
print(round(float(tr), 6))
outer = np.einsum("i,j->ij", np.arange(3), np.arange(4))
print(outer)
batch = data[:600].reshape(60, 10, 8)
print(np.einsum("bij->bj", batch).shape, np.einsum("bij,bij->b", batch, batch)[:4].round(3))
dist = np.sqrt(((data[:5, None, :] - data[None, :5, :]) ** 2).sum(-1))
print(dist.round(3))
w = np.linspace(0, 1, 8)
print((data[:3] * w).sum(axis=1).round(4), (data[:3] @ w).round(4))
print(np.clip(z, -2, 2).mean(axis=0).round(5))
hist, edges = np.histogram(data[:, 5], bins=6)
print(hist, edges.round(3))
print(np.percentile(data, [5, 50, 95], axis=0).round(3))
print(np.isclose(data[:3, :3], data[:3, :3] + 1e-12).all(), np.any(np.isnan(data)))
print(np.count_nonzero(np.abs(z) > 3, axis=0))
