import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline

df = pd.read_csv("data/reviews.csv").fillna({"text": ""})
pipe = Pipeline([("vec", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=500))])
dist = {
    "clf__C": loguniform(1e-2, 1e2),
    "vec__min_df": randint(1, 4),
    "vec__ngram_range": [(1, 1), (1, 2)],
}
search = RandomizedSearchCV(pipe, dist, n_iter=6, cv=3, random_state=123, scoring="accuracy")
search.fit(df["text"], df["sentiment"])
print("best_params_:", {k: (round(v, 6) if isinstance(v, float) else v) for k, v in search.best_params_.items()})
print(f"best_score_: {search.best_score_:.4f}")
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"  C={params['clf__C']:.4f} min_df={params['vec__min_df']} ngram={params['vec__ngram_range']} -> {score:.4f}")
print(np.array(search.cv_results_["rank_test_score"]))
