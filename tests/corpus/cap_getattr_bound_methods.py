# Library methods fetched with getattr or kept in a variable, then called.
import numpy as np
import pandas as pd

df = pd.DataFrame({"g": ["x", "x", "y", "y"], "v": [1.0, 2.0, 3.0, 5.0], "w": [1, 0, 1, 1]})
print(getattr(df.groupby("g"), "min")())
print(getattr(df, "sum")())
m = df.sum
print(m())
for name in ("mean", "max", "median"):
    print(name, getattr(df.groupby("g")["v"], name)().tolist())
agg = df.groupby("g").agg
print(agg({"v": "sum", "w": "max"}))
a = np.arange(6.0).reshape(2, 3)
total, cum = a.sum, getattr(a, "cumsum")
print(total(), cum(axis=1).tolist(), getattr(np, "mean")(a))
items = []
add = items.append
for k in range(3):
    add(k * 2)
print(items)


def in_function(frame):
    method = getattr(frame.groupby("g"), "max")
    fetched = [getattr(frame["v"], op)() for op in ("sum", "std")]
    bound = frame.describe
    return method(), [round(x, 6) for x in fetched], bound().shape


print(in_function(df))
