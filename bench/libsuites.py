"""Run scikit-learn's and pandas' own test suites plain and under stratum, and compare.

stratum's contract is that a script observes exactly what plain Python gives it. The libraries'
own test suites are a large body of scripts with known-correct expectations, so every test that
passes under plain Python and fails under stratum is a stratum bug (or a test that only looks at
stratum's own machinery: those go to ``bench/libsuites_deselect.txt`` with a reason).

stratum treats everything under site-packages as library code and does not rewrite it, so each
test module is copied out of the installed package into a temporary tree, where it is user code:

    <tmp>/pytest.ini                      empty config: keeps the tree its own rootdir
    <tmp>/sklearn_t/conftest.py           copy of sklearn/conftest.py (fixtures, hooks)
    <tmp>/sklearn_t/tests/test_pipeline.py
    <tmp>/pandas_t/conftest.py            copy of pandas/conftest.py
    <tmp>/pandas_t/tests/frame/conftest.py ... every conftest.py between package and module

Every directory gets an empty ``__init__.py`` (the packages' own ``__init__`` files import the
library; the tests import their helpers absolutely, ``from pandas.tests.x import ...``, which
stays library code). The top directories are renamed (``sklearn_t``) so they do not shadow the
installed packages. Test ids are reported with the real package name.

Each module runs three times with ``--assert=plain -p no:cacheprovider --junitxml``:

  plain   ``python -m pytest`` without stratum
  cold    ``STRATUM=1`` with an empty cache directory
  warm    ``STRATUM=1`` again with the same cache directory (results of cold are reused)

with ``STRATUM_ADMIT=all`` (every reusable result is cached, so failures do not depend on
timing; ``--no-admit-all`` turns it off) and ``PYTHONHASHSEED=0`` in all three. Per test id, a
test that passes plain and fails, errors or is missing (the process crashed) under stratum is a
stratum-only failure. CPU seconds are the children's rusage (including their joblib workers).

``--quick``: per module, the test ids collected plain, every Nth of them (N = ceil(count / 15),
starting from the first), so at most 15 tests a module: the CI gate (tests/test_libsuites.py).

Usage:
    python bench/libsuites.py [--quick] [--json OUT] [--only SUBSTR ...] [--no-admit-all]
Exit status 1 if any stratum-only failure that is not deselected, else 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
DESELECT_FILE = HERE / "libsuites_deselect.txt"

MODULES: dict[str, list[str]] = {
    "sklearn": [
        "tests/test_pipeline.py",
        "compose/tests/test_column_transformer.py",
        "model_selection/tests/test_search.py",
        "model_selection/tests/test_validation.py",
        "preprocessing/tests/test_data.py",
        "preprocessing/tests/test_encoders.py",
        "impute/tests/test_impute.py",
        "feature_extraction/tests/test_text.py",
        "metrics/tests/test_classification.py",
        "linear_model/tests/test_ridge.py",
        "ensemble/tests/test_forest.py",
    ],
    "pandas": [
        "tests/groupby/test_groupby.py",
        "tests/frame/methods/test_sort_values.py",
        "tests/frame/methods/test_fillna.py",
        "tests/frame/methods/test_drop_duplicates.py",
        "tests/frame/methods/test_astype.py",
        "tests/frame/methods/test_reset_index.py",
        "tests/frame/methods/test_set_index.py",
        "tests/frame/methods/test_dropna.py",
        "tests/reshape/merge/test_merge.py",
        "tests/series/methods/test_value_counts.py",
        "tests/series/methods/test_map.py",
        "tests/series/methods/test_replace.py",
        "tests/series/methods/test_isin.py",
        "tests/io/parser/test_na_values.py",
        "tests/io/parser/test_header.py",
        "tests/io/parser/test_index_col.py",
        "tests/io/parser/test_converters.py",
        "tests/indexing/test_loc.py",
    ],
}

QUICK_PER_MODULE = 15
MODES = ("plain", "cold", "warm")
PYTEST_FLAGS = ["--assert=plain", "-p", "no:cacheprovider", "-q", "--tb=native",
                "-o", "junit_family=xunit1", "-o", "junit_logging=no"]
FAILED = ("failed", "error", "missing")


def package_dir(pkg: str) -> Path:
    mod = __import__(pkg)
    return Path(mod.__file__).resolve().parent


def tmp_top(pkg: str) -> str:
    return pkg + "_t"


def build_tree(root: Path, pkg: str, modules: list[str], conftest_import: bool = False) -> None:
    """Copy `modules` (paths relative to the installed package) and the conftest.py files on
    their way into root/<pkg>_t, with empty __init__.py files in every directory.

    conftest_import: instead of copying a conftest.py, write one that re-exports the installed
    one (`from pandas.conftest import *`), so fixtures and hooks stay library code and only the
    test modules are rewritten by stratum."""
    src_top = package_dir(pkg)
    dst_top = root / tmp_top(pkg)
    for rel in modules:
        rel_path = Path(rel)
        parts = rel_path.parent.parts
        for depth in range(len(parts) + 1):
            sub = Path(*parts[:depth]) if depth else Path()
            d = dst_top / sub
            d.mkdir(parents=True, exist_ok=True)
            init = d / "__init__.py"
            if not init.exists():
                init.write_text("")
            conf = src_top / sub / "conftest.py"
            if conf.exists() and not (d / "conftest.py").exists():
                if conftest_import:
                    dotted = ".".join((pkg, *sub.parts, "conftest"))
                    (d / "conftest.py").write_text(f"from {dotted} import *  # noqa: F403\n")
                else:
                    shutil.copyfile(conf, d / "conftest.py")
        shutil.copyfile(src_top / rel_path, dst_top / rel_path)
    (root / "pytest.ini").write_text("[pytest]\n")


def to_real_id(nodeid: str) -> str:
    """sklearn_t/tests/x.py::t -> sklearn/tests/x.py::t"""
    for pkg in MODULES:
        if nodeid.startswith(tmp_top(pkg) + "/"):
            return pkg + nodeid[len(tmp_top(pkg)):]
    return nodeid


def to_tmp_id(real: str) -> str:
    for pkg in MODULES:
        if real.startswith(pkg + "/"):
            return tmp_top(pkg) + real[len(pkg):]
    return real


def load_deselect(path: Path = DESELECT_FILE) -> dict[str, str]:
    """Lines `<test id or id prefix> # reason`; blank lines and lines starting with # skipped."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        test_id, sep, reason = line.partition(" # ")
        if not sep or not reason.strip():
            raise ValueError(f"{path}: line without ' # reason': {line!r}")
        out[test_id.strip()] = reason.strip()
    return out


def deselect_reason(test_id: str, deselect: dict[str, str]) -> str | None:
    for prefix, reason in deselect.items():
        if test_id == prefix or test_id.startswith(prefix + "[") or test_id.startswith(prefix + "::"):
            return reason
    return None


# Interpreter settings that change observable behaviour: runs use CPython's defaults.
DROPPED_ENV = {"PYTHONUNBUFFERED", "PYTHONWARNINGS", "PYTHONDEVMODE", "PYTHONINSPECT",
               "PYTHONSTARTUP", "PYTHONBREAKPOINT", "PYTHONSAFEPATH", "PYTHONNODEBUGRANGES"}


def stratum_home() -> Path | None:
    """The folder holding the ``stratum`` package this process would import (installed or
    source): put first on the runs' PYTHONPATH so they test that one."""
    import importlib.util

    spec = importlib.util.find_spec("stratum")
    return Path(spec.origin).resolve().parent.parent if spec and spec.origin else None


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STRATUM") and k not in DROPPED_ENV}
    env["PYTHONHASHSEED"] = "0"
    home = stratum_home()
    if home is not None:
        pp = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([str(home)] + [p for p in pp if p != str(home)])
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def run_pytest(root: Path, args: list[str], env: dict[str, str], timeout: float):
    """Run pytest in `root`; returns (rc, stdout+stderr, cpu seconds of the child, wall)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        rc = "timeout"
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return rc, out.decode("utf-8", "replace"), cpu, wall


def collect(root: Path, tmp_rels: list[str], timeout: float) -> list[str]:
    """Test ids pytest collects (plain) from the modules `tmp_rels`, in collection order."""
    rc, out, _, _ = run_pytest(root, [*PYTEST_FLAGS, "--collect-only", *tmp_rels],
                               base_env(), timeout)
    ids = [line.strip() for line in out.splitlines()
           if any(line.startswith(r + "::") for r in tmp_rels)]
    if not ids:
        raise RuntimeError(f"collected nothing from {tmp_rels} (rc {rc}):\n{out[-3000:]}")
    return ids


def quick_subset(ids: list[str], per_module: int = QUICK_PER_MODULE) -> list[str]:
    step = max(1, math.ceil(len(ids) / per_module))
    return ids[::step]


def parse_junit(path: Path, tmp_rels: list[str]) -> dict[str, dict]:
    """{real test id: {"outcome": passed|failed|error|skipped, "message": str}} for the cases
    of the modules `tmp_rels` (paths in the tree) found in the junit XML file `path`."""
    mods = sorted(((r[:-3].replace("/", "."), to_real_id(r)) for r in tmp_rels),
                  key=lambda m: -len(m[0]))
    order = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    results: dict[str, dict] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        for modname, real_file in mods:
            if classname == modname or classname.startswith(modname + "."):
                break
        else:
            continue  # a case from no module of ours (e.g. a collection error elsewhere)
        parts = [real_file] + (classname[len(modname) + 1:].split(".")
                               if classname != modname else [])
        test_id = "::".join(parts + [name])
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                o = {"failure": "failed"}.get(child.tag, child.tag)
                if order[o] > order[outcome]:
                    outcome = o
                    message = (child.get("message") or (child.text or "")).strip()
        prev = results.get(test_id)
        if prev is None or order[outcome] > order[prev["outcome"]]:
            results[test_id] = {"outcome": outcome, "message": message[:500]}
    return results


def run_group(root: Path, pkg: str, rels: list[str], *, quick: bool, admit_all: bool,
              deselect: dict[str, str], timeout: float, work: Path) -> list[dict]:
    """Run the modules `rels` of `pkg` in one pytest process per mode (plain, cold, warm) and
    return one summary per module. CPU seconds are the group's (shared by its modules)."""
    tmp_rels = [f"{tmp_top(pkg)}/{rel}" for rel in rels]
    real_files = [f"{pkg}/{rel}" for rel in rels]
    tag = tmp_rels[0].replace("/", "__") + (f"__and_{len(rels) - 1}" if len(rels) > 1 else "")
    args = [*PYTEST_FLAGS]
    deselected = {p: r for p, r in deselect.items()
                  if any(p.startswith(f + "::") for f in real_files)}
    for prefix in deselected:
        args += ["--deselect", to_tmp_id(prefix)]
    selected = None
    if quick:
        selected = []
        ids = collect(root, tmp_rels, timeout)
        for tmp_rel in tmp_rels:
            mine = [i for i in ids if i.startswith(tmp_rel + "::")]
            selected += [i for i in quick_subset(mine)
                         if deselect_reason(to_real_id(i), deselect) is None]
        argsfile = work / (tag + ".args")
        argsfile.write_text("\n".join(selected) + "\n")
        args.append(f"@{argsfile}")
    else:
        args += tmp_rels
    cache_dir = work / ("cache__" + tag)
    cache_dir.mkdir()
    runs = {}
    for mode in MODES:
        env = base_env()
        if mode != "plain":
            env["STRATUM"] = "1"
            env["STRATUM_CACHE_DIR"] = str(cache_dir)
            if admit_all:
                env["STRATUM_ADMIT"] = "all"
        xml = work / f"{tag}.{mode}.xml"
        rc, out, cpu, wall = run_pytest(root, [*args, f"--junitxml={xml}"], env, timeout)
        results = parse_junit(xml, tmp_rels) if xml.exists() else {}
        runs[mode] = {"rc": rc, "cpu": round(cpu, 2), "wall": round(wall, 2),
                      "results": results, "tail": "\n".join(out.splitlines()[-15:])}
    pc = runs["plain"]["cpu"] or 1e-9
    summaries = []
    for real_file in real_files:
        def mine(res, real_file=real_file):
            return {t: r for t, r in res.items() if t.startswith(real_file + "::")}
        plain = mine(runs["plain"]["results"])
        expected = set(plain)
        if selected is not None:
            expected |= {t for t in map(to_real_id, selected) if t.startswith(real_file + "::")}
        summary = {"module": real_file, "group": [f"{pkg}/{r}" for r in rels],
                   "tests": len(expected),
                   "deselected": {p: r for p, r in deselected.items()
                                  if p.startswith(real_file + "::")}}
        for mode in MODES:
            res = runs[mode]["results"]
            summary[f"pass_{mode}"] = sum(1 for t in expected
                                          if res.get(t, {}).get("outcome") == "passed")
        for mode in ("cold", "warm"):
            res = runs[mode]["results"]
            only, changed = {}, {}
            for t in sorted(expected):
                p = plain.get(t, {"outcome": "missing"})["outcome"]
                s = res.get(t, {"outcome": "missing",
                                "message": f"not reported (rc {runs[mode]['rc']})"})
                if p == "passed" and s["outcome"] in FAILED:
                    only[t] = {"outcome": s["outcome"], "message": s["message"]}
                elif p != s["outcome"]:
                    changed[t] = {"plain": p, mode: s["outcome"], "message": s.get("message", "")}
            summary[f"only_{mode}"] = only
            summary[f"changed_{mode}"] = changed
        summary["cpu"] = {m: runs[m]["cpu"] for m in MODES}
        summary["wall"] = {m: runs[m]["wall"] for m in MODES}
        summary["cpu_ratio_cold"] = round(runs["cold"]["cpu"] / pc, 2)
        summary["cpu_ratio_warm"] = round(runs["warm"]["cpu"] / pc, 2)
        summary["rc"] = {m: runs[m]["rc"] for m in MODES}
        summary["tail"] = {m: runs[m]["tail"] for m in MODES
                           if runs[m]["rc"] not in (0, 1) or not runs[m]["results"]}
        summaries.append(summary)
    # the group's tail is shown once, with its first module
    for s in summaries[1:]:
        s["tail"] = {}
    return summaries


def print_table(summaries: list[dict], out=sys.stdout) -> None:
    head = (f"{'module':58} {'tests':>5} {'plain':>5} {'cold':>5} {'warm':>5} "
            f"{'onlyC':>5} {'onlyW':>5} {'cpuC':>5} {'cpuW':>5}")
    print(head, file=out)
    print("-" * len(head), file=out)
    tot = dict(tests=0, plain=0, cold=0, warm=0, oc=0, ow=0, cp=0.0, cc=0.0, cw=0.0)
    for s in summaries:
        print(f"{s['module']:58} {s['tests']:5} {s['pass_plain']:5} {s['pass_cold']:5} "
              f"{s['pass_warm']:5} {len(s['only_cold']):5} {len(s['only_warm']):5} "
              f"{s['cpu_ratio_cold']:5.2f} {s['cpu_ratio_warm']:5.2f}", file=out)
        tot["tests"] += s["tests"]
        tot["plain"] += s["pass_plain"]
        tot["cold"] += s["pass_cold"]
        tot["warm"] += s["pass_warm"]
        tot["oc"] += len(s["only_cold"])
        tot["ow"] += len(s["only_warm"])
        if s["module"] == s["group"][0]:  # a group's CPU seconds once
            tot["cp"] += s["cpu"]["plain"]
            tot["cc"] += s["cpu"]["cold"]
            tot["cw"] += s["cpu"]["warm"]
    print("-" * len(head), file=out)
    cp = tot["cp"] or 1e-9
    print(f"{'total':58} {tot['tests']:5} {tot['plain']:5} {tot['cold']:5} {tot['warm']:5} "
          f"{tot['oc']:5} {tot['ow']:5} {tot['cc'] / cp:5.2f} {tot['cw'] / cp:5.2f}", file=out)
    print("columns: tests run; passing plain/cold/warm; stratum-only failures cold/warm; "
          "CPU seconds stratum/plain cold/warm (of the module's pytest process: "
          "with --quick one process runs a whole package)", file=out)


def print_details(summaries: list[dict], deselect_all: dict[str, str], out=sys.stdout) -> None:
    for s in summaries:
        for mode in ("cold", "warm"):
            for t, r in s[f"only_{mode}"].items():
                msg = r["message"].splitlines()[0] if r["message"] else ""
                print(f"STRATUM-ONLY {mode:4} {r['outcome']:7} {t}\n    {msg[:300]}", file=out)
        for mode in ("cold", "warm"):
            for t, r in s[f"changed_{mode}"].items():
                print(f"changed      {mode:4} {r['plain']}->{r[mode]} {t}", file=out)
        for mode, tail in s["tail"].items():
            print(f"--- {s['module']} {mode} rc={s['rc'][mode]} (last lines):\n{tail}", file=out)
    if deselect_all:
        print(f"deselected ({len(deselect_all)} entries, {DESELECT_FILE.name}):", file=out)
        for t, r in deselect_all.items():
            print(f"  {t}  # {r}", file=out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every Nth test id, <= 15 a module")
    ap.add_argument("--json", metavar="OUT", help="write the results as JSON")
    ap.add_argument("--only", nargs="*", default=None,
                    help="run only modules whose 'pkg/path' contains one of these substrings")
    ap.add_argument("--no-admit-all", dest="admit_all", action="store_false",
                    help="leave STRATUM_ADMIT unset (only results costing > 2 ms are cached)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per pytest run (default 300 quick, 1800 full)")
    ap.add_argument("--conftest-import", action="store_true",
                    help="conftest.py files re-export the installed ones (library code, not "
                         "rewritten) instead of being copied: isolates the test modules")
    ap.add_argument("--keep", action="store_true", help="keep the temporary tree")
    opts = ap.parse_args(argv)
    timeout = opts.timeout or (300 if opts.quick else 1800)
    deselect = load_deselect()
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="libsuites-"))
    root = work / "tree"
    root.mkdir()
    summaries = []
    try:
        plan = [(pkg, rel) for pkg, rels in MODULES.items() for rel in rels
                if opts.only is None or any(o in f"{pkg}/{rel}" for o in opts.only)]
        for pkg in MODULES:
            build_tree(root, pkg, [rel for p, rel in plan if p == pkg], opts.conftest_import)
        if opts.quick:  # one pytest process per package and mode: start-up costs dominate
            groups = [(pkg, [r for p, r in plan if p == pkg]) for pkg in MODULES]
        else:  # one per module and mode: a crash or a timeout loses one module only
            groups = [(pkg, [rel]) for pkg, rel in plan]
        for pkg, rels in groups:
            if not rels:
                continue
            for s in run_group(root, pkg, rels, quick=opts.quick, admit_all=opts.admit_all,
                               deselect=deselect, timeout=timeout, work=work):
                summaries.append(s)
                print(f"[{time.perf_counter() - t0:7.1f}s] {s['module']}: {s['tests']} tests, "
                      f"pass plain/cold/warm {s['pass_plain']}/{s['pass_cold']}/"
                      f"{s['pass_warm']}, stratum-only {len(s['only_cold'])}/"
                      f"{len(s['only_warm'])}", flush=True)
    finally:
        if opts.keep:
            print(f"tree kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    print()
    print_table(summaries)
    print()
    print_details(summaries, deselect)
    n_only = sum(len(s["only_cold"]) + len(s["only_warm"]) for s in summaries)
    print(f"\n{'quick' if opts.quick else 'full'} mode, {len(summaries)} modules, "
          f"{elapsed:.0f} s; stratum-only failures: {n_only}")
    if opts.json:
        Path(opts.json).write_text(json.dumps(
            {"quick": opts.quick, "admit_all": opts.admit_all,
             "conftest_import": opts.conftest_import, "elapsed": round(elapsed, 1),
             "deselect": deselect, "modules": summaries}, indent=1, default=str))
    return 1 if n_only else 0


if __name__ == "__main__":
    sys.exit(main())
