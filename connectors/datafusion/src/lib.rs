//! # hepq-connectors: HEP file formats as DataFusion tables
//!
//! The adapter layer between the pure decoders (`hepq-root`, `hepq-rntuple`, `hepq-lh5`) and
//! DataFusion: file formats, scan sources and openers for each format, statistics, partitioning,
//! and discovery of Hive-style `key=value` partition folders for every listing format.
//!
//! Modules:
//! * [`hive`] — [`hive::HiveTableFactory`], the `CREATE EXTERNAL TABLE` factory that discovers
//!   and types partition columns (Parquet, CSV, JSON, Arrow, ROOT).
//! * [`root`] — ROOT TTree files: `STORED AS ROOT`, `read_root(...)` (see its module docs for
//!   options).
//! * [`rntuple`] — ROOT RNTuples: `STORED AS RNTUPLE`, `read_rntuple(...)`.
//! * [`lh5`] — LEGEND LH5 files: `STORED AS LH5`, `read_lh5(...)` (see its module docs for
//!   options).
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
pub mod lh5;
pub mod rntuple;
pub mod root;

use std::sync::Arc;

use datafusion::execution::context::SessionState;

/// The listing formats whose `CREATE EXTERNAL TABLE` goes through [`hive::HiveTableFactory`].
pub const LISTING_FORMATS: &[&str] = &["PARQUET", "CSV", "JSON", "NDJSON", "ARROW", "AVRO"];

/// hepq's own file formats, each created through [`hive::HiveTableFactory`] too.
pub const HEP_FORMATS: &[&str] = &["ROOT", "RNTUPLE"];

/// Puts hepq's table factories in `state` in place of DataFusion's listing factory, and
/// registers hepq's own file formats (`STORED AS ROOT`, `STORED AS RNTUPLE`, `STORED AS LH5`).
pub fn register_table_factories(state: &mut SessionState) {
    // Registering a new extension cannot fail; `overwrite` keeps a previous registration.
    let _ = state.register_file_format(Arc::new(root::RootFormatFactory), true);
    let _ = state.register_file_format(Arc::new(rntuple::RNTupleFormatFactory), true);
    let factories = state.table_factories_mut();
    for format in LISTING_FORMATS {
        if factories.contains_key(*format) {
            factories.insert((*format).to_string(), Arc::new(hive::HiveTableFactory));
        }
    }
    for format in HEP_FORMATS {
        factories.insert((*format).to_string(), Arc::new(hive::HiveTableFactory));
    }
    factories.insert(lh5::LH5_FORMAT.to_string(), Arc::new(lh5::Lh5TableFactory));
}

/// hepq's table functions (`read_root`, `read_rntuple`, `read_lh5`), to register on a
/// `SessionContext`.
pub fn table_functions() -> Vec<(
    &'static str,
    Arc<dyn datafusion::catalog::TableFunctionImpl>,
)> {
    vec![
        ("read_root", Arc::new(root::table_function::ReadRoot)),
        ("read_rntuple", Arc::new(rntuple::ReadRNTuple)),
        ("read_lh5", Arc::new(lh5::ReadLh5)),
    ]
}
