"""
Constructing frames from dictionaries and products (user-guide style)
====================================================================
"""
from pandas import DataFrame, MultiIndex, Timestamp, Timedelta, date_range, concat


def sales_table(data):
    return DataFrame.from_dict(data, orient="index", columns=["units", "price"])


def product_index(stores, quarters):
    return MultiIndex.from_product([stores, quarters], names=["store", "quarter"])


def opening_report(opened):
    now = Timestamp("2024-06-30")
    ages = {name: (now - Timestamp(day)) // Timedelta(days=1) for name, day in opened.items()}
    return DataFrame.from_dict(ages, orient="index", columns=["days_open"]).sort_values("days_open")


raw = {"apples": [120, 0.5], "bread": [40, 2.2], "coffee": [15, 9.0], "tea": [22, 4.4]}
table = sales_table(raw)
table["revenue"] = table["units"] * table["price"]
print(table)
print(DataFrame.from_dict({"a": [1, 2], "b": [3, 4]}))
print(DataFrame.from_records([(1, "x"), (2, "y")], columns=["n", "s"]))

idx = product_index(["S01", "S02", "S03"], ["Q1", "Q2"])
frame = DataFrame({"units": range(len(idx))}, index=idx)
frame["share"] = frame["units"] / frame.groupby(level="store")["units"].transform("sum")
print(frame.round(3))
print(frame.xs("Q2", level="quarter"))
print(frame.unstack("quarter"))

tuples = MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)])
print(tuples.get_level_values(0).tolist(), tuples.nlevels)
arrays = MultiIndex.from_arrays([["x", "y"], [10, 20]], names=["k", "v"])
print(arrays)

print(opening_report({"north": "2019-03-01", "south": "2021-11-15", "east": "2015-07-04"}))
ts = Timestamp("2024-01-31 12:00")
print(ts + Timedelta(hours=36), ts.day_name(), ts.is_month_end, ts.to_period("M"))
days = date_range(Timestamp("2024-02-26"), periods=5, freq="D")
print(concat([DataFrame({"day": days}), DataFrame({"n": range(5)})], axis=1))
