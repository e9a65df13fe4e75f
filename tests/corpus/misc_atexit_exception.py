import atexit
import sys

import numpy as np


def goodbye(tag):
    print(f"atexit: {tag}")
    print("atexit to stderr", file=sys.stderr)


atexit.register(goodbye, "first registered, runs last")
atexit.register(goodbye, "second registered, runs first")
sys.excepthook = sys.__excepthook__
x = np.arange(6).reshape(2, 3)
print(x @ x.T)
print(x @ x)  # shape mismatch
