"""Cache entries a resident process (the stratum server) holds verified in memory for its forks.

A served re-run's cache loads are mostly the HMAC check of the entries' bytes (a SHA-256 pass
over every byte: ~0.3 s for 470 MB here, bench/RESULTS.md "Hot entries in the server's
memory"). The server reads and verifies the entries its recent runs used *between* runs, into
anonymous memory of its own; a run, being a ``fork()`` of the server, finds them in its own
address space, copy-on-write, and skips the read and the HMAC.

Why a value built from a held entry is exactly what a disk load gives, and shares nothing:

* The bytes are the entry file's bytes, verified under the cache's secret (the MAC, the key
  and the header) before they are held; the server never writes them afterwards (it runs no
  user code). A run then thaws them with the same code as a disk load (``serialize``), in its
  own process: classes resolve in the run's interpreter, never in the server's.
* Each run has its own copy-on-write address space: what a run writes into arrays built on
  the held bytes lands in pages private to that run; the server's bytes, and every other
  run's, stay as verified. That is the same guarantee a ``MAP_PRIVATE`` mapping of the file
  gives a disk load.
* Within one run an entry is handed out at most once (:meth:`HotSet.take` removes it): a
  second load of the key in the same run cannot see what the script did to the first value;
  it reads the disk as before.
* Never stale: at each take the entry file's first 48 bytes (magic, version, header length and
  MAC, which covers the whole entry) and its size are compared with the held copy's, and the
  cache's secret with the one it was verified under. An entry deleted (``cache gc``, eviction,
  ``cache clear``), replaced by another process or signed with another secret is not served from
  memory; the run reads the disk, exactly as without a server.

Bounded: at most ``budget`` bytes are held (least recently used dropped first, an entry larger
than the budget never held). Each entry is its own anonymous mapping, unmapped when dropped, so
the server's resident memory follows the held bytes (its freed memory goes back to the system).
Loading is done in slices (:meth:`HotSet.step`) so the server's loop answers a request between
two slices.
"""
from __future__ import annotations

import hashlib
import hmac
import mmap
import os
import time
from collections import OrderedDict

from stratum.cache import serialize

#: Bytes read (and hashed) per slice of a load: ~5 ms here; a request waits at most one slice.
SLICE = 8 << 20
#: Keys a run reports as used (the most recent ones); the report must fit in a pipe's buffer.
MAX_REPORTED = 800
_HEAD = serialize.PREFIX_SIZE

#: The hot set of this process, set by the server before it forks runs (None elsewhere).
active: "HotSet | None" = None


class HotEntry:
    __slots__ = ("key", "memory", "size", "secret")

    def __init__(self, key: str, memory: mmap.mmap, size: int, secret: bytes):
        self.key, self.memory, self.size, self.secret = key, memory, size, secret


class _Load:
    """A load in progress: an entry file being read into anonymous memory and MAC'd."""

    def __init__(self, key: str, fd: int, size: int, secret: bytes):
        self.key, self.fd, self.size, self.secret = key, fd, size, secret
        self.memory = mmap.mmap(-1, size)
        self.done = 0
        self.mac = None

    def close(self, keep: bool = False) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if not keep:
            _unmap(self.memory)


class HotSet:
    """The entries held (see the module docstring) of the cache at ``directory``."""

    def __init__(self, directory, budget: int, secret_source):
        self.objects = os.path.join(os.fspath(directory), "objects")
        self.budget = max(0, int(budget))
        self.secret_source = secret_source  # () -> the cache's secret now (it may be replaced)
        self.bytes = 0
        self.items: OrderedDict[str, HotEntry] = OrderedDict()
        self.pending: OrderedDict[str, None] = OrderedDict()
        self.loading: _Load | None = None
        self.loads = self.dropped = self.rejected = 0

    def path(self, key: str) -> str:
        return os.path.join(self.objects, key[:2], key)

    # ---- the server's side --------------------------------------------------------------
    def want(self, keys) -> None:
        """Entries a run used (oldest first): held ones become the most recently used, the
        others are loaded by :meth:`step`."""
        if self.budget <= 0:
            return
        for key in keys:
            if not _valid(key):
                continue
            if key in self.items:
                self.items.move_to_end(key)
            self.pending.pop(key, None)
            self.pending[key] = None  # held ones too: checked against the file (replaced?)

    @property
    def busy(self) -> bool:
        return bool(self.pending) or self.loading is not None

    def step(self, seconds: float = 0.005) -> None:
        """Load for about ``seconds`` (at least one slice), then return."""
        deadline = time.monotonic() + seconds
        while self.busy:
            if self.loading is None:
                key, _ = self.pending.popitem(last=False)
                self._start(key)
                continue
            self._slice()
            if time.monotonic() >= deadline:
                return

    def _start(self, key: str) -> None:
        try:
            secret = self.secret_source()
            fd = os.open(self.path(key), os.O_RDONLY | os.O_NOFOLLOW)
        except Exception:  # noqa: BLE001 - gone, unreadable, no secret: simply not held
            self._forget(key)
            return
        try:
            size = os.fstat(fd).st_size
            held = self.items.get(key)
            if held is not None:
                if held.secret == secret and held.size == size and \
                        os.pread(fd, _HEAD, 0) == held.memory[:_HEAD]:
                    os.close(fd)  # still the entry on disk
                    return
                self._forget(key)  # replaced on disk, or another secret: load it again
            if not _HEAD < size <= self.budget:
                raise ValueError("size")
            self._make_room(size)
            self.loading = _Load(key, fd, size, secret)
        except (OSError, ValueError):
            os.close(fd)

    def _slice(self) -> None:
        load = self.loading
        try:
            with memoryview(load.memory) as view:
                end = min(load.size, load.done + SLICE)
                while load.done < end:
                    n = os.readv(load.fd, [view[load.done:end]])
                    if n == 0:
                        raise OSError("short read")
                    if load.mac is None and load.done + n >= _HEAD:
                        load.mac = hmac.new(load.secret, view[:16], hashlib.sha256)
                        load.mac.update(view[_HEAD:load.done + n])
                    elif load.mac is not None:
                        load.mac.update(view[load.done:load.done + n])
                    load.done += n
            if load.done < load.size:
                return
            self.loading = None
            if not self._verified(load):
                self.rejected += 1
                load.close()
                return
            load.close(keep=True)
            self._make_room(load.size)
            self.items[load.key] = HotEntry(load.key, load.memory, load.size, load.secret)
            self.bytes += load.size
            self.loads += 1
        except OSError:
            self.loading = None
            load.close()

    @staticmethod
    def _verified(load: _Load) -> bool:
        mem = load.memory
        if load.mac is None or not hmac.compare_digest(load.mac.digest(), mem[16:_HEAD]):
            return False
        try:  # a copy of the prefix and header (a view would pin the mapping)
            header, _ = serialize.read_header(mem[:_HEAD + serialize.MAX_HEADER],
                                              file_size=load.size)
        except serialize.CorruptEntry:
            return False
        return header.get("key") == load.key

    def _make_room(self, size: int) -> None:
        held = self.loading.size if self.loading is not None else 0
        while self.items and self.bytes + held + size > self.budget:
            _, entry = self.items.popitem(last=False)
            self._drop(entry)

    def _forget(self, key: str) -> None:
        entry = self.items.pop(key, None)
        if entry is not None:
            self._drop(entry)

    def _drop(self, entry: HotEntry) -> None:
        self.bytes -= entry.size
        self.dropped += 1
        _unmap(entry.memory)  # the server's resident memory goes down at once

    def clear(self) -> None:
        """Hold nothing (a run with a memory limit: the held bytes would count against it)."""
        if self.loading is not None:
            self.loading.close()
            self.loading = None
        self.pending.clear()
        while self.items:
            self._drop(self.items.popitem()[1])

    def fds(self) -> list[int]:
        """File descriptors the hot set has open (a forked run closes them)."""
        return [self.loading.fd] if self.loading is not None and self.loading.fd >= 0 else []

    def forget_fds(self) -> None:
        """In a forked run, after its fds were closed: no load continues here (and the
        half-read mapping of one in progress is unmapped: it would only take address space)."""
        if self.loading is not None:
            self.loading.fd = -1
            self.loading.close()
            self.loading = None
        self.pending.clear()

    def stats(self) -> dict:
        return {"entries": len(self.items), "bytes": self.bytes, "budget": self.budget,
                "loads": self.loads, "dropped": self.dropped, "rejected": self.rejected,
                "pending": len(self.pending) + (self.loading is not None)}

    # ---- a run's side -------------------------------------------------------------------
    def take(self, key: str, path: str, secret: bytes):
        """The held bytes of ``key`` (an mmap private to this process) if they are exactly
        the entry file now at ``path``, verified under ``secret``; else None. Once per key."""
        entry = self.items.pop(key, None)
        if entry is None or entry.secret != secret or path != self.path(key):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size != entry.size or \
                    os.pread(fd, _HEAD, 0) != entry.memory[:_HEAD]:
                return None
        except OSError:
            return None
        finally:
            os.close(fd)
        return entry.memory


def _unmap(memory: mmap.mmap) -> None:
    try:
        memory.close()
    except BufferError:  # a view of it still alive somewhere: unmapped when that goes
        pass


def _valid(key) -> bool:
    return isinstance(key, str) and len(key) == 32 and all(c in "0123456789abcdef" for c in key)
