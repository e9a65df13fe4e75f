# Classmethods and attributes of names imported with ``from ... import`` called inside
# functions: CPython 3.11 compiles ``DataFrame.from_dict(...)`` there as
# ``LOAD_GLOBAL (NULL + DataFrame); LOAD_ATTR from_dict; ...; CALL``.
from numpy import linalg, random
from pandas import DataFrame, MultiIndex, Series, Timestamp
from scipy.stats import norm, t
from sklearn.preprocessing import StandardScaler


def build():
    df = DataFrame.from_dict({"a": [1, 2, 3], "b": [4.0, 5.0, 6.5]})
    rows = DataFrame.from_records([(1, "x"), (2, "y")], columns=["n", "s"])
    mi = MultiIndex.from_product([[1, 2], ["a", "b"]], names=["k", "v"])
    s = Series.from_list([1, 2]) if hasattr(Series, "from_list") else Series([1, 2])
    ts = Timestamp.fromisoformat("2024-01-02")
    return df, rows, mi, s, ts


def stats(flag):
    crit = norm.ppf(0.975)
    p = t.sf(2.0, 10)
    pick = norm.cdf(1.0 if flag else -1.0, loc=0.0 if flag else 1.0)
    return round(float(crit), 6), round(float(p), 6), round(float(pick), 6)


def arrays():
    rng = random.default_rng(0)
    x = rng.normal(size=(4, 3))
    scaled = StandardScaler().fit_transform(x)
    return round(float(linalg.norm(scaled)), 6), linalg.matrix_rank(x)


df, rows, mi, s, ts = build()
print(df)
print(rows)
print(mi)
print(s.tolist(), ts)
print(stats(True), stats(False))
print(arrays())
