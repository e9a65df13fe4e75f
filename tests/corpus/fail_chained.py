import json

import pandas as pd


class ConfigError(Exception):
    pass


def load_config(path):
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    try:
        return cfg["model"]["alpha"]
    except KeyError as e:
        raise ConfigError(f"config {path} lacks key {e}") from e


df = pd.read_csv("data/houses.csv")
print(df.shape)
try:
    alpha = load_config("data/config.json")
except ConfigError:
    cols = df["not_a_column"]  # error while handling: implicit context
