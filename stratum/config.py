"""Settings read from the environment, and the one place that decides where the cache lives.

Every other module asks here instead of reading ``os.environ`` itself, so a setting has one
name, one default and one parser.
"""
from __future__ import annotations

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


def _size(name: str, default: int) -> int:
    try:
        return parse_size(os.environ[name])
    except (KeyError, ValueError):
        return default


def _number(name: str, default: float) -> float:
    try:
        value = float(os.environ[name])
    except (KeyError, ValueError):
        return default
    return value if value > 0 else default


def default_cache_dir() -> Path:
    explicit = os.environ.get("STRATUM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "stratum"


@dataclass(frozen=True)
class Settings:
    disabled: bool
    explain: bool
    strict: bool
    native: bool
    cache_enabled: bool
    cache_dir: Path
    cache_size: int
    memo: bool = True  # memoize pure user functions (STRATUM_MEMO=0: trace their bodies only)
    keep_trap: bool = False  # measurement only: leave the entry trap installed (STRATUM_KEEP_TRAP)
    # batch: a dry run on a data sample predicts never-seen scripts (stratum/batch_dryrun.py)
    dryrun: bool = False  # STRATUM_DRYRUN=1 (or ``run --dry-run``): on (measured: no gain
    # on a batch that shares one prefix, see bench/RESULTS.md, so not the default)
    dryrun_rows: int = 1000  # STRATUM_DRYRUN_ROWS: rows kept of each data source
    dryrun_seconds: float = 2.0  # STRATUM_DRYRUN_SECONDS: a dry run is killed after this
    # STRATUM_ADMIT=all: admit every reusable result to the cache whatever it cost (tests: every
    # reuse a slow machine could make is made); the default admits by benefit (stratum/cache.py)
    admit_all: bool = False

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
        )


class CacheDirError(Exception):
    """The cache directory cannot be used safely; the run continues uncached."""


def prepare_cache_dir(path: Path) -> Path:
    """Create the cache directory ``0700`` or check that an existing one is safe to trust.

    Entries are pickles, and loading a pickle runs code, so a directory another user owns or
    can write to is refused rather than used.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise CacheDirError(f"cannot create cache directory {path}: {exc.strerror or exc}") from None
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
