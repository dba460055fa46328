//! # hepq-connectors: HEP file formats as DataFusion tables
//!
//! The adapter layer between the pure decoders (`hepq-root`, `hepq-rntuple`, `hepq-lh5`) and
//! DataFusion: file formats, scan sources and openers for each format, statistics, partitioning,
//! and discovery of Hive-style `key=value` partition folders for every listing format.
//!
//! Modules:
//! * [`hive`] — [`hive::HiveTableFactory`], the `CREATE EXTERNAL TABLE` factory that discovers
//!   and types partition columns (Parquet, CSV, JSON, Arrow).
//!
//! ```no_run
//! # async fn example() -> datafusion::common::Result<()> {
//! use datafusion::execution::context::SessionContext;
//! let mut state = SessionContext::new().state();
//! hepq_connectors::register_table_factories(&mut state);
//! let ctx = SessionContext::new_with_state(state);
//! ctx.sql("CREATE EXTERNAL TABLE hits STORED AS PARQUET LOCATION 'legend/'").await?;
//! # Ok(()) }
//! ```

pub mod hive;

use std::sync::Arc;

use datafusion::execution::context::SessionState;

/// The listing formats whose `CREATE EXTERNAL TABLE` goes through [`hive::HiveTableFactory`].
pub const LISTING_FORMATS: &[&str] = &["PARQUET", "CSV", "JSON", "NDJSON", "ARROW", "AVRO"];

/// Puts hepq's table factories in `state` in place of DataFusion's listing factory.
pub fn register_table_factories(state: &mut SessionState) {
    let factories = state.table_factories_mut();
    for format in LISTING_FORMATS {
        if factories.contains_key(*format) {
            factories.insert((*format).to_string(), Arc::new(hive::HiveTableFactory));
        }
    }
}
