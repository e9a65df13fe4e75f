import pandas as pd

df = pd.read_csv("data/stores.csv")
df["floor_m2"][0] = 1      # chained assignment: never updates df under copy-on-write
print(df.loc[0, "floor_m2"])
df.loc[0, "floor_m2"] = 1  # the right way
print(df.loc[0, "floor_m2"])
s = df["opened"]
s.iloc[0] = 1900           # s is a lazy copy: df is unchanged
print(df["opened"].iloc[0], s.iloc[0])
df["region"].replace("north", "N", inplace=True)
print(df["region"].tolist())
