"""What ``STRATUM=1`` costs a python process that never imports a traced library.

``STRATUM=1`` exported in a shell starts stratum in every python process of the environment
(``stratum.pth``), including ``python -c ...`` one-liners, tools (``pip``) and helper scripts
that never touch numpy / pandas / scikit-learn. Such a process must not pay stratum's start-up
(the interposer, the rewriter, the engine): only the entry trap is loaded until the main
program shows it needs more (``stratum/session/startup.py``). Target: at most 20 ms more than
plain python.

Measured side by side, alternating plain and ``STRATUM=1`` per repeat (medians, wall time of
the whole process):

- ``-c pass``: the smallest process;
- a stdlib-only script (json, argparse, pathlib, re; writes nothing);
- ``-m pip --version``: a tool that imports a good part of its own package;
- for scale, ``-c "import numpy"``: a process that does import a traced library, where stratum
  does start (this one is not held to the target).

    python bench/startup.py [--repeat 21] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

STDLIB_SCRIPT = """\
import argparse, json, pathlib, re
p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=3)
ns = p.parse_args([])
data = {"items": [{"i": i, "s": str(pathlib.Path("a") / str(i))} for i in range(ns.n)]}
text = json.dumps(data)
assert re.search(r'"i": 2', text)
"""
TARGET_MS = 20.0


def _env(stratum: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    if stratum:
        env["STRATUM"] = "1"
    return env


def _time(cmd, env) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - t0


def pth_installed() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; print('stratum.session.startup' in sys.modules)"],
        env=_env(True), capture_output=True, text=True)
    return probe.stdout.strip() == "True"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--quick", action="store_true", help="5 repeats")
    ap.add_argument("--json", metavar="FILE")
    ns = ap.parse_args(argv)
    repeat = 5 if ns.quick else ns.repeat
    if not pth_installed():
        print("startup: STRATUM=1 does not start stratum with this interpreter (no stratum.pth "
              "in its site-packages: an editable or source-tree setup); nothing to measure")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "stdlib_only.py")
        with open(script, "w") as fh:
            fh.write(STDLIB_SCRIPT)
        cases = {
            "-c pass": [sys.executable, "-c", "pass"],
            "stdlib-only script": [sys.executable, script],
            "-m pip --version": [sys.executable, "-m", "pip", "--version"],
            "-c 'import numpy' (starts stratum)": [sys.executable, "-c", "import numpy"],
        }
        results = {}
        for name, cmd in cases.items():
            _time(cmd, _env(False))  # warm the file cache
            _time(cmd, _env(True))
            plain, strat = [], []
            for i in range(repeat):
                order = (False, True) if i % 2 == 0 else (True, False)
                for on in order:
                    (strat if on else plain).append(_time(cmd, _env(on)))
            p, s = statistics.median(plain), statistics.median(strat)
            results[name] = {"plain_ms": p * 1e3, "stratum_ms": s * 1e3,
                             "added_ms": (s - p) * 1e3}
    print(f"STRATUM=1 start-up, medians of {repeat} alternating runs (target: +{TARGET_MS:.0f} ms "
          "at most for processes that import no traced library)")
    print(f"{'process':40} {'plain ms':>9} {'STRATUM=1 ms':>13} {'added ms':>9}")
    for name, r in results.items():
        print(f"{name:40} {r['plain_ms']:9.1f} {r['stratum_ms']:13.1f} {r['added_ms']:9.1f}")
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
