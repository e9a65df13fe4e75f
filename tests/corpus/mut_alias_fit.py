import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/houses.csv").dropna()
X = df[["area", "bedrooms", "bathrooms"]].to_numpy(copy=True)
y = df["price"].to_numpy(dtype=float)
m = LinearRegression().fit(X, y)
print("coef before:", np.round(m.coef_, 4))
Xv = X[:, 0]        # a view on the first column
Xv *= 2             # mutate X through the view after fitting
m2 = LinearRegression().fit(X, y)
print("coef after:", np.round(m2.coef_, 4))
print("first model unchanged:", np.round(m.coef_, 4))
X[:, 1] += 1
print("pred changes:", np.round(m2.predict(X[:3]), 2))
sc = StandardScaler()
Xs = sc.fit_transform(X)
X[:] = 0            # zero the source after transform; Xs must not change
print("scaled mean:", np.round(Xs.mean(axis=0), 8), "src sum:", X.sum())
print("scaler mean_:", np.round(sc.mean_, 4))
y2 = y
y2 /= 1000.0       # in-place on an alias of y
m3 = LinearRegression().fit(Xs, y)
print("y scaled coef:", np.round(m3.coef_, 6), round(float(y.mean()), 6))
frame = pd.DataFrame(Xs, columns=["a", "b", "c"])
col = frame["a"]
frame["a"] = frame["a"] * 10
print(round(float(col.sum()), 6), round(float(frame["a"].abs().sum()), 4))
