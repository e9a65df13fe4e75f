import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/houses.csv")
num_cols = df.select_dtypes("number").columns.drop(["id", "price"]).tolist()
print("numeric columns:", num_cols)
X, y = df[num_cols], df["price"]

results = {}
for alpha in [0.01, 0.1, 1.0, 10.0, 100.0]:
    pipe = Pipeline([
        ("imputer", SimpleImputer(strategy="median")),
        ("scaler", StandardScaler()),
        ("model", Ridge(alpha=alpha)),
    ])
    scores = cross_val_score(pipe, X, y, cv=3, scoring="r2")
    results[alpha] = scores.mean()
    print(f"alpha={alpha:<7} r2={scores.mean():.5f} +/- {scores.std():.5f}")

best = max(results, key=results.get)
print("best alpha:", best, "score:", round(results[best], 6))
