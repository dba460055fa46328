//! `hepq sql`: run a statement, a script, or the interactive shell.

use std::io::Write;
use std::path::PathBuf;

use futures::StreamExt;
use hepq_sql::datafusion::arrow::record_batch::RecordBatch;
use hepq_sql::datafusion::dataframe::DataFrame;
use hepq_sql::{Format, HepqSession};

use super::output::{OutputFormat, write_batches};
use super::progress::QueryProgress;
use super::{CliError, CliResult, EngineArgs, open_session, shell};

/// What `hepq sql` was asked to do.
#[derive(Debug)]
pub struct SqlJob {
    pub command: Option<String>,
    pub file: Option<PathBuf>,
    pub register: Vec<String>,
    pub format: OutputFormat,
    pub engine: EngineArgs,
}

pub async fn run(job: SqlJob) -> CliResult<()> {
    let session = open_session(&job.engine).await?;
    for spec in &job.register {
        let (name, format, location) = parse_register(spec)?;
        session.register(&name, &location, format).await?;
    }
    let script = match (&job.command, &job.file) {
        (Some(sql), _) => sql.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Message(format!("cannot read '{}': {e}", path.display())))?,
        (None, None) => return shell::run(&session, job.format).await,
    };
    let Some(df) = session.run_script(&script).await? else {
        return Ok(());
    };
    let batches = execute_with_progress(&session, df).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_batches(&mut out, job.format, &batches)?;
    out.flush()
        .map_err(|e| CliError::Message(format!("cannot write output: {e}")))?;
    Ok(())
}

/// Runs a query, showing a progress bar on stderr while it reads (when stderr is a terminal).
pub async fn execute_with_progress(
    session: &HepqSession,
    df: DataFrame,
) -> CliResult<Vec<RecordBatch>> {
    let schema = df.schema().as_arrow().clone();
    let task_ctx = df.task_ctx();
    let plan = df.create_physical_plan().await?;
    let totals = hepq_sql::progress::scan_totals(&plan);
    let progress = QueryProgress::start(session.io_counters(), totals);
    let mut stream =
        hepq_sql::datafusion::physical_plan::execute_stream(plan, std::sync::Arc::new(task_ctx))?;
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        match batch {
            Ok(b) => batches.push(b),
            Err(e) => {
                progress.finish();
                return Err(e.into());
            }
        }
    }
    progress.finish();
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(std::sync::Arc::new(schema)));
    }
    Ok(batches)
}

/// Parses `NAME=LOCATION` or `NAME:FORMAT=LOCATION`.
pub(crate) fn parse_register(spec: &str) -> CliResult<(String, Option<Format>, String)> {
    let (head, location) = spec
        .split_once('=')
        .ok_or_else(|| CliError::Message(format!("--register '{spec}': expected NAME=LOCATION")))?;
    let (name, format) = match head.split_once(':') {
        Some((name, format)) => (name, Some(Format::parse(format)?)),
        None => (head, None),
    };
    if name.is_empty() || location.is_empty() {
        return Err(CliError::Message(format!(
            "--register '{spec}': expected NAME=LOCATION"
        )));
    }
    Ok((name.to_string(), format, location.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_specs() {
        let (n, f, l) = parse_register("events=data/x.parquet").unwrap();
        assert_eq!(
            (n.as_str(), f, l.as_str()),
            ("events", None, "data/x.parquet")
        );
        let (n, f, l) = parse_register("e:parquet=s3://b/k=v/").unwrap();
        assert_eq!(
            (n.as_str(), f, l.as_str()),
            ("e", Some(Format::Parquet), "s3://b/k=v/")
        );
        assert!(parse_register("nothing").is_err());
        assert!(parse_register("x:xlsx=a").is_err());
    }
}
