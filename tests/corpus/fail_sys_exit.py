import sys

import pandas as pd

df = pd.read_csv("data/flowers.csv")
print("rows:", len(df))
if df["species"].nunique() != 2:
    print(f"expected a binary target, got {df['species'].nunique()} classes", file=sys.stderr)
    sys.exit(3)
print("not reached")
