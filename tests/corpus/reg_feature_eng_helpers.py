import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import helpers_fe

df = helpers_fe.load_houses()
df = helpers_fe.add_house_features(df)
print(df[["age", "log_area", "rooms", "area_per_room"]].describe().round(3))

base = helpers_fe.NUMERIC
extra = base + ["age", "log_area", "log_lot", "rooms", "area_per_room", "bed_bath"]
y = df["price"].values
for name, cols in [("base", base), ("engineered", extra)]:
    X = df[cols]
    pipe = make_pipeline(SimpleImputer(), StandardScaler(), Ridge(alpha=1.0))
    helpers_fe.report(name, cross_val_score(pipe, X, y, cv=3))
print("log target:")
pipe = make_pipeline(SimpleImputer(), StandardScaler(), Ridge(alpha=1.0))
s = cross_val_score(pipe, df[extra], np.log1p(y), cv=3)
helpers_fe.report("engineered+log", s)
