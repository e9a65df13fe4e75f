"""``python -m stratum``: run a script under stratum, or inspect traces, the cache and the install.

The script form must leave the script's arguments untouched, so options are only read
before the script path; a first word that names a subcommand (and is not a ``.py`` path)
selects that subcommand instead.
"""
from __future__ import annotations

import os
import sys

from stratum import __version__
from stratum.config import Settings

SUBCOMMANDS = ("trace", "doctor", "cache")
# Subcommands with a module of their own: name -> module exposing ``main(argv) -> int``.
COMMANDS: dict[str, str] = {"run": "stratum.batch.job", "bench": "stratum.cli.bench",
                             "replay": "stratum.replay.replay", "demo": "stratum.cli.demo",
                             "serve": "stratum.server.server", "submit": "stratum.server.client"}

USAGE = """\
usage: python -m stratum [--explain] [--no-cache] script.py [args ...]
       python -m stratum [--explain] -m module [args ...] | -c code [args ...]
       python -m stratum trace list [--limit N] | trace show [RUN | --last] [--all] [--json]
       python -m stratum trace merged [RUN ...] [--json] [--dot FILE|-] [--html FILE]
       python -m stratum trace prune [--keep N] [--older-than DAYS] [--script PATH] | clear
       python -m stratum cache stats | clear | gc
       python -m stratum doctor
       python -m stratum run [--jobs N] [--out DIR] s1.py s2.py ...   (a batch: see run --help)
       python -m stratum bench [--repeat N] [--modes cold,rerun,batch] [--json F] [--html F]
                               script.py ... | DIR
       python -m stratum replay [RUN ...] [--rebind OLD=NEW ...] [--jobs N]
       python -m stratum demo [--keep DIR] [--rows N]   (what stratum does, on a built-in example)
       python -m stratum serve [--foreground | --status | --stop]   (a warm server: serve --help)
       python -m stratum submit [--timeout S] [--memory SIZE] script.py [args] | -c CODE [args]

Runs a pandas / numpy / scikit-learn script exactly as `python script.py` would, records
every library operation it performs, and reuses what earlier runs already computed.

options (before the script):
  --explain      after the run, print to stderr what was reused and why the rest was not
                 (same as STRATUM_EXPLAIN=1)
  --no-cache     trace only, neither reuse nor store results (same as STRATUM_CACHE=0)
  -m module      run a module as __main__, like `python -m module`
  -c code        run a program passed as a string, like `python -c code`
  -h, --help     show this message and exit
  --version      print stratum's version and exit

environment: STRATUM_CACHE_DIR (now {cache_dir}), STRATUM_CACHE_SIZE (e.g. 2G),
STRATUM_EXPLAIN, STRATUM_DISABLE=1 (run plain), STRATUM_NATIVE=0 (no native kernels).
"""


def _write_out(text: str) -> None:
    """Help and version text: a closed pipe ends quietly, as for the commands."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        from stratum.cli.output import stdout_gone

        stdout_gone()


def _usage() -> str:
    return USAGE.format(cache_dir=_cache_dir_text())


def _cache_dir_text() -> str:
    """Where the cache is: the actual folder, and what chose it."""
    from stratum.config import default_cache_dir

    where = default_cache_dir()
    if os.environ.get("STRATUM_CACHE_DIR"):
        return f"{where}, from STRATUM_CACHE_DIR"
    if os.environ.get("XDG_CACHE_HOME"):
        return f"{where}, the default under XDG_CACHE_HOME"
    return f"{where}, the default"


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = {"explain": False, "no_cache": False}
    while argv and argv[0].startswith("-") and argv[0] not in ("-m", "-c"):
        flag = argv.pop(0)
        if flag in ("-h", "--help"):
            _write_out(_usage())
            return
        if flag == "--version":
            _write_out(f"stratum {__version__}\n")
            return
        if flag == "--explain":
            opts["explain"] = True
        elif flag == "--no-cache":
            opts["no_cache"] = True
        else:
            sys.stderr.write(f"stratum: unknown option {flag}\n{_usage()}")
            sys.exit(2)
    if not argv:
        sys.stderr.write(_usage())
        sys.exit(2)
    if argv[0] in (*SUBCOMMANDS, *COMMANDS) and not argv[0].endswith(".py"):
        sys.exit(_command(argv))
    from stratum.session import runner

    if argv[0] in ("-m", "-c") and len(argv) < 2:
        sys.stderr.write(f"Argument expected for the {argv[0]} option\n")
        sys.exit(2)
    kind = {"-m": "module", "-c": "command"}.get(argv[0], "script")
    target, args = (kind, argv[0]) if kind == "script" else (kind, argv[1]), \
        argv[1 if kind == "script" else 2:]
    from stratum.session import handoff

    if not Settings.from_env().disabled:  # to a running server (returns: run it here)
        handoff.run_here(list(target), args, opts, path0=False)
    runner.run(target, args, opts)


# ---- subcommands ------------------------------------------------------------------------------
def _command(argv: list[str]) -> int:
    """Run a subcommand; without the native module (a source checkout never built), one line."""
    import stratum

    if argv[0] != "doctor" and stratum.checkout_problem():
        sys.stderr.write(f"stratum: {stratum.checkout_problem()}\n")
        return 1
    try:
        if argv[0] in SUBCOMMANDS:
            code = _subcommand(argv)
        elif argv[0] == "run" and any(a == "--cluster" or a.startswith("--cluster=")
                                      for a in argv[1:]):
            from stratum.distributed import client  # a batch on a Dask cluster

            code = client.main(argv[1:])
        else:
            import importlib

            code = importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
        sys.stdout.flush()  # a closed pipe shows here rather than at exit
        return code
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly with status 0, wherever it
        # happened (a plain write, the final flush, or a rich table: see ``output.console``).
        from stratum.cli.output import stdout_gone

        stdout_gone()
        return 0
    except ModuleNotFoundError as exc:
        if exc.name != "stratum._native":
            raise
        sys.stderr.write(f"stratum: {stratum.checkout_problem() or exc}\n")
        return 1


def _subcommand(argv: list[str]) -> int:
    import argparse  # only subcommands parse options: a script run never imports it

    parser = argparse.ArgumentParser(
        prog="python -m stratum", description="Inspect stratum's traces, cache and install.",
        epilog=f"cache directory: {_cache_dir_text()}",
        formatter_class=argparse.RawDescriptionHelpFormatter)  # a path is not wrapped
    sub = parser.add_subparsers(dest="cmd", required=True)

    def add(parent, name: str, text: str, epilog: str | None = None):
        import textwrap

        description = textwrap.fill(text[:1].upper() + text[1:] + ".", 78)
        return parent.add_parser(name, help=text, description=description,
                                 epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)

    where = f"traces.db in {_cache_dir_text()}"
    trace = add(sub, "trace", "recorded runs and their operations", where)
    tsub = trace.add_subparsers(dest="action", required=True)
    tlist = add(tsub, "list", "the recorded runs, oldest first", where)
    tlist.add_argument("--limit", type=int, default=50, help="the newest N runs (default 50)")
    tshow = add(tsub, "show", "the operations of one run: what each cost, what was reused and "
                "the time that saved", where)
    tshow.add_argument("run", nargs="?", type=int, help="run id (default: the last run)")
    tshow.add_argument("--last", action="store_true", help="the last run (default)")
    tshow.add_argument("--all", action="store_true",
                       help="also the cheap operations (not worth caching), hidden by default")
    tshow.add_argument("--json", action="store_true", help="machine-readable output (every node)")
    from stratum.cli import merged as merged_cli

    merged_cli.add_parser(tsub)
    prune = add(tsub, "prune", "remove recorded runs: those beyond the newest N, those older "
                "than DAYS, or a script's (the options combine)", where)
    prune.add_argument("--keep", type=int, metavar="N", help="keep the newest N runs (of "
                       "--script's runs if given)")
    prune.add_argument("--older-than", type=float, metavar="DAYS",
                       help="remove the runs started more than DAYS days ago")
    prune.add_argument("--script", metavar="PATH", help="only the runs of this script")
    add(tsub, "clear", "remove every recorded run (the cache of results is kept)", where)
    cache = add(sub, "cache", "the cache of reusable results",
                f"cache directory: {_cache_dir_text()}")
    csub = cache.add_subparsers(dest="action", required=True)
    stats = add(csub, "stats", "entries, size and age of the cache")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    add(csub, "clear", "remove every cached result (the traces are kept)")
    gc = add(csub, "gc", "verify every entry, drop the corrupt ones, stale temporary files, "
             "unused locks and orphan index rows, then evict down to the size budget")
    gc.add_argument("--json", action="store_true", help="machine-readable output")
    add(sub, "doctor", "what is installed and what would be active in a run")
    ns = parser.parse_args(argv)
    if ns.cmd == "doctor":
        from stratum.cli.doctor import doctor

        return doctor(sys.stdout)
    if ns.cmd == "trace":
        if ns.action == "prune" and ns.keep is None and ns.older_than is None \
                and ns.script is None:
            return _usage_error("trace prune: say which runs: --keep N, --older-than DAYS "
                                "and/or --script PATH (trace clear removes them all)")
        if ns.action == "prune" and ((ns.keep is not None and ns.keep < 0) or
                                     (ns.older_than is not None and ns.older_than < 0)):
            return _usage_error("trace prune: --keep and --older-than cannot be negative")
        return _trace(ns)
    return _cache(ns)


def _usage_error(text: str) -> int:
    """A usage error: one line on stderr, exit 2 (as argparse and python do)."""
    sys.stderr.write(f"stratum: {text}\n")
    return 2


def _open_store():
    from stratum.config import CacheDirError, prepare_cache_dir
    from stratum.trace.store import TraceStore

    settings = Settings.from_env()
    try:
        prepare_cache_dir(settings.cache_dir)
    except CacheDirError as exc:
        sys.stderr.write(f"stratum: {exc}\n")
        return None
    return TraceStore(settings.cache_dir)


def _trace(ns) -> int:
    """A trace command; a damaged or unreadable store is one ``stratum:`` line, exit 1."""
    import sqlite3

    from stratum.trace import store as trace_store

    store = None
    try:
        store = _open_store()
        if store is None:
            return 1
        return _trace_command(ns, store)
    except (sqlite3.DatabaseError, trace_store.Damaged) as exc:
        damaged = trace_store.damage(exc, store)
        if store is not None:
            store.close()
            store = None
        if damaged is None:
            sys.stderr.write(f"stratum: cannot read the trace store ({exc})\n")
            return 1
        try:
            aside = trace_store.set_aside(damaged)
        except OSError as err:
            sys.stderr.write(f"stratum: {damaged}; cannot set it aside ({err})\n")
            return 1
        what = f"set it aside as {aside.name}" if aside is not None else \
            "another process has set it aside"
        sys.stderr.write(f"stratum: {damaged}; {what}, the next run starts a new one\n")
        return 1
    finally:
        if store is not None:
            store.close()


def _trace_command(ns, store) -> int:
    import json

    if ns.action == "list":
        _print_runs(store.runs(ns.limit))
        return 0
    if ns.action == "merged":
        from stratum.cli import merged as merged_cli

        return merged_cli.run(ns, store)
    if ns.action in ("prune", "clear"):
        return _prune(ns, store)
    run = store.run(ns.run)
    if run is None:
        if ns.run is not None:
            return _usage_error(f"no recorded run with id {ns.run}")
        sys.stderr.write("stratum: no recorded runs yet\n")
        return 1
    nodes = store.nodes(run["id"])
    if ns.json:
        from stratum.trace.store import JSON_NODE_FIELDS as keep

        run_out = dict(run)
        run_out["argv"] = json.loads(run_out["argv"])
        json.dump({"run": run_out, "nodes": [{k: n[k] for k in keep} for n in nodes]},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _print_nodes(run, nodes, store, ns.all)
    return 0


def _prune(ns, store) -> int:
    import time

    if ns.action == "clear":
        ids = store.select_runs()
    else:
        scripts = None
        if ns.script is not None:
            scripts = sorted({ns.script, os.path.abspath(ns.script),
                              os.path.realpath(ns.script)})
        before = None if ns.older_than is None else time.time() - ns.older_than * 86400
        ids = store.select_runs(keep=ns.keep, before=before, scripts=scripts)
    removed = store.delete_runs(ids)
    left = store.db.execute("SELECT count(*) FROM runs").fetchone()[0]
    print(f"removed {removed} run{'s' if removed != 1 else ''} ({left} left)")
    return 0


def _when(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _console():
    from stratum.cli.output import console

    return console()


def _print_runs(runs) -> None:
    from rich.table import Table

    table = Table(title="stratum runs")
    for col in ("id", "script", "start", "seconds", "nodes", "reused", "exit"):
        table.add_column(col, justify="right" if col not in ("script", "start") else "left")
    for r in runs:
        table.add_row(str(r["id"]), r["script"], _when(r["started"]), f"{r['seconds']:.3f}",
                      str(r["nodes"]), str(r["reused"]), str(r["exit_code"]))
    _console().print(table)


CHEAP = "cheap operation (not worth caching)"  # the engine's reason (stratum/engine/engine.py)


def _saved(store, nodes) -> dict[int, float]:
    """Time each reused node saved (seq -> seconds): what executing it cost on average, from
    the merged graph, less what reusing it took here. Nodes never executed have no entry."""
    keys = sorted({n["key"] for n in nodes if n["reused"] and n["key"]})
    mean: dict[str, float] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        for key, seconds, executions in store.db.execute(
                "SELECT id, seconds, executions FROM merged_nodes WHERE executions > 0 AND "
                f"id IN ({','.join('?' * len(chunk))})", chunk):
            mean[key] = seconds / executions
    return {n["seq"]: max(0.0, mean[n["key"]] - (n["seconds"] or 0.0))
            for n in nodes if n["reused"] and n["key"] in mean}


def _print_nodes(run, nodes, store=None, show_all: bool = False) -> None:
    from rich.table import Table

    saved = _saved(store, nodes) if store is not None else {}
    table = Table(title=f"run {run['id']}: {run['script']} ({_when(run['started'])}, "
                        f"{run['seconds']:.3f}s, exit {run['exit_code']})")
    for col in ("#", "op", "site", "key", "seconds", "cpu s", "reused", "note"):
        table.add_column(col, justify="right" if col in ("seconds", "cpu s") else "left")
    hidden = 0
    for n in nodes:
        if not show_all and n["reason"] == CHEAP:
            hidden += 1
            continue
        cpu = n.get("cpu")
        if n["reused"]:  # its seconds are the time reusing took; what it saved matters more
            seconds, cpu_text = "", ""
            reused = f"saved {saved[n['seq']]:.4f}s" if n["seq"] in saved else "yes"
        else:
            seconds, cpu_text = f"{n['seconds']:.4f}", "" if cpu is None else f"{cpu:.4f}"
            reused = ""
        table.add_row(str(n["seq"]), n["op"], os.path.basename(n["site"]),
                      (n["key"] or "-")[:12], seconds, cpu_text, reused, n["reason"] or "")
    console = _console()
    console.print(table)
    reused = sum(1 for n in nodes if n["reused"])
    notes = [f"{len(nodes)} operations, {reused} reused"]
    if saved:
        notes.append(f"about {sum(saved.values()):.3f}s saved")
    if hidden:
        notes.append(f"{hidden} cheap operation{'s' if hidden != 1 else ''} (not worth "
                     "caching) hidden; --all shows them")
    console.print("; ".join(notes), highlight=False)


def _cache(ns) -> int:
    import json

    from stratum.cache.cache import Cache
    from stratum.config import CacheDirError

    settings = Settings.from_env()
    try:
        cache = Cache(settings.cache_dir, settings.cache_size,
                      shared=settings.cache_shared if ns.action == "gc" else None,
                      shared_budget=settings.cache_shared_size)
    except CacheDirError as exc:
        sys.stderr.write(f"stratum: {exc}\n")
        return 1
    try:
        if ns.action == "stats":
            stats = _disk_stats(cache.stats())
            stats["directory"] = str(settings.cache_dir)
            if ns.json:
                print(json.dumps(stats, indent=1))
            else:
                _print_stats(stats)
        elif ns.action == "clear":
            print(f"removed {cache.clear()} entries")
        else:
            report = cache.gc()
            print(json.dumps(report) if ns.json else _gc_text(report))
    finally:
        cache.close()
    return 0


# What Cache.stats() counts in this process only (always 0 in a fresh one): not shown.
PER_PROCESS = ("memory_bytes", "hits", "memory_hits", "misses", "bytes_loaded", "stores")


def _disk_stats(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k not in PER_PROCESS}


def size_text(n: int | None) -> str:
    """Bytes in binary units: ``512 B``, ``3.2 KiB``, ``1.5 GiB``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


def _print_stats(stats: dict) -> None:
    from stratum.config import env_size

    budget = stats["budget"]
    source = "default" if env_size("STRATUM_CACHE_SIZE") is None else "STRATUM_CACHE_SIZE"
    used = f" ({100 * stats['bytes'] / budget:.0f}% of the budget)" if budget else ""
    rows = [("directory", stats["directory"]),
            ("entries", str(stats["entries"])),
            ("size", size_text(stats["bytes"]) + used),
            ("budget", f"{size_text(budget)} ({source})"),
            ("memory budget", f"{size_text(stats['memory_budget'])} per process"),
            ("oldest", _when(stats["oldest"]) if stats["oldest"] else "-"),
            ("newest", _when(stats["newest"]) if stats["newest"] else "-")]
    for k, v in rows:
        print(f"{k:>14}: {v}")


def _gc_text(report: dict) -> str:
    removed = [(report["corrupt"], "corrupt entry", "corrupt entries"),
               (report["evicted"], "entry evicted to fit the budget",
                "entries evicted to fit the budget"),
               (report["temp_files"], "stale temporary file", "stale temporary files"),
               (report["locks"], "unused lock", "unused locks"),
               (report["orphan_rows"], "orphan index row", "orphan index rows")]
    parts = [f"{n} {one if n == 1 else many}" for n, one, many in removed if n]
    text = "cache gc: removed " + (", ".join(parts) if parts else "nothing")
    if report["indexed"]:
        text += f"; indexed {report['indexed']} unindexed entr" + \
            ("y" if report["indexed"] == 1 else "ies")
    shared = report.get("shared")
    if shared is not None:
        if "error" in shared:
            text += f"\nshared tier: unusable ({shared['error']})"
        else:
            text += (f"\nshared tier: removed {shared['removed']} entries "
                     f"({size_text(shared['freed'])}) to fit its budget and "
                     f"{shared['temp_files']} stale temporary files; it holds "
                     f"{shared['entries']} entries, {size_text(shared['bytes'])}")
    return text
