# ``series.plot(...)`` on a temporary: the method is a PlotAccessor object, not a function (it
# has no __name__). Works whether or not matplotlib is installed.
import pandas as pd

df = pd.DataFrame({"a": [1, 3, 2], "b": [2.0, 1.0, 0.5]})
try:
    import matplotlib

    matplotlib.use("Agg")
except ImportError:
    pass
for make in (lambda: df["a"].plot(kind="line"), lambda: pd.Series([1, 2, 3]).plot(),
             lambda: df[["a", "b"]].plot.bar()):
    try:
        ax = make()
        print("plotted", type(ax).__name__)
    except ImportError as exc:
        print("no plotting backend:", type(exc).__name__)
s = df["a"].fillna(0)
print(s.tolist())
