//! ROOT RNTuples as DataFusion tables.
//!
//! * [`file_format`] — [`RNTupleFormat`] / [`RNTupleFormatFactory`] (`STORED AS RNTUPLE`):
//!   schema merged across files, exact row counts from the footers as statistics, options.
//! * [`source`] — [`RNTupleSource`], the scan (projection pushdown, cluster partitioning).
//! * `opener` — one (file, byte range) → record batches of whole clusters, decoded on a
//!   blocking thread.
//! * [`table_function`] — `read_rntuple('path' [, 'name'])`.
//!
//! Object-store reads reuse the ROOT adapter's range cache (`root::reader`).

pub mod file_format;
mod open;
mod opener;
pub mod source;
pub mod table_function;

pub use file_format::{RNTUPLE_FORMAT, RNTupleFormat, RNTupleFormatFactory, RNTupleOptions};
pub use source::RNTupleSource;
