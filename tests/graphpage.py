"""A realistic merged graph, its HTML page, and a headless Chromium to look at it.

Shared by ``tests/test_graph_page.py`` and the pictures in ``docs/images``::

    python tests/graphpage.py docs/images      # merged-graph.png (and bench-report.png)

Four scripts read one generated CSV, derive features in a loop that prints as it goes, scale
them, and evaluate one model each with ``cross_val_score``: the shape of a notebook session
whose merged graph used to be a long chain of microsecond ``getitem`` dots.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import difftest  # noqa: E402

WIDTH, HEIGHT = 1280, 800
PREP = """\
import pandas as pd
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
df = pd.read_csv("data.csv")
for col in ["a", "b", "c", "d", "e", "f"]:
    df[col + "_sq"] = df[col] * df[col]
    print(col, round(df[col].mean(), 3))
df["city_code"] = df["city"].map({"x": 0, "y": 1, "z": 2})
X = df.drop(columns=["y", "city"])
y = df["y"]
Xs = StandardScaler().fit_transform(X)
"""
MODELS = {  # script: (import, estimator); the costliest first
    "forest.py": ("from sklearn.ensemble import RandomForestClassifier",
                  "RandomForestClassifier(n_estimators=40, random_state=0)"),
    "boost.py": ("from sklearn.ensemble import GradientBoostingClassifier",
                 "GradientBoostingClassifier(n_estimators=30, random_state=0)"),
    "logreg.py": ("from sklearn.linear_model import LogisticRegression",
                  "LogisticRegression(max_iter=500)"),
    "svm.py": ("from sklearn.svm import SVC", "SVC(C=1.0)"),
}
ESTIMATORS = {"forest.py": "RandomForestClassifier", "boost.py": "GradientBoostingClassifier",
              "logreg.py": "LogisticRegression", "svm.py": "SVC"}
ORDER = ["forest.py", "logreg.py", "boost.py", "svm.py", "forest.py"]  # a re-run reuses


def write_scripts(work: Path, rows: int = 500) -> None:
    import numpy as np

    rng = np.random.RandomState(0)
    cols = {c: rng.randn(rows) for c in "abcdef"}
    y = (cols["a"] + cols["b"] * cols["c"] + 0.3 * rng.randn(rows) > 0).astype(int)
    lines = ["a,b,c,d,e,f,city,y"]
    for i in range(rows):
        lines.append(",".join(f"{cols[c][i]:.5f}" for c in "abcdef") + f",{'xyz'[i % 3]},{y[i]}")
    (work / "data.csv").write_text("\n".join(lines) + "\n")
    for name, (imp, ctor) in MODELS.items():
        (work / name).write_text(
            PREP + f"{imp}\nmodel = {ctor}\nscores = cross_val_score(model, Xs, y, cv=5)\n"
            f"print({name!r}, round(scores.mean(), 4))\n")


def stratum(args, work: Path, cache: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = difftest.build_env("stratum", cache)
    return subprocess.run([sys.executable, "-m", "stratum", *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=timeout)


def record(work: Path, cache: Path) -> None:
    """Run the scripts under stratum, recording their traces in ``cache``."""
    for name in ORDER:
        p = stratum([name], work, cache)
        assert p.returncode == 0, p.stderr


def write_page(work: Path, cache: Path, page: Path) -> None:
    p = stratum(["trace", "merged", "--html", str(page)], work, cache)
    assert p.returncode == 0, p.stderr


# ---- the browser -------------------------------------------------------------------------------
def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser(binary: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-extensions", "--mute-audio", f"--window-size={WIDTH},{HEIGHT}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def screenshot(binary: str, page: Path, png: Path) -> None:
    png.unlink(missing_ok=True)
    p = _browser(binary, "--hide-scrollbars", "--virtual-time-budget=3000",
                 f"--screenshot={png}", page.resolve().as_uri())
    assert png.is_file(), p.stderr[-2000:]


def selfcheck(binary: str, page: Path) -> dict:
    """The page's own layout report: it measures itself when its URL hash is #selfcheck."""
    p = _browser(binary, "--virtual-time-budget=5000", "--dump-dom",
                 page.resolve().as_uri() + "#selfcheck")
    m = re.search(r'<pre id="layout-report"[^>]*>(.*?)</pre>', p.stdout, re.S)
    assert m and m.group(1).strip(), f"no layout report in the DOM: {p.stderr[-2000:]}"
    import html

    return json.loads(html.unescape(m.group(1)))


# ---- a PNG, read without Pillow ----------------------------------------------------------------
def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB / RGBA PNG; Pillow when it is there."""
    try:
        from PIL import Image
    except ImportError:
        return _decode_png(path.read_bytes())
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        w, h = rgb.size
        raw = rgb.tobytes()
    return w, h, [raw[i * w * 3:(i + 1) * w * 3] for i in range(h)]


def _decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w, h, depth, ctype = 8, [], 0, 0, 0, 0
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6), f"unsupported PNG: depth {depth}, colour type {ctype}"
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows = zlib.decompress(b"".join(idat)), w * bpp, bytes(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = bytes(line)
        rows.append(prev if bpp == 3 else bytes(b for i, b in enumerate(prev) if i % 4 != 3))
    return w, h, rows


def ink(path: Path, step: int = 2, tile: int = 40) -> dict:
    """How much of a screenshot is drawn: the share of sampled pixels that are not near-white
    (overall and per third of the height, top to bottom) and the share of tile x tile squares
    holding any of them (a thin chain of dots on white scores low on both)."""
    w, h, rows = png_pixels(path)
    bands, tiles = [[0, 0], [0, 0], [0, 0]], {}
    for y in range(0, h, step):
        row, band = rows[y], bands[min(2, 3 * y // h)]
        for x in range(0, w, step):
            band[1] += 1
            if min(row[3 * x:3 * x + 3]) < 235:
                band[0] += 1
                tiles[(x // tile, y // tile)] = 1
    total = sum(b[0] for b in bands) / max(1, sum(b[1] for b in bands))
    n_tiles = -(-w // tile) * -(-h // tile)
    return {"size": (w, h), "ink": total, "bands": [b[0] / max(1, b[1]) for b in bands],
            "tiles": len(tiles) / n_tiles}


# ---- the pictures in docs/images ---------------------------------------------------------------
def main(out: Path) -> int:
    import tempfile

    binary = chromium()
    if binary is None:
        print("no chromium on PATH", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work, cache = Path(tmp) / "work", Path(tmp) / "cache"
        work.mkdir()
        write_scripts(work)
        record(work, cache)
        page = work / "merged.html"
        write_page(work, cache, page)
        screenshot(binary, page, out / "merged-graph.png")
        print(json.dumps(selfcheck(binary, page), indent=1))
        if "--no-bench" not in sys.argv:
            scripts = work / "scripts"
            scripts.mkdir()
            for name in MODELS:
                shutil.copy(work / name, scripts / name)
            shutil.copy(work / "data.csv", scripts / "data.csv")
            report = work / "bench.html"
            p = stratum(["bench", "--repeat", "1", "--modes", "cold,rerun", "--html", str(report),
                         "scripts"], work, Path(tmp) / "bench-cache", timeout=900)
            if p.returncode == 0 and report.is_file():
                screenshot(binary, report, out / "bench-report.png")
            else:
                print("bench report not made:", p.stdout[-1500:], p.stderr[-1500:],
                      file=sys.stderr)
    print(f"wrote {out}/merged-graph.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
                       else "docs/images")))
