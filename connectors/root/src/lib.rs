//! # hepq-root: the ROOT file decoder
//!
//! Turns the bytes of a ROOT file into Arrow arrays. It knows nothing of DataFusion or tokio, so
//! it can be fuzzed and benchmarked alone; `hepq-connectors` plugs it into the engine.
//!
//! The modules follow the file's own layers:
//!
//! | module | layer |
//! |---|---|
//! | [`io`] | positional byte-range reads ([`ReadAt`]): local files, memory |
//! | [`compression`] | compression frames chosen by each block's magic (`ZL` through libdeflate, `CS`, `XZ`, `L4`, `ZS`) |
//! | `cursor`, `object` | big-endian reads, ROOT's object framing and references |
//! | `file` | TFile header, TKey, TDirectory (subdirectories, cycles) |
//! | `streamer` | TStreamerInfo: member types of split classes |
//! | `meta` | TTree, TBranch, TBranchElement, TLeaf*, baskets (on disk and embedded) |
//! | `types` | which Arrow type each branch becomes, and why some cannot |
//! | `direct` | numeric branches (scalars, arrays, leaf-lists `T[n]`, `std::vector<T>`) decoded from each basket straight into the column's final Arrow buffers, one parallel task per basket |
//! | `decode` | basket bytes → Arrow arrays: every other branch, and any basket the direct read declines |
//! | `tree` | [`Tree`]: schema, branch listing, byte ranges, parallel reads |
//! | [`write`] | [`write::TreeWriter`]: Arrow batches → a new file with one TTree |
//!
//! ```no_run
//! use std::sync::Arc;
//! use hepq_root::{FileReader, RootFile};
//!
//! let reader = Arc::new(FileReader::open("events.root")?);
//! let file = RootFile::open(reader, "events.root")?;
//! for t in file.trees()? {
//!     println!("{} ({} entries)", t.path, t.entries);
//! }
//! let tree = file.tree("Events")?;
//! let all: Vec<usize> = (0..tree.schema().fields().len()).collect();
//! let batch = tree.read(&all, 0..tree.entries())?;
//! println!("{} rows", batch.num_rows());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod compression;
mod cursor;
mod decode;
mod direct;
pub mod error;
mod file;
pub mod io;
mod meta;
mod object;
mod streamer;
mod tree;
mod types;
pub mod write;

pub use error::{Error, Result};
pub use file::{KeyInfo, RootFile, TreeInfo};
pub use io::{FileReader, MemReader, ReadAt};
pub use tree::{BranchInfo, ROOT_TYPE_KEY, Tree};
