//! The command line: argument parsing and the subcommands.

mod demo;
mod output;
mod progress;
mod shell;
mod sql_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hepq_sql::{HepqSession, SessionOptions};

use crate::generate::{self, Dataset, GenerateOptions};

pub use output::OutputFormat;

/// SQL over high-energy-physics data: ROOT, RNTuple, LH5 and Hive-partitioned Parquet.
#[derive(Debug, Parser)]
#[command(name = "hepq", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run SQL: a statement (-c), a script (-f), or an interactive shell.
    Sql(SqlArgs),
    /// Create the demo warehouse (once) and run a guided tour of queries.
    Demo(DemoArgs),
    /// Generate demo data: NanoAOD-like LHC events or LEGEND germanium hits, as Parquet.
    Generate(GenerateArgs),
    /// Show what a ROOT file holds: trees, branches, types, baskets, sizes and codecs.
    Inspect(InspectArgs),
    /// Serve SQL over the PostgreSQL wire protocol (psql, psycopg, SQLAlchemy, pandas, …).
    Serve(ServeArgs),
    /// Refresh materialised views of the warehouse (for cron): the named ones, or with --due
    /// those whose refresh schedule says a refresh is due.
    Refresh(RefreshArgs),
}

#[derive(Debug, Args)]
struct RefreshArgs {
    /// Views to refresh (`name` or `schema.name`).
    #[arg(value_name = "VIEW")]
    views: Vec<String>,
    /// Recompute everything, even where an incremental refresh would do.
    #[arg(long)]
    full: bool,
    /// Refresh every view whose schedule (`WITH (refresh = …)`) is due.
    #[arg(long)]
    due: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:5433). A non-loopback address needs password
    /// authentication from --config, or --insecure.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Config file (TOML): listen, max_connections, auth method and [users] password hashes.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read a password from stdin, print its SCRAM-SHA-256 hash for the config file, and exit.
    #[arg(long)]
    hash_password: bool,
    /// Register a table in every connection's session: NAME=LOCATION or NAME:FORMAT=LOCATION
    /// (as for `hepq sql --register`). Repeatable.
    #[arg(long = "register", value_name = "NAME=LOCATION")]
    register: Vec<String>,
    /// Maximum simultaneous client connections (default 100).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Allow listening on a non-loopback address without authentication.
    #[arg(long)]
    insecure: bool,
    /// Make every session read-only: no DDL, DML or COPY to a file (SELECT and COPY TO STDOUT
    /// work). The config file can mark single users read-only instead (read_only_users).
    #[arg(long)]
    read_only: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The file: a local path or an s3:// or http(s):// URL.
    #[arg(value_name = "FILE")]
    file: String,
}

/// Engine settings shared by the commands that run queries.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Warehouse directory: its catalog (DIR/catalog.sqlite) keeps the schemas, external
    /// tables and views you create across runs, and each folder in DIR/tables/ is a table
    /// named after it. `default` is the warehouse in hepq's data directory
    /// (~/.local/share/hepq/warehouse on Linux). Without one, nothing persists.
    #[arg(long, value_name = "DIR", env = "HEPQ_WAREHOUSE")]
    pub warehouse: Option<PathBuf>,
    /// The warehouse's catalog database instead of DIR/catalog.sqlite:
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE for a PostgreSQL catalog that several
    /// hosts share (the warehouse directory, on a shared file system, holds the data), or
    /// sqlite://PATH. Needs --warehouse.
    #[arg(long, value_name = "URL", env = "HEPQ_CATALOG", requires = "warehouse")]
    pub catalog: Option<String>,
    /// Worker threads for query execution (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Memory limit for buffering operators, e.g. 4GB, 512MiB (default: unlimited).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<usize>,
}

#[derive(Debug, Args)]
struct SqlArgs {
    /// SQL to run (several ;-separated statements run in order; the last result is printed).
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    command: Option<String>,
    /// File of ;-separated SQL statements to run in order (the last result is printed).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Register a table before running: NAME=LOCATION or NAME:FORMAT=LOCATION. LOCATION is a
    /// file, folder, glob, s3:// or http(s):// URL; the format comes from the extension unless
    /// given (parquet, csv, json, arrow, root). Repeatable.
    #[arg(long = "register", value_name = "NAME=LOCATION")]
    register: Vec<String>,
    /// How to print results.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Where to build the demo warehouse (default: hepq's data directory, demo/).
    #[arg(long, value_name = "DIR")]
    warehouse: Option<PathBuf>,
    /// LHC events to generate the first time.
    #[arg(long, default_value_t = 200_000)]
    lhc_events: u64,
    /// LEGEND hits to generate the first time.
    #[arg(long, default_value_t = 500_000)]
    legend_hits: u64,
    /// After the tour, serve the demo warehouse over the PostgreSQL protocol until stopped
    /// (the default when stdin and stdout are a terminal).
    #[arg(long, conflicts_with = "no_serve")]
    serve: bool,
    /// Do not start the server after the tour.
    #[arg(long)]
    no_serve: bool,
    /// Address the demo's server listens on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5433")]
    listen: std::net::SocketAddr,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DatasetArg {
    /// NanoAOD-like events (Jet_*, Muon_*, Electron_*, MET_*), partitioned by run=.
    Lhc,
    /// Germanium-detector hits, partitioned period=/run=/datatype=.
    Legend,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Which dataset.
    #[arg(value_enum)]
    dataset: DatasetArg,
    /// Rows to write (events for lhc, hits for legend).
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Output folder (the table root); must be empty or absent.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Random seed: the same seed gives identical files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// legend only: add a fixed-length int16 waveform column.
    #[arg(long)]
    waveforms: bool,
}

/// A front-end failure, shown to the user as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the engine or session.
    #[error(transparent)]
    Sql(#[from] hepq_sql::Error),
    /// From the data generator.
    #[error(transparent)]
    Generate(#[from] generate::GenerateError),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Message(String),
}

impl From<hepq_sql::datafusion::error::DataFusionError> for CliError {
    fn from(e: hepq_sql::datafusion::error::DataFusionError) -> Self {
        CliError::Sql(e.into())
    }
}

/// The result type of the command line.
pub type CliResult<T> = Result<T, CliError>;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Sql(args) => {
            let runtime = runtime(args.engine.threads)?;
            runtime.block_on(sql_cmd::run(sql_cmd::SqlJob {
                command: args.command,
                file: args.file,
                register: args.register,
                format: args.format,
                engine: args.engine,
            }))
        }
        Command::Demo(args) => {
            let runtime = runtime(None)?;
            use std::io::IsTerminal;
            let serve = if args.serve {
                Some(args.listen)
            } else if args.no_serve
                || !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal())
            {
                None
            } else {
                Some(args.listen)
            };
            runtime.block_on(demo::run(
                args.warehouse,
                args.lhc_events,
                args.legend_hits,
                serve,
            ))
        }
        Command::Inspect(args) => {
            let runtime = runtime(None)?;
            runtime.block_on(async {
                let session = open_session(&EngineArgs {
                    warehouse: None,
                    catalog: None,
                    threads: None,
                    memory_limit: None,
                })
                .await?;
                print!("{}", session.inspect(&args.file).await?);
                Ok(())
            })
        }
        Command::Serve(args) => {
            if args.hash_password {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| CliError::Message(format!("cannot read the password: {e}")))?;
                let password = line.trim_end_matches(['\n', '\r']);
                println!("{}", crate::pg::auth::scram_verifier(password));
                return Ok(());
            }
            let config = match &args.config {
                Some(path) => crate::pg::config::Config::load(path).map_err(CliError::Message)?,
                None => crate::pg::config::Config::default(),
            };
            let users = config.secrets().map_err(CliError::Message)?;
            let tls = match (&config.tls_cert, &config.tls_key) {
                (Some(cert), Some(key)) => {
                    Some(crate::pg::tls::load(cert, key).map_err(CliError::Message)?)
                }
                (None, None) => None,
                _ => {
                    return Err(CliError::Message(
                        "config file: [tls] needs both cert and key".into(),
                    ));
                }
            };
            let runtime = runtime(args.engine.threads)?;
            let mut register = Vec::new();
            for spec in &args.register {
                register.push(sql_cmd::parse_register(spec)?);
            }
            let default_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 5433));
            let options = crate::pg::ServeOptions {
                listen: args.listen.or(config.listen).unwrap_or(default_listen),
                session: SessionOptions {
                    threads: args.engine.threads,
                    memory_limit: args.engine.memory_limit,
                    warehouse: warehouse_dir(args.engine.warehouse.as_deref()),
                    catalog: args.engine.catalog.clone(),
                    object_store_env: aws_environment(),
                },
                register,
                max_connections: args
                    .max_connections
                    .or(config.max_connections)
                    .unwrap_or(100),
                insecure: args.insecure,
                auth: config.auth.unwrap_or(crate::pg::auth::Method::Trust),
                users,
                tls,
                read_only_users: config.read_only_users.iter().cloned().collect(),
                read_only: args.read_only || config.read_only.unwrap_or(false),
            };
            runtime
                .block_on(crate::pg::serve(options))
                .map_err(|e| CliError::Message(e.to_string()))
        }
        Command::Refresh(args) => {
            let runtime = runtime(args.engine.threads)?;
            runtime.block_on(refresh_views(args))
        }
        Command::Generate(args) => {
            let dataset = match args.dataset {
                DatasetArg::Lhc => Dataset::Lhc,
                DatasetArg::Legend => Dataset::Legend,
            };
            let options = GenerateOptions {
                events: args.events,
                out: args.out,
                seed: args.seed,
                waveforms: args.waveforms,
            };
            let summary = progress::generate_with_progress(dataset, &options)?;
            eprintln!(
                "wrote {} rows in {} files ({}) to {}",
                summary.rows,
                summary.files,
                progress::human_bytes(summary.bytes),
                options.out.display()
            );
            Ok(())
        }
    }
}

/// `hepq refresh`: refreshes the named views (or the due ones), printing one line per view;
/// fails if any refresh failed.
async fn refresh_views(args: RefreshArgs) -> CliResult<()> {
    if args.engine.warehouse.is_none() {
        return Err(CliError::Message(
            "hepq refresh needs a warehouse: --warehouse DIR (or HEPQ_WAREHOUSE)".into(),
        ));
    }
    if args.views.is_empty() && !args.due {
        return Err(CliError::Message(
            "name the views to refresh, or give --due".into(),
        ));
    }
    let session = open_session(&args.engine).await?;
    let mut views: Vec<(String, String)> = args
        .views
        .iter()
        .map(|v| match v.split_once('.') {
            Some((schema, name)) => (schema.to_string(), name.to_string()),
            None => ("public".to_string(), v.clone()),
        })
        .collect();
    if args.due
        && let Some(store) = session.catalog()
    {
        views.extend(hepq_sql::due_refreshes(store).await?);
    }
    let mut failed = 0;
    for (schema, name) in views {
        match session
            .refresh_materialized_view(&schema, &name, args.full)
            .await
        {
            Ok(r) => println!(
                "{}: {} refresh ({}), {} rows written from {} source file(s), snapshot {}, {:.2} s",
                r.view,
                r.mode,
                r.reason,
                r.rows_out,
                r.source_files,
                r.snapshot_id
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unchanged".into()),
                r.seconds
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{schema}.{name}: refresh failed: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Message(format!("{failed} refresh(es) failed")));
    }
    Ok(())
}

/// The tokio runtime the engine runs on; `threads` caps its workers as well.
fn runtime(threads: Option<usize>) -> CliResult<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = threads {
        builder.worker_threads(n.max(1));
    }
    builder
        .build()
        .map_err(|e| CliError::Message(format!("cannot start the runtime: {e}")))
}

/// Builds the session for a command: options from the command line and the environment.
pub async fn open_session(engine: &EngineArgs) -> CliResult<HepqSession> {
    let options = SessionOptions {
        threads: engine.threads,
        memory_limit: engine.memory_limit,
        warehouse: warehouse_dir(engine.warehouse.as_deref()),
        catalog: engine.catalog.clone(),
        object_store_env: aws_environment(),
    };
    let session = HepqSession::new(options).await?;
    for warning in session.warnings() {
        eprintln!("Warning: {warning}");
    }
    Ok(session)
}

/// The warehouse directory `--warehouse` (or `HEPQ_WAREHOUSE`) names: `default` is the one in
/// hepq's data directory, an empty value is none.
pub fn warehouse_dir(arg: Option<&std::path::Path>) -> Option<PathBuf> {
    let arg = arg?;
    if arg.as_os_str().is_empty() {
        return None;
    }
    if arg == std::path::Path::new("default") {
        return Some(data_dir().join("warehouse"));
    }
    Some(arg.to_path_buf())
}

/// The standard AWS variables, handed to the session for `s3://` locations.
pub(crate) fn aws_environment() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .collect()
}

/// The default data directory of hepq (`~/.local/share/hepq` on Linux).
pub fn data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("hepq")
}

/// Parses sizes such as `4GB`, `512MiB`, `1.5G` or `1000000` into bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (try 4GB or 512MiB)"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0_f64.powi(4),
        other => return Err(format!("unknown size unit '{other}' in '{text}'")),
    };
    let bytes = number * factor;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("'{text}' is not a positive size"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4GB"), Ok(4_000_000_000));
        assert_eq!(parse_size("512MiB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_size("1.5g"), Ok(1_500_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }

    #[test]
    fn warehouse_names() {
        use std::path::Path;
        assert_eq!(warehouse_dir(None), None);
        assert_eq!(warehouse_dir(Some(Path::new(""))), None);
        assert_eq!(
            warehouse_dir(Some(Path::new("default"))),
            Some(data_dir().join("warehouse"))
        );
        assert_eq!(
            warehouse_dir(Some(Path::new("./default"))),
            Some(PathBuf::from("./default"))
        );
    }

    #[test]
    fn every_subcommand_has_help() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
