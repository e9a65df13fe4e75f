import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import accuracy_score, classification_report
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB

df = pd.read_csv("data/reviews.csv")
print(df.shape, "missing text:", df["text"].isna().sum())
df["text"] = df["text"].fillna("")
print(df.head(3).to_string())
X_train, X_test, y_train, y_test = train_test_split(df["text"], df["sentiment"], test_size=0.2,
                                                    random_state=42)
vec = CountVectorizer()
Xtr = vec.fit_transform(X_train)
Xte = vec.transform(X_test)
print("vocab size:", len(vec.vocabulary_))
print("sample vocab:", sorted(vec.vocabulary_)[:12])
for a in [0.1, 0.5, 1.0]:
    nb = MultinomialNB(alpha=a).fit(Xtr, y_train)
    print(f"alpha={a}: acc={accuracy_score(y_test, nb.predict(Xte)):.4f}")
print(classification_report(y_test, nb.predict(Xte)))
