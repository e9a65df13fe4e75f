import os
import pickle
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier


@dataclass
class Experiment:
    name: str
    params: dict = field(default_factory=dict)
    scores: list = field(default_factory=list)

    def best(self):
        return max(self.scores) if self.scores else None


class Model:
    def __init__(self, depth):
        self.depth = depth
        self.clf = DecisionTreeClassifier(max_depth=depth, random_state=0)

    def fit(self, X, y):
        self.clf.fit(X, y)
        return self

    def __repr__(self):
        return f"Model(depth={self.depth})"


df = pd.read_csv("data/flowers.csv")
X, y = df.iloc[:, :4].to_numpy(), df["species"].to_numpy()
exp = Experiment("trees", {"depths": [1, 2, 3]})
for d in exp.params["depths"]:
    exp.scores.append(round(Model(d).fit(X, y).clf.score(X, y), 6))
blob = pickle.dumps(exp)
back = pickle.loads(blob)
print(back, back == exp, back.best(), type(back).__module__, type(back).__qualname__)
m = Model(3).fit(X, y)
m2 = pickle.loads(pickle.dumps(m))
print(m2, type(m2).__module__, (m2.clf.predict(X) == m.clf.predict(X)).all())
os.makedirs("out_pickle", exist_ok=True)
with open("out_pickle/model.pkl", "wb") as f:
    pickle.dump(m, f)
with open("out_pickle/model.pkl", "rb") as f:
    m3 = pickle.load(f)
print(m3, np.round(m3.clf.feature_importances_, 6))
print("experiment pickle size stable:", len(blob) == len(pickle.dumps(back)))
