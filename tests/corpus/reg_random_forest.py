import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/houses.csv")
df = pd.get_dummies(df.drop(columns=["id"]), columns=["neighborhood", "condition"], dtype=int)
df = df.fillna(df.median(numeric_only=True))
print(df.shape)
print(df.columns.tolist())

X = df.drop(columns="price")
y = df["price"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=7)

for n in [10, 30]:
    for depth in [None, 8]:
        rf = RandomForestRegressor(n_estimators=n, max_depth=depth, random_state=1)
        rf.fit(X_train, y_train)
        p = rf.predict(X_test)
        print(f"n_estimators={n} max_depth={depth}: r2={r2_score(y_test, p):.4f} mae={mean_absolute_error(y_test, p):.1f}")

imp = pd.Series(rf.feature_importances_, index=X.columns).sort_values(ascending=False)
print(imp.head(8).round(4))
