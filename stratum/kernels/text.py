"""Native text-vectorizer kernels (scikit-learn ``CountVectorizer`` / ``TfidfVectorizer`` /
``HashingVectorizer``).

The targets are the library's inner steps, so every fitted attribute and later library method
(``vocabulary_``, ``idf_``, ``get_feature_names_out``, ``inverse_transform``...) stays the
library's own:

- ``CountVectorizer._count_vocab`` (used by ``fit``, ``transform`` and ``fit_transform`` of
  ``CountVectorizer`` and ``TfidfVectorizer``): Rust tokenises and counts, filling a
  ``defaultdict`` term by term as the library does and returning the index arrays and count
  buffer in the library's order; the same ``dict()`` copy and scipy calls build the result.
- ``CountVectorizer._sort_features`` / ``_limit_features``: only their loops over the
  vocabulary move to Rust (same dict operations, same order); document frequencies, the
  ``max_features`` ranking and its ties, and the matrix slicing stay numpy / scipy calls.
- ``HashingVectorizer.transform`` (also reached by ``fit_transform``): Rust tokenises and hashes
  (MurmurHash3 x86 32-bit, seed 0, one entry per occurrence, as ``_hashing_transform``); scipy's
  ``sum_duplicates``, ``binary`` and ``normalize`` then run as in the library.

``idf_``, ``sublinear_tf`` and normalisation (``TfidfTransformer``) are never replaced, so
their float arithmetic is the library's by construction.

``parity`` admits only calls where nothing in the kernel can raise (so tracebacks cannot
differ; the two errors that depend on the data, an empty vocabulary and pruning everything,
are raised by re-running the library) and the analyzer is one the Rust code reproduces:
``input='content'``, analyzer word / char / char_wb, no preprocessor / tokenizer /
strip_accents, the default token pattern, library methods not overridden, documents a list /
tuple / 1-D array / Series of str.
"""
from __future__ import annotations

import array
import collections
import functools
import numbers
import re
import sys

from stratum.kernels import KERNELS, Kernel

MODULE = "sklearn.feature_extraction.text"
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
ANALYZERS = ("word", "char", "char_wb")
# Library methods the analyzer is built from: a subclass or instance overriding any of them
# defines a different analyzer, so the library runs.
ANALYZER_METHODS = ("decode", "build_analyzer", "build_preprocessor", "build_tokenizer",
                    "get_stop_words", "_check_stop_words_consistency", "_word_ngrams",
                    "_char_ngrams", "_char_wb_ngrams", "_white_spaces", "_validate_ngram_range")
HASHING_METHODS = ANALYZER_METHODS + ("_get_hasher",)
# dtypes whose scipy / numpy casts the kernels replay exactly (names: numpy is imported lazily,
# the table is loaded at activation even by scripts that never import it)
COUNT_DTYPES = frozenset(("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                          "uint64", "float32", "float64"))
HASH_DTYPES = frozenset(("int8", "int16", "int32", "int64", "float32", "float64"))
NORMS = (None, "l1", "l2", "max")
MAX_N_FEATURES = 2**31 - 1
HASH_START_CAPACITY = 8192  # _hashing_transform's first buffer size (its values array doubles)

_tables = None


def _native():
    from stratum import _native
    return _native


@functools.cache
def _numpy():
    import numpy
    return numpy


def _dtype_name(dtype) -> str:
    dt = _numpy().dtype(dtype)
    return dt.name if dt.isnative else f"non-native {dt}"


def unicode_tables():
    """Python's ``\\w`` and ``\\s`` for every non-ASCII code point, as ranges found by ``re``
    itself (so the interpreter's Unicode version decides). Built once, when first needed."""
    np = _numpy()
    global _tables
    if _tables is None:
        word, space = [], []
        # Surrogates are skipped: documents holding them never reach the kernel.
        for lo, hi in ((0x80, 0xD800), (0xE000, 0x110000)):
            text = np.arange(lo, hi, dtype="<u4").tobytes().decode("utf-32-le")
            word += [(lo + m.start(), lo + m.end()) for m in re.finditer(r"\w+", text)]
            space += [(lo + m.start(), lo + m.end()) for m in re.finditer(r"\s+", text)]
        _tables = _native().TextTables(word, space)
    return _tables


def _with_tables(fn, *args, fresh=lambda: ()):
    """Call a kernel without tables first (ASCII corpora never build them), then with;
    ``fresh()`` makes the trailing arguments a call needs new each time."""
    out = fn(*args, *fresh(), None)
    if out is None:
        out = fn(*args, *fresh(), unicode_tables())
    return out


# ---------------------------------------------------------------------------- parity checks


def _library():
    return sys.modules[MODULE]


def _overridden(est, names, base) -> str | None:
    cls = type(est)
    for name in names:
        if name in est.__dict__ or getattr(cls, name) is not getattr(base, name):
            return f"{cls.__name__}.{name} is overridden"
    return None


def _ngram_range(est):
    np = _numpy()
    rng = est.ngram_range
    if not isinstance(rng, (tuple, list)) or len(rng) != 2:
        return None
    lo, hi = rng
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in rng):
        return None
    lo, hi = int(lo), int(hi)
    return (lo, hi) if 1 <= lo <= hi else None


def _analyzer_problem(est, methods, base) -> str | None:
    """Why the Rust analyzer is not the one ``est.build_analyzer()`` would build, or None."""
    if not (isinstance(est.input, str) and est.input == "content"):
        return f"input={est.input!r}"
    analyzer = est.analyzer
    if callable(analyzer):
        return "custom analyzer callable"
    if not (type(analyzer) is str and analyzer in ANALYZERS):
        return f"analyzer={analyzer!r}"
    if est.preprocessor is not None:
        return "custom preprocessor"
    if est.strip_accents:
        return f"strip_accents={est.strip_accents!r}"
    if analyzer == "word":
        if est.tokenizer is not None:
            return "custom tokenizer"
        if not (type(est.token_pattern) is str and est.token_pattern == DEFAULT_TOKEN_PATTERN):
            return "non-default token_pattern"
    if _ngram_range(est) is None:
        return f"ngram_range={est.ngram_range!r}"
    why = _overridden(est, methods, base)
    if why:
        return why
    if analyzer == "word" and _stop_words(est) is False:
        return "stop words that are not all str"
    return None


def _stop_words(est):
    """The word analyzer's stop words as a list of str, None, or False if some are not str."""
    stop = est.get_stop_words()
    if stop is None:
        return None
    words = list(stop)
    if not all(type(w) is str for w in words):
        return False
    return words


def _documents(raw):
    """(list of documents, None) when ``raw`` can be listed without consuming it, else (None,
    reason). The list holds what iterating ``raw`` yields, as ``_count_vocab``'s loop sees it."""
    np = _numpy()
    if type(raw) is list:
        docs = raw
    elif type(raw) is tuple:
        docs = list(raw)
    elif isinstance(raw, np.ndarray):
        if raw.ndim != 1:
            return None, f"documents are a {raw.ndim}-D array"
        docs = list(raw)
    elif "pandas" in sys.modules and isinstance(raw, sys.modules["pandas"].Series):
        docs = list(raw)
    else:
        return None, f"documents are a {type(raw).__name__} (only list, tuple, array, Series)"
    if not docs:
        return None, "no documents"
    why = _native().text_documents_problem(docs, np.str_)
    return (None, why) if why else (docs, None)


def _spec(est):
    analyzer = est.analyzer
    stop = _stop_words(est) if analyzer == "word" else None
    return analyzer, bool(est.lowercase), _ngram_range(est), stop


# ------------------------------------------------------------------- CountVectorizer._count_vocab


def _count_args(args, kwargs):
    est, rest = args[0], list(args[1:])
    raw = rest.pop(0) if rest else kwargs["raw_documents"]
    fixed = rest.pop(0) if rest else kwargs["fixed_vocab"]
    return est, raw, fixed


def count_parity(args, kwargs):
    est, raw, fixed = _count_args(args, kwargs)
    lib = _library()
    why = _analyzer_problem(est, ANALYZER_METHODS, lib.CountVectorizer)
    if why:
        return why
    if _dtype_name(est.dtype) not in COUNT_DTYPES:
        return f"dtype={est.dtype!r}"
    if fixed:
        vocabulary = getattr(est, "vocabulary_", None)
        if type(vocabulary) is not dict:
            return "fixed vocabulary is not a dict"
        why = _native().text_vocabulary_problem(vocabulary, len(vocabulary))
        if why:
            return why
    _docs, why = _documents(raw)
    return why


def count_run(original, args, kwargs):
    np = _numpy()
    est, raw, fixed = _count_args(args, kwargs)
    lib = _library()
    vocabulary = est.vocabulary_ if fixed else None
    est.build_analyzer()  # the library's checks and side effects (stop-word consistency)
    docs, _ = _documents(raw)
    learning = []
    if fixed:
        def fresh():
            return (None,)
    else:
        def fresh():
            learning[:] = [collections.defaultdict()]
            return learning
    indices, indptr, counts, wide = _with_tables(
        _native().text_count_vocab, docs, *_spec(est), vocabulary, fresh=fresh)
    if not fixed:
        vocabulary = dict(learning[0])  # as the library: the same copy of the same defaultdict
        if not vocabulary:
            # Raise the library's error from the library's frame.
            return original(*args, **kwargs)
    if wide and lib._IS_32BIT:
        return original(*args, **kwargs)
    index_dtype = np.int64 if wide else np.int32
    j_indices = np.frombuffer(indices, dtype=index_dtype).copy()
    indptr = np.frombuffer(indptr, dtype=index_dtype).copy()
    values = array.array("i")  # as _make_int_array: the matrix data may be a view of it
    values.frombytes(counts)
    values = np.frombuffer(values, dtype=np.intc)
    X = lib.sp.csr_array(
        (values, j_indices, indptr),
        shape=(len(indptr) - 1, len(vocabulary)),
        dtype=est.dtype,
    )
    X.sort_indices()
    return vocabulary, lib._align_api_if_sparse(X)


# --------------------------------------- CountVectorizer._sort_features / _limit_features
# With large vocabularies (n-grams) these two Python loops over the vocabulary cost more than
# tokenising. Only the dict loops move to Rust; every numpy / scipy step is the library's own.


def _is_csr(X) -> bool:
    sp = _library().sp
    return sp.issparse(X) and X.format == "csr"


def _sort_args(args, kwargs):
    est, rest = args[0], list(args[1:])
    X = rest.pop(0) if rest else kwargs["X"]
    vocabulary = rest.pop(0) if rest else kwargs["vocabulary"]
    return est, X, vocabulary


def sort_parity(args, kwargs):
    _est, X, vocabulary = _sort_args(args, kwargs)
    if not _is_csr(X):
        return "matrix is not CSR"
    if type(vocabulary) is not dict:
        return "vocabulary is not a dict"
    return _native().text_vocabulary_problem(vocabulary, len(vocabulary), True, True)


def sort_run(original, args, kwargs):
    np = _numpy()
    _est, X, vocabulary = _sort_args(args, kwargs)
    old_to_new = np.frombuffer(_native().text_sort_vocabulary(vocabulary), dtype=np.int64)
    map_index = np.empty(len(vocabulary), dtype=X.indices.dtype)
    map_index[:] = old_to_new
    X.indices = map_index.take(X.indices, mode="clip")
    return X


def _limit_args(args, kwargs):
    names = ("X", "vocabulary", "high", "low", "limit")
    values = list(args[1:]) + [kwargs.get(n) for n in names[len(args) - 1:]]
    return (args[0], *values)


def _real_or_none(v) -> bool:
    return v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))


def limit_parity(args, kwargs):
    _est, X, vocabulary, high, low, limit = _limit_args(args, kwargs)
    if high is None and low is None and limit is None:
        return "nothing to limit"
    if not (_real_or_none(high) and _real_or_none(low)):
        return "max_df / min_df counts that are not numbers"
    if not (limit is None or (isinstance(limit, numbers.Integral) and not isinstance(limit, bool))):
        return f"max_features={limit!r}"
    if not _is_csr(X):
        return "matrix is not CSR"
    if type(vocabulary) is not dict:
        return "vocabulary is not a dict"
    return _native().text_vocabulary_problem(vocabulary, X.shape[1], True, False)


def limit_run(original, args, kwargs):
    np = _numpy()
    lib = _library()
    _est, X, vocabulary, high, low, limit = _limit_args(args, kwargs)
    # The library's statements, in order.
    dfs = lib._document_frequency(X)
    mask = np.ones(len(dfs), dtype=bool)
    if high is not None:
        mask &= dfs <= high
    if low is not None:
        mask &= dfs >= low
    if limit is not None and mask.sum() > limit:
        tfs = np.asarray(X.sum(axis=0)).ravel()
        mask_inds = (-tfs[mask]).argsort()[:limit]
        new_mask = np.zeros(len(dfs), dtype=bool)
        new_mask[np.where(mask)[0][mask_inds]] = True
        mask = new_mask
    new_indices = np.cumsum(mask) - 1  # maps old indices to new
    kept_indices = np.where(mask)[0]
    if len(kept_indices) == 0:
        # The vocabulary is untouched so far: raise the library's error from its own frame.
        return original(*args, **kwargs)
    _native().text_prune_vocabulary(vocabulary, mask.tobytes(), new_indices.astype(np.int64).tobytes(),
                                    list(new_indices[mask]))
    return X[:, kept_indices]


# ------------------------------------------------------------------- HashingVectorizer.transform


def hash_parity(args, kwargs):
    np = _numpy()
    est = args[0]
    raw = args[1] if len(args) > 1 else kwargs["X"]
    lib = _library()
    if isinstance(raw, str):
        return "documents are one str"
    why = _analyzer_problem(est, HASHING_METHODS, lib.HashingVectorizer)
    if why:
        return why
    n = est.n_features
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and 1 <= n <= MAX_N_FEATURES):
        return f"n_features={n!r}"
    if _dtype_name(est.dtype) not in HASH_DTYPES:
        return f"dtype={est.dtype!r}"
    if not any(est.norm is v or (type(est.norm) is str and est.norm == v) for v in NORMS):
        return f"norm={est.norm!r}"
    _docs, why = _documents(raw)
    return why


def hash_run(original, args, kwargs):
    np = _numpy()
    est = args[0]
    raw = args[1] if len(args) > 1 else kwargs["X"]
    lib = _library()
    est._validate_ngram_range()
    est.build_analyzer()  # the library's checks and side effects (stop-word consistency)
    hasher = est._get_hasher()
    docs, _ = _documents(raw)
    indices, indptr, signs, wide = _with_tables(
        _native().text_hash, docs, *_spec(est), int(hasher.n_features), bool(hasher.alternate_sign))
    # _hashing_transform: indices int32 (int64 past 2**31 - 1 entries), indptr likewise,
    # values a prefix view of a buffer grown by doubling from 8192.
    index_dtype = np.int64 if wide else np.int32
    indices = np.frombuffer(indices, dtype=index_dtype).copy()
    indptr = np.frombuffer(indptr, dtype=index_dtype).copy()
    size = len(indices)
    capacity = HASH_START_CAPACITY
    while capacity <= size:
        capacity *= 2
    values = np.empty(capacity, dtype=hasher.dtype)
    values[:size] = np.frombuffer(signs, dtype=np.int8)
    X = lib.sp.csr_array(
        (values[:size], indices, indptr),
        dtype=hasher.dtype,
        shape=(len(indptr) - 1, hasher.n_features),
    )
    X.sum_duplicates()
    X = lib._align_api_if_sparse(X)
    if est.binary:
        X.data.fill(1)
    if est.norm is not None:
        X = lib.normalize(X, norm=est.norm, copy=False)
    return lib._align_api_if_sparse(X)


KERNELS.extend([
    Kernel("CountVectorizer._count_vocab", MODULE, "CountVectorizer", "_count_vocab",
           count_parity, count_run),
    Kernel("CountVectorizer._sort_features", MODULE, "CountVectorizer", "_sort_features",
           sort_parity, sort_run),
    Kernel("CountVectorizer._limit_features", MODULE, "CountVectorizer", "_limit_features",
           limit_parity, limit_run),
    Kernel("HashingVectorizer.transform", MODULE, "HashingVectorizer", "transform",
           hash_parity, hash_run),
])
