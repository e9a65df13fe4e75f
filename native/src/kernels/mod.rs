//! Native kernels: replacements of library operations whose results are bit-identical
//! (the Python side, `stratum/kernels/`, decides when each one applies).

use pyo3::prelude::*;

mod categorical;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    categorical::register(m)
}
