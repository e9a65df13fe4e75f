import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.svm import SVC

df = pd.read_csv("data/flowers.csv")
le = LabelEncoder()
y = le.fit_transform(df["species"])
print("classes:", list(le.classes_))
X = df.iloc[:, :4]
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=11, stratify=y)
for kernel in ["linear", "rbf", "poly"]:
    for C in [0.1, 1, 10]:
        m = make_pipeline(StandardScaler(), SVC(kernel=kernel, C=C))
        m.fit(Xtr, ytr)
        acc = accuracy_score(yte, m.predict(Xte))
        print(f"kernel={kernel:6s} C={C:<4} acc={acc:.4f} n_sv={m[-1].n_support_.tolist()}")
print(confusion_matrix(yte, m.predict(Xte)))
print(m.decision_function(Xte.iloc[:3]).round(4))
