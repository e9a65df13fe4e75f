import pandas as pd

df = pd.read_csv("data/houses.csv")
print(df.head(10))
print(df.tail(3))
print(df.shape)
print(df.dtypes)
df.info()
print(df.describe())
print(df.describe(include="all").T)
print(df.isna().sum())
print((df.isna().mean() * 100).round(2).sort_values(ascending=False))
print(df.nunique())
print(df.sample(5, random_state=0))
