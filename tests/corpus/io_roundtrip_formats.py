import json
import os
import pickle

import numpy as np
import pandas as pd

os.makedirs("artifacts", exist_ok=True)
sales = pd.read_csv("data/sales.csv", parse_dates=["date"])
agg = (sales.groupby(["store", "product"], as_index=False)
       .agg(units=("units", "sum"), revenue=("amount", "sum"))
       .sort_values(["store", "revenue"], ascending=[True, False]))
agg["revenue"] = agg["revenue"].round(2)
print(agg.head())

agg.to_csv("artifacts/agg.csv", index=False)
back = pd.read_csv("artifacts/agg.csv")
print("csv roundtrip equal:", back.equals(agg.reset_index(drop=True)), back.dtypes.to_dict())

agg.to_csv("artifacts/agg.tsv", sep="\t", index=False, float_format="%.1f")
print(open("artifacts/agg.tsv").read().splitlines()[:3])

agg.head(10).to_json("artifacts/agg_records.json", orient="records", indent=1)
agg.head(10).set_index(["store", "product"]).to_json("artifacts/agg_split.json", orient="split")
rec = pd.read_json("artifacts/agg_records.json")
print(rec.shape, rec.iloc[0].to_dict())
with open("artifacts/agg_split.json") as f:
    split = json.load(f)
print(sorted(split), split["columns"], split["index"][:2])

monthly = sales.set_index("date").resample("ME")["amount"].sum().round(2)
monthly.to_json("artifacts/monthly.json", date_format="iso")
print(pd.read_json("artifacts/monthly.json", typ="series").head(3))
monthly.to_frame("amt").to_csv("artifacts/monthly.csv", date_format="%Y/%m/%d")
print(open("artifacts/monthly.csv").read()[:80])

arr = sales[["units", "unit_price", "amount"]].to_numpy()
np.save("artifacts/arr.npy", arr)
loaded = np.load("artifacts/arr.npy")
print(loaded.shape, loaded.dtype, np.array_equal(arr, loaded))
np.savez_compressed("artifacts/bundle.npz", arr=arr[:100], idx=np.arange(100))
with np.load("artifacts/bundle.npz") as z:
    print(sorted(z.files), z["arr"].sum().round(4), z["idx"][-3:])
np.savetxt("artifacts/first_rows.txt", arr[:5], fmt="%.3f", delimiter=",", header="u,p,a")
print(np.loadtxt("artifacts/first_rows.txt", delimiter=",").round(2))

meta = {"n_rows": int(len(sales)), "stores": sorted(sales["store"].unique().tolist()),
        "total": round(float(sales["amount"].sum()), 2),
        "by_store": agg.groupby("store")["revenue"].sum().round(2).to_dict()}
with open("artifacts/meta.pkl", "wb") as f:
    pickle.dump({"total": meta["total"], "agg": agg, "arr": arr[:10]}, f, protocol=4)
with open("artifacts/meta.pkl", "rb") as f:
    obj = pickle.load(f)
print(obj["total"], obj["agg"].shape, obj["arr"].shape, obj["agg"].equals(agg))
agg.to_pickle("artifacts/agg.pkl")
print(pd.read_pickle("artifacts/agg.pkl").head(2))
with open("artifacts/meta.json", "w") as f:
    json.dump(meta, f, indent=2, sort_keys=True)
print(json.load(open("artifacts/meta.json"))["by_store"])

# modify the written csv and read it again (same path, new content)
back["units"] = back["units"] * 2
back.to_csv("artifacts/agg.csv", index=False)
again = pd.read_csv("artifacts/agg.csv")
print("after rewrite:", again["units"].sum(), "vs", agg["units"].sum())
with open("artifacts/agg.csv", "a") as f:
    f.write("S99,zzz,1,1.0\n")
print(pd.read_csv("artifacts/agg.csv").tail(2))
print(sorted(os.listdir("artifacts")))
