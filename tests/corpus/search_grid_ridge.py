import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

df = pd.read_csv("data/houses.csv")
X = df.drop(columns=["id", "price"])
y = df["price"]
pre = make_column_transformer(
    (make_pipeline(SimpleImputer(), StandardScaler()), ["area", "bedrooms", "bathrooms", "year_built", "lot_size"]),
    (OneHotEncoder(handle_unknown="ignore"), ["neighborhood"]),
    remainder="drop",
)
pipe = make_pipeline(pre, Ridge())
grid = {
    "ridge__alpha": [0.1, 1.0, 10.0, 100.0],
    "columntransformer__pipeline__simpleimputer__strategy": ["mean", "median"],
}
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
search = GridSearchCV(pipe, grid, cv=3, scoring="neg_root_mean_squared_error")
search.fit(Xtr, ytr)
print("best params:", search.best_params_)
print(f"best score: {search.best_score_:.3f}")
print(f"test score: {search.score(Xte, yte):.3f}")
res = pd.DataFrame(search.cv_results_)
print(res[["param_ridge__alpha", "param_columntransformer__pipeline__simpleimputer__strategy",
           "mean_test_score", "rank_test_score"]].sort_values("rank_test_score").to_string(index=False))
