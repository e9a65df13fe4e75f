import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline


def load(path):
    df = pd.read_csv(path)
    df["churn"] = (df["churn"] == "Yes").astype(int)
    return df


def clean(df):
    df = df.copy()
    df["monthly_charges"] = df["monthly_charges"].fillna(df["monthly_charges"].median())
    df["total_charges"] = df["total_charges"].fillna(df["monthly_charges"] * df["tenure"])
    return df


def add_features(df, interactions=True):
    df = df.assign(
        log_total=np.log1p(df["total_charges"]),
        tenure_years=df["tenure"] / 12.0,
        is_monthly=(df["contract"] == "month-to-month").astype(int),
    )
    if interactions:
        df["charge_x_calls"] = df["monthly_charges"] * df["support_calls"]
        df["monthly_x_mtm"] = df["monthly_charges"] * df["is_monthly"]
        df["tenure_sq"] = df["tenure"] ** 2
    return df


def evaluate(df, cols):
    X = df[cols].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return cross_val_score(model, X, df["churn"], cv=3, scoring="roc_auc")


df = clean(load("data/churn.csv"))
base_cols = ["tenure", "monthly_charges", "total_charges", "senior", "support_calls"]
for label, inter in [("no interactions", False), ("interactions", True)]:
    feats = add_features(df, interactions=inter)
    cols = base_cols + [c for c in feats.columns if c not in df.columns]
    s = evaluate(feats, cols)
    print(f"{label:16s} n_cols={len(cols)} auc={s.mean():.4f} folds={np.round(s, 4).tolist()}")
print(add_features(df).filter(like="_x_").describe().round(2))
