import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

df = pd.read_csv("data/flowers.csv")
X, y = df.iloc[:, :4], df["species"]
# worker processes (loky) must compute exactly what the parent would
s1 = cross_val_score(RandomForestClassifier(n_estimators=10, random_state=0), X, y, cv=3)
s2 = cross_val_score(RandomForestClassifier(n_estimators=10, random_state=0), X, y, cv=3, n_jobs=2)
print(f"n_jobs=1: {s1.round(6).tolist()}")
print(f"n_jobs=2: {s2.round(6).tolist()} same={bool((s1 == s2).all())}")
rf = RandomForestClassifier(n_estimators=12, random_state=3, n_jobs=2).fit(X, y)
print(rf.feature_importances_.round(6))
