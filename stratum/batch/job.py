"""``python -m stratum run [--jobs N] [--out DIR] s1.py s2.py ...``: many scripts as one job.

This process plans the batch (``stratum.batch.plan``), forks the warm parent
(``stratum.batch.warm``) that imports the libraries once and forks one worker per script
(``stratum.batch.worker``), shows progress, and reports: each script's output and a summary
table, or with ``--out DIR`` the files ``DIR/<i>_<stem>.stdout`` / ``.stderr`` and
``DIR/summary.json``. It never imports a traced library itself, so nothing it does can show
up in a script's output.

What goes where:

- stdout: only the scripts' own stdout, each under a ``==> script (exit N, S.SSs) <==``
  header, in the order given, once all have run; nothing at all with ``--out``.
- stderr, while the batch runs: on a terminal a live progress bar (running scripts; erased when
  done); otherwise one plain line per script as it finishes, flushed at once, e.g.
  ``stratum run: [2/5] eda.py: exit 0, 0.52s, 3/10 operations reused`` (:class:`Lines`).
- stderr, after: the scripts' own stderr in the order given (without ``--out``), then the
  summary table.

Progress is never written while a script's output is being copied, so the two never interleave.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from stratum.config import Settings

MAX_WARM_STARTS = 8


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m stratum run",
        description="Run scripts as one batch: libraries imported once, shared work computed "
                    "once, scripts isolated from each other and run in parallel.")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="scripts run at the same time (default: the number of cores)")
    p.add_argument("--out", metavar="DIR", help="write DIR/<i>_<stem>.stdout/.stderr and "
                   "DIR/summary.json instead of printing the outputs")
    p.add_argument("--no-cache", action="store_true", help="trace only, no reuse")
    p.add_argument("--explain", action="store_true",
                   help="each script's stderr ends with what was reused and why not; the "
                        "summary table shows what each script's plan was predicted from")
    dry = p.add_mutually_exclusive_group()
    dry.add_argument("--dry-run", action="store_true",
                     help="predict scripts without history by a dry run on a data sample "
                          "(same as STRATUM_DRYRUN=1; off by default)")
    dry.add_argument("--no-dry-run", action="store_true",
                     help="no dry run, even with STRATUM_DRYRUN=1")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run the scripts as tasks of a Dask cluster (its scheduler's address, "
                        "e.g. tcp://host:8786; pip install 'stratum[dask]'; docs/distributed.md)")
    p.add_argument("scripts", nargs="+", metavar="script.py|DIR",
                   help="scripts; a directory stands for its *.py files, sorted, without the "
                        "helper modules the others import")
    return p


def main(argv: list[str]) -> int:
    ns = parser().parse_args(argv)
    if ns.cluster:  # python -m stratum run --cluster goes to stratum.distributed (cli.main)
        sys.stderr.write("stratum run: --cluster is handled by python -m stratum run\n")
        return 2
    got = prepare(ns)
    if isinstance(got, int):
        return got
    settings, flags, plans, work, out_dir, files = got
    jobs = ns.jobs if ns.jobs is not None else len(os.sched_getaffinity(0))
    me = os.getpid()
    state = _Batch(plans, files, jobs)
    # Warm parents, until one imports everything it preloads without a sound.
    exclude: set[str] = set()
    for _ in range(MAX_WARM_STARTS):
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the warm parent, then (returning a job) each worker
            os.close(read_fd)
            job = _warm(plans, files, jobs, flags, settings, write_fd, exclude)
            from stratum.batch import worker as batch_worker

            batch_worker.run(job)  # exits the process as python would; never returns
        os.close(write_fd)
        state.attach(pid, os.fdopen(read_fd, "r"))
        first = state.read_until_ready()
        if first != "noisy":
            break
        exclude |= set(state.noisy)
    state.follow()
    assert os.getpid() == me
    state.finish_leftovers(flags)
    rows = state.summary(settings)
    if ns.out:
        with open(os.path.join(out_dir, "summary.json"), "w") as fh:
            json.dump(rows, fh, indent=1)
            fh.write("\n")
    else:
        print_outputs(rows)
    shared = _shared_report(files, out_dir if ns.out else None)
    print_table(rows, state, shared, ns.explain)
    if settings.explain and shared:
        from stratum.batch import shared as batch_shared

        batch_shared.explain(shared, sys.stderr)
    log = _read(files["warm_log"])
    if log:  # stratum's own messages (or failure) in the warm parent
        sys.stderr.write("stratum: messages of the batch's warm parent:\n" +
                         log.decode("utf-8", "backslashreplace"))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["exit_code"] == 0 for r in rows) else 1


def prepare(ns):
    """The batch before anything runs: (settings, flags, plans, work dir, output dir, files),
    or an exit code for a usage error. Shared with ``run --cluster`` (stratum.distributed)."""
    for path in ns.scripts:  # a missing folder is a usage error; a missing script runs as
        # python would run it (its own error, exit 2, in its slot of the batch)
        if not os.path.exists(path) and (path.endswith(("/", os.sep)) or
                                         not path.endswith(".py")):
            sys.stderr.write(f"stratum run: no such script or directory: {path}\n")
            return 2
    from stratum.batch.folders import expand

    ns.scripts = expand(ns.scripts)
    if not ns.scripts:
        sys.stderr.write("stratum run: no scripts (the directories given hold no *.py file)\n")
        return 2
    if ns.jobs is not None and ns.jobs < 1:
        sys.stderr.write("stratum run: --jobs must be at least 1\n")
        return 2
    env = Settings.from_env()
    settings = Settings(**{**env.__dict__, "explain": env.explain or ns.explain,
                           "cache_enabled": env.cache_enabled and not ns.no_cache,
                           "dryrun": (env.dryrun or ns.dry_run) and not ns.no_dry_run})
    flags = [f for f, on in (("--explain", ns.explain), ("--no-cache", ns.no_cache)) if on]
    from stratum.batch import plan as batch_plan

    plans = [batch_plan.ScriptPlan(i, s, os.path.abspath(s),
                                   batch_plan.scan_imports(os.path.abspath(s)))
             for i, s in enumerate(ns.scripts)]
    if settings.cache_enabled and not settings.disabled:
        batch_plan.predict(plans, settings.cache_dir)
    work = tempfile.mkdtemp(prefix="stratum-batch-")
    out_dir = os.path.abspath(ns.out) if ns.out else os.path.join(work, "out")
    os.makedirs(out_dir, exist_ok=True)
    files = output_files(ns.scripts, out_dir, work)
    return settings, flags, plans, work, out_dir, files


def _warm(plans, files, jobs, flags, settings, write_fd, exclude):
    """In the forked warm parent: serve the batch; a worker comes back with its job."""
    from stratum.batch import warm as batch_warm

    try:
        job = batch_warm.serve(plans, files, jobs, flags, settings, write_fd, exclude)
    except BaseException:  # noqa: BLE001 - reported by the batch from the warm log
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(70)
    if job is None:
        os._exit(0)
    return job


def output_files(scripts, out_dir, work) -> dict:
    width = len(str(len(scripts)))
    names = [f"{i + 1:0{width}d}_{os.path.splitext(os.path.basename(s))[0]}"
             for i, s in enumerate(scripts)]
    return {
        "stdout": [os.path.join(out_dir, n + ".stdout") for n in names],
        "stderr": [os.path.join(out_dir, n + ".stderr") for n in names],
        "result": [os.path.join(work, n + ".result.json") for n in names],
        "warm_log": os.path.join(work, "warm.log"),
        "shared": os.path.join(work, "shared.json"),  # the shared part's report (batch_shared)
        "shared_log": os.path.join(work, "shared.log"),
    }


def _shared_report(files, out_dir) -> dict | None:
    """The shared part's report, copied to ``out_dir/shared.json`` (summary.json stays the
    list of runs that docs/batch.md describes)."""
    try:
        with open(files["shared"]) as fh:
            report = json.load(fh)
    except (OSError, ValueError):
        return None
    if out_dir is not None:
        shutil.copyfile(files["shared"], os.path.join(out_dir, "shared.json"))
    return report


def _read(path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


class _Batch:
    """What this process knows of the batch, from the warm parent's events."""

    def __init__(self, plans, files, jobs):
        self.plans, self.files, self.jobs = plans, files, jobs
        self.n = len(plans)
        self.exit_codes: list[int | None] = [None] * self.n
        self.seconds = [0.0] * self.n
        self.started = [None] * self.n
        self.modes = ["warm"] * self.n
        self.preloaded: list[str] = []
        self.import_seconds = 0.0
        self.noisy: list[str] = []
        self.shared: dict = {}  # the shared part's start / end events (batch_shared)
        self.dryrun: dict | None = None  # what the dry run on a sample did (batch_dryrun)
        self.t0 = time.perf_counter()
        self.pid = None
        self.events = None

    def attach(self, pid, events) -> None:
        self.pid, self.events = pid, events

    def _handle(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "ready":
            self.preloaded, self.import_seconds = ev["preloaded"], ev["seconds"]
            self.modes = ev["modes"]
        elif kind == "dryrun":
            self.dryrun = ev
            for i, basis in ev["basis"].items():
                self.plans[int(i)].basis = basis
        elif kind == "noisy":
            self.noisy = ev["names"]
        elif kind == "start":
            self.started[ev["index"]] = time.time()
        elif kind == "done":
            self.exit_codes[ev["index"]] = ev["exit_code"]
            self.seconds[ev["index"]] = ev["seconds"]
        elif kind in ("shared_start", "shared_done"):
            self.shared.update(ev)

    def read_until_ready(self) -> str | None:
        for line in self.events:
            ev = json.loads(line)
            self._handle(ev)
            if ev["event"] in ("ready", "noisy"):
                if ev["event"] == "noisy":
                    self._close()
                return ev["event"]
        self._close()
        return None

    def follow(self) -> None:
        if self.events is None or self.events.closed:
            return
        progress = _Progress(self) if sys.stderr.isatty() else Lines(self)
        try:
            for line in self.events:
                self._handle(json.loads(line))
                progress.update()
        finally:
            progress.stop()
            self._close()

    def _close(self) -> None:
        if self.events is not None and not self.events.closed:
            self.events.close()
        if self.pid is not None:
            os.waitpid(self.pid, 0)
            self.pid = None

    def finish_leftovers(self, flags) -> None:
        """Scripts the warm parent did not run (it failed): run each as python -m stratum."""
        lines = None if sys.stderr.isatty() else Lines(self)
        for i, plan in enumerate(self.plans):
            if self.exit_codes[i] is not None or self.started[i] is not None:
                continue
            t0 = time.perf_counter()
            self.started[i] = time.time()
            self.modes[i] = "exec"
            with open(self.files["stdout"][i], "wb") as out, \
                    open(self.files["stderr"][i], "wb") as err:
                proc = subprocess.run([sys.executable, "-m", "stratum", *flags, plan.script],
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            self.exit_codes[i] = proc.returncode
            self.seconds[i] = time.perf_counter() - t0
            if lines is not None:
                lines.update()

    def summary(self, settings) -> list[dict]:
        runs = self._runs(settings)
        rows = []
        for i, plan in enumerate(self.plans):
            run = runs[i] or {}
            rows.append({
                "script": plan.script,
                "stdout": self.files["stdout"][i],
                "stderr": self.files["stderr"][i],
                "exit_code": self.exit_codes[i] if self.exit_codes[i] is not None else 1,
                "seconds": round(self.seconds[i], 4),
                "reused": run.get("reused", 0),
                "executed": run.get("executed", 0),
                "run_id": run.get("id"),
                "mode": self.modes[i],
                "prediction": plan.basis,
            })
        return rows

    def _runs(self, settings) -> list[dict | None]:
        """Each script's recorded run: by the id its worker reported, else by path and time."""
        out: list[dict | None] = [None] * self.n
        try:
            from stratum.trace.store import TraceStore

            if not (settings.cache_dir / "traces.db").exists():
                return out
            store = TraceStore(settings.cache_dir)
        except Exception:
            return out
        try:
            for i, plan in enumerate(self.plans):
                try:
                    with open(self.files["result"][i]) as fh:
                        run_id = json.load(fh).get("run_id")
                except (OSError, ValueError):
                    run_id = None
                if run_id is None and self.started[i] is not None:
                    row = store.db.execute(
                        "SELECT max(id) FROM runs WHERE script=? AND started>=?",
                        (plan.path, self.started[i] - 1.0)).fetchone()
                    run_id = row[0] if row else None
                if run_id is not None:
                    out[i] = store.run(run_id)
        finally:
            store.close()
        return out


def _counts(result_file) -> tuple[int, int] | None:
    """(reused, executed) operations a worker reported, None if it wrote nothing."""
    try:
        with open(result_file) as fh:
            got = json.load(fh)
        return int(got["reused"]), int(got["executed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Lines:
    """Progress off a terminal: one plain line per script as it finishes, on stderr, flushed
    (no control codes: for a log file, a CI job or an agent reading the output)."""

    def __init__(self, batch: _Batch):
        self.batch = batch
        self.shown: set[int] = {i for i, c in enumerate(batch.exit_codes) if c is not None}

    def update(self) -> None:
        b = self.batch
        for i, code in enumerate(b.exit_codes):
            if code is None or i in self.shown:
                continue
            self.shown.add(i)
            sys.stderr.write(self.line(len(self.shown), b.n, b.plans[i].script, code,
                                       b.seconds[i], _counts(b.files["result"][i])) + "\n")
        sys.stderr.flush()

    @staticmethod
    def line(k: int, n: int, script: str, code: int, seconds: float,
             counts: tuple[int, int] | None) -> str:
        """``stratum run: [k/n] script: exit 0, 1.23s, 3/10 operations reused``."""
        text = f"stratum run: [{k}/{n}] {script}: {status_text(code)}, {seconds:.2f}s"
        if counts is not None:
            reused, executed = counts
            text += (f", {reused}/{reused + executed} operations reused" if reused + executed
                     else ", no library operations")
        return text

    def stop(self) -> None:
        sys.stderr.flush()


class _Progress:
    """A rich progress bar on stderr (only on a terminal: it is never part of any output)."""

    def __init__(self, batch: _Batch):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
            TimeElapsedColumn

        self.batch = batch
        self.progress = Progress(TextColumn("stratum run"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.description}"),
                                 console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("", total=batch.n)
        self.progress.start()
        self.update()

    def update(self) -> None:
        b = self.batch
        done = sum(c is not None for c in b.exit_codes)
        failed = sum(1 for c in b.exit_codes if c not in (None, 0))
        running = [os.path.basename(b.plans[i].script) for i in range(b.n)
                   if b.started[i] is not None and b.exit_codes[i] is None]
        text = ", ".join(running[:3]) + (" ..." if len(running) > 3 else "")
        if b.shared.get("event") == "shared_start":
            text = f"shared part ({b.shared['nodes']} nodes) " + text
        if failed:
            text = f"[red]{failed} failed[/] " + text
        self.progress.update(self.task, completed=done, description=text)

    def stop(self) -> None:
        self.progress.stop()


def status_text(code: int) -> str:
    if code >= 0:
        return f"exit {code}"
    import signal

    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def print_outputs(rows) -> None:
    """Each script's stdout (on stdout) and stderr (on stderr) under a header, in given order."""
    sys.stdout.flush()
    sys.stderr.flush()
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for k, r in enumerate(rows):
        header = f"==> {r['script']} ({status_text(r['exit_code'])}, {r['seconds']:.2f}s) <==\n"
        out.write(("\n" if k else "").encode() + header.encode(sys.stdout.encoding,
                                                             "backslashreplace"))
        out.write(_read(r["stdout"]))
        out.flush()
        err.write(_read(r["stderr"]))
        err.flush()


def print_table(rows, state: _Batch, shared: dict | None = None, explain: bool = False) -> None:
    """The summary table on stderr: the terminal's width, else 120 columns."""
    from rich.console import Console

    table = summary_table(rows, state, shared, explain)
    Console(stderr=True, width=None if sys.stderr.isatty() else 120).print(table)


def summary_table(rows, state: _Batch, shared: dict | None = None, explain: bool = False):
    """One row per script: status, seconds, operations reused / executed (a rich Table)."""
    from rich.table import Table

    from stratum.batch import shared as batch_shared

    wall = time.perf_counter() - state.t0
    caption = getattr(state, "caption", None) or (
        f"libraries imported once in {state.import_seconds:.2f}s: "
        f"{', '.join(state.preloaded) or 'none'}")
    if state.dryrun is not None:
        caption += (f"; dry run of {len(state.dryrun['basis'])} never-seen scripts on "
                     f"{state.dryrun['rows']} rows in {state.dryrun['seconds']:.2f}s")
    line = batch_shared.summary_line(shared)
    if line:
        caption += "\n" + line
    elif state.shared.get("exit_code"):
        caption += "\nshared part failed: scripts computed their shared work themselves"
    where = getattr(state, "where", None) or f"--jobs {state.jobs}"
    table = Table(title=f"stratum run: {len(rows)} scripts, {wall:.2f}s, {where}",
                  caption=caption)
    # Numbers and statuses never wrap; long paths and predictions fold (no "…" at 80 columns).
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("script", overflow="fold")
    table.add_column("status", no_wrap=True)
    for col in ("seconds", "reused", "executed"):
        table.add_column(col, justify="right", no_wrap=True)
    if explain:
        table.add_column("predicted from", overflow="fold")
    for k, r in enumerate(rows, 1):
        status = status_text(r["exit_code"])
        style = "green" if r["exit_code"] == 0 else "red"
        extra = (r["prediction"] or "nothing (order given)",) if explain else ()
        table.add_row(str(k), r["script"], f"[{style}]{status}[/]", f"{r['seconds']:.2f}",
                      str(r["reused"]), str(r["executed"]), *extra)
    return table
