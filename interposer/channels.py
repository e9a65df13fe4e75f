"""What a running operation does besides returning its value: text it writes to ``sys.stdout``
and ``sys.stderr``, log records it emits, files it opens.

A reused operation must look exactly like a computed one, so everything it shows is recorded
while it runs and shown again on reuse (``interposer.frames`` does the same for warnings,
into the same capture lists, so warnings and text replay in the order they came):

* **Text**: while an operation that may be reused runs, ``sys.stdout`` / ``sys.stderr`` are
  stand-ins that pass every write through and record it (``Pipeline(verbose=True)``,
  ``GridSearchCV(verbose=1)``, joblib's progress lines). Text written while a warning is being
  shown is the warning's own and is not recorded twice.
* **Log records**: a record handled while an operation runs would have to be emitted again,
  at the time of the reuse, through whatever handlers exist then; stratum does not replay
  them: the operation is marked and not admitted to the cache.
* **Files**: an audit hook (``sys.addaudithook``, installed once) sees every file opened by
  Python code or by ``os.open`` while an operation runs. Files opened for reading become
  inputs of the stored result (checked by content before it is reused: whichever reader
  opened them); a file opened for writing is an output stratum cannot replay, so the result is
  not admitted. The interpreter's own files (modules imported on first use), ``/proc``,
  ``/sys`` and ``/dev`` are not data.

Writes made below Python (a C library's ``printf``) are not seen here; the registry's rules for
verbose estimators whose output comes from C keep such calls from being reused.
"""
from __future__ import annotations

import os
import sys

from interposer import frames

STDOUT, STDERR = "<stdout>", "<stderr>"
#: Capture-list entries that say "this operation cannot be replayed" (``unreplayable``).
LOGGED = ("", None, "<stratum log record>", 0)
WROTE_FILE = ("", None, "<stratum wrote a file>", 0)
NOT_REPLAYABLE = {LOGGED[2]: "emits log records (not replayed)",
                  WROTE_FILE[2]: "writes files (not replayed)"}


class _Recorder:
    """``sys.stdout`` / ``sys.stderr`` while an operation that may be reused runs."""

    __slots__ = ("_stream", "_name")

    def __init__(self, stream, name):
        object.__setattr__(self, "_stream", stream)
        object.__setattr__(self, "_name", name)

    def write(self, text):
        if frames._captures and not frames.showing_warning():
            for shown in frames._captures:
                shown.append((self._name, text))
        return self._stream.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def __setattr__(self, name, value):
        setattr(self._stream, name, value)

    def __iter__(self):
        return iter(self._stream)

    def __repr__(self):
        return repr(self._stream)


_depth = 0
_saved: list = []


def record_streams() -> None:
    """From now until ``stop_streams``: record what is written to ``sys.stdout`` / ``stderr``."""
    global _depth
    _depth += 1
    if _depth > 1:
        return
    if _orig_handle is None and "logging" in sys.modules:
        _watch_logging()  # not at start-up: importing logging would slow every python start
    out, err = sys.stdout, sys.stderr
    _saved[:] = [out, err]
    if out is not None:
        sys.stdout = _Recorder(out, STDOUT)
    if err is not None:
        sys.stderr = _Recorder(err, STDERR)


def stop_streams() -> None:
    global _depth
    _depth -= 1
    if _depth:
        return
    out, err = _saved
    _saved.clear()
    # Put back what was there, unless the operation itself replaced a stream (then it stays).
    if type(sys.stdout) is _Recorder and sys.stdout._stream is out:
        sys.stdout = out
    if type(sys.stderr) is _Recorder and sys.stderr._stream is err:
        sys.stderr = err


def write(name: str, text: str) -> None:
    """Show again text a reused operation wrote."""
    stream = sys.stdout if name == STDOUT else sys.stderr
    if stream is not None:
        stream.write(text)


def is_text(entry) -> bool:
    return len(entry) == 2


def unreplayable(shown) -> str | None:
    """Why what an operation did cannot be shown again (None if it can)."""
    for entry in shown:
        if len(entry) == 4 and entry[2] in NOT_REPLAYABLE:
            return NOT_REPLAYABLE[entry[2]]
    return None


# ---- log records -----------------------------------------------------------------------------
_orig_handle = None


def _handle(self, record):
    if frames._captures and not self.disabled and self.isEnabledFor(record.levelno):
        for shown in frames._captures:
            shown.append(LOGGED)
    return _orig_handle(self, record)


def _watch_logging() -> None:
    global _orig_handle
    import logging  # already imported (by the script or a library)

    if _orig_handle is None:
        _orig_handle = logging.Logger.handle
        logging.Logger.handle = _handle


# ---- files -----------------------------------------------------------------------------------
_IGNORED = ["/proc/", "/sys/", "/dev/"]  # + stratum's own cache directory (``ignore_dir``)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_hook_installed = False
_opened: list[list] = []  # per open file watch: paths read


def _audit(event, args):
    if event != "open" or not _opened:
        return
    path, mode, flags = args
    if isinstance(path, int):
        return
    try:
        path = os.path.abspath(os.fsdecode(path))
    except Exception:
        return
    if path.startswith(tuple(_IGNORED)) or _is_library_file(path):
        return
    writing = (any(c in mode for c in "wax+") if isinstance(mode, str)
               else bool((flags or 0) & _WRITE_FLAGS))
    if writing:
        for shown in frames._captures:
            shown.append(WROTE_FILE)
        return
    for paths in _opened:
        paths.append(path)


def _is_library_file(path: str) -> bool:
    from interposer import userfiles

    return not userfiles.is_user_dir(os.path.dirname(path))


def ignore_dir(directory) -> None:
    """Files under ``directory`` are not data (stratum's own cache: entries, locks, index)."""
    for form in {os.path.abspath(directory), os.path.realpath(directory)}:
        prefix = form.rstrip(os.sep) + os.sep
        if prefix not in _IGNORED:
            _IGNORED.append(prefix)


def watch_files() -> list:
    """Collect the files opened for reading until ``stop_files`` (paths as given)."""
    _opened.append([])
    return _opened[-1]


def stop_files() -> None:
    _opened.pop()


def install() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # cannot be removed: it does nothing outside a watch
        _hook_installed = True


def uninstall() -> None:
    global _orig_handle
    if _orig_handle is not None:
        import logging

        logging.Logger.handle = _orig_handle
        _orig_handle = None
