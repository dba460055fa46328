//! The decoder's error: what went wrong, in which file, at which object.

/// An LH5 read error, naming the file and the object (dataset or group path) concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LH5 file '{file}'{}: {message}", object_suffix(.object))]
pub struct Lh5Error {
    /// The file's name (its path for files on disk).
    pub file: String,
    /// The object's path inside the file; empty for errors about the whole file.
    pub object: String,
    /// What went wrong.
    pub message: String,
}

fn object_suffix(object: &str) -> String {
    if object.is_empty() {
        String::new()
    } else {
        format!(", object '{object}'")
    }
}

impl Lh5Error {
    /// An error about `object` in `file`.
    pub fn new(file: &str, object: &str, message: impl Into<String>) -> Self {
        Lh5Error {
            file: file.to_string(),
            object: object.to_string(),
            message: message.into(),
        }
    }
}

/// The decoder's result type.
pub type Result<T> = std::result::Result<T, Lh5Error>;
