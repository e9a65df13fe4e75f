"""Deterministic data files for the differential corpus.

``make_data(dest_dir)`` writes the same bytes on every call (seeded numpy generator, explicit
text formatting, no library-dependent float printing), so the corpus scripts see identical
inputs in every run and on every machine. Only csv / npy / json / txt: no pyarrow.

Run directly to (re)generate into a folder: ``python make_data.py DEST``.
"""
from __future__ import annotations

import csv
import json
import os
import sys

import numpy as np

SEED = 20240611

NEIGHBORHOODS = ["Northside", "Riverside", "Oakwood", "Downtown", "Hillcrest", "Lakeview"]
CONDITIONS = ["poor", "fair", "good", "excellent"]
CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENTS = ["credit card", "bank transfer", "electronic check", "mailed check"]
INTERNET = ["DSL", "Fiber optic", "No"]
STORES = ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08"]
PRODUCTS = ["apples", "bananas", "bread", "cheese", "coffee", "eggs", "milk", "tea", "wine", "yogurt"]
REGIONS = {"S01": "north", "S02": "north", "S03": "south", "S04": "south",
           "S05": "east", "S06": "east", "S07": "west", "S08": "west"}
SPECIES = ["setosa-ish", "versicolor-ish", "virginica-ish"]

POS_WORDS = ["great", "excellent", "love", "wonderful", "perfect", "amazing", "good", "happy",
             "fantastic", "superb", "très bien", "génial", "buenísimo", "toll", "素晴らしい", "😀", "👍"]
NEG_WORDS = ["terrible", "awful", "hate", "broken", "poor", "bad", "disappointing", "worst",
             "useless", "refund", "nul", "malísimo", "schlecht", "最悪", "😡", "👎"]
NEUTRAL_WORDS = ["the", "product", "it", "was", "delivery", "price", "quality", "box", "item",
                 "café", "naïve", "über", "straße", "mañana", "a", "and", "is", "this", "for",
                 "my", "with", "size", "color", "week", "after", "order", "arrived", "service"]


def _fmt(x: float, digits: int = 2) -> str:
    """Fixed-point text for a float; empty field for NaN."""
    if x != x:  # NaN
        return ""
    return f"{x:.{digits}f}"


def _write_csv(path: str, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        w.writerows(rows)


def _houses(rng: np.random.Generator, path: str, n: int = 2000) -> None:
    area = rng.normal(1800, 550, n).clip(400, 5000)
    bedrooms = rng.integers(1, 6, n)
    bathrooms = (rng.integers(2, 8, n) / 2.0)
    year = rng.integers(1920, 2023, n).astype(float)
    lot = rng.lognormal(8.8, 0.4, n)
    hood = rng.integers(0, len(NEIGHBORHOODS), n)
    cond = rng.integers(0, len(CONDITIONS), n)
    garage = rng.integers(0, 2, n)
    hood_effect = np.array([30000, -15000, 20000, 60000, 45000, 80000])[hood]
    price = (50000 + 120 * area + 8000 * bedrooms + 12000 * bathrooms
             + 600 * (year - 1920) + 2.5 * lot + hood_effect + 15000 * cond + 10000 * garage
             + rng.normal(0, 25000, n))
    lot[rng.random(n) < 0.08] = np.nan
    year[rng.random(n) < 0.04] = np.nan
    cond_missing = rng.random(n) < 0.05
    rows = []
    for i in range(n):
        rows.append([
            str(i + 1), _fmt(area[i], 1), str(bedrooms[i]), _fmt(bathrooms[i], 1),
            "" if year[i] != year[i] else str(int(year[i])), _fmt(lot[i], 1),
            NEIGHBORHOODS[hood[i]], "" if cond_missing[i] else CONDITIONS[cond[i]],
            str(garage[i]), _fmt(price[i], 0),
        ])
    _write_csv(path, ["id", "area", "bedrooms", "bathrooms", "year_built", "lot_size",
                      "neighborhood", "condition", "has_garage", "price"], rows)


def _churn(rng: np.random.Generator, path: str, n: int = 3000) -> None:
    tenure = rng.integers(0, 73, n)
    monthly = rng.uniform(18, 120, n)
    total = monthly * tenure + rng.normal(0, 30, n)
    total = total.clip(0, None)
    contract = rng.integers(0, 3, n)
    pay = rng.integers(0, 4, n)
    net = rng.integers(0, 3, n)
    senior = (rng.random(n) < 0.16).astype(int)
    gender = rng.integers(0, 2, n)
    calls = rng.poisson(1.5, n)
    logit = (-1.0 - 0.04 * tenure + 0.018 * monthly - 1.1 * (contract == 1) - 2.0 * (contract == 2)
             + 0.6 * (pay == 2) + 0.5 * (net == 1) + 0.4 * senior + 0.35 * calls)
    prob = 1 / (1 + np.exp(-logit))
    churn = rng.random(n) < prob
    total[rng.random(n) < 0.03] = np.nan
    monthly_missing = rng.random(n) < 0.02
    rows = []
    for i in range(n):
        rows.append([
            f"C{i + 1:05d}", str(tenure[i]),
            "" if monthly_missing[i] else _fmt(monthly[i], 2), _fmt(total[i], 2),
            CONTRACTS[contract[i]], PAYMENTS[pay[i]], INTERNET[net[i]], str(senior[i]),
            "F" if gender[i] else "M", str(calls[i]), "Yes" if churn[i] else "No",
        ])
    _write_csv(path, ["customer_id", "tenure", "monthly_charges", "total_charges", "contract",
                      "payment_method", "internet", "senior", "gender", "support_calls", "churn"],
               rows)


def _reviews(rng: np.random.Generator, path: str, n: int = 2000) -> None:
    rows = []
    for i in range(n):
        label = int(rng.random() < 0.55)
        length = int(rng.integers(3, 16))
        words = []
        for _ in range(length):
            r = rng.random()
            if r < 0.28:
                pool = POS_WORDS if label else NEG_WORDS
            elif r < 0.36:
                pool = NEG_WORDS if label else POS_WORDS
            else:
                pool = NEUTRAL_WORDS
            words.append(pool[int(rng.integers(0, len(pool)))])
        text = " ".join(words)
        if rng.random() < 0.1:
            text = text.capitalize() + "!"
        if rng.random() < 0.05:
            text = text + ', said "the buyer"'
        if rng.random() < 0.03:
            text = ""
        rating = int(rng.integers(4, 6)) if label else int(rng.integers(1, 3))
        rows.append([str(i + 1), text, str(rating), "pos" if label else "neg"])
    _write_csv(path, ["review_id", "text", "rating", "sentiment"], rows)


def _sales(rng: np.random.Generator, path: str, stores_path: str, n: int = 5000) -> None:
    base = np.datetime64("2023-01-01")
    days = rng.integers(0, 365, n)
    days.sort()
    store = rng.integers(0, len(STORES), n)
    prod = rng.integers(0, len(PRODUCTS), n)
    unit_price = np.array([0.5, 0.3, 2.2, 6.5, 9.0, 3.1, 1.2, 4.4, 12.0, 0.9])[prod]
    units = rng.poisson(12, n) + 1
    discount = rng.choice([0.0, 0.0, 0.0, 0.1, 0.2], n)
    rows = []
    for i in range(n):
        date = str(base + np.timedelta64(int(days[i]), "D"))
        amount = units[i] * unit_price[i] * (1 - discount[i])
        rows.append([date, STORES[store[i]], PRODUCTS[prod[i]], str(units[i]),
                     _fmt(unit_price[i], 2), _fmt(discount[i], 2), _fmt(amount, 2)])
    _write_csv(path, ["date", "store", "product", "units", "unit_price", "discount", "amount"], rows)
    srows = []
    for j, s in enumerate(STORES):
        srows.append([s, REGIONS[s], str(int(rng.integers(200, 2000))),
                      str(2000 + int(rng.integers(0, 20)))])
    _write_csv(stores_path, ["store", "region", "floor_m2", "opened"], srows)


def _flowers(rng: np.random.Generator, path: str, n_per: int = 150) -> None:
    centers = np.array([[5.0, 3.4, 1.5, 0.25], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.5, 2.0]])
    scales = np.array([[0.35, 0.38, 0.17, 0.1], [0.5, 0.31, 0.47, 0.2], [0.63, 0.32, 0.55, 0.27]])
    rows = []
    order = rng.permutation(3 * n_per)
    feats = []
    for k in range(3):
        x = rng.normal(centers[k], scales[k], size=(n_per, 4)).clip(0.1, None)
        feats.extend((x[i], k) for i in range(n_per))
    for idx in order:
        x, k = feats[idx]
        rows.append([_fmt(v, 2) for v in x] + [SPECIES[k]])
    _write_csv(path, ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"], rows)


def _sensors(rng: np.random.Generator, path: str) -> None:
    t = np.arange(600, dtype=np.float64)[:, None]
    freq = np.linspace(0.01, 0.08, 8)[None, :]
    data = np.sin(2 * np.pi * freq * t) * 10 + rng.normal(0, 1.0, (600, 8))
    data[rng.integers(0, 600, 5), rng.integers(0, 8, 5)] = 80.0  # spikes
    data = np.round(data, 6)
    with open(path, "wb") as fh:
        np.save(fh, data, allow_pickle=False)


def _config(path: str) -> None:
    cfg = {
        "experiment": "baseline",
        "target": "price",
        "test_size": 0.25,
        "random_state": 42,
        "alphas": [0.01, 0.1, 1.0, 10.0],
        "features": {"numeric": ["area", "bedrooms", "bathrooms", "year_built", "lot_size"],
                     "categorical": ["neighborhood", "condition"]},
        "notes": "café-prices ✓",
    }
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(cfg, fh, indent=2, ensure_ascii=False, sort_keys=True)
        fh.write("\n")


def _notes(path: str) -> None:
    lines = [
        "# experiment log",
        "run 1: baseline ridge",
        "run 2: added log features",
        "",
        "run 3: tried naïve bayes — worse",
        "run 4: tfidf char n-grams 📈",
    ]
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def make_data(dest_dir) -> list[str]:
    """Write every data file into ``dest_dir`` (created if needed); return the file names."""
    dest = os.fspath(dest_dir)
    os.makedirs(dest, exist_ok=True)
    rng = np.random.default_rng(SEED)
    p = lambda name: os.path.join(dest, name)  # noqa: E731
    _houses(np.random.default_rng([SEED, 1]), p("houses.csv"))
    _churn(np.random.default_rng([SEED, 2]), p("churn.csv"))
    _reviews(np.random.default_rng([SEED, 3]), p("reviews.csv"))
    _sales(np.random.default_rng([SEED, 4]), p("sales.csv"), p("stores.csv"))
    _flowers(np.random.default_rng([SEED, 5]), p("flowers.csv"))
    _sensors(np.random.default_rng([SEED, 6]), p("sensors.npy"))
    _config(p("config.json"))
    _notes(p("notes.txt"))
    del rng
    return sorted(os.listdir(dest))


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "data"
    for name in make_data(out):
        print(name, os.path.getsize(os.path.join(out, name)))
