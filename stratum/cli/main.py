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
                             "replay": "stratum.replay.replay"}

USAGE = """\
usage: python -m stratum [--explain] [--no-cache] script.py [args ...]
       python -m stratum [--explain] -m module [args ...]
       python -m stratum trace list [--limit N] | trace show [RUN | --last] [--json]
       python -m stratum trace merged [RUN ...] [--json] [--dot FILE|-] [--html FILE]
       python -m stratum cache stats | clear | gc
       python -m stratum doctor
       python -m stratum run [--jobs N] [--out DIR] s1.py s2.py ...   (a batch: see run --help)
       python -m stratum bench [--repeat N] [--modes cold,rerun,batch] [--json F] [--html F]
                               script.py ... | DIR
       python -m stratum replay [RUN ...] [--rebind OLD=NEW ...] [--jobs N]

Runs a pandas / numpy / scikit-learn script exactly as `python script.py` would, records
every library operation it performs, and reuses what earlier runs already computed.

options (before the script):
  --explain      after the run, print to stderr what was reused and why the rest was not
                 (same as STRATUM_EXPLAIN=1)
  --no-cache     trace only, neither reuse nor store results (same as STRATUM_CACHE=0)
  -m module      run a module as __main__, like `python -m module`
  -h, --help     show this message and exit
  --version      print stratum's version and exit

environment: STRATUM_CACHE_DIR (default ~/.cache/stratum), STRATUM_CACHE_SIZE (e.g. 2G),
STRATUM_EXPLAIN, STRATUM_DISABLE=1 (run plain), STRATUM_NATIVE=0 (no native kernels).
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = {"explain": False, "no_cache": False}
    while argv and argv[0].startswith("-") and argv[0] != "-m":
        flag = argv.pop(0)
        if flag in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return
        if flag == "--version":
            print(f"stratum {__version__}")
            return
        if flag == "--explain":
            opts["explain"] = True
        elif flag == "--no-cache":
            opts["no_cache"] = True
        else:
            sys.stderr.write(f"stratum: unknown option {flag}\n{USAGE}")
            sys.exit(2)
    if not argv:
        sys.stderr.write(USAGE)
        sys.exit(2)
    if argv[0] in (*SUBCOMMANDS, *COMMANDS) and not argv[0].endswith(".py"):
        sys.exit(_command(argv))
    from stratum.session import runner

    if argv[0] == "-m":
        if len(argv) < 2:
            sys.stderr.write("Argument expected for the -m option\n")
            sys.exit(2)
        runner.run(("module", argv[1]), argv[2:], opts)
    else:
        runner.run(("script", argv[0]), argv[1:], opts)


# ---- subcommands ------------------------------------------------------------------------------
def _command(argv: list[str]) -> int:
    """Run a subcommand; without the native module (a source checkout never built), one line."""
    import stratum

    if argv[0] != "doctor" and stratum.checkout_problem():
        sys.stderr.write(f"stratum: {stratum.checkout_problem()}\n")
        return 1
    try:
        if argv[0] in SUBCOMMANDS:
            return _subcommand(argv)
        import importlib

        return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
    except ModuleNotFoundError as exc:
        if exc.name != "stratum._native":
            raise
        sys.stderr.write(f"stratum: {stratum.checkout_problem() or exc}\n")
        return 1


def _subcommand(argv: list[str]) -> int:
    import argparse  # only subcommands parse options: a script run never imports it

    parser = argparse.ArgumentParser(prog="python -m stratum")
    sub = parser.add_subparsers(dest="cmd", required=True)
    trace = sub.add_parser("trace", help="recorded runs and their operations")
    tsub = trace.add_subparsers(dest="action", required=True)
    tlist = tsub.add_parser("list", help="recorded runs")
    tlist.add_argument("--limit", type=int, default=50)
    tshow = tsub.add_parser("show", help="the operations of one run")
    tshow.add_argument("run", nargs="?", type=int, help="run id (default: the last run)")
    tshow.add_argument("--last", action="store_true", help="the last run (default)")
    tshow.add_argument("--json", action="store_true", help="machine-readable output")
    from stratum.cli import merged as merged_cli

    merged_cli.add_parser(tsub)
    cache = sub.add_parser("cache", help="the reuse cache")
    cache.add_argument("action", choices=("stats", "clear", "gc"))
    sub.add_parser("doctor", help="what is installed and active")
    ns = parser.parse_args(argv)
    if ns.cmd == "doctor":
        from stratum.cli.doctor import doctor

        return doctor(sys.stdout)
    if ns.cmd == "trace":
        return _trace(ns)
    return _cache(ns)


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
    run = store.run(ns.run)
    if run is None:
        sys.stderr.write("stratum: no recorded run" +
                         (f" with id {ns.run}\n" if ns.run is not None else "s yet\n"))
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
        _print_nodes(run, nodes)
    return 0


def _when(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def _print_runs(runs) -> None:
    from rich.table import Table

    table = Table(title="stratum runs")
    for col in ("id", "script", "start", "seconds", "nodes", "reused", "exit"):
        table.add_column(col, justify="right" if col not in ("script", "start") else "left")
    for r in runs:
        table.add_row(str(r["id"]), r["script"], _when(r["started"]), f"{r['seconds']:.3f}",
                      str(r["nodes"]), str(r["reused"]), str(r["exit_code"]))
    _console().print(table)


def _print_nodes(run, nodes) -> None:
    from rich.table import Table

    table = Table(title=f"run {run['id']}: {run['script']} ({_when(run['started'])}, "
                        f"{run['seconds']:.3f}s, exit {run['exit_code']})")
    for col in ("#", "op", "site", "key", "seconds", "cpu s", "reused", "note"):
        table.add_column(col, justify="right" if col in ("seconds", "cpu s") else "left")
    for n in nodes:
        cpu = n.get("cpu")
        table.add_row(str(n["seq"]), n["op"], os.path.basename(n["site"]),
                      (n["key"] or "-")[:12], f"{n['seconds']:.4f}",
                      "" if cpu is None else f"{cpu:.4f}",
                      "yes" if n["reused"] else "", n["reason"] or "")
    _console().print(table)


def _cache(ns) -> int:
    import json

    from stratum.cache.cache import Cache
    from stratum.config import CacheDirError

    settings = Settings.from_env()
    try:
        cache = Cache(settings.cache_dir, settings.cache_size)
    except CacheDirError as exc:
        sys.stderr.write(f"stratum: {exc}\n")
        return 1
    try:
        if ns.action == "stats":
            stats = cache.stats()
            stats["directory"] = str(settings.cache_dir)
            for k, v in stats.items():
                print(f"{k:>14}: {v}")
        elif ns.action == "clear":
            print(f"removed {cache.clear()} entries")
        else:
            print(json.dumps(cache.gc()))
    finally:
        cache.close()
    return 0
