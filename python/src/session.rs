//! `_Session`: one [`HepqSession`] for a Python connection.

use std::path::PathBuf;
use std::sync::Arc;

use hepq_sql::datafusion::arrow::datatypes::SchemaRef;
use hepq_sql::datafusion::arrow::record_batch::RecordBatch;
use hepq_sql::datafusion::common::{ParamValues, ScalarValue, TableReference};
use hepq_sql::datafusion::dataframe::DataFrame;
use hepq_sql::datafusion::datasource::MemTable;
use hepq_sql::datafusion::execution::context::SessionContext;
use hepq_sql::datafusion::logical_expr::LogicalPlan;
use hepq_sql::datafusion::prelude::ParquetReadOptions;
use hepq_sql::{Format, HepqSession, SessionOptions};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::{InterfaceError, ProgrammingError, arrow_to_py, engine_to_py, to_py};
use crate::ffi::{self, FfiStream};
use crate::frame::Frame;
use crate::wait::wait;

/// A hepq session (the `hepq.Connection` wrapper holds one).
#[pyclass(name = "_Session", module = "hepq._hepq", frozen)]
pub struct Session {
    session: HepqSession,
}

/// Reads every batch of a Python object that has `__arrow_c_stream__` (pyarrow tables and
/// readers, polars frames, DuckDB results, hepq relations, …) without copying buffers.
fn import_arrow(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    if !obj.hasattr("__arrow_c_stream__")? {
        return Err(InterfaceError::new_err(format!(
            "expected an object with __arrow_c_stream__ (Arrow PyCapsule interface), got {}",
            obj.get_type().name()?
        )));
    }
    let capsule = obj.call_method0("__arrow_c_stream__")?;
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| InterfaceError::new_err("__arrow_c_stream__ did not return a PyCapsule"))?;
    let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: an `arrow_array_stream` capsule points to a live ArrowArrayStream; we move it
    // out and leave a released one, as the PyCapsule interface prescribes.
    #[allow(unsafe_code)]
    let stream: FfiStream = unsafe { ffi::take_stream(pointer.as_ptr() as *mut FfiStream) };
    // The producer may need the GIL itself (a Python-backed reader): pull without it.
    py.detach(|| ffi::import_stream(stream))
        .map_err(arrow_to_py)
}

/// A frame over batches already in memory.
fn frame_from_batches(
    ctx: &SessionContext,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    partitions: usize,
) -> PyResult<Frame> {
    let table = mem_table(schema, batches, partitions)?;
    let df = ctx.read_table(Arc::new(table)).map_err(engine_to_py)?;
    Ok(Frame::new(df))
}

/// Spreads batches over up to `partitions` partitions (round robin) so scans run in parallel.
fn mem_table(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    partitions: usize,
) -> PyResult<MemTable> {
    let n = partitions.clamp(1, batches.len().max(1));
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
    for (i, batch) in batches.into_iter().enumerate() {
        parts[i % n].push(batch);
    }
    MemTable::try_new(schema, parts).map_err(engine_to_py)
}

/// Casts each parameter to the type the plan infers for its placeholder (`$1` compared with an
/// INT column is an INT), so that binding a Python int (Int64) keeps the plan's types.
fn typed_params(
    df: &DataFrame,
    params: Vec<ScalarValue>,
) -> hepq_sql::datafusion::common::Result<Vec<ScalarValue>> {
    let types = df.logical_plan().get_parameter_types()?;
    params
        .into_iter()
        .enumerate()
        .map(|(i, value)| match types.get(&format!("${}", i + 1)) {
            Some(Some(wanted)) if value.data_type() != *wanted => value.cast_to(wanted),
            _ => Ok(value),
        })
        .collect()
}

/// Whether a statement's work happens when its (lazy) result is read: such statements are run
/// at once, as a database would.
fn runs_when_read(df: &DataFrame) -> bool {
    matches!(
        df.logical_plan(),
        LogicalPlan::Dml(_) | LogicalPlan::Copy(_)
    )
}

/// What running a script gave.
enum Outcome {
    /// A query, to run when read.
    Lazy(DataFrame),
    /// A statement that ran at once (INSERT, COPY): its result.
    Done(SchemaRef, Vec<RecordBatch>),
}

/// Runs `sql` (binding `params` to the last statement's `$1, $2, …`); DML and COPY run to
/// the end here.
async fn run_sql(
    session: HepqSession,
    sql: String,
    params: Option<Vec<ScalarValue>>,
) -> hepq_sql::Result<Option<Outcome>> {
    let df = match params {
        None => session.run_script(&sql).await?,
        Some(params) => {
            let mut statements = session.parse(&sql)?;
            let Some(last) = statements.pop() else {
                return Ok(None);
            };
            for statement in statements {
                session.run_statement(statement).await?.collect().await?;
            }
            let df = session.run_statement(last).await?;
            let params = typed_params(&df, params)?;
            Some(df.with_param_values(ParamValues::from(params))?)
        }
    };
    let Some(df) = df else {
        return Ok(None);
    };
    if runs_when_read(&df) {
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        return Ok(Some(Outcome::Done(schema, batches)));
    }
    Ok(Some(Outcome::Lazy(df)))
}

impl Session {
    fn partitions(&self) -> usize {
        self.session.config_options().execution.target_partitions
    }

    /// Runs `sql` and wraps its result.
    fn run(
        &self,
        py: Python<'_>,
        sql: String,
        params: Option<Vec<ScalarValue>>,
    ) -> PyResult<Option<Frame>> {
        let outcome = wait(py, run_sql(self.session.clone(), sql, params))?;
        match outcome {
            None => Ok(None),
            Some(Outcome::Lazy(df)) => Ok(Some(Frame::new(df))),
            Some(Outcome::Done(schema, batches)) => Ok(Some(frame_from_batches(
                self.session.context(),
                schema,
                batches,
                1,
            )?)),
        }
    }
}

#[pymethods]
impl Session {
    /// Builds a session: the warehouse's tables (its catalog in `catalog`, a database URL,
    /// when given), `threads` partitions per query, a memory limit in bytes for buffering
    /// operators.
    #[new]
    #[pyo3(signature = (warehouse=None, threads=None, memory_limit=None, object_store_env=Vec::new(), catalog=None))]
    fn new(
        py: Python<'_>,
        warehouse: Option<PathBuf>,
        threads: Option<usize>,
        memory_limit: Option<usize>,
        object_store_env: Vec<(String, String)>,
        catalog: Option<String>,
    ) -> PyResult<Self> {
        if threads == Some(0) {
            return Err(ProgrammingError::new_err("threads must be at least 1"));
        }
        let options = SessionOptions {
            threads,
            memory_limit,
            warehouse,
            catalog,
            object_store_env,
        };
        let session = wait(py, async move { HepqSession::new(options).await })?;
        Ok(Self { session })
    }

    /// Problems met while opening the warehouse.
    fn warnings(&self) -> Vec<String> {
        self.session.warnings().to_vec()
    }

    /// Runs `;`-separated statements; returns the last one's result (None for no statement).
    fn sql(&self, py: Python<'_>, sql: String) -> PyResult<Option<Frame>> {
        self.run(py, sql, None)
    }

    /// Runs `sql` with `$1, $2, …` bound to the columns of `params` (one row of Arrow data
    /// with `__arrow_c_stream__`, one column per parameter).
    fn sql_params(
        &self,
        py: Python<'_>,
        sql: String,
        params: &Bound<'_, PyAny>,
    ) -> PyResult<Option<Frame>> {
        let (_, batches) = import_arrow(py, params)?;
        let mut values = Vec::new();
        if let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) {
            for column in batch.columns() {
                values.push(ScalarValue::try_from_array(column, 0).map_err(engine_to_py)?);
            }
        }
        self.run(py, sql, Some(values))
    }

    /// Registers a file, folder, glob or URL as table `name` (`format` from the extension
    /// unless given).
    #[pyo3(signature = (name, location, format=None))]
    fn register_location(
        &self,
        py: Python<'_>,
        name: String,
        location: String,
        format: Option<String>,
    ) -> PyResult<()> {
        let format = format
            .map(|f| Format::parse(&f))
            .transpose()
            .map_err(to_py)?;
        let session = self.session.clone();
        wait(py, async move {
            session.register(&name, &location, format).await
        })
    }

    /// Registers Arrow data (anything with `__arrow_c_stream__`) as in-memory table `name`,
    /// replacing a table of that name. The buffers are shared, not copied.
    fn register_arrow(
        &self,
        py: Python<'_>,
        name: String,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (schema, batches) = import_arrow(py, data)?;
        let table = mem_table(schema, batches, self.partitions())?;
        let ctx = self.session.context();
        ctx.deregister_table(TableReference::bare(name.as_str()))
            .map_err(engine_to_py)?;
        ctx.register_table(TableReference::bare(name.as_str()), Arc::new(table))
            .map_err(engine_to_py)?;
        Ok(())
    }

    /// A frame over Arrow data (anything with `__arrow_c_stream__`), without registering it.
    fn arrow_frame(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Frame> {
        let (schema, batches) = import_arrow(py, data)?;
        frame_from_batches(self.session.context(), schema, batches, self.partitions())
    }

    /// Drops table `name` from the session (nothing happens if there is none).
    fn deregister(&self, name: String) -> PyResult<()> {
        self.session
            .context()
            .deregister_table(TableReference::bare(name.as_str()))
            .map_err(engine_to_py)?;
        Ok(())
    }

    /// Parquet files (a file, folder or glob) as a frame.
    fn read_parquet(&self, py: Python<'_>, path: String) -> PyResult<Frame> {
        let ctx = self.session.context().clone();
        let df = wait(py, async move {
            let df = ctx
                .read_parquet(path, ParquetReadOptions::default())
                .await?;
            Ok::<_, hepq_sql::Error>(df)
        })?;
        Ok(Frame::new(df))
    }

    /// Names of the session's tables: bare in the default schema, `schema.table` elsewhere
    /// (the system schemas `information_schema` and `hepq` are left out).
    fn table_names(&self) -> PyResult<Vec<String>> {
        let ctx = self.session.context();
        let default_schema = ctx
            .state()
            .config()
            .options()
            .catalog
            .default_schema
            .clone();
        let mut names = Vec::new();
        for catalog in ctx.catalog_names() {
            let Some(catalog) = ctx.catalog(&catalog) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                if matches!(schema_name.as_str(), "information_schema" | "hepq") {
                    continue;
                }
                if let Some(schema) = catalog.schema(&schema_name) {
                    for table in schema.table_names() {
                        if schema_name == default_schema {
                            names.push(table);
                        } else {
                            names.push(format!("{schema_name}.{table}"));
                        }
                    }
                }
            }
        }
        names.sort();
        Ok(names)
    }
}
