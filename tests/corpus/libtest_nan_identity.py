# Warm: a cached object-dtype value comes back unpickled, so np.nan is no longer np.nan.
# pandas: test_replace_no_replacement_keeps_nan[False/True] (warm).
import numpy as np, pandas as pd
ser = pd.Series([pd.Timestamp(1000223), np.nan], dtype=object)
result = ser.replace("abcdef", pd.NaT)
print("result[1] is np.nan:", result[1] is np.nan)
