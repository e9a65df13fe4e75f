//! xxh3-128 hashing of buffers and of sequences of Python scalars.
//!
//! Canonical element encoding (shared by `Hasher.update_str` / `update_int` and `hash_objects`,
//! so `hash_objects(["a", 1])` equals a `Hasher` fed `update_str("a")`, `update_int(1)`):
//!
//! | value | bytes                                                                        |
//! |-------|------------------------------------------------------------------------------|
//! | None  | `N`                                                                          |
//! | bool  | `B`, 0 or 1                                                                  |
//! | int   | `I`, u32 LE length n, n bytes two's complement LE, n = (bit_length(|v|)+8)/8 |
//! | float | `F`, u64 LE of the IEEE bits (every NaN as 0x7ff8000000000000)               |
//! | str   | `S`, u64 LE length, UTF-8 (lone surrogates as with "surrogatepass")          |
//! | bytes | `Y`, u64 LE length, the bytes                                                |
//!
//! Raw buffers (`xxh3_128`, `Hasher.update`) are hashed as their bytes, with no framing.
//! Digests are the 128-bit xxh3 value in big-endian byte order.

use std::borrow::Cow;
use std::ffi::c_char;
use std::mem::MaybeUninit;

use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};
use xxhash_rust::xxh3::{xxh3_128 as xxh3_128_raw, Xxh3Default};

/// Buffers at least this large are hashed with the GIL released.
const GIL_RELEASE_BYTES: usize = 64 * 1024;
/// `hash_objects` batches encoded elements into a scratch buffer of about this size.
const SCRATCH_BYTES: usize = 32 * 1024;
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

const TAG_NONE: u8 = b'N';
const TAG_BOOL: u8 = b'B';
const TAG_INT: u8 = b'I';
const TAG_FLOAT: u8 = b'F';
const TAG_STR: u8 = b'S';
const TAG_BYTES: u8 = b'Y';

/// A C-contiguous buffer export of a Python object, released on drop.
struct RawBuffer {
    // Boxed so the Py_buffer never moves between export and release.
    view: Box<ffi::Py_buffer>,
}

/// Object arrays export their PyObject pointers through the buffer protocol; hashing those would
/// key values by address, so they are refused (use `hash_objects`).
fn reject_object_buffers(obj: &Bound<'_, PyAny>) -> PyResult<()> {
    if obj.is_exact_instance_of::<PyBytes>() || obj.is_exact_instance_of::<PyByteArray>() {
        return Ok(());
    }
    let has_objects = if let Ok(view) = obj.downcast::<PyMemoryView>() {
        view.getattr("format")?.extract::<String>()?.contains('O')
    } else {
        match obj.getattr("dtype") {
            Ok(dtype) => dtype.getattr("hasobject").and_then(|v| v.is_truthy()).unwrap_or(false),
            Err(_) => false,
        }
    };
    if has_objects {
        return Err(PyTypeError::new_err(
            "cannot hash the raw buffer of an object array (it holds pointers); use hash_objects",
        ));
    }
    Ok(())
}

impl RawBuffer {
    fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        reject_object_buffers(obj)?;
        let mut view: Box<MaybeUninit<ffi::Py_buffer>> = Box::new(MaybeUninit::zeroed());
        // SAFETY: `obj` is a live object and we hold the GIL (we have a Bound); `view` points to
        // writable memory for one Py_buffer. PyBUF_STRIDES (no FORMAT) lets exporters such as
        // numpy hand out any dtype and non-contiguous layouts, which we reject below ourselves.
        let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_STRIDES) };
        if rc != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        // SAFETY: PyObject_GetBuffer succeeded, so the view is initialised.
        let view: Box<ffi::Py_buffer> = unsafe { Box::from_raw(Box::into_raw(view).cast()) };
        let buffer = RawBuffer { view };
        // SAFETY: the view is a valid, exported buffer.
        let contiguous = unsafe { ffi::PyBuffer_IsContiguous(&*buffer.view, b'C' as c_char) } != 0;
        if !contiguous {
            return Err(PyBufferError::new_err(
                "buffer is not C-contiguous (make it contiguous before hashing)",
            ));
        }
        Ok(buffer)
    }

    fn as_slice(&self) -> &[u8] {
        let len = self.view.len.max(0) as usize;
        if len == 0 || self.view.buf.is_null() {
            return &[];
        }
        // SAFETY: the exporter guarantees `buf` points to `len` readable bytes that stay valid
        // (and are not resized) until PyBuffer_Release, which happens when `self` is dropped; the
        // slice borrows `self`. The contents may be written concurrently by another thread that
        // holds a writable view (e.g. a numpy array mutated while we hash with the GIL released);
        // that only makes the digest describe a mix of old and new bytes, as with any hash of
        // shared memory, and is the same contract hashlib has.
        unsafe { std::slice::from_raw_parts(self.view.buf as *const u8, len) }
    }
}

impl Drop for RawBuffer {
    fn drop(&mut self) {
        // PyBuffer_Release needs the GIL; with_gil is cheap when it is already held (always the
        // case here: buffers are only created and dropped by code holding it).
        Python::with_gil(|_| {
            // SAFETY: the view was filled by a successful PyObject_GetBuffer and is released once.
            unsafe { ffi::PyBuffer_Release(&mut *self.view) }
        });
    }
}

fn digest_bytes(py: Python<'_>, h: u128) -> Bound<'_, PyBytes> {
    PyBytes::new(py, &h.to_be_bytes())
}

fn hash_slice(py: Python<'_>, data: &[u8]) -> u128 {
    if data.len() >= GIL_RELEASE_BYTES {
        py.allow_threads(|| xxh3_128_raw(data))
    } else {
        xxh3_128_raw(data)
    }
}

/// xxh3-128 digest (16 bytes, big-endian) of the raw bytes of a C-contiguous buffer.
#[pyfunction]
pub fn xxh3_128<'py>(py: Python<'py>, buf: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let buffer = RawBuffer::get(buf)?;
    let h = hash_slice(py, buffer.as_slice());
    drop(buffer);
    Ok(digest_bytes(py, h))
}

/// UTF-8 of a str; lone surrogates are encoded as with the "surrogatepass" error handler (such
/// byte sequences never occur in valid UTF-8, so no other string maps to them).
fn str_utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    match s.to_str() {
        Ok(text) => Ok(Cow::Borrowed(text.as_bytes())),
        Err(_) => {
            let encoded = s.call_method1("encode", ("utf-8", "surrogatepass"))?;
            let bytes = encoded.downcast::<PyBytes>()?;
            Ok(Cow::Owned(bytes.as_bytes().to_vec()))
        }
    }
}

/// Canonical int encoding (see module docs) appended to `out`.
fn encode_int(v: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    // SAFETY: `v` is a live object (we hold the GIL); PyLong_AsLongLongAndOverflow only reads it
    // and reports overflow through `overflow` instead of raising.
    let mut overflow: std::os::raw::c_int = 0;
    let small = unsafe { ffi::PyLong_AsLongLongAndOverflow(v.as_ptr(), &mut overflow) };
    if overflow == 0 {
        if small == -1 && PyErr::occurred(v.py()) {
            return Err(PyErr::fetch(v.py()));
        }
        let bits = 64 - small.unsigned_abs().leading_zeros() as usize;
        let n = (bits + 8) / 8;
        out.push(TAG_INT);
        out.extend_from_slice(&(n as u32).to_le_bytes());
        // n <= 9 (9 only for i64::MIN); the i128 bytes sign-extend past the 8 of an i64.
        out.extend_from_slice(&(small as i128).to_le_bytes()[..n]);
        return Ok(());
    }
    let bits: usize = v.call_method0("bit_length")?.extract()?;
    let n = (bits + 8) / 8;
    let kwargs = pyo3::types::PyDict::new(v.py());
    kwargs.set_item("signed", true)?;
    let encoded = v.call_method("to_bytes", (n, "little"), Some(&kwargs))?;
    let bytes = encoded.downcast::<PyBytes>()?;
    let n32 = u32::try_from(n).map_err(|_| PyTypeError::new_err("int too large to hash"))?;
    out.push(TAG_INT);
    out.extend_from_slice(&n32.to_le_bytes());
    out.extend_from_slice(bytes.as_bytes());
    Ok(())
}

fn float_bits(v: f64) -> u64 {
    if v.is_nan() {
        CANONICAL_NAN
    } else {
        v.to_bits()
    }
}

/// Streaming xxh3-128.
#[pyclass(module = "stratum._native")]
pub struct Hasher {
    state: Xxh3Default,
}

impl Hasher {
    fn feed_small(&mut self, scratch: &[u8]) {
        self.state.update(scratch);
    }
}

#[pymethods]
impl Hasher {
    #[new]
    fn new() -> Self {
        Hasher { state: Xxh3Default::new() }
    }

    /// Add the raw bytes of a C-contiguous buffer (GIL released for large buffers).
    fn update(&mut self, py: Python<'_>, buf: &Bound<'_, PyAny>) -> PyResult<()> {
        // Fast path for bytes: no buffer export needed.
        if let Ok(b) = buf.downcast_exact::<PyBytes>() {
            let data = b.as_bytes();
            if data.len() < GIL_RELEASE_BYTES {
                self.state.update(data);
                return Ok(());
            }
        }
        let buffer = RawBuffer::get(buf)?;
        let data = buffer.as_slice();
        if data.len() >= GIL_RELEASE_BYTES {
            let state = &mut self.state;
            py.allow_threads(|| state.update(data));
        } else {
            self.state.update(data);
        }
        Ok(())
    }

    /// Add a str (tag, length, UTF-8).
    fn update_str(&mut self, s: &Bound<'_, PyString>) -> PyResult<()> {
        let data = str_utf8(s)?;
        let mut head = [0u8; 9];
        head[0] = TAG_STR;
        head[1..].copy_from_slice(&(data.len() as u64).to_le_bytes());
        self.state.update(&head);
        self.state.update(&data);
        Ok(())
    }

    /// Add an int of any size (tag, length, minimal-ish two's complement; see module docs).
    fn update_int(&mut self, i: &Bound<'_, PyInt>) -> PyResult<()> {
        let mut scratch = Vec::with_capacity(16);
        encode_int(i.as_any(), &mut scratch)?;
        self.feed_small(&scratch);
        Ok(())
    }

    /// The 16-byte digest (big-endian); the hasher can keep being updated.
    fn digest<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        digest_bytes(py, self.state.digest128())
    }

    /// The digest as 32 lowercase hex characters.
    fn hexdigest(&self) -> String {
        format!("{:032x}", self.state.digest128())
    }

    /// An independent copy of the current state.
    fn copy(&self) -> Hasher {
        Hasher { state: self.state.clone() }
    }
}

/// Encodes one element; Ok(false) if its type is not supported.
fn encode_element(item: &Bound<'_, PyAny>, out: &mut Vec<u8>, state: &mut Xxh3Default) -> PyResult<bool> {
    if let Ok(s) = item.downcast_exact::<PyString>() {
        let data = str_utf8(s)?;
        out.push(TAG_STR);
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        append_payload(out, state, &data);
    } else if item.is_none() {
        out.push(TAG_NONE);
    } else if let Ok(f) = item.downcast_exact::<PyFloat>() {
        out.push(TAG_FLOAT);
        out.extend_from_slice(&float_bits(f.value()).to_le_bytes());
    } else if let Ok(b) = item.downcast_exact::<PyBool>() {
        out.push(TAG_BOOL);
        out.push(b.is_true() as u8);
    } else if item.is_exact_instance_of::<PyInt>() {
        encode_int(item, out)?;
    } else if let Ok(b) = item.downcast_exact::<PyBytes>() {
        let data = b.as_bytes();
        out.push(TAG_BYTES);
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        append_payload(out, state, data);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// Appends a payload to the scratch buffer, or streams it directly when it is large.
fn append_payload(out: &mut Vec<u8>, state: &mut Xxh3Default, data: &[u8]) {
    if data.len() >= SCRATCH_BYTES / 2 {
        state.update(out);
        out.clear();
        state.update(data);
    } else {
        out.extend_from_slice(data);
    }
}

fn hash_iter<'py, I>(items: I) -> PyResult<Option<u128>>
where
    I: Iterator<Item = Bound<'py, PyAny>>,
{
    let mut state = Xxh3Default::new();
    let mut scratch: Vec<u8> = Vec::with_capacity(SCRATCH_BYTES + 64);
    for item in items {
        if !encode_element(&item, &mut scratch, &mut state)? {
            return Ok(None);
        }
        if scratch.len() >= SCRATCH_BYTES {
            state.update(&scratch);
            scratch.clear();
        }
    }
    state.update(&scratch);
    Ok(Some(state.digest128()))
}

/// Order-sensitive digest of a list, tuple or 1-D numpy object array of None / bool / int /
/// float / str / bytes (exact types). None if any element has another type.
#[pyfunction]
pub fn hash_objects<'py>(py: Python<'py>, seq: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let h = if let Ok(list) = seq.downcast::<PyList>() {
        hash_iter(list.iter())?
    } else if let Ok(tuple) = seq.downcast::<PyTuple>() {
        hash_iter(tuple.iter())?
    } else if is_object_vector(seq)? {
        let list = seq.call_method0("tolist")?;
        let list = list.downcast::<PyList>()?;
        hash_iter(list.iter())?
    } else {
        return Err(PyTypeError::new_err(
            "hash_objects expects a list, a tuple or a 1-D numpy object array",
        ));
    };
    Ok(h.map(|h| digest_bytes(py, h)))
}

/// True for a 1-D numpy array of dtype object (duck-typed: ndim, dtype.kind, tolist).
fn is_object_vector(seq: &Bound<'_, PyAny>) -> PyResult<bool> {
    let Ok(ndim) = seq.getattr("ndim") else { return Ok(false) };
    let Ok(dtype) = seq.getattr("dtype") else { return Ok(false) };
    let Ok(ndim) = ndim.extract::<i64>() else { return Ok(false) };
    let Ok(kind) = dtype.getattr("kind") else { return Ok(false) };
    let Ok(kind) = kind.extract::<String>() else { return Ok(false) };
    Ok(ndim == 1 && kind == "O" && seq.hasattr("tolist")?)
}
