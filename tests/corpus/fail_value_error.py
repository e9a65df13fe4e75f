import pandas as pd


def validate(df, required):
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"missing required columns: {missing}")
    if df[required].isna().any().any():
        raise ValueError("input contains NaN in required columns: "
                         + ", ".join(c for c in required if df[c].isna().any()))
    return df


df = pd.read_csv("data/houses.csv")
print("loaded", df.shape)
validate(df, ["area", "price"])
print("area/price ok")
validate(df, ["area", "lot_size", "year_built"])
print("not reached")
