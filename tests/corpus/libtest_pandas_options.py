# pandas options (pd.option_context / set_option) are not part of the lineage key: the second
# astype, under another option, reuses the first one's result instead of raising (cold run).
# Seen in pandas tests: test_astype_extension_dtypes_duplicate_col[False-Int64],
# test_groupby_multiindex_not_lexsorted[False] (mode.performance_warnings: warning replayed).
import numpy as np, pandas as pd
s = pd.Series([0, np.nan, 4])
for distinguish in (False, True):
    with pd.option_context("future.distinguish_nan_and_na", distinguish):
        try:
            print(distinguish, s.astype("Int64").tolist())
        except ValueError as e:
            print(distinguish, "ValueError:", e)
