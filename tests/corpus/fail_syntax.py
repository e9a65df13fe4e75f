import pandas as pd

df = pd.read_csv("data/houses.csv")
for alpha in [0.1, 1.0]
    print(alpha, df.shape)
