import pandas as pd

houses = pd.read_csv("data/houses.csv")
wanted = ["area", "price", "sqft", "bedrooms", "garage_spaces", "condition"]
found = {}
for col in wanted:
    try:
        s = houses[col]
        found[col] = s.dtype
        print(f"{col}: ok ({s.dtype}, {s.isna().sum()} missing)")
    except KeyError as e:
        print(f"{col}: missing -> KeyError {e}")
print(found)

try:
    houses.loc[99999]
except KeyError as e:
    print("row lookup failed:", repr(e))

try:
    houses.groupby("zone")["price"].mean()
except KeyError as e:
    print("groupby failed:", e)

try:
    houses[["area", "nope", "also_nope"]]
except KeyError as e:
    print("multi-column failed:", str(e)[:80])

try:
    houses.drop(columns=["ghost"])
except KeyError as e:
    print("drop failed:", e)

try:
    houses.set_index("id").loc[[1, 2, 100000]]
except KeyError as e:
    print("loc list failed:", str(e)[:60])

try:
    pd.Series({"a": 1})["b"]
except KeyError as e:
    print("series key:", e)

try:
    houses.rename(columns={"ghost": "x"}, errors="raise")
except KeyError as e:
    print("rename failed:", e)

try:
    houses.astype({"nope": int})
except KeyError as e:
    print("astype failed:", e)

try:
    houses["area"].astype(int)
    houses["lot_size"].astype(int)
except (ValueError, TypeError) as e:
    print(type(e).__name__, str(e)[:70])

try:
    pd.to_datetime(pd.Series(["2023-01-01", "not a date"]))
except (ValueError, pd.errors.ParserError) as e:
    print("to_datetime:", type(e).__name__)

try:
    houses.merge(houses, on="nope")
except KeyError as e:
    print("merge key:", e)

col = "price"
try:
    result = houses.pivot(index="neighborhood", columns="condition", values=col)
except ValueError as e:
    print("pivot failed:", e)
    result = houses.pivot_table(index="neighborhood", columns="condition", values=col, aggfunc="mean")
print(result.round(1))
safe = houses.get("sqft", pd.Series(dtype=float))
print(len(safe), houses.get("area").head(2).tolist())
print("done with", len(found), "usable columns")
houses["missing_col_typo"]
