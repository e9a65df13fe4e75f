import numpy as np

np.random.seed(0)
legacy = np.random.rand(4, 5)
print(legacy.round(6))
rng = np.random.default_rng(2024)
m = rng.normal(size=(6, 4))
print(m.round(5))

# in-place ops through slices, strides and fancy-index copies
row = m[1]
row *= 10
print("after row*=10:", m[1].round(4))
sub = m[::2, 1:3]
sub -= 100
print(m.round(3))
fancy = m[[0, 2]]          # a copy: writes do not reach m
fancy[:] = 0
print(m[0].round(3), fancy.sum())
m[m < -50] += 100          # masked in-place
print(m.round(3))
m.flat[::5] = -1.0         # through flatiter
print(m.round(3))
m.T[0] = 7.0               # through the transpose view
print(m[:, :2].round(3))
np.add(m, 1, out=m)
print(m.sum().round(6))
np.multiply.at(m, ([0, 0, 1], [1, 1, 2]), 2.0)
print(m[:2].round(3))
r = m.ravel()
r[:3] = [9, 9, 9]
print(m[0], r.base is m)
m.sort(axis=1)
print(m.round(3))
v = m.view()
v.shape = (4, 6)
v[-1, -1] = 123.0
print(m[-1].round(3), m.shape, v.shape)
m[...] = np.round(m, 1)
print(m.mean(axis=0).round(4))
m.fill(0.5)
print(m.sum())

# legacy global RNG streams interleaved with generator streams
np.random.seed(42)
a = np.random.randint(0, 10, 8)
idx = np.random.permutation(8)
print(a, idx, a[idx])
np.random.shuffle(a)
print("shuffled:", a)
print(np.random.choice(["x", "y", "z"], 5), np.random.uniform(-1, 1, 3).round(6))
g1 = np.random.default_rng(7)
g2 = np.random.default_rng(7)
print(g1.integers(0, 100, 5), g2.integers(0, 100, 5))
x = g1.permutation(10)
g2.shuffle(arr := np.arange(10))
print(x, arr)
print(g1.choice(10, size=4, replace=False), g1.random(2).round(6))
rs = np.random.RandomState(5)
print(rs.randn(3).round(6), rs.randint(0, 5, 4))
state = np.random.get_state()
before = np.random.rand(2)
np.random.set_state(state)
after = np.random.rand(2)
print(np.array_equal(before, after), before.round(6))
boot = np.array([np.random.choice(a, len(a)).mean() for _ in range(50)])
print(boot.mean().round(6), boot.std().round(6))
cube = np.arange(24).reshape(2, 3, 4)
cube[:, 1, :] *= -1
cube[1] += cube[0]
print(cube)
swap = np.swapaxes(cube, 0, 2)
swap[0, 0, 0] = 1000
print(cube[0, 0, 0], np.shares_memory(cube, swap))
