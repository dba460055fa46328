//! # hepq-bench: the benchmark harness
//!
//! Benchmarks that compare hepq with its peers side by side in one run (DuckDB, uproot +
//! awkward, DataFusion's own functions); performance claims in this project come from here,
//! never from timed unit tests.
//!
//! * `root_read_bench` (`src/bin/`) — hepq-root / hepq-rntuple reading branches into Arrow, and
//!   the raw decompression of the same baskets; `bench/root/run.py` runs it next to uproot.
//! * `bench/prepare.py` — scaled NanoAOD-like inputs from the real CMS events.

/// The session builder the benchmarks run through.
#[cfg(feature = "sql")]
pub use hepq_sql as sql;
