# A module-level loop long enough (once rewritten) that its jumps need EXTENDED_ARG, raising
# in its third pass: the traceback and exit status 1 must survive (STRATUM=1 guards the main
# module's code with one more exception handler, counted in code units).
import numpy as np
import pandas as pd

df = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) ** 2})
total = 0.0
rows = []
for i in range(5):
    a = df["a"] * (i + 1)
    b = df["b"] - a / 2
    c = (a + b).sum() * 0.5
    d = float(c) + i * 2 - 1
    e = {"i": i, "c": round(d, 3), "mean": round(float(b.mean()), 3)}
    rows.append(e)
    total += d / (i + 1) + e["c"] - e["mean"]
    label = f"pass {i}: {d:.2f} {total:.2f}"
    print(label, rows[-1]["mean"], len(rows) - 1)
    scale = df["a"].max() - df["a"].min() + i % 3
    print("scale", round(float(scale), 3), "check", (a > b).sum(), -i, ~i)
    if i == 2:
        raise ValueError(f"bad pass {i} with total {total:.3f}")
print("not reached")
