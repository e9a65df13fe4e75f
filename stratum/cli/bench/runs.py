"""One timed run of a script, plain or under stratum, and what its trace says.

Runs start from the caller's current directory with the caller's environment, stdin closed
(``/dev/null``) for both sides, so ``python s.py`` and ``python -m stratum s.py`` see the same
world; the only difference between the two environments is ``STRATUM_CACHE_DIR``.
"""
from __future__ import annotations

import difflib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Outcome:
    """What a run showed the user (compared byte for byte) and how long it took."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    seconds: float

    def shown(self) -> tuple[int, bytes, bytes]:
        return self.exit_code, self.stdout, self.stderr


def plain_cmd(script: str) -> list[str]:
    return [sys.executable, script]


def stratum_cmd(script: str) -> list[str]:
    return [sys.executable, "-m", "stratum", script]


def env_for(cache_dir: Path | None) -> dict[str, str]:
    """The caller's environment; with a cache dir, the one stratum must use."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["STRATUM_CACHE_DIR"] = os.fspath(cache_dir)
    return env


def run(cmd: list[str], cwd: Path, cache_dir: Path | None = None) -> Outcome:
    """Run ``cmd`` to completion; wall seconds include interpreter start and exit."""
    env = env_for(cache_dir)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0)


def outcome_from_files(exit_code: int, stdout: Path, stderr: Path, seconds: float) -> Outcome:
    return Outcome(exit_code, stdout.read_bytes(), stderr.read_bytes(), seconds)


def differences(plain: Outcome, other: Outcome, other_label: str = "stratum",
                limit: int = 60) -> str:
    """A unified diff of everything the user sees that differs; "" when identical."""
    out: list[str] = []
    if plain.exit_code != other.exit_code:
        out.append(f"exit code: plain {plain.exit_code}, {other_label} {other.exit_code}")
    for what in ("stdout", "stderr"):
        a, b = getattr(plain, what), getattr(other, what)
        if a == b:
            continue
        la = a.decode("utf-8", "backslashreplace").splitlines(keepends=True)
        lb = b.decode("utf-8", "backslashreplace").splitlines(keepends=True)
        lines = list(difflib.unified_diff(la, lb, f"plain {what}", f"{other_label} {what}"))
        if not lines:  # same text, different bytes (e.g. line endings or invalid utf-8)
            lines = [f"--- plain {what}\n", f"+++ {other_label} {what}\n",
                     f"-{a[:200]!r}\n", f"+{b[:200]!r}\n"]
        if len(lines) > limit:
            lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)\n"]
        out.append("".join(line if line.endswith("\n") else line + "\n" for line in lines)
                   .rstrip("\n"))
    return "\n".join(out)


def trace_of(cache_dir: Path, script: str, cwd: Path) -> dict | None:
    """The latest recorded run of ``script`` in ``cache_dir``: node counts and where time went.

    Seconds of nested operations are inside their parent's, so only top-level nodes are summed.
    None when stratum recorded nothing (e.g. the script never compiled).
    """
    if not (Path(cache_dir) / "traces.db").exists():
        return None
    from stratum.trace.store import TraceStore

    target = os.path.abspath(os.path.join(cwd, script))
    store = TraceStore(Path(cache_dir))
    try:
        runs = [r for r in store.runs(limit=1_000_000) if r["script"] == target]
        if not runs:
            return None
        run_row = runs[-1]
        nodes = store.nodes(run_row["id"])
    finally:
        store.close()
    top = [n for n in nodes if n["parent"] is None]
    return {
        "run_id": run_row["id"], "nodes": len(nodes), "reused": sum(n["reused"] for n in nodes),
        "executed": sum(not n["reused"] for n in nodes), "run_s": run_row["seconds"],
        "executed_s": sum(n["seconds"] for n in top if not n["reused"]),
        "restored_s": sum(n["seconds"] for n in top if n["reused"]),
        "saved_s": run_row["saved"], "exit_code": run_row["exit_code"],
        "reused_ops": sorted({n["op"].rsplit(".", 1)[-1] for n in nodes if n["reused"]}),
    }


def breakdown(wall: float, trace: dict | None) -> dict | None:
    """Where a stratum run's wall time went, from its trace; parts add up to ``wall``."""
    if trace is None:
        return None
    run_s = min(trace["run_s"], wall)
    executed = min(trace["executed_s"], run_s)
    restored = min(trace["restored_s"], run_s - executed)
    return {"outside the script (interpreter start/exit, trace write)": wall - run_s,
            "library operations executed": executed,
            "library operations restored from the cache": restored,
            "rest of the script (imports, Python code, stratum bookkeeping)":
                run_s - executed - restored}
