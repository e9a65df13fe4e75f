import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import KFold, train_test_split
from sklearn.utils import shuffle

df = pd.read_csv("data/flowers.csv")
print(df.sample(4, random_state=1).index.tolist())
print(df.sample(frac=0.01, random_state=np.random.RandomState(3)).index.tolist())
for seed in [0, 1, 2]:
    tr, te = train_test_split(df, test_size=0.1, random_state=seed)
    print(seed, te.index[:5].tolist())
print([te[:4].tolist() for _, te in KFold(3, shuffle=True, random_state=5).split(df)])
Xs, ys = shuffle(df.iloc[:, :4], df["species"], random_state=9)
print(Xs.index[:6].tolist(), ys.iloc[0])
np.random.seed(0)
rf = RandomForestClassifier(n_estimators=8)  # random_state=None draws from the seeded global RNG
rf.fit(df.iloc[:, :4], df["species"])
print(np.round(rf.feature_importances_, 6))
print(rf.predict_proba(df.iloc[:3, :4]).round(4))
print(np.random.rand(2))   # global RNG state after the fit
rs = np.random.RandomState(12)
print(rs.randn(3), rs.randint(0, 9, 4))
np.random.seed(0)
print(np.random.rand(2))
