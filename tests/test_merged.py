"""The merged graph: runs of several scripts stitched by lineage key, its API, CLI and pictures."""
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

from stratum.trace import graphview
from stratum.trace import mergestore
from stratum.trace.layout import layered_rows  # noqa: E402
from stratum.trace.merged import MergedGraph, MergedNode  # noqa: E402
from stratum.trace.pipeline import pipeline_view  # noqa: E402
from stratum.trace.store import TraceStore  # noqa: E402

PREFIX = """\
import numpy as np
import pandas as pd
df = pd.read_csv("data.csv")
df["ab"] = df["a"] * df["b"]
X = df[["a", "b", "ab"]]
y = df["y"]
"""
SCRIPTS = {
    "cv.py": PREFIX + textwrap.dedent("""\
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score
        from sklearn.preprocessing import StandardScaler
        Xs = StandardScaler().fit_transform(X)
        print(round(cross_val_score(LogisticRegression(), Xs, y, cv=3).mean(), 6))
    """),
    "tree.py": PREFIX + textwrap.dedent("""\
        from sklearn.preprocessing import StandardScaler
        from sklearn.tree import DecisionTreeClassifier
        sc = StandardScaler()
        sc.fit(X)
        Xs = sc.transform(X)
        m = DecisionTreeClassifier(random_state=0).fit(Xs, y)
        print(int(m.predict(Xs).sum()))
    """),
    "eda.py": PREFIX + textwrap.dedent("""\
        noise = np.random.rand(3)  # unseeded: cannot be keyed, a per-run node
        print(df.groupby("c")["ab"].mean().round(6).tolist(), len(noise))
    """),
}
ORDER = ["cv.py", "tree.py", "eda.py", "cv.py"]


def run_stratum(args, cwd, cache):
    env = difftest.build_env("stratum", cache)
    p = subprocess.run([sys.executable, "-m", "stratum", *args], cwd=cwd, env=env,
                       capture_output=True, timeout=180)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("merged")
    work, cache = root / "w", root / "cache"
    work.mkdir()
    rng = np.random.RandomState(0)
    a, b = rng.randn(240), rng.randn(240)
    rows = ["a,b,c,y"] + [f"{a[i]:.6f},{b[i]:.6f},{i % 3},{int(a[i] + b[i] > 0)}"
                          for i in range(240)]
    (work / "data.csv").write_text("\n".join(rows) + "\n")
    for name, text in SCRIPTS.items():
        (work / name).write_text(text)
    for name in ORDER:
        code, out, err = run_stratum([name], work, cache)
        assert code == 0, err
    store = TraceStore(cache)
    runs = {r["id"]: Path(r["script"]).name for r in store.runs()}
    yield work, cache, store, runs
    store.close()


def by_op(graph, op):
    return [n for n in graph.nodes.values() if n.op == op]


def test_shared_nodes_are_one_node_with_their_script_count(recorded):
    _, _, store, runs = recorded
    g = MergedGraph.load(store)
    assert g.n_runs == 4 and g.n_scripts == 3
    [read] = by_op(g, "pandas.read_csv")
    assert (read.runs, read.scripts) == (4, 3)
    assert read.executions + read.reuses == 4
    [mul] = by_op(g, "operator.mul")
    assert (mul.runs, mul.scripts, mul.executions) == (4, 3, 4)
    [cv] = by_op(g, "sklearn.model_selection.cross_val_score")
    assert (cv.runs, cv.scripts, cv.executions, cv.reuses) == (2, 1, 1, 1)
    # Exactly one merged node per distinct key of a non-sink node in the raw traces.
    keys = {k for (k,) in store.db.execute(
        "SELECT DISTINCT key FROM nodes WHERE key IS NOT NULL AND effect != 'sink'")}
    assert keys == {n.id for n in g.nodes.values() if not n.per_run}
    shared = g.shared()
    assert read in shared and cv not in shared and cv in g.shared(by="runs")


def test_edges_follow_values_including_fitted_estimators(recorded):
    _, _, store, _ = recorded
    g = MergedGraph.load(store)
    ops = {(g.nodes[s].op, g.nodes[d].op) for s, d in g.edges}
    sk = "sklearn.preprocessing._data.StandardScaler"
    assert ("pandas.read_csv", "operator.getitem") in ops
    assert ("operator.mul", "operator.setitem") in ops
    assert ("operator.setitem", "operator.getitem") in ops  # the df changed in place
    assert (sk, f"{sk}.fit") in ops
    assert (f"{sk}.fit", f"{sk}.transform") in ops  # through the fitted estimator's key
    tree = "sklearn.tree._classes.DecisionTreeClassifier"
    assert (f"{tree}.fit", f"{tree}.predict") in ops
    [cv] = by_op(g, "sklearn.model_selection.cross_val_score")
    folds = g.children(cv.id)
    assert len(folds) == 3 and all(f.parent == cv.id for f in folds)
    assert all(s in g.nodes and d in g.nodes for s, d in g.edges)


def test_per_run_nodes_are_never_merged(recorded):
    _, _, store, runs = recorded
    g = MergedGraph.load(store)
    prints = by_op(g, "builtins.print")
    assert len(prints) == 4 and all(p.per_run and p.runs == 1 for p in prints)
    assert {int(p.id.split(":")[0]) for p in prints} == set(runs)
    [noise] = by_op(g, "numpy.RandomState.rand")
    assert noise.per_run and noise.key is None


def test_selection_of_runs_restricts_the_graph(recorded):
    _, _, store, runs = recorded
    tree_run = next(r for r, name in runs.items() if name == "tree.py")
    cv_runs = [r for r, name in runs.items() if name == "cv.py"]
    g = MergedGraph.load(store, runs=[tree_run])
    assert g.n_runs == 1 and g.n_scripts == 1
    [read] = by_op(g, "pandas.read_csv")
    assert (read.runs, read.scripts, read.executions + read.reuses) == (1, 1, 1)
    assert not by_op(g, "sklearn.model_selection.cross_val_score")
    assert all(s in g.nodes and d in g.nodes for s, d in g.edges)
    g2 = MergedGraph.load(store, runs=cv_runs)
    [cv] = by_op(g2, "sklearn.model_selection.cross_val_score")
    assert (cv.runs, cv.scripts) == (2, 1)
    assert not by_op(g2, "sklearn.tree._classes.DecisionTreeClassifier.fit")
    assert not g2.shared() and g2.shared(by="runs")


def test_predict_from_past_runs(recorded):
    work, _, store, runs = recorded
    g = MergedGraph.load(store)
    p = g.predict(work / "cv.py")
    assert p.basis == "same file" and runs[p.run_id] == "cv.py"
    assert p.run_id == max(r for r, name in runs.items() if name == "cv.py")
    assert p.nodes[0].op == "pandas.read_csv" and p.nodes[0].shared_with == 2
    cv = next(n for n in p.nodes if n.op.endswith("cross_val_score"))
    assert cv.shared_with == 0 and cv.mean_seconds > 0
    assert [n.seq for n in p.nodes] == sorted(n.seq for n in p.nodes)
    assert p.cost > 0 and p.nodes[0] in p.shared()
    shutil.copy(work / "cv.py", work / "copy_of_cv.py")
    q = g.predict(work / "copy_of_cv.py")
    assert q.basis == "same content" and q.run_id == p.run_id
    assert g.predict(work / "never_run.py").run_id is None


def test_cli_json_dot_and_html(recorded):
    work, cache, store, _ = recorded
    g = MergedGraph.load(store)
    code, out, err = run_stratum(["trace", "merged", "--json"], work, cache)
    assert code == 0, err
    data = json.loads(out)
    assert {n["id"] for n in data["nodes"]} == set(g.nodes)
    assert {(e["src"], e["dst"]) for e in data["edges"]} == set(g.edges)
    read = next(n for n in data["nodes"] if n["op"] == "pandas.read_csv")
    assert read["scripts"] == 3 and read["mean_seconds"] > 0 and not read["per_run"]

    code, dot, err = run_stratum(["trace", "merged", "--dot", "-"], work, cache)
    assert code == 0 and dot.startswith("digraph stratum {") and dot.rstrip().endswith("}")
    for nid in g.nodes:
        assert f'"{nid}" [' in dot
    assert dot.count(" -> ") >= len(g.edges)

    html_path = work / "g.html"
    code, out, err = run_stratum(["trace", "merged", "--html", str(html_path)], work, cache)
    assert code == 0 and "shared" in out and "read_csv" in out
    page = html_path.read_text()
    view = pipeline_view(g)
    assert page.count("<svg") == 1  # the graph; the legend is HTML
    assert len(re.findall(r'<g class="node ', page)) == len(view.stages)
    assert f'data-nodes="{len(view.stages)}"' in page
    labels = set(re.findall(r'data-label="([^"]*)"', page))
    assert {"read_csv", "cross_val_score(LogisticRegression)", "fit DecisionTreeClassifier",
            "predict DecisionTreeClassifier"} <= labels
    assert not any("print" in label for label in labels)  # sinks are counted, not drawn
    assert re.search(r'class="node [a-z-]+ shared"', page)  # read_csv: 3 scripts
    assert "pandas.read_csv" in page and 'id="saved-table"' in page
    for external in ("http:", "https:", "<script src", "<link", "src=", "@import"):
        assert external not in page
    assert page.count("<script>") == 1  # inline: the page needs no other file

    code, out, err = run_stratum(["trace", "merged", "1", "999"], work, cache)
    assert code == 2 and "999" in err  # a usage error, as in trace show and replay


def test_old_store_is_backfilled(recorded, tmp_path):
    """A store written before the merged tables existed gets them on first open."""
    _, _, store, _ = recorded
    old = sqlite3.connect(tmp_path / "traces.db")
    old.executescript("""
        CREATE TABLE runs(id INTEGER PRIMARY KEY AUTOINCREMENT, script TEXT, argv TEXT, cwd TEXT,
            started REAL, seconds REAL, exit_code INTEGER, nodes INTEGER, reused INTEGER,
            executed INTEGER, saved REAL, versions TEXT);
        CREATE TABLE nodes(run_id INTEGER, seq INTEGER, key TEXT, op TEXT, site TEXT,
            inputs TEXT, consts TEXT, kind TEXT, seconds REAL, nbytes INTEGER, effect TEXT,
            reused INTEGER, reason TEXT, parent INTEGER, PRIMARY KEY(run_id, seq));""")
    old.executemany("INSERT INTO runs VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", store.db.execute(
        "SELECT id, script, argv, cwd, started, seconds, exit_code, nodes, reused, executed,"
        " saved, versions FROM runs"))
    old.executemany("INSERT INTO nodes VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", store.db.execute(
        "SELECT run_id, seq, key, op, site, inputs, consts, kind, seconds, nbytes, effect,"
        " reused, reason, parent FROM nodes"))
    old.commit()
    old.close()
    upgraded = TraceStore(tmp_path)
    try:
        new, ref = MergedGraph.load(upgraded), MergedGraph.load(store)
        assert all(n.cpu is None for n in new.nodes.values())  # not measured by old versions
        for n in ref.nodes.values():
            n.cpu = None
        assert new.nodes == ref.nodes and sorted(new.edges) == sorted(ref.edges)
        # An old writer adding a run later: merged at the next record.
        upgraded.db.execute("INSERT INTO runs(script, argv, cwd, started, seconds, exit_code,"
                            " nodes, reused, executed, saved, versions) SELECT script, argv,"
                            " cwd, started, seconds, exit_code, nodes, reused, executed, saved,"
                            " versions FROM runs WHERE id=1")
        upgraded.db.execute("INSERT INTO nodes(run_id, seq, key, op, site, inputs, consts, kind,"
                            " seconds, nbytes, effect, reused, reason, parent) SELECT 5, seq,"
                            " key, op, site, inputs, consts, kind, seconds, nbytes, effect,"
                            " reused, reason, parent FROM nodes WHERE run_id=1")
        upgraded.record({"script": "/x/new.py", "argv": [], "cwd": "/x", "started": 1.0,
                         "seconds": 0.0, "exit_code": 0, "reused": 0, "executed": 0,
                         "saved": 0.0, "versions": ""}, [])
        [read] = by_op(MergedGraph.load(upgraded), "pandas.read_csv")
        assert read.runs == 5
    finally:
        upgraded.close()


def test_two_processes_record_at_once(tmp_path):
    code = textwrap.dedent("""\
        import sys, time
        from pathlib import Path
        from stratum.engine.engine import Node
        from stratum.trace.store import TraceStore
        d, name = Path(sys.argv[1]), sys.argv[2]
        while not (d / "go").exists():
            time.sleep(0.005)
        for r in range(15):
            nodes = [Node(0, "k-shared", "pandas.read_csv", "s.py:1", [], [], "DataFrame",
                          0.01, 10, "source", False, None, None),
                     Node(1, f"k-{name}-{r}", "operator.mul", "s.py:2", ["k-shared"], [],
                          "Series", 0.001, 8, "pure", False, None, None),
                     Node(2, None, "builtins.print", "s.py:3", [f"k-{name}-{r}"], [],
                          "NoneType", 0.0, 0, "sink", False, None, None)]
            store = TraceStore(d)
            store.record({"script": f"/{name}.py", "argv": [], "cwd": "/", "started": r,
                          "seconds": 0.1, "exit_code": 0, "reused": 0, "executed": 3,
                          "saved": 0.0, "versions": ""}, nodes)
            store.close()
    """)
    env = difftest.build_env("stratum", tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), name], env=env,
                              cwd=tmp_path) for name in ("p", "q")]
    (tmp_path / "go").touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = TraceStore(tmp_path)
    try:
        g = MergedGraph.load(store)
        assert g.n_runs == 30
        shared = g.nodes["k-shared"]
        assert (shared.runs, shared.scripts, shared.executions) == (30, 2, 30)
        assert len(by_op(g, "builtins.print")) == 30 and len(by_op(g, "operator.mul")) == 30
        assert len(g.edges) == 60
    finally:
        store.close()


def test_derived_keys_match_the_engine():
    """One ``derive`` for engine, replay and merged graph, and the keys existing caches and
    trace stores hold: xxh3 of the key, then of ``what``."""
    from stratum._native import Hasher
    from stratum.engine import engine
    from stratum.keys.derive import derive
    from stratum.replay import replay

    assert mergestore.derive is derive and replay.derive is derive and engine._derive is derive
    for what in ("fitted", "mutated", "0", "3"):
        h = Hasher()
        h.update_str("abc123")
        h.update_str(what)
        assert derive("abc123", what) == h.hexdigest()


def _node(nid, parent=None, scripts=1, seconds=0.01):
    return MergedNode(nid, nid, f"mod.Op{nid}", "x", "s.py:1", "pure", parent, scripts, scripts,
                      1, 0, seconds, 0.0, 8, 1, 1, 0.0, 0.0)


def test_layout_points_edges_down_and_survives_cycles():
    ids = [f"n{i}" for i in range(9)]
    edges = [("n0", "n1"), ("n1", "n2"), ("n0", "n3"), ("n3", "n2"), ("n5", "n2"),
             ("n2", "n4"), ("n6", "n7"), ("n7", "n6")]
    rows = layered_rows(ids, edges)
    row = {n: i for i, r in enumerate(rows) for n in r}
    assert sorted(row) == sorted(ids)
    for s, d in edges[:6]:
        assert row[s] < row[d]
    assert row["n5"] == row["n2"] - 1  # a source sits just above its consumer
    assert row["n8"] == max(row.values())  # unconnected: last row
    wide = layered_rows([f"w{i}" for i in range(50)], [], max_row=20)
    assert [len(r) for r in wide] == [20, 20, 10]


def test_html_folds_children_and_caps_large_graphs():
    nodes = {f"n{i}": _node(f"n{i}", scripts=2 if i < 5 else 1) for i in range(40)}
    nodes["c1"] = _node("c1", parent="n0")
    nodes["c2"] = _node("c2", parent="c1")
    edges = [(f"n{i}", f"n{i + 1}") for i in range(39)] + [("n3", "c2")]
    g = MergedGraph(None, nodes, edges, None, 1, 1)
    page = graphview.to_html(g)
    assert len(re.findall(r'<g class="node ', page)) == 40  # each costs 10 ms: a stage
    [n0] = [s for s in pipeline_view(g).stages if s.id == "n0"]
    assert n0.folded == 2 and n0.members == ["n0"]  # c1 and c2 are inside it
    capped = graphview.to_html(g, cap=10)
    assert len(re.findall(r'<g class="node ', capped)) == 10 and "showing 10 of 40" in capped
    assert len(re.findall(r'class="node [a-z-]+ shared', capped)) == 5


def _op_node(nid, op, seconds=1e-5, effect="pure", kind="Series", scripts=1, site="s.py:1",
             per_run=False):
    nid = f"1:{nid}" if per_run else nid
    return MergedNode(nid, None if per_run else nid, op, kind, site, effect, None, 1, scripts,
                      1, 0, seconds, 0.0, 8, 1, 1, 0.0, 0.0)


def test_pipeline_view_folds_cheap_ops_and_names_estimators():
    """Cheap ops feeding a stage are one group; prints are counted; an estimator is folded
    into the calls that use it, which are labelled with it; per-run sightings of one call site
    are one stage; stages come costliest first."""
    sk = "sklearn.ensemble._forest.RandomForestClassifier"
    lr = "sklearn.linear_model._logistic.LogisticRegression"
    cv = "sklearn.model_selection._validation.cross_val_score"
    nodes = [_op_node("read", "pandas.read_csv", 0.002, "source", "DataFrame", 2),
             *[_op_node(f"g{i}", "operator.getitem") for i in range(6)],
             _op_node("p1", "builtins.print", effect="sink", per_run=True),
             _op_node("rf", sk, kind="RandomForestClassifier", site="a.py:8"),
             _op_node("lr", lr, kind="LogisticRegression", site="b.py:8"),
             _op_node("cv1", cv, 5.0, kind="ndarray", site="a.py:9"),
             _op_node("cv2", cv, 0.5, kind="ndarray", site="b.py:9"),
             _op_node("fit", f"{lr}.fit", 0.2, "fit", "LogisticRegression", site="b.py:10"),
             _op_node("m", "numpy.ndarray.mean", site="b.py:11"),
             _op_node("r1", "numpy.random.rand", 0.3, kind="ndarray", per_run=True),
             MergedNode("2:r1", None, "numpy.random.rand", "ndarray", "s.py:1", "pure", None, 1,
                        1, 1, 0, 0.5, 0.0, 8, 2, 2, 0.0, 0.0)]
    edges = [("read", "g0")] + [(f"g{i}", f"g{i + 1}") for i in range(5)] + [
        ("g5", "p1"), ("g5", "cv1"), ("g5", "cv2"), ("g5", "fit"), ("rf", "cv1"), ("lr", "cv2"),
        ("lr", "fit"), ("cv2", "m")]
    g = MergedGraph(None, {n.id: n for n in nodes}, edges, None, 2, 2)
    view = pipeline_view(g)
    by_label = {s.label: s for s in view.stages}
    assert set(by_label) == {
        "read_csv", "6 cheap ops: getitem", "cross_val_score(RandomForestClassifier)",
        "cross_val_score(LogisticRegression)", "fit LogisticRegression", "rand"}
    assert view.stages[0].label == "cross_val_score(RandomForestClassifier)"  # costliest first
    assert view.prints == 1
    group = by_label["6 cheap ops: getitem"]
    assert group.kind == "steps" and group.site == "s.py:1"
    assert by_label["cross_val_score(LogisticRegression)"].folded == 2  # the estimator, mean()
    rand = by_label["rand"]
    assert rand.per_run and rand.members == ["1:r1", "2:r1"] and rand.runs == 2
    assert abs(rand.cost - 0.4) < 1e-9
    ids = {s.label: s.id for s in view.stages}
    assert (ids["read_csv"], group.id) in view.edges
    assert (group.id, ids["cross_val_score(LogisticRegression)"]) in view.edges
    assert not any(ids["rand"] in e for e in view.edges)
