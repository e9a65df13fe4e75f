"""
In-place preprocessing with ``copy=False``
=========================================

Several scikit-learn transformers can work on the input array directly when
``copy=False``: the input is changed.
"""
import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, StandardScaler, normalize

np.set_printoptions(precision=4, suppress=True)

X = np.array([[1.0, -1.0, 2.0], [2.0, 0.0, 0.0], [0.0, 1.0, -1.0], [4.0, 3.0, 1.0]])
scaler = StandardScaler(copy=False)
out = scaler.fit_transform(X)
print("StandardScaler(copy=False): returned is input?", out is X)
print(X)
print("mean_", scaler.mean_, "scale_", scaler.scale_)

X_new = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
scaler.transform(X_new)
print("after transform, X_new =")
print(X_new)
scaler.inverse_transform(X_new)
print("after inverse_transform, X_new =")
print(X_new)

M = np.array([[3.0, 10.0], [6.0, 20.0], [9.0, 40.0]])
mm = MinMaxScaler(copy=False).fit(M)
mm.transform(M)
print("MinMaxScaler(copy=False) ->", M.tolist())

V = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0], [-5.0, 12.0]])
normalize(V, copy=False)
print("normalize(copy=False) l2 ->", V.tolist())
W = np.array([[1.0, 3.0], [2.0, -2.0]])
normalize(W, norm="l1", copy=False)
print("normalize(copy=False) l1 ->", W.tolist())

Z = np.array([[1.0, np.nan], [np.nan, 4.0], [3.0, 6.0], [5.0, np.nan]])
imp = SimpleImputer(strategy="mean", copy=False)
res = imp.fit_transform(Z)
print("SimpleImputer(copy=False) result is input?", res is Z)
print("Z after:", Z.tolist())
Z2 = np.array([[np.nan, np.nan], [7.0, 8.0]])
imp.transform(Z2)
print("Z2 after transform:", Z2.tolist())

for copy in (True, False):
    A = np.arange(12, dtype=float).reshape(4, 3)
    StandardScaler(copy=copy).fit_transform(A)
    print(f"copy={copy}: A[0] = {A[0]}, sum = {A.sum():.4f}")
