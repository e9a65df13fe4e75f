"""CI gate: scikit-learn's and pandas' own test suites give the same results under stratum.

Runs ``bench/libsuites.py --quick``: test modules of the installed scikit-learn and pandas
(``MODULES`` there: 11 sklearn modules, from ``tests/test_pipeline.py`` to
``ensemble/tests/test_forest.py``; 18 pandas modules in ``tests/groupby``, ``tests/frame/methods``,
``tests/reshape/merge``, ``tests/series/methods``, ``tests/io/parser``, ``tests/indexing``) are
copied out of site-packages, with their conftest.py files, into a temporary tree (so stratum
rewrites them as user code) and run with pytest three times: plain, ``STRATUM=1`` with an empty
cache (cold) and again with the same cache (warm), ``STRATUM_ADMIT=all``.

Quick selection: per module, of the test ids pytest collects plain, every Nth one starting with
the first, N = ceil(collected / 15), so at most 15 tests a module (about 430 tests); one pytest
process per package and mode. Tests listed in ``bench/libsuites_deselect.txt`` (each with its
reason) are not run. About 5 minutes on 2 cores.

The test fails when a test passes plain and fails, errors or is not reported (crash) under
stratum, cold or warm; the failure message lists them with their error lines. Full run (every
test of every module, one process per module): ``python bench/libsuites.py``.
"""
import importlib.util
import json
import os
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "libsuites.py"


def load_harness():
    spec = importlib.util.spec_from_file_location("libsuites", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pth_installed() -> bool:
    import sysconfig

    return (Path(sysconfig.get_paths()["purelib"]) / "stratum.pth").is_file()


def test_deselect_file_entries_have_reasons():
    harness = load_harness()
    entries = harness.load_deselect()
    for test_id, reason in entries.items():
        pkg = test_id.split("/", 1)[0]
        assert pkg in harness.MODULES, test_id
        assert any(test_id.startswith(f"{pkg}/{rel}::") for rel in harness.MODULES[pkg]), test_id
        assert reason


def test_quick_subset_is_deterministic_and_bounded():
    harness = load_harness()
    ids = [f"m.py::t[{i}]" for i in range(100)]
    sub = harness.quick_subset(ids)
    assert sub == harness.quick_subset(list(ids))
    assert sub[0] == ids[0] and len(sub) <= harness.QUICK_PER_MODULE
    assert harness.quick_subset(ids[:7]) == ids[:7]


@pytest.mark.skipif(not pth_installed(), reason="STRATUM=1 needs stratum installed with its .pth")
def test_library_suites_same_under_stratum(tmp_path, capsys):
    harness = load_harness()
    out = tmp_path / "libsuites.json"
    rc = harness.main(["--quick", "--json", str(out)])
    report = json.loads(out.read_text())
    modules = report["modules"]
    # the harness really ran the suites: every module collected tests and most pass plain
    assert len(modules) == sum(len(v) for v in harness.MODULES.values())
    for m in modules:
        assert m["tests"] > 0, m["module"]
        assert m["pass_plain"] > m["tests"] // 2, (m["module"], m["pass_plain"], m["tests"])
    failures = [f"{mode} {r['outcome']} {t}: {(r['message'].splitlines() or [''])[0][:200]}"
                for m in modules for mode in ("cold", "warm")
                for t, r in m[f"only_{mode}"].items()]
    shown = failures[:80] + ([f"... and {len(failures) - 80} more"] if len(failures) > 80 else [])
    assert not failures, (f"{len(failures)} stratum-only failures (of "
                          f"{sum(m['tests'] for m in modules)} tests):\n" + "\n".join(shown))
    assert rc == 0
