//! ROOT TTree files as DataFusion tables.
//!
//! * [`file_format`] — [`RootFormat`] / [`RootFormatFactory`] (`STORED AS ROOT`): schema merged
//!   across files, exact row counts as statistics, table options.
//! * [`source`] — [`RootSource`], the scan (projection pushdown, byte-range partitioning).
//! * `opener` — one (file, range) → record batches, decoded on a blocking thread.
//! * `reader` — object-store reads with prefetched basket ranges.
//! * [`table_function`] — `read_root('path' [, 'tree'])`.
//! * [`inspect`] — the text `hepq inspect FILE` prints.

pub mod file_format;
pub mod inspect;
pub(crate) mod open;
mod opener;
pub(crate) mod reader;
pub mod source;
pub mod table_function;

pub use file_format::{ROOT_EXTENSION, RootFormat, RootFormatFactory, RootOptions};
pub use source::RootSource;
