# ARGS: data/flowers.csv 5 --drop sepal_width
import sys

import pandas as pd
from sklearn.neighbors import KNeighborsClassifier
from sklearn.model_selection import cross_val_score

print("argv:", sys.argv)
print("argc:", len(sys.argv))
path, k = sys.argv[1], int(sys.argv[2])
drop = sys.argv[sys.argv.index("--drop") + 1] if "--drop" in sys.argv else None
df = pd.read_csv(path)
X = df.drop(columns=["species"] + ([drop] if drop else []))
print(X.columns.tolist())
print(f"k={k} acc={cross_val_score(KNeighborsClassifier(k), X, df['species'], cv=3).mean():.4f}")
