"""Replay planning, in process: where functions are imported and when operations share a node.

Regression tests for issue 6 (``replay 1 2`` sometimes reported a print "not replayed"): the
executor ran two ``fstring.format`` nodes at once, both importing ``interposer.dispatch`` on
demand; the second saw the half-imported module in ``sys.modules``, without ``format_value``
yet, and failed with "'NoneType' object is not callable".
"""
from __future__ import annotations

import builtins
import os
import pickle
import sys
import textwrap
import threading
import uuid

import pandas as pd

from stratum.replay import executor
from stratum.engine import recipe
from stratum.replay.replay import Planner


def test_resolve_waits_for_a_module_another_thread_is_importing(tmp_path, monkeypatch):
    name = f"stratum_slow_import_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""\
        import builtins
        started, release = builtins._stratum_test_gate
        started.set()  # the module is in sys.modules now, still without late()
        release.wait(30)

        def late():
            return 42
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    started, release = threading.Event(), threading.Event()
    monkeypatch.setattr(builtins, "_stratum_test_gate", (started, release), raising=False)
    got = {}

    def resolve(who):
        got[who] = recipe.resolve(name, "late", load=True)

    first = threading.Thread(target=resolve, args=("first",))
    first.start()
    try:
        assert started.wait(30)
        assert name in sys.modules and not hasattr(sys.modules[name], "late")
        second = threading.Thread(target=resolve, args=("second",))
        second.start()
        second.join(0.5)  # before the fix it had returned None by now
    finally:
        release.set()
        first.join(30)
    second.join(30)
    sys.modules.pop(name, None)
    assert got["first"] is not None and got["first"]() == 42
    assert got["second"] is got["first"]


def _node(seq, op, effect, key, kind, target, args, observed=None):
    extra = (effect, None, op, observed)
    return {"parent": None, "seq": seq, "op": op, "effect": effect, "key": key, "kind": kind,
            "site": f"script.py:{seq + 1}", "recipe": pickle.dumps((target, args, (), extra))}


def _read_then_print(path, key="k-read"):
    return [_node(0, "pandas.read_csv", "source", key, "DataFrame",
                  ("fn", "pandas", "read_csv"), (("c", path),)),
            _node(1, "builtins.len", "pure", "k-len", "int", ("fn", "builtins", "len"),
                  (("r", key),)),
            _node(2, "builtins.print", "sink", None, "NoneType", ("fn", "builtins", "print"),
                  (("r", "k-len"),))]


def test_functions_are_imported_while_planning(tmp_path, monkeypatch):
    name = f"stratum_plan_import_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("def make():\n    return 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    nodes = [_node(0, f"{name}.make", "pure", "k-make", "int", ("fn", name, "make"), ()),
             _node(1, "builtins.print", "sink", None, "NoneType", ("fn", "builtins", "print"),
                   (("r", "k-make"),))]
    planner = Planner({})
    plan = planner.add_run({"cwd": str(tmp_path)}, nodes)
    try:
        assert name in sys.modules  # imported here, not on an executor thread
        values, stats = executor.run(planner.graph, sorted(planner.outputs), jobs=2,
                                     errors="collect")
        assert not stats["errors"]
        gid, sel = plan.prints[0].refs["k-make"]
        assert values[gid][0] == 7
    finally:
        sys.modules.pop(name, None)


def test_a_function_that_cannot_be_imported_makes_the_print_partial(tmp_path):
    nodes = [_node(0, "nowhere.make", "pure", "k-make", "int",
                   ("fn", f"stratum_no_such_module_{uuid.uuid4().hex}", "make"), ()),
             _node(1, "builtins.print", "sink", None, "NoneType", ("fn", "builtins", "print"),
                   (("r", "k-make"),))]
    plan = Planner({}).add_run({"cwd": str(tmp_path)}, nodes)
    assert plan.unreplayable == 1
    assert "cannot be imported" in plan.prints[0].problem


def test_runs_share_a_source_only_when_it_reads_the_same_file_on_replay(tmp_path, monkeypatch):
    # Two runs read the same file under the same lineage key, from different directories
    # (data/ reached through a symlink). The rebind names the file relative to the first run's
    # directory only, so only that run reads full.csv: the second must still read the sample,
    # not share the first run's (rebound) node.
    real = tmp_path / "p"
    (real / "data").mkdir(parents=True)
    pd.DataFrame({"a": range(300)}).to_csv(real / "data" / "sample.csv", index=False)
    pd.DataFrame({"a": range(4000)}).to_csv(tmp_path / "full.csv", index=False)
    other = tmp_path / "deep" / "q"
    other.mkdir(parents=True)
    os.symlink(real / "data", other / "data")
    monkeypatch.chdir(other)
    planner = Planner({"../p/data/sample.csv": str(tmp_path / "full.csv")})
    first = planner.add_run({"cwd": str(real)}, _read_then_print("data/sample.csv"))
    second = planner.add_run({"cwd": str(other)}, _read_then_print("data/sample.csv"))
    values, stats = executor.run(planner.graph, sorted(planner.outputs), jobs=2,
                                 errors="collect")
    assert not stats["errors"]
    lengths = [values[plan.prints[0].refs["k-len"][0]][0] for plan in (first, second)]
    assert lengths == [4000, 300]


def test_runs_share_equal_operations(tmp_path):
    (tmp_path / "data").mkdir()
    pd.DataFrame({"a": range(300)}).to_csv(tmp_path / "data" / "sample.csv", index=False)
    planner = Planner({})
    first = planner.add_run({"cwd": str(tmp_path)}, _read_then_print("data/sample.csv"))
    second = planner.add_run({"cwd": str(tmp_path)}, _read_then_print("data/sample.csv"))
    assert first.prints[0].refs == second.prints[0].refs
    assert len(planner.graph) == 2 and planner.shared == 2


def test_a_print_cancelled_by_a_failed_input_names_that_failure():
    from stratum.replay.replay import _why

    g = executor.Graph()
    bad = g.add("pandas.read_csv", lambda: 1)
    mid = g.add("builtins.len", lambda x: x, [bad])
    fmt = g.add("fstring.format", lambda x: x, [mid])
    failed = {bad: FileNotFoundError("no such file: full.csv")}
    assert _why(fmt, failed, g) == (": pandas.read_csv failed: FileNotFoundError: "
                                    "no such file: full.csv")
    assert _why(bad, failed, g) == ": FileNotFoundError: no such file: full.csv"
    assert _why(fmt, {}, g) == ""


def _verdicts(tmp_path, source, extra_globals=()):
    """``recipe.output_only`` at each ``probe()`` call of ``source`` (run from a file, as a
    script is): line -> verdicts in the order the calls ran."""
    path = tmp_path / f"probe_{uuid.uuid4().hex}.py"
    path.write_text(textwrap.dedent(source))
    got: dict = {}

    def probe():
        frame = sys._getframe(1)
        got.setdefault(frame.f_lineno, []).append(recipe.output_only(frame))
        return 5

    exec(compile(path.read_text(), str(path), "exec"), {"probe": probe, **dict(extra_globals)})
    return got


def test_a_value_reaches_only_output_when_its_expression_only_feeds_a_print(tmp_path, capsys):
    got = _verdicts(tmp_path, """\
        print(probe())
        print("rows:", probe(), sep="")
        print(f"{probe():,} rows", str(probe()), round(probe() / 2, 2))
        print(probe() > 3, -probe(), (probe(), 1), [probe()], probe() if True else 0)
        def f():
            print(f"{probe()}")
        f()
        n = probe()
        if probe() > 3:
            pass
        print(probe() or 1, 0 < probe() < 9, max(probe(), 1), 1 if probe() else 2)
        x = print(probe())
        print(*[probe() for _ in range(1)])
    """)
    capsys.readouterr()
    assert got == {1: [True], 2: [True], 3: [True] * 3, 4: [True] * 5, 6: [True],
                   8: [False], 9: [False], 11: [False] * 4, 12: [False], 13: [False]}


def test_a_print_that_is_not_pythons_is_not_output(tmp_path):
    said = []
    got = _verdicts(tmp_path, "print(probe())\n", {"print": said.append})
    assert got == {1: [False]} and said == [5]
    got = _verdicts(tmp_path, """\
        def f(print):
            print(probe())
        f(lambda v: None)
    """)
    assert got == {2: [False]}
