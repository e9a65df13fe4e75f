"""A search batch: 24 variants of one pipeline (8 models / hyper-parameters x 3 feature sets),
plain python vs stratum.

Modes (``python -m stratum bench`` machinery, outputs compared byte for byte):

- session: the variants one after another under stratum with one shared cache, as an agent
  runs them in turn (variants sharing a feature set reuse its preprocessing of every fold);
- batch:   the 24 as one ``python -m stratum run`` (when batch mode is installed) against the
  24 plain runs one after another.

    python bench/variants.py [--repeat 2] [--rows 5000] [--modes session,batch] [--json F] [--quick]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads  # noqa: E402


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--modes", default="session,batch")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="6 variants, 1,000 rows, 1 repeat (CI)")
    ns = ap.parse_args(argv)
    files = workloads.variants(6 if ns.quick else None)
    rows, repeat = (1000, 1) if ns.quick else (ns.rows, ns.repeat)
    doc, status = workloads.measure_workload(files, rows, ns.modes.split(","), repeat,
                                             ["bench/variants.py", *argv])
    if ns.json:
        ns.json.write_text(json.dumps(doc, indent=1) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
