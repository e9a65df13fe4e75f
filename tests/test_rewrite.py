"""The bytecode rewrite (interposer/rewrite.py): it accepts real-world code, it does not change
what code computes (with and without an engine), and it keeps tracebacks and line numbers."""
from __future__ import annotations

import dis
import importlib.util
import os
import sys
import textwrap
import traceback
import types

import pytest

from interposer import codecheck, dispatch, rewrite as rw

pytestmark = pytest.mark.skipif(not rw.SUPPORTED, reason="rewrite supports CPython 3.11 only")


# ------------------------------------------------------------------------------------------------
# (a) round trip of whole packages
# ------------------------------------------------------------------------------------------------
def _package_files(name: str) -> list[str]:
    spec = importlib.util.find_spec(name)
    if spec.submodule_search_locations is None:
        return [spec.origin]
    files = []
    for root in spec.submodule_search_locations:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            files += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return files


def _round_trip(path: str):
    with open(path, "rb") as fh:
        source = fh.read()
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError:
        return None  # e.g. test fixtures that are deliberately invalid
    new = rw.rewrite(code)
    assert isinstance(new, types.CodeType), path
    assert rw.is_rewritten(new), path
    codecheck.check(new)  # nothing CPython could crash on (stack, calls, tables)
    return new


# pandas and sklearn are walked in shards (files round-robin) so each test stays well under a
# minute; together they cover every module of both packages.
SHARDS = {"json": 1, "email": 1, "asyncio": 1, "pandas": 8, "sklearn": 4}
WALKS = [(pkg, i, n) for pkg, n in SHARDS.items() for i in range(n)]


@pytest.mark.parametrize("package,shard,shards", WALKS,
                         ids=[f"{p}-{i + 1}of{n}" for p, i, n in WALKS])
def test_round_trip_every_module(package, shard, shards):
    files = _package_files(package)[shard::shards]
    assert files
    failures = []
    done = 0
    for path in files:
        try:
            if _round_trip(path) is not None:
                done += 1
        except Exception as exc:  # collect all, report together
            failures.append(f"{path}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures[:30])
    assert done >= len(files) * 0.95


def test_rewrite_is_idempotent():
    code = compile("x = [1, 2]\ny = x[0] + len(x)\n", "<t>", "exec")
    once = rw.rewrite(code)
    assert rw.rewrite(once) is once


# ------------------------------------------------------------------------------------------------
# (b) semantics: plain vs rewritten (no engine) vs rewritten (real activation)
# ------------------------------------------------------------------------------------------------
SNIPPETS = {
    "calls": """
        def f(a, b=2, *args, c=3, **kw):
            return (a, b, args, c, sorted(kw.items()))
        args = [1, 2, 3]
        kw = {"c": 9, "z": 1}
        result = [f(1), f(1, 5), f(1, c=4), f(*args), f(*args, **kw), f(a=0, b=1, q=2),
                  f(1, *[7, 8], c=1, **{"w": 0}), max([3, 1, 2], key=lambda v: -v)]
    """,
    "methods_chained": """
        class A:
            def __init__(self, n): self.n = n
            def m(self): return lambda k: self.n * k
            def add(self, k): return A(self.n + k)
            @staticmethod
            def s(x): return x * 2
            @classmethod
            def c(cls, x): return cls(x)
        a = A(3)
        result = [a.m()(1), a.add(1).add(2).n, A.s(4), A.c(5).n, " a b ".strip().split(" "),
                  "x".join(["1", "2"]).upper(), [1, 2, 3].index(2), {"k": 1}.get("k")]
    """,
    "decorators_classes": """
        import functools
        def deco(tag):
            def wrap(fn):
                @functools.wraps(fn)
                def inner(*a, **k):
                    return (tag, fn(*a, **k))
                return inner
            return wrap
        @deco("t")
        def g(x): return x + 1
        class Base:
            x = 1
            def who(self): return "base"
        class Child(Base):
            y = Base.x + 1
            z = [i * 2 for i in range(3)]
            w = y * 2
            def who(self): return "child:" + super().who()
            @property
            def p(self): return self.y * 10
        c = Child()
        result = [g(1), c.who(), c.p, Child.z, Child.w, Child.__name__, Child.__qualname__,
                  g.__name__]
    """,
    "closures_nonlocal_global": """
        counter = 0
        def bump():
            global counter
            counter += 1
            return counter
        def make():
            n = 0
            def inc(k=1):
                nonlocal n
                n += k
                return n
            return inc
        inc = make()
        result = [bump(), bump(), inc(), inc(5), inc(), counter]
    """,
    "comprehensions_generators": """
        def gen(n):
            for i in range(n):
                x = yield i * i
                if x:
                    yield -x
        g = gen(4)
        first = [next(g), g.send(7), next(g), next(g)]
        def deleg():
            r = yield from gen(3)
            return r
        result = [first, list(deleg()), [i * j for i in range(3) for j in range(3) if i != j],
                  {k: k ** 2 for k in range(4)}, {v % 3 for v in range(10)},
                  sum(x for x in range(10) if x % 2), list(zip(*[[1, 2], [3, 4]]))]
    """,
    "async": """
        import asyncio
        async def inner(x):
            await asyncio.sleep(0)
            return x * 2
        async def agen(n):
            for i in range(n):
                yield await inner(i)
        async def main():
            vals = [v async for v in agen(4)]
            got = await asyncio.gather(inner(1), inner(2))
            async with Ctx() as c:
                vals.append(c)
            return vals, got
        class Ctx:
            async def __aenter__(self): return "entered"
            async def __aexit__(self, *a): return False
        result = asyncio.run(main())
    """,
    "exceptions_with": """
        import contextlib
        log = []
        @contextlib.contextmanager
        def cm(tag):
            log.append("enter " + tag)
            try:
                yield tag.upper()
            finally:
                log.append("exit " + tag)
        def risky(k):
            d = {"a": 1}
            try:
                return d[k]
            except KeyError as e:
                log.append("missing " + str(e))
                raise ValueError(k) from e
            finally:
                log.append("finally " + k)
        with cm("x") as X, cm("y") as Y:
            log.append(X + Y)
        out = [risky("a")]
        try:
            risky("b")
        except ValueError as e:
            out.append((type(e).__name__, str(e), type(e.__cause__).__name__))
        try:
            1 / 0
        except ZeroDivisionError:
            out.append("zde")
        else:
            out.append("no")
        result = [log, out]
    """,
    "conditional_callables": """
        def a(x): return ("a", x)
        def b(x): return ("b", x)
        flag = True
        result = [(a if flag else b)(1), (a if not flag else b)(2),
                  a(1 if flag else 2), max(3 if flag else 4, 5 if not flag else 0),
                  (lambda y: y + 1)(3) if flag else None,
                  [f(i) for f in (a, b) for i in range(2) if (i if flag else 0)]]
    """,
    "fstrings_walrus": """
        import re
        xs = [3, 1, 4, 1, 5, 9, 2, 6]
        name, val = "pi", 3.14159
        result = [f"{name}={val:.2f}", f"{name!r:>6}|{len(xs)}|{xs[1:3]}", f"{{{val}}}",
                  [y for x in xs if (y := x * 2) > 6], (n := len(xs)) + n,
                  (m.group(1) if (m := re.search(r"(\\d+)", "ab12cd")) else None)]
    """,
    "augmented_subscripts_attrs": """
        class O: pass
        o = O(); o.v = 1; o.l = [1, 2]
        d = {"k": 1, "j": [0, 0]}
        lst = [1, 2, 3, 4]
        o.v += 5; o.v *= 2; o.l += [3]; o.l[0] -= 10
        d["k"] += 1; d["j"][1] += 7; d.setdefault("n", 0); d["n"] |= 6
        lst[1:3] = [9]; lst[-1] **= 2; lst[0] <<= 3
        del d["k"]; del lst[0]; del o.l[1]
        s = "ab"; s *= 3
        t = (1,); t += (2,)
        result = [o.v, o.l, d, lst, s, t, 7 // 2, -7 % 3, 5 ^ 3, 6 & 3, 6 | 1, 8 >> 1, 2 @ 1
                  if False else 0]
    """,
    "unary_compare_star": """
        import operator
        x, y = 3, -2
        first, *mid, last = range(6)
        a, (b, *c) = 1, [2, 3, 4]
        merged = [*range(2), *"ab", *{1: 2}]
        dd = {**{"a": 1}, "b": 2, **dict(c=3)}
        result = [-x, +y, ~x, not x, -(-y), 1 < x < 5, 1 < x > 5, x == 3 != y,
                  y < x <= 3 < 10, x is not None, x in [1, 3], "a" not in "xyz",
                  first, mid, last, a, b, c, merged, dd, operator.neg(x),
                  (1, 2) < (1, 3), [1] == [1.0], 2 ** -1]
    """,
    "loops_scopes": """
        total = 0
        for i in range(10):
            if i == 7:
                break
            if i % 2:
                continue
            total += i
        else:
            total = -1
        j = 0
        while True:
            j += 3
            if j > 10:
                break
        def outer():
            vals = []
            for k in range(3):
                vals.append(lambda k=k: k * 10)
            return [f() for f in vals]
        match (1, [2, 3]):
            case (1, [x, *rest]):
                m = ("matched", x, rest)
            case _:
                m = None
        result = [total, j, outer(), m, type(total).__name__, isinstance(j, int)]
    """,
    "numpy_pandas": """
        import numpy as np
        import pandas as pd
        a = np.arange(6.0).reshape(2, 3)
        a[0, 1] = 10
        a += 1
        b = -a * 2 + (a @ a.T)[:, :1] - a[::-1]
        df = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "a"]})
        df["z"] = df["x"] * 2
        df.loc[df["y"] == "a", "z"] += 100
        g = df.groupby("y")["z"].sum()
        del df["x"]
        s = df["z"][df["z"] > 5]
        result = [a.tolist(), b.tolist(), df.to_dict("list"), g.to_dict(), s.tolist(),
                  (~(a > 3)).tolist(), float(np.log(a).sum()), len(df), a.shape]
    """,
    "quickened_zero_arg_calls": """
        # after a loop CPython quickens the code: a specialised PRECALL of a builtin type
        # makes the call itself and jumps over its CALL
        import pandas as pd
        for i in range(100):
            pass
        zz = dict()
        made = []
        frame = pd.DataFrame({"a": [1, 2]})
        for i in range(50):
            made.append((dict(), list(), set(), tuple(), frozenset(), str(), int(),
                         frame.copy().shape))
        def inner():
            return [(dict(), list(), len(set())) for _ in range(50)]
        fetch = frame.sum
        result = [zz, made[-1], inner()[-1], fetch().tolist(), getattr(frame, "max")().tolist()]
    """,
    "odd_objects": """
        # objects on which stratum's decisions fail: a class whose __module__ raises, a class
        # that cannot be hashed, a callable whose __hash__ counts its calls
        class Meta(type):
            @property
            def __module__(cls):
                raise RuntimeError("no module")
        class Odd(metaclass=Meta):
            def __add__(self, other): return "added"
            def __neg__(self): return "negated"
            def __getitem__(self, k): return ("item", k)
            def __setitem__(self, k, v): self.last = (k, v)
            def __call__(self, *a): return ("called", a)
            def __format__(self, spec): return "formatted" + spec
            def meth(self): return "meth"
        class NoHash(type):
            def __eq__(cls, other): return cls is other
            __hash__ = None
        class U(metaclass=NoHash):
            def __add__(self, other): return "u-added"
            def __call__(self): return "u-called"
            def meth(self): return "u-meth"
        class LoudHash:
            def __init__(self): self.hashed = 0
            def __hash__(self):
                self.hashed += 1
                return 1
            def __call__(self): return "loud"
        o, u, lh = Odd(), U(), LoudHash()
        o[1] = 2
        o.attr = 3
        def in_function():
            return [o + 1, -o, o[2], o(4), o.meth(), getattr(o, "meth")(), f"{o}|{o:>3}",
                    u + 1, u(), u.meth(), getattr(u, "meth")(), lh(), lh(), o.last, o.attr]
        result = [in_function(), o + 1, -o, o[0], o(), o.meth(), u + 1, u(), f"{u!r:.3}",
                  lh(), lh.hashed, sum([1, 2]), len([o, u])]
    """,
}


def _run(code, rewrite_it: bool):
    code = compile(code, "<snippet>", "exec", dont_inherit=True)
    if rewrite_it:
        code = rw.rewrite(code)
    ns = {"__name__": "__snippet__"}
    exec(code, ns)
    return repr(ns["result"])


def _jump_prefixes(code) -> int:
    """Jumps of ``code`` whose argument needs ``EXTENDED_ARG`` prefixes."""
    return sum(1 for i in dis.get_instructions(code)
               if i.opcode in dis.hasjrel and i.arg is not None and i.arg > 0xFF)


def test_jumps_that_outgrow_one_byte_get_prefixes():
    # The branch and the loop's back edge span ~200 code units as compiled: one byte each.
    # Rewritten, every operator becomes a dispatch call and the same jumps need a prefix; the
    # assembler must grow them (and everything after them moves) and still land on the
    # instruction each jumped to.
    body = "\n".join(f"            t = t + xs[{i % 3}] * {i}" for i in range(15))
    src = (f"def f(xs, n):\n    t = 0\n    for k in range(n):\n        if k % 2 == 0:\n"
           f"{body}\n        else:\n            t -= 1\n    return t\n"
           "result = [f([1, 2, 3], 5), f([0.5, 1, 2], 4), f([1, 1, 1], 0)]\n")
    plain = compile(src, "<jumps>", "exec", dont_inherit=True)
    f_plain = next(c for c in plain.co_consts if isinstance(c, types.CodeType))
    f_new = next(c for c in rw.rewrite(plain).co_consts if isinstance(c, types.CodeType))
    assert _jump_prefixes(f_plain) == 0
    assert _jump_prefixes(f_new) >= 2  # the forward branch and the loop's back edge
    codecheck.check(f_new)
    assert _run(src, True) == _run(src, False)


def test_exception_entries_ending_at_a_prefixed_opcode_keep_their_coverage():
    # CPython finds a handler by the unit of the executing opcode, after any EXTENDED_ARG
    # prefix: an entry may end between a prefix and its opcode (the bytecode package lays
    # ranges out that way; codecheck accepts it). Such an entry does not cover the prefixed
    # instruction, and its rewrite must not either.
    stmts = "; ".join(f"a{i % 5} = {i}.5" for i in range(300))  # constants beyond 255
    src = (f"def f(d):\n    {stmts}\n    try:\n        x = d[0]\n        y = 299.5\n"
           "        z = d[1]\n    except KeyError:\n        return 'k'\n    return x, y\n")
    code = next(c for c in compile(src, "<t>", "exec").co_consts if isinstance(c, types.CodeType))
    first, *rest = codecheck.parse_exception_table(code.co_exceptiontable)
    prefixed = next(i for i in codecheck.instructions(code, [])
                    if i.start != i.at and i.start > first.start)
    for split in ([first._replace(end=prefixed.at)] + rest,  # ends at the opcode: not covered
                  [first._replace(end=prefixed.at), first._replace(start=prefixed.at)] + rest):
        hand = code.replace(co_exceptiontable=codecheck.encode_exception_table(split))
        new = rw.rewrite(hand)
        assert codecheck.problems_of(new) == []
        entries = codecheck.parse_exception_table(new.co_exceptiontable)
        handler = entries[0].target  # the ``except KeyError``
        covered = {i.arg for e in entries if e.target == handler
                   for i in codecheck.instructions(new, [])
                   if e.start <= i.at < e.end and i.op == dis.opmap["LOAD_CONST"]}
        assert (prefixed.arg in covered) == (len(split) == len(rest) + 2)


@pytest.fixture
def active_engine(tmp_path, monkeypatch):
    """Stratum activated the real way (cache in a temp dir); always deactivated."""
    from stratum.session import activation

    monkeypatch.setenv("STRATUM_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("STRATUM_DISABLE", "STRATUM_STRICT", "STRATUM_EXPLAIN"):
        monkeypatch.delenv(var, raising=False)
    session = activation.activate()
    assert session is not None
    try:
        assert dispatch.get_engine() is not None  # deferred until the first library operation
        yield session
    finally:
        activation.deactivate()
    assert dispatch.get_engine() is None


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_semantics_no_engine(name):
    src = textwrap.dedent(SNIPPETS[name])
    assert dispatch.get_engine() is None
    assert _run(src, True) == _run(src, False)


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_semantics_with_engine(name, active_engine):
    src = textwrap.dedent(SNIPPETS[name])
    # plain first and twice rewritten: the second rewritten run may reuse cached values
    plain = _run(src, False)
    assert _run(src, True) == plain
    assert _run(src, True) == plain


try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:
    _ops = ["+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^", "<", "<=", "==", "!=", ">", ">="]

    @st.composite
    def _expr(draw, depth=0):
        if depth > 3 or draw(st.booleans()):
            return draw(st.sampled_from(["x", "y", "z", "xs[0]", "xs[-1]", "d['k']", "o.v"]
                                        + [str(i) for i in range(-3, 4)]))
        kind = draw(st.sampled_from(["bin", "un", "call", "cond", "sub"]))
        if kind == "bin":
            op = draw(st.sampled_from(_ops))
            if op in ("<<", ">>"):
                return f"({draw(_expr(depth + 1))} {op} 2)"
            return f"({draw(_expr(depth + 1))} {op} {draw(_expr(depth + 1))})"
        if kind == "un":
            return f"({draw(st.sampled_from(['-', '~', 'not ', '+']))}{draw(_expr(depth + 1))})"
        if kind == "call":
            fn = draw(st.sampled_from(["abs", "f", "o.m", "(f if x else g)", "int"]))
            return f"{fn}({draw(_expr(depth + 1))})"
        if kind == "cond":
            return f"({draw(_expr(depth + 1))} if {draw(_expr(depth + 1))} else {draw(_expr(depth + 1))})"
        return f"xs[{draw(_expr(depth + 1))} % 3]"

    _PRELUDE = textwrap.dedent("""
        class O:
            v = 4
            def m(self, a): return a * 3
        def f(a): return a + 1
        def g(a): return a - 1
        o = O()
        xs = [5, -2, 7]
        d = {"k": 6}
        x, y, z = 2, -3, 0
    """)

    def _eval_both(expr):
        src = _PRELUDE + "try:\n    result = " + expr + "\nexcept Exception as e:\n" \
              "    result = type(e).__name__\n" + \
              "xs[1] += 1\nd['k'] -= 2\no.v *= 3\nresult = (result, xs, d, o.v)\n"
        return _run(src, True), _run(src, False)

    @settings(max_examples=150, deadline=None)
    @given(_expr())
    def test_semantics_generated_expressions(expr):
        rewritten, plain = _eval_both(expr)
        assert rewritten == plain, expr


# ------------------------------------------------------------------------------------------------
# (c) tracebacks
# ------------------------------------------------------------------------------------------------
TB_USER = """\
def helper(d):
    return d["a"] + \\
        d["missing"]

def outer(d):
    x = {"q": 1}
    return helper(d) * x["q"]

outer({"a": 1})
"""

TB_LIBRARY = """\
import pandas as pd

df = pd.DataFrame({"a": [1, 2, 3]})
total = df["a"].sum()
col = df["nope"]
"""

TB_NUMPY = """\
import numpy as np

a = np.ones((2, 3))
b = np.ones((4, 5))
c = a + \\
    b
"""


def _format(src: str, path: str, rewrite_it: bool) -> str:
    code = compile(src, path, "exec", dont_inherit=True)
    if rewrite_it:
        code = rw.rewrite(code)
    try:
        exec(code, {"__name__": "__main__", "__file__": path})
    except Exception as exc:
        return "".join(traceback.format_exception(exc))
    raise AssertionError("no exception")


@pytest.mark.parametrize("src", [TB_USER, TB_LIBRARY, TB_NUMPY], ids=["user", "pandas", "numpy"])
def test_traceback_same_lines_when_active(src, tmp_path, active_engine):
    path = str(tmp_path / "script.py")
    with open(path, "w") as fh:
        fh.write(src)
    plain = _format(src, path, False)
    rewritten = _format(src, path, True)
    assert rewritten == plain
    assert not _stratum_frames(rewritten), rewritten


def _stratum_frames(tb: str) -> list[str]:
    """The frames of a formatted traceback whose code lives in the stratum or interposer
    packages (not a substring test: the clone's own folder may well be named ``stratum``)."""
    import re

    import interposer
    import stratum

    ours = [os.path.realpath(os.path.dirname(m.__file__)) + os.sep for m in (stratum, interposer)]
    files = re.findall(r'^  File "([^"]+)", line', tb, flags=re.M)
    return [f for f in files if os.path.realpath(f).startswith(tuple(ours))]


# ------------------------------------------------------------------------------------------------
# (d) line numbers and positions
# ------------------------------------------------------------------------------------------------
LINES_SRC = SNIPPETS["augmented_subscripts_attrs"] + SNIPPETS["async"] + \
    SNIPPETS["comprehensions_generators"] + SNIPPETS["numpy_pandas"]


def _codes(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def _lines(code) -> set[int]:
    return {line for _, _, line in code.co_lines() if line is not None}


def _positions(code) -> set[tuple]:
    return {p for p in code.co_positions() if p[0] is not None}


def test_line_table_maps_every_original_line():
    src = textwrap.dedent(LINES_SRC)
    plain = compile(src, "<lines>", "exec", dont_inherit=True)
    new = rw.rewrite(plain)
    plain_codes = list(_codes(plain))
    new_codes = [c for c in _codes(new)]
    assert [c.co_qualname for c in plain_codes] == [c.co_qualname for c in new_codes]
    for p, n in zip(plain_codes, new_codes):
        assert _lines(p) <= _lines(n), p.co_qualname
        # new instructions only reuse locations of the code they replace
        assert _lines(n) <= _lines(p) | {p.co_firstlineno}, p.co_qualname
        assert _positions(p) <= _positions(n), p.co_qualname
        assert _positions(n) <= _positions(p), p.co_qualname
        assert n.co_firstlineno == p.co_firstlineno
        assert n.co_filename == p.co_filename


def test_every_source_line_of_a_function_is_kept():
    src = textwrap.dedent("""
        def f(df, xs):
            a = df["x"]
            b = a + 1
            xs[0] = b
            del xs[1]
            c = -b
            d = xs.append(
                c)
            return (a
                    < b)
    """)
    plain = compile(src, "<f>", "exec", dont_inherit=True)
    new = rw.rewrite(plain)
    fp = next(c for c in plain.co_consts if isinstance(c, types.CodeType))
    fn = next(c for c in new.co_consts if isinstance(c, types.CodeType))
    assert _lines(fp) == _lines(fn)
    # each line's instruction positions (column ranges) are all still present
    assert _positions(fp) <= _positions(fn)
    # frame line numbers while running: the same sequence of lines is executed
    seen = {True: [], False: []}
    for rewritten, code in ((False, plain), (True, new)):
        ns = {}
        exec(code, ns)
        events = seen[rewritten]

        def tracer(frame, event, arg):
            if frame.f_code.co_name == "f" and event == "line":
                events.append(frame.f_lineno)
            return tracer
        sys.settrace(tracer)
        try:
            ns["f"]({"x": 1}, [0, 1, 2])
        finally:
            sys.settrace(None)
    assert seen[True] == seen[False]
    assert dis.findlinestarts(fn)


def test_traceback_entries_can_be_read_one_by_one(tmp_path, active_engine):
    """pytest formats each raw traceback entry with ``extract_tb(entry, limit=1)``: an entry
    in a stratum frame must give that entry (an empty list was pytest's INTERNALERROR), while a
    whole traceback still skips stratum's frames; pytest hides them by ``__tracebackhide__``."""
    path = str(tmp_path / "script.py")
    with open(path, "w") as fh:
        fh.write(TB_LIBRARY)
    code = rw.rewrite(compile(TB_LIBRARY, path, "exec", dont_inherit=True))
    with pytest.raises(KeyError) as info:
        exec(code, {"__name__": "__main__", "__file__": path})
    tb = info.value.__traceback__
    raw = []
    while tb is not None:
        raw.append(tb)
        tb = tb.tb_next
    from interposer.frames import is_ours
    ours = [t for t in raw if is_ours(t.tb_frame)]
    assert ours, "the library call went through stratum frames"
    for entry in raw:
        summary = traceback.extract_tb(entry, limit=1)
        assert len(summary) == 1 and summary[0].lineno == entry.tb_lineno
    for entry in ours:
        frame = entry.tb_frame
        assert frame.f_locals.get("__tracebackhide__", frame.f_globals.get("__tracebackhide__"))
    printed = "".join(traceback.format_exception(info.value))
    assert not _stratum_frames(printed), printed  # by path: the clone may be named stratum
