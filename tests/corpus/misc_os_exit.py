import atexit
import os
import sys

import pandas as pd

atexit.register(lambda: print("atexit handler ran (not expected)"))
df = pd.read_csv("data/stores.csv")
print("flushed line", len(df), flush=True)
sys.stderr.write("stderr line\n")
sys.stderr.flush()
print("buffered line: lost by os._exit when stdout is a pipe")
os._exit(5)
