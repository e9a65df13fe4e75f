"""Cost of the PEP 523 entry trap while installed, and proof that script mode removes it.

    python bench/trap_cost.py [--repeat 5] [--quick] [--json out.json]

1. Call-heavy pure Python, in one process: recursive ``fib`` and a loop of small calls, with
   no frame-evaluation hook, then with the trap installed in its steady state (every code
   object already decided, so each frame costs the hook one check). Medians of ``--repeat``.
2. The differential corpus under ``STRATUM=1 python s.py``: as shipped (the trap is removed
   as soon as the main program is known) vs ``STRATUM_KEEP_TRAP=1`` (left installed for the
   whole run), alternating, medians; and whether the trap is installed after entry (a probe
   script prints ``trap.installed()`` and the hook's frame counter across 10 000 calls).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import difftest  # noqa: E402

PURE = textwrap.dedent("""\
    import time, statistics, sys
    from interposer import trap

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def add(a, b):
        return a + b

    def calls(n):
        t = 0
        for i in range(n):
            t = add(t, i)
        return t

    def bench(repeat):
        out = []
        for _ in range(repeat):
            t0 = time.perf_counter(); fib(22); calls(200000); out.append(time.perf_counter() - t0)
        return statistics.median(out)

    repeat = int(sys.argv[1])
    bench(1)
    plain = bench(repeat)
    trap.install(lambda code: None)
    bench(1)  # decide every code object once: what follows is the steady state
    f0 = trap.stats()["frames"]
    hooked = bench(repeat)
    frames = (trap.stats()["frames"] - f0) // repeat
    trap.uninstall()
    print(plain, hooked, frames)
    """)


def micro(repeat: int) -> dict:
    env = difftest.build_env("plain", None)
    out = subprocess.run([sys.executable, "-c", PURE, str(repeat)], env=env, check=True,
                         capture_output=True, text=True, cwd=tempfile.gettempdir())
    plain, hooked, frames = out.stdout.split()
    plain, hooked, frames = float(plain), float(hooked), int(frames)
    return {"plain_s": plain, "trap_s": hooked, "ratio": hooked / plain, "frames": frames,
            "ns_per_frame": (hooked - plain) / frames * 1e9}


PROBE = textwrap.dedent("""\
    from interposer import trap
    def f(x):
        return x + 1
    before = trap.stats()["frames"]
    for i in range(10000):
        f(i)
    print(trap.installed(), trap.stats()["frames"] - before)
    """)


def probe(tmp: Path) -> dict:
    (tmp / "probe.py").write_text(PROBE)
    out = {}
    for label, extra in (("script mode", {}), ("kept", {"STRATUM_KEEP_TRAP": "1"})):
        env = difftest.build_env("env", tmp / "cache")
        env.update(extra)
        p = subprocess.run([sys.executable, "probe.py"], cwd=tmp, env=env, check=True,
                           capture_output=True, text=True)
        installed, frames = p.stdout.split()
        out[label] = {"installed_after_entry": installed == "True", "hook_frames": int(frames)}
    return out


def corpus(scripts: list[Path], repeat: int, data: Path) -> dict:
    rows = []
    for script in scripts:
        work = Path(tempfile.mkdtemp(prefix="trap-"))
        try:
            difftest._copy_inputs(script, work, data, difftest.helper_modules(script.parent))
            spec = difftest.read_spec(script)
            stdin = spec.stdin or None
            times = {"shipped": [], "kept": []}
            for i in range(repeat):
                order = ("shipped", "kept") if i % 2 == 0 else ("kept", "shipped")
                for label in order:
                    env = difftest.build_env("env", work / "cache")
                    env["STRATUM_CACHE"] = "0"  # trace only: compare the same work
                    if label == "kept":
                        env["STRATUM_KEEP_TRAP"] = "1"
                    t0 = time.perf_counter()
                    subprocess.run([sys.executable, script.name, *spec.args], cwd=work, env=env,
                                   input=stdin, capture_output=True, timeout=300)
                    times[label].append(time.perf_counter() - t0)
            shipped, kept = (statistics.median(times[k]) for k in ("shipped", "kept"))
            rows.append({"script": script.stem, "shipped_s": shipped, "kept_s": kept,
                         "ratio": kept / shipped})
            print(f"  {script.stem:32s} {shipped:7.3f}s  kept {kept:7.3f}s  "
                  f"x{kept / shipped:.3f}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    ratios = [r["ratio"] for r in rows]
    return {"scripts": rows, "median_ratio": statistics.median(ratios),
            "total_ratio": sum(r["kept_s"] for r in rows) / sum(r["shipped_s"] for r in rows)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="3 repeats, 4 corpus scripts")
    ap.add_argument("--scripts", type=int, default=24, help="corpus scripts measured (0: all)")
    ap.add_argument("--json")
    ns = ap.parse_args()
    reason = difftest.env_mode_available()
    if reason:
        print(f"trap_cost: needs an installed stratum ({reason})")
        return 1
    repeat = 3 if ns.quick else ns.repeat
    tmp = Path(tempfile.mkdtemp(prefix="trap-cost-"))
    sys.path.insert(0, str(difftest.CORPUS_DIR))
    from make_data import make_data  # type: ignore

    make_data(tmp / "data")
    scripts = [s for s in difftest.corpus_scripts(filter_text="")
               if not s.stem.startswith(("fail_", "misc_keyboard", "misc_os_exit"))]
    if ns.quick:
        scripts = scripts[:4]
    elif ns.scripts:
        scripts = scripts[::max(1, len(scripts) // ns.scripts)][:ns.scripts]  # spread over families
    result = {"micro": micro(repeat), "probe": probe(tmp)}
    m = result["micro"]
    print(f"pure Python (fib(22) + 200k calls): {m['plain_s']:.3f}s -> {m['trap_s']:.3f}s "
          f"with the trap installed (x{m['ratio']:.3f}, {m['ns_per_frame']:.1f} ns per frame, "
          f"{m['frames']} frames)")
    for label, p in result["probe"].items():
        print(f"{label}: trap installed after entry: {p['installed_after_entry']}, "
              f"hook frames over 10000 calls: {p['hook_frames']}")
    print(f"corpus ({len(scripts)} scripts, STRATUM=1, trace only, {repeat} alternating runs):")
    result["corpus"] = corpus(scripts, repeat, tmp / "data")
    c = result["corpus"]
    print(f"trap kept installed vs removed after entry: median x{c['median_ratio']:.3f}, "
          f"total x{c['total_ratio']:.3f}")
    result["command"] = "python bench/trap_cost.py " + " ".join(sys.argv[1:])
    if ns.json:
        Path(ns.json).write_text(json.dumps(result, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
