# ARGS: --alpha 0.5 --cv 3 --name "ridge run ü" --features area lot_size bedrooms
import argparse

import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

parser = argparse.ArgumentParser(description="train a ridge model")
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--cv", type=int, default=5)
parser.add_argument("--name", default="run")
parser.add_argument("--features", nargs="+", default=["area"])
parser.add_argument("--verbose", action="store_true")
args = parser.parse_args()
print(vars(args))
df = pd.read_csv("data/houses.csv")
pipe = make_pipeline(SimpleImputer(), Ridge(alpha=args.alpha))
scores = cross_val_score(pipe, df[args.features], df["price"], cv=args.cv)
print(f"[{args.name}] alpha={args.alpha} r2={scores.mean():.5f}")
