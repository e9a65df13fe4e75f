# Zero-argument calls of builtin types after the module body has run a loop (the loop makes
# CPython quicken the code: a specialised PRECALL of a builtin type performs the call itself).
import pandas as pd

for i in range(100):
    pass
zz = dict()
ll = list()
ss = set()
tt = tuple()
ff = frozenset()
print(zz, ll, ss, tt, ff)

df = pd.DataFrame({"a": [1, 2, 3]})
for _ in range(60):
    empty = dict()
    empty["n"] = len(list())
    make = df.copy
    copied = make()
print(empty, copied.shape, str(), int(), float(), bytes())


def inside():
    out = []
    for k in range(80):
        d = dict()
        d[k] = list()
        out.append(len(d) + len(set()) + len(tuple()))
    return sum(out), type(object()).__name__


print(inside())
