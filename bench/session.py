"""An agent session: a sequence of scripts, each a small edit of the one before, run the way an
LLM search agent iterates; plain python vs stratum, one cache shared, empty at the first step.

Steps (``workloads.SESSION``): a baseline pipeline; one more print; another model; another
hyper-parameter; one more feature column; a crash before the training (a typo in the target)
and its fix; a crash after the training (a typo in a report line) and its fix. Measured by
``python -m stratum bench --modes session`` machinery: per step plain and stratum alternate,
outputs must be byte-identical (stdout, stderr, exit code), medians over ``--repeat`` sessions.

    python bench/session.py [--repeat 2] [--rows 20000] [--json out.json] [--quick]
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
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="2,000 rows, 1 repeat (CI)")
    ns = ap.parse_args(argv)
    rows, repeat = (2000, 1) if ns.quick else (ns.rows, ns.repeat)
    doc, status = workloads.measure_workload(workloads.session_steps(), rows, ["session"],
                                             repeat, ["bench/session.py", *argv])
    if ns.json:
        ns.json.write_text(json.dumps(doc, indent=1) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
