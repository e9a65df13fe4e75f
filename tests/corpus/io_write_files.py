import json
import os
import pickle

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

df = pd.read_csv("data/flowers.csv")
summary = df.groupby("species").mean().round(3)
summary.to_csv("species_summary.csv")
os.makedirs("out/nested", exist_ok=True)
df.head(20).to_csv("out/head.csv", index=False)
df.describe().to_json("out/describe.json")
np.save("out/features.npy", df.iloc[:, :4].to_numpy())
np.savez("out/arrays.npz", a=np.arange(5), b=np.eye(2))
model = LogisticRegression(max_iter=300).fit(df.iloc[:, :4], df["species"])
metrics = {"train_acc": round(float(model.score(df.iloc[:, :4], df["species"])), 6),
           "classes": model.classes_.tolist(), "n_iter": int(model.n_iter_[0])}
with open("out/metrics.json", "w") as f:
    json.dump(metrics, f, indent=2)
with open("out/nested/log.txt", "w", encoding="utf-8") as f:
    f.write("trained ✓\n")
    for k, v in metrics.items():
        f.write(f"{k}: {v}\n")
with open("out/coef.pkl", "wb") as f:
    pickle.dump(model.coef_, f, protocol=4)
with open("out/append.txt", "a") as f:
    f.write("line 1\n")
with open("out/append.txt", "a") as f:
    f.write("line 2\n")
print(sorted(os.listdir("out")), metrics)
print(open("species_summary.csv").read())
