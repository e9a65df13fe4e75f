"""On-disk encoding of one cache entry: pickle protocol 5 with raw, aligned out-of-band buffers.

Why this shape:

* numpy arrays, the numeric blocks inside pandas frames and the arrays of scipy sparse matrices
  all hand their memory to pickle 5's ``buffer_callback``. Those buffers are written raw and
  aligned to 64 bytes, so a load can map the file copy-on-write and let numpy point straight at
  the mapped pages instead of parsing and copying them. Everything else (estimators, object
  arrays, plain Python values) rides in the pickle stream, which keeps exact pickle semantics:
  a loaded object behaves like the original (dtypes, index, flags, shared references).
* Loading a pickle runs code, so every entry carries an HMAC-SHA256 under the cache's secret and
  :func:`loads` verifies it before a single byte is unpickled. The MAC also covers the entry's
  key, so an entry cannot be replayed under another key's file name.

File layout (all integers little-endian)::

    0   magic      8 bytes  b"STRATUM\\x00"
    8   version    u32
    12  header_len u32
    16  mac        32 bytes HMAC-SHA256(secret, bytes[0:16] + header + data region)
    48  header     header_len bytes of JSON: key, meta, total size, segments
    ..  zero padding up to a multiple of 64 -> data_start
    data region: segment 0 is the pickle stream, segments 1.. the out-of-band buffers, each
    starting at a multiple of 64 (offsets in the header are relative to data_start).
"""
from __future__ import annotations

import copyreg
import hashlib
import hmac
import io
import json
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"STRATUM\x00"
VERSION = 1
ALIGN = 64
_PREFIX = struct.Struct("<8sII32s")
PREFIX_SIZE = _PREFIX.size  # 48
_MAC_START = 16  # bytes [0:16) of the prefix are covered by the MAC, [16:48) hold it
MAX_HEADER = _MAX_HEADER = 1 << 20  # bytes of JSON header at most
_ZEROS = bytes(ALIGN)


class CorruptEntry(Exception):
    """The bytes are not a valid entry for this key and secret; ``kind`` names why (for warnings)."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class UnloadableEntry(Exception):
    """An authentic entry whose pickle fails to load here (e.g. a class this process lacks)."""


@dataclass
class Frozen:
    """A value as a pickle stream plus its out-of-band buffers; :func:`thaw` rebuilds it.

    Held immutable (``bytes``) it is what the in-memory layer keeps: thawing hands out a fresh
    object with exactly the semantics of a load from disk (dtypes, read-only flags, aliasing).
    """

    stream: bytes
    buffers: list  # memoryviews (maybe into the live value) or bytes

    @property
    def nbytes(self) -> int:
        return len(self.stream) + sum(memoryview(b).nbytes for b in self.buffers)

    def detached(self) -> "Frozen":
        """A copy that shares no memory with the value it was frozen from."""
        return Frozen(self.stream, [bytes(b) for b in self.buffers])


@dataclass
class Blob:
    """An encoded entry: write ``chunks`` in order to get the file (``size`` bytes in total)."""

    chunks: list = field(default_factory=list)
    size: int = 0
    frozen: Frozen | None = None

    @property
    def buffer_bytes(self) -> int:
        """Bytes stored raw (out of band) rather than inside the pickle stream."""
        return sum(memoryview(b).nbytes for b in self.frozen.buffers) if self.frozen else 0


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def freeze(value: Any) -> Frozen:
    """Pickle (protocol 5) with out-of-band buffers; in-band if a buffer is not contiguous.

    The buffers are views of ``value``'s memory: use them before ``value`` changes, or
    :meth:`Frozen.detached`. Raises whatever pickling raises for unpicklable values.
    """
    value = _normalise(value)
    buffers: list[pickle.PickleBuffer] = []
    stream = _dumps(value, buffers.append)
    try:
        return Frozen(stream, [b.raw() for b in buffers])
    except BufferError:
        return Frozen(_dumps(value, None), [])


def _dumps(value: Any, buffer_callback) -> bytes:
    """``pickle.dumps(value, protocol=5)``, except that numpy's shared dtype instances
    (``np.dtype("int64")`` ...) load back as those same instances.

    numpy pickles a dtype as ``np.dtype("i8", False, True)``, which builds a *new* dtype
    object: every array of a loaded value would then own a private dtype where a computed
    one shares the canonical instance. Identity is observable, e.g. by ``pickle.dump`` of the
    loaded value (memo references), so a reused result would not pickle to the bytes the
    computed one does.
    """
    out = io.BytesIO()
    pickler = _Pickler(out, protocol=5, buffer_callback=buffer_callback)
    table = _dispatch_table()
    if table is not None:
        pickler.dispatch_table = table
    pickler.dump(value)
    return out.getvalue()


_DTYPE_TABLE: tuple = (None, None)  # (numpy dtype classes seen, dispatch table)


def _dispatch_table():
    global _DTYPE_TABLE
    np = _numpy()
    if np is None:
        return None
    classes, seen = set(), [np.dtype]
    while seen:
        for sub in seen.pop().__subclasses__():
            if sub not in classes:
                classes.add(sub)
                seen.append(sub)
    classes.add(np.dtype)
    known, table = _DTYPE_TABLE
    if known != classes or table is None:
        table = {cls: _reduce_dtype for cls in classes}
        _DTYPE_TABLE = (classes, table)
    merged = dict(copyreg.dispatch_table)
    merged.update(table)
    return merged


def _reduce_dtype(dtype):
    np = _numpy()
    try:
        canonical = np.dtype(dtype.str) is dtype
    except Exception:
        canonical = False
    if canonical:
        return np.dtype, (dtype.str,)
    return dtype.__reduce_ex__(5)


class _Pickler(pickle.Pickler):
    """Pickles the interpreter's NaN singletons (``np.nan``, ``math.nan``) by reference.

    A float unpickles as a new object, but code tests ``x is np.nan`` (pandas does, on object
    columns): a loaded value must hold the same objects a computed one does."""

    def persistent_id(self, obj):
        if type(obj) is float and obj != obj:
            for name, nan in _nans():
                if obj is nan:
                    return name
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        for name, nan in _nans():
            if pid == name:
                return nan
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def _nans():
    import math

    np = _numpy()
    return (("numpy.nan", np.nan if np is not None else math.nan), ("math.nan", math.nan))


def _loads(stream, buffers) -> Any:
    return _Unpickler(io.BytesIO(stream), buffers=buffers).load()


def thaw(frozen: Frozen) -> Any:
    """A new object from a frozen value; every buffer is copied into fresh writable memory
    (numpy still restores arrays that were read-only as read-only)."""
    return _loads(frozen.stream, [bytearray(b) for b in frozen.buffers])


def _normalise(value: Any) -> Any:
    """A top-level non-contiguous array is compacted first so its data can go out of band.

    (pickle would otherwise copy it into the stream; the loaded result is the same either way.)
    """
    np = _numpy()
    if np is not None and type(value) is np.ndarray and value.dtype != object:
        if not (value.flags.c_contiguous or value.flags.f_contiguous):
            compact = value.copy(order="K")
            compact.flags.writeable = value.flags.writeable
            return compact
    return value


def _numpy():
    import sys

    return sys.modules.get("numpy")


def dumps(value: Any, *, key: str, secret: bytes, meta: dict | None = None) -> Blob:
    """Encode ``value`` as the entry for ``key``. Raises whatever pickling raises if it cannot."""
    frozen = freeze(value)
    stream, buffers = frozen.stream, frozen.buffers
    segments, offset = [], 0
    for part in [memoryview(stream), *buffers]:
        segments.append([offset, part.nbytes])
        offset = _align(offset + part.nbytes)
    data_len = segments[-1][0] + segments[-1][1]

    header = {"key": key, "meta": meta or {}, "segments": segments, "data_len": data_len}
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    data_start = _align(PREFIX_SIZE + len(header_bytes))

    chunks: list = [b"", header_bytes, _ZEROS[: data_start - PREFIX_SIZE - len(header_bytes)]]
    position = 0
    for (start, _), part in zip(segments, [memoryview(stream), *buffers]):
        if start > position:
            chunks.append(_ZEROS[: start - position])
        chunks.append(part)
        position = start + part.nbytes

    lead = MAGIC + struct.pack("<II", VERSION, len(header_bytes))
    mac = hmac.new(secret, lead, hashlib.sha256)
    for chunk in chunks[1:]:
        mac.update(chunk)
    chunks[0] = _PREFIX.pack(MAGIC, VERSION, len(header_bytes), mac.digest())
    return Blob(chunks, data_start + data_len, frozen)


def resigned(blob: Blob, secret: bytes) -> Blob:
    """The same entry signed with another secret (the shared cache tier's: stratum/cache/cache.py)."""
    lead = MAGIC + struct.pack("<II", VERSION, len(blob.chunks[1]))
    mac = hmac.new(secret, lead, hashlib.sha256)
    for chunk in blob.chunks[1:]:
        mac.update(chunk)
    chunks = [_PREFIX.pack(MAGIC, VERSION, len(blob.chunks[1]), mac.digest()), *blob.chunks[1:]]
    return Blob(chunks, blob.size, blob.frozen)


def resign(buf, *, key: str, secret: bytes, new_secret: bytes) -> bytearray:
    """An entry's bytes verified under ``secret`` (CorruptEntry if not), signed with
    ``new_secret``: a copy from the shared tier becomes a local entry without unpickling."""
    verify(buf, key=key, secret=secret)
    view = memoryview(buf)
    mac = hmac.new(new_secret, bytes(view[:_MAC_START]), hashlib.sha256)
    mac.update(view[PREFIX_SIZE:])
    out = bytearray(view)
    out[_MAC_START:PREFIX_SIZE] = mac.digest()
    return out


def read_header(buf, file_size: int | None = None) -> tuple[dict, int]:
    """Parse the prefix and JSON header (no unpickling, no MAC check); returns (header, data_start).

    ``buf`` may be just the first bytes of the file when ``file_size`` gives the real size.
    """
    view = memoryview(buf)
    file_size = view.nbytes if file_size is None else file_size
    if view.nbytes < PREFIX_SIZE:
        raise CorruptEntry("truncated entry", "shorter than its prefix")
    magic, version, header_len, _ = _PREFIX.unpack_from(view, 0)
    if magic != MAGIC:
        raise CorruptEntry("corrupt entry", "bad magic")
    if version != VERSION:
        raise CorruptEntry("entry of another format version")
    if header_len > _MAX_HEADER or PREFIX_SIZE + header_len > view.nbytes:
        raise CorruptEntry("truncated entry", "header runs past the end")
    try:
        header = json.loads(bytes(view[PREFIX_SIZE : PREFIX_SIZE + header_len]))
        segments = [(int(s), int(n)) for s, n in header["segments"]]
        data_len = int(header["data_len"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry("corrupt entry", f"unreadable header ({exc})") from None
    data_start = _align(PREFIX_SIZE + header_len)
    if data_start + data_len != file_size:
        raise CorruptEntry("truncated entry", "size does not match its header")
    if not segments or any(s < 0 or n < 0 or s + n > data_len for s, n in segments):
        raise CorruptEntry("corrupt entry", "segments out of range")
    header["segments"] = segments
    return header, data_start


def verify(buf, *, key: str, secret: bytes) -> tuple[dict, int, bytes]:
    """Check an entry's MAC and key without unpickling; returns (header, data_start, stream).

    The pickle stream is copied out *before* the MAC is computed over it, so what the caller
    unpickles is exactly what was verified even if the file were rewritten in place under a
    live mapping.
    """
    view = memoryview(buf)
    header, data_start, stream, stream_abs, stream_len = _parts(view)

    mac = hmac.new(secret, bytes(view[:_MAC_START]), hashlib.sha256)
    mac.update(view[PREFIX_SIZE:stream_abs])
    mac.update(stream)
    mac.update(view[stream_abs + stream_len :])
    if not hmac.compare_digest(mac.digest(), bytes(view[_MAC_START:PREFIX_SIZE])):
        raise CorruptEntry("entry failed its integrity check (HMAC mismatch)")
    if header.get("key") != key:
        raise CorruptEntry("entry stored under the wrong key")
    return header, data_start, stream


def _parts(view: memoryview):
    header, data_start = read_header(view)
    stream_start, stream_len = header["segments"][0]
    stream_abs = data_start + stream_start
    return header, data_start, bytes(view[stream_abs : stream_abs + stream_len]), stream_abs, \
        stream_len


def open_held(buf, *, key: str) -> Frozen:
    """:func:`open_entry` of bytes this process already holds verified (``cache.hot``: the
    server checked their MAC, under the secret the caller checked, before it forked this
    process): the header and key are checked again, the MAC is not computed again."""
    view = memoryview(buf)
    header, data_start, stream, _, _ = _parts(view)
    if header.get("key") != key:
        raise CorruptEntry("entry stored under the wrong key")
    buffers = [view[data_start + s : data_start + s + n] for s, n in header["segments"][1:]]
    return Frozen(stream, buffers)


def open_entry(buf, *, key: str, secret: bytes) -> tuple[Frozen, dict]:
    """Verify an entry and return its parts without unpickling: (frozen, meta).

    The frozen buffers are views into ``buf``. Raises :class:`CorruptEntry` if the entry is not
    valid for ``key`` under ``secret``.
    """
    header, data_start, stream = verify(buf, key=key, secret=secret)
    view = memoryview(buf)
    buffers = [view[data_start + s : data_start + s + n] for s, n in header["segments"][1:]]
    return Frozen(stream, buffers), header.get("meta") or {}


def loads(buf, *, key: str, secret: bytes) -> tuple[Any, dict]:
    """Decode an entry held in ``buf`` (a writable bytearray or copy-on-write mmap).

    Returns ``(value, meta)``. Raises :class:`CorruptEntry` if the entry is damaged, was written
    under another secret or belongs to another key; in that case nothing has been unpickled.
    Out-of-band buffers are views into ``buf``: a writable ``buf`` gives writable arrays (numpy
    still restores read-only arrays as read-only), and a private mapping keeps writes away from
    the file.
    """
    frozen, meta = open_entry(buf, key=key, secret=secret)
    return thaw_in_place(frozen), meta


def thaw_in_place(frozen: Frozen) -> Any:
    """Unpickle with the buffers as they are (views into a private load buffer: zero-copy)."""
    try:
        return _loads(frozen.stream, frozen.buffers)
    except Exception as exc:  # verified but unloadable: e.g. a class that no longer exists
        raise UnloadableEntry(f"{type(exc).__name__}: {exc}") from None


def estimate_size(value: Any) -> int:
    """A cheap lower bound of the encoded size, to refuse big cheap values before pickling them."""
    try:
        return _estimate(value, 0)
    except Exception:  # an odd object's nbytes/memory_usage misbehaving: no estimate
        return 0


def _estimate(value: Any, _depth: int) -> int:
    if _depth > 3:
        return 0
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and type(value).__module__.startswith("numpy"):
        return nbytes
    module = type(value).__module__
    if module.startswith("pandas") and hasattr(value, "memory_usage"):
        try:
            usage = value.memory_usage(index=False, deep=False)
            return int(usage.sum()) if hasattr(usage, "sum") else int(usage)
        except Exception:
            return 0
    if module.startswith("scipy.sparse") and hasattr(value, "data"):
        parts = [getattr(value, name, None) for name in ("data", "indices", "indptr", "row", "col")]
        return sum(p.nbytes for p in parts if hasattr(p, "nbytes"))
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(_estimate(v, _depth + 1) for v in value[:1000])
    if isinstance(value, dict):
        return sum(_estimate(v, _depth + 1) for v in list(value.values())[:1000])
    return 0
