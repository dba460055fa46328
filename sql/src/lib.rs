//! # hepq-sql: the one way into the engine
//!
//! The CLI, the PostgreSQL server and the Python module all build their session here, so a
//! table, function or setting works the same everywhere. This crate owns:
//!
//! * [`session`] — [`HepqSession`]: DataFusion 55 with hepq's table factories (Hive-partitioned
//!   listing tables; later ROOT, RNTuple and LH5), functions, object stores and memory pool, plus
//!   the query facade (`;`-separated scripts, registration of paths and URLs).
//! * [`catalog`] — the warehouse's persistent catalog in the session: stored schemas, tables
//!   and views opened on first use, DDL recorded once DataFusion accepted it, `hepq.tables`.
//! * [`materialized`] — materialised views (skims): `CREATE MATERIALIZED VIEW`, `REFRESH`
//!   (incremental where the query is row-wise), `DROP`, `SHOW`, and the table readers see.
//! * [`command`] — hepq's acting statements as plans that act when executed.
//! * [`statements`] — parsing of hepq's statements beyond DataFusion's; [`schedule`] — their
//!   refresh schedules.
//! * [`object_stores`] — local, S3 and HTTP stores created on first use, counting what they read.
//! * [`progress`] — what a plan will scan, for progress bars.
//! * [`error`] — this crate's [`Error`].
//!
//! ```no_run
//! # async fn example() -> hepq_sql::Result<()> {
//! use hepq_sql::{HepqSession, SessionOptions};
//! let session = HepqSession::new(SessionOptions::default()).await?;
//! session.register("hits", "legend/", None).await?;
//! let (_schema, batches) = session
//!     .query("SELECT datatype, count(*) FROM hits GROUP BY datatype")
//!     .await?;
//! # Ok(()) }
//! ```

pub mod catalog;
pub mod command;
pub mod dialect;
pub mod error;
pub mod iceberg;
pub mod materialized;
pub mod object_stores;
pub mod progress;
pub mod schedule;
pub mod session;
pub mod statements;

pub use error::{Error, Result};
pub use materialized::{RefreshReport, due_refreshes};
pub use session::{Format, HepqSession, SessionOptions, quote_identifier, quote_literal};

/// The DataFusion this crate is built on, re-exported so front ends use the same version.
pub use datafusion;
/// The persistent catalog, re-exported for front ends (the server's refresh scheduler reads it).
pub use hepq_catalog;
/// hepq's SQL functions, re-exported for front ends (e.g. the CLI draws histogram documents).
pub use hepq_udfs;
