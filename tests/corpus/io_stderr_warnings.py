import logging
import sys
import warnings

import pandas as pd

logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("pipeline")


def check(df):
    if df.isna().any().any():
        warnings.warn("data contains missing values; imputing with median", UserWarning)
    warnings.warn("check() will be renamed", DeprecationWarning, stacklevel=2)
    return df.fillna(df.median(numeric_only=True))


print("start")
print("this goes to stderr", file=sys.stderr)
df = pd.read_csv("data/houses.csv").select_dtypes("number")
log.info("loaded %d rows", len(df))
for i in range(3):
    df2 = check(df)   # shown every time: pandas resets the once-per-location registry
    print("iteration", i, int(df2.isna().sum().sum()))
sys.stderr.write("raw stderr write\n")
log.warning("done with %s", "warnings")
warnings.simplefilter("error", RuntimeWarning)
try:
    warnings.warn("now an error", RuntimeWarning)
except RuntimeWarning as w:
    print("caught:", w)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    warnings.warn("recorded", FutureWarning)
print([str(w.message) for w in caught])
print("end")
