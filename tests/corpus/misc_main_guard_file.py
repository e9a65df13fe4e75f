"""Script that finds its data next to itself and reports how it was started."""
import os
import sys

import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def main():
    print("name:", __name__)
    print("doc:", __doc__)
    print("file:", __file__)
    print("basename:", os.path.basename(__file__))
    print("argv0:", sys.argv[0])
    print("spec:", __spec__)
    print("path0:", sys.path[0])
    print("path0 is script dir:", os.path.realpath(sys.path[0]) == os.path.realpath(HERE))
    print("cwd is script dir:", os.path.realpath(os.getcwd()) == os.path.realpath(HERE))
    print("main module file:", sys.modules["__main__"].__file__ == __file__)
    print("builtins:", type(__builtins__).__name__ in ("module", "dict"))
    print("loader:", type(__loader__).__name__)
    df = pd.read_csv(os.path.join(DATA, "stores.csv"))
    print(df.shape, sorted(os.listdir(DATA)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
