//! # hepq-catalog: what the lakehouse remembers
//!
//! The persistent catalog behind a warehouse: schemas, external tables, views, Iceberg tables
//! and materialised views with their refresh state. It is kept in a SQLite file,
//! `WAREHOUSE/catalog.sqlite`, or in a shared PostgreSQL database (`postgres://…`), through
//! sqlx (the driver `iceberg-catalog-sql` uses, so Iceberg's tables share the database), and
//! shown to DataFusion as schema providers. It does not know the file formats: `hepq-sql` hands it a
//! [`TableFactory`] that re-creates a stored table from its `CREATE` statement.
//!
//! Modules:
//! * [`store`] — [`CatalogStore`]: the database (SQLite or PostgreSQL), its versioned tables,
//!   transactional writes.
//! * [`entry`] — [`TableEntry`], [`SchemaEntry`]: what a row holds.
//! * [`materialized`] — [`MaterializedViewEntry`], snapshots, data and source files, refresh
//!   runs: the state of materialised views and the transactions of a refresh.
//! * [`schema`] — [`PersistentSchema`]: a DataFusion schema whose stored tables open on first use.
//! * [`system`] — [`SystemSchema`]: the read-only system tables (`hepq.tables`).
//! * [`iceberg`] — [`iceberg::IcebergCatalog`]: Iceberg tables through iceberg-rust (the one
//!   bridge to it: schemas, scan planning, commits).
//! * [`error`] — this crate's [`Error`].
//!
//! ```no_run
//! # async fn example() -> hepq_catalog::Result<()> {
//! use hepq_catalog::CatalogStore;
//! let store = CatalogStore::open_warehouse(std::path::Path::new("warehouse")).await?;
//! for table in store.tables().await? {
//!     println!("{} {} {:?}", table.qualified_name(), table.kind.as_str(), table.location);
//! }
//! # Ok(()) }
//! ```

pub mod entry;
pub mod error;
pub mod iceberg;
pub mod materialized;
pub mod schema;
pub mod store;
pub mod system;

pub use entry::{SchemaEntry, TableEntry, TableKind};
pub use error::{Error, Result};
pub use materialized::{
    CommitOutcome, DataFile, MaterializedViewEntry, RefreshCommit, RefreshEntry, SnapshotEntry,
    SourceFile,
};
pub use schema::{PersistentSchema, Slot, TableFactory};
pub use store::{Backend, CATALOG_FILE, CATALOG_VERSION, CatalogStore};
pub use system::{SYSTEM_SCHEMA, SystemSchema};
