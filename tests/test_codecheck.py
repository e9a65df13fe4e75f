"""What the rewriter and the main-program guard emit is bytecode CPython can run without
crashing (interposer/codecheck.py): the checker rejects each kind of broken code, accepts
everything CPython's compiler emits, and accepts the rewrite (+ guard) of real test suites;
a sample of real code paths runs the same rewritten and guarded as plain."""
from __future__ import annotations

import dis
import glob
import importlib.util
import os
import textwrap
import types

import pytest

from interposer import codecheck, mainguard, rewrite as rw

pytestmark = pytest.mark.skipif(not rw.SUPPORTED, reason="rewrite supports CPython 3.11 only")


def _codes(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def _problems(code) -> list[str]:
    return [p for c in _codes(code) for p in codecheck.problems_of(c)]


def _units(code) -> list[tuple[str, int]]:
    co = code.co_code
    return [(dis.opname[co[i]], co[i + 1]) for i in range(0, len(co), 2)]


def _with_units(code, units) -> types.CodeType:
    raw = bytes(b for name, arg in units for b in (dis.opmap[name], arg))
    extra = len(raw) // 2 - len(code.co_code) // 2
    table = code.co_linetable + codecheck.no_location_entries(extra) if extra > 0 else \
        code.co_linetable
    return code.replace(co_code=raw, co_linetable=table)


# ------------------------------------------------------------------------------------------------
# the checker rejects what would crash CPython
# ------------------------------------------------------------------------------------------------
def test_accepts_compiler_output():
    src = textwrap.dedent("""
        import os
        def gen(n):
            for i in range(n):
                try:
                    yield os.path.join("a", str(i), sep="") if i else (yield from [1])
                except (KeyError, ValueError) as e:
                    raise RuntimeError(e) from None
                finally:
                    n -= 1
        async def co(x):
            async with x as y:
                return [await z async for z in y]
        with open(__file__) as fh:
            data = {k: v for k, v in enumerate(fh) if k and v or not k}
        match data:
            case {0: str(s)} if s: pass
            case _: pass
    """)
    assert _problems(compile(src, "<t>", "exec")) == []


def test_rejects_an_instruction_between_precall_and_call():
    code = compile("zz = dict()", "<t>", "exec")
    units = _units(code)
    at = next(i for i, (name, _) in enumerate(units) if name == "PRECALL")
    broken = _with_units(code, units[:at + 2] + [("NOP", 0)] + units[at + 2:])  # after its cache
    assert any("PRECALL 0 not directly before CALL" in p for p in _problems(broken))
    with pytest.raises(codecheck.InvalidCode):
        codecheck.check(broken)


def test_rejects_kw_names_away_from_precall():
    code = compile("f(a=1)", "<t>", "exec")
    units = _units(code)
    at = next(i for i, (name, _) in enumerate(units) if name == "KW_NAMES")
    broken = _with_units(code, units[:at + 1] + [("NOP", 0)] + units[at + 1:])
    assert any("KW_NAMES not directly before PRECALL" in p for p in _problems(broken))


def test_rejects_stack_beyond_co_stacksize_and_below_zero():
    code = compile("x = (a, b, c, d)", "<t>", "exec")
    assert any("above co_stacksize" in p for p in _problems(code.replace(co_stacksize=2)))
    units = _units(code)
    at = next(i for i, (name, _) in enumerate(units) if name == "BUILD_TUPLE")
    popped = units[:at] + [("POP_TOP", 0)] * 5 + units[at:]
    assert any("below zero" in p for p in _problems(_with_units(code, popped)))


def test_rejects_bad_exception_tables():
    code = compile("try:\n    x = f()\nexcept KeyError:\n    x = 0\n", "<t>", "exec")
    entries = codecheck.parse_exception_table(code.co_exceptiontable)
    assert codecheck.parse_exception_table(
        codecheck.encode_exception_table(entries)) == entries
    deep = [e._replace(depth=e.depth + 3) for e in entries]
    problems = _problems(code.replace(co_exceptiontable=codecheck.encode_exception_table(deep)))
    assert any("below its handler" in p for p in problems)
    past = [entries[0]._replace(end=len(code.co_code) // 2 + 4)] + entries[1:]
    problems = _problems(code.replace(co_exceptiontable=codecheck.encode_exception_table(past)))
    assert any("outside the code" in p for p in problems)


def test_rejects_a_line_table_that_does_not_cover_the_code():
    code = compile("x = 1\ny = x + 2\n", "<t>", "exec")
    assert any("line table" in p for p in _problems(code.replace(co_linetable=code.co_linetable[:-2])))
    longer = code.co_linetable + codecheck.no_location_entries(3)
    assert any("covers" in p for p in _problems(code.replace(co_linetable=longer)))


# ------------------------------------------------------------------------------------------------
# the main-program guard: counted in code units, whatever the EXTENDED_ARGs
# ------------------------------------------------------------------------------------------------
def _big_module(raise_at: int) -> str:
    """A module body of well over 256 instructions: its loop's jumps need EXTENDED_ARG, and
    its ~300 constants make the guard's own LOAD_CONST need one too."""
    body = "\n".join(f"    v{k} = (i + {k}) * {k + 0.5} - len(str({k}))" for k in range(40))
    consts = "\n".join(f"c{k} = 'const{k}'" for k in range(300))
    return (f"{consts}\nlog = []\nfor i in range(4):\n{body}\n    log.append(v39)\n"
            f"    if i == {raise_at}:\n        raise ValueError(i)\n"
            f"try:\n    {{}}['k']\nexcept KeyError:\n    log.append('caught')\n")


@pytest.mark.parametrize("raise_at", [1, -1], ids=["raises", "returns"])
def test_guard_counts_code_units(raise_at):
    code = compile(_big_module(raise_at), "<big>", "exec")
    guarded = mainguard.guard(rw.rewrite(code), lambda exc: seen.append(exc))
    assert any(name == "EXTENDED_ARG" for name, _ in _units(guarded))
    assert _problems(guarded) == []
    seen: list = []
    ns: dict = {}
    if raise_at < 0:
        exec(guarded, ns)
        assert seen == [] and ns["log"][-1] == "caught" and len(ns["log"]) == 5
        return
    with pytest.raises(ValueError) as info:
        exec(guarded, ns)
    assert seen == [info.value] and len(ns["log"]) == 2
    # the re-raise adds no traceback entry: the innermost frame is the raising line
    tb = info.value.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_lineno == _big_module(raise_at).splitlines().index(
        "        raise ValueError(i)") + 1


# ------------------------------------------------------------------------------------------------
# rewrite + guard over real test suites (compile, rewrite, check; no execution)
# ------------------------------------------------------------------------------------------------
def _suite_files() -> list[str]:
    """The .py files of scikit-learn's and pandas' test folders and of scikit-learn's bundled
    examples (when installed), sorted. Rewriting all ~1,400 takes minutes, so the test takes a
    deterministic sample: every STRIDE-th file (STRATUM_CODECHECK_ALL=1 takes them all)."""
    files = []
    for pkg, patterns in (("sklearn", ("**/tests/*.py", "**/examples/**/*.py")),
                          ("pandas", ("tests/**/*.py",))):
        spec = importlib.util.find_spec(pkg)
        if spec is None or spec.origin is None:
            continue
        root = os.path.dirname(spec.origin)
        for pattern in patterns:
            files += glob.glob(os.path.join(root, pattern), recursive=True)
    return sorted(set(files))


STRIDE = 1 if os.environ.get("STRATUM_CODECHECK_ALL") else 20


@pytest.mark.parametrize("shard", range(2))
def test_rewrite_and_guard_of_library_test_suites_is_valid(shard):
    files = _suite_files()
    assert len(files) > 200
    sample = files[shard::2 * STRIDE] if STRIDE > 1 else files[shard::2]
    failures = []
    checked = 0
    for path in sample:
        with open(path, "rb") as fh:
            source = fh.read()
        try:
            code = compile(source, path, "exec", dont_inherit=True)
        except SyntaxError:
            continue
        try:
            problems = _problems(code)  # the checker accepts the compiler's own output
            new = rw.rewrite(code)
            problems += _problems(new)
            problems += codecheck.problems_of(mainguard.guard(new, print))
        except Exception as exc:
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            failures.append(f"{path}: {problems[:3]}")
        checked += 1
    assert not failures, "\n".join(failures[:20])
    assert checked >= len(sample) * 0.9


def test_validate_flag_checks_every_rewrite(monkeypatch):
    monkeypatch.setattr(rw, "VALIDATE", True)
    calls = []
    real = codecheck.check
    monkeypatch.setattr(codecheck, "check", lambda code, nested=True: (calls.append(code),
                                                                        real(code, nested)))
    new = rw.rewrite(compile("def f():\n    return dict()\nf()", "<t>", "exec"))
    assert calls and calls[0] is not None and rw.is_rewritten(new)


# ------------------------------------------------------------------------------------------------
# real code paths, rewritten and guarded, run as they do plain
# ------------------------------------------------------------------------------------------------
SAMPLE_MODULES = [
    "sklearn/utils/tests/test_arrayfuncs.py",
    "sklearn/utils/tests/test_fast_dict.py",
    "sklearn/preprocessing/tests/test_label.py",
    "sklearn/metrics/tests/test_pairwise_distances_reduction.py",
    "pandas/tests/tslibs/test_ccalendar.py",
    "pandas/tests/reshape/test_cut.py",
    "pandas/tests/series/methods/test_isin.py",
]


def _outcomes(code, path) -> dict:
    ns = {"__name__": "sample_" + os.path.basename(path)[:-3], "__file__": path}
    exec(code, ns)
    out = {}
    for name, fn in sorted(ns.items()):
        if not (name.startswith("test_") and isinstance(fn, types.FunctionType)):
            continue
        if fn.__code__.co_argcount or hasattr(fn, "pytestmark"):
            continue  # needs fixtures or parameters
        try:
            fn()
            out[name] = "ok"
        except Exception as exc:
            out[name] = type(exc).__name__
    return out


@pytest.fixture
def active_engine(tmp_path, monkeypatch):
    from interposer import dispatch
    from stratum.session import activation

    monkeypatch.setenv("STRATUM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STRATUM_ADMIT", "all")
    for var in ("STRATUM_DISABLE", "STRATUM_STRICT", "STRATUM_EXPLAIN"):
        monkeypatch.delenv(var, raising=False)
    assert activation.activate() is not None
    try:
        yield dispatch
    finally:
        activation.deactivate()


@pytest.mark.parametrize("rel", SAMPLE_MODULES)
def test_sample_code_paths_run_the_same_rewritten(rel, active_engine):
    pkg, _, rest = rel.partition("/")
    spec = importlib.util.find_spec(pkg)
    path = os.path.join(os.path.dirname(spec.origin), rest)
    if not os.path.exists(path):
        pytest.skip(f"{rel} not in this {pkg}")
    with open(path, "rb") as fh:
        code = compile(fh.read(), path, "exec", dont_inherit=True)
    plain = _outcomes(code, path)
    assert plain, f"{rel} has no test function without parameters"
    new = mainguard.guard(rw.rewrite(code), lambda exc: None)
    assert _problems(new) == []
    assert _outcomes(new, path) == plain
    assert _outcomes(new, path) == plain  # again: a warm engine may reuse results
