# A fitted model's attributes changed in a hot loop (coef_ written through item assignment):
# predictions after the loop must use the changed model, cold and warm.
import numpy as np
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(3)
X = rng.normal(size=(400, 6))
y = X @ np.arange(1.0, 7.0) + rng.normal(size=400) * 0.1
model = Ridge(alpha=0.5).fit(X, y)
first = model.predict(X[:4])
for i in range(120):
    model.coef_[i % 6] += 0.01
    _ = model.coef_.sum()
print(np.round(first, 6).tolist())
print(np.round(model.predict(X[:4]), 6).tolist(), np.round(model.coef_, 6).tolist())
scaler = StandardScaler().fit(X)
per_row = [float(scaler.transform(X[i:i + 1])[0, 0]) for i in range(100)]
print(round(sum(per_row), 6), round(float(model.score(X, y)), 6))
