//! The errors of the session builder and query facade.

use datafusion::common::DataFusionError;

/// A failure in building a session or running SQL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused or failed a statement (bad SQL, unknown table, unreadable file, …).
    #[error("{}", clean_engine_message(.0))]
    Engine(#[from] DataFusionError),
    /// The warehouse's catalog could not be opened, read or written (the message names its
    /// file).
    #[error(transparent)]
    Catalog(#[from] hepq_catalog::Error),
    /// A setting or option is invalid (memory limit, object-store option, location, …).
    #[error("{0}")]
    Config(String),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        match e {
            Error::Engine(e) => e,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

/// DataFusion nests context into its messages ("Error during planning: …"); keep the message
/// but drop the backtrace note so errors stay one line for users.
fn clean_engine_message(e: &DataFusionError) -> String {
    let message = e.to_string();
    let message = message.trim();
    match message.split_once("\n\nbacktrace") {
        Some((head, _)) => head.to_string(),
        None => message.to_string(),
    }
}
