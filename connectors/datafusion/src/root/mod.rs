//! ROOT TTree files as DataFusion tables.
//!
//! * [`file_format`] — [`RootFormat`] / [`RootFormatFactory`] (`STORED AS ROOT`): schema merged
//!   across files, exact row counts as statistics, table options.
//! * [`source`] — [`RootSource`], the scan (projection pushdown, byte-range partitioning).
//! * `opener` — one (file, range) → record batches, decoded on a blocking thread.
//! * `reader` — object-store reads with prefetched basket ranges.
//! * [`sink`] — [`RootSink`](sink::RootSink): `COPY … TO 'x.root' STORED AS ROOT`.
//! * [`table_function`] — `read_root('path' [, 'tree'])`.
//! * [`inspect`] — the text `hepq inspect FILE` prints.
//! * [`zip`] — `'collections' 'zip'`: NanoAOD collections as `List<Struct>` columns.

pub mod file_format;
pub mod inspect;
pub(crate) mod open;
mod opener;
pub(crate) mod reader;
pub mod sink;
pub mod source;
pub mod table_function;
pub mod zip;

pub use file_format::{ROOT_EXTENSION, RootFormat, RootFormatFactory, RootOptions};
pub use source::RootSource;
