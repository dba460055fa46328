//! Criterion micro-benchmarks of hepq's hot SQL functions on in-memory data.
//!
//! Each benchmark runs one SQL query through [`hepq_sql::HepqSession`] over a `MemTable`, so
//! the figures are the kernels plus DataFusion's per-batch overhead, without any file decoding:
//!
//! * `jets/*` — 1M synthetic NanoAOD-like events (Poisson jet and muon multiplicities, Float32
//!   kinematics): masked sums, ΔR matching, dimuon masses over all pairs;
//! * `hist/*` — filling Float32 numbers into a 100-bin regular histogram, ungrouped and
//!   `GROUP BY` 10,000 groups.
//!
//! Build with `cargo build --release --workspace --bins --features hepq-bench/criterion`, run
//! `target/release/udf_kernels --bench` (criterion's arguments work: a filter, `--list`,
//! `--sample-size N`). `HEPQ_BENCH_THREADS` sets the engine's threads (default 1: per core),
//! `HEPQ_BENCH_EVENTS` and `HEPQ_BENCH_VALUES` the data sizes. `bench/udfs/run.py` runs this
//! next to DuckDB and boost-histogram and writes `bench/udfs/RESULTS.md`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hepq_bench::sql::datafusion::arrow::array::{
    ArrayRef, Float32Array, Int64Array, ListArray, RecordBatch,
};
use hepq_bench::sql::datafusion::arrow::buffer::OffsetBuffer;
use hepq_bench::sql::datafusion::arrow::datatypes::{DataType, Field, Schema};
use hepq_bench::sql::datafusion::datasource::MemTable;
use hepq_bench::sql::{HepqSession, SessionOptions};
use tokio::runtime::Runtime;

/// Rows per record batch, as a Parquet or ROOT scan would deliver them.
const BATCH_ROWS: usize = 8192;

/// A small deterministic generator (xorshift64*), so runs are comparable without a `rand` dep.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Poisson-distributed count (Knuth's method; fine for small means).
    fn poisson(&mut self, mean: f64) -> usize {
        let limit = (-mean).exp();
        let mut product = self.uniform();
        let mut count = 0;
        while product > limit {
            product *= self.uniform();
            count += 1;
        }
        count
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One collection's kinematic lists for `counts` objects per event.
fn collection(rng: &mut Rng, counts: &[usize], pt_scale: f64) -> Vec<(String, ArrayRef)> {
    let total: usize = counts.iter().sum();
    let mut pt = Vec::with_capacity(total);
    let mut eta = Vec::with_capacity(total);
    let mut phi = Vec::with_capacity(total);
    let mut mass = Vec::with_capacity(total);
    for _ in 0..total {
        pt.push((15.0 - pt_scale * (1.0 - rng.uniform()).ln()) as f32);
        eta.push((rng.uniform() * 5.0 - 2.5) as f32);
        phi.push(((rng.uniform() * 2.0 - 1.0) * std::f64::consts::PI) as f32);
        mass.push((rng.uniform() * 10.0) as f32);
    }
    let offsets = OffsetBuffer::<i32>::from_lengths(counts.iter().copied());
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    [("pt", pt), ("eta", eta), ("phi", phi), ("mass", mass)]
        .into_iter()
        .map(|(name, values)| {
            let list = ListArray::new(
                Arc::clone(&item),
                offsets.clone(),
                Arc::new(Float32Array::from(values)),
                None,
            );
            (name.to_string(), Arc::new(list) as ArrayRef)
        })
        .collect()
}

/// `events`: `Jet_{pt,eta,phi,mass}` and `Muon_{pt,eta,phi,mass}` as `List<Float32>`.
fn events_table(events: usize) -> MemTable {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let jets: Vec<usize> = (0..events).map(|_| rng.poisson(3.0)).collect();
    let muons: Vec<usize> = (0..events).map(|_| rng.poisson(1.5)).collect();
    let mut columns = Vec::new();
    for (prefix, counts, scale) in [("Jet", &jets, 30.0), ("Muon", &muons, 20.0)] {
        for (name, array) in collection(&mut rng, counts, scale) {
            columns.push((format!("{prefix}_{name}"), array));
        }
    }
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|(_, a)| a).collect();
    batches_table(schema, &arrays, events)
}

/// `flat`: `x` Float32 uniform in [0, 1) and `g` BIGINT in [0, 10000).
fn flat_table(values: usize) -> MemTable {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let x: Float32Array = (0..values).map(|_| Some(rng.uniform() as f32)).collect();
    let g: Int64Array = (0..values)
        .map(|_| Some((rng.next_u64() % 10_000) as i64))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float32, true),
        Field::new("g", DataType::Int64, true),
    ]));
    batches_table(schema, &[Arc::new(x), Arc::new(g)], values)
}

/// Cuts whole columns into `BATCH_ROWS` batches, all in one partition.
fn batches_table(schema: Arc<Schema>, arrays: &[ArrayRef], rows: usize) -> MemTable {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let len = BATCH_ROWS.min(rows - start);
        let columns = arrays.iter().map(|a| a.slice(start, len)).collect();
        match RecordBatch::try_new(Arc::clone(&schema), columns) {
            Ok(batch) => batches.push(batch),
            Err(e) => fail(&format!("building a benchmark batch: {e}")),
        }
        start += len;
    }
    match MemTable::try_new(schema, vec![batches]) {
        Ok(table) => table,
        Err(e) => fail(&format!("building a benchmark table: {e}")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("udf_kernels: {message}");
    std::process::exit(1)
}

/// Runs `sql` to completion and returns its row count.
fn run(runtime: &Runtime, session: &HepqSession, sql: &str) -> usize {
    runtime.block_on(async {
        match session.query(sql).await {
            Ok((_, batches)) => batches.iter().map(RecordBatch::num_rows).sum(),
            Err(e) => fail(&format!("{sql}: {e}")),
        }
    })
}

/// The benchmark queries: (group, name, SQL). The DuckDB equivalents are in `bench/udfs/run.py`.
const QUERIES: &[(&str, &str, &str)] = &[
    (
        "jets",
        "sum_pt_above_30",
        "SELECT sum(list_sum(list_where(Jet_pt, Jet_pt > 30))) FROM events",
    ),
    (
        "jets",
        "min_delta_r_muon_jet",
        "SELECT sum(list_sum(min_delta_r(Muon_eta, Muon_phi, Jet_eta, Jet_phi))) FROM events",
    ),
    (
        "jets",
        "dimuon_masses_all_pairs",
        "SELECT sum(list_sum(inv_masses(Muon_pt, Muon_eta, Muon_phi, Muon_mass, \
         list_argcombinations(Muon_pt, 2)))) FROM events",
    ),
    (
        "hist",
        "fill_100_bins",
        "SELECT hist(x, 100, 0, 1) FROM flat",
    ),
    (
        "hist",
        "fill_100_bins_group_by_10000",
        "SELECT g, hist(x, 100, 0, 1) FROM flat GROUP BY g",
    ),
];

fn benchmarks(c: &mut Criterion) {
    let threads = env_usize("HEPQ_BENCH_THREADS", 1);
    let events = env_usize("HEPQ_BENCH_EVENTS", 1_000_000);
    let values = env_usize("HEPQ_BENCH_VALUES", 100_000_000);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => fail(&format!("starting tokio: {e}")),
    };
    let session = runtime.block_on(async {
        let options = SessionOptions {
            threads: Some(threads),
            ..SessionOptions::default()
        };
        match HepqSession::new(options).await {
            Ok(session) => session,
            Err(e) => fail(&format!("building the session: {e}")),
        }
    });
    // Only build the tables the selected benchmarks need (criterion's filter is argv's first
    // free argument; building 100M values takes seconds and 800 MB).
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |group: &str| {
        filter.is_empty()
            || QUERIES.iter().any(|(g, n, _)| {
                *g == group
                    && filter
                        .iter()
                        .any(|f| format!("{g}/{n}").contains(f.as_str()))
            })
    };
    let context = session.context();
    if wanted("jets") {
        if let Err(e) = context.register_table("events", Arc::new(events_table(events))) {
            fail(&format!("registering events: {e}"));
        }
    }
    if wanted("hist") {
        if let Err(e) = context.register_table("flat", Arc::new(flat_table(values))) {
            fail(&format!("registering flat: {e}"));
        }
    }
    for group_name in ["jets", "hist"] {
        if !wanted(group_name) {
            continue;
        }
        let mut group = c.benchmark_group(group_name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(10));
        group.warm_up_time(Duration::from_secs(2));
        let elements = if group_name == "jets" { events } else { values };
        group.throughput(Throughput::Elements(elements as u64));
        for (g, name, sql) in QUERIES {
            if *g == group_name {
                group.bench_function(*name, |b| b.iter(|| run(&runtime, &session, sql)));
            }
        }
        group.finish();
    }
}

criterion_group!(udf_kernels, benchmarks);
criterion_main!(udf_kernels);
