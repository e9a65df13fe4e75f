import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

df = pd.read_csv("data/reviews.csv")
df = df.dropna(subset=["text"])
y = (df["sentiment"] == "pos").astype(int)
Xtr, Xte, ytr, yte = train_test_split(df["text"], y, test_size=0.25, random_state=0, stratify=y)
for ngram in [(1, 1), (1, 2)]:
    for C in [0.5, 5.0]:
        pipe = Pipeline([
            ("tfidf", TfidfVectorizer(ngram_range=ngram, min_df=2, sublinear_tf=True)),
            ("clf", LogisticRegression(C=C, max_iter=1000)),
        ])
        pipe.fit(Xtr, ytr)
        print(f"ngram={ngram} C={C}: f1={f1_score(yte, pipe.predict(Xte)):.4f} "
              f"features={len(pipe['tfidf'].vocabulary_)}")
names = pipe["tfidf"].get_feature_names_out()
coefs = pipe["clf"].coef_[0]
order = np.argsort(coefs)
print("most negative:", [names[i] for i in order[:8]])
print("most positive:", [names[i] for i in order[-8:]])
