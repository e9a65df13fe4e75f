# In-place writes that reach a frame / array / model through another object
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

rng = np.random.default_rng(11)
n = 200_000
df = pd.DataFrame({"a": rng.integers(0, 300, n), "b": rng.integers(0, 300, n),
                   "v": rng.random(n).round(4)})


def stats(frame):
    return frame.groupby(["a", "b"])["v"].agg(["sum", "median"])


print(stats(df).head(3))
df.loc[df["a"] < 150, "v"] = 0.0                  # through df.loc
print(stats(df).head(3))
df.iloc[:50_000, 2] = 1.0                         # through df.iloc
print(stats(df).head(3))


def zero_out(frame, lo):
    frame.loc[frame["b"] < lo, "v"] = 0.0         # mutates the caller's frame
    return frame.groupby("a")["v"].median()


print(zero_out(df, 100).head(3))
print(df["v"].sum().round(4))

g = df.groupby(["a", "b"])["v"].sum()
w = g.unstack()
print(w.index.name, w.columns.name, w.shape)
g.index.names = ["row", "col"]                    # through g.index
w = g.unstack()
print(w.index.name, w.columns.name, w.shape)

arr = np.arange(2_000_000, dtype=np.float64)[::-1].copy()
print(np.median(arr), np.percentile(arr, 90))
arr.flat[::2] = -1.0                              # through arr.flat
print(np.median(arr), np.percentile(arr, 90))

X = rng.normal(size=(300_000, 5))
y = X @ np.arange(5.0)
m = LinearRegression().fit(X, y)
print(m.predict(X)[:3].round(4))
m.coef_[0] = 100.0                                # through m.coef_
print(m.predict(X)[:3].round(4))
m.coef_[:2] *= 0                                  # through a view of m.coef_
print(m.predict(X)[:3].round(4))

z = np.zeros(2_000_000)
print(np.std(z))
np.add.at(z, [0, 1, 2, 2], 5.0)                   # ufunc.at writes into z
print(np.std(z).round(9))
b = np.arange(2_000_000, dtype=np.float64)
t = b.copy()
print(np.corrcoef(b, t)[0, 1].round(6))
rng.shuffle(b)                                    # Generator.shuffle permutes b
print(np.corrcoef(b, t)[0, 1].round(6))
