# Warnings and exceptions raised by operations of folded call sites: the same lines, counts and
# messages as plain python, and an uncaught error's traceback and exit status 1 at the end.
import warnings

import numpy as np

vals = []
for i in range(150):
    x = np.array([float(i - 75)])
    vals.append(float(np.log(np.abs(x))[0]))
print(round(sum(v for v in vals if np.isfinite(v)), 6))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for i in range(100):
        np.sqrt(np.array([-1.0 if i % 50 == 0 else 1.0]))
print(len(caught), sorted({str(w.message) for w in caught}))
msg = None
for i in range(200):
    try:
        np.ones(3) + np.ones(i % 4 + 1)
    except ValueError as e:
        msg = str(e)
print(msg)
total = np.zeros(3)
for i in range(120):
    total = total + np.ones(3) * i
print(total.tolist())
np.random.seed(0)
draws = [np.random.normal() for _ in range(150)]
gen = np.random.default_rng(1)
ints = [int(gen.integers(0, 10)) for _ in range(150)]
print(round(sum(draws), 6), sum(ints))
bad = np.ones(2) @ np.ones(3)
print("not reached", bad)
