import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold

df = pd.read_csv("data/churn.csv").dropna()
y = df["churn"].map({"No": 0, "Yes": 1})
X = pd.get_dummies(df.drop(columns=["customer_id", "churn"]), dtype=int)
param_grid = {"n_estimators": [10, 30], "max_depth": [3, 6], "min_samples_leaf": [1, 5]}
gs = GridSearchCV(RandomForestClassifier(random_state=42), param_grid,
                  cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="f1", refit=True)
gs.fit(X, y)
print("Best params:", gs.best_params_)
print("Best F1: %.4f" % gs.best_score_)
cv = pd.DataFrame(gs.cv_results_)
cols = ["param_n_estimators", "param_max_depth", "param_min_samples_leaf", "mean_test_score", "std_test_score"]
print(cv[cols].round(4).to_string())
print("n features:", gs.best_estimator_.n_features_in_)
