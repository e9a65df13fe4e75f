import pandas as pd
from sklearn.linear_model import LogisticRegression

df = pd.read_csv("data/churn.csv")
X = df[["tenure", "monthly_charges", "total_charges"]]
y = df["churn"]
print("NaNs:", X.isna().sum().to_dict())
model = LogisticRegression()
model.fit(X, y)
print("not reached")
