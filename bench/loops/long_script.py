"""A long agent script: the helpers an agent accumulates over many edits, then a module-level
loop of small array operations. The loop costs what np_arith.py's does per operation; a
per-call cost that grows with the size of the script (hashing its code) shows here."""
import numpy as np

SETTINGS = {"window": 16, "step": 4, "clip": 3.0, "seed": 7}


def feature_00(x, weight=1.0):
    """Feature 0: np.log1p(np.abs(x)), weighted."""
    values = np.log1p(np.abs(x))
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_00", "mean": float(values.mean()), "parts": (0, "np.log1p(np.")}


def feature_01(x, weight=2.0):
    """Feature 1: (x - x.mean()) / (x.std() + 1e-9), weighted."""
    values = (x - x.mean()) / (x.std() + 1e-9)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_01", "mean": float(values.mean()), "parts": (1, "(x - x.mean(")}


def feature_02(x, weight=3.0):
    """Feature 2: np.clip(x, -3.0, 3.0), weighted."""
    values = np.clip(x, -3.0, 3.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_02", "mean": float(values.mean()), "parts": (2, "np.clip(x, -")}


def feature_03(x, weight=4.0):
    """Feature 3: np.sqrt(np.abs(x)) * np.sign(x), weighted."""
    values = np.sqrt(np.abs(x)) * np.sign(x)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_03", "mean": float(values.mean()), "parts": (3, "np.sqrt(np.a")}


def feature_04(x, weight=5.0):
    """Feature 4: x ** 2 - x, weighted."""
    values = x ** 2 - x
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_04", "mean": float(values.mean()), "parts": (4, "x ** 2 - x")}


def feature_05(x, weight=1.0):
    """Feature 5: np.tanh(x / 2.0), weighted."""
    values = np.tanh(x / 2.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_05", "mean": float(values.mean()), "parts": (5, "np.tanh(x / ")}


def feature_06(x, weight=2.0):
    """Feature 6: np.cumsum(x) / (np.arange(len(x)) + 1), weighted."""
    values = np.cumsum(x) / (np.arange(len(x)) + 1)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_06", "mean": float(values.mean()), "parts": (6, "np.cumsum(x)")}


def feature_07(x, weight=3.0):
    """Feature 7: np.maximum(x, 0.0), weighted."""
    values = np.maximum(x, 0.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_07", "mean": float(values.mean()), "parts": (7, "np.maximum(x")}


def feature_08(x, weight=4.0):
    """Feature 8: np.log1p(np.abs(x)), weighted."""
    values = np.log1p(np.abs(x))
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_08", "mean": float(values.mean()), "parts": (8, "np.log1p(np.")}


def feature_09(x, weight=5.0):
    """Feature 9: (x - x.mean()) / (x.std() + 1e-9), weighted."""
    values = (x - x.mean()) / (x.std() + 1e-9)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_09", "mean": float(values.mean()), "parts": (9, "(x - x.mean(")}


def feature_10(x, weight=1.0):
    """Feature 10: np.clip(x, -3.0, 3.0), weighted."""
    values = np.clip(x, -3.0, 3.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_10", "mean": float(values.mean()), "parts": (10, "np.clip(x, -")}


def feature_11(x, weight=2.0):
    """Feature 11: np.sqrt(np.abs(x)) * np.sign(x), weighted."""
    values = np.sqrt(np.abs(x)) * np.sign(x)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_11", "mean": float(values.mean()), "parts": (11, "np.sqrt(np.a")}


def feature_12(x, weight=3.0):
    """Feature 12: x ** 2 - x, weighted."""
    values = x ** 2 - x
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_12", "mean": float(values.mean()), "parts": (12, "x ** 2 - x")}


def feature_13(x, weight=4.0):
    """Feature 13: np.tanh(x / 2.0), weighted."""
    values = np.tanh(x / 2.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_13", "mean": float(values.mean()), "parts": (13, "np.tanh(x / ")}


def feature_14(x, weight=5.0):
    """Feature 14: np.cumsum(x) / (np.arange(len(x)) + 1), weighted."""
    values = np.cumsum(x) / (np.arange(len(x)) + 1)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_14", "mean": float(values.mean()), "parts": (14, "np.cumsum(x)")}


def feature_15(x, weight=1.0):
    """Feature 15: np.maximum(x, 0.0), weighted."""
    values = np.maximum(x, 0.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_15", "mean": float(values.mean()), "parts": (15, "np.maximum(x")}


def feature_16(x, weight=2.0):
    """Feature 16: np.log1p(np.abs(x)), weighted."""
    values = np.log1p(np.abs(x))
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_16", "mean": float(values.mean()), "parts": (16, "np.log1p(np.")}


def feature_17(x, weight=3.0):
    """Feature 17: (x - x.mean()) / (x.std() + 1e-9), weighted."""
    values = (x - x.mean()) / (x.std() + 1e-9)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_17", "mean": float(values.mean()), "parts": (17, "(x - x.mean(")}


def feature_18(x, weight=4.0):
    """Feature 18: np.clip(x, -3.0, 3.0), weighted."""
    values = np.clip(x, -3.0, 3.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_18", "mean": float(values.mean()), "parts": (18, "np.clip(x, -")}


def feature_19(x, weight=5.0):
    """Feature 19: np.sqrt(np.abs(x)) * np.sign(x), weighted."""
    values = np.sqrt(np.abs(x)) * np.sign(x)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_19", "mean": float(values.mean()), "parts": (19, "np.sqrt(np.a")}


def feature_20(x, weight=1.0):
    """Feature 20: x ** 2 - x, weighted."""
    values = x ** 2 - x
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_20", "mean": float(values.mean()), "parts": (20, "x ** 2 - x")}


def feature_21(x, weight=2.0):
    """Feature 21: np.tanh(x / 2.0), weighted."""
    values = np.tanh(x / 2.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_21", "mean": float(values.mean()), "parts": (21, "np.tanh(x / ")}


def feature_22(x, weight=3.0):
    """Feature 22: np.cumsum(x) / (np.arange(len(x)) + 1), weighted."""
    values = np.cumsum(x) / (np.arange(len(x)) + 1)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_22", "mean": float(values.mean()), "parts": (22, "np.cumsum(x)")}


def feature_23(x, weight=4.0):
    """Feature 23: np.maximum(x, 0.0), weighted."""
    values = np.maximum(x, 0.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_23", "mean": float(values.mean()), "parts": (23, "np.maximum(x")}


def feature_24(x, weight=5.0):
    """Feature 24: np.log1p(np.abs(x)), weighted."""
    values = np.log1p(np.abs(x))
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_24", "mean": float(values.mean()), "parts": (24, "np.log1p(np.")}


def feature_25(x, weight=1.0):
    """Feature 25: (x - x.mean()) / (x.std() + 1e-9), weighted."""
    values = (x - x.mean()) / (x.std() + 1e-9)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_25", "mean": float(values.mean()), "parts": (25, "(x - x.mean(")}


def feature_26(x, weight=2.0):
    """Feature 26: np.clip(x, -3.0, 3.0), weighted."""
    values = np.clip(x, -3.0, 3.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_26", "mean": float(values.mean()), "parts": (26, "np.clip(x, -")}


def feature_27(x, weight=3.0):
    """Feature 27: np.sqrt(np.abs(x)) * np.sign(x), weighted."""
    values = np.sqrt(np.abs(x)) * np.sign(x)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_27", "mean": float(values.mean()), "parts": (27, "np.sqrt(np.a")}


def feature_28(x, weight=4.0):
    """Feature 28: x ** 2 - x, weighted."""
    values = x ** 2 - x
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_28", "mean": float(values.mean()), "parts": (28, "x ** 2 - x")}


def feature_29(x, weight=5.0):
    """Feature 29: np.tanh(x / 2.0), weighted."""
    values = np.tanh(x / 2.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_29", "mean": float(values.mean()), "parts": (29, "np.tanh(x / ")}


def feature_30(x, weight=1.0):
    """Feature 30: np.cumsum(x) / (np.arange(len(x)) + 1), weighted."""
    values = np.cumsum(x) / (np.arange(len(x)) + 1)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_30", "mean": float(values.mean()), "parts": (30, "np.cumsum(x)")}


def feature_31(x, weight=2.0):
    """Feature 31: np.maximum(x, 0.0), weighted."""
    values = np.maximum(x, 0.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_31", "mean": float(values.mean()), "parts": (31, "np.maximum(x")}


def feature_32(x, weight=3.0):
    """Feature 32: np.log1p(np.abs(x)), weighted."""
    values = np.log1p(np.abs(x))
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_32", "mean": float(values.mean()), "parts": (32, "np.log1p(np.")}


def feature_33(x, weight=4.0):
    """Feature 33: (x - x.mean()) / (x.std() + 1e-9), weighted."""
    values = (x - x.mean()) / (x.std() + 1e-9)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_33", "mean": float(values.mean()), "parts": (33, "(x - x.mean(")}


def feature_34(x, weight=5.0):
    """Feature 34: np.clip(x, -3.0, 3.0), weighted."""
    values = np.clip(x, -3.0, 3.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_34", "mean": float(values.mean()), "parts": (34, "np.clip(x, -")}


def feature_35(x, weight=1.0):
    """Feature 35: np.sqrt(np.abs(x)) * np.sign(x), weighted."""
    values = np.sqrt(np.abs(x)) * np.sign(x)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_35", "mean": float(values.mean()), "parts": (35, "np.sqrt(np.a")}


def feature_36(x, weight=2.0):
    """Feature 36: x ** 2 - x, weighted."""
    values = x ** 2 - x
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_36", "mean": float(values.mean()), "parts": (36, "x ** 2 - x")}


def feature_37(x, weight=3.0):
    """Feature 37: np.tanh(x / 2.0), weighted."""
    values = np.tanh(x / 2.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_37", "mean": float(values.mean()), "parts": (37, "np.tanh(x / ")}


def feature_38(x, weight=4.0):
    """Feature 38: np.cumsum(x) / (np.arange(len(x)) + 1), weighted."""
    values = np.cumsum(x) / (np.arange(len(x)) + 1)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_38", "mean": float(values.mean()), "parts": (38, "np.cumsum(x)")}


def feature_39(x, weight=5.0):
    """Feature 39: np.maximum(x, 0.0), weighted."""
    values = np.maximum(x, 0.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_39", "mean": float(values.mean()), "parts": (39, "np.maximum(x")}


def feature_40(x, weight=1.0):
    """Feature 40: np.log1p(np.abs(x)), weighted."""
    values = np.log1p(np.abs(x))
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_40", "mean": float(values.mean()), "parts": (40, "np.log1p(np.")}


def feature_41(x, weight=2.0):
    """Feature 41: (x - x.mean()) / (x.std() + 1e-9), weighted."""
    values = (x - x.mean()) / (x.std() + 1e-9)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_41", "mean": float(values.mean()), "parts": (41, "(x - x.mean(")}


def feature_42(x, weight=3.0):
    """Feature 42: np.clip(x, -3.0, 3.0), weighted."""
    values = np.clip(x, -3.0, 3.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_42", "mean": float(values.mean()), "parts": (42, "np.clip(x, -")}


def feature_43(x, weight=4.0):
    """Feature 43: np.sqrt(np.abs(x)) * np.sign(x), weighted."""
    values = np.sqrt(np.abs(x)) * np.sign(x)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_43", "mean": float(values.mean()), "parts": (43, "np.sqrt(np.a")}


def feature_44(x, weight=5.0):
    """Feature 44: x ** 2 - x, weighted."""
    values = x ** 2 - x
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_44", "mean": float(values.mean()), "parts": (44, "x ** 2 - x")}


def feature_45(x, weight=1.0):
    """Feature 45: np.tanh(x / 2.0), weighted."""
    values = np.tanh(x / 2.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_45", "mean": float(values.mean()), "parts": (45, "np.tanh(x / ")}


def feature_46(x, weight=2.0):
    """Feature 46: np.cumsum(x) / (np.arange(len(x)) + 1), weighted."""
    values = np.cumsum(x) / (np.arange(len(x)) + 1)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_46", "mean": float(values.mean()), "parts": (46, "np.cumsum(x)")}


def feature_47(x, weight=3.0):
    """Feature 47: np.maximum(x, 0.0), weighted."""
    values = np.maximum(x, 0.0)
    if weight != 1.0:
        values = values * weight
    return {"name": "feature_47", "mean": float(values.mean()), "parts": (47, "np.maximum(x")}


FEATURES = [feature_00, feature_07, feature_13, feature_21, feature_34, feature_47]

rng = np.random.default_rng(SETTINGS["seed"])
signal = rng.normal(size=20_000)
weights = np.linspace(0.5, 1.5, SETTINGS["window"])
scores = np.zeros(4_000)
total = 0.0
for k in range(4_000):
    start = k * SETTINGS["step"]
    window = signal[start:start + SETTINGS["window"]]
    z = (window - weights) * 2.0
    scores[k] = z.max()
    total += float(z.sum())
summary = [f(signal[:256])["mean"] for f in FEATURES]
print(round(total, 6), round(float(scores.sum()), 6), [round(s, 6) for s in summary])
