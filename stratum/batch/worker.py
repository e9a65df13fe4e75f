"""One script of a batch, in a process forked from the warm parent: isolated like ``python s.py``.

File descriptors 0, 1 and 2 become /dev/null and the script's two output files (so C-level
writes land there too), and ``sys.stdin`` / ``stdout`` / ``stderr`` are rebuilt the way the
interpreter builds them at start-up for those files (block-buffered stdout, line-buffered
stderr: what a crash or ``os._exit`` loses is what plain python loses). The script then runs
through the same path as ``python -m stratum script.py`` (``stratum.session.runner.run``) with a fresh
session, so it gets its own ``__main__``, ``sys.argv``, ``sys.path[0]``, exit code, atexit
handlers and trace. The process ends as that interpreter would: this function never returns.
Python's ``random`` reseeds itself after a fork; numpy's global RNG is reseeded here, so
workers do not share unseeded random streams (the str hash seed they do share).
"""
from __future__ import annotations

import json
import os
import signal
import sys

from stratum.batch.stdio import redirect_stdio

#: A code string in a fresh interpreter: ``python -c _CODE SOURCE_FILE NAME FLAGS_JSON ARGS...``.
_CODE = ("import json, sys\n"
         "with open(sys.argv[1], 'rb') as f:\n    src = f.read()\n"
         "flags = json.loads(sys.argv[3])\n"
         "from stratum.session import runner\n"
         "runner.run(('code', sys.argv[2], src), sys.argv[4:], "
         "{'explain': '--explain' in flags, 'no_cache': '--no-cache' in flags})\n")


def run(job) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _redirect(job)
    if job.mode == "exec":
        program = (getattr(sys, "orig_argv", None) or [sys.executable])[0]
        if job.source is None:
            args = ["-m", "stratum", *job.flags, job.script, *job.argv]
        else:  # code: as the submission API's cold run (stratum.server.client)
            args = ["-c", _CODE, job.source, job.script, json.dumps(job.flags), *job.argv]
        try:
            os.execv(sys.executable, [program, *args])
        except OSError as exc:
            sys.stderr.write(f"stratum: cannot start python ({exc})\n")
            sys.stderr.flush()
            os._exit(1)
    from stratum.session import activation
    from stratum.session import runner

    numpy = sys.modules.get("numpy")
    if numpy is not None:  # a fresh interpreter seeds numpy's global RNG from the OS at import
        numpy.random.seed()
    activation.restart_session()
    if job.mode == "warm":
        from stratum.batch import dryrun as batch_dryrun

        batch_dryrun.report_progress(job.result)
    opts = {"explain": "--explain" in job.flags, "no_cache": "--no-cache" in job.flags}
    if job.source is None:
        target = ("script", job.script)
    else:
        with open(job.source, "rb") as fh:
            target = ("code", job.script, fh.read())
    runner.run(target, list(job.argv), opts, after=lambda session: _result(job, session))
    # The script ended normally (any other end raised SystemExit out of ``_run``). This process
    # is a fork of the batch's own, whose caller must not continue here: exit with status 0,
    # python's buffers first (SystemExit's handler flushes C's stdio before them).
    runner.flush_io()
    sys.exit(0)


def _result(job, session) -> None:
    """The run id and how many operations were reused / executed, for the batch's progress
    line and summary (a script that dies before this leaves no file: the batch finds its run
    by path and time, and prints no counts)."""
    nodes = session.engine.nodes if session.engine is not None else []
    reused = sum(1 for n in nodes if n.reused)
    try:
        with open(job.result, "w") as fh:
            json.dump({"run_id": session.run_id, "reused": reused,
                       "executed": len(nodes) - reused}, fh)
    except OSError:
        pass


def _redirect(job) -> None:
    redirect_stdio(job.stdout, job.stderr, job.stdin)
