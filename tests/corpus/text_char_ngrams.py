import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

reviews = pd.read_csv("data/reviews.csv")
reviews["text"] = reviews["text"].fillna("").str.lower()
train, test = train_test_split(reviews, test_size=0.3, random_state=9)
print(len(train), len(test))
for analyzer in ["char", "char_wb"]:
    for rng in [(2, 3), (2, 4)]:
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=rng, max_features=3000)
        Xtr = vec.fit_transform(train["text"])
        Xte = vec.transform(test["text"])
        clf = LogisticRegression(max_iter=500).fit(Xtr, train["sentiment"])
        acc = accuracy_score(test["sentiment"], clf.predict(Xte))
        print(f"{analyzer:8s} {rng}: acc={acc:.4f} vocab={len(vec.vocabulary_)}")
print([t for t in vec.get_feature_names_out() if not t.isascii()][:15])
