"""Tests of the reuse store (stratum/cache/cache.py) and its entry format (stratum/cache/serialize.py)."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from stratum.cache import cache as cache_module
from stratum.cache import serialize
from stratum.cache.cache import Cache, copy_value
from stratum.config import CacheDirError  # noqa: E402

COST = 1.0  # "expensive enough": one second of compute


def key_of(n: int) -> str:
    return f"{n:032x}"


K = key_of(0xABC)


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def cache(cache_dir):
    c = Cache(cache_dir, 1 << 30)
    yield c
    c.close()


def disk_only(directory: Path, size_budget: int = 1 << 30) -> Cache:
    """A cache without the memory layer, so every get goes through the file."""
    return Cache(directory, size_budget, memory_budget=0)


def roundtrips(cache_dir: Path, value, check) -> None:
    """Put ``value``, then check what comes back from memory, from disk, and from a new process
    view of the directory; each returned object must be fresh."""
    c = Cache(cache_dir, 1 << 30)
    assert c.put(K, value, COST)
    found, got = c.get(K)
    assert found
    check(value, got)
    c.close()
    d = disk_only(cache_dir)
    found, from_disk = d.get(K)
    assert found
    check(value, from_disk)
    found, again = d.get(K)
    assert found and again is not from_disk
    d.close()


# ---------------------------------------------------------------------- values round trip

def check_array(a, b):
    assert type(b) is type(a)
    assert b.dtype == a.dtype and b.shape == a.shape
    if a.dtype == object:
        assert a.tolist() == b.tolist()
    else:
        np.testing.assert_array_equal(a, b)  # NaN- and NaT-aware
    assert b.flags.writeable == a.flags.writeable
    assert b.flags.aligned
    if a.flags.f_contiguous and not a.flags.c_contiguous:
        assert b.flags.f_contiguous
    assert not np.shares_memory(a, b) if a.dtype != object else b is not a


ARRAYS = {
    "float64": np.array([1.5, np.nan, -np.inf, 0.0]),
    "float32-2d": np.arange(12, dtype=np.float32).reshape(3, 4),
    "int8": np.array([-128, 0, 127], dtype=np.int8),
    "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "bool": np.array([True, False, True]),
    "complex": np.array([1 + 2j, np.nan * 1j]),
    "datetime64": np.array(["2020-01-01", "NaT", "2021-06-30"], dtype="datetime64[ns]"),
    "timedelta64": np.array([1, 2, 3], dtype="timedelta64[s]"),
    "unicode": np.array(["a", "héllo", ""]),
    "bytes": np.array([b"ab", b"c"]),
    "object": np.array([1, "x", None, [1, 2]], dtype=object),
    "structured": np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "0-d": np.array(3.25),
    "empty": np.zeros((0, 3)),
    "non-contiguous": np.arange(40.0).reshape(5, 8)[::2, 1::3],
    "fortran": np.asfortranarray(np.arange(24.0).reshape(4, 6)),
    "big-mmap": np.random.default_rng(0).random((1100, 1000)),  # > MMAP_MIN: mapped on load
    "3d-transposed": np.arange(60).reshape(3, 4, 5).transpose(2, 0, 1),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_ndarray_roundtrip(cache_dir, name):
    roundtrips(cache_dir, ARRAYS[name], check_array)


def test_read_only_array_stays_read_only(cache_dir):
    a = np.arange(10.0)
    a.flags.writeable = False
    roundtrips(cache_dir, a, check_array)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_numpy_scalar_and_matrix_subclass(cache_dir):
    roundtrips(cache_dir, np.float32(1.5), lambda a, b: (type(b) is np.float32, b == a))
    m = np.asmatrix(np.arange(4.0).reshape(2, 2))
    roundtrips(cache_dir, m, check_array)


def test_loaded_array_is_writable_and_does_not_write_back(cache_dir):
    a = ARRAYS["big-mmap"]
    with disk_only(cache_dir) as c:
        assert c.put(K, a, COST)
        _, b = c.get(K)
        assert b.flags.writeable
        b[:] = -1.0
        b.resize  # attribute exists; behaviour like any view
        _, again = c.get(K)
        np.testing.assert_array_equal(again, a)
    with disk_only(cache_dir) as fresh:
        _, from_new = fresh.get(K)
        np.testing.assert_array_equal(from_new, a)


def mixed_frame() -> pd.DataFrame:
    n = 6
    return pd.DataFrame(
        {
            "f": [1.0, np.nan, 3.5, -2.0, 0.0, 1e300],
            "i": np.arange(n, dtype=np.int64),
            "i32": np.arange(n, dtype=np.int32),
            "s": ["a", None, "ccc", "d", "é", ""],
            "obj": pd.Series([1, "x", None, 2.5, [1], {"a": 1}], dtype=object),
            "cat": pd.Categorical(["lo", "hi", "lo", None, "hi", "mid"], ordered=True),
            "dt": pd.date_range("2021-03-01", periods=n, freq="h"),
            "dtz": pd.date_range("2021-03-01", periods=n, freq="D", tz="Europe/Paris"),
            "td": pd.to_timedelta(np.arange(n), unit="s"),
            "b": [True, False] * 3,
            "nullable": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
        },
        index=pd.Index(list("uvwxyz"), name="letters"),
    )


def check_frame(a, b):
    assert type(b) is type(a)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert b.attrs == a.attrs
    b.iloc[0, 0] = 12345.0  # mutable, and independent from what the cache holds
    assert a.iloc[0, 0] != 12345.0


def test_dataframe_mixed_roundtrip(cache_dir):
    df = mixed_frame()
    df.attrs["source"] = "unit-test"
    roundtrips(cache_dir, df, check_frame)


def test_dataframe_multiindex_roundtrip(cache_dir):
    rows = pd.MultiIndex.from_product([["a", "b"], [1, 2, 3]], names=["k", "n"])
    cols = pd.MultiIndex.from_tuples([("x", "mean"), ("x", "std"), ("y", "mean")])
    df = pd.DataFrame(np.random.default_rng(1).random((6, 3)), index=rows, columns=cols)
    roundtrips(cache_dir, df, check_frame)


def test_dataframe_large_numeric_blocks_go_out_of_band(cache_dir):
    df = pd.DataFrame(np.random.default_rng(2).random((200_000, 8)), columns=list("abcdefgh"))
    blob = serialize.dumps(df, key=K, secret=b"s" * 32)
    assert blob.buffer_bytes >= df.to_numpy().nbytes  # raw buffers, not inside the pickle
    roundtrips(cache_dir, df, check_frame)


def test_series_roundtrip(cache_dir):
    s = pd.Series([1.5, np.nan, 3.0], index=pd.date_range("2020", periods=3), name="price")

    def check(a, b):
        pd.testing.assert_series_equal(a, b, check_exact=True)
        saved = a.copy()
        b.iloc[0] = b.iloc[2]
        pd.testing.assert_series_equal(a, saved)

    roundtrips(cache_dir, s, check)
    roundtrips(cache_dir, pd.Series(["x", None, "z"], dtype="category", name="c"), check)


def test_sparse_roundtrip(cache_dir):
    m = sp.random(300, 200, density=0.05, format="csr", random_state=3, dtype=np.float64)

    def check(a, b):
        assert type(b) is type(a) and b.format == "csr" and b.dtype == a.dtype
        assert b.shape == a.shape and (a != b).nnz == 0
        b.data[:] = 0
        assert a.data.any()

    roundtrips(cache_dir, m, check)
    roundtrips(cache_dir, sp.csr_array(m), check)


def test_fitted_estimators_roundtrip(cache_dir):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    models = [
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y),
    ]
    for i, model in enumerate(models):
        with disk_only(cache_dir) as c:
            assert c.put(key_of(i + 1), model, COST)
        with disk_only(cache_dir) as c:
            found, loaded = c.get(key_of(i + 1))
        assert found and loaded is not model
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_containers_and_scalars_roundtrip(cache_dir):
    a = np.arange(5.0)
    df = mixed_frame()
    value = (a, [df, {"k": a * 2, "n": 3}], 2.5, "text", a)  # `a` twice: aliasing is kept

    def check(orig, got):
        assert type(got) is tuple and len(got) == 5
        np.testing.assert_array_equal(got[0], a)
        pd.testing.assert_frame_equal(got[1][0], df)
        np.testing.assert_array_equal(got[1][1]["k"], a * 2)
        assert got[1][1]["n"] == 3 and got[2] == 2.5 and got[3] == "text"
        assert got[4] is got[0]
        assert not np.shares_memory(got[0], a)

    roundtrips(cache_dir, value, check)

    for i, scalar in enumerate([3.14159, float("nan"), 7, None, "s", b"b", (1, 2), True]):
        with Cache(cache_dir, 1 << 30) as c:
            assert c.put(key_of(100 + i), scalar, COST)
            found, got = c.get(key_of(100 + i))
            assert found and (got == scalar or (got != got and scalar != scalar))
        with disk_only(cache_dir) as c:
            found, got = c.get(key_of(100 + i))
            assert found and (got == scalar or (got != got and scalar != scalar))


# ---------------------------------------------------------------------- freshness

@pytest.mark.parametrize("memory_budget", [512 << 20, 0])
def test_returned_values_are_fresh(cache_dir, memory_budget):
    a = np.arange(10.0)
    df = pd.DataFrame({"x": [1.0, 2.0]})
    with Cache(cache_dir, 1 << 30, memory_budget=memory_budget) as c:
        assert c.put(K, {"a": a, "df": df, "l": [1, 2]}, COST)
        a[0] = 99.0  # mutating the original after put does not change the entry
        df.loc[0, "x"] = 99.0
        _, first = c.get(K)
        assert first["a"][0] == 0.0 and first["df"].loc[0, "x"] == 1.0
        first["a"][1] = -5.0
        first["df"].loc[1, "x"] = -5.0
        first["l"].append(3)
        _, second = c.get(K)
        assert second["a"][1] == 1.0 and second["df"].loc[1, "x"] == 2.0 and second["l"] == [1, 2]
        assert second["a"] is not first["a"]


def test_copy_value():
    a = np.arange(3)
    assert copy_value(a) is not a and np.array_equal(copy_value(a), a)
    ro = np.arange(3.0)
    ro.flags.writeable = False
    assert not copy_value(ro).flags.writeable  # like pandas 3's read-only to_numpy() views
    assert copy_value(np.asfortranarray(np.ones((2, 3)))).flags.f_contiguous
    gen = (i for i in range(2))
    with pytest.raises(TypeError):
        copy_value(gen)  # neither picklable nor deep-copyable: the caller decides
    s = "immutable"
    assert copy_value(s) is s and copy_value(1.5) == 1.5
    nested = [a, (a, 1)]
    c = copy_value(nested)
    assert c[0] is c[1][0] and c[0] is not a
    df = pd.DataFrame({"x": [1, 2]})
    assert not np.shares_memory(copy_value(df)["x"].to_numpy(), df["x"].to_numpy())


# ---------------------------------------------------------------------- admission

def test_admission_by_benefit(cache):
    small = np.arange(100.0)
    assert not cache.put(key_of(1), small, 0.0001)  # under the cost floor
    assert cache.get(key_of(1)) == (False, None)
    assert cache.put(key_of(2), small, 0.5)
    big = np.zeros(50_000_000 // 8)  # ~50 MB: ~50 ms to load
    assert not cache.put(key_of(3), big, 0.01)  # cheaper to recompute than to load
    assert cache.put(key_of(4), big, 5.0)
    assert cache.stats()["entries"] == 2


def test_admit_all_keeps_every_result_whatever_its_cost(cache_dir, monkeypatch):
    """STRATUM_ADMIT=all: admission no longer depends on the machine's speed (tests see every
    reuse a loaded machine could make); the size budget still holds."""
    from stratum.config import Settings

    monkeypatch.setenv("STRATUM_ADMIT", "all")
    assert Settings.from_env().admit_all
    monkeypatch.setenv("STRATUM_ADMIT", "benefit")
    assert not Settings.from_env().admit_all
    with Cache(cache_dir, 1 << 30, memory_budget=0, admit_all=True) as c:
        assert c.put(key_of(1), np.arange(100.0), 0.0)
        assert c.get(key_of(1))[0]
        assert c.put(key_of(3), np.zeros(50_000_000 // 8), 0.0)
    with Cache(cache_dir, 10_000, admit_all=True) as c:
        assert not c.put(key_of(5), np.zeros(100_000), 0.0)


def test_value_larger_than_budget_is_not_stored(cache_dir):
    with Cache(cache_dir, 10_000) as c:
        assert not c.put(K, np.zeros(100_000), COST)


@pytest.mark.parametrize("make", [
    lambda tmp: (lambda x: x),
    lambda tmp: (i for i in range(3)),
    lambda tmp: open(tmp / "f.txt", "w"),
    lambda tmp: {"nested": [lambda: 1]},
])
def test_unpicklable_values_are_silently_rejected(cache, tmp_path, capfd, make):
    value = make(tmp_path)
    assert cache.put(K, value, COST) is False
    assert cache.get(K) == (False, None)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 32, "0" * 31, "0" * 33, "g" * 32,
                                 "", None, 12, "0" * 30 + "/x"])
def test_invalid_keys_are_rejected(cache, bad):
    assert cache.put(bad, np.arange(3.0), COST) is False
    assert cache.get(bad) == (False, None)


# ---------------------------------------------------------------------- damaged entries

def entry_path(c: Cache, key: str = K) -> Path:
    return c.objects / key[:2] / key


def corrupt_truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def corrupt_flip_data(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def corrupt_flip_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[serialize.PREFIX_SIZE + 3] ^= 0x01
    path.write_bytes(bytes(data))


def corrupt_flip_mac(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01
    path.write_bytes(bytes(data))


def corrupt_empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [corrupt_truncate, corrupt_flip_data, corrupt_flip_header,
                                    corrupt_flip_mac, corrupt_empty])
def test_corrupt_entry_is_a_miss_with_one_warning(cache_dir, capfd, damage):
    with disk_only(cache_dir) as c:
        for n in (1, 2):
            assert c.put(key_of(n), np.arange(1000.0) * n, COST)
            damage(entry_path(c, key_of(n)))
        capfd.readouterr()
        assert c.get(key_of(1)) == (False, None)
        assert c.get(key_of(2)) == (False, None)  # same kind of damage: no second line
        assert not entry_path(c, key_of(1)).exists() and not entry_path(c, key_of(2)).exists()
        err = capfd.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith("stratum: ")
        assert c.stats()["entries"] == 0
        # The key works again afterwards.
        assert c.put(key_of(1), np.arange(3.0), COST) and c.get(key_of(1))[0]


class _Marker:
    """Unpickling this creates a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_tampered_entry_is_never_unpickled(cache_dir, tmp_path, capfd):
    marker = tmp_path / "unpickled"
    with disk_only(cache_dir) as c:
        assert c.put(K, np.arange(5.0), COST)
        # A well-formed entry whose MAC was made with another secret.
        forged = serialize.dumps(_Marker(marker), key=K, secret=os.urandom(32))
        entry_path(c).write_bytes(b"".join(bytes(chunk) for chunk in forged.chunks))
        capfd.readouterr()
        assert c.get(K) == (False, None)
        assert not marker.exists()
        assert not entry_path(c).exists()
        assert "integrity" in capfd.readouterr().err

        # Control: the same payload signed with the real secret does run on load, so the test
        # above really shows that verification comes first.
        genuine = serialize.dumps(_Marker(marker), key=K, secret=c.secret)
        entry_path(c).write_bytes(b"".join(bytes(chunk) for chunk in genuine.chunks))
        c.get(K)
        assert marker.exists()


def test_raw_pickle_in_place_of_an_entry_is_not_loaded(cache_dir, tmp_path):
    marker = tmp_path / "unpickled"
    with disk_only(cache_dir) as c:
        assert c.put(K, 1.5, COST)
        entry_path(c).write_bytes(pickle.dumps(_Marker(marker)))
        assert c.get(K) == (False, None)
        assert not marker.exists()


class Vanishing:
    """A class that disappears before the entry is read back, as in another script."""


def test_authentic_but_unloadable_entry_is_a_miss_and_kept(cache_dir, capfd, monkeypatch):
    with disk_only(cache_dir) as c:
        assert c.put(K, Vanishing(), COST)
        monkeypatch.delattr(sys.modules[__name__], "Vanishing")
        capfd.readouterr()
        assert c.get(K) == (False, None)
        assert entry_path(c).exists()
        assert "could not be loaded" in capfd.readouterr().err


def test_entry_copied_to_another_key_is_rejected(cache_dir):
    with disk_only(cache_dir) as c:
        assert c.put(key_of(1), np.arange(3.0), COST)
        other = entry_path(c, key_of(2))
        other.parent.mkdir(exist_ok=True)
        other.write_bytes(entry_path(c, key_of(1)).read_bytes())
        assert c.get(key_of(2)) == (False, None)
        assert c.get(key_of(1))[0]


# ---------------------------------------------------------------------- unsafe directories

def test_unusable_directory_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheDirError):
        Cache(blocker / "cache", 1 << 20)
    with pytest.raises(CacheDirError):
        Cache(blocker, 1 << 20)


@pytest.mark.skipif(not hasattr(os, "setuid") or os.getuid() != 0, reason="needs root to switch uid")
def test_unwritable_directory_raises(tmp_path):
    """As an unprivileged user (root can write anywhere), a 0500 directory of ours is refused."""
    base = Path(tempfile.mkdtemp(prefix="stratum-test-"))  # tmp_path is not reachable by uid 65534
    os.chmod(base, 0o755)
    target = base / "ro"
    target.mkdir(mode=0o500)
    os.chown(target, 65534, 65534)
    ctx = multiprocessing.get_context("fork")
    result = ctx.Queue()

    def child():
        os.setgid(65534)
        os.setuid(65534)
        try:
            Cache(target, 1 << 20)
            result.put("opened")
        except CacheDirError as exc:
            result.put(f"refused: {exc}")

    proc = ctx.Process(target=child)
    proc.start()
    outcome = result.get(timeout=30)
    proc.join(30)
    shutil.rmtree(base)
    assert outcome.startswith("refused") and "not writable" in outcome


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to chown")
def test_foreign_owned_directory_raises(cache_dir):
    cache_dir.mkdir(mode=0o700)
    os.chown(cache_dir, 12345, 12345)
    with pytest.raises(CacheDirError, match="another user"):
        Cache(cache_dir, 1 << 20)


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_group_or_world_writable_directory_raises(cache_dir, mode):
    cache_dir.mkdir()
    os.chmod(cache_dir, mode)
    with pytest.raises(CacheDirError, match="writable"):
        Cache(cache_dir, 1 << 20)


def test_secret_is_private_and_checked(cache_dir):
    Cache(cache_dir, 1 << 20).close()
    secret = cache_dir / "secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_bytes()) == 32
    assert Cache(cache_dir, 1 << 20).secret == secret.read_bytes()  # reused, not regenerated
    os.chmod(secret, 0o644)
    with pytest.raises(CacheDirError, match="secret"):
        Cache(cache_dir, 1 << 20)
    os.chmod(secret, 0o600)
    if os.getuid() == 0:
        os.chown(secret, 12345, 12345)
        with pytest.raises(CacheDirError, match="secret"):
            Cache(cache_dir, 1 << 20)
        os.chown(secret, 0, 0)
    old = secret.read_bytes()
    secret.write_bytes(b"short")  # damaged, but ours and private: replaced, not refused
    with Cache(cache_dir, 1 << 20) as c:
        assert len(c.secret) == 32 and c.secret not in (old, b"short")
        assert c.secret == secret.read_bytes()
    assert (cache_dir / "secret.damaged").read_bytes() == b"short"
    assert secret.stat().st_mode & 0o777 == 0o600


def test_entry_files_are_private(cache, cache_dir):
    assert cache.put(K, np.arange(3.0), COST)
    assert entry_path(cache).stat().st_mode & 0o777 == 0o600
    assert (cache_dir / "index.db").stat().st_mode & 0o777 == 0o600
    assert not [p for p in entry_path(cache).parent.iterdir() if p.name.startswith(".tmp")]


def test_write_failure_warns_once_and_returns_false(cache_dir, capfd, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with disk_only(cache_dir) as c:
        monkeypatch.setattr(cache_module.os, "replace", full)
        capfd.readouterr()
        assert c.put(key_of(1), np.arange(1000.0), COST) is False
        assert c.put(key_of(2), np.arange(1000.0), COST) is False
        err = capfd.readouterr().err
        assert len(err.splitlines()) == 1 and "No space left" in err
        monkeypatch.undo()
        assert not [p for p in c._entry_files()]  # temp files cleaned up
        assert c.get(key_of(1)) == (False, None)


# ---------------------------------------------------------------------- eviction

def test_eviction_keeps_total_under_budget_and_keeps_valuable_entries(cache_dir):
    item = np.zeros(10_000)  # ~80 kB per entry
    budget = 500_000
    with disk_only(cache_dir, budget) as c:
        valuable = [key_of(i) for i in range(3)]
        for k in valuable:
            assert c.put(k, item, 100.0)
        for i in range(3, 20):
            c.put(key_of(i), item, 0.05 + i * 0.001)
            stats = c.stats()
            assert stats["bytes"] <= budget
            on_disk = sum(p.stat().st_size for p in c._entry_files())
            assert on_disk <= budget
        for k in valuable:
            assert c.get(k)[0]
        assert c.stats()["entries"] < 17


def test_hits_raise_benefit(cache_dir):
    item = np.zeros(10_000)
    with disk_only(cache_dir, 300_000) as c:
        assert c.put(key_of(1), item, 0.1)
        assert c.put(key_of(2), item, 0.1)
        for _ in range(5):
            assert c.get(key_of(1))[0]
        c.stats()  # flushes hit counts
        assert c.put(key_of(3), item, 0.1)
        assert c.put(key_of(4), item, 0.1)  # over budget now: the unused peer goes first
        assert c.get(key_of(1))[0]
        assert not c.get(key_of(2))[0]


# ---------------------------------------------------------------------- index database

def test_corrupt_index_is_rebuilt_from_entries(cache_dir, capfd):
    with disk_only(cache_dir) as c:
        for n in range(3):
            assert c.put(key_of(n), np.arange(100.0) + n, 0.5 + n)
    for suffix in ("-wal", "-shm"):
        Path(str(cache_dir / "index.db") + suffix).unlink(missing_ok=True)
    (cache_dir / "index.db").write_bytes(b"this is not a database" * 100)
    capfd.readouterr()
    with disk_only(cache_dir) as c:
        stats = c.stats()
        assert stats["entries"] == 3
        costs = dict(c._query("SELECT key, cost FROM entries").fetchall())
        assert costs[key_of(2)] == pytest.approx(2.5)
        np.testing.assert_array_equal(c.get(key_of(1))[1], np.arange(100.0) + 1)
    assert "index" in capfd.readouterr().err


def test_stats_counts(cache):
    assert cache.get(K) == (False, None)
    assert cache.put(K, np.arange(100.0), COST)
    assert cache.get(K)[0] and cache.get(K)[0]
    s = cache.stats()
    assert s["entries"] == 1 and s["misses"] == 1 and s["hits"] == 2
    assert s["bytes"] == entry_path(cache).stat().st_size and s["budget"] == 1 << 30
    assert s["oldest"] <= s["newest"] <= time.time()
    hits = cache._query("SELECT hits FROM entries WHERE key = ?", (K,)).fetchone()[0]
    assert hits == 2


def test_clear(cache):
    for n in range(4):
        assert cache.put(key_of(n), np.arange(10.0), COST)
    assert cache.clear() == 4
    assert cache.get(key_of(0)) == (False, None)  # memory layer cleared too
    assert cache.stats()["entries"] == 0
    assert cache.clear() == 0


def test_gc(cache_dir):
    with disk_only(cache_dir) as c:
        for n in range(5):
            assert c.put(key_of(n), np.arange(1000.0), COST)
        entry_path(c, key_of(0)).unlink()  # row without file
        corrupt_flip_data(entry_path(c, key_of(1)))  # corrupt file
        with c._write() as db:  # file without row
            db.execute("DELETE FROM entries WHERE key = ?", (key_of(2),))
        stale = entry_path(c, key_of(3)).parent / ".tmp-crashed"
        stale.write_bytes(b"partial")
        os.utime(stale, (time.time() - 7200, time.time() - 7200))
        stray = entry_path(c, key_of(3)).parent / "not-a-key"
        stray.write_bytes(b"?")
        with c.flight(key_of(9)):
            pass  # leaves a lock file behind
        report = c.gc()
        assert report["orphan_rows"] == 2  # the missing file's row and the corrupt file's row
        assert report["corrupt"] == 2
        assert report["indexed"] == 1
        assert report["temp_files"] == 1
        assert report["locks"] >= 1
        assert c.stats()["entries"] == 3
        assert all(c.get(key_of(n))[0] for n in (2, 3, 4))
        c.size_budget = entry_path(c, key_of(4)).stat().st_size
        assert c.gc()["evicted"] == 2
        assert c.stats()["entries"] == 1


# ---------------------------------------------------------------------- single flight

def _flight_worker(cache_dir, key, counter, results, shared):
    """One process: get the value through flight(), computing it only if nobody has."""
    c = shared if shared is not None else Cache(Path(cache_dir), 1 << 30)
    with c.flight(key) as f:
        if f.hit:
            value = f.value
        else:
            with open(counter, "a") as out:
                out.write(f"{os.getpid()}\n")
            time.sleep(0.3)  # long enough that every other worker is waiting on the lock
            value = np.arange(1000.0) * 3
            assert c.put(key, value, 1.0)
    results.put(float(value.sum()))
    c.close()


@pytest.mark.parametrize("share_parent_cache", [False, True])
def test_flight_computes_once_across_processes(cache_dir, tmp_path, share_parent_cache):
    ctx = multiprocessing.get_context("fork")
    parent = Cache(cache_dir, 1 << 30)
    parent.stats()  # the parent's connection is open when the workers fork
    counter = tmp_path / "computed"
    results = ctx.Queue()
    shared = parent if share_parent_cache else None
    procs = [ctx.Process(target=_flight_worker, args=(str(cache_dir), K, counter, results, shared))
             for _ in range(8)]
    for p in procs:
        p.start()
    values = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(counter.read_text().splitlines()) == 1
    assert values == [float((np.arange(1000.0) * 3).sum())] * 8
    assert parent.stats()["entries"] == 1
    parent.close()


def _put_worker(cache_dir, start):
    c = Cache(Path(cache_dir), 1 << 30)
    for n in range(start, start + 10):
        assert c.put(key_of(n), np.arange(100.0) + n, 1.0)
        assert c.get(key_of(n))[0]
    c.close()


def test_concurrent_writers_keep_a_consistent_index(cache_dir):
    Cache(cache_dir, 1 << 30).close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_put_worker, args=(str(cache_dir), 10 * i)) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with disk_only(cache_dir) as c:
        assert c.stats()["entries"] == 80
        assert all(c.get(key_of(n))[1][0] == n for n in range(80))


def test_flight_hit_and_nested_same_key(cache):
    with cache.flight(K) as f:
        assert not f.hit
        with cache.flight(K) as inner:  # same thread, same key: must not deadlock
            assert not inner.hit
        cache.put(K, 2.5, COST)
    with cache.flight(K) as f:
        assert f.hit and f.value == 2.5


def test_busy_index_is_silent_and_the_entry_still_served(cache_dir, capfd):
    """Another process holding index.db past the busy timeout happens only when runs overlap
    (``stratum run --jobs 2``): no line on the script's stderr (it would differ from
    ``--jobs 1``), and the entry, written before the index, is a hit; gc() indexes it."""
    import sqlite3

    with disk_only(cache_dir) as c:
        c._db().execute("PRAGMA busy_timeout = 50")  # the test need not wait 10 s
        holder = sqlite3.connect(cache_dir / "index.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            capfd.readouterr()
            assert c.put(K, np.arange(50.0), COST)
            assert capfd.readouterr().err == ""
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        np.testing.assert_array_equal(c.get(K)[1], np.arange(50.0))
        c.gc()
        assert c.stats()["entries"] == 1
    assert capfd.readouterr().err == ""
