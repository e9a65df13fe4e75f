import numpy as np
import pandas as pd
from sklearn.model_selection import cross_val_score, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

df = pd.read_csv("data/flowers.csv")
X = df.drop(columns="species").to_numpy()
y = df["species"].to_numpy()
print(X.shape, np.unique(y))
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
rows = []
for scaler in [None, StandardScaler(), MinMaxScaler()]:
    for k in [1, 3, 5, 9, 15]:
        steps = [scaler] if scaler is not None else []
        pipe = make_pipeline(*steps, KNeighborsClassifier(n_neighbors=k))
        s = cross_val_score(pipe, X, y, cv=cv)
        rows.append({"scaler": type(scaler).__name__, "k": k, "acc": s.mean()})
res = pd.DataFrame(rows)
print(res.pivot(index="k", columns="scaler", values="acc").round(4))
print(res.sort_values(["acc", "k"], ascending=[False, True]).head(3))
