"""Differential tests of the native text-vectorizer kernels (stratum/kernels/text.py).

Every case runs the same estimator code twice, library only and with the kernels installed, and
compares everything observable: the returned matrix (type, shape, dtype, index dtypes, indices,
indptr, data bytes), the fitted estimator (pickled bytes, ``vocabulary_`` order and value types,
``idf_``), later library methods (``get_feature_names_out``, ``inverse_transform``,
``transform``) and exceptions (type and message). Each case also asserts which kernels ran, so
a parity check that silently sends everything to the library fails the test.

Needs the installed extension: ``python -P -m pytest tests/test_kernels_text.py``.
"""
from __future__ import annotations

import pickle
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.utils import murmurhash3_32

from stratum import _native, kernels
from stratum.kernels import text as ktext

# Characters whose Python semantics differ from naive Rust / ASCII ones: Turkish dotted and
# dotless I, final sigma, combining marks, titlecase, ß and ligatures, digits and numerals of
# other scripts, CJK, emoji, '_', and whitespace only Python counts (\x1c-\x1f, \x85, \u3000).
TRICKY = ("İıIiΣσςΑΩ\u0301\u0307\u0345ǅǄǆßẞﬁﬀ½²٣٤０１一二日本語テキストカ한국🙂👍🏽\u200d_-'.,;:!?"
          "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000\u200b\ufeff")
ALPHABET = st.sampled_from("abcdeABCDE 0123456789" + TRICKY) | st.characters(
    blacklist_categories=("Cs",))
WORDS = st.sampled_from(["the", "The", "cat", "CATS", "naïve", "café", "İstanbul", "ΣΟΦΟΣ",
                         "σοφός", "straße", "x", "a_b", "12", "٣٤", "日本", "🙂", "don't", ""])
DOC = st.one_of(
    st.text(ALPHABET, max_size=40),
    st.lists(WORDS, max_size=12).map(" ".join),
    st.sampled_from(["", " ", "\t\n ", "a", "!!!", "a b c", "ab ab ab"]),
)
DOCS = st.lists(DOC, min_size=1, max_size=12)
NGRAMS = st.sampled_from([(1, 1), (1, 2), (2, 2), (1, 3), (2, 4), (3, 5)])
DTYPES = st.sampled_from([np.int64, np.int32, np.float64, np.float32, np.uint8])
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def _kernels_off():
    kernels.uninstall()
    yield
    kernels.uninstall()


def _outcome(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as exc:  # compared, not swallowed: both sides must raise alike
            value = ("raised", type(exc).__name__, str(exc))
    return value, [(w.category.__name__, str(w.message), w.filename, w.lineno) for w in caught]


def _describe(obj):
    """Everything observable about a result, as comparable plain data."""
    import scipy.sparse as sp
    if sp.issparse(obj):
        return ("sparse", type(obj).__name__, obj.shape, obj.dtype.str, obj.indices.dtype.str,
                obj.indptr.dtype.str, obj.indices.tobytes(), obj.indptr.tobytes(),
                obj.data.tobytes(), bool(obj.has_sorted_indices), obj.data.flags.writeable,
                pickle.dumps(obj))
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.shape, pickle.dumps(obj))
    if isinstance(obj, list):
        return [_describe(o) for o in obj]
    return obj


def _state(est):
    out = {"pickle": pickle.dumps(est), "dict": sorted(est.__dict__)}
    vocab = getattr(est, "vocabulary_", None)
    if vocab is not None:
        out["vocab"] = [(k, type(v).__name__, int(v)) for k, v in vocab.items()]
        out["vocab_size"] = sys.getsizeof(vocab)  # the dict's table: same operations, same size
        out["names"] = _outcome(lambda: _describe(est.get_feature_names_out()))
    if getattr(est, "_tfidf", None) is not None and hasattr(est._tfidf, "idf_"):
        out["idf"] = (est.idf_.dtype.str, est.idf_.tobytes())
    return out


def _session(make, steps):
    """Run ``steps`` (list of (method, docs)) on a fresh estimator; describe everything."""
    est = make()
    record = []
    for method, docs in steps:
        result, warns = _outcome(lambda: getattr(est, method)(docs))
        record.append((method, "self" if result is est else _describe(result), warns))
        if isinstance(result, tuple) and result and result[0] == "raised":
            break
        if method != "fit" and hasattr(est, "vocabulary_"):
            record.append(("inverse", _outcome(lambda: _describe(est.inverse_transform(result)))))
    record.append(_state(est))
    return record


def differential(make, steps, expect_native=True):
    library = _session(make, steps)
    kernels.install()
    start = kernels.mark()
    try:
        native = _session(make, steps)
    finally:
        kernels.uninstall()
    events = kernels._log[start:]
    assert native == library
    if expect_native:
        assert any(why is None for _k, why in events), events
    return events


def _count_params(draw_analyzer, ngram, lowercase, binary, dtype, min_df, max_df, max_features,
                  stop_words):
    return dict(analyzer=draw_analyzer, ngram_range=ngram, lowercase=lowercase, binary=binary,
                dtype=dtype, min_df=min_df, max_df=max_df, max_features=max_features,
                stop_words=stop_words if draw_analyzer == "word" else None)


COUNT_PARAMS = st.builds(
    _count_params,
    st.sampled_from(["word", "char", "char_wb"]), NGRAMS, st.booleans(), st.booleans(), DTYPES,
    st.sampled_from([1, 2, 3, 0.0, 0.2, 0.5]), st.sampled_from([1.0, 0.9, 0.5, 1, 2, 5]),
    st.sampled_from([None, 1, 3, 10]), st.sampled_from([None, "english", ["the", "cat", "σοφός"]]),
)


@SETTINGS
@given(params=COUNT_PARAMS, docs=DOCS, more=DOCS)
def test_count_vectorizer(params, docs, more):
    differential(lambda: CountVectorizer(**params),
                 [("fit_transform", docs), ("transform", more), ("fit", more), ("transform", docs)],
                 expect_native=True)


@SETTINGS
@given(params=COUNT_PARAMS, docs=DOCS, more=DOCS, norm=st.sampled_from(["l2", "l1", None]),
       use_idf=st.booleans(), smooth_idf=st.booleans(), sublinear_tf=st.booleans(),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_tfidf_vectorizer(params, docs, more, norm, use_idf, smooth_idf, sublinear_tf, dtype):
    params = dict(params, dtype=dtype)
    differential(lambda: TfidfVectorizer(norm=norm, use_idf=use_idf, smooth_idf=smooth_idf,
                                         sublinear_tf=sublinear_tf, **params),
                 [("fit_transform", docs), ("transform", more), ("fit", more), ("transform", docs)])


@SETTINGS
@given(docs=DOCS, more=DOCS, analyzer=st.sampled_from(["word", "char", "char_wb"]), ngram=NGRAMS,
       lowercase=st.booleans(), binary=st.booleans(),
       n_features=st.sampled_from([1, 2, 7, 64, 1000, 2**20, 2**31 - 2]),
       alternate_sign=st.booleans(), norm=st.sampled_from(["l2", "l1", None]),
       dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int32]))
def test_hashing_vectorizer(docs, more, analyzer, ngram, lowercase, binary, n_features,
                            alternate_sign, norm, dtype):
    differential(lambda: HashingVectorizer(analyzer=analyzer, ngram_range=ngram, lowercase=lowercase,
                                           binary=binary, n_features=n_features,
                                           alternate_sign=alternate_sign, norm=norm, dtype=dtype),
                 [("fit_transform", docs), ("transform", more)])


@SETTINGS
@given(docs=DOCS, vocab=st.lists(st.sampled_from(["the", "cat", "naïve", "日本", "ab", "Cat", "a b"]),
                                 min_size=1, max_size=6, unique=True),
       as_dict=st.booleans(), ngram=NGRAMS)
def test_fixed_vocabulary(docs, vocab, as_dict, ngram):
    vocabulary = {t: i for i, t in enumerate(reversed(vocab))} if as_dict else vocab
    differential(lambda: CountVectorizer(vocabulary=vocabulary, ngram_range=ngram),
                 [("fit_transform", docs), ("transform", docs)])
    differential(lambda: TfidfVectorizer(vocabulary=vocabulary, ngram_range=ngram),
                 [("fit_transform", docs), ("transform", docs)])


@given(key=st.binary(max_size=40), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=300, deadline=None)
def test_murmurhash_matches_sklearn(key, seed):
    assert _native.murmurhash3_32(key, seed) == murmurhash3_32(key, seed)


def _int32_min_token() -> str:
    """An 8-letter ASCII token whose MurmurHash3 is -2**31 (``_hashing_transform``'s special
    bucket), found by inverting the hash's last block for chosen first blocks."""
    mask = 0xFFFFFFFF
    c1, c2, c5, add = 0xCC9E2D51, 0x1B873593, 5, 0xE6546B64

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & mask

    def unxorshift(h, s):
        x = h
        for _ in range(32 // s + 1):
            x = h ^ (x >> s)
        return x

    def mix_block(h1, block):
        k = int.from_bytes(block, "little")
        k = (rotl((k * c1) & mask, 15) * c2) & mask
        return (rotl(h1 ^ k, 13) * c5 + add) & mask

    x = unxorshift(0x80000000, 16)
    x = (x * pow(0xC2B2AE35, -1, 2**32)) & mask
    x = unxorshift(x, 13)
    x = (x * pow(0x85EBCA6B, -1, 2**32)) & mask
    after = unxorshift(x, 16) ^ 8  # h1 after both blocks (before the length xor)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(26**4):
        head = "".join(letters[(i // 26**j) % 26] for j in range(4)).encode()
        h1 = mix_block(0, head)
        km = rotl(((after - add) * pow(c5, -1, 2**32)) & mask, 32 - 13) ^ h1
        k = (rotl((km * pow(c2, -1, 2**32)) & mask, 32 - 15) * pow(c1, -1, 2**32)) & mask
        tail = k.to_bytes(4, "little")
        if all(chr(b).isascii() and chr(b).isalnum() for b in tail):
            return (head + tail).decode()
    raise AssertionError("no token found")


@pytest.mark.parametrize("n_features", [1, 3, 1000, 2**20, 2**31 - 1])
def test_hashing_int32_min_bucket(n_features):
    token = _int32_min_token()
    assert murmurhash3_32(token.encode(), 0) == -2**31
    assert _native.murmurhash3_32(token.encode(), 0) == -2**31
    docs = [f"{token} {token} other", token.upper(), "nothing"]
    differential(lambda: HashingVectorizer(n_features=n_features, norm=None), [("transform", docs)])


# ------------------------------------------------------------------ Unicode exactness, exhaustive


@pytest.fixture(scope="module")
def all_chars():
    return "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)


def test_tables_match_python_re(all_chars):
    tables = ktext.unicode_tables()
    assert tables is ktext.unicode_tables()  # built once
    # ASCII classes are hard-coded in Rust: they must be Python's.
    ascii_word = {c for c in map(chr, range(128)) if re.fullmatch(r"\w", c)}
    assert ascii_word == {c for c in map(chr, range(128)) if c.isalnum() or c == "_"}
    assert {ord(c) for c in map(chr, range(128)) if c.isspace()} == set(range(9, 14)) | set(range(28, 33))


@pytest.mark.parametrize("lowercase", [False, True])
def test_word_tokens_every_code_point(all_chars, lowercase):
    # Consecutive word characters merge into one token, so the vocabulary shows exactly which
    # code points Python's \w accepts (and what str.lower makes of them).
    docs = [all_chars[i:i + 5000] for i in range(0, len(all_chars), 5000)]
    differential(lambda: CountVectorizer(lowercase=lowercase), [("fit_transform", docs)])


def test_char_ngrams_every_code_point(all_chars):
    # Doubled characters: a whitespace pair is normalised to one space, anything else is kept.
    docs = ["".join(c + c + "x" for c in all_chars[i:i + 3000]) for i in range(0, len(all_chars), 3000)]
    # (hashed: a 3M-term vocabulary would make the library side of the test take minutes)
    differential(lambda: HashingVectorizer(analyzer="char", ngram_range=(2, 2), lowercase=False,
                                           n_features=2**18, norm=None), [("transform", docs)])
    # char_wb splits on Python's whitespace: each split shows as two padding spaces.
    docs = ["".join(c + "a" for c in all_chars[i:i + 3000]) for i in range(0, len(all_chars), 3000)]
    differential(lambda: HashingVectorizer(analyzer="char_wb", n_features=2**18, norm=None),
                 [("transform", docs)])


# ------------------------------------------------------------------------- exceptions, fallbacks


@pytest.mark.parametrize("make, docs, message", [
    (CountVectorizer, ["a", "b c", "!"], "empty vocabulary"),
    (TfidfVectorizer, ["", " "], "empty vocabulary"),
    (lambda: CountVectorizer(min_df=3, max_df=2), ["aa bb", "aa"], "max_df corresponds"),
    (lambda: CountVectorizer(min_df=2), ["aa bb", "cc"], "After pruning"),
    (lambda: CountVectorizer(ngram_range=(2, 1)), ["aa bb"], "ngram_range"),
])
def test_errors_match(make, docs, message):
    library = _session(make, [("fit_transform", docs)])
    assert message in repr(library)
    differential(make, [("fit_transform", docs)], expect_native=False)


def _reasons(make, docs, method="fit_transform"):
    kernels.install()
    start = kernels.mark()
    try:
        getattr(make(), method)(docs)
    except Exception:
        pass
    finally:
        kernels.uninstall()
    return [why for _k, why in kernels._log[start:]]


class Custom(CountVectorizer):
    def build_tokenizer(self):
        return str.split


@pytest.mark.parametrize("make, docs, reason", [
    (lambda: CountVectorizer(tokenizer=str.split, token_pattern=None), ["a b"], "custom tokenizer"),
    (lambda: CountVectorizer(preprocessor=str.upper), ["a b"], "custom preprocessor"),
    (lambda: CountVectorizer(analyzer=str.split), ["a b"], "custom analyzer callable"),
    (lambda: CountVectorizer(token_pattern=r"\b\w+\b"), ["a b"], "non-default token_pattern"),
    (lambda: CountVectorizer(strip_accents="unicode"), ["café"], "strip_accents"),
    (lambda: CountVectorizer(input="filename"), ["/nonexistent"], "input="),
    (CountVectorizer, [b"bytes doc", "str"], "document 0 is a bytes"),
    (CountVectorizer, ["ok", np.nan], "document 1 is a float"),
    (CountVectorizer, ["lone \ud800 surrogate"], "lone surrogates"),
    (CountVectorizer, (d for d in ["gen erator"]), "documents are a generator"),
    (Custom, ["a b"], "Custom.build_tokenizer is overridden"),
    (lambda: CountVectorizer(stop_words=["ok", 3]), ["ok go"], "stop words that are not all str"),
    (lambda: HashingVectorizer(norm="l3"), ["a b"], "norm="),
    (lambda: HashingVectorizer(dtype=np.uint8), ["a b"], "dtype="),
    (lambda: HashingVectorizer(n_features=0), ["a b"], "n_features="),
    (HashingVectorizer, [], "no documents"),
])
def test_fallback_reasons(make, docs, reason):
    method = "transform" if make is HashingVectorizer or "Hashing" in repr(make()) else "fit_transform"
    reasons = _reasons(make, docs, method)
    # the tokenising kernel fell back (pruning / sorting may still run natively: their own
    # parity looks only at the vocabulary and matrix they get)
    assert reasons and reasons[0] is not None and reason in reasons[0], reasons
    if not hasattr(docs, "__next__"):
        differential(make, [(method, docs)], expect_native=False)


def test_document_containers():
    import pandas as pd
    docs = ["naïve café", "ΣΟΦΟΣ σοφός", "日本 日本"]
    for container in (list, tuple, lambda d: np.array(d), lambda d: np.array(d, dtype=object),
                      pd.Series, lambda d: pd.Series(d, dtype="string"),
                      lambda d: pd.Series(d, dtype=object)):
        differential(TfidfVectorizer, [("fit_transform", container(docs))])
        differential(HashingVectorizer, [("transform", container(docs))])


def test_pipeline_and_cross_val_use_kernels():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    rng = np.random.default_rng(0)
    vocab = ["good", "bad", "fine", "naïve", "日本", "ok", "meh", "great", "awful"]
    docs = [" ".join(rng.choice(vocab, size=6)) for _ in range(60)]
    y = np.array([("good" in d) or ("great" in d) for d in docs]).astype(int)

    def run():
        return cross_val_score(make_pipeline(TfidfVectorizer(ngram_range=(1, 2)),
                                             LogisticRegression()), docs, y, cv=5).tobytes()
    library = run()
    kernels.install()
    start = kernels.mark()
    try:
        native = run()
    finally:
        kernels.uninstall()
    assert native == library
    ran = {k for k, why in kernels._log[start:] if why is None}
    assert "CountVectorizer._count_vocab" in ran and "CountVectorizer._sort_features" in ran


# ----------------------------------------------------------------- whole scripts, byte for byte


CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.mark.differential
@pytest.mark.parametrize("native_setting", ["1", "0"])
def test_text_corpus_script_plain_vs_stratum(native_setting, tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import difftest
    import sqlite3
    script = CORPUS / "text_kernels_unicode.py"
    monkeypatch.setenv("STRATUM_NATIVE", native_setting)
    (tmp_path / "data").mkdir()
    results, problems = difftest.run_differential(script, tmp_path / "work", tmp_path / "cache",
                                                  data_dir=tmp_path / "data")
    assert not problems, "\n".join(problems)
    assert results[0].exit_code == 0, results[0].stderr.decode()
    db = sqlite3.connect(tmp_path / "cache" / "traces.db")
    notes = [row[0] for row in db.execute("SELECT impl FROM nodes WHERE impl IS NOT NULL")]
    used = any("native CountVectorizer._count_vocab" in n for n in notes) and \
        any("native HashingVectorizer.transform" in n for n in notes)
    assert used == (native_setting == "1"), notes
