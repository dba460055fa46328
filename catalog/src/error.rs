//! The catalog's errors. Each names the catalog file (or URL) involved.

use datafusion::common::DataFusionError;

/// A failure to open, read or write the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog file could not be opened: missing permissions, not a SQLite database, a
    /// damaged file.
    #[error("cannot open the catalog {location}: {source}")]
    Open {
        /// The catalog file or URL.
        location: String,
        /// What the database driver said.
        source: sqlx::Error,
    },
    /// A read or write of the catalog failed (locked for too long, disk full, damaged file).
    #[error("catalog {location}: cannot {action}: {source}")]
    Query {
        /// The catalog file or URL.
        location: String,
        /// What was being done, e.g. "record table lhc.events".
        action: String,
        /// What the database driver said.
        source: sqlx::Error,
    },
    /// The catalog was written by a newer hepq whose tables this one does not know.
    #[error(
        "catalog {location} has version {found}, newer than this hepq understands (up to \
         {supported}); use a newer hepq"
    )]
    TooNew {
        /// The catalog file or URL.
        location: String,
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A stored row cannot be understood (edited by hand, or damaged).
    #[error("catalog {location}: {what}: {message}")]
    Corrupt {
        /// The catalog file or URL.
        location: String,
        /// The row, e.g. "table lhc.events".
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// A change the catalog cannot make as asked (a name already taken, a schema that still
    /// holds tables); nothing was changed.
    #[error("catalog {location}: {what}: {message}")]
    Conflict {
        /// The catalog file or URL.
        location: String,
        /// The object, e.g. "schema lhc".
        what: String,
        /// Why.
        message: String,
    },
    /// The catalog location names a database hepq cannot use (yet).
    #[error("{0}")]
    Unsupported(String),
    /// The warehouse directory could not be created.
    #[error("cannot create the warehouse directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// An Iceberg table could not be created, read or committed to.
    #[error("Iceberg table {table}: {message}")]
    Iceberg {
        /// `schema.table` (or the metadata file).
        table: String,
        /// What went wrong.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        DataFusionError::External(Box::new(e))
    }
}
