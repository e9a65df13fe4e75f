import os

import numpy as np

X = np.load("data/sensors.npy")
print(X.shape, X.dtype)
mu = X.mean(axis=0)
sd = X.std(axis=0)
Z = (X - mu) / sd
spikes = np.argwhere(np.abs(Z) > 4)
print("spikes:", spikes.tolist())
clean = X.copy()
clean[np.abs(Z) > 4] = np.nan
col_median = np.nanmedian(clean, axis=0)
idx = np.where(np.isnan(clean))
clean[idx] = np.take(col_median, idx[1])
window = 10
cs = np.cumsum(clean, axis=0)
rolling = (cs[window:] - cs[:-window]) / window
print("rolling:", rolling.shape, np.round(rolling[:3, :3], 4))
print("argmax per channel:", clean.argmax(axis=0))
print("corr[0,1:4]:", np.round(np.corrcoef(clean.T)[0, 1:4], 5))
fft = np.abs(np.fft.rfft(clean[:, 0] - clean[:, 0].mean()))
print("dominant freq bin:", int(fft.argmax()))
hist, edges = np.histogram(clean[:, 3], bins=5)
print(hist, np.round(edges, 3))
os.makedirs("out_sensors", exist_ok=True)
np.save("out_sensors/clean.npy", clean)
np.savetxt("out_sensors/summary.txt", np.vstack([mu, sd]), fmt="%.6f")
print("saved", sorted(os.listdir("out_sensors")))
