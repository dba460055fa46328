//! `hepq demo`: build the demo warehouse once, take a guided tour of it, then (at a terminal,
//! or with `--serve`) serve it over the PostgreSQL protocol for psql, notebooks and BI tools.
//!
//! The LHC events are also shipped as ROOT files, written from the Parquet table with
//! `COPY … STORED AS ROOT` into `root/lhc_events/run=…/part-NNNNN.root` beside `tables/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::generate::{Dataset, GenerateOptions};

use super::output::{OutputFormat, write_batches};
use super::progress::{generate_with_progress, human_bytes};
use super::sql_cmd::execute_with_progress;
use super::{CliError, CliResult, EngineArgs, data_dir, open_session};

/// The demo's seed: the warehouse is the same on every machine.
const DEMO_SEED: u64 = 2012;

/// The tour: a title, what to notice, and the SQL.
const TOUR: &[(&str, &str)] = &[
    (
        "The warehouse holds two Hive-partitioned Parquet tables; partition folders became columns",
        "SELECT table_name, count(*) AS columns FROM information_schema.columns \
         WHERE table_schema = 'public' GROUP BY table_name ORDER BY table_name",
    ),
    (
        "LHC: events per run (run= folders, typed BIGINT) and their mean missing ET",
        "SELECT run, count(*) AS events, round(avg(MET_pt), 2) AS mean_met_gev \
         FROM lhc_events GROUP BY run ORDER BY run",
    ),
    (
        "Jets are jagged: one list per event. Jet multiplicity and the leading jet's mean pT",
        "SELECT array_length(Jet_pt) AS n_jets, count(*) AS events, \
         round(avg(Jet_pt[1]), 1) AS mean_leading_pt \
         FROM lhc_events WHERE array_length(Jet_pt) BETWEEN 1 AND 6 \
         GROUP BY n_jets ORDER BY n_jets",
    ),
    (
        "The Z boson: invariant mass of opposite-charge muon pairs, in 5 GeV bins",
        "WITH pairs AS ( \
           SELECT sqrt(2 * Muon_pt[1] * Muon_pt[2] \
                  * (cosh(Muon_eta[1] - Muon_eta[2]) - cos(Muon_phi[1] - Muon_phi[2]))) AS mass \
           FROM lhc_events \
           WHERE nMuon = 2 AND Muon_charge[1] + Muon_charge[2] = 0) \
         SELECT 5 * floor(mass / 5) AS mass_gev, count(*) AS pairs, \
                repeat('#', CAST(count(*) * 60 / max(count(*)) OVER () AS INT)) AS histogram \
         FROM pairs WHERE mass BETWEEN 60 AND 120 GROUP BY 1 ORDER BY 1",
    ),
    (
        "Every jet is a row after unnest: the five hardest jets of the sample",
        "SELECT run, event, jet_pt FROM ( \
           SELECT run, event, unnest(Jet_pt) AS jet_pt FROM lhc_events WHERE run = 194075) \
         ORDER BY jet_pt DESC LIMIT 5",
    ),
    (
        "LEGEND: hits per period, run and datatype (folders period=/run=/datatype=)",
        "SELECT period, run, datatype, count(*) AS hits, \
                round(avg(CASE WHEN is_valid THEN 1.0 ELSE 0.0 END), 3) AS valid_fraction \
         FROM legend_hits GROUP BY period, run, datatype ORDER BY period, run, datatype",
    ),
    (
        "Calibration: the Th-228 line at 2614.5 keV, 1 keV bins (pruning reads only cal folders)",
        "SELECT round(energy) AS kev, count(*) AS hits, \
                repeat('#', CAST(count(*) * 60 / max(count(*)) OVER () AS INT)) AS histogram \
         FROM legend_hits \
         WHERE datatype = 'cal' AND energy BETWEEN 2607 AND 2622 GROUP BY 1 ORDER BY 1",
    ),
    (
        "Physics runs: K-40 (1460.8 keV) and K-42 (1524.6 keV) over the continuum, 8 keV bins",
        "SELECT 8 * floor(energy / 8) AS kev, count(*) AS hits, \
                repeat('#', CAST(count(*) * 60 / max(count(*)) OVER () AS INT)) AS histogram \
         FROM legend_hits \
         WHERE datatype = 'phy' AND is_valid AND energy BETWEEN 1420 AND 1560 \
         GROUP BY 1 ORDER BY 1",
    ),
];

/// Builds the demo warehouse if needed, runs the tour and, with `serve`, serves the warehouse
/// on that address until the process is stopped.
pub async fn run(
    warehouse: Option<PathBuf>,
    lhc_events: u64,
    legend_hits: u64,
    serve: Option<std::net::SocketAddr>,
) -> CliResult<()> {
    let warehouse = warehouse.unwrap_or_else(|| data_dir().join("demo"));
    let tables = warehouse.join("tables");
    std::fs::create_dir_all(&tables)
        .map_err(|e| CliError::Message(format!("cannot create '{}': {e}", tables.display())))?;
    ensure_table(&tables, "lhc_events", Dataset::Lhc, lhc_events)?;
    ensure_table(&tables, "legend_hits", Dataset::Legend, legend_hits)?;
    let root_events = warehouse.join("root").join("lhc_events");
    ensure_root_copy(&tables.join("lhc_events"), &root_events).await?;

    let engine = EngineArgs {
        warehouse: Some(warehouse.clone()),
        catalog: None,
        threads: None,
        memory_limit: None,
    };
    let session = open_session(&engine).await?;
    println!("hepq demo — warehouse {}\n", warehouse.display());
    for (i, (title, sql)) in TOUR.iter().enumerate() {
        println!("── {}. {title}", i + 1);
        println!("{}\n", pretty_sql(sql));
        let started = Instant::now();
        let Some(df) = session.run_script(sql).await? else {
            continue;
        };
        let batches = execute_with_progress(&session, df).await?;
        let stdout = std::io::stdout();
        write_batches(&mut stdout.lock(), OutputFormat::Table, &batches)?;
        println!("({:.3}s)\n", started.elapsed().as_secs_f64());
    }
    if let Some(file) = first_root_file(&root_events) {
        let sql = format!(
            "SELECT count(*) AS events, round(avg(MET_pt), 2) AS mean_met_gev, sum(nJet) AS jets \
             FROM read_root({}, 'Events')",
            hepq_sql::quote_literal(&file.display().to_string())
        );
        println!(
            "── {}. The same LHC events as ROOT files (written by COPY … STORED AS ROOT), one run read back",
            TOUR.len() + 1
        );
        println!("{}\n", pretty_sql(&sql));
        let started = Instant::now();
        if let Some(df) = session.run_script(&sql).await? {
            let batches = execute_with_progress(&session, df).await?;
            let stdout = std::io::stdout();
            write_batches(&mut stdout.lock(), OutputFormat::Table, &batches)?;
        }
        println!("({:.3}s)\n", started.elapsed().as_secs_f64());
    }
    println!(
        "Try your own queries:\n  hepq sql --warehouse {}\n  hepq sql --warehouse {} -c \
         \"SELECT count(*) FROM lhc_events WHERE MET_pt > 100\"",
        warehouse.display(),
        warehouse.display()
    );
    let Some(listen) = serve else {
        println!(
            "  hepq serve --warehouse {}   # PostgreSQL clients (or: hepq demo --serve)",
            warehouse.display()
        );
        return Ok(());
    };
    println!(
        "\nServing the demo warehouse over the PostgreSQL protocol (Ctrl-C to stop); connect with:\n  \
         psql -h {} -p {} -U hepq hepq",
        listen.ip(),
        listen.port()
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let options = crate::pg::ServeOptions {
        listen,
        session: hepq_sql::SessionOptions {
            warehouse: Some(warehouse.clone()),
            object_store_env: super::aws_environment(),
            ..Default::default()
        },
        register: Vec::new(),
        max_connections: 100,
        insecure: false,
        auth: crate::pg::auth::Method::Trust,
        users: Default::default(),
        tls: None,
        read_only_users: Default::default(),
        read_only: false,
    };
    crate::pg::serve(options)
        .await
        .map_err(|e| CliError::Message(e.to_string()))
}

/// Generates `tables/NAME` unless it is already complete. Data is written to a hidden folder
/// and renamed into place, so an interrupted run never leaves a half table behind.
fn ensure_table(tables: &Path, name: &str, dataset: Dataset, rows: u64) -> CliResult<()> {
    let target = tables.join(name);
    if target.is_dir() {
        return Ok(());
    }
    let partial = tables.join(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| {
            CliError::Message(format!("cannot remove '{}': {e}", partial.display()))
        })?;
    }
    eprintln!("Generating {name} ({rows} rows, seed {DEMO_SEED}) …");
    let options = GenerateOptions {
        events: rows,
        out: partial.clone(),
        seed: DEMO_SEED,
        waveforms: false,
    };
    let summary = generate_with_progress(dataset, &options)?;
    std::fs::rename(&partial, &target).map_err(|e| {
        CliError::Message(format!(
            "cannot move '{}' into place: {e}",
            partial.display()
        ))
    })?;
    eprintln!(
        "  {} rows in {} files, {}",
        summary.rows,
        summary.files,
        human_bytes(summary.bytes)
    );
    Ok(())
}

/// Every Parquet file under `dir`, sorted.
fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> CliResult<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Message(format!("cannot read '{}': {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            parquet_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "parquet") {
            out.push(p);
        }
    }
    Ok(())
}

/// The first ROOT file of the copy (for the tour), if there is one.
fn first_root_file(dir: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    let file = runs.first()?.join("part-00000.root");
    file.is_file().then_some(file)
}

/// Writes every file of the Parquet table `parquet` again as a ROOT file under `target`, with
/// the same `run=` folders, through `COPY … STORED AS ROOT` (tree `Events`, zstd), unless
/// `target` is already complete. Rows keep the generator's order (by luminosity block and
/// event), so the same seed gives the same events.
async fn ensure_root_copy(parquet: &Path, target: &Path) -> CliResult<()> {
    if target.is_dir() {
        return Ok(());
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = target.with_file_name(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| {
            CliError::Message(format!("cannot remove '{}': {e}", partial.display()))
        })?;
    }
    let mut files = Vec::new();
    parquet_files(parquet, &mut files)?;
    eprintln!("Writing {name} as ROOT files ({} files) …", files.len());
    let engine = EngineArgs {
        warehouse: None,
        catalog: None,
        threads: None,
        memory_limit: None,
    };
    let session = open_session(&engine).await?;
    for file in &files {
        let relative = file
            .strip_prefix(parquet)
            .unwrap_or(file)
            .with_extension("root");
        let out = partial.join(relative);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                CliError::Message(format!("cannot create '{}': {e}", dir.display()))
            })?;
        }
        session
            .register(
                "lhc_part",
                &file.display().to_string(),
                Some(hepq_sql::Format::Parquet),
            )
            .await?;
        let sql = format!(
            "COPY (SELECT * FROM lhc_part ORDER BY luminosityBlock, event) TO {} \
             STORED AS ROOT OPTIONS ('tree' 'Events', 'compression' 'zstd', 'level' '5')",
            hepq_sql::quote_literal(&out.display().to_string())
        );
        session.query(&sql).await?;
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Message(format!("cannot create '{}': {e}", dir.display())))?;
    }
    std::fs::rename(&partial, target).map_err(|e| {
        CliError::Message(format!(
            "cannot move '{}' into place: {e}",
            partial.display()
        ))
    })?;
    Ok(())
}

/// Re-flows a one-line SQL constant for display.
fn pretty_sql(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let mut out = String::from("  ");
    let mut width = 2;
    for word in words {
        let breaks = matches!(
            word,
            "FROM" | "WHERE" | "GROUP" | "ORDER" | "SELECT" | "WITH"
        ) && width > 2;
        if breaks || width + word.len() > 96 {
            out.push_str("\n  ");
            width = 2;
        }
        out.push_str(word);
        out.push(' ');
        width += word.len() + 1;
    }
    out.trim_end().to_string()
}
