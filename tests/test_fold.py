"""Hot loops of cheap operations run untraced past a point (stratum/engine/fold.py): the same
outputs as plain python whatever folds, writes in folded calls reach every later key, the trace
says what folded, and replay stops at the first folded site.

The corpus scripts ``fold_*.py`` are also in the differential corpus (default
``STRATUM_FOLD_AFTER``); here they run with a site folded after 2 calls, so that nearly every
call site of the script folds, with the default admission and with ``STRATUM_ADMIT=all``.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

FOLD_SCRIPTS = sorted(p for p in (Path(__file__).parent / "corpus").glob("fold_*.py"))


@pytest.mark.parametrize("admit", ["benefit", "all"])
@pytest.mark.parametrize("script", FOLD_SCRIPTS, ids=lambda p: p.stem)
def test_folding_early_keeps_outputs(script, admit, corpus_data, tmp_path):
    work = tmp_path / "work"
    env = {"STRATUM_FOLD_AFTER": "2", "STRATUM_ADMIT": admit}
    plain = difftest.run_case(script, work, "plain", None, data_dir=corpus_data)
    problems = []
    for label in ("cold", "warm"):
        got = difftest.run_case(script, work, "stratum", tmp_path / "cache", data_dir=corpus_data,
                                env_extra=env)
        problems += difftest.compare(plain, got, "plain", f"stratum-{label}")
    assert not problems, "\n".join(problems)


def _run(tmp_path, code, *extra, env=None):
    script = tmp_path / "loop.py"
    script.write_text(code)
    full = dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "stratum", *extra, str(script)], cwd=tmp_path,
                          env=full, capture_output=True, text=True, timeout=300)


def _trace(tmp_path):
    out = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--last", "--json"],
                         cwd=tmp_path, env=dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache")),
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)["nodes"]


LOOP = """\
import numpy as np
a = np.arange(50.0)
t = 0.0
for i in range(200):
    t += float(a[i % 50] * 2.0)
print(t)
"""


def test_a_hot_site_is_one_node_saying_how_many_calls_it_ran(tmp_path):
    proc = _run(tmp_path, LOOP, "--explain")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "9800.0\n"
    assert "call sites in hot loops ran untraced" in proc.stderr
    nodes = _trace(tmp_path)
    folded = [n for n in nodes if n["kind"] == "folded"]
    assert folded and all(n["key"] is None for n in folded)
    assert any("ran untraced: 168 calls at this site" in n["reason"] for n in folded), folded
    assert len(nodes) < 300  # 200 iterations of 3 library operations: most never became nodes


def test_fold_after_zero_traces_every_call(tmp_path):
    proc = _run(tmp_path, LOOP, env={"STRATUM_FOLD_AFTER": "0"})
    assert proc.returncode == 0, proc.stderr
    nodes = _trace(tmp_path)
    assert not [n for n in nodes if n["kind"] == "folded"]
    assert len(nodes) >= 600


def test_large_results_keep_a_site_traced(tmp_path):
    # Each result is 400 KiB: a folded one would be hashed by content at its next use.
    code = ("import numpy as np\nbig = np.ones(50_000)\nfor i in range(100):\n"
            "    big = big + 1.0\nprint(float(big[0]))\n")
    proc = _run(tmp_path, code)
    assert proc.stdout == "101.0\n", proc.stderr
    assert not [n for n in _trace(tmp_path) if n["kind"] == "folded"]


def test_a_write_in_a_folded_loop_changes_the_key_of_what_it_wrote(tmp_path):
    """The sum after the loop is reusable and cached on the first run; a second run whose loop
    writes other values must not get the first run's sum."""
    code = ("import sys\nimport numpy as np\nv = float(sys.argv[1])\na = np.zeros(1000)\n"
            "for i in range(300):\n    a[i] = v\nprint(a.sum())\n")
    env = {"STRATUM_ADMIT": "all"}
    script = tmp_path / "w.py"
    script.write_text(code)
    outs = []
    for v in ("1", "2", "1"):
        proc = subprocess.run([sys.executable, "-m", "stratum", str(script), v], cwd=tmp_path,
                              env=dict(os.environ, STRATUM_CACHE_DIR=str(tmp_path / "cache"), **env),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs == ["300.0\n", "600.0\n", "300.0\n"]


def test_keys_made_between_two_writes_of_one_array_are_dropped_by_the_second(tmp_path):
    """A folded site writing the same array again skips forgetting it when nothing was keyed
    since (``fold.Site.repeats``); a view keyed between two writes (here on a few iterations,
    traced and admitted) must still lose its key at the next write, so each printed sum is the
    view's content at that point, cold and warm."""
    code = ("import numpy as np\nout = np.zeros(8)\nw = out[2:6]\n"
            "for i in range(120):\n    out[3] = i\n    out[4] = 2 * i\n"
            "    if i % 37 == 0:\n        print(i, w.sum(), np.add(w, 1).sum())\n"
            "print(out.sum(), w.sum())\n")
    expected = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120).stdout
    for _ in range(2):
        proc = _run(tmp_path, code, env={"STRATUM_ADMIT": "all", "STRATUM_FOLD_AFTER": "4"})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == expected


def test_replay_stops_at_the_first_folded_site(tmp_path):
    proc = _run(tmp_path, LOOP)
    assert proc.returncode == 0, proc.stderr
    from stratum.replay.replay import resolve_run
    from stratum.trace.store import TraceStore

    store = TraceStore(tmp_path / "cache")
    resolved = list(resolve_run(store.nodes(store.run()["id"])))
    first = next(i for i, r in enumerate(resolved) if r.node["kind"] == "folded")
    assert all(r.problem is None or "no recipe" not in r.problem for r in resolved[:first])
    assert resolved[first:] and all("ran untraced in a hot loop" in r.problem
                                    for r in resolved[first:])
