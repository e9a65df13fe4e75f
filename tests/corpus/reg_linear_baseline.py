import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/houses.csv")
print("shape:", df.shape)
print(df.head())
df = df.dropna()
print("after dropna:", df.shape)

features = ["area", "bedrooms", "bathrooms", "year_built", "lot_size", "has_garage"]
X = df[features]
y = df["price"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
print(f"train={X_train.shape} test={X_test.shape}")

model = LinearRegression()
model.fit(X_train, y_train)
pred = model.predict(X_test)
print(f"R2:   {r2_score(y_test, pred):.4f}")
print(f"MAE:  {mean_absolute_error(y_test, pred):.2f}")
print(f"RMSE: {np.sqrt(mean_squared_error(y_test, pred)):.2f}")
for name, coef in zip(features, model.coef_):
    print(f"  {name:12s} {coef:12.3f}")
print("intercept", round(model.intercept_, 3))
print("exact r2", r2_score(y_test, pred))
