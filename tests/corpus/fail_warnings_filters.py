# Warning handling: silenced, recorded, escalated and shown.
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.metrics import precision_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/churn.csv").fillna(0)
X = df[["tenure", "monthly_charges", "total_charges", "support_calls"]].to_numpy()
y = (df["churn"] == "Yes").astype(int).to_numpy()
Xs = StandardScaler().fit_transform(X)

# 1. shown: a ConvergenceWarning goes to stderr (default filters)
m = LogisticRegression(max_iter=2).fit(X, y)
print("shown case n_iter:", m.n_iter_.tolist())

# 2. silenced with a context manager
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    for it in [1, 3, 10]:
        m = LogisticRegression(max_iter=it).fit(X, y)
        print(f"silenced max_iter={it}: acc={m.score(X, y):.4f}")

# 3. recorded and counted
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for hidden in [(2,), (3,)]:
        MLPClassifier(hidden_layer_sizes=hidden, max_iter=5, random_state=0).fit(Xs, y)
    precision_score(y, np.zeros_like(y))
    Lasso(alpha=1e-6, max_iter=3).fit(X, y.astype(float))
print(f"recorded {len(caught)} warnings")
for w in caught:
    print(f"  {w.category.__name__}: {str(w.message).splitlines()[0][:70]}")
    print(f"    from {w.filename.rsplit('/', 1)[-1]}:{w.lineno}")
kinds = sorted({w.category.__name__ for w in caught})
print("kinds:", kinds)

# 4. escalated to an error
warnings.simplefilter("error", ConvergenceWarning)
try:
    LogisticRegression(max_iter=1).fit(X, y)
except ConvergenceWarning as exc:
    print("escalated:", type(exc).__name__, str(exc).split("\n")[0])
warnings.resetwarnings()
warnings.simplefilter("default")

# 5. shown again, at a loop line (default filter: once per location and text)
for it in [2, 2, 4]:
    LogisticRegression(max_iter=it).fit(Xs, y)
    print(f"loop max_iter={it} done")
warnings.warn("custom user warning from the script", UserWarning)
print("done")
