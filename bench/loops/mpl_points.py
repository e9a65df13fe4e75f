"""matplotlib: one ax.plot call per point."""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(4)
pts = rng.normal(size=(1500, 2))
fig, ax = plt.subplots()
for k in range(len(pts)):
    ax.plot(pts[k, 0], pts[k, 1], "o", markersize=2)
fig.savefig("points.png")
print(len(ax.lines))
