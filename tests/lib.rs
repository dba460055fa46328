//! Shared helpers of hepq's end-to-end tests.
//!
//! [`HepqDb`] runs sqllogictest records through a real [`hepq_sql::HepqSession`], the same
//! session builder the CLI, server and Python module use. Values are printed the way the
//! `.slt` files expect: `NULL` for nulls, `(empty)` for empty strings, lists as `[1, 2]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use hepq_sql::{HepqSession, SessionOptions};
use sqllogictest::{DBOutput, DefaultColumnType};

/// A sqllogictest database backed by a fresh hepq session.
pub struct HepqDb {
    session: HepqSession,
}

/// A statement failed; the message is what users would see.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(String);

impl HepqDb {
    /// A new session with default options (no warehouse).
    pub async fn new() -> Self {
        Self::with_warehouse(None).await
    }

    /// A new session on `warehouse` (its catalog persists DDL), or on none.
    pub async fn with_warehouse(warehouse: Option<std::path::PathBuf>) -> Self {
        let session = HepqSession::new(SessionOptions {
            threads: Some(2),
            warehouse,
            ..Default::default()
        })
        .await
        .expect("session");
        Self { session }
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for HepqDb {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let (schema, batches) = self
            .session
            .query(sql)
            .await
            .map_err(|e| DbError(e.to_string()))?;
        if schema.fields().is_empty() {
            let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
            return Ok(DBOutput::StatementComplete(rows));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let mut rows = Vec::new();
        for batch in &batches {
            rows.extend(format_rows(batch).map_err(DbError)?);
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "hepq"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => DefaultColumnType::FloatingPoint,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

/// Formats every cell of `batch` for comparison with the `.slt` file.
///
/// A multi-line cell (an `EXPLAIN` plan) becomes one row per line, the way DataFusion's own
/// harness prints plans: each line is numbered `01)`, `02)`, … and its indentation is kept as
/// `-` characters (the `.slt` format collapses spaces); continuation rows hold only the
/// multi-line cells.
pub fn format_rows(batch: &RecordBatch) -> Result<Vec<Vec<String>>, String> {
    let options = FormatOptions::default().with_null("NULL");
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut cells: Vec<Vec<String>> = Vec::with_capacity(formatters.len());
        for (formatter, column) in formatters.iter().zip(batch.columns()) {
            let text = formatter.value(row).to_string();
            if text.is_empty() && !column.is_null(row) {
                cells.push(vec!["(empty)".to_string()]);
                continue;
            }
            let text = scrub_random_file_names(&scrub_temp_dirs(&text));
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines.len() <= 1 {
                cells.push(vec![text.trim().to_string()]);
            } else {
                cells.push(
                    lines
                        .iter()
                        .enumerate()
                        .map(|(i, l)| plan_line(i, l))
                        .collect(),
                );
            }
        }
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for line in 0..height {
            // Continuation rows carry only the cells that go on (the runner joins cells with
            // spaces, so an empty cell would become a leading space).
            rows.push(
                cells
                    .iter()
                    .map(|c| c.get(line).cloned().unwrap_or_default())
                    .filter(|c| line == 0 || !c.is_empty())
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// Line `index` of a multi-line cell: `NN)` then the indentation as `-`, then the text.
fn plan_line(index: usize, line: &str) -> String {
    let body = line.trim_start();
    let indent = line.len() - body.len();
    format!("{:02}){}{}", index + 1, "-".repeat(indent), body.trim_end())
}

/// Replaces temporary directories (which differ on every run) by `__TEST_DIR__`.
pub fn scrub_temp_dirs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("tmp/.tmp") {
        // Include a leading '/' if the path is absolute.
        let start = if pos > 0 && rest.as_bytes()[pos - 1] == b'/' {
            pos - 1
        } else {
            pos
        };
        out.push_str(&rest[..start]);
        let after = &rest[pos + "tmp/.tmp".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        out.push_str("__TEST_DIR__");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces the random 16-character names `COPY … PARTITIONED BY` gives its files by `FILE`.
pub fn scrub_random_file_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(".parquet") {
        let head = &rest[..pos];
        let stem_start = head.rfind('/').map(|i| i + 1).unwrap_or(0);
        let stem = &head[stem_start..];
        if stem.len() == 16 && stem.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push_str(&head[..stem_start]);
            out.push_str("FILE");
        } else {
            out.push_str(head);
        }
        out.push_str(".parquet");
        rest = &rest[pos + ".parquet".len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_file_names_are_scrubbed() {
        assert_eq!(
            super::scrub_random_file_names("[a/run=1/Howa0ulXxD0FAJNA.parquet, b/part-0.parquet]"),
            "[a/run=1/FILE.parquet, b/part-0.parquet]"
        );
    }

    #[test]
    fn plan_lines_are_numbered_and_keep_indentation() {
        assert_eq!(
            super::plan_line(0, "ProjectionExec: x"),
            "01)ProjectionExec: x"
        );
        assert_eq!(
            super::plan_line(11, "    FilterExec: y  "),
            "12)----FilterExec: y"
        );
    }

    #[test]
    fn temp_dirs_are_scrubbed() {
        assert_eq!(
            super::scrub_temp_dirs("[tmp/.tmpAb12/x/run=1/a.parquet, /tmp/.tmpZ9/y]"),
            "[__TEST_DIR__/x/run=1/a.parquet, __TEST_DIR__/y]"
        );
    }
}
