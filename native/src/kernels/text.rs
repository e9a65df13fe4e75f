//! Text-vectorizer kernels: the tokenising and counting inside scikit-learn's
//! `CountVectorizer._count_vocab` and `HashingVectorizer.transform`, bit-identical to the
//! library for the parameter subset `stratum/kernels/text.py` admits.
//!
//! Exactness rests on three rules:
//! - character classes are Python's: ASCII is hard-coded (and tested against `re`); every other
//!   code point is looked up in `TextTables`, ranges that Python computed with its own `re`
//!   (`\w` = `str.isalnum()` or `_`, `\s` = `str.isspace()`), so the Unicode version is the
//!   interpreter's;
//! - lowercasing of non-ASCII documents calls Python's `str.lower` (final sigma, 'İ' -> "i̇");
//! - outputs are the library's intermediate arrays in the library's order (vocabulary in order of
//!   first appearance, row entries in order of first appearance, one hashed entry per occurrence);
//!   the Python glue then runs the library's own scipy / numpy steps on them.
//!
//! Functions return `None` when a non-ASCII document needs `TextTables` and none were given
//! (the glue builds them once, lazily, and calls again).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyType};
use rustc_hash::{FxHashMap, FxHashSet};

/// Python's `\w` and `\s` for non-ASCII code points: sorted, disjoint half-open ranges.
#[pyclass(module = "stratum._native", frozen)]
pub struct TextTables {
    word: Vec<(u32, u32)>,
    space: Vec<(u32, u32)>,
}

fn check_ranges(ranges: &[(u32, u32)]) -> PyResult<()> {
    let mut last = 0u32;
    for &(a, b) in ranges {
        if a < last || b < a {
            return Err(PyValueError::new_err("ranges must be sorted, disjoint, half-open"));
        }
        last = b;
    }
    Ok(())
}

#[pymethods]
impl TextTables {
    #[new]
    fn new(word: Vec<(u32, u32)>, space: Vec<(u32, u32)>) -> PyResult<Self> {
        check_ranges(&word)?;
        check_ranges(&space)?;
        Ok(TextTables { word, space })
    }
}

fn in_ranges(ranges: &[(u32, u32)], c: u32) -> bool {
    // first range whose end is > c
    let i = ranges.partition_point(|&(_, end)| end <= c);
    i < ranges.len() && ranges[i].0 <= c
}

/// Character classes of one document: ASCII from constants, the rest from the tables.
#[derive(Clone, Copy)]
struct Classes<'a> {
    tables: Option<&'a TextTables>,
}

impl Classes<'_> {
    #[inline]
    fn is_word(self, c: char) -> bool {
        if c.is_ascii() {
            c.is_ascii_alphanumeric() || c == '_'
        } else {
            // Classes are only built with tables for non-ASCII text.
            self.tables.is_some_and(|t| in_ranges(&t.word, c as u32))
        }
    }

    #[inline]
    fn is_space(self, c: char) -> bool {
        if c.is_ascii() {
            // Python's str.isspace() on ASCII: \t \n \v \f \r, \x1c-\x1f, space.
            matches!(c as u32, 9..=13 | 28..=32)
        } else {
            self.tables.is_some_and(|t| in_ranges(&t.space, c as u32))
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Analyzer {
    Word,
    Char,
    CharWb,
}

/// The analyzer settings the glue passes (already validated against the library's parameters).
struct Spec {
    analyzer: Analyzer,
    lowercase: bool,
    min_n: usize,
    max_n: usize,
    stop_words: Option<FxHashSet<String>>,
}

impl Spec {
    fn new(analyzer: &str, lowercase: bool, ngram_range: (usize, usize), stop_words: Option<Vec<String>>) -> PyResult<Self> {
        let analyzer = match analyzer {
            "word" => Analyzer::Word,
            "char" => Analyzer::Char,
            "char_wb" => Analyzer::CharWb,
            other => return Err(PyValueError::new_err(format!("unsupported analyzer {other:?}"))),
        };
        let (min_n, max_n) = ngram_range;
        if min_n < 1 || min_n > max_n {
            return Err(PyValueError::new_err("ngram_range must satisfy 1 <= min_n <= max_n"));
        }
        Ok(Spec { analyzer, lowercase, min_n, max_n, stop_words: stop_words.map(|v| v.into_iter().collect()) })
    }
}

/// Reusable buffers of the analyzer (one allocation per run, not per document).
#[derive(Default)]
struct Scratch {
    text: String,       // whitespace-normalised document, or one padded word (char analyzers)
    bounds: Vec<usize>, // byte offset of every char of `text`, then its length
    joined: String,
    tokens: Vec<(usize, usize)>,
}

impl Scratch {
    /// Byte offsets of the chars of `self.text` (n-grams are then slices, no copies).
    fn index_chars(&mut self) {
        self.bounds.clear();
        self.bounds.extend(self.text.char_indices().map(|(i, _)| i));
        self.bounds.push(self.text.len());
    }
}

/// `_white_spaces.sub(" ", doc)` (`\s\s+` -> one space) into `out`.
fn normalize_spaces(text: &str, cls: Classes<'_>, out: &mut String) {
    out.clear();
    let mut run = 0usize; // whitespace chars in the current run
    let mut first = ' ';
    for c in text.chars() {
        if cls.is_space(c) {
            run += 1;
            if run == 1 {
                first = c;
            }
            continue;
        }
        flush_space_run(run, first, out);
        run = 0;
        out.push(c);
    }
    flush_space_run(run, first, out);
}

#[inline]
fn flush_space_run(run: usize, first: char, out: &mut String) {
    match run {
        0 => {}
        1 => out.push(first),
        _ => out.push(' '),
    }
}

/// Calls `emit` for every feature `build_analyzer()(doc)` yields, in the library's order.
fn analyze(text: &str, cls: Classes<'_>, spec: &Spec, scratch: &mut Scratch, emit: &mut dyn FnMut(&str)) {
    match spec.analyzer {
        Analyzer::Word => word_ngrams(text, cls, spec, scratch, emit),
        Analyzer::Char => char_ngrams(text, cls, spec, scratch, emit),
        Analyzer::CharWb => char_wb_ngrams(text, cls, spec, scratch, emit),
    }
}

/// `(?u)\b\w\w+\b` findall = maximal runs of word characters at least two characters long, then
/// `_word_ngrams` (stop words removed first, n-grams joined with one space).
fn word_ngrams(text: &str, cls: Classes<'_>, spec: &Spec, scratch: &mut Scratch, emit: &mut dyn FnMut(&str)) {
    let tokens = &mut scratch.tokens;
    tokens.clear();
    let mut start = 0usize;
    let mut len = 0usize; // chars in the current run
    for (i, c) in text.char_indices() {
        if cls.is_word(c) {
            if len == 0 {
                start = i;
            }
            len += 1;
        } else {
            if len >= 2 {
                tokens.push((start, i));
            }
            len = 0;
        }
    }
    if len >= 2 {
        tokens.push((start, text.len()));
    }
    if let Some(stop) = &spec.stop_words {
        tokens.retain(|&(a, b)| !stop.contains(&text[a..b]));
    }
    let (mut min_n, max_n) = (spec.min_n, spec.max_n);
    if max_n == 1 || min_n == 1 {
        for &(a, b) in tokens.iter() {
            emit(&text[a..b]);
        }
        if max_n == 1 {
            return;
        }
        min_n += 1;
    }
    let n_tokens = tokens.len();
    let joined = &mut scratch.joined;
    for n in min_n..=max_n.min(n_tokens) {
        for i in 0..=(n_tokens - n) {
            joined.clear();
            for (k, &(a, b)) in tokens[i..i + n].iter().enumerate() {
                if k > 0 {
                    joined.push(' ');
                }
                joined.push_str(&text[a..b]);
            }
            emit(joined);
        }
    }
}

/// `_char_ngrams`: every substring of the whitespace-normalised text of length min_n..=max_n,
/// by length then position.
fn char_ngrams(text: &str, cls: Classes<'_>, spec: &Spec, scratch: &mut Scratch, emit: &mut dyn FnMut(&str)) {
    normalize_spaces(text, cls, &mut scratch.text);
    scratch.index_chars();
    let (norm, bounds) = (&scratch.text, &scratch.bounds);
    let len = bounds.len() - 1;
    for n in spec.min_n..=spec.max_n.min(len) {
        for i in 0..=(len - n) {
            emit(&norm[bounds[i]..bounds[i + n]]);
        }
    }
}

/// `_char_wb_ngrams`: n-grams inside each `str.split()` word padded with one space each side;
/// a word shorter than n is emitted once, whole, and ends the loop over n.
fn char_wb_ngrams(text: &str, cls: Classes<'_>, spec: &Spec, scratch: &mut Scratch, emit: &mut dyn FnMut(&str)) {
    // str.split() splits on the same whitespace as \s, so normalising first changes nothing
    // about the words; split directly.
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.peek().is_some_and(|&(_, c)| cls.is_space(c)) {
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else { break };
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if cls.is_space(c) {
                end = i;
                break;
            }
            chars.next();
        }
        scratch.text.clear();
        scratch.text.push(' ');
        scratch.text.push_str(&text[start..end]);
        scratch.text.push(' ');
        scratch.index_chars();
        let (w, bounds) = (&scratch.text, &scratch.bounds);
        let w_len = bounds.len() - 1;
        let slice = |from: usize, to: usize| &w[bounds[from]..bounds[to.min(w_len)]];
        for n in spec.min_n..=spec.max_n {
            let mut offset = 0usize;
            emit(slice(0, n));
            while offset + n < w_len {
                offset += 1;
                emit(slice(offset, offset + n));
            }
            if offset == 0 {
                break;
            }
        }
    }
}

/// A document after `decode` + preprocessing (lowercasing), borrowed or owned by Python.
enum Doc<'py> {
    Borrowed(Bound<'py, PyString>),
    Lowered(Bound<'py, PyString>),
}

impl<'py> Doc<'py> {
    fn get(doc: Bound<'py, PyAny>, lowercase: bool) -> PyResult<(Doc<'py>, bool)> {
        let s = doc.downcast_into::<PyString>().map_err(PyErr::from)?;
        let ascii = s.to_str()?.is_ascii();
        if lowercase && !ascii {
            // Python's own str.lower: special casing and final sigma exactly as the library.
            let lowered = s.call_method0("lower")?.downcast_into::<PyString>().map_err(PyErr::from)?;
            return Ok((Doc::Lowered(lowered), false));
        }
        Ok((Doc::Borrowed(s), ascii))
    }

    fn text(&self) -> PyResult<&str> {
        match self {
            Doc::Borrowed(s) | Doc::Lowered(s) => s.to_str(),
        }
    }
}

/// Runs the analyzer over every document, calling `sink(doc_index, feature)`; false if tables are
/// needed and missing.
fn for_each_feature(
    docs: &Bound<'_, PyList>,
    spec: &Spec,
    tables: Option<&TextTables>,
    sink: &mut dyn FnMut(usize, &str),
) -> PyResult<bool> {
    if tables.is_none() {
        // Ask for the tables before any work rather than at the first non-ASCII document.
        for item in docs.iter() {
            if !item.downcast::<PyString>()?.to_str()?.is_ascii() {
                return Ok(false);
            }
        }
    }
    let mut scratch = Scratch::default();
    let mut lowered = String::new();
    for (d, item) in docs.iter().enumerate() {
        let (doc, ascii) = Doc::get(item, spec.lowercase)?;
        let mut text = doc.text()?;
        if !text.is_ascii() && tables.is_none() {
            return Ok(false);
        }
        if spec.lowercase && ascii && text.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered.clear();
            lowered.push_str(text);
            lowered.make_ascii_lowercase();
            text = &lowered;
        }
        let cls = Classes { tables };
        analyze(text, cls, spec, &mut scratch, &mut |f| sink(d, f));
    }
    Ok(true)
}

/// Index arrays as bytes in the dtype the library picks: int32 unless nnz exceeds int32.
fn index_bytes<'py>(py: Python<'py>, values: &[i64], wide: bool) -> Bound<'py, PyBytes> {
    if wide {
        let v: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        PyBytes::new(py, &v)
    } else {
        let v: Vec<u8> = values.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect();
        PyBytes::new(py, &v)
    }
}

/// Returned by the kernels: (indices, indptr, values, wide indices) as little-endian bytes.
type Arrays<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>, bool);

/// Row builder mirroring `_count_vocab`'s per-document `feature_counter` dict: entries in order
/// of first appearance in the document.
struct Rows {
    indices: Vec<i64>,
    counts: Vec<i32>,
    indptr: Vec<i64>,
    stamp: Vec<u32>, // document number + 1 in which the feature was last seen
    slot: Vec<usize>, // its position in `indices` for that document
    doc: usize,
}

impl Rows {
    fn new(n_features: usize) -> Self {
        Rows { indices: Vec::new(), counts: Vec::new(), indptr: vec![0], stamp: vec![0; n_features], slot: vec![0; n_features], doc: 0 }
    }

    fn advance_to(&mut self, d: usize) {
        while self.doc < d {
            self.indptr.push(self.indices.len() as i64);
            self.doc += 1;
        }
    }

    #[inline]
    fn add(&mut self, d: usize, f: usize) {
        self.advance_to(d);
        if f >= self.stamp.len() {
            self.stamp.resize(f + 1, 0);
            self.slot.resize(f + 1, 0);
        }
        let mark = (d + 1) as u32;
        if self.stamp[f] == mark {
            let s = self.slot[f];
            self.counts[s] += 1;
        } else {
            self.stamp[f] = mark;
            self.slot[f] = self.indices.len();
            self.indices.push(f as i64);
            self.counts.push(1);
        }
    }

    fn finish<'py>(mut self, py: Python<'py>, n_docs: usize) -> Arrays<'py> {
        self.advance_to(n_docs);
        let wide = self.indices.len() > i32::MAX as usize;
        let counts: Vec<u8> = self.counts.iter().flat_map(|c| c.to_le_bytes()).collect();
        (index_bytes(py, &self.indices, wide), index_bytes(py, &self.indptr, wide), PyBytes::new(py, &counts), wide)
    }
}

/// `CountVectorizer._count_vocab` core. `vocabulary` is the fixed vocabulary (a dict of str to
/// index, checked by `text_vocabulary_problem`) or None to learn one into `learn_into` (the
/// caller's empty `defaultdict`, filled term by term in order of first appearance exactly as
/// the library fills its own, so the `dict()` copy the library then makes is the same dict).
/// Returns None if `tables` are needed (`learn_into` may then hold a partial vocabulary).
#[pyfunction]
#[pyo3(signature = (docs, analyzer, lowercase, ngram_range, stop_words, vocabulary, learn_into, tables))]
#[allow(clippy::too_many_arguments)]
pub fn text_count_vocab<'py>(
    py: Python<'py>,
    docs: &Bound<'py, PyList>,
    analyzer: &str,
    lowercase: bool,
    ngram_range: (usize, usize),
    stop_words: Option<Vec<String>>,
    vocabulary: Option<&Bound<'py, PyDict>>,
    learn_into: Option<&Bound<'py, PyDict>>,
    tables: Option<&TextTables>,
) -> PyResult<Option<Arrays<'py>>> {
    let spec = Spec::new(analyzer, lowercase, ngram_range, stop_words)?;
    let n_docs = docs.len();
    match vocabulary {
        Some(fixed) => {
            let mut map: FxHashMap<String, usize> = FxHashMap::default();
            for (k, v) in fixed.iter() {
                if let Ok(k) = k.downcast::<PyString>() {
                    map.insert(k.to_str()?.to_owned(), v.extract::<usize>()?);
                }
            }
            let mut rows = Rows::new(fixed.len());
            let ok = for_each_feature(docs, &spec, tables, &mut |d, f| {
                if let Some(&i) = map.get(f) {
                    rows.add(d, i);
                }
            })?;
            Ok(ok.then(|| rows.finish(py, n_docs)))
        }
        None => {
            let mut map: FxHashMap<Box<str>, usize> = FxHashMap::default();
            let mut rows = Rows::new(0);
            let ok = for_each_feature(docs, &spec, tables, &mut |d, f| {
                let i = match map.get(f) {
                    Some(&i) => i,
                    None => {
                        let i = map.len();
                        map.insert(f.into(), i);
                        i
                    }
                };
                rows.add(d, i);
            })?;
            if !ok {
                return Ok(None);
            }
            let mut terms: Vec<&str> = vec![""; map.len()];
            for (k, &i) in &map {
                terms[i] = k;
            }
            let dict = learn_into.ok_or_else(|| PyValueError::new_err("give vocabulary or learn_into"))?;
            for (i, t) in terms.iter().enumerate() {
                dict.set_item(PyString::new(py, t), i)?;
            }
            Ok(Some(rows.finish(py, n_docs)))
        }
    }
}

/// None if `vocabulary` (a dict) is one the kernels handle, else why not: every value an int in
/// 0..`n_columns` (the matrix columns it names); with `str_keys` every key an exact str; with
/// `permutation` the values are distinct (a permutation of 0..len when `n_columns` == len).
#[pyfunction]
#[pyo3(signature = (vocabulary, n_columns, str_keys=false, permutation=false))]
pub fn text_vocabulary_problem(vocabulary: &Bound<'_, PyDict>, n_columns: usize, str_keys: bool, permutation: bool) -> Option<String> {
    let mut seen = if permutation { vec![false; n_columns] } else { Vec::new() };
    for (k, v) in vocabulary.iter() {
        if str_keys && !k.is_exact_instance_of::<PyString>() {
            return Some("vocabulary key that is not a str".into());
        }
        let i = match v.extract::<i64>() {
            Ok(i) if i >= 0 && (i as u64) < n_columns as u64 => i as usize,
            Ok(_) => return Some("vocabulary index out of range".into()),
            Err(_) => return Some("vocabulary value that is not an int".into()),
        };
        if permutation {
            if seen[i] {
                return Some("repeated vocabulary index".into());
            }
            seen[i] = true;
        }
    }
    None
}

/// `CountVectorizer._sort_features`'s vocabulary step: assigns `vocabulary[term] = new_index`
/// in sorted term order (code point order = UTF-8 byte order) and returns the old -> new index
/// map as int64 bytes. Keys and values must pass `text_vocabulary_problem(.., True, True)`.
#[pyfunction]
pub fn text_sort_vocabulary<'py>(py: Python<'py>, vocabulary: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyBytes>> {
    let n = vocabulary.len();
    let items: Vec<(Bound<'py, PyAny>, usize)> =
        vocabulary.iter().map(|(k, v)| Ok((k, v.extract::<usize>()?))).collect::<PyResult<_>>()?;
    // (first 8 bytes zero-padded, big-endian: orders like the bytes; the full str breaks ties)
    let mut order: Vec<(u64, &str, usize)> = Vec::with_capacity(n);
    for (pos, (k, _)) in items.iter().enumerate() {
        let text = k.downcast::<PyString>()?.to_str()?;
        let mut head = [0u8; 8];
        let m = text.len().min(8);
        head[..m].copy_from_slice(&text.as_bytes()[..m]);
        order.push((u64::from_be_bytes(head), text, pos));
    }
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let mut map = vec![0i64; n];
    for (new, &(_, _, pos)) in order.iter().enumerate() {
        let (key, old) = &items[pos];
        vocabulary.set_item(key, new)?;
        let slot = map.get_mut(*old).ok_or_else(|| PyValueError::new_err("vocabulary index out of range"))?;
        *slot = new as i64;
    }
    let bytes: Vec<u8> = map.iter().flat_map(|x| x.to_le_bytes()).collect();
    Ok(PyBytes::new(py, &bytes))
}

/// `CountVectorizer._limit_features`'s vocabulary loop: for each (term, old) in the dict's order,
/// `vocabulary[term] = kept[new_indices[old]]` if `mask[old]` else `del vocabulary[term]`.
/// `mask` is the bool array's bytes, `new_indices` its int64 cumsum - 1, `kept` the scalars
/// `new_indices[mask]` (the library stores numpy integers).
#[pyfunction]
pub fn text_prune_vocabulary(vocabulary: &Bound<'_, PyDict>, mask: &[u8], new_indices: &[u8], kept: &Bound<'_, PyList>) -> PyResult<()> {
    let bad = || PyValueError::new_err("mask / index arrays do not match the vocabulary");
    if new_indices.len() != mask.len() * 8 {
        return Err(bad());
    }
    let items: Vec<(Bound<'_, PyAny>, usize)> =
        vocabulary.iter().map(|(k, v)| Ok((k, v.extract::<usize>()?))).collect::<PyResult<_>>()?;
    for (key, old) in items {
        if *mask.get(old).ok_or_else(bad)? != 0 {
            let raw: [u8; 8] = new_indices[old * 8..old * 8 + 8].try_into().map_err(|_| bad())?;
            let new = usize::try_from(i64::from_le_bytes(raw)).map_err(|_| bad())?;
            vocabulary.set_item(key, kept.get_item(new)?)?;
        } else {
            vocabulary.del_item(key)?;
        }
    }
    Ok(())
}

/// None if every document is a str (exactly, or `str_subclass`, i.e. numpy.str_) with valid
/// UTF-8 (no lone surrogates), else why not.
#[pyfunction]
pub fn text_documents_problem(docs: &Bound<'_, PyList>, str_subclass: &Bound<'_, PyType>) -> Option<String> {
    for (i, doc) in docs.iter().enumerate() {
        let ok_type = doc.is_exact_instance_of::<PyString>() || doc.get_type().is(str_subclass);
        if !ok_type {
            return Some(format!("document {i} is a {}, not a str", doc.get_type().name().map(|n| n.to_string()).unwrap_or_default()));
        }
        let s = doc.downcast::<PyString>().expect("checked above");
        if s.to_str().is_err() {
            return Some(format!("document {i} holds lone surrogates"));
        }
    }
    None
}

/// MurmurHash3_x86_32 (Austin Appleby's reference, as vendored by scikit-learn), signed.
pub fn murmur3_32(key: &[u8], seed: u32) -> i32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h1 = seed;
    let mut chunks = key.chunks_exact(4);
    for block in &mut chunks {
        let mut k1 = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k1 = k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    let mut k1: u32 = 0;
    if tail.len() >= 3 {
        k1 ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        k1 ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        k1 ^= tail[0] as u32;
        k1 = k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 ^= k1;
    }
    h1 ^= key.len() as u32;
    h1 ^= h1 >> 16;
    h1 = h1.wrapping_mul(0x85eb_ca6b);
    h1 ^= h1 >> 13;
    h1 = h1.wrapping_mul(0xc2b2_ae35);
    h1 ^= h1 >> 16;
    h1 as i32
}

/// `sklearn.utils.murmurhash3_32(key, seed)` for bytes keys (signed), exposed for tests.
#[pyfunction]
pub fn murmurhash3_32(key: &[u8], seed: u32) -> i32 {
    murmur3_32(key, seed)
}

/// The column `_hashing_transform` assigns to hash `h` (the int32 minimum handled as there).
fn hashed_index(h: i32, n_features: i64) -> i64 {
    if h == i32::MIN {
        (2_147_483_647 - (n_features - 1)) % n_features
    } else {
        (h as i64).abs() % n_features
    }
}

/// `HashingVectorizer.transform` core = `_hashing_transform` over the analyzer's features: one
/// entry per occurrence, value +1 or -1 (alternate_sign). Returns (indices, indptr, signs as
/// int8, wide) or None if `tables` are needed.
#[pyfunction]
#[pyo3(signature = (docs, analyzer, lowercase, ngram_range, stop_words, n_features, alternate_sign, tables))]
#[allow(clippy::too_many_arguments)]
pub fn text_hash<'py>(
    py: Python<'py>,
    docs: &Bound<'py, PyList>,
    analyzer: &str,
    lowercase: bool,
    ngram_range: (usize, usize),
    stop_words: Option<Vec<String>>,
    n_features: i64,
    alternate_sign: bool,
    tables: Option<&TextTables>,
) -> PyResult<Option<Arrays<'py>>> {
    if n_features < 1 || n_features > i32::MAX as i64 {
        return Err(PyValueError::new_err("n_features must be in [1, 2**31 - 1]"));
    }
    let spec = Spec::new(analyzer, lowercase, ngram_range, stop_words)?;
    let n_docs = docs.len();
    let mut indices: Vec<i64> = Vec::new();
    let mut signs: Vec<u8> = Vec::new();
    let mut indptr: Vec<i64> = vec![0];
    let ok = for_each_feature(docs, &spec, tables, &mut |d, f| {
        while indptr.len() <= d {
            indptr.push(indices.len() as i64);
        }
        let h = murmur3_32(f.as_bytes(), 0);
        indices.push(hashed_index(h, n_features));
        let sign: i8 = if alternate_sign && h < 0 { -1 } else { 1 };
        signs.push(sign as u8);
    })?;
    if !ok {
        return Ok(None);
    }
    while indptr.len() <= n_docs {
        indptr.push(indices.len() as i64);
    }
    let wide = indices.len() > i32::MAX as usize;
    Ok(Some((index_bytes(py, &indices, wide), index_bytes(py, &indptr, wide), PyBytes::new(py, &signs), wide)))
}

/// Adds the text kernels to `stratum._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TextTables>()?;
    m.add_function(wrap_pyfunction!(text_count_vocab, m)?)?;
    m.add_function(wrap_pyfunction!(text_vocabulary_problem, m)?)?;
    m.add_function(wrap_pyfunction!(text_sort_vocabulary, m)?)?;
    m.add_function(wrap_pyfunction!(text_prune_vocabulary, m)?)?;
    m.add_function(wrap_pyfunction!(text_documents_problem, m)?)?;
    m.add_function(wrap_pyfunction!(text_hash, m)?)?;
    m.add_function(wrap_pyfunction!(murmurhash3_32, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_reference_vectors() {
        // sklearn.utils.murmurhash3_32(b"", 0) == 0, (b"a", 0) == 1009084850
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"a", 0), 1_009_084_850);
    }

    #[test]
    fn ranges_lookup() {
        let r = [(10, 20), (30, 31)];
        assert!(!in_ranges(&r, 9));
        assert!(in_ranges(&r, 10));
        assert!(!in_ranges(&r, 20));
        assert!(in_ranges(&r, 30));
        assert!(!in_ranges(&r, 31));
    }
}
