//! Result formats of the CLI: `table`, `csv`, `json` and `ndjson`.
//!
//! * `table` — a boxed text table (lists shown as `[1.5, 2.0]`; a one-dimensional histogram
//!   document is drawn as a text bar chart).
//! * `csv` — a header row, then one line per row; list and struct cells are JSON text.
//! * `json` — one JSON array of row objects; `ndjson` — one row object per line.
//!
//! In every format, lists are JSON arrays and structs JSON objects, and a text column that
//! holds JSON documents (Arrow's canonical `arrow.json` extension type, e.g. a histogram) is
//! embedded as JSON rather than as a quoted string.

use std::io::Write;
use std::sync::Arc;

use clap::ValueEnum;
use hepq_sql::datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use hepq_sql::datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use hepq_sql::datafusion::arrow::error::ArrowError;
use hepq_sql::datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use hepq_sql::datafusion::arrow::util::display::FormatOptions;
use hepq_sql::datafusion::arrow::util::pretty::pretty_format_batches_with_options;

use super::{CliError, CliResult};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A text table.
    Table,
    /// Comma-separated values with a header; nested cells as JSON.
    Csv,
    /// A JSON array of row objects.
    Json,
    /// One JSON row object per line.
    Ndjson,
}

/// The Arrow extension name marking a text column whose values are JSON documents.
pub const JSON_EXTENSION: &str = "arrow.json";

fn is_json_field(field: &Field) -> bool {
    field
        .metadata()
        .get("ARROW:extension:name")
        .is_some_and(|name| name == JSON_EXTENSION)
}

fn io_error(e: std::io::Error) -> CliError {
    CliError::Message(format!("cannot write output: {e}"))
}

fn arrow_error(e: ArrowError) -> CliError {
    CliError::Message(format!("cannot format result: {e}"))
}

/// Writes `batches` (all of one schema) to `out` in `format`.
pub fn write_batches(
    out: &mut dyn Write,
    format: OutputFormat,
    batches: &[RecordBatch],
) -> CliResult<()> {
    match format {
        OutputFormat::Table => write_table(out, batches),
        OutputFormat::Csv => write_csv(out, batches),
        OutputFormat::Json => write_json(out, batches, false),
        OutputFormat::Ndjson => write_json(out, batches, true),
    }
}

fn write_table(out: &mut dyn Write, batches: &[RecordBatch]) -> CliResult<()> {
    // JSON documents print as themselves, without escaping; one-dimensional histograms are
    // drawn as text bar charts.
    let options = FormatOptions::default().with_null("NULL");
    let drawn = batches
        .iter()
        .map(draw_histograms)
        .collect::<CliResult<Vec<_>>>()?;
    let table = pretty_format_batches_with_options(&drawn, &options).map_err(arrow_error)?;
    writeln!(out, "{table}").map_err(io_error)?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    writeln!(out, "({rows} {})", if rows == 1 { "row" } else { "rows" }).map_err(io_error)
}

/// Width of the longest bar when the table format draws a histogram.
const CHART_WIDTH: usize = 40;

/// Replaces, in `arrow.json` text columns, every one-dimensional UHI histogram by its bar
/// chart; other values stay as they are.
fn draw_histograms(batch: &RecordBatch) -> CliResult<RecordBatch> {
    let schema = batch.schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let Some(text) = column
            .as_string_opt::<i32>()
            .filter(|_| is_json_field(field))
        else {
            columns.push(Arc::clone(column));
            continue;
        };
        let drawn: StringArray = text
            .iter()
            .map(|value| {
                value.map(|doc| {
                    hepq_sql::hepq_udfs::hist::ascii::chart_of_document(doc, CHART_WIDTH)
                        .unwrap_or_else(|| doc.to_string())
                })
            })
            .collect();
        columns.push(Arc::new(drawn));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema, columns, &options).map_err(arrow_error)
}

fn write_json(out: &mut dyn Write, batches: &[RecordBatch], lines: bool) -> CliResult<()> {
    let mut buffer = Vec::new();
    if !lines {
        out.write_all(b"[").map_err(io_error)?;
    }
    let mut first = true;
    for batch in batches {
        let fields = batch.schema().fields().clone();
        let options = encoder_options();
        let mut encoders = fields
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| {
                hepq_sql::datafusion::arrow::json::writer::make_encoder(
                    field,
                    column.as_ref(),
                    &options,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow_error)?;
        for row in 0..batch.num_rows() {
            buffer.clear();
            if !lines && !first {
                buffer.push(b',');
            }
            first = false;
            buffer.push(b'{');
            for (i, (field, encoder)) in fields.iter().zip(encoders.iter_mut()).enumerate() {
                if i > 0 {
                    buffer.push(b',');
                }
                write_json_string(&mut buffer, field.name());
                buffer.push(b':');
                if encoder.is_null(row) {
                    buffer.extend_from_slice(b"null");
                } else {
                    encoder.encode(row, &mut buffer);
                }
            }
            buffer.push(b'}');
            if lines {
                buffer.push(b'\n');
            }
            out.write_all(&buffer).map_err(io_error)?;
        }
    }
    if !lines {
        out.write_all(b"]\n").map_err(io_error)?;
    }
    Ok(())
}

fn write_csv(out: &mut dyn Write, batches: &[RecordBatch]) -> CliResult<()> {
    // The header is written with the first batch, even an empty one.
    let mut writer = hepq_sql::datafusion::arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(out);
    for batch in batches {
        let flat = flatten_for_csv(batch)?;
        writer.write(&flat).map_err(arrow_error)?;
    }
    Ok(())
}

/// Replaces list, struct, map and JSON-document columns with their JSON text.
fn flatten_for_csv(batch: &RecordBatch) -> CliResult<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<FieldRef> = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if is_nested(field.data_type()) {
            columns.push(json_text(field, column)?);
            fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
        } else {
            columns.push(Arc::clone(column));
            fields.push(Arc::clone(field));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(arrow_error)
}

fn is_nested(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(_, _)
            | DataType::Struct(_)
            | DataType::Map(_, _)
            | DataType::Union(_, _)
    )
}

/// Each cell of `column` as JSON text (NULL stays NULL).
fn json_text(field: &FieldRef, column: &ArrayRef) -> CliResult<ArrayRef> {
    let options = encoder_options();
    let mut encoder =
        hepq_sql::datafusion::arrow::json::writer::make_encoder(field, column.as_ref(), &options)
            .map_err(arrow_error)?;
    let mut builder = StringBuilder::with_capacity(column.len(), column.len() * 16);
    let mut cell = Vec::new();
    for row in 0..column.len() {
        if encoder.is_null(row) {
            builder.append_null();
            continue;
        }
        cell.clear();
        encoder.encode(row, &mut cell);
        builder.append_value(String::from_utf8_lossy(&cell));
    }
    Ok(Arc::new(builder.finish()))
}

fn encoder_options() -> hepq_sql::datafusion::arrow::json::writer::EncoderOptions {
    hepq_sql::datafusion::arrow::json::writer::EncoderOptions::default()
        .with_explicit_nulls(true)
        .with_encoder_factory(Arc::new(JsonDocumentEncoderFactory))
}

/// Writes `arrow.json` text columns as raw JSON (falling back to a string if a value is not
/// valid JSON, so the output always parses).
#[derive(Debug)]
struct JsonDocumentEncoderFactory;

impl hepq_sql::datafusion::arrow::json::writer::EncoderFactory for JsonDocumentEncoderFactory {
    fn make_default_encoder<'a>(
        &self,
        field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a hepq_sql::datafusion::arrow::json::writer::EncoderOptions,
    ) -> Result<Option<hepq_sql::datafusion::arrow::json::writer::NullableEncoder<'a>>, ArrowError>
    {
        if !is_json_field(field) {
            return Ok(None);
        }
        let values: Vec<Option<&'a str>> = match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().collect(),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
            DataType::Utf8View => array.as_string_view().iter().collect(),
            _ => return Ok(None),
        };
        let nulls = array.nulls().cloned();
        Ok(Some(
            hepq_sql::datafusion::arrow::json::writer::NullableEncoder::new(
                Box::new(JsonDocumentEncoder { values }),
                nulls,
            ),
        ))
    }
}

struct JsonDocumentEncoder<'a> {
    values: Vec<Option<&'a str>>,
}

impl hepq_sql::datafusion::arrow::json::writer::Encoder for JsonDocumentEncoder<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let value = self.values.get(idx).copied().flatten().unwrap_or("null");
        if serde_json::from_str::<serde_json::Value>(value).is_ok() {
            out.extend_from_slice(value.as_bytes());
        } else {
            write_json_string(out, value);
        }
    }
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly as JSON requires; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}
