"""Settings read from the environment, and the one place that decides where the cache lives.

Every other module asks here instead of reading ``os.environ`` itself, so a setting has one
name, one default and one parser.
"""
from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def parse_size(text: str) -> int:
    """Parse sizes such as ``512M``, ``2G``, ``1.5GB``, ``1048576``; ValueError if malformed."""
    text = text.strip().lower().removesuffix("b")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def env_size(name: str) -> int | None:
    """The size set in ``name`` (see :func:`parse_size`); None when unset or empty, and, with
    one ``stratum:`` line saying so, when it is not a size (``banana``, ``-1``)."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return None
    try:
        value = parse_size(raw)
    except (ValueError, OverflowError):
        value = -1
    if value < 0:
        warn_once(f"bad-size:{name}", f"{name}={raw!r} is not a size (such as 512M or 2G); "
                                      "using the default")
        return None
    return value


def _size(name: str, default: int) -> int:
    value = env_size(name)
    return default if value is None else value


def _number(name: str, default: float) -> float:
    try:
        value = float(os.environ[name])
    except (KeyError, ValueError):
        return default
    return value if value > 0 else default


def _count(name: str, default: int) -> int:
    """A whole number >= 0 from the environment (0 allowed: "never"); else ``default``."""
    try:
        value = int(os.environ[name])
    except (KeyError, ValueError):
        return default
    return value if value >= 0 else default


def default_cache_dir() -> Path:
    explicit = os.environ.get("STRATUM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "stratum"


@dataclass(frozen=True)
class Settings:
    """Every setting of a run, as :meth:`from_env` reads them from the environment.

    (A docstring of its own: without one, ``@dataclass`` builds ``__doc__`` from
    ``inspect.signature``, which cost every run's start-up ~1.5 ms.)"""

    disabled: bool
    explain: bool
    strict: bool
    native: bool
    cache_enabled: bool
    cache_dir: Path
    cache_size: int
    memo: bool = True  # memoize pure user functions (STRATUM_MEMO=0: trace their bodies only)
    keep_trap: bool = False  # measurement only: leave the entry trap installed (STRATUM_KEEP_TRAP)
    # batch: a dry run on a data sample predicts never-seen scripts (stratum/batch/dryrun.py)
    dryrun: bool = False  # STRATUM_DRYRUN=1 (or ``run --dry-run``): on (measured: no gain
    # on a batch that shares one prefix, see bench/RESULTS.md, so not the default)
    dryrun_rows: int = 1000  # STRATUM_DRYRUN_ROWS: rows kept of each data source
    dryrun_seconds: float = 2.0  # STRATUM_DRYRUN_SECONDS: a dry run is killed after this
    # STRATUM_ADMIT=all: admit every reusable result to the cache whatever it cost (tests: every
    # reuse a slow machine could make is made); the default admits by benefit (stratum/cache/cache.py)
    admit_all: bool = False
    # one CPU budget per machine shared by every stratum process (stratum/cpu/budget.py);
    # STRATUM_CPU_BUDGET=0 turns it off
    cpu_budget: bool = True
    # STRATUM_FOLD_AFTER: a call site that ran this many top-level operations in a row with
    # small results, none reused or cached, runs its later ones untraced (a hot loop:
    # stratum/engine/fold.py); 0: never
    fold_after: int = 32
    # STRATUM_CACHE_SHARED: a directory every machine of a cluster reaches, the cache's second
    # tier (stratum/cache/cache.py: a local miss looks there, a stored entry is published there)
    cache_shared: str | None = None
    # STRATUM_CACHE_SHARED_SIZE: the shared tier's budget; publishers trim it to that (oldest
    # entries first); 0: never trimmed
    cache_shared_size: int = 20 << 30

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            disabled=_flag("STRATUM_DISABLE"),
            explain=_flag("STRATUM_EXPLAIN"),
            strict=_flag("STRATUM_STRICT"),
            native=_flag("STRATUM_NATIVE", True),
            cache_enabled=_flag("STRATUM_CACHE", True),
            cache_dir=default_cache_dir(),
            cache_size=_size("STRATUM_CACHE_SIZE", 2 << 30),
            memo=_flag("STRATUM_MEMO", True),
            keep_trap=_flag("STRATUM_KEEP_TRAP"),
            dryrun=_flag("STRATUM_DRYRUN", False),
            dryrun_rows=int(_number("STRATUM_DRYRUN_ROWS", 1000)),
            dryrun_seconds=_number("STRATUM_DRYRUN_SECONDS", 2.0),
            admit_all=os.environ.get("STRATUM_ADMIT", "").strip().lower() == "all",
            cpu_budget=_flag("STRATUM_CPU_BUDGET", True),
            fold_after=_count("STRATUM_FOLD_AFTER", 32),
            cache_shared=os.environ.get("STRATUM_CACHE_SHARED") or None,
            cache_shared_size=_size("STRATUM_CACHE_SHARED_SIZE", 20 << 30),
        )


class CacheDirError(Exception):
    """The cache directory cannot be used safely; the run continues uncached.

    ``errno`` is the OS error behind it, if any (a full disk is reported as such)."""

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


def prepare_cache_dir(path: Path) -> Path:
    """Create the cache directory ``0700`` or check that an existing one is safe to trust.

    Entries are pickles, and loading a pickle runs code, so a directory another user owns or
    can write to is refused rather than used.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise CacheDirError(f"cannot create cache directory {path}: {exc.strerror or exc}",
                            exc.errno) from None
    if not stat.S_ISDIR(info.st_mode):
        raise CacheDirError(f"cache path {path} is not a directory")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CacheDirError(f"cache directory {path} is owned by another user (uid {info.st_uid})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheDirError(f"cache directory {path} is writable by other users")
    if not os.access(path, os.W_OK | os.X_OK):
        raise CacheDirError(f"cache directory {path} is not writable")
    return path


def warn(message: str) -> None:
    """stratum's own one-line message on stderr (only for its own failures or when asked)."""
    try:
        sys.__stderr__.write(f"stratum: {message}\n")
        sys.__stderr__.flush()
    except Exception:
        pass


_said: set[str] = set()


def warn_once(kind: str, message: str) -> None:
    """:func:`warn`, but at most one line per ``kind`` in this process (a process-wide fault,
    such as a full disk, is met by the cache and the trace store alike)."""
    if kind not in _said:
        _said.add(kind)
        warn(message)


#: errno values that mean "no room to write": disk full, quota exceeded, file size limit.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_SQLITE_IOERR, _SQLITE_FULL = 10, 13


def disk_full(exc: BaseException, directory: Path | None = None, size: int = 0) -> bool:
    """Whether ``exc`` means the disk (or quota, or file size limit) is full; if so, say it once
    for the whole process (the cache and the trace store share the line) and return True.

    An OSError carries its errno. SQLite reports ENOSPC as SQLITE_FULL but EDQUOT and EFBIG only
    as an I/O error, so an I/O error counts once the process has met a full disk, or when a probe
    in ``directory`` (claim 64 KiB, then extend a sparse file past ``size`` bytes, the size of
    the file SQLite was growing) fails the same way.
    """
    reason = _full_reason(exc, directory, size)
    if reason is None:
        return False
    warn_once("disk-full", f"no room to write in the cache directory ({reason}); "
                           "what does not fit is not stored")
    return True


def _full_reason(exc: BaseException, directory: Path | None, size: int) -> str | None:
    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and code in DISK_FULL_ERRNOS:
        return exc.strerror or os.strerror(code)
    if code in DISK_FULL_ERRNOS:  # e.g. a CacheDirError made from such an OSError
        return os.strerror(code)
    sqlite_code = getattr(exc, "sqlite_errorcode", None)
    if sqlite_code is None:
        return None
    if sqlite_code & 0xFF == _SQLITE_FULL:
        return str(exc)
    if sqlite_code & 0xFF != _SQLITE_IOERR:
        return None
    if "disk-full" in _said:
        return str(exc)
    if directory is not None:
        probed = _probe_full(Path(directory), size)
        if probed is not None:
            return probed
    return None


def _probe_full(directory: Path, size: int) -> str | None:
    """The strerror of a full disk / quota / size limit met writing in ``directory``, else None."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".probe-", dir=directory)
    except OSError as exc:
        return exc.strerror if exc.errno in DISK_FULL_ERRNOS else None
    try:
        for claim in (lambda: os.posix_fallocate(fd, 0, 64 << 10),
                      # sparse: meets only a file size limit
                      lambda: os.ftruncate(fd, max(size, 0) + (1 << 20))):
            try:
                claim()
            except OSError as exc:  # EOPNOTSUPP (no fallocate here) and the like: next probe
                if exc.errno in DISK_FULL_ERRNOS:
                    return exc.strerror
        return None
    finally:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
