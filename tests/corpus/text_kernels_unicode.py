# Multilingual text classification through every vectorizer stratum has native kernels for
# (CountVectorizer, TfidfVectorizer, HashingVectorizer): results must match plain python byte
# for byte, with kernels on and off (tests/test_kernels_text.py runs both).
import hashlib
import pickle
import random

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

rng = random.Random(7)
POS = ["great", "Naïve", "café", "ΣΟΦΟΣ", "日本語", "🙂", "İyi", "straße", "٣٤", "good_one"]
NEG = ["awful", "bad", "SCHLECHT", "σοφός", "ひどい", "👎", "kötü", "½", "x", "meh"]
FILL = ["the", "a", "and", "of", "\u3000", "to", "é", "e\u0301", "ǅ", "—", "it's", "12"]


def doc(label):
    words = [rng.choice(POS if label else NEG) for _ in range(rng.randint(1, 4))]
    words += [rng.choice(FILL) for _ in range(rng.randint(0, 6))]
    rng.shuffle(words)
    return rng.choice([" ", "  ", "\t", " \n"]).join(words)


y = np.array([rng.random() < 0.5 for _ in range(400)], dtype=int)
docs = [doc(label) for label in y]
docs[3] = ""
docs[5] = "   "


def digest(obj):
    return hashlib.sha256(pickle.dumps(obj)).hexdigest()[:16]


def state(est):
    # every attribute except _stop_words_id, an id() (an address: differs between runs), each
    # pickled alone (one pickle of all would also record which attributes share one object)
    return [(k, digest(v)) for k, v in vars(est).items() if k != "_stop_words_id"]


for vec in [CountVectorizer(), CountVectorizer(ngram_range=(1, 2), min_df=2, max_features=50),
            CountVectorizer(analyzer="char_wb", ngram_range=(2, 4), binary=True),
            TfidfVectorizer(sublinear_tf=True, max_df=0.9, stop_words="english"),
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), norm="l1", dtype=np.float32)]:
    X = vec.fit_transform(docs)
    names = vec.get_feature_names_out()
    print(type(vec).__name__, X.shape, X.dtype, X.nnz, digest(X), digest(state(vec)))
    print("  first names:", list(names[:6]), "last:", list(names[-3:]))
    print("  inverse[0]:", list(vec.inverse_transform(X[:1])[0]))
    if hasattr(vec, "idf_"):
        print("  idf sum:", repr(float(vec.idf_.sum())))
    print("  transform:", digest(vec.transform(["Naïve café ΣΟΦΟΣ", "İstanbul"])))

for hv in [HashingVectorizer(n_features=2**10), HashingVectorizer(analyzer="char_wb", ngram_range=(1, 2),
                                                                  n_features=97, alternate_sign=False,
                                                                  norm=None)]:
    X = hv.fit_transform(docs)
    print("HashingVectorizer", X.shape, X.nnz, digest(X), repr(float(abs(X).sum())))

for vec in [TfidfVectorizer(), TfidfVectorizer(ngram_range=(1, 2), min_df=2), HashingVectorizer()]:
    scores = cross_val_score(make_pipeline(vec, LogisticRegression(max_iter=500)), docs, y, cv=5)
    print(type(vec).__name__, "cv:", scores.round(6).tolist())

# Errors raised inside the vectorizer: same message, same traceback (library frames included).
import traceback

for make, texts in [(CountVectorizer, ["a", "!", " ", "İ"]),
                    (lambda: TfidfVectorizer(min_df=2), ["naïve café", "日本語 ΣΟΦΟΣ"])]:
    try:
        make().fit(texts)
    except ValueError:
        traceback.print_exc()
