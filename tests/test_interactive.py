"""Long-lived interpreters: a real IPython shell with ``%load_ext stratum``, and
``stratum.activate()`` / ``stratum.deactivate()`` in a plain interpreter.

Each case runs in a subprocess with its own cache directory; outputs are compared with the
same session without stratum, and the recorded trace shows what was traced and reused.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import difftest  # noqa: E402

pytest.importorskip("IPython")

# Cell 2 defines a function before stratum is on: the entry trap must still trace its body.
CELLS = textwrap.dedent("""\
    import numpy as np, pandas as pd
    from sklearn.linear_model import Ridge
    def feat(df):
        return df.assign(c=df['a'] * 2, d=np.log1p(df['b']))

    {load}
    rng = np.random.RandomState(0)
    df = pd.DataFrame({{'a': rng.rand(20000), 'b': rng.rand(20000)}})
    out = feat(df)
    out['c'].sum().round(6)
    model = Ridge(alpha=0.5).fit(out[['a', 'b', 'd']].to_numpy(), out['c'].to_numpy())
    print(model.coef_.round(6))
    1/0
    {{k: v * 2 for k, v in {{'x': 1}}.items()}}
    """)


def _env(cache_dir, **extra):
    env = difftest.build_env("stratum", cache_dir)
    env.update(extra)
    return env


def _ipython(cells: str, cache_dir) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor",
           "--simple-prompt", "--HistoryManager.enabled=False"]
    return subprocess.run(cmd, input=cells, capture_output=True, text=True, timeout=180,
                          env=_env(cache_dir), cwd=str(cache_dir.parent))


def _last_trace(cache_dir) -> dict:
    out = subprocess.run([sys.executable, "-m", "stratum", "trace", "show", "--json"],
                         capture_output=True, text=True, env=_env(cache_dir), check=True,
                         cwd=cache_dir.parent)
    return json.loads(out.stdout)


def test_ipython_load_ext_is_identical_and_reuses(tmp_path):
    cache = tmp_path / "cache"
    plain = _ipython(CELLS.format(load="pass"), cache)
    first = _ipython(CELLS.format(load="%load_ext stratum"), cache)
    assert first.returncode == plain.returncode == 0
    assert first.stdout == plain.stdout
    assert first.stderr == plain.stderr
    assert "ZeroDivisionError" in first.stdout and "dispatch.py" not in first.stdout
    trace = _last_trace(cache)
    assert trace["run"]["script"] == "<ipython>"
    ops = [n["op"] for n in trace["nodes"]]
    # the body of ``feat``, defined before %load_ext, runs rewritten (the entry trap)
    assert "pandas.DataFrame.assign" in ops and "numpy.log1p" in ops
    fit = [n for n in trace["nodes"] if n["op"].endswith("Ridge.fit")]
    assert fit and not fit[0]["reused"]

    second = _ipython(CELLS.format(load="%load_ext stratum"), cache)
    assert second.stdout == plain.stdout and second.stderr == plain.stderr
    trace2 = _last_trace(cache)
    assert trace2["run"]["id"] == trace["run"]["id"] + 1
    reused = {n["op"] for n in trace2["nodes"] if n["reused"]}
    assert any(op.endswith("Ridge.fit") for op in reused), reused


def test_ipython_unload_ext_stops_tracing(tmp_path):
    cache = tmp_path / "cache"
    cells = textwrap.dedent("""\
        import numpy as np
        %load_ext stratum
        a = np.arange(5) + 1
        %unload_ext stratum
        b = np.arange(7) * 3
        print(a.sum(), b.sum())
        """)
    run = _ipython(cells, cache)
    assert run.returncode == 0 and "15 63" in run.stdout
    trace = _last_trace(cache)
    sites = {n["site"].rsplit(":", 1)[0] for n in trace["nodes"]}
    assert len(trace["nodes"]) >= 2 and all("ipython-input" in s for s in sites)
    assert not any(n["op"] == "operator.mul" for n in trace["nodes"])


def test_activate_deactivate_in_plain_interpreter(tmp_path):
    cache = tmp_path / "cache"
    code = textwrap.dedent("""\
        import numpy as np, pandas as pd
        def before(df):  # defined while stratum is off
            return df.assign(c=df['a'] + 1)
        import stratum
        session = stratum.activate()
        print("active:", session is not None)
        df = pd.DataFrame({'a': np.arange(4)})
        print(before(df)['c'].tolist())
        stratum.deactivate()
        print(np.arange(3).sum())
        """)
    plain = subprocess.run([sys.executable, "-c", code.replace("stratum.activate()", "1")
                            .replace("stratum.deactivate()", "pass")],
                           capture_output=True, text=True, env=_env(cache), timeout=120,
                           cwd=tmp_path)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(cache), timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout.replace("active: False", "active: True")
    assert run.stderr == plain.stderr == ""
    trace = _last_trace(cache)
    assert trace["run"]["script"] == "<interactive>"
    ops = [n["op"] for n in trace["nodes"]]
    assert "pandas.DataFrame.assign" in ops  # the body of a function defined before activate()
    assert ops.count("numpy.ndarray.sum") == 0  # after deactivate(): not traced


def test_activate_twice_and_deactivate_without_activate(tmp_path):
    code = ("import stratum\nstratum.deactivate()\na = stratum.activate()\n"
            "b = stratum.activate()\nprint(a is b)\nstratum.deactivate()\nstratum.deactivate()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(tmp_path / "cache"), timeout=120, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout == "True\n", run.stderr
