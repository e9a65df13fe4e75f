"""A dry run on a data sample: what a never-seen script of a batch will compute, before it runs.

With no past run of a script (nor of a similar one) the batch plan knows nothing of its nodes.
The warm parent then forks, per such script (at most ``jobs`` at once), a child that runs it
under stratum with:

- its data sources sampled: the pandas / numpy readers keep the first ``STRATUM_DRYRUN_ROWS``
  rows (data the script generates itself is not sampled), and their keys carry a sample mark,
  so scripts that read the same file the same way get the same sample keys, never a real one;
- side effects suppressed: stdin / stdout / stderr are /dev/null, and an audit hook (PEP 578)
  stops the child at the first file write, create, delete or rename, subprocess, socket or
  database connection (a library's file sink, which may write from C, stops it too); no
  bytecode is written;
- the real cache untouched (trace only) and nothing recorded in the trace store;
- a time budget (``STRATUM_DRYRUN_SECONDS``), after which it is killed.

The child streams each top-level node (position, sample key, seconds) to a file as it
completes, so a stopped or killed child still gives a prediction of its prefix. Costs are
scaled to the full data by the ratio of rows (estimated from the file size for text readers);
a killed child's script gets one more node of its own for the unfinished rest (at least the
budget), so a script too slow to dry-run is predicted long and starts early, not last.

Sample keys differ from the keys of the real runs (other data), so they are matched by
position: a batch worker of a dry-run-predicted script appends the key of each top-level node
it completes to its progress file (``report_progress``), and the sample node at position j of
script s counts as done once s's real run has passed position j, or ended. ``DryRun.cached``
gives the scheduler that view (``batch_plan.Scheduler``'s ``cached``); keys of plans predicted
from history are checked in the cache as before.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time

from stratum.batch import plan as batch_plan

#: Readers that take a row limit: the keyword that sets it.
ROW_LIMIT = {"pandas.read_csv": "nrows", "pandas.read_table": "nrows",
             "pandas.read_fwf": "nrows", "pandas.read_excel": "nrows",
             "numpy.loadtxt": "max_rows", "numpy.genfromtxt": "max_rows"}
#: Readers that load everything: their result is cut to the first rows.
CUT = {"pandas.read_parquet", "pandas.read_feather", "pandas.read_json", "pandas.read_orc",
       "numpy.load"}
#: Sinks a dry run may pass (their output goes to /dev/null); any other sink stops it.
HARMLESS_SINKS = {"builtins.print", "pandas.DataFrame.info", "pandas.Series.info"}
#: Audit events that stop a dry run (besides opening a file for writing).
REFUSED = frozenset({
    "os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.symlink", "os.link", "os.truncate",
    "os.chmod", "os.chown", "os.chflags", "os.utime", "os.mkfifo", "os.mknod",
    "shutil.rmtree", "shutil.move", "shutil.copyfile", "shutil.copytree", "shutil.chown",
    "shutil.make_archive", "shutil.unpack_archive",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "os.startfile",
    "socket.__new__", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
    "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request", "http.client.connect",
    "ftplib.connect", "smtplib.connect", "imaplib.open", "poplib.connect", "nntplib.connect",
    "telnetlib.Telnet.open", "sqlite3.connect", "dbm.open", "webbrowser.open",
})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def wanted(plans, modes, jobs: int, settings) -> list:
    """The plans a dry run would predict: never seen, run warm, and at least two of them (a
    sample key is only ever matched by another dry run), with parallel slots to schedule."""
    if not settings.dryrun or not settings.cache_enabled or settings.disabled or jobs < 2:
        return []
    todo = [p for p in plans if not p.nodes and modes[p.index] == "warm"]
    return todo if len(todo) >= 2 else []


def progress_path(result_path: str) -> str:
    """A worker's progress file, next to its result file."""
    return result_path.removesuffix(".result.json") + ".progress"


# ---- the warm parent ----------------------------------------------------------------------
def run(plans, modes, jobs: int, settings, files, close_fds=()) -> "DryRun | None":
    """Dry-run the plans that need it; fill their predicted nodes and basis. Only an
    interrupt gets through: on any failure of its own the batch runs without a prediction."""
    todo = wanted(plans, modes, jobs, settings)
    if not todo:
        return None
    t0 = time.perf_counter()
    work = os.path.dirname(files["warm_log"])
    streams = {p.index: os.path.join(work, f"dryrun-{p.index}.jsonl") for p in todo}
    killed: set[int] = set()
    pending = list(todo)
    running: dict[int, tuple] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                plan = pending.pop(0)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(plan, streams[plan.index], settings, close_fds)  # never returns
                running[pid] = (plan, time.monotonic() + settings.dryrun_seconds)
            pid, _status = os.waitpid(-1, os.WNOHANG)
            if pid and pid in running:
                running.pop(pid)
                continue
            now = time.monotonic()
            for pid, (plan, deadline) in running.items():
                if now > deadline and plan.index not in killed:
                    killed.add(plan.index)
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
    except BaseException as exc:  # interrupted, or cannot fork: no child left behind
        for pid in running:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        if not isinstance(exc, Exception):
            raise
        return None  # a prediction is an optimisation: the batch runs without it
    dry = DryRun(settings.cache_dir, time.perf_counter() - t0, settings.dryrun_rows)
    try:
        for plan in todo:
            dry.add(plan, streams[plan.index], plan.index in killed, settings,
                    progress_path(files["result"][plan.index]))
        dry.describe(todo)
    except Exception:
        for plan in todo:
            plan.nodes, plan.basis = [], None
        return None
    return dry


class DryRun:
    """What the dry runs predicted, and the scheduler's view of which sample nodes are done."""

    def __init__(self, cache_dir, seconds: float, rows: int):
        self.cache_dir = os.fspath(cache_dir)
        self.seconds = seconds
        self.rows = rows
        self.basis: dict[int, str] = {}
        self.where: dict[str, list[tuple[int, int]]] = {}  # sample key -> (script, position)
        self.progress: dict[int, str] = {}  # script -> its worker's progress file
        self.ended: set[int] = set()
        self._counts: dict[int, int] = {}
        self._read_at = -1.0

    def add(self, plan, stream: str, killed: bool, settings, progress: str) -> None:
        nodes, stop, scale = _read_stream(stream)
        first: dict[str, tuple[int, float]] = {}  # a key seen again (a loop): its first time
        for pos, key, seconds in nodes:
            first.setdefault(key, (pos, seconds))
        plan.nodes = [(key, seconds * scale) for key, (_, seconds) in first.items()]
        for key, (pos, _) in first.items():
            self.where.setdefault(key, []).append((plan.index, pos))
        if killed:  # still running at the budget: at least that much work, of its own
            rest = max(0.0, settings.dryrun_seconds - sum(s for _, _, s in nodes))
            plan.nodes.append((f"dryrun-rest-{plan.index}", rest * scale))
        how = f"dry run on {settings.dryrun_rows} rows"
        if killed:
            how += f", killed after {settings.dryrun_seconds:g}s"
        elif stop:
            how += f", stopped at {stop}"
        plan.basis = f"{how}: {len(first)} nodes"
        if scale > 1:
            plan.basis += f" (costs x{scale:.0f} for the full data)"
        try:  # its worker reports progress only if this file exists
            os.close(os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            self.progress[plan.index] = progress
        except OSError:
            pass

    def describe(self, plans) -> None:
        """Each plan's basis says how many of its predicted nodes another script shares."""
        for plan in plans:
            shared = sum(1 for key, _ in plan.nodes if key in self.where and
                         len({i for i, _ in self.where[key]}) >= 2)
            plan.basis = plan.basis.replace(" nodes", f" nodes, {shared} shared", 1)
            self.basis[plan.index] = plan.basis

    def summary(self) -> dict:
        return {"seconds": self.seconds, "rows": self.rows,
                "basis": {str(i): b for i, b in self.basis.items()}}

    def finished(self, index: int) -> None:
        self.ended.add(index)

    def _passed(self, index: int) -> int:
        """Top-level nodes script ``index``'s real run has completed so far."""
        now = time.monotonic()
        if now - self._read_at > 0.005:  # one look at the files per scheduling decision
            self._read_at = now
            self._counts.clear()
        got = self._counts.get(index)
        if got is None:
            got = 0
            path = self.progress.get(index)
            if path is not None:
                try:
                    with open(path, "rb") as fh:
                        got = fh.read().count(b"\n")
                except OSError:
                    pass
            self._counts[index] = got
        return got

    def cached(self, key: str) -> bool:
        """For the scheduler: a sample node is done once a script predicted to compute it has
        passed its position (or ended); any other key is looked up in the cache."""
        places = self.where.get(key)
        if places is None:
            return batch_plan.entry_exists(self.cache_dir, key)
        return any(i in self.ended or self._passed(i) > pos for i, pos in places)


def _read_stream(path: str):
    nodes, stop, scale = [], None, 1.0
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return nodes, stop, scale
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill
        if "k" in rec:
            nodes.append((rec["p"], rec["k"], float(rec["s"])))
        elif "stop" in rec:
            stop = rec["stop"]
        elif "scale" in rec:
            scale = max(scale, float(rec["scale"]))
    return nodes, stop, scale


# ---- the dry-run child --------------------------------------------------------------------
def _child(plan, stream_path: str, settings, close_fds) -> None:
    """Run the script on sampled data with its effects suppressed; exit, never return."""
    try:
        for fd in close_fds:
            os.close(fd)
        stream = os.open(stream_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        _silence()
        sys.dont_write_bytecode = True
        from stratum.session import activation, runner
        session = activation.restart_session()
        if session is None:
            os._exit(0)
        session.settings = dataclasses.replace(session.settings, cache_enabled=False,
                                               explain=False)
        session.cache_dir_ok = False  # nothing recorded in the trace store
        dry = _Dry(stream, settings.dryrun_rows)
        session.hooks.update(dry=dry.call, on_top_node=dry.node)
        sys.addaudithook(dry.audit)
        runner.run(("script", plan.script), [], {"explain": False, "no_cache": True})
    except BaseException:  # noqa: BLE001 - the script's own end, or its failure
        pass
    os._exit(0)


def _silence() -> None:
    from stratum.batch.stdio import redirect_stdio

    redirect_stdio(os.devnull, os.devnull)


class _Dry:
    """The child's hooks: sample sources, stop at effects, stream the nodes."""

    def __init__(self, stream: int, rows: int):
        self.stream, self.rows = stream, rows
        self.pos = 0

    def _write(self, rec: dict) -> None:
        try:
            os.write(self.stream, (json.dumps(rec) + "\n").encode())
        except OSError:
            pass

    def stop(self, what: str) -> None:
        self._write({"stop": what})
        os._exit(0)

    def audit(self, event: str, args) -> None:
        if event == "open":
            mode = args[1] if len(args) > 1 else None
            flags = args[2] if len(args) > 2 else 0
            if (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                    (isinstance(flags, int) and flags & _WRITE_FLAGS):
                self.stop("a file write")
        elif event in REFUSED:
            self.stop(event)

    def node(self, node) -> None:
        pos, self.pos = self.pos, self.pos + 1
        if node.key is not None:
            self._write({"p": pos, "k": node.key, "s": round(node.seconds, 6)})

    def call(self, spec, fn, args, kwargs):
        if spec.effect == "sink" and spec.name not in HARMLESS_SINKS:
            self.stop(spec.name)
        if spec.effect != "source" or (spec.name not in ROW_LIMIT and spec.name not in CUT):
            return spec, fn, args, kwargs
        spec = dataclasses.replace(spec, name=f"{spec.name}@sample{self.rows}")
        limit = ROW_LIMIT.get(spec.name.partition("@")[0])
        if limit is not None and not (limit == "max_rows" and kwargs.get("skip_footer")):
            given = kwargs.get(limit)
            kwargs = {**kwargs, limit: min(given, self.rows) if isinstance(given, int) and
                      given > 0 else self.rows}
            self._scale_of(spec, args, kwargs)
            return spec, fn, args, kwargs
        if spec.name.startswith("numpy.load@") and "mmap_mode" not in kwargs and len(args) < 2:
            kwargs = {**kwargs, "mmap_mode": "r"}  # read only the rows kept
        return spec, self._cut(fn), args, kwargs

    def _cut(self, fn):
        rows = self.rows

        def sampled(*args, **kwargs):
            out = fn(*args, **kwargs)
            n = len(out) if hasattr(out, "__len__") and hasattr(out, "shape") else 0
            if n > rows:
                self._write({"scale": n / rows})
                if hasattr(out, "iloc"):
                    return out.iloc[:rows].copy()
                import numpy as np

                return np.array(out[:rows])
            if type(out).__name__ == "memmap":
                import numpy as np

                return np.array(out)
            return out

        return sampled

    def _scale_of(self, spec, args, kwargs) -> None:
        """Full rows / sampled rows of a text file, from the size of its first lines."""
        pos, kw = spec.path_arg
        path = kwargs.get(kw, args[pos] if len(args) > pos else None)
        if not isinstance(path, (str, os.PathLike)):
            return
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                head = sum(len(fh.readline()) for _ in range(self.rows + 1))
        except (OSError, TypeError, ValueError):
            return
        if head and size > head:
            self._write({"scale": size / head})


# ---- a batch worker -------------------------------------------------------------------------
def report_progress(result_path: str) -> None:
    """In a batch worker: if the plan asked for it, append each top-level node's key to the
    progress file as it completes (the dry run's position map)."""
    path = progress_path(result_path)
    if not os.path.exists(path):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return

    def node(n) -> None:
        os.write(fd, f"{n.key or '-'}\n".encode())

    from stratum.session import activation

    session = activation.current()
    if session is not None:
        session.hooks["on_top_node"] = node
