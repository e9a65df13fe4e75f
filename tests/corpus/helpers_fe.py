"""Feature-engineering helpers shared by several corpus scripts (imported as a user module)."""
import numpy as np
import pandas as pd

NUMERIC = ["area", "bedrooms", "bathrooms", "year_built", "lot_size"]
CATEGORICAL = ["neighborhood", "condition"]
CURRENT_YEAR = 2024


def load_houses(path="data/houses.csv"):
    df = pd.read_csv(path)
    return df


def add_house_features(df):
    df = df.copy()
    df["age"] = CURRENT_YEAR - df["year_built"]
    df["log_area"] = np.log1p(df["area"])
    df["log_lot"] = np.log1p(df["lot_size"])
    df["rooms"] = df["bedrooms"] + df["bathrooms"]
    df["area_per_room"] = df["area"] / df["rooms"]
    df["bed_bath"] = df["bedrooms"] * df["bathrooms"]
    return df


def log_transform(X):
    return np.log1p(np.abs(X))


def churn_features(df):
    out = df.assign(
        avg_charge=lambda d: d["total_charges"] / (d["tenure"] + 1),
        long_term=lambda d: (d["tenure"] > 24).astype(int),
        calls_per_year=lambda d: d["support_calls"] / (d["tenure"] / 12 + 1),
    )
    return out


def report(name, scores):
    scores = np.asarray(scores)
    print(f"{name:<28s} mean={scores.mean():.4f} std={scores.std():.4f}")
    return float(scores.mean())
