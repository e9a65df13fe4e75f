import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, export_text

df = pd.read_csv("data/flowers.csv")
features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
X_train, X_test, y_train, y_test = train_test_split(df[features], df["species"], test_size=0.3,
                                                    random_state=5)
models = {"nb": GaussianNB(), "tree": DecisionTreeClassifier(max_depth=3, random_state=0)}
for name, model in models.items():
    model.fit(X_train, y_train)
    p = model.predict(X_test)
    print(f"{name}: acc={accuracy_score(y_test, p):.4f} macro-f1={f1_score(y_test, p, average='macro'):.4f}")
    print(confusion_matrix(y_test, p, labels=sorted(df["species"].unique())))
print(export_text(models["tree"], feature_names=features))
print("nb theta:\n", np.round(models["nb"].theta_, 3))
