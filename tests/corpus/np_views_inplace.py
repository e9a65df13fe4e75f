import numpy as np

a = np.arange(20, dtype=np.float64).reshape(4, 5)
alias = a
view = a[:, 1:3]
col0 = a[:, 0]
print("shares:", np.shares_memory(a, view), np.shares_memory(a, a.copy()))
col0 *= 2           # writes through the view into a
view += 100         # in-place on a slice view
alias[3] = -1       # through an alias
print(a)
a += 1
print(a.sum(), view.sum(), col0)
b = a.T
b[0, 0] = 999
print(a[0, 0])
c = a.reshape(-1)
c[-1] = 7
print(a[-1, -1], c.base is a or c.base is a.base)
d = a[::2, ::2].copy()
d[:] = 0
print(a[::2, ::2])
mask = a > 50
a[mask] = 50
print(a)
np.clip(a, 0, 40, out=a)
print(a.max(), a.min())
x = np.ones(5)
y = x
x = x + 1           # rebinding, not in-place
print(y, x)
z = np.zeros((3, 3))
np.fill_diagonal(z, [1, 2, 3])
z[:, 2] -= z[:, 0]
print(z)
v = np.arange(6)
v[1:] += v[:-1]     # overlapping in-place
print(v)
