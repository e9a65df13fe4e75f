import pandas as pd

df = pd.read_csv("data/reviews.csv")
print(df["sentiment"].value_counts().to_dict())
empty = df["text"].isna().sum()
if empty:
    raise SystemExit(f"aborting: {empty} reviews have no text — clean the data first")
