//! # hepq-python: hepq in notebooks
//!
//! The pyo3 module `import hepq`, built with maturin, that runs the same engine in-process and
//! hands results to pyarrow, pandas, polars, awkward and hist without copies. Like the CLI and
//! the server, it builds its session only through [`hepq_sql`].
//!
//! Status: the Python bindings arrive with the Python module issue; this crate reserves its
//! place in the workspace layout (see `ARCHITECTURE.md`) and already links the session builder.

/// The session builder every front end goes through.
pub use hepq_sql as sql;
