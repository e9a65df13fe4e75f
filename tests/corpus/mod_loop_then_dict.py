import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

flowers = pd.read_csv("data/flowers.csv")
cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
for species in sorted(flowers["species"].unique()):
    part = flowers.loc[flowers["species"] == species, cols]
    z = StandardScaler().fit_transform(part)
    print(f"{species}: n={len(part)} max|z|={np.abs(z).max():.3f}")
zz = dict()
ll = list()
print(zz, ll, type(zz).__name__)
for species, part in flowers.groupby("species"):
    zz[species] = part[cols].mean().round(3).to_dict()
    ll.append(len(part))
print(zz)
print(ll)
s = set()
t = tuple()
for c in cols:
    s.add(c.split("_")[0])
print(sorted(s), t)
d2 = dict(a=1, b=2)
l2 = list(range(3))
print(d2, l2)
means = dict()
for k, v in zz.items():
    means[k] = sum(v.values())
print({k: round(v, 3) for k, v in means.items()})
