import pandas as pd

print("loading training data")
train = pd.read_csv("data/houses.csv")
print("train:", train.shape)
test = pd.read_csv("data/houses_test.csv")
print("test:", test.shape)
