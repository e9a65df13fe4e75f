import pandas as pd
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

df = pd.read_csv("data/reviews.csv", keep_default_na=False)
print("empty texts:", (df["text"] == "").sum())
y = df["sentiment"].values
for n_features in [2**8, 2**12, 2**16]:
    hv = HashingVectorizer(n_features=n_features, alternate_sign=False, norm=None)
    pipe = make_pipeline(hv, TfidfTransformer(), LogisticRegression(max_iter=300))
    s = cross_val_score(pipe, df["text"], y, cv=3)
    print(f"n_features={n_features:6d} acc={s.mean():.4f}")
X = HashingVectorizer(n_features=2**10).transform(df["text"])
print("matrix:", X.shape, "nnz:", X.nnz)
sgd = SGDClassifier(loss="log_loss", random_state=0, max_iter=20, tol=None)
print("sgd acc:", cross_val_score(sgd, X, y, cv=3).round(4))
