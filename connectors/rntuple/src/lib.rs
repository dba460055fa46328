//! # hepq-rntuple: the RNTuple decoder
//!
//! Reads ROOT's columnar RNTuple format (specification 1.0) into Arrow. It knows nothing of
//! DataFusion or tokio; it reuses the ROOT container and compression code of [`hepq_root`].
//!
//! The modules follow the format's own layers:
//!
//! | module | layer |
//! |---|---|
//! | `cursor` | little-endian reads, record and list frames, strings |
//! | `meta` | the `ROOT::RNTuple` anchor; header, footer and page-list envelopes with their checksums |
//! | [`column`] | column types and page decoding (split, zigzag, delta, bits, Real16, Real32Trunc/Quant, switch) |
//! | `field` | the field tree and its Arrow types (lists, fixed-size lists, structs, optionals, unions) |
//! | `read` | parallel (cluster, column) decoding, straight into the final Arrow buffers for leaves and lists of leaves, and assembly into Arrow arrays |
//! | `ntuple` | [`RNTuple`]: schema, field and column listings, clusters, reads |
//!
//! ```no_run
//! use std::sync::Arc;
//! use hepq_root::{FileReader, RootFile};
//! use hepq_rntuple::RNTuple;
//!
//! let file = RootFile::open(Arc::new(FileReader::open("events.root")?), "events.root")?;
//! let nt = RNTuple::open(&file, Some("Events"))?;
//! let all: Vec<usize> = (0..nt.schema().fields().len()).collect();
//! let batch = nt.read(&all, 0..nt.entries())?;
//! println!("{} rows", batch.num_rows());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod column;
mod cursor;
pub mod error;
mod field;
mod meta;
mod ntuple;
mod read;

pub use error::{Error, Result};
pub use ntuple::{
    ANCHOR_CLASS, ColumnInfo, FieldInfo, NtupleInfo, RNTuple, ROOT_TYPE_KEY, ntuples,
};

/// The ROOT container crate this decoder builds on.
pub use hepq_root as root;
