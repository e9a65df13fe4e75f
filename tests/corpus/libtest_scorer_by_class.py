# Known cause (scorer keyed by class, not state): r2 returns the neg-MSE result (cold).
# sklearn: test_cross_validate[csr_array-True] (cold and warm).
import numpy as np
from scipy.sparse import csr_array
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.metrics import check_scoring
X, y = make_regression(n_samples=30, random_state=0)
X = csr_array(X)
est = Ridge(random_state=0).fit(X, y)
mse = check_scoring(est, scoring="neg_mean_squared_error")
r2 = check_scoring(est, scoring="r2")
print(round(mse(est, X, y), 6), round(r2(est, X, y), 6))
