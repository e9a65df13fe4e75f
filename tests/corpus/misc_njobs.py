import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

df = pd.read_csv("data/flowers.csv")
X, y = df.iloc[:, :4], df["species"]
for n_jobs in [1, 2]:
    s = cross_val_score(RandomForestClassifier(n_estimators=10, random_state=0), X, y, cv=3, n_jobs=n_jobs)
    print(f"n_jobs={n_jobs}: {s.round(6).tolist()}")
rf = RandomForestClassifier(n_estimators=12, random_state=3, n_jobs=2).fit(X, y)
print(rf.feature_importances_.round(6))
