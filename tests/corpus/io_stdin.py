# STDIN: area,bedrooms,bathrooms
# STDIN: 1500,3,2
# STDIN: 2200,4,2.5
# STDIN: 900,1,1
# STDIN:
# STDIN: 3100,5,3.5
import io
import sys

import pandas as pd
from sklearn.linear_model import LinearRegression

train = pd.read_csv("data/houses.csv").dropna()
cols = ["area", "bedrooms", "bathrooms"]
model = LinearRegression().fit(train[cols], train["price"])
raw = sys.stdin.read()
print("stdin lines:", raw.count("\n"))
new = pd.read_csv(io.StringIO(raw), skip_blank_lines=True)
print(new)
for row, pred in zip(new.itertuples(index=False), model.predict(new[cols])):
    print(f"{row.area:>6} sqft, {row.bedrooms} bed -> ${pred:,.0f}")
