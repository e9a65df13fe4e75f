"""
Column Transformer with Mixed Types
===================================

Select columns by dtype with ``make_column_selector`` and preprocess each group
differently, in the style of the scikit-learn example gallery.
"""
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

houses = pd.read_csv("data/houses.csv")
houses["has_garage"] = houses["has_garage"].astype("category")
X = houses.drop(columns=["id", "price"])
y = houses["price"]

numeric_selector = make_column_selector(dtype_include=np.number)
object_selector = make_column_selector(dtype_include=[object, "string"])
category_selector = make_column_selector(dtype_include="category")
pattern_selector = make_column_selector(pattern="^(area|lot)")
float_excluder = make_column_selector(dtype_exclude=np.floating)

for name, selector in [("numeric", numeric_selector), ("object", object_selector),
                       ("category", category_selector), ("pattern", pattern_selector),
                       ("not float", float_excluder)]:
    print(f"{name:>10}: {selector(X)}")

preprocessor = ColumnTransformer(
    transformers=[
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                          ("scale", StandardScaler())]), numeric_selector),
        ("obj", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), object_selector),
        ("cat", OneHotEncoder(), category_selector),
    ]
)
model = Pipeline([("preprocess", preprocessor), ("ridge", Ridge(alpha=1.0))])

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
model.fit(X_train, y_train)
print(f"R^2 on test: {model.score(X_test, y_test):.4f}")

names = model[:-1].get_feature_names_out()
print(f"{len(names)} output features, first five: {list(names[:5])}")
coefs = pd.Series(model[-1].coef_, index=names).sort_values()
print(coefs.round(1).head(4).to_string())

print("\nTransformers and the columns each selector resolved to:")
for name, _, cols in model.named_steps["preprocess"].transformers_:
    print(f"  {name}: {list(cols)}")

# Re-selecting on a frame with an extra column
X_extra = X_test.assign(area_sqm=X_test["area"] * 0.0929)
print(f"numeric on extra: {numeric_selector(X_extra)}")
print(f"pattern on extra: {pattern_selector(X_extra)}")
