"""The reuse store: lineage key -> value, in memory and on disk, shared by concurrent processes.

Layout of the cache directory::

    secret              32 random bytes, 0600: the HMAC key every entry is signed with
    index.db            SQLite (WAL): entries(key, size, cost, created, last_used, hits)
    objects/ab/<key>    one file per entry (see stratum/cache/serialize.py), 0600, written atomically
    locks/<key>.lock    flock target for per-key single-flight across processes

A second tier (``shared=LOCATION``, ``STRATUM_CACHE_SHARED``) is one every machine of a
cluster reaches: a directory (:class:`DirectoryTier`, the same ``objects/`` and ``locks/``
layout) or any fsspec URL such as ``s3://bucket/prefix`` (:class:`FsspecTier`, ``objects/``
only). A local miss looks there and copies a found entry in (its MAC checked under the tier's
secret, then signed again with the local one, no unpickling); an entry stored locally is also
published there, atomically (a directory: temp file, then ``os.replace``; a URL: temp key, then
``fs.mv``, see :class:`FsspecTier`); a single flight takes the tier's lock too, after the local
one, so two machines do not compute one key at once (a directory's ``flock``; a URL's lease
object, best effort: there two machines may still compute one key, never store a wrong
value). The tier's secret is given in memory (:func:`set_shared_secret`, what ``run
--cluster`` passes its workers), else read from ``shared-secret`` in the local directory
(0600, made if absent). A
tier that cannot be used when the cache opens (a directory not writable or not lockable; a URL
of an unknown protocol, without its fsspec package, unreachable, or not writable) is one
``stratum:`` line and local caching; one that fails later is dropped silently for the rest of
the process (a line would land in a script's stderr).

The tier is bounded (``STRATUM_CACHE_SHARED_SIZE``, default 20 GiB; 0: never trimmed): a
process that publishes trims it when nobody did for :data:`TRIM_EVERY` seconds (the tier's
``trim-stamp``), removing entries oldest first, by modification time (publication; on a
directory also the last read, noted at most hourly), down to :data:`TRIM_TO` of the budget,
and temp files publishers left behind. ``cache gc`` trims it whatever the stamp says. Removing an
entry another machine is reading is at worst a miss there (a short read fails the MAC).

The entry files are the truth; ``index.db`` is bookkeeping for eviction and stats and is rebuilt
from the files if it is lost or corrupt. A ``secret`` of the wrong length (but ours and 0600) is
set aside as ``secret.damaged`` and replaced, dropping the entries it signed; one another user
owns or can read is refused. A full disk is one ``stratum:`` line per process, shared with the
trace store (``config.disk_full``). Every public method except the constructor swallows
errors: a broken, full or tampered cache must never break a run (at worst it is a miss).
"""
from __future__ import annotations

import atexit
import copy
import fcntl
import mmap
import os
import sqlite3
import stat
import sys
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

from stratum.cache import hot, serialize, sqlite_wal
from stratum.config import CacheDirError, disk_full, prepare_cache_dir, warn

#: Values cheaper than this to compute are not worth a disk round trip.
MIN_COST = 0.002
#: Load-time model used for admission: fixed open/verify overhead plus a streaming rate.
LOAD_OVERHEAD = 0.0005
LOAD_RATE = 1e9  # bytes per second
#: Files at least this big are memory-mapped copy-on-write instead of read into memory; below
#: it a read is as fast and does not keep a file descriptor open per live value.
MMAP_MIN = 8 << 20
SECRET_SIZE = 32
_HEX = frozenset("0123456789abcdef")
_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis))
_FLUSH_EVERY = 64  # pending hit updates before they are written to index.db


def _mkstemp(**kwargs):
    """``tempfile.mkstemp``; imported on the first write (it costs every run's start-up ~3 ms:
    shutil, bz2, lzma, random), which a run of cheap operations never makes."""
    import tempfile

    return tempfile.mkstemp(**kwargs)


#: this machine's name, as ``socket.gethostname()`` gives it (that module costs ~3 ms to import)
_HOST = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")


def valid_key(key: object) -> bool:
    """Keys become file names: only 32 lowercase hex characters are accepted (no traversal)."""
    return isinstance(key, str) and len(key) == 32 and _HEX.issuperset(key)


def copy_value(value: Any) -> Any:
    """A fresh object equal to ``value`` that shares no mutable state with it.

    Deep-copy semantics through the same pickle-5 path as the disk (buffers copied into new
    memory), so a copy behaves exactly like a value loaded from disk: dtypes, read-only flags
    (pandas 3 hands out read-only arrays), index, categories, aliasing between parts (the same
    array twice in a tuple stays one array). Immutable scalars and strings are returned as is;
    values pickle cannot handle fall back to ``copy.deepcopy``.
    """
    if _is_immutable(value):
        return value
    try:
        return serialize.thaw(serialize.freeze(value))
    except Exception:
        return copy.deepcopy(value)


def _is_immutable(value: Any) -> bool:
    if isinstance(value, _IMMUTABLE):
        return True
    np = sys.modules.get("numpy")  # never imported here
    if np is not None and isinstance(value, np.generic) and not isinstance(value, np.void):
        return True
    return type(value) in (tuple, frozenset) and all(_is_immutable(v) for v in value)


def estimated_load_seconds(size: int) -> float:
    return LOAD_OVERHEAD + size / LOAD_RATE


def worth_storing(size: int, cost: float, admit_all: bool = False) -> bool:
    """Admission by benefit: keep what costs more to recompute than to load.

    ``admit_all`` (``STRATUM_ADMIT=all``) keeps every reusable result whatever its cost: which
    calls are admitted then no longer depends on how fast the machine was, so a test sees every
    reuse a loaded machine could make."""
    return admit_all or (cost >= MIN_COST and estimated_load_seconds(size) < cost)


class _MemoryLayer:
    """LRU by bytes in front of the disk.

    It holds values frozen (pickle stream + immutable buffer bytes), never live objects: every
    hit thaws a new object, identical in behaviour to a disk load, and nothing the caller does
    to an object can reach the stored copy.
    """

    def __init__(self, budget: int):
        self.budget = budget
        self.bytes = 0
        self._items: OrderedDict[str, tuple[serialize.Frozen, int]] = OrderedDict()
        self._lock = threading.Lock()

    def admits(self, size: int) -> bool:
        # One entry may not take more than a quarter of the layer: big values are better served
        # by the page cache behind a copy-on-write mapping than by a second private copy.
        return 0 < self.budget and size <= self.budget // 4

    def get(self, key: str) -> serialize.Frozen | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, frozen: serialize.Frozen) -> None:
        """Keep a detached copy of ``frozen`` (whose buffers may be views of a live value)."""
        frozen = frozen.detached()
        size = frozen.nbytes
        with self._lock:
            self._drop(key)
            self._items[key] = (frozen, size)
            self.bytes += size
            while self.bytes > self.budget and self._items:
                self._drop(next(iter(self._items)))

    def discard(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def _drop(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.bytes -= item[1]


#: Secrets of shared tiers given in memory (by ``stratum.distributed``), by tier (``tier_id``).
_shared_secrets: dict[str, bytes] = {}


def is_url(location) -> bool:
    """``STRATUM_CACHE_SHARED`` names an fsspec URL (``s3://...``, ``file://...``), not a path."""
    return "://" in os.fspath(location)


def tier_id(location) -> str:
    """One name per tier: a URL as given (without a trailing ``/``), a path made absolute."""
    text = os.fspath(location)
    return text.rstrip("/") if is_url(text) else os.path.abspath(text)


def set_shared_secret(location, secret: bytes) -> None:
    """The HMAC key of the shared tier at ``location`` (a directory or a URL) for caches this
    process opens (and its forks): the cluster's, passed in memory rather than read from a file."""
    if len(secret) != SECRET_SIZE:
        raise ValueError("a shared tier secret is 32 bytes")
    _shared_secrets[tier_id(location)] = bytes(secret)


def shared_secret(local_dir) -> bytes:
    """The shared tier's secret as this machine keeps it: ``<local_dir>/shared-secret``, 0600,
    made if absent (checked like the cache's own secret)."""
    prepare_cache_dir(Path(local_dir))
    return _load_or_create_secret(Path(local_dir) / "shared-secret")


#: A URL tier's lease on a key (:class:`FsspecTier`) older than this is taken over: its holder
#: died, or computes for longer (then two machines compute it; never a wrong value).
LEASE_SECONDS = 600.0
#: After writing its lease, a process waits this long for concurrent writers' leases to land
#: before reading back which one won.
LEASE_SETTLE = 0.25
#: How often a process waiting for a key another machine leases looks again.
LEASE_POLL = 0.5
#: A process publishing to the shared tier trims it when its ``trim-stamp`` is older than this:
#: the tier is listed at most every few minutes, however many machines publish.
TRIM_EVERY = 300.0
#: A trim removes entries down to this fraction of the budget (not to trim on every publish).
TRIM_TO = 0.9
#: A temp file (key) in the tier older than this was left by a publisher that died mid-write.
STALE_TMP = 3600.0
#: A directory tier's read refreshes the entry's modification time at most this often: its
#: recency for trimming, for one metadata write per entry per hour.
TOUCH_EVERY = 3600.0


class SharedTier:
    """The second tier (see the module docstring): where entries are, as the cache sees it.

    Two implementations: :class:`DirectoryTier` (a path: a shared filesystem, ``flock`` for
    single flight) and :class:`FsspecTier` (an fsspec URL: leases, as no lock exists). Entry
    bytes are signed with ``secret`` by the cache before :meth:`publish` and verified by it after
    :meth:`read`; a tier only moves bytes. Every method raises ``OSError`` when the tier fails
    (the cache then drops it for the rest of the process)."""

    def __init__(self, location: str, secret: bytes):
        self.location = location
        self.secret = secret
        self.hits = self.published = 0
        self.error: str | None = None

    @staticmethod
    def open(location, local_dir) -> "SharedTier":
        """The tier at ``location``, checked usable (CacheDirError if not)."""
        secret = _shared_secrets.get(tier_id(location))
        if secret is None:
            secret = shared_secret(local_dir)
        kind = FsspecTier if is_url(location) else DirectoryTier
        tier = kind(os.fspath(location), secret)
        tier.probe()
        return tier

    def probe(self) -> None:
        """CacheDirError unless entries can be written, read and locked (as far as it locks)."""
        raise NotImplementedError

    def read(self, key: str):
        """The entry's bytes (a writable buffer), or None if the tier has no entry ``key``."""
        raise NotImplementedError

    def publish(self, key: str, chunks) -> bool:
        """Store an entry's bytes atomically: a reader sees no entry or all of it. An entry
        already there is kept (False)."""
        raise NotImplementedError

    def lock(self, key: str):
        """Wait for and hold ``key``'s lock across machines: a handle for :meth:`unlock`, or
        None where the tier cannot lock (two machines may then compute one key at once)."""
        raise NotImplementedError

    def unlock(self, handle) -> None:
        raise NotImplementedError

    def trim(self, budget: int, force: bool = False) -> dict:
        """Bound the tier to ``budget`` bytes: remove entries oldest first (modification time)
        down to ``TRIM_TO`` of it once it holds more, and temp files older than ``STALE_TMP``;
        the report counts what it removed and what the tier holds after.
        Only when no process trimmed for ``TRIM_EVERY`` seconds unless ``force``, and (where the
        tier locks) by one process at a time; ``skipped`` says it did not run. ``budget`` 0:
        no entry is removed. Raises ``OSError`` when the tier fails."""
        report = {"skipped": True, "entries": 0, "bytes": 0, "removed": 0, "freed": 0,
                  "temp_files": 0}
        guard = self._trim_begin(force)
        if guard is None:
            return report
        report["skipped"] = False
        try:
            now = time.time()
            entries = []
            for path, size, mtime, temporary in self._listing():
                if temporary:
                    if now - mtime > STALE_TMP and self._remove(path):
                        report["temp_files"] += 1
                    continue
                entries.append((mtime, path, size))
            total = sum(e[2] for e in entries)
            report["entries"], report["bytes"] = len(entries), total
            if budget > 0 and total > budget:
                entries.sort()
                for _mtime, path, size in entries:
                    if total <= budget * TRIM_TO:
                        break
                    if self._remove(path):
                        report["removed"] += 1
                        report["freed"] += size
                    total -= size
            report["entries"] -= report["removed"]
            report["bytes"] = total
        finally:
            self._trim_end(guard)
        return report

    def _trim_begin(self, force: bool):
        """A handle for ``_trim_end`` if this process trims now, else None."""
        raise NotImplementedError

    def _trim_end(self, guard) -> None:
        pass

    def _listing(self):
        """(path, size, modification time, is a temp file) of every file under ``objects/``."""
        raise NotImplementedError

    def _remove(self, path: str) -> bool:
        raise NotImplementedError


class DirectoryTier(SharedTier):
    """A directory all machines reach (NFS, a cluster filesystem, or one machine), with the
    local cache's ``objects/`` and ``locks/`` layout: temp file + ``os.replace`` (atomic on a
    POSIX filesystem), ``flock`` on ``locks/<key>.lock`` (across machines on local filesystems
    and NFSv4; see docs/distributed.md)."""

    def __init__(self, location: str, secret: bytes):
        super().__init__(location, secret)
        self.directory = prepare_cache_dir(Path(location))
        self.objects = prepare_cache_dir(self.directory / "objects")
        self.locks = prepare_cache_dir(self.directory / "locks")

    def probe(self) -> None:
        probe = self.locks / f".probe-{os.getpid()}"
        try:  # writable, and lockable
            fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(fd)
                _unlink(probe)
        except OSError as exc:
            raise CacheDirError(f"cannot use {self.location}: {exc.strerror or exc}",
                                exc.errno) from None

    def path(self, key: str) -> str:
        return os.path.join(self.objects, key[:2], key)

    def read(self, key: str):
        path = self.path(key)
        try:
            buf = _read_private(path)
        except FileNotFoundError:
            return None
        try:  # recency for trimming, noted at most hourly
            if time.time() - os.stat(path).st_mtime > TOUCH_EVERY:
                os.utime(path)
        except OSError:
            pass
        return buf

    def publish(self, key: str, chunks) -> bool:
        path = self.path(key)
        if os.path.exists(path):
            return False
        folder = os.path.dirname(path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, tmp = _mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            _unlink(Path(tmp))
            raise
        return True

    def lock(self, key: str):
        fd = os.open(os.path.join(self.locks, f"{key}.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def unlock(self, handle) -> None:
        try:
            fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError:
            pass
        os.close(handle)

    def _trim_begin(self, force: bool):
        fd = os.open(os.path.join(self.locks, ".trim.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None  # another process is trimming
        stamp = os.path.join(self.directory, "trim-stamp")
        try:
            recent = time.time() - os.stat(stamp).st_mtime < TRIM_EVERY
        except FileNotFoundError:
            recent = False
        except OSError:
            self.unlock(fd)
            raise
        if recent and not force:
            self.unlock(fd)
            return None
        try:
            with open(stamp, "a"):
                pass
            os.utime(stamp)
        except OSError:
            self.unlock(fd)
            raise
        return fd

    def _trim_end(self, guard) -> None:
        self.unlock(guard)

    def _listing(self):
        for folder in os.scandir(self.objects):
            if not folder.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(folder.path):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield entry.path, st.st_size, st.st_mtime, entry.name.startswith(".tmp-")

    def _remove(self, path: str) -> bool:
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False


class FsspecTier(SharedTier):
    """Any fsspec URL (``s3://bucket/prefix``, ``gs://``, ``file://``...) with the layout
    ``<url>/objects/<ab>/<key>``, through the fsspec backend of its protocol.

    Publish: the bytes go to a temp key (``objects/<ab>/.tmp-<key>-<random>``), then ``fs.mv``
    to the entry's key. On a filesystem that is a rename (atomic on POSIX); on an object store a
    server-side copy, and the entry's object appears whole or not at all, since a single-object
    write is atomic in S3, GCS and Azure (a direct put would be too there; the temp key is what
    keeps ``file://`` and filesystem-like backends atomic, with one code path). Even a torn read
    could only be a miss: the cache checks every entry's MAC before using it.

    Leases, not locks: an object store offers no lock through fsspec (nor a create-if-absent
    write every backend has), so single flight across machines is a lease object
    ``locks/<key>`` naming its holder and when it was taken. A process writes its own, waits
    :data:`LEASE_SETTLE` for concurrent writers' objects to land, reads it back, and holds the
    key only if the lease still names it (the last writer wins; stores with read-after-write
    consistency, as S3, GCS and Azure are, make the others see that). Others wait while a lease
    younger than :data:`LEASE_SECONDS` names someone else, and stop waiting as soon as the
    entry is published. Best effort: writers further apart than the settle time can both
    believe they hold it, and a holder computing longer than the lease loses it; at worst
    duplicate work. Never a wrong value: an entry's key is its lineage, a value under it
    verifies under the cluster's secret or is a miss, and the first entry published is kept.
    Errors of the backend (network, credentials, a protocol without its package) are
    ``OSError`` here: the cache drops the tier, as for a directory."""

    def __init__(self, location: str, secret: bytes):
        super().__init__(location, secret)
        self.root = ""
        self._fs = None
        self._pid = -1
        self._made: set[str] = set()
        self._connect()

    def _connect(self) -> None:
        try:
            from fsspec.core import url_to_fs

            self._fs, self.root = url_to_fs(self.location)
        except Exception as exc:  # noqa: BLE001 - ImportError (no fsspec, no s3fs), ValueError
            raise CacheDirError(f"cannot use {self.location}: {exc}") from None
        self.root = self.root.rstrip("/")
        self._pid = os.getpid()
        self._made = set()

    @property
    def fs(self):
        if self._pid != os.getpid():  # a fork: fsspec's instances and event loops stay behind
            self._connect()
        return self._fs

    def path(self, key: str) -> str:
        return f"{self.root}/objects/{key[:2]}/{key}"

    def probe(self) -> None:
        name = f"{self.root}/.probe-{_HOST}-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            self._makedirs(self.root)
            data = os.urandom(16)
            self.fs.pipe_file(name, data)
            try:
                same = bytes(self.fs.cat_file(name)) == data
            finally:
                self.fs.rm_file(name)
        except Exception as exc:  # noqa: BLE001 - whatever the backend raises
            raise CacheDirError(f"cannot use {self.location}: {_why(exc)}") from None
        if not same:
            raise CacheDirError(f"cannot use {self.location}: a written object read back "
                                "differently")

    def read(self, key: str):
        try:
            return bytearray(self.fs.cat_file(self.path(key)))
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise _os_error(exc) from None

    def publish(self, key: str, chunks) -> bool:
        path = self.path(key)
        tmp = f"{self.root}/objects/{key[:2]}/.tmp-{key}-{os.urandom(8).hex()}"
        fs = self.fs
        try:
            if fs.exists(path):
                return False
            self._makedirs(f"{self.root}/objects/{key[:2]}")
            fs.pipe_file(tmp, b"".join(chunks))
            fs.mv(tmp, path)
            return True
        except Exception as exc:  # noqa: BLE001
            try:
                fs.rm_file(tmp)
            except Exception:  # noqa: BLE001 - not there, or the tier is down: nothing to do
                pass
            raise _os_error(exc) from None

    def lock(self, key: str):
        """Wait for and take ``key``'s lease (a handle for :meth:`unlock`), or None once the
        entry is published (the caller then finds it)."""
        fs = self.fs
        lease = f"{self.root}/locks/{key}"
        me = f"{_HOST}:{os.getpid()}:{os.urandom(6).hex()}"
        try:
            self._makedirs(f"{self.root}/locks")
            while True:
                if fs.exists(self.path(key)):
                    return None
                holder = self._lease(lease)
                if holder is None or time.time() - holder[1] > LEASE_SECONDS:
                    fs.pipe_file(lease, f"{me} {time.time():.3f}".encode())
                    time.sleep(LEASE_SETTLE)
                    holder = self._lease(lease)
                    if holder is not None and holder[0] == me:
                        return lease, me
                time.sleep(LEASE_POLL)
        except Exception as exc:  # noqa: BLE001
            raise _os_error(exc) from None

    def unlock(self, handle) -> None:
        lease, me = handle
        try:
            holder = self._lease(lease)
            if holder is not None and holder[0] == me:
                self.fs.rm_file(lease)
        except Exception:  # noqa: BLE001 - it expires on its own
            pass

    def _lease(self, lease: str):
        """(holder, seconds since the epoch when taken) of a lease object, or None."""
        try:
            text = bytes(self.fs.cat_file(lease)).decode()
            holder, _, when = text.rpartition(" ")
            return holder, float(when)
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return None  # torn or foreign: taken over

    def _trim_begin(self, force: bool):
        """No lock: two machines may trim at once (each removal is idempotent); the stamp
        keeps that rare."""
        stamp = f"{self.root}/trim-stamp"
        try:
            try:
                recent = time.time() - _timestamp(self.fs.modified(stamp)) < TRIM_EVERY
            except (FileNotFoundError, NotImplementedError):
                recent = False
            if recent and not force:
                return None
            self.fs.pipe_file(stamp, b"")
        except Exception as exc:  # noqa: BLE001
            raise _os_error(exc) from None
        return True

    def _listing(self):
        try:
            found = self.fs.find(f"{self.root}/objects", detail=True)
        except FileNotFoundError:
            return
        except Exception as exc:  # noqa: BLE001
            raise _os_error(exc) from None
        for path, info in found.items():
            if info.get("type", "file") != "file":
                continue
            when = next((info[k] for k in ("mtime", "LastModified", "last_modified", "updated",
                                           "created") if info.get(k) is not None), None)
            yield (path, int(info.get("size") or 0), _timestamp(when),
                   path.rpartition("/")[2].startswith(".tmp-"))

    def _remove(self, path: str) -> bool:
        try:
            self.fs.rm_file(path)
            return True
        except FileNotFoundError:
            return False
        except Exception as exc:  # noqa: BLE001
            raise _os_error(exc) from None

    def _makedirs(self, folder: str) -> None:
        """Filesystem-like backends (``file://``) need the folder; object stores ignore it."""
        if folder not in self._made:
            self.fs.makedirs(folder, exist_ok=True)
            self._made.add(folder)


def _timestamp(when) -> float:
    """Seconds since the epoch from what a backend reports (a number, a datetime, ISO text);
    now when it reports nothing usable (the entry then counts as just used)."""
    import datetime

    if isinstance(when, (int, float)):
        return float(when)
    if isinstance(when, str):
        try:
            when = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return time.time()
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return when.timestamp()
    return time.time()


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _os_error(exc: BaseException) -> OSError:
    return exc if isinstance(exc, OSError) else OSError(f"{type(exc).__name__}: {exc}")


def open_shared_tier(location, local_dir) -> "tuple[SharedTier | None, str | None]":
    """(tier, None), or (None, why) if the tier cannot be used."""
    try:
        return SharedTier.open(location, local_dir), None
    except (CacheDirError, OSError) as exc:
        return None, str(exc)


class Flight:
    """Per-key single flight across processes; see :meth:`Cache.flight`.

    ``hit``/``value`` say whether the value was already in the cache (possibly computed by
    another process while we waited for its lock); otherwise we hold the key's lock until exit.
    """

    _held = threading.local()  # keys this thread holds, so a nested flight does not self-deadlock

    def __init__(self, cache: "Cache", key: str, probed: bool = False, lock: bool = True):
        self.cache = cache
        self.key = key
        self.hit = False
        self.value: Any = None
        self._fd: int | None = None
        self._shared: tuple | None = None  # (tier, its lock handle)
        self._probed = probed
        self._lock = lock

    def __enter__(self) -> "Flight":
        if not self._lock:
            return self  # a miss the caller just saw, for a value cheaper than the lock
        if not self._probed:
            # The first probe is not counted as a miss: the probe under the lock decides.
            self.hit, self.value = self.cache._lookup(self.key, count_miss=False)
        held = self._held.__dict__.setdefault("keys", set())
        if self.hit or self.key in held or not valid_key(self.key):
            return self
        self._fd = self.cache._lock_key(self.key)
        if self._fd is not None:
            held.add(self.key)
            # then the shared tier's lock: another machine may be computing this key
            self._shared = self.cache._lock_shared(self.key)
            self.hit, self.value = self.cache.get(self.key)
        return self

    def __exit__(self, *exc) -> None:
        if self._shared is not None:
            tier, handle = self._shared
            self._shared = None
            try:
                tier.unlock(handle)
            except OSError:
                pass
        if self._fd is not None:
            self._held.keys.discard(self.key)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


class Cache:
    """Lineage-keyed store of computed values; see the module docstring for the layout."""

    def __init__(self, directory: Path, size_budget: int, memory_budget: int = 512 << 20,
                 admit_all: bool = False, shared=None, shared_budget: int = 0):
        self.admit_all = admit_all
        self.directory = prepare_cache_dir(Path(directory))
        self.objects = prepare_cache_dir(self.directory / "objects")
        self.locks = prepare_cache_dir(self.directory / "locks")
        self._objects_dir, self._locks_dir = str(self.objects), str(self.locks)
        self.size_budget = int(size_budget)
        replaced: list[int] = []
        self.secret = _load_or_create_secret(self.directory / "secret", replaced.append)
        self._memory = _MemoryLayer(int(memory_budget))
        self._db_path = self.directory / "index.db"
        self._db_lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._warned: set[str] = set()
        self._reset_counters()
        self._closed = False
        try:
            self._db()
        except sqlite3.Error as exc:  # e.g. locked for longer than the busy timeout
            if not _is_busy(exc):  # busy: the next call opens it again
                self._warn("index", f"cache index unavailable ({exc}); continuing without it",
                           exc)
        if replaced:
            # Every entry was signed with the lost key: none can ever verify again.
            dropped = self.clear()
            warn(f"cache secret was damaged ({replaced[0]} bytes instead of {SECRET_SIZE}); "
                 f"set it aside as secret.damaged, made a new one and dropped the {dropped} "
                 "entries signed with the old one")
        self.shared: SharedTier | None = None  # DirectoryTier or FsspecTier
        self.shared_budget = int(shared_budget)  # bytes; 0: the tier is never trimmed
        self._trim_looked = -TRIM_EVERY  # when this process last asked the tier to trim
        if shared:
            self.shared, why = open_shared_tier(shared, self.directory)
            if why is not None:
                warn(f"shared cache tier unusable ({why}); caching locally only")
        _live.add(self)

    # ------------------------------------------------------------------ public API

    def get(self, key: str) -> tuple[bool, Any]:
        """(True, fresh value) on a hit, (False, None) on a miss. Never raises."""
        return self._lookup(key, count_miss=True)

    def _lookup(self, key: str, count_miss: bool) -> tuple[bool, Any]:
        try:
            self._after_fork()
            if not valid_key(key):
                return False, None
            frozen = self._memory.get(key)
            if frozen is not None:
                value = serialize.thaw(frozen)
                self._record_hit(key, 0)
                return True, value
            found, value = self._get_from_disk(key)
            if not found and self.shared is not None and self._copy_from_shared(key):
                found, value = self._get_from_disk(key)
            if not found and count_miss:
                self.misses += 1
            return found, value
        except Exception as exc:  # defensive: a cache bug must not become the script's bug
            self._warn("get", f"cache lookup failed ({exc!r}); recomputing", exc)
            return False, None

    def put(self, key: str, value: Any, cost: float) -> bool:
        """Store ``value`` if it is worth it (see :func:`worth_storing`); returns whether stored."""
        try:
            self._after_fork()
            if not self.admit_all and cost < MIN_COST:
                return False  # whatever its size (worth_storing): not even estimated
            if not valid_key(key) or not worth_storing(serialize.estimate_size(value), cost,
                                                         self.admit_all):
                return False
            try:
                blob = serialize.dumps(value, key=key, secret=self.secret,
                                       meta={"cost": float(cost), "created": time.time()})
            except Exception:  # unpicklable (lambda, generator, open file...): just not cached
                return False
            if not worth_storing(blob.size, cost, self.admit_all) or blob.size > self.size_budget:
                return False
            if self._memory.admits(blob.size):
                self._memory.put(key, blob.frozen)
            if not self._write_entry(key, blob):
                return self._memory.get(key) is not None
            self._used(key)
            self._index_put(key, blob.size, float(cost))
            if self.shared is not None:
                self._publish(key, blob)
            try:
                return key not in self._evict_if_needed()
            except sqlite3.Error as exc:  # index busy or broken: stored; gc() evicts later
                if not _is_busy(exc):
                    self._warn("index", f"cache index unavailable ({exc!r})", exc)
                return True
        except Exception as exc:
            self._warn("put", f"cache store failed ({exc!r}); continuing uncached", exc)
            return False

    def flight(self, key: str, probed: bool = False, lock: bool = True) -> Flight:
        """Context manager: compute ``key`` at most once across processes (see :class:`Flight`).

        ``probed``: the caller has just seen ``get(key)`` miss, so the flight does not probe
        before taking the lock. ``lock=False``: no lock (nor probe) at all, for a value that
        costs less to compute than the lock: single flight only saves work, so two processes
        computing such a value at once is harmless."""
        return Flight(self, key, probed, lock)

    def stats(self) -> dict:
        """Entries and bytes on disk, the budget, and this process's hits, misses and loads."""
        out = {
            "directory": str(self.directory),
            "entries": 0,
            "bytes": 0,
            "budget": self.size_budget,
            "memory_bytes": self._memory.bytes,
            "memory_budget": self._memory.budget,
            "hits": self.hits,
            "memory_hits": self.memory_hits,
            "misses": self.misses,
            "bytes_loaded": self.bytes_loaded,
            "stores": self.stores,
            "oldest": None,
            "newest": None,
        }
        try:
            self._flush_hits()
            row = self._query(
                "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(created), MAX(created) FROM entries"
            ).fetchone()
            out.update(entries=row[0], bytes=row[1], oldest=row[2], newest=row[3])
        except Exception as exc:
            self._warn("index", f"cache index unavailable ({exc!r})", exc)
        return out

    def clear(self) -> int:
        """Remove every entry (memory and disk); returns how many disk entries were removed."""
        self._memory.clear()
        removed = 0
        for path in self._entry_files():
            if _unlink(path):
                removed += 1
        try:
            with self._write() as db:
                db.execute("DELETE FROM entries")
            self._pending.clear()
        except Exception as exc:
            self._warn("index", f"cache index unavailable ({exc!r})", exc)
        return removed

    def gc(self) -> dict:
        """Drop corrupt entries, stale temp files and orphan index rows, then evict to budget."""
        report = {"corrupt": 0, "temp_files": 0, "orphan_rows": 0, "indexed": 0,
                  "locks": 0, "evicted": 0}
        try:
            self._after_fork()
            self._flush_hits()
            on_disk = self._gc_files(report)
            self._gc_index(on_disk, report)
            self._gc_locks(on_disk, report)
            report["evicted"] = len(self._evict_if_needed())
        except Exception as exc:
            self._warn("gc", f"cache gc failed ({exc!r})", exc)
        if self.shared is not None:
            try:
                report["shared"] = self.shared.trim(self.shared_budget, force=True)
            except OSError as exc:
                report["shared"] = {"error": f"{exc.strerror or exc}"}
        return report

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._flush_hits()
        except Exception:
            pass
        with self._db_lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
        self._memory.clear()
        _live.discard(self)

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ entries on disk

    def _path(self, key: str) -> Path:
        return self.objects / key[:2] / key

    def _get_from_disk(self, key: str) -> tuple[bool, Any]:
        # A plain string path: every executed reusable call looks here (pathlib costs more
        # than the failed open of a miss).
        path = os.path.join(self._objects_dir, key[:2], key)
        held = hot.active.take(key, path, self.secret) if hot.active is not None else None
        if held is not None:
            # verified by the server that forked this run, and still the file's bytes; the
            # buffer a disk load would give: a private mapping if big, else a bytearray
            buf = held if len(held) >= MMAP_MIN else bytearray(held)
        else:
            try:
                buf = _read_private(path)
            except FileNotFoundError:
                return False, None
            except OSError as exc:
                self._warn("read", f"cannot read cache entry {key} ({exc.strerror or exc})")
                return False, None
        try:
            if held is not None:
                frozen = serialize.open_held(buf, key=key)
            else:
                frozen, _meta = serialize.open_entry(buf, key=key, secret=self.secret)
            value = serialize.thaw_in_place(frozen)
        except serialize.CorruptEntry as exc:
            self._drop_corrupt(key, path, exc.kind)
            return False, None
        except serialize.UnloadableEntry as exc:
            # Authentic but not loadable in this process: a miss, but left for processes that can.
            self._warn("unloadable", f"a cache entry could not be loaded ({exc}); recomputing")
            return False, None
        size = len(buf)
        self.bytes_loaded += size
        if held is not None:
            self.hot_hits += 1
            self.hot_bytes += size
        self._record_hit(key, size)
        if held is None and self._memory.admits(size):
            # The caller owns the loaded object (its arrays view ``buf``); memory keeps bytes.
            # (Not from the server's memory: that copy of every entry would cost a served
            # re-run more than its verified loads; a second load in the run reads the disk.)
            self._memory.put(key, frozen)
        return True, value

    def _drop_corrupt(self, key: str, path, kind: str) -> None:
        _unlink(path)
        self._memory.discard(key)
        try:
            with self._write() as db:
                db.execute("DELETE FROM entries WHERE key = ?", (key,))
        except Exception:
            pass
        self._warn("corrupt", f"dropped a damaged cache entry ({kind}); recomputing")

    def _write_entry(self, key: str, blob: serialize.Blob) -> bool:
        """Write atomically: a temp file in the same directory, then ``os.replace``."""
        folder = self._path(key).parent
        tmp = None
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = _mkstemp(prefix=".tmp-", dir=folder)  # mkstemp creates 0600
            with os.fdopen(fd, "wb") as out:
                for chunk in blob.chunks:
                    out.write(chunk)
            os.replace(tmp, self._path(key))
            self.stores += 1
            return True
        except OSError as exc:
            if tmp is not None:
                _unlink(Path(tmp))
            self._warn("write", f"cannot write to the cache ({exc.strerror or exc}); "
                                "continuing uncached", exc)
            return False

    # ------------------------------------------------------------------ shared tier

    def _copy_from_shared(self, key: str) -> bool:
        """A local miss: copy the shared tier's entry in, signed with the local secret."""
        tier = self.shared
        try:
            buf = tier.read(key)
        except OSError as exc:
            return self._shared_failed(exc)
        if buf is None:
            return False
        try:
            local = serialize.resign(buf, key=key, secret=tier.secret, new_secret=self.secret)
        except serialize.CorruptEntry:
            return False  # another cluster's secret, or damaged: never deleted from here
        if not self._write_entry(key, serialize.Blob([local], len(local))):
            return False
        try:
            header, _ = serialize.read_header(local)
            cost = float((header.get("meta") or {}).get("cost", 0.0))
        except (serialize.CorruptEntry, TypeError, ValueError):
            cost = 0.0
        self._index_put(key, len(local), cost)
        tier.hits += 1
        return True

    def _publish(self, key: str, blob: serialize.Blob) -> None:
        """Write a stored entry to the shared tier too (atomically; kept if already there)."""
        tier = self.shared
        try:
            if tier.publish(key, serialize.resigned(blob, tier.secret).chunks):
                tier.published += 1
                if self.shared_budget > 0 and \
                        time.monotonic() - self._trim_looked >= TRIM_EVERY:
                    self._trim_looked = time.monotonic()
                    tier.trim(self.shared_budget)
        except OSError as exc:
            self._shared_failed(exc)

    def _lock_shared(self, key: str) -> tuple | None:
        """(tier, handle) holding the tier's lock on ``key``, or None (no tier, or it does not
        lock: see :class:`FsspecTier`)."""
        tier = self.shared
        if tier is None:
            return None
        try:
            handle = tier.lock(key)
        except OSError as exc:
            self._shared_failed(exc)
            return None
        return None if handle is None else (tier, handle)

    def _shared_failed(self, exc: OSError) -> bool:
        """The tier failed after it opened: local caching for the rest of this process,
        silently (this may be a script's process; its stderr must stay what python shows)."""
        if self.shared is not None:
            self.shared.error = f"{exc.strerror or exc}"
            self.shared = None
        return False

    def _entry_files(self):
        try:
            folders = [p for p in self.objects.iterdir() if p.is_dir()]
        except OSError:
            return
        for folder in folders:
            try:
                yield from (p for p in folder.iterdir() if p.is_file())
            except OSError:
                continue

    # ------------------------------------------------------------------ index (SQLite)

    def _db(self) -> sqlite3.Connection:
        """The connection, opened lazily, reopened after fork, rebuilt if the file is corrupt."""
        with self._db_lock:
            if self._conn is None:
                try:
                    self._conn = _open_index(self._db_path)
                except sqlite3.DatabaseError as exc:
                    if isinstance(exc, sqlite3.OperationalError) and not _is_corrupt(exc):
                        raise
                    self._warn("index-corrupt", "cache index was corrupt; rebuilding it")
                    for suffix in ("", "-wal", "-shm"):
                        _unlink(Path(str(self._db_path) + suffix))
                    self._conn = _open_index(self._db_path)
                    self._rebuild_index()
            return self._conn

    def _query(self, sql: str, args: tuple = ()):
        with self._db_lock:
            return self._db().execute(sql, args)

    def _write(self):
        return _Transaction(self)

    def _index_put(self, key: str, size: int, cost: float) -> None:
        now = time.time()
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO entries(key, size, cost, created, last_used, hits)"
                    " VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT(key) DO UPDATE SET"
                    " size = excluded.size, cost = excluded.cost, last_used = excluded.last_used",
                    (key, size, cost, now, now),
                )
        except Exception as exc:  # the file is there; gc() will index it later
            if not _is_busy(exc):
                self._warn("index", f"cache index unavailable ({exc!r})", exc)

    def _record_hit(self, key: str, size: int) -> None:
        """Count hits in memory and write them in batches: a hit should not cost a transaction."""
        self._used(key)
        with self._db_lock:
            self.hits += 1
            if size == 0:
                self.memory_hits += 1
            self._pending[key] = (self._pending.get(key, (0, 0))[0] + 1, time.time())
            due = len(self._pending) >= _FLUSH_EVERY or time.monotonic() - self._last_flush > 1.0
        if due:
            try:
                self._flush_hits()
            except Exception:
                pass

    def _flush_hits(self) -> None:
        with self._db_lock:
            self._last_flush = time.monotonic()
            if not self._pending:
                return
            pending, self._pending = self._pending, {}
        with self._write() as db:
            db.executemany(
                "UPDATE entries SET hits = hits + ?, last_used = MAX(last_used, ?) WHERE key = ?",
                [(n, at, key) for key, (n, at) in pending.items()],
            )

    def _evict_if_needed(self) -> list[str]:
        """Evict lowest benefit density (cost*(1+hits)/size) first until under the size budget.

        Returns the evicted keys (so ``put`` can tell whether its own entry lost). Rows are
        deleted in one transaction, files after the commit; a reader that already has a file
        open keeps a valid view of it.
        """
        victims: list[str] = []
        with self._write() as db:
            total = db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
            if total <= self.size_budget:
                return victims
            rows = db.execute(
                "SELECT key, size FROM entries"
                " ORDER BY cost * (1 + hits) / MAX(size, 1) ASC, last_used ASC"
            ).fetchall()
            for key, size in rows:
                if total <= self.size_budget:
                    break
                victims.append(key)
                total -= size
            db.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k in victims])
        for key in victims:
            _unlink(self._path(key))
            self._memory.discard(key)
        return victims

    def _rebuild_index(self) -> None:
        """Re-create index rows from the entry files' headers (cost and created are in them)."""
        rows = []
        for path in self._entry_files():
            row = self._row_from_file(path)
            if row is not None:
                rows.append(row)
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO entries(key, size, cost, created, last_used, hits)"
                " VALUES (?, ?, ?, ?, ?, 0)", rows)

    def _row_from_file(self, path: Path):
        if not valid_key(path.name):
            return None
        try:
            with open(path, "rb") as f:
                head = f.read(serialize.PREFIX_SIZE + (1 << 20))
                size = os.fstat(f.fileno()).st_size
            header, _ = serialize.read_header(head, file_size=size)
        except (OSError, serialize.CorruptEntry):
            return None
        meta = header.get("meta") or {}
        try:
            cost, created = float(meta.get("cost", 0.0)), float(meta.get("created", time.time()))
        except (TypeError, ValueError):
            return None
        return (path.name, size, cost, created, created)

    # ------------------------------------------------------------------ gc helpers

    def _gc_files(self, report: dict) -> set[str]:
        """Verify every entry (MAC included, no unpickling); drop bad ones and stale temps."""
        keep: set[str] = set()
        for path in self._entry_files():
            if path.name.startswith(".tmp-"):
                if time.time() - _mtime(path) > 3600:  # a crashed writer's leftover
                    report["temp_files"] += _unlink(path)
                continue
            if not valid_key(path.name) or path.parent.name != path.name[:2]:
                report["corrupt"] += _unlink(path)
                continue
            if self._verify_file(path):
                keep.add(path.name)
            else:
                report["corrupt"] += _unlink(path)
                self._memory.discard(path.name)
        return keep

    def _verify_file(self, path: Path) -> bool:
        try:
            buf = _read_private(path)
            serialize.verify(buf, key=path.name, secret=self.secret)
            return True
        except FileNotFoundError:
            return False
        except (OSError, serialize.CorruptEntry):
            return False

    def _gc_index(self, on_disk: set[str], report: dict) -> None:
        indexed = {row[0] for row in self._query("SELECT key FROM entries").fetchall()}
        orphans = indexed - on_disk
        missing = [self._row_from_file(self._path(k)) for k in on_disk - indexed]
        missing = [row for row in missing if row is not None]
        with self._write() as db:
            db.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k in orphans])
            db.executemany(
                "INSERT OR IGNORE INTO entries(key, size, cost, created, last_used, hits)"
                " VALUES (?, ?, ?, ?, ?, 0)", missing)
        report["orphan_rows"] = len(orphans)
        report["indexed"] = len(missing)

    def _gc_locks(self, on_disk: set[str], report: dict) -> None:
        """Remove lock files nobody holds. (A racing flight may at worst compute twice.)"""
        try:
            names = list(os.scandir(self.locks))
        except OSError:
            return
        for entry in names:
            try:
                fd = os.open(entry.path, os.O_RDWR | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                report["locks"] += _unlink(Path(entry.path))
            except OSError:
                pass
            finally:
                os.close(fd)

    # ------------------------------------------------------------------ misc

    def _lock_key(self, key: str) -> int | None:
        """Block until we hold ``locks/<key>.lock``; None if locking is impossible (then no
        lock)."""
        try:
            fd = os.open(os.path.join(self._locks_dir, f"{key}.lock"),
                         os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            self._warn("lock", f"cannot lock a cache key ({exc.strerror or exc})", exc)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            os.close(fd)
            self._warn("lock", f"cannot lock a cache key ({exc.strerror or exc})")
            return None
        return fd

    def used_keys(self) -> list[str]:
        """In a run forked by the stratum server: the entries it loaded or stored, least
        recently used first (at most ``hot.MAX_REPORTED``; the server holds them next)."""
        return list(self._used_keys)

    def _used(self, key: str) -> None:
        if hot.active is None:  # only a server's runs report what they used
            return
        used = self._used_keys
        used.pop(key, None)
        used[key] = None
        if len(used) > hot.MAX_REPORTED:
            used.popitem(last=False)

    def _reset_counters(self) -> None:
        self.hits = self.memory_hits = self.misses = self.bytes_loaded = self.stores = 0
        self.hot_hits = self.hot_bytes = 0  # loads from the memory of the server (cache.hot)
        self._used_keys: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, tuple[int, float]] = {}
        self._last_flush = time.monotonic()

    def _after_fork(self) -> None:
        """SQLite connections must not cross fork(): a child opens its own, and counts afresh."""
        if self._pid != os.getpid():
            with self._db_lock:
                self._pid = os.getpid()
                self._conn = None  # abandon (do not close) the parent's connection
                self._reset_counters()

    def _warn(self, kind: str, message: str, exc: BaseException | None = None) -> None:
        """One line per kind of failure per cache (one cache per process in practice); a full
        disk (``exc`` says so) is one line per process, shared with the trace store."""
        if exc is not None and disk_full(exc, self.directory, _largest(self._db_path)):
            return
        if kind not in self._warned:
            self._warned.add(kind)
            warn(message)


class _Transaction:
    """``with cache._write() as db``: BEGIN IMMEDIATE ... COMMIT under the instance lock."""

    def __init__(self, cache: Cache):
        self.cache = cache

    def __enter__(self) -> sqlite3.Connection:
        self.cache._after_fork()
        self.cache._db_lock.acquire()
        try:
            self.conn = self.cache._db()
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.cache._db_lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type, *rest) -> None:
        try:
            if exc_type is None:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error:
                    self._rollback()
                    raise
            else:
                self._rollback()
        finally:
            self.cache._db_lock.release()

    def _rollback(self) -> None:
        """Never leave a transaction open: the next BEGIN on this connection would fail."""
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


# ---------------------------------------------------------------------- module helpers

_live: "weakref.WeakSet[Cache]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Write pending hit counts of caches still open at interpreter exit."""
    for cache in list(_live):
        if cache._pid == os.getpid():
            cache.close()


def _open_index(path: Path) -> sqlite3.Connection:
    # Create the file 0600 first: SQLite gives its -wal and -shm files the database's mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    return sqlite_wal.connect(path, 10.0, _create_index_table, check_same_thread=False)


def _create_index_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, size INTEGER NOT NULL,"
        " cost REAL NOT NULL, created REAL NOT NULL, last_used REAL NOT NULL,"
        " hits INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute("SELECT COUNT(*) FROM entries").fetchone()


def _is_busy(exc: BaseException) -> bool:
    """Another process held the index longer than the busy timeout (SQLITE_BUSY / LOCKED).

    Only concurrent runs meet it, so a line on the script's stderr would make the output
    depend on what else runs (``stratum run --jobs 2`` against ``--jobs 1``); nothing is
    lost either: the entry file is the truth and ``gc()`` indexes it later."""
    return sqlite_wal.is_busy(exc)


_is_corrupt = sqlite_wal.is_corrupt


def _largest(db_path: Path) -> int:
    """Size of a SQLite database or of its WAL, whichever is bigger (what a write grows)."""
    return max(_size(db_path), _size(Path(str(db_path) + "-wal")))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _load_or_create_secret(path: Path, on_replace=None) -> bytes:
    """Read the cache's HMAC key, creating it atomically (link of a complete temp file) if absent.

    A secret another user owns or can read would let them forge entries (pickles we would run),
    so anything but a 0600 regular file of ours is refused. One of ours of the wrong length is
    damaged: it is set aside (``secret.damaged``) and a new one made; ``on_replace(length)`` is
    then called in the one process that replaced it (entries signed with the old key can never
    verify again: the caller drops them; any it misses fail their MAC when read).
    """
    for _ in range(4):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            _create_secret(path)
            continue
        except OSError as exc:
            raise CacheDirError(f"cannot read cache secret {path}: {exc.strerror or exc}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise CacheDirError(f"cache secret {path} is not a regular file")
            if info.st_uid != os.getuid():
                raise CacheDirError(f"cache secret {path} is owned by another user")
            if info.st_mode & 0o077:
                raise CacheDirError(f"cache secret {path} is accessible by other users")
            data = os.read(fd, SECRET_SIZE + 1)
            if len(data) == SECRET_SIZE:
                return data
            if _replace_damaged_secret(path, fd) and on_replace is not None:
                on_replace(len(data))
        finally:
            os.close(fd)
    raise CacheDirError(f"cannot create cache secret {path}")


def _replace_damaged_secret(path: Path, fd: int) -> bool:
    """Set aside the damaged secret open as ``fd`` and link a new one at ``path``.

    Several processes can find the same damaged file at once: each locks that file (not the
    path) and replaces it only if ``path`` still names it, so exactly one replaces it and the
    others read the new secret, and they all agree on it. True in the one that replaced it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            now = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return False  # set aside by another process, which is creating the new one
        mine = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
            return False  # already replaced
        aside = path.with_name(path.name + ".damaged")
        os.replace(path, aside)
        _create_secret(path)
        return True
    except OSError as exc:
        raise CacheDirError(f"cache secret {path} is damaged and cannot be replaced: "
                            f"{exc.strerror or exc}", exc.errno) from None
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass


def _create_secret(path: Path) -> None:
    try:
        fd, tmp = _mkstemp(prefix=".secret-", dir=path.parent)
    except OSError as exc:
        raise CacheDirError(f"cannot create cache secret in {path.parent}: {exc.strerror}",
                            exc.errno) from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(SECRET_SIZE))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # fails if another process won the race: then we read theirs
        except FileExistsError:
            pass
    except OSError as exc:
        raise CacheDirError(f"cannot create cache secret {path}: {exc.strerror or exc}",
                            exc.errno) from None
    finally:
        _unlink(Path(tmp))


def read_secret(directory) -> bytes:
    """The HMAC key of the cache at ``directory`` (made if absent), checked as a Cache does."""
    return _load_or_create_secret(Path(directory) / "secret")


def _read_private(path: Path):
    """The entry's bytes in a private writable buffer: a read for small files, else a
    copy-on-write mapping (writes to arrays built on it never reach the file)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        if size >= MMAP_MIN:
            return mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE,
                             prot=mmap.PROT_READ | mmap.PROT_WRITE)
        buf = bytearray(size)
        view, done = memoryview(buf), 0
        while done < size:
            n = os.readv(fd, [view[done:]])
            if n == 0:
                break
            done += n
        return buf if done == size else buf[:done]
    finally:
        os.close(fd)


def _unlink(path: Path) -> int:
    try:
        os.unlink(path)
        return 1
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
