"""Tests of the Rust extension `stratum._native` (hashing, build info).

These need the compiled extension, i.e. an installed build: `pip install .` and run pytest so
that the source tree is not first on sys.path (e.g. `python -P -m pytest tests/`, or the `pytest`
script), or `pip install -e .` / `maturin develop` which put `_native` into the source tree.
"""
from __future__ import annotations

import math
import struct
import sys
import threading

import numpy as np
import pytest

try:
    import stratum._native as native
except ImportError as exc:  # pragma: no cover - a setup problem, explained once
    raise ImportError(
        f"stratum._native is not importable ({exc}); stratum imported from "
        f"{sys.modules['stratum'].__file__}. Install the package (pip install .) and run pytest "
        "without the source tree first on sys.path (python -P -m pytest), or pip install -e ."
    ) from exc

EMPTY = bytes.fromhex("99aa06d3014798d86001c324468d497f")
# Computed with the reference `xxhash` package (xxhash.xxh3_128(data).hexdigest()).
VECTORS = {
    b"a": "a96faf705af16834e6c632b61e964e1f",
    b"stratum": "c9deb1442ad61a0ab79e28e5f27ac02e",
    bytes(range(256)) * 40: "1cb22534d0d96975c03d2231ab9348f3",
}
MIXED = ["a", "", "héllo", None, True, False, 0, -1, 255, -128, 2**70, -(2**70), 1.5, float("nan"), -0.0, b"xy"]
# xxhash.xxh3_128 over the reference encoding below, computed independently.
MIXED_DIGEST = "4e2ce522f78a3a9ea93d1e4bb3515c6a"


def ref_encode(x) -> bytes:
    """Reference implementation of the canonical element encoding (see native/src/hashing.rs)."""
    if x is None:
        return b"N"
    if type(x) is bool:
        return b"B" + bytes([int(x)])
    if type(x) is int:
        n = (abs(x).bit_length() + 8) // 8
        return b"I" + struct.pack("<I", n) + x.to_bytes(n, "little", signed=True)
    if type(x) is float:
        bits = 0x7FF8000000000000 if math.isnan(x) else struct.unpack("<Q", struct.pack("<d", x))[0]
        return b"F" + struct.pack("<Q", bits)
    if type(x) is str:
        b = x.encode("utf-8", "surrogatepass")
        return b"S" + struct.pack("<Q", len(b)) + b
    if type(x) is bytes:
        return b"Y" + struct.pack("<Q", len(x)) + x
    raise TypeError(type(x))


def test_known_vectors():
    assert native.xxh3_128(b"") == EMPTY
    for data, hexdigest in VECTORS.items():
        assert native.xxh3_128(data).hex() == hexdigest


def test_buffer_kinds_same_bytes_same_digest():
    data = bytes(range(256)) * 1000  # > 64 KiB: GIL-released path
    expected = native.xxh3_128(data)
    arr = np.frombuffer(data, dtype=np.uint8)
    for obj in (bytearray(data), memoryview(data), arr, arr.view(np.float64), arr.reshape(1000, 256)):
        assert native.xxh3_128(obj) == expected
    small = b"0123456789abcdef"
    assert native.xxh3_128(np.frombuffer(small, dtype=np.int32)) == native.xxh3_128(small)
    assert len(native.xxh3_128(b"x")) == 16


def test_different_dtype_bytes_differ():
    a = np.arange(10, dtype=np.int64)
    assert native.xxh3_128(a) != native.xxh3_128(a.astype(np.int32))
    assert native.xxh3_128(a) != native.xxh3_128(a.astype(np.float64))
    assert native.xxh3_128(np.zeros(3, dtype="datetime64[ns]")) == native.xxh3_128(bytes(24))


def test_non_contiguous_raises_buffer_error():
    a = np.arange(24, dtype=np.float64).reshape(4, 6)
    with pytest.raises(BufferError):
        native.xxh3_128(a[:, ::2])
    with pytest.raises(BufferError):
        native.xxh3_128(np.asfortranarray(a))
    with pytest.raises(BufferError):
        native.Hasher().update(a[::2])
    assert native.xxh3_128(np.ascontiguousarray(a[:, ::2])) == native.xxh3_128(a[:, ::2].tobytes())


def test_object_arrays_and_non_buffers_rejected():
    with pytest.raises(TypeError):
        native.xxh3_128(np.array(["a", 1], dtype=object))
    with pytest.raises(TypeError):
        native.xxh3_128("a str is not a buffer")
    with pytest.raises(TypeError):
        native.Hasher().update(12)


def test_hasher_streaming_matches_one_shot():
    data = bytes(range(256)) * 1000
    h = native.Hasher()
    assert h.update(data[:100]) is None
    h.update(memoryview(data)[100:70_000])
    h.update(np.frombuffer(data[70_000:], dtype=np.uint8))
    assert h.digest() == native.xxh3_128(data)
    assert h.hexdigest() == native.xxh3_128(data).hex()
    assert native.Hasher().digest() == EMPTY
    c = h.copy()
    c.update(b"more")
    assert h.digest() == native.xxh3_128(data) and c.digest() != h.digest()


def test_hasher_str_and_int_use_canonical_encoding():
    h = native.Hasher()
    h.update_str("héllo")
    h.update_int(-(2**100))
    h.update_int(7)
    h.update_int(True)  # bool is an int here
    expected = ref_encode("héllo") + ref_encode(-(2**100)) + ref_encode(7) + ref_encode(1)
    assert h.digest() == native.xxh3_128(expected)
    # framing: ("ab", "c") and ("a", "bc") differ
    a, b = native.Hasher(), native.Hasher()
    a.update_str("ab"), a.update_str("c")
    b.update_str("a"), b.update_str("bc")
    assert a.digest() != b.digest()
    with pytest.raises(TypeError):
        native.Hasher().update_str(b"bytes")
    with pytest.raises(TypeError):
        native.Hasher().update_int(1.0)


@pytest.mark.parametrize("value", [0, 1, -1, 127, 128, -128, -129, 255, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1,
                                   2**64, 2**200 + 12345, -(2**200)])
def test_int_encoding_boundaries(value):
    h = native.Hasher()
    h.update_int(value)
    assert h.digest() == native.xxh3_128(ref_encode(value))
    assert native.hash_objects([value]) == native.xxh3_128(ref_encode(value))


def test_hash_objects_reference_and_stability():
    assert native.hash_objects(MIXED).hex() == MIXED_DIGEST
    assert native.hash_objects(MIXED) == native.xxh3_128(b"".join(map(ref_encode, MIXED)))
    assert native.hash_objects(tuple(MIXED)) == native.hash_objects(MIXED)
    assert native.hash_objects(np.array(MIXED, dtype=object)) == native.hash_objects(MIXED)
    assert native.hash_objects([]) == EMPTY


def test_hash_objects_semantics():
    h = native.hash_objects
    assert h(["a", "b"]) != h(["b", "a"])  # order-sensitive
    assert h(["ab", "c"]) != h(["a", "bc"])
    assert h([""]) != h([]) and h([""]) != h([None])
    assert h([1]) != h([True]) != h([1.0])
    assert h(["1"]) != h([1]) and h([b"a"]) != h(["a"])
    nans = [float("nan"), -float("nan"), struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000001))[0]]
    assert len({h([x]) for x in nans}) == 1
    assert h([0.0]) != h([-0.0])
    assert h(["日本語", "😀"]) == native.xxh3_128(ref_encode("日本語") + ref_encode("😀"))
    assert h(["\ud800"]) == native.xxh3_128(ref_encode("\ud800"))  # lone surrogate
    assert h(["\ud800"]) != h(["\ufffd"])
    big = "x" * 100_000  # payload larger than the scratch buffer
    assert h(["a", big, "b"]) == native.xxh3_128(ref_encode("a") + ref_encode(big) + ref_encode("b"))


def test_hash_objects_unsupported_returns_none():
    class S(str):
        pass

    for bad in ([1, object()], [np.float64(1.0)], [S("a")], [[1]], [("a",)], [1j], [bytearray(b"a")]):
        assert native.hash_objects(bad) is None
    with pytest.raises(TypeError):
        native.hash_objects("abc")
    with pytest.raises(TypeError):
        native.hash_objects(np.arange(3))
    with pytest.raises(TypeError):
        native.hash_objects(np.array([["a"]], dtype=object))


def test_hash_objects_pandas_column():
    pd = pytest.importorskip("pandas")
    s = pd.Series(["x", None, "yy", "x"], dtype=object)
    assert native.hash_objects(s.to_numpy()) == native.hash_objects(["x", None, "yy", "x"])


def test_threads():
    data = np.random.default_rng(0).integers(0, 255, size=8 << 20, dtype=np.uint8)
    expected = native.xxh3_128(data)
    strings = [f"s{i}" for i in range(200_000)]
    expected_obj = native.hash_objects(strings)
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append((native.xxh3_128(data), native.hash_objects(strings)))
                h = native.Hasher()
                h.update(data)
                results.append((h.digest(), expected_obj))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 12
    assert all(r == (expected, expected_obj) for r in results)


def test_build_info():
    info = native.build_info()
    assert set(info) >= {"version", "trap", "trap_error", "python"}
    assert info["version"] == "0.1.0"
    assert info["python"].startswith("%d.%d" % sys.version_info[:2])
    assert isinstance(info["trap"], bool)
    if info["trap"]:
        assert info["trap_error"] is None
        assert "stratum._trap" in sys.modules and native._trap is sys.modules["stratum._trap"]
    else:
        assert isinstance(info["trap_error"], str) and info["trap_error"]
    if sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11):
        assert info["trap"], info["trap_error"]


def test_hasher_is_cheap():
    import timeit

    def once():
        h = native.Hasher()
        h.update_str("abc")
        h.update_int(5)
        h.update(b"xyz")
        return h.hexdigest()

    n = 20000
    per_call = min(timeit.repeat(once, number=n, repeat=3)) / n
    print(f"Hasher create + 3 updates + hexdigest: {per_call * 1e6:.2f} us")
