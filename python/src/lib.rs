//! # hepq-python: hepq in notebooks
//!
//! The extension module `hepq._hepq`, built with maturin, under the pure-Python package
//! `hepq` (`python/hepq/`), which adds the relation API's conversions (pandas, polars,
//! awkward, hist), the DB-API 2.0 cursor and the notebook representations. Like the CLI and
//! the server, it builds its session only through [`hepq_sql`].
//!
//! * [`session`] — `_Session`: a [`hepq_sql::HepqSession`] with SQL, registration of paths and
//!   of Arrow data from Python, and parameter binding.
//! * [`frame`] — `_Frame`: a lazy query result exported as an Arrow C stream (`PyCapsule`).
//! * [`ffi`] — the Arrow C data and stream interfaces (export and import, no buffer copies).
//! * [`errors`] — the PEP 249 exception hierarchy and the mapping of engine errors onto it.
//! * [`wait`] — one tokio runtime; queries run on it with the GIL released, and Ctrl-C
//!   (a pending `SIGINT`) aborts them.

use pyo3::prelude::*;

pub mod errors;
pub mod ffi;
pub mod frame;
pub mod session;
pub mod wait;

/// The session builder every front end goes through.
pub use hepq_sql as sql;

/// `hepq._hepq`: the compiled half of the `hepq` package.
#[pymodule]
fn _hepq(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<session::Session>()?;
    m.add_class::<frame::Frame>()?;
    errors::add_exceptions(m)?;
    Ok(())
}
