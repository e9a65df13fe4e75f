import json

import pandas as pd

with open("data/config.json", encoding="utf-8") as f:
    cfg = json.load(f)
print("experiment:", cfg["experiment"], cfg["notes"])
print(json.dumps(cfg["features"], indent=1))
df = pd.read_csv("data/houses.csv")
cols = cfg["features"]["numeric"] + cfg["features"]["categorical"]
sub = df[cols + [cfg["target"]]]
print(sub.describe(include="all").loc[["count", "unique", "mean"]])
with open("data/notes.txt", encoding="utf-8") as f:
    lines = [l.rstrip("\n") for l in f]
runs = [l for l in lines if l.startswith("run")]
print(len(lines), "lines,", len(runs), "runs")
for l in runs:
    print(" *", l.upper())
summary = {"n_rows": int(len(df)), "target_mean": round(float(df[cfg["target"]].mean()), 3),
           "cols": cols}
print(json.dumps(summary, sort_keys=True))
