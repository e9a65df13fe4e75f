"""Writing to stdout for the commands: a reader that goes away (``... | head -1``) ends the
command quietly with status 0, wherever the write was (``main._command`` catches the error)."""
from __future__ import annotations

import os
import sys


def stdout_gone() -> None:
    """The reader of stdout went away: point stdout at /dev/null, so that nothing written
    later (nor the flush at interpreter exit) can raise again (the SIGPIPE note in the
    ``signal`` module's documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def console(width: int | None = None):
    """A rich console on stdout (``width`` off a terminal: 160 unless given) whose closed
    pipe raises BrokenPipeError, handled in ``_command`` like any other write (rich's own
    handling exits with status 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console(width=None if sys.stdout.isatty() else (width or 160))
