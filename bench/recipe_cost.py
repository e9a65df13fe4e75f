"""Per-operation cost of recording replay recipes (stratum/engine/recipe.py), side by side.

The two hot-path loops of bench/test_hotpaths.py (10k ``df["a"]``, 10k ``arr + 1``, rewritten,
engine active) are timed with recipe recording on and switched off (``recipe.arguments`` /
``recipe.attach`` replaced by no-ops), alternating; medians of ``--repeat`` rounds. With
``--no-gc`` the collector is off while timing, which separates the recipe code itself from the
extra garbage-collection work its retained tuples cause.

    python bench/recipe_cost.py [--repeat 7] [--no-gc]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-gc", action="store_true")
    opts = ap.parse_args(argv)
    os.environ["STRATUM_CACHE_DIR"] = tempfile.mkdtemp(prefix="stratum-recipe-cost-")
    import test_hotpaths as hot
    from interposer import dispatch
    from stratum.session import activation
    from stratum.engine import recipe

    session = activation.activate()
    engine = session.load_engine()
    dispatch.set_engine(engine)
    real = (recipe.arguments, recipe.attach)
    off = (lambda engine, call: None, lambda engine, call, node, result: None)

    def timed(fn, args):
        engine.nodes.clear()
        if opts.no_gc:
            gc.collect()
            gc.disable()
        try:
            t0 = time.perf_counter()
            fn(*args)
            return time.perf_counter() - t0
        finally:
            gc.enable()

    print(f"command: python bench/recipe_cost.py --repeat {opts.repeat}"
          + (" --no-gc" if opts.no_gc else ""))
    try:
        for name, fn, args in (("df['a']", hot.REWRITTEN["getitem_loop"], (hot.DF, hot.N)),
                               ("arr + 1", hot.REWRITTEN["add_loop"], (hot.ARR, hot.N))):
            with_, without = [], []
            for _ in range(opts.repeat):
                recipe.arguments, recipe.attach = real
                with_.append(timed(fn, args))
                recipe.arguments, recipe.attach = off
                without.append(timed(fn, args))
            recipe.arguments, recipe.attach = real
            a, b = statistics.median(with_) / hot.N * 1e6, statistics.median(without) / hot.N * 1e6
            print(f"  {name}: {a:.2f} us/op with recipes, {b:.2f} without: +{a - b:.2f} us/op")
    finally:
        recipe.arguments, recipe.attach = real
        activation.deactivate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
