//! The crate's one error type. Every variant names the file (the name given to
//! [`hepq_root::RootFile::open`]) and, where one is involved, the RNTuple and the field.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading an RNTuple.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ROOT container (file header, keys, directories) could not be read.
    #[error(transparent)]
    Root(Box<hepq_root::Error>),
    /// The anchor or an envelope (header, footer, page list) is malformed, truncated or fails
    /// its checksum.
    #[error("{file}: RNTuple {ntuple:?}: {context}: {message}")]
    Malformed {
        /// The file being read.
        file: String,
        /// The RNTuple's name.
        ntuple: String,
        /// Where: `anchor`, `header envelope`, `footer envelope`, `page list envelope 2`, ...
        context: String,
        /// What is wrong.
        message: String,
    },
    /// An RNTuple asked for by name does not exist.
    #[error("{file}: no RNTuple {ntuple:?} (RNTuples in this file: {available})")]
    NoSuchNtuple {
        /// The file being read.
        file: String,
        /// The name asked for.
        ntuple: String,
        /// The RNTuples that do exist, comma separated.
        available: String,
    },
    /// A field's pages could not be decoded: corrupt or truncated pages, checksum mismatches,
    /// decompression failures, impossible element counts.
    #[error("{file}: RNTuple {ntuple:?}, field {field:?}: {message}")]
    Field {
        /// The file being read.
        file: String,
        /// The RNTuple's name.
        ntuple: String,
        /// The top-level field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field of a type this decoder does not support was asked for.
    #[error(
        "{file}: RNTuple {ntuple:?}, field {field:?} of type {type_name:?} is unsupported: {reason}"
    )]
    Unsupported {
        /// The file being read.
        file: String,
        /// The RNTuple's name.
        ntuple: String,
        /// The top-level field.
        field: String,
        /// The field's C++ type name.
        type_name: String,
        /// Why it cannot be decoded.
        reason: String,
    },
    /// A column index or entry range passed to [`crate::RNTuple::read`] is out of bounds.
    #[error("{file}: RNTuple {ntuple:?}: {message}")]
    InvalidArgument {
        /// The file being read.
        file: String,
        /// The RNTuple's name.
        ntuple: String,
        /// What is wrong with the argument.
        message: String,
    },
}

impl From<hepq_root::Error> for Error {
    fn from(e: hepq_root::Error) -> Self {
        Error::Root(Box::new(e))
    }
}
