import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

houses = pd.read_csv("data/houses.csv")
results = []
for hood in sorted(houses["neighborhood"].unique()):
    part = houses[houses["neighborhood"] == hood].dropna(subset=["year_built", "lot_size"])
    X = part[["area", "bedrooms", "bathrooms", "year_built", "lot_size"]].to_numpy()
    y = part["price"].to_numpy()
    X = StandardScaler().fit_transform(X)
    model = Ridge(alpha=10.0).fit(X, y)
    scores = cross_val_score(Ridge(alpha=10.0), X, y, cv=4)
    coef = dict(zip(["area", "bed", "bath", "year", "lot"], np.round(model.coef_, 1)))
    print(f"{hood:>10}: n={len(part)} R2={scores.mean():.4f} +/- {scores.std():.4f}")
    print(f"{'':>10}  coef={coef}")
    top = part.nlargest(2, "price")[["id", "price"]]
    print(f"{'':>10}  top ids={top['id'].tolist()}")
    results.append((hood, scores.mean()))
    ratio = scores.mean() / (len(results) - 4)
    print(f"{'':>10}  ratio={ratio:.4f}")
    missing = part["condition"].isna().sum()
    print(f"{'':>10}  missing conditions={missing}")
    if len(results) == houses["neighborhood"].nunique():
        raise RuntimeError(f"too many missing conditions after {hood}: "
                           f"{sum(r for _, r in results):.3f}")
print("never reached", results)
