import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/flowers.csv")
X_train, X_test, y_train, y_test = train_test_split(df.iloc[:, :4], df["species"], random_state=4)
pipe = Pipeline([("sc", StandardScaler()), ("lr", LogisticRegression(max_iter=200))])
for C in [0.01, 0.1, 1.0, 10.0]:
    pipe.set_params(lr__C=C)
    pipe.fit(X_train, y_train)
    print(f"C={C}: acc={accuracy_score(y_test, pipe.predict(X_test)):.4f} coef0={pipe['lr'].coef_[0].round(4)}")
pipe.set_params(sc="passthrough")
pipe.fit(X_train, y_train)
print("no scaler:", round(pipe.score(X_test, y_test), 4))
lr = pipe.named_steps["lr"]
lr.C = 0.001
lr.fit(X_train, y_train)
print("tiny C:", round(lr.score(X_test, y_test), 4), lr.get_params()["C"])
pipe.steps.append(("noop", "passthrough"))
print([name for name, _ in pipe.steps])
