"""Which user callables may be skipped when the library call running them is reused."""
import numpy as np
import pandas as pd
import pytest

from interposer.rewrite import rewrite
from stratum.keys.purity import side_effect

LOG = []
TABLE = {}
SCALE = 2.0


def pure_features(df):
    df = df.copy()
    df["x"] = np.log1p(df["a"]) * SCALE
    df.columns = [c.upper() for c in df.columns]
    return df


def appends(v):
    LOG.append(v)
    return v


def fills_table(k):
    TABLE[k] = 1
    return k


def prints(v):
    print(v)
    return v


def assigns_global(v):
    global SCALE
    SCALE = v
    return v


def draws(v):
    return v + np.random.rand()


def writes_file(df):
    df.to_csv("out.csv")
    return df


def make_counter():
    count = 0

    def bump(v):
        nonlocal count
        count += 1
        return v

    return bump


@pytest.mark.parametrize("fn", [pure_features, lambda r: r["a"] * 2, lambda s: s.str.lower()])
def test_pure_callables_are_skippable(fn):
    for code in (fn.__code__, rewrite(fn.__code__)):
        assert side_effect(code, fn.__globals__, fn.__closure__) is None


@pytest.mark.parametrize("fn, why", [
    (appends, "LOG"), (fills_table, "TABLE"), (prints, "print"), (assigns_global, "SCALE"),
    (draws, "rand"), (writes_file, "to_csv"), (make_counter(), "count"),
    (lambda v: LOG.append(v) or v, "LOG"),
])
def test_side_effects_are_found_in_plain_and_rewritten_code(fn, why):
    for code in (fn.__code__, rewrite(fn.__code__)):
        reason = side_effect(code, fn.__globals__, fn.__closure__)
        assert reason is not None and why in reason


def test_library_globals_are_not_outside_state():
    frame = pd.DataFrame({"a": [1.0]})

    def uses_frame(df):
        out = df.copy()
        out["b"] = frame["a"].iloc[0]
        return out

    assert side_effect(uses_frame.__code__, {"frame": frame, "pd": pd}, None) is None
