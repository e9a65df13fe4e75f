"""A batch process's standard streams on files: a worker writes its script's stdout / stderr
to the batch's output files, a dry run to /dev/null."""
from __future__ import annotations

import io
import os
import sys


def redirect_stdio(stdout: str, stderr: str, stdin: str | None = None) -> None:
    """fds 0 / 1 / 2 to ``stdin`` (default /dev/null) / ``stdout`` / ``stderr``, and fresh
    ``sys.std*`` on them."""
    for fd, path, flags in ((0, stdin or os.devnull, os.O_RDONLY),
                            (1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        new = os.open(path, flags, 0o644)
        os.dup2(new, fd)
        os.close(new)
    sys.stdin = sys.__stdin__ = std_stream(0, sys.__stdin__)
    sys.stdout = sys.__stdout__ = std_stream(1, sys.__stdout__)
    sys.stderr = sys.__stderr__ = std_stream(2, sys.__stderr__)


def std_stream(fd: int, like):
    """``sys.std*`` for ``fd`` as CPython's ``create_stdio`` makes it (POSIX)."""
    write = fd != 0
    unbuffered = write and bool(getattr(like, "write_through", False))
    buf = io.open(fd, "wb" if write else "rb", 0 if unbuffered else -1, closefd=False)
    raw = buf if unbuffered else buf.raw
    raw.name = ("<stdin>", "<stdout>", "<stderr>")[fd]
    line_buffering = write and not unbuffered and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(buf, encoding=getattr(like, "encoding", None) or "utf-8",
                              errors=getattr(like, "errors", None) or "strict", newline="\n",
                              line_buffering=line_buffering, write_through=unbuffered)
    stream.mode = "w" if write else "r"
    return stream
