import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Lasso
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

df = pd.read_csv("data/houses.csv")
target = "price"
numeric = ["area", "bedrooms", "bathrooms", "year_built", "lot_size", "has_garage"]
categorical = ["neighborhood", "condition"]

pre = ColumnTransformer([
    ("num", Pipeline([("imp", SimpleImputer(strategy="mean")), ("sc", StandardScaler())]), numeric),
    ("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                      ("oh", OneHotEncoder(handle_unknown="ignore"))]), categorical),
])
X_train, X_test, y_train, y_test = train_test_split(df[numeric + categorical], df[target],
                                                    test_size=0.25, random_state=0)
for alpha in [1.0, 100.0, 1000.0]:
    pipe = Pipeline([("pre", pre), ("lasso", Lasso(alpha=alpha, max_iter=5000))])
    pipe.fit(X_train, y_train)
    coefs = pipe.named_steps["lasso"].coef_
    names = pipe.named_steps["pre"].get_feature_names_out()
    nz = int(np.sum(coefs != 0))
    print(f"alpha={alpha}: r2={r2_score(y_test, pipe.predict(X_test)):.4f} nonzero={nz}/{len(coefs)}")
    top = sorted(zip(names, coefs), key=lambda t: -abs(t[1]))[:5]
    for n, c in top:
        print(f"    {n:35s} {c:12.2f}")
