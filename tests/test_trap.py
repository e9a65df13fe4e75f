"""Tests of the PEP 523 entry trap (interposer/trap.py + interposer/_trap.c).

The hook is process-global, so every scenario runs in its own interpreter. The children import
the same `stratum` / `interposer` the test process sees (PYTHONPATH points at it), so run these
against an installed build (see tests/test_native.py for how).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import stratum
from interposer import trap

pytestmark = pytest.mark.skipif(not trap.available(), reason=f"trap unavailable: {trap.unavailable_reason()}")

_ROOT = Path(stratum.__file__).resolve().parent.parent

# Shared prelude of every child: a callback that rewrites the constant 1 into 2 in code objects
# named f_target / g_target / a_target / <module> / C_target that come from a "target" file.
PRELUDE = '''
import sys, types, collections
from interposer import trap

CALLS = collections.Counter()
TARGET_NAMES = {"f_target", "g_target", "a_target", "<module>", "C_target", "m_target"}

def swap_one_for_two(code):
    if "target" not in code.co_filename:
        return None
    CALLS[code] += 1
    if code.co_name not in TARGET_NAMES:
        return None
    consts = tuple(2 if (type(c) is int and c == 1) else c for c in code.co_consts)
    if consts == code.co_consts:
        return None
    return code.replace(co_consts=consts)
'''


def run_child(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> str:
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    script = tmp_path / "child_target.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("STRATUM", None)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_function_defined_before_install(tmp_path):
    out = run_child(tmp_path, '''
        def f_target(a, b=5, *args, k, kw=7, **more):
            return (1, a, b, args, k, kw, more)

        def closure_maker():
            x = 10
            def f_target(y, /):
                return x + y + 1
            return f_target

        class Base:
            def m_target(self):
                return 1

        class Sub(Base):
            def m_target(self):
                return super().m_target() + 1   # __class__ cell

        cf = closure_maker()
        original = f_target.__code__
        trap.install(swap_one_for_two)
        assert f_target(0, k=3) == (2, 0, 5, (), 3, 7, {}), f_target(0, k=3)
        assert f_target.__code__ is not original
        assert f_target(0, 1, 9, 9, k=3, z=4) == (2, 0, 1, (9, 9), 3, 7, {"z": 4})
        assert cf(0) == 12 and cf(0) == 12
        s = Sub()
        assert s.m_target() == 4, s.m_target()   # 2 (base) + 2 (sub), first call
        assert s.m_target() == 4
        trap.uninstall()
        assert f_target(0, k=3)[0] == 2           # the swap is permanent
        print("ok")
    ''')
    assert out.strip() == "ok"


def test_exec_and_import_after_install(tmp_path):
    out = run_child(tmp_path, '''
        trap.install(swap_one_for_two)
        ns = {}
        exec(compile("y = 1\\nz = [1 for _ in range(2)]", "<exec target>", "exec"), ns)
        assert ns["y"] == 2, ns["y"]
        assert ns["z"] == [1, 1]    # the comprehension is not a target name
        # exec with separate locals
        g, l = {}, {}
        exec(compile("w = 1", "<exec target>", "exec"), g, l)
        assert l == {"w": 2} and "w" not in g, (g.keys(), l)
        # a module imported after install: module body and class body inside a function
        import mod_target
        assert mod_target.VALUE == 2
        assert mod_target.make()().m() == (2, "C_target")
        trap.uninstall()
        print("ok")
    ''', files={"mod_target.py": '''
        VALUE = 1

        def make():
            k = 5
            class C_target:         # class body with a free variable and a __class__ cell
                ONE = 1
                K = k
                def m(self):
                    return (self.ONE + self.K - k, __class__.__name__)
            return C_target
    '''})
    assert out.strip() == "ok"


def test_generators_and_coroutines_not_broken(tmp_path):
    out = run_child(tmp_path, '''
        import asyncio

        def g_target(n):
            for _ in range(n):
                yield 1

        async def a_target():
            await asyncio.sleep(0)
            return 1

        suspended = g_target(3)
        assert next(suspended) == 1
        trap.install(swap_one_for_two)
        first = list(g_target(2))       # this call runs the original code
        assert first == [1, 1], first
        assert list(g_target(2)) == [2, 2]
        assert list(suspended) == [1, 1]  # resuming a generator created before install
        r1 = asyncio.run(a_target())
        r2 = asyncio.run(a_target())
        assert (r1, r2) == (1, 2), (r1, r2)
        gen = g_target(5)
        next(gen)
        try:
            gen.throw(KeyError("x"))
        except KeyError:
            pass
        else:
            raise AssertionError("throw did not propagate")
        trap.uninstall()
        print("ok")
    ''')
    assert out.strip() == "ok"


def test_exceptions_propagate(tmp_path):
    out = run_child(tmp_path, '''
        import traceback

        def f_target(x):
            raise ValueError(x + 1)

        trap.install(swap_one_for_two)
        try:
            exec(compile("a = 1\\nraise KeyError(a)", "<exec target>", "exec"), {})
        except KeyError as e:
            assert e.args == (2,), e.args
            tb = traceback.extract_tb(e.__traceback__)
            assert tb[-1].filename == "<exec target>" and tb[-1].lineno == 2, tb
        else:
            raise AssertionError("no exception")
        for _ in range(2):
            try:
                f_target(0)
            except ValueError as e:
                assert e.args == (2,), e.args
                assert traceback.extract_tb(e.__traceback__)[-1].name == "f_target"
            else:
                raise AssertionError("no exception")
        # a callback that raises: the code object is left alone, nothing is printed
        trap.uninstall()
        def boom(code):
            raise RuntimeError("callback failure")
        trap.install(boom)
        exec(compile("q = 1", "<exec target 2>", "exec"), {})
        trap.uninstall()
        print("ok")
    ''')
    assert out.strip() == "ok"


def test_uninstall_and_stats(tmp_path):
    out = run_child(tmp_path, '''
        def f_target():
            return 1

        def busy(n):
            t = 0
            for i in range(n):
                t += (lambda: i)()
            return t

        assert not trap.installed()
        before = trap.stats()
        trap.install(swap_one_for_two)
        assert trap.installed()
        busy(100)
        assert f_target() == 2
        mid = trap.stats()
        assert mid["frames"] > before["frames"] + 100, (before, mid)
        assert mid["callbacks"] > before["callbacks"]
        assert mid["swaps"] >= 1
        trap.uninstall()
        assert not trap.installed()
        after = trap.stats()
        busy(1000)
        exec(compile("v = 1", "<exec target>", "exec"), ns := {})
        assert ns["v"] == 1                     # not rewritten any more
        assert trap.stats() == after, (after, trap.stats())
        trap.uninstall()                        # idempotent
        # reinstall works; decisions made earlier are remembered
        trap.install(swap_one_for_two)
        assert f_target() == 2
        trap.uninstall()
        print("ok")
    ''')
    assert out.strip() == "ok"


def test_callback_once_per_code_object(tmp_path):
    out = run_child(tmp_path, '''
        import threading

        def f_target(x):
            return x + 1

        def helper_target(x):
            return x * 2

        trap.install(swap_one_for_two)
        for i in range(200):
            f_target(i)
            helper_target(i)
        threads = [threading.Thread(target=lambda: [helper_target(i) for i in range(1000)]) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        trap.uninstall()
        by_name = {c.co_name: n for c, n in CALLS.items()}
        assert by_name["f_target"] == 1 and by_name["helper_target"] == 1, by_name
        assert all(n == 1 for n in CALLS.values()), CALLS
        assert f_target(0) == 2
        print("ok")
    ''')
    assert out.strip() == "ok"


def test_chains_to_previous_hook_and_overhead(tmp_path):
    """Measures the installed hook's cost on a call-heavy loop (printed only, no assertion)."""
    out = run_child(tmp_path, '''
        import time

        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

        def best(fn, reps=5):
            times = []
            for _ in range(reps):
                t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
            return min(times)

        work = lambda: fib(22)
        base = best(work)
        trap.install(lambda code: None)
        work()              # decide all code objects first
        hooked = best(work)
        trap.uninstall()
        again = best(work)
        print(f"fib(22): uninstalled {base*1e3:.1f} ms, installed {hooked*1e3:.1f} ms "
              f"({hooked/base:.2f}x), after uninstall {again*1e3:.1f} ms")
    ''')
    print(out.strip())
    assert "installed" in out


def test_swapping_every_code_object_keeps_library_behaviour(tmp_path):
    """Replace every code object by an identical copy while pandas / scikit-learn run."""
    body = '''
        import numpy as np, pandas as pd, json, dataclasses, asyncio
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"a": np.arange(120) % 7, "b": rng.normal(size=120), "c": ["x", "y", "y"] * 40})
        g = df.groupby("c").agg({"a": "sum", "b": "mean"})
        X, y = df[["a", "b"]].to_numpy(), (df["c"] == "x").to_numpy()
        scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X, y, cv=3)

        @dataclasses.dataclass
        class P:
            x: int = 1
            def __post_init__(self):
                self.y = self.x * 2

        obj = object()
        def ident(v, *a, **k):
            return v
        before = sys.getrefcount(obj)
        for _ in range(100):
            ident(obj, obj, k=obj)
        leaked = sys.getrefcount(obj) - before
        print(repr(scores.tolist()), g.to_dict(), P(3).y, json.dumps({"k": [1, 2]}),
              asyncio.run(asyncio.sleep(0, result=5)), leaked)
    '''
    plain = run_child(tmp_path, body)
    swapped = run_child(tmp_path, "trap.install(lambda code: code.replace())\n" + textwrap.dedent(body)
                        + "trap.uninstall()\nassert trap.stats()['swaps'] > 1000, trap.stats()\n")
    assert swapped == plain
    assert plain.split()[-1] == "0"
