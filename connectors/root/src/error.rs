//! The crate's one error type.
//!
//! Every variant names the file (the `name` given to [`crate::RootFile::open`]) and, where one is
//! involved, the tree and branch, so that a message can be shown to a user as it is.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading a ROOT file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading bytes from the underlying storage failed.
    #[error("{file}: I/O error: {source}")]
    Io {
        /// The file being read.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file's container structure (header, keys, directories, streamers, tree metadata) is
    /// malformed or truncated.
    #[error("{file}: malformed ROOT file: {context}: {message}")]
    Malformed {
        /// The file being read.
        file: String,
        /// Where in the file (a key, a directory, a tree) the problem is.
        context: String,
        /// What is wrong.
        message: String,
    },
    /// A tree asked for by path does not exist.
    #[error("{file}: no TTree {tree:?} (trees in this file: {available})")]
    NoSuchTree {
        /// The file being read.
        file: String,
        /// The path that was asked for.
        tree: String,
        /// The trees that do exist, comma separated.
        available: String,
    },
    /// A branch's data (its baskets) could not be decoded: corrupt or truncated baskets,
    /// decompression failures, impossible sizes.
    #[error("{file}: tree {tree:?}, branch {branch:?}: {message}")]
    Branch {
        /// The file being read.
        file: String,
        /// The tree's path.
        tree: String,
        /// The branch's name.
        branch: String,
        /// What is wrong.
        message: String,
    },
    /// A branch of a type this decoder does not support was asked for.
    #[error(
        "{file}: tree {tree:?}, branch {branch:?} of ROOT type {root_type:?} is unsupported: {reason}"
    )]
    Unsupported {
        /// The file being read.
        file: String,
        /// The tree's path.
        tree: String,
        /// The branch's name.
        branch: String,
        /// The branch's ROOT type name.
        root_type: String,
        /// Why it cannot be decoded.
        reason: String,
    },
    /// A column index or entry range passed to [`crate::Tree::read`] is out of bounds.
    #[error("{file}: tree {tree:?}: {message}")]
    InvalidArgument {
        /// The file being read.
        file: String,
        /// The tree's path.
        tree: String,
        /// What is wrong with the argument.
        message: String,
    },
    /// Writing a tree failed: a column type or value a TTree cannot hold (nulls, counters that
    /// disagree with their lists), a bad option, or oversized baskets.
    #[error("{file}: cannot write tree {tree:?}: {message}")]
    Write {
        /// The file being written.
        file: String,
        /// The tree being written.
        tree: String,
        /// What is wrong, naming the column.
        message: String,
    },
    /// Building the Arrow arrays failed (an internal inconsistency).
    #[error("{file}: tree {tree:?}: Arrow error: {source}")]
    Arrow {
        /// The file being read.
        file: String,
        /// The tree's path.
        tree: String,
        /// The underlying error.
        #[source]
        source: arrow_schema::ArrowError,
    },
}

/// A context-free description of malformed bytes (from [`crate::compression::decompress`] and the
/// internal parsers); the crate wraps it into an [`Error`] that names the file, tree and branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl std::error::Error for Malformed {}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Result of the low-level parsers.
pub(crate) type PResult<T> = std::result::Result<T, Malformed>;

/// Shorthand to fail a low-level parse with a message.
pub(crate) fn malformed<T>(message: impl Into<String>) -> PResult<T> {
    Err(Malformed(message.into()))
}
