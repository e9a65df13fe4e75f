"""Differential test harness: run a script plainly and under stratum, compare everything.

The contract (docs/architecture.md, "The contract") says ``python -m stratum script.py args`` behaves byte for
byte like ``python script.py args``. This module runs one corpus script both ways and captures
what a user could observe: stdout bytes, stderr bytes, exit code and the files the script wrote.

How a case runs (``run_case``):

- The work dir is rebuilt from scratch before every run: the script, every ``helpers_*.py``
  module next to it, and the data files (copied into ``data/`` with their mtimes preserved, so
  stratum's source keys stay stable between runs). Plain and stratum runs of one case use the
  SAME work dir path, one after the other, so absolute paths in tracebacks and warnings match.
- The script is invoked with a RELATIVE path and ``cwd=workdir``:
  plain ``[python, script, *args]``, stratum ``[python, -m, stratum, script, *args]``.
- Environment: a copy of ``os.environ`` without any ``STRATUM*`` variable and without the
  interpreter switches in ``DROPPED_ENV`` (``PYTHONUNBUFFERED``, ``PYTHONWARNINGS``...), plus
  ``PYTHONHASHSEED=0`` and the folder of the ``stratum`` under test on ``PYTHONPATH`` (the
  installed package, or the source tree with its built extension; both modes, so ``sys.path``
  is the same shape). Stratum runs also get ``STRATUM_CACHE_DIR=cache_dir`` and the caller's
  ``STRATUM_*`` settings (``STRATUM_STRICT``, ``STRATUM_NATIVE`` ...) except the harness's own
  ``STRATUM_DIFF_*`` switches.
- stdin: the ``# STDIN:`` lines through a pipe, or ``/dev/null`` when there are none (what a
  batch gives every script, so plain runs of both suites are the same runs).
- Files: everything under the work dir after the run except ``__pycache__`` folders and input
  files left unchanged (script, helpers, data). Modified inputs are reported too; deleted
  inputs are listed in ``Result.deleted``.
- Plain runs asked with ``reuse_plain=True`` are made once per process: a second one with the
  same command, stdin, environment, work dir path and input bytes returns the first's result
  (and puts the files it wrote back). The differential suite and the batch corpus suite run
  every script in one work dir path holding the whole corpus (``corpus_folder_files``), so
  their plain runs are shared.

Script headers (first 15 lines) give per-script inputs:
``# ARGS: --alpha 0.5 "two words"`` (shlex-split) and one ``# STDIN: text`` line per input
line (each becomes ``text\\n``). ``# TIMEOUT: 60`` overrides the per-run timeout.

``STRATUM_DIFF_SELFTEST=1`` makes the "stratum" mode run the plain command: that validates the
harness and proves the corpus itself is deterministic.

No pytest dependency: ``python tests/difftest.py [--selftest] [filter]`` runs the corpus and
prints a summary.
"""
from __future__ import annotations

import difflib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent


def stratum_home() -> Path:
    """The folder holding the ``stratum`` package this process imports (installed or source)."""
    import importlib.util

    spec = importlib.util.find_spec("stratum")
    return Path(spec.origin).resolve().parent.parent if spec and spec.origin else REPO_ROOT
CORPUS_DIR = HERE / "corpus"
HELPER_PREFIX = "helpers_"
NOT_SCRIPTS = {"make_data.py"}
DEFAULT_TIMEOUT = 120.0
HEADER_LINES = 15
# Interpreter settings that change observable behaviour (buffering, warning filters): runs use
# CPython's defaults, like an agent capturing a script's output through pipes.
DROPPED_ENV = {"PYTHONUNBUFFERED", "PYTHONWARNINGS", "PYTHONDEVMODE", "PYTHONINSPECT",
               "PYTHONSTARTUP", "PYTHONBREAKPOINT", "PYTHONSAFEPATH", "PYTHONNODEBUGRANGES"}


@dataclass
class Result:
    stdout: bytes
    stderr: bytes
    exit_code: int
    files: dict[str, bytes] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()
    seconds: float = 0.0
    mode: str = ""

    def summary(self) -> str:
        return (f"{self.mode}: exit={self.exit_code} stdout={len(self.stdout)}B "
                f"stderr={len(self.stderr)}B files={sorted(self.files)} {self.seconds:.2f}s")


@dataclass
class CaseSpec:
    args: list[str]
    stdin: bytes
    timeout: float


# ---------------------------------------------------------------------------------- corpus


def corpus_scripts(corpus_dir: Path = CORPUS_DIR, filter_text: str | None = None) -> list[Path]:
    """Every runnable corpus script, sorted by name (helpers and the data generator excluded)."""
    if filter_text is None:
        filter_text = os.environ.get("STRATUM_DIFF_FILTER") or None
    out = []
    for p in sorted(Path(corpus_dir).glob("*.py")):
        if p.name.startswith(HELPER_PREFIX) or p.name in NOT_SCRIPTS:
            continue
        if filter_text and not any(f in p.name for f in filter_text.split(",")):
            continue
        out.append(p)
    return out


def helper_modules(corpus_dir: Path) -> list[Path]:
    return sorted(Path(corpus_dir).glob(HELPER_PREFIX + "*.py"))


def corpus_folder_files(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    """What a work dir holding the whole corpus holds besides the data: every runnable script
    (whatever ``STRATUM_DIFF_FILTER`` says) and the helper modules."""
    return [*corpus_scripts(corpus_dir, filter_text=""), *helper_modules(corpus_dir)]


def read_spec(script_path: Path) -> CaseSpec:
    """Parse ``# ARGS:``, ``# STDIN:`` and ``# TIMEOUT:`` header comments (works for files that
    are not valid Python, such as the syntax-error case)."""
    args: list[str] = []
    stdin_lines: list[str] = []
    timeout = DEFAULT_TIMEOUT
    with open(script_path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh):
            if i >= HEADER_LINES:
                break
            s = line.rstrip("\n")
            if s.startswith("# ARGS:"):
                args.extend(shlex.split(s[len("# ARGS:"):]))
            elif s.startswith("# STDIN:"):
                text = s[len("# STDIN:"):]
                stdin_lines.append(text[1:] if text.startswith(" ") else text)
            elif s.startswith("# TIMEOUT:"):
                timeout = float(s[len("# TIMEOUT:"):].strip())
    stdin = "".join(t + "\n" for t in stdin_lines).encode("utf-8")
    return CaseSpec(args=args, stdin=stdin, timeout=timeout)


_DATA_CACHE: dict[str, Path] = {}


def default_data_dir() -> Path:
    """Generate the corpus data once per process into a temp dir (used when no data_dir given)."""
    key = str(CORPUS_DIR)
    if key not in _DATA_CACHE:
        sys.path.insert(0, str(CORPUS_DIR))
        try:
            from make_data import make_data  # type: ignore
        finally:
            sys.path.remove(str(CORPUS_DIR))
        d = Path(tempfile.mkdtemp(prefix="stratum-diff-data-"))
        make_data(d)
        _DATA_CACHE[key] = d
    return _DATA_CACHE[key]


# ---------------------------------------------------------------------------------- running


def selftest_enabled() -> bool:
    return os.environ.get("STRATUM_DIFF_SELFTEST", "").strip().lower() not in ("", "0", "false", "no")


def build_env(mode: str, cache_dir: str | os.PathLike | None) -> dict[str, str]:
    outer = dict(os.environ)
    env = {k: v for k, v in outer.items()
           if not k.startswith("STRATUM") and k not in DROPPED_ENV}
    env["PYTHONHASHSEED"] = "0"
    pp = [str(stratum_home())] + [p for p in outer.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(pp)
    if mode in ("stratum", "env"):
        for k, v in outer.items():
            if k.startswith("STRATUM_") and not k.startswith("STRATUM_DIFF_") \
                    and k != "STRATUM_CACHE_DIR":
                env[k] = v
        if cache_dir is not None:
            env["STRATUM_CACHE_DIR"] = os.fspath(cache_dir)
    if mode == "env" and not selftest_enabled():
        env["STRATUM"] = "1"
    return env


def env_mode_available() -> str | None:
    """Why ``STRATUM=1`` runs cannot be tested here (None when they can): the ``.pth`` start-up
    hook exists only in an installed stratum, not in a source tree."""
    home = stratum_home()
    if not (home / "stratum.pth").is_file():
        return f"stratum under test ({home}) is not installed with its stratum.pth"
    return None


def command(mode: str, script_name: str, args: list[str]) -> list[str]:
    if mode in ("plain", "env") or (mode == "stratum" and selftest_enabled()):
        return [sys.executable, script_name, *args]
    if mode == "stratum":
        return [sys.executable, "-m", "stratum", script_name, *args]
    raise ValueError(f"unknown mode {mode!r}")


def _copy_inputs(script_path: Path, workdir: Path, data_dir: Path,
                 support_files: list[Path]) -> dict[str, bytes]:
    """Recreate ``workdir`` with the inputs; return {relpath: bytes} of everything placed."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    placed: dict[str, bytes] = {}
    for src in [script_path, *support_files]:
        dst = workdir / src.name
        shutil.copy2(src, dst)
        placed[src.name] = dst.read_bytes()
    ddst = workdir / "data"
    shutil.copytree(data_dir, ddst, copy_function=shutil.copy2)
    for p in sorted(ddst.rglob("*")):
        if p.is_file():
            placed[p.relative_to(workdir).as_posix()] = p.read_bytes()
    return placed


def snapshot(workdir: Path, inputs: dict[str, bytes]) -> tuple[dict[str, bytes], tuple[str, ...]]:
    files: dict[str, bytes] = {}
    for root, dirs, names in os.walk(workdir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            p = Path(root) / name
            rel = p.relative_to(workdir).as_posix()
            if p.is_symlink():
                data = ("symlink -> " + os.readlink(p)).encode()
            elif p.is_file():
                data = p.read_bytes()
            else:
                continue
            if rel in inputs and inputs[rel] == data:
                continue
            files[rel] = data
    deleted = tuple(sorted(r for r in inputs if not (workdir / r).exists()))
    return files, deleted


_PLAIN_RUNS: dict[tuple, Result] = {}


def run_case(script_path, workdir, mode: str, cache_dir=None, args=None, stdin=None, *,
             data_dir=None, support_files=None, timeout: float | None = None,
             env_extra: dict | None = None, reuse_plain: bool = False) -> Result:
    """Run one script in ``workdir`` (rebuilt from scratch) in ``mode`` "plain" or "stratum".

    ``args`` / ``stdin`` default to the script's ``# ARGS:`` / ``# STDIN:`` headers (empty
    stdin: ``/dev/null``); ``support_files`` defaults to the ``helpers_*.py`` modules next to
    the script; ``data_dir`` defaults to freshly generated corpus data (copied into
    ``workdir/data``). ``reuse_plain``: a plain run already made by this process in the same
    setup is not made again (module docstring).
    """
    script_path = Path(script_path).resolve()
    workdir = Path(workdir)
    spec = read_spec(script_path)
    if args is None:
        args = spec.args
    if stdin is None:
        stdin = spec.stdin
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    if timeout is None:
        timeout = spec.timeout
    if support_files is None:
        support_files = helper_modules(script_path.parent)
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        wd, cd = workdir.resolve(), cache_dir.resolve()
        if cd == wd or wd in cd.parents:
            raise ValueError("cache_dir must be outside the work dir")

    inputs = _copy_inputs(script_path, workdir, data_dir, [Path(s) for s in support_files])
    cmd = command(mode, script_path.name, list(args))
    env = build_env(mode, cache_dir)
    env.update(env_extra or {})
    memo = None
    if reuse_plain and mode == "plain":
        memo = _plain_key(workdir, cmd, stdin, timeout, env, inputs)
        if memo in _PLAIN_RUNS:
            return _replayed(_PLAIN_RUNS[memo], workdir)
    feed = {"input": stdin} if stdin else {"stdin": subprocess.DEVNULL}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, **feed)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        err = (e.stderr or b"") + f"\n[difftest] TIMEOUT after {timeout}s\n".encode()
        code = -9999
    seconds = time.perf_counter() - t0
    files, deleted = snapshot(workdir, inputs)
    result = Result(stdout=out, stderr=err, exit_code=code, files=files, deleted=deleted,
                    seconds=seconds, mode=mode)
    if memo is not None and not any((workdir / rel).is_symlink() for rel in files):
        _PLAIN_RUNS[memo] = result  # (a symlink the run made could not be put back)
    return result


def _plain_key(workdir: Path, cmd, stdin: bytes, timeout, env: dict, inputs: dict) -> tuple:
    import hashlib

    h = hashlib.sha256()
    for rel in sorted(inputs):
        h.update(rel.encode() + b"\0" + hashlib.sha256(inputs[rel]).digest())
    return (str(workdir.resolve()), tuple(cmd), stdin, timeout, tuple(sorted(env.items())),
            h.hexdigest())


def _replayed(result: Result, workdir: Path) -> Result:
    """``result`` of an earlier identical plain run, the work dir left as that run left it."""
    import dataclasses

    for rel, data in result.files.items():
        p = workdir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    for rel in result.deleted:
        (workdir / rel).unlink(missing_ok=True)
    return dataclasses.replace(result, files=dict(result.files))


# ---------------------------------------------------------------------------------- comparing


def _text(b: bytes) -> list[str]:
    return b.decode("utf-8", errors="backslashreplace").splitlines(keepends=True)


def _diff_bytes(a: bytes, b: bytes, what: str, la: str, lb: str, limit: int = 80) -> list[str]:
    lines = list(difflib.unified_diff(_text(a), _text(b), f"{la}:{what}", f"{lb}:{what}", n=2))
    if not lines:  # differ only in bytes lost by decoding/line splitting
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        return [f"{what}: bytes differ (len {len(a)} vs {len(b)}), first difference at byte {i}: "
                f"{a[max(0, i - 20):i + 20]!r} vs {b[max(0, i - 20):i + 20]!r}"]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)\n"]
    return [f"{what} differs:\n" + "".join(l if l.endswith("\n") else l + "\n" for l in lines)]


def compare(plain: Result, other: Result, la: str = "plain", lb: str | None = None) -> list[str]:
    """Readable list of differences between two results; empty means byte-identical."""
    lb = lb or other.mode or "other"
    problems: list[str] = []
    if plain.exit_code != other.exit_code:
        problems.append(f"exit code: {la}={plain.exit_code} {lb}={other.exit_code}")
    if plain.stdout != other.stdout:
        problems += _diff_bytes(plain.stdout, other.stdout, "stdout", la, lb)
    if plain.stderr != other.stderr:
        problems += _diff_bytes(plain.stderr, other.stderr, "stderr", la, lb)
    for rel in sorted(set(plain.files) | set(other.files)):
        a, b = plain.files.get(rel), other.files.get(rel)
        if a is None:
            problems.append(f"file {rel}: written only by {lb}")
        elif b is None:
            problems.append(f"file {rel}: written only by {la}")
        elif a != b:
            problems += _diff_bytes(a, b, f"file {rel}", la, lb, limit=40)
    if plain.deleted != other.deleted:
        problems.append(f"deleted inputs: {la}={list(plain.deleted)} {lb}={list(other.deleted)}")
    return problems


def run_differential(script_path, workdir, cache_dir, *, data_dir=None,
                     env_mode: bool = False, support_files=None,
                     reuse_plain: bool = False) -> tuple[list[Result], list[str]]:
    """plain, stratum cold (fresh cache_dir), stratum warm (same cache_dir); return results and
    all differences against the plain run.

    With ``env_mode``, also ``STRATUM=1 python script.py`` cold and warm in a second fresh cache
    dir: its outputs must equal plain python's and its traces those of ``python -m stratum``.
    Every stratum run admits every reusable result (``STRATUM_ADMIT=all``; set
    ``STRATUM_DIFF_ADMIT=benefit`` for the default admission), so each script is checked with
    every reuse a slow machine could make, not only those this machine's timing admitted.
    ``support_files`` and ``reuse_plain`` as in ``run_case``.
    """
    admit = {"STRATUM_ADMIT": os.environ.get("STRATUM_DIFF_ADMIT", "all")}
    plain = run_case(script_path, workdir, "plain", None, data_dir=data_dir,
                     support_files=support_files, reuse_plain=reuse_plain)
    cold = run_case(script_path, workdir, "stratum", cache_dir, data_dir=data_dir,
                    support_files=support_files, env_extra=admit)
    trace_cold = last_trace(cache_dir)
    warm = run_case(script_path, workdir, "stratum", cache_dir, data_dir=data_dir,
                    support_files=support_files, env_extra=admit)
    problems = compare(plain, cold, "plain", "stratum-cold") + \
        compare(plain, warm, "plain", "stratum-warm")
    results = [plain, cold, warm]
    if env_mode:
        env_cache = Path(os.fspath(cache_dir) + "-env")
        pairs = []
        for label, expected in (("env-cold", trace_cold), ("env-warm", last_trace(cache_dir))):
            result = run_case(script_path, workdir, "env", env_cache, data_dir=data_dir,
                              support_files=support_files, env_extra=admit)
            results.append(result)
            problems += compare(plain, result, "plain", label)
            pairs.append((label, expected, last_trace(env_cache)))
        if not selftest_enabled():
            timing = _admission_dependent([t for _, *ts in pairs for t in ts])
            for label, expected, got in pairs:
                problems += compare_traces(expected, got, label, timing)
    return results, problems


_ADMISSION = "not admitted to the cache"


def _admission_dependent(traces) -> set:
    """Keys whose reuse depends on timing: the cache admits an entry only when recomputing it
    was measured to cost more than loading it, so runs may differ on these."""
    return {n["key"] for t in traces if t for n in t["nodes"]
            if n["reason"] and _ADMISSION in n["reason"]}


_TRACE_FIELDS = ("op", "site", "key", "inputs", "consts", "effect", "reused", "reason", "parent")
_QUERY_FIELDS = ("seq",) + _TRACE_FIELDS


def last_trace(cache_dir) -> dict | None:
    """The last recorded run in ``cache_dir`` and its nodes (the fields that must not vary)."""
    import json
    import sqlite3

    path = Path(cache_dir) / "traces.db"
    if not path.exists():
        return None
    db = sqlite3.connect(path)
    try:
        run = db.execute("SELECT id, script, argv, exit_code FROM runs ORDER BY id DESC LIMIT 1"
                         ).fetchone()
        if run is None:
            return None
        rows = db.execute(f"SELECT {', '.join(_QUERY_FIELDS)} FROM nodes WHERE run_id=? "
                          "ORDER BY seq", (run[0],)).fetchall()
    finally:
        db.close()
    return {"script": run[1], "argv": json.loads(run[2]), "exit_code": run[3],
            "nodes": [dict(zip(_QUERY_FIELDS, r)) for r in rows]}


def _without_timed_children(nodes: list, timing: set) -> list:
    """Drop the operations recorded inside a timing-dependent node: whether a composite or a
    memoized function was a hit (no children) or ran (children) depends on the admission of an
    earlier computation of the same key. ``parent`` becomes the parent's key (seqs shift)."""
    by_seq = {n["seq"]: n for n in nodes}
    dropped: set = set()
    out = []
    for n in nodes:
        p = by_seq.get(n["parent"])
        if p is not None and (p["seq"] in dropped or p["key"] in timing):
            dropped.add(n["seq"])
            continue
        m = {k: n[k] for k in _TRACE_FIELDS}
        m["parent"] = None if p is None else (p["op"], p["key"])
        out.append(m)
    return out


def compare_traces(expected: dict | None, got: dict | None, label: str,
                   timing: set = frozenset()) -> list[str]:
    """Differences between the trace ``python -m stratum`` recorded and ``label``'s (ignoring
    reuse outcomes of the keys in ``timing``)."""
    if got is None and expected is not None and not expected["nodes"] \
            and label.startswith("env"):
        return []  # STRATUM=1 records no run for a program that never imported a traced
        # library (it never started stratum: docs/usage.md, "Three ways in")
    if expected is None or got is None:
        return [] if expected is got else [f"{label}: trace missing "
                                           f"(python -m stratum: {expected is not None}, "
                                           f"{label}: {got is not None})"]
    problems = []
    for field in ("script", "argv", "exit_code"):
        if expected[field] != got[field]:
            problems.append(f"{label}: trace {field} {got[field]!r} != {expected[field]!r}")
    a = _without_timed_children(expected["nodes"], timing)
    b = _without_timed_children(got["nodes"], timing)
    if len(a) != len(b):
        problems.append(f"{label}: {len(b)} trace nodes != {len(a)} under python -m stratum")
    # Keys of values no traced node produced are content hashes of what the script built
    # itself, and a value holding timings (``cv_results_``) differs from run to run: such an
    # input key may differ, and then so does the key of the node using it (a renaming, which
    # later nodes must follow consistently).
    produced = {n["key"] for n in a}
    renamed: dict = {}
    for i, (x, y) in enumerate(zip(a, b)):
        timed = x["key"] in timing or y["key"] in timing
        fields = _TRACE_FIELDS[:-3] + ("parent",) if timed else _TRACE_FIELDS
        diff = {k: (x[k], y[k]) for k in fields if x[k] != y[k]}
        px, py = x["parent"], y["parent"]
        if "parent" in diff and px and py and px[0] == py[0] and renamed.get(px[1]) == py[1]:
            del diff["parent"]
        if diff and set(diff) <= {"key", "inputs"} and _renaming(x, y, produced, renamed):
            renamed[x["key"]] = y["key"]
            diff = {}
        if diff:
            problems.append(f"{label}: trace node {i} differs (python -m stratum, {label}): {diff}")
            break
    return problems


def _renaming(x: dict, y: dict, produced: set, renamed: dict) -> bool:
    import json

    ia, ib = json.loads(x["inputs"]), json.loads(y["inputs"])
    if len(ia) != len(ib):
        return False
    return all(p == q or renamed.get(p) == q or p not in produced for p, q in zip(ia, ib))


def main(argv: list[str]) -> int:
    if "--selftest" in argv:
        os.environ["STRATUM_DIFF_SELFTEST"] = "1"
        argv = [a for a in argv if a != "--selftest"]
    scripts = corpus_scripts(filter_text=argv[0] if argv else None)
    base = Path(tempfile.mkdtemp(prefix="stratum-diff-"))
    data = base / "data-src"
    sys.path.insert(0, str(CORPUS_DIR))
    from make_data import make_data  # type: ignore
    make_data(data)
    failed = 0
    t_all = time.perf_counter()
    for s in scripts:
        results, problems = run_differential(s, base / "w" / s.stem, base / "cache" / s.stem,
                                             data_dir=data)
        status = "OK  " if not problems else "FAIL"
        failed += bool(problems)
        times = " ".join(f"{r.seconds:.2f}" for r in results)
        print(f"{status} {s.name:40s} exit={results[0].exit_code:<3d} {times}", flush=True)
        for p in problems:
            print("   " + p.replace("\n", "\n   "))
    print(f"{len(scripts) - failed}/{len(scripts)} identical in {time.perf_counter() - t_all:.1f}s")
    shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# ---- batch mode (``python -m stratum run``) ----------------------------------------------------
def plain_result(workdir, script: str) -> tuple[int, bytes, bytes]:
    """``python script`` in ``workdir``, stdin closed: (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, script], cwd=workdir, env=build_env("plain", None),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def run_batch(workdir, cache, *args, env: dict | None = None,
              timeout: float = 600) -> tuple[int, bytes, bytes]:
    """``python -m stratum run ARGS`` in ``workdir`` with ``cache``; ``env`` overrides."""
    full = build_env("stratum", cache)
    full.update(env or {})
    p = subprocess.run([sys.executable, "-m", "stratum", "run", *args], cwd=workdir, env=full,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def describe_differences(scripts, one, two, la: str = "--jobs 1", lb: str = "--jobs 2") -> str:
    """Which script, which stream, what bytes: ``one`` and ``two`` hold one (exit code, stdout,
    stderr) per script of ``scripts``; empty when they are equal."""
    lines = []
    for script, a, b in zip(scripts, one, two):
        for what, x, y in zip(("exit code", "stdout", "stderr"), a, b):
            if x == y:
                continue
            lines.append(f"{script}: {what} differs ({la} vs {lb})")
            if isinstance(x, bytes):
                diff = list(difflib.unified_diff(
                    x.decode("utf-8", "backslashreplace").splitlines(),
                    y.decode("utf-8", "backslashreplace").splitlines(), la, lb, lineterm=""))
                if not diff:  # lost by decoding / line splitting: show the first byte apart
                    diff = _diff_bytes(x, y, what, la, lb)
                lines.extend(diff)
            else:
                lines.append(f"  {x!r} != {y!r}")
    return "\n".join(lines)

