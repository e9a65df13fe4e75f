import pandas as pd


def conversion_rate(orders, visits):
    return orders / visits


sales = pd.read_csv("data/sales.csv")
counts = sales.groupby("store").size().to_dict()
visits = {s: (n // 10 if s != "S04" else 0) for s, n in counts.items()}
for store in sorted(counts):
    rate = conversion_rate(counts[store], visits[store])
    print(f"{store}: {rate:.3f}")
