import re
import unicodedata

import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

EMOJI = re.compile(r"[\U0001F300-\U0001FAFF]")


def clean(text):
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = EMOJI.sub(" EMOJI ", text)
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return re.sub(r"\s+", " ", text).strip()


df = pd.read_csv("data/reviews.csv")
df["clean"] = df["text"].apply(clean)
df["n_words"] = df["clean"].str.split().str.len()
print(df[["text", "clean"]].head(6).to_string())
print(df.groupby("sentiment")["n_words"].agg(["mean", "min", "max"]).round(3))
print("emoji rows:", df["clean"].str.contains("emoji").sum())
for col in ["text", "clean"]:
    X = CountVectorizer(binary=True).fit_transform(df[col].fillna(""))
    s = cross_val_score(LogisticRegression(max_iter=500), X, df["sentiment"], cv=3)
    print(f"{col}: {s.mean():.4f}")
