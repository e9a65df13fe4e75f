"""Progress of ``stratum bench`` on stderr (stdout is the report): which mode, which step,
which script.

A mode reports each step to its :class:`Steps`: ``begin(script, what)`` before it runs the
script (``what``: ``run 2/3``, ``prime``), ``done(note)`` once it has its timings (``note``:
``plain 0.41s, stratum 0.52s``). Where the lines go depends on stderr:

- a terminal: one live line, redrawn in place and erased at the end, naming the step being run,
  ``cold 3/7 clf_forest.py run 1/1``, with a bar over every step of every mode and the time
  elapsed (:class:`LiveSteps`);
- anything else (a file, a pipe, an agent reading the output): one plain line per finished
  step, flushed at once, no control codes (:class:`LineSteps`), e.g.
  ``stratum bench: cold 3/7 scripts/clf_forest.py (run 1/1): plain 0.41s, stratum 0.52s``.
"""
from __future__ import annotations

import os
import sys
from typing import TextIO


def describe(mode: str, k: int, n: int, script: str, what: str = "") -> str:
    """``cold 3/7 clf_forest.py run 1/1``: the mode, its k-th of n steps, the script."""
    return f"{mode} {k}/{n} {script}" + (f" {what}" if what else "")


class Steps:
    """One mode's steps; this base class shows nothing (no progress asked for)."""

    def __init__(self, mode: str = "", total: int = 0):
        self.mode, self.total = mode, total
        self.k = 0  # steps begun
        self.script, self.what = "", ""

    def begin(self, script: str, what: str = "") -> None:
        self.k += 1
        self.script, self.what = script, what
        self._begun()

    def done(self, note: str = "") -> None:
        self._done(note)

    def _begun(self) -> None:
        pass

    def _done(self, note: str) -> None:
        pass


class LineSteps(Steps):
    """One plain, flushed line per finished step on ``stream``."""

    def __init__(self, mode: str, total: int, stream: TextIO):
        super().__init__(mode, total)
        self.stream = stream

    def _done(self, note: str) -> None:
        what = f" ({self.what})" if self.what else ""
        self.stream.write(f"stratum bench: {describe(self.mode, self.k, self.total, self.script)}"
                          f"{what}{': ' + note if note else ''}\n")
        self.stream.flush()


class LiveSteps(Steps):
    """The live line of one mode, on a :class:`Live` display shared by every mode."""

    def __init__(self, mode: str, total: int, live: "Live"):
        super().__init__(mode, total)
        self.live = live

    def _begun(self) -> None:
        self.live.show(describe(self.mode, self.k, self.total, os.path.basename(self.script),
                                self.what))

    def _done(self, note: str) -> None:
        self.live.advance()


class Live:
    """A rich progress line: description, bar over all steps, steps done / all, time elapsed.

    The description column takes the room left and is cut at its end only when the terminal is
    narrower than the rest of the line; the mode, the count and the script come first."""

    def __init__(self, console, total: int, transient: bool = True):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
            TimeElapsedColumn
        from rich.table import Column

        self.progress = Progress(
            TextColumn("{task.description}",
                       table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=transient, expand=True)
        self.task = self.progress.add_task("stratum bench", total=total)

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def show(self, text: str) -> None:
        self.progress.update(self.task, description=text)

    def advance(self) -> None:
        self.progress.advance(self.task)


class Reporter:
    """Context manager giving each mode its :class:`Steps` (``reporter(mode)``).

    ``totals``: steps per mode, in the order run. ``stream`` (stderr by default) decides the
    kind: a terminal gets the live line, anything else plain lines."""

    def __init__(self, totals: dict[str, int], stream: TextIO | None = None,
                 live: bool | None = None):
        self.totals = totals
        self.stream = stream if stream is not None else sys.stderr
        self.live_on = self.stream.isatty() if live is None else live
        self.live: Live | None = None

    def __enter__(self):
        if self.live_on and sum(self.totals.values()):
            from rich.console import Console

            self.live = Live(Console(file=self.stream), sum(self.totals.values())).__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)
        self.stream.flush()

    def __call__(self, mode: str) -> Steps:
        total = self.totals.get(mode, 0)
        if self.live is not None:
            return LiveSteps(mode, total, self.live)
        return LineSteps(mode, total, self.stream)
