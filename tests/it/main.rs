//! Rust integration tests of the session facade (one binary for link speed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod catalog;
mod materialized;
mod session;
mod udf_docs;
