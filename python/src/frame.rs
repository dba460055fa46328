//! `_Frame`: a query result, not yet run, handed to Python as Arrow C streams.
//!
//! Every export runs the plan again (results are not cached), as DuckDB's relations do.
//! [`Frame::collect`] runs it to the end first — with the GIL released and Ctrl-C checked —
//! then exports the batches; [`Frame::__arrow_c_stream__`] starts it and lets the consumer
//! pull one batch at a time (the engine's batches, not copies, either way).

use std::sync::Arc;

use futures::StreamExt;
use hepq_sql::datafusion::arrow::datatypes::SchemaRef;
use hepq_sql::datafusion::arrow::error::ArrowError;
use hepq_sql::datafusion::arrow::record_batch::RecordBatch;
use hepq_sql::datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use hepq_sql::datafusion::dataframe::DataFrame;
use hepq_sql::datafusion::execution::SendableRecordBatchStream;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use tokio::runtime::Handle;

use crate::errors::{arrow_to_py, engine_to_py};
use crate::ffi::{self, BatchSource, FfiSchema, FfiStream};
use crate::wait::{POLL, interrupted, runtime, wait};

/// A lazy query result (the `hepq.Relation` wrapper holds one).
#[pyclass(name = "_Frame", module = "hepq._hepq", frozen)]
pub struct Frame {
    df: DataFrame,
}

impl Frame {
    /// Wraps a DataFrame.
    pub fn new(df: DataFrame) -> Self {
        Self { df }
    }

    /// The DataFrame underneath.
    pub fn dataframe(&self) -> &DataFrame {
        &self.df
    }

    fn arrow_schema(&self) -> SchemaRef {
        Arc::new(self.df.schema().as_arrow().clone())
    }
}

/// A running plan's stream, pulled batch by batch from the consumer's thread.
struct LiveStream {
    stream: SendableRecordBatchStream,
    handle: Handle,
}

impl BatchSource for LiveStream {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        loop {
            let stream = &mut self.stream;
            let next = self
                .handle
                .block_on(async { tokio::time::timeout(POLL, stream.next()).await });
            match next {
                Ok(next) => {
                    return next.map(|r| r.map_err(|e| ArrowError::ExternalError(Box::new(e))));
                }
                Err(_elapsed) => {
                    if interrupted() {
                        return Some(Err(ArrowError::ExternalError(
                            "the query was interrupted (KeyboardInterrupt)".into(),
                        )));
                    }
                }
            }
        }
    }
}

/// Puts an exported stream into an `arrow_array_stream` capsule. The capsule's destructor
/// releases the stream unless a consumer moved it out.
pub fn stream_capsule<'py>(py: Python<'py>, stream: FfiStream) -> PyResult<Bound<'py, PyCapsule>> {
    PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
}

/// Exports collected batches as a stream capsule.
pub fn batches_capsule<'py>(
    py: Python<'py>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyCapsule>> {
    stream_capsule(
        py,
        ffi::export_stream(schema, Box::new(batches.into_iter())),
    )
}

#[pymethods]
impl Frame {
    /// The result's column names.
    fn column_names(&self) -> Vec<String> {
        self.df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The result's schema as an `arrow_schema` capsule (Arrow PyCapsule interface).
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema: FfiSchema = ffi::export_schema(&self.arrow_schema()).map_err(arrow_to_py)?;
        PyCapsule::new_with_value(py, schema, c"arrow_schema")
    }

    /// Starts the query and returns an `arrow_array_stream` capsule whose consumer pulls the
    /// result one batch at a time (Arrow PyCapsule interface). `requested_schema` is ignored:
    /// the result keeps its own types.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let df = self.df.clone();
        let stream = wait(py, async move {
            Ok::<_, hepq_sql::Error>(df.execute_stream().await?)
        })?;
        let schema = stream.schema();
        let handle = runtime()?.handle().clone();
        let source = LiveStream { stream, handle };
        stream_capsule(py, ffi::export_stream(schema, Box::new(source)))
    }

    /// Runs the query to the end (GIL released, Ctrl-C cancels) and returns the batches as an
    /// `arrow_array_stream` capsule.
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let df = self.df.clone();
        let (schema, batches) = wait(py, async move {
            let stream = df.execute_stream().await?;
            let schema = stream.schema();
            let batches: Vec<RecordBatch> = stream
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            Ok::<_, hepq_sql::Error>((schema, batches))
        })?;
        batches_capsule(py, schema, batches)
    }

    /// The first `n` rows (after skipping `offset`), still lazy.
    #[pyo3(signature = (n, offset=0))]
    fn limit(&self, n: usize, offset: usize) -> PyResult<Frame> {
        let df = self
            .df
            .clone()
            .limit(offset, Some(n))
            .map_err(engine_to_py)?;
        Ok(Frame::new(df))
    }

    /// The plan (`EXPLAIN`, or `EXPLAIN ANALYZE` which runs the query) as a frame.
    #[pyo3(signature = (verbose=false, analyze=false))]
    fn explain(&self, verbose: bool, analyze: bool) -> PyResult<Frame> {
        let df = self
            .df
            .clone()
            .explain(verbose, analyze)
            .map_err(engine_to_py)?;
        Ok(Frame::new(df))
    }

    /// The first `limit` rows as a text table (the CLI's format); runs the query.
    fn format_rows(&self, py: Python<'_>, limit: usize) -> PyResult<String> {
        let df = self
            .df
            .clone()
            .limit(0, Some(limit))
            .map_err(engine_to_py)?;
        let schema = self.arrow_schema();
        let batches = wait(
            py,
            async move { Ok::<_, hepq_sql::Error>(df.collect().await?) },
        )?;
        let text = pretty_format_batches_with_schema(schema, &batches).map_err(arrow_to_py)?;
        Ok(text.to_string())
    }
}
