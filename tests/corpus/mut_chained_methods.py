# Agent code written for older pandas: inplace calls on column temporaries, in user functions
import pandas as pd

stores = pd.read_csv("data/stores.csv")
stores.loc[1, "floor_m2"] = None
stores.fillna({"floor_m2": 0}, inplace=True)          # fine: on the frame itself
col = stores["opened"]
col.clip(lower=2005, inplace=True)                    # fine: col is a name


def clean(df):
    df["floor_m2"].fillna(-1, inplace=True)           # chained: no effect, warns
    df["region"].where(df["region"] != "north", "N", inplace=True)
    df["store"].update(pd.Series(["X"], index=[0]))   # chained update: warns
    df[["floor_m2"]].update(df[["floor_m2"]] * 2)     # temporary frame: warns
    return df


out = clean(stores.copy())
print(out.head(3).to_string())
print(col.head(3).tolist(), stores["opened"].head(3).tolist())
for i in range(2):
    stores["floor_m2"][i] = i                         # chained setitem in a loop: warns once
print(stores["floor_m2"].head(3).tolist())
