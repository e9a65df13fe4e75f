"""
Counting warnings raised by transformers
========================================

Unknown categories at transform time and convergence problems are reported with
warnings; ``warnings.catch_warnings(record=True)`` collects them.
"""
import warnings
from collections import Counter

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder

churn = pd.read_csv("data/churn.csv")
train = churn[churn["contract"] != "two-year"][["contract", "internet"]]
test = churn[["contract", "internet"]].head(12)


def count_warnings(func, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args)
    counts = Counter(w.category.__name__ for w in caught)
    return result, counts, [str(w.message) for w in caught]


enc = OneHotEncoder(handle_unknown="warn").fit(train)
out, counts, messages = count_warnings(enc.transform, test)
print(f"handle_unknown='warn': shape={out.shape}, warnings={dict(counts)}")
for m in messages:
    print("  ", m)
print("all-zero rows:", int((out.toarray().sum(axis=1) < 2).sum()))

pay = churn[["payment_method", "internet"]].copy()
pay.loc[pay.index[:25], "payment_method"] = "cash"
pay.loc[pay.index[25:40], "payment_method"] = "voucher"
enc2 = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=30,
                     sparse_output=False).fit(pay)
print("infrequent categories:", [list(c) if c is not None else None
                                 for c in enc2.infrequent_categories_])
unseen = pd.DataFrame({"payment_method": ["crypto", "credit card"], "internet": ["5G", "DSL"]})
out2, counts2, _ = count_warnings(enc2.transform, unseen)
print(f"infrequent_if_exist: {out2.tolist()} warnings={dict(counts2)}")
print("feature names:", list(enc2.get_feature_names_out()))

X = churn[["tenure", "monthly_charges", "support_calls"]].fillna(0).to_numpy()
y = churn["churn"].eq("Yes").to_numpy()
for max_iter in (2, 5, 500):
    model = LogisticRegression(max_iter=max_iter)
    _, counts3, _ = count_warnings(model.fit, X, y)
    print(f"max_iter={max_iter}: ConvergenceWarning x{counts3.get('ConvergenceWarning', 0)}, "
          f"n_iter_={model.n_iter_[0]}")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    LogisticRegression(max_iter=3).fit(X, y)
print("ignored one; the next goes to stderr")
LogisticRegression(max_iter=4).fit(X, y)
enc.transform(pd.DataFrame({"contract": ["weekly"], "internet": ["No"]}))
print("end", np.int64(len(messages)))
