//! # hepq-bench: the benchmark harness
//!
//! Benchmarks that compare hepq with its peers side by side in one run (DuckDB, uproot +
//! awkward, DataFusion's own functions). The ADL benchmark queries (`bench/adl/`) and reader
//! throughput benches arrive with their issues; performance claims in this project come from
//! here, never from timed unit tests.

/// The session builder the benchmarks run through.
pub use hepq_sql as sql;
