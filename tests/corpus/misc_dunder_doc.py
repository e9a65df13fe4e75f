"""Module docstring an agent left at the top."""
import sys

import pandas as pd

print(__doc__)
print(sorted(k for k in globals() if k.startswith("__")))
print(__name__, __spec__, __package__, type(__loader__).__name__, __file__.endswith("misc_dunder_doc.py"))
print(sys.argv, sys.path[0].endswith("work"), isinstance(__builtins__, type(sys)))
print(pd.DataFrame({"a": [1, 2]}).shape)
