"""
Options and settings
====================

The same frames printed and computed under different pandas options.
"""
import warnings

import numpy as np
import pandas as pd

sales = pd.read_csv("data/sales.csv")
table = sales.groupby(["store", "product"])["amount"].sum().reset_index()

print("defaults:", pd.get_option("display.max_rows"), pd.get_option("display.precision"))
print(table.head(12))

pd.set_option("display.max_rows", 8)
pd.set_option("display.precision", 2)
print(table.head(12))
print(repr(table["amount"].head(10)))

with pd.option_context("display.max_rows", 4, "display.max_columns", 2, "display.precision", 5):
    print(table)
    print(table.describe())
print("restored:", pd.get_option("display.max_rows"))

pd.set_option("display.float_format", "{:,.1f}".format)
print(table.nlargest(3, "amount"))
pd.reset_option("display.float_format")
print(table.nlargest(3, "amount"))
pd.reset_option("display.max_rows")
pd.reset_option("display.precision")

words = pd.DataFrame({"w": ["a", "bb", None, "dddd"]})
if "infer_string" in dir(pd.options.future):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for flag in (False, True):
            with pd.option_context("future.infer_string", flag):
                s = pd.Series(["x", "yy", None])
                print(f"infer_string={flag}: dtype={s.dtype}, lengths={s.str.len().tolist()}")
print(words["w"].str.len().tolist(), words.dtypes.to_dict())

for width in (40, 120):
    with pd.option_context("display.width", width, "display.max_columns", None):
        wide = table.pivot(index="store", columns="product", values="amount").round(0)
        print(f"width={width}:")
        print(wide.head(2))

arr = np.arange(10) / 3
for precision in (2, 6):
    with pd.option_context("display.precision", precision):
        print(pd.DataFrame({"v": arr[:3]}))
print(pd.describe_option("display.max_rows", _print_desc=False).splitlines()[0])
