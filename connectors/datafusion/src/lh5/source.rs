//! [`Lh5Source`]: the scan of LH5 tables, and its opener (one file → record batches).
//!
//! The opener opens the file, picks its tables (one group, or every channel of a tier) and
//! reads only the projected columns of each on a blocking thread, handing batches of at most
//! `batch_size` rows over a bounded channel. Partition columns are added on top by
//! DataFusion's `ProjectionOpener`.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, RecordBatchOptions, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::{DisplayFormatType, PhysicalExpr};
use futures::{FutureExt, StreamExt};
use hepq_lh5::Lh5File;
use object_store::ObjectStore;
use tokio::sync::mpsc;

use super::{Lh5Options, ROW_INDEX_COLUMN, open_file, select_tables};

/// Default rows per batch when DataFusion gives none.
const DEFAULT_BATCH_ROWS: usize = 8192;

/// Scans LH5 tables for a `DataSourceExec`.
#[derive(Clone)]
pub struct Lh5Source {
    table_schema: TableSchema,
    options: Lh5Options,
    channel_column: Option<String>,
    projection: SplitProjection,
    metrics: ExecutionPlanMetricsSet,
    batch_size: Option<usize>,
}

impl Lh5Source {
    /// A source reading `table_schema`'s files with `options`; `channel_column` names the
    /// column filled from the group name when reading by tier.
    pub fn new(
        table_schema: TableSchema,
        options: Lh5Options,
        channel_column: Option<String>,
    ) -> Self {
        Self {
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            options,
            channel_column,
            metrics: ExecutionPlanMetricsSet::new(),
            batch_size: None,
        }
    }
}

impl fmt::Debug for Lh5Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lh5Source")
            .field("options", &self.options)
            .finish()
    }
}

impl FileSource for Lh5Source {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let file_schema = self.table_schema.file_schema();
        let projected = Arc::new(file_schema.project(&self.projection.file_indices)?);
        let opener = Arc::new(Lh5Opener {
            store: object_store,
            options: self.options.clone(),
            channel_column: self.channel_column.clone(),
            projected_schema: projected,
            batch_rows: self
                .batch_size
                .or(base_config.batch_size)
                .unwrap_or(DEFAULT_BATCH_ROWS)
                .max(1),
            limit: base_config.limit,
        });
        ProjectionOpener::try_new(self.projection.clone(), opener, file_schema)
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        let mut source = self.clone();
        source.batch_size = Some(batch_size);
        Arc::new(source)
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "lh5"
    }

    fn fmt_extra(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        if let Some(group) = &self.options.group {
            write!(f, ", group={group}")?;
        }
        if let Some(tier) = &self.options.tier {
            write!(f, ", tier={tier}")?;
        }
        Ok(())
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        let mut source = self.clone();
        source.projection = SplitProjection::new(
            self.table_schema.file_schema(),
            &source.projection.source.try_merge(projection)?,
        );
        Ok(Some(Arc::new(source)))
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        Some(&self.projection.source)
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        datafusion::physical_plan::apply_expression_roots(self.projection.source.iter(), f)
    }
}

/// Opens one LH5 file of a scan and decodes its tables.
struct Lh5Opener {
    store: Arc<dyn ObjectStore>,
    options: Lh5Options,
    channel_column: Option<String>,
    projected_schema: SchemaRef,
    batch_rows: usize,
    limit: Option<usize>,
}

impl FileOpener for Lh5Opener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let store = Arc::clone(&self.store);
        let options = self.options.clone();
        let channel_column = self.channel_column.clone();
        let schema = Arc::clone(&self.projected_schema);
        let batch_rows = self.batch_rows;
        let limit = self.limit;
        Ok(async move {
            let lh5 = open_file(&store, &file.object_meta).await?;
            let size = file.object_meta.size;
            let byte_range = file
                .range
                .as_ref()
                .map(|r| (r.start.max(0) as u64)..(r.end.max(0) as u64));
            let (tx, rx) = mpsc::channel::<Result<RecordBatch>>(2);
            tokio::task::spawn_blocking(move || {
                let part = Part { byte_range, size };
                let run = || -> Result<()> {
                    read_file(
                        &lh5,
                        &options,
                        channel_column.as_deref(),
                        &schema,
                        batch_rows,
                        limit,
                        part,
                        &tx,
                    )
                };
                if let Err(e) = run() {
                    let _ = tx.blocking_send(Err(e));
                }
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            Ok(stream.boxed())
        }
        .boxed())
    }
}

fn exec(e: impl fmt::Display) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// The part of a file one scan partition reads: DataFusion splits big files into byte
/// ranges; table `i` of `n` belongs to the range holding byte `i × size / n`, so every table
/// is read by exactly one partition whatever the ranges.
struct Part {
    byte_range: Option<std::ops::Range<u64>>,
    size: u64,
}

impl Part {
    fn owns(&self, i: usize, n: usize) -> bool {
        match &self.byte_range {
            None => true,
            Some(r) => {
                let position = (i as u128 * self.size as u128 / n.max(1) as u128) as u64;
                r.contains(&position)
            }
        }
    }
}

/// Reads the selected tables of `file` into batches of `schema` and sends them.
#[allow(clippy::too_many_arguments)]
fn read_file(
    file: &Lh5File,
    options: &Lh5Options,
    channel_column: Option<&str>,
    schema: &SchemaRef,
    batch_rows: usize,
    limit: Option<usize>,
    part: Part,
    tx: &mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let (selected, _) =
        select_tables(file, options).map_err(|e| exec(format!("'{}': {e}", file.name())))?;
    let mut left = limit.unwrap_or(usize::MAX);
    let n = selected.len();
    for (i, s) in selected.into_iter().enumerate() {
        if left == 0 {
            break;
        }
        if !part.owns(i, n) {
            continue;
        }
        let table = file.table(&s.group).map_err(exec)?;
        // Which projected columns this table holds, in projection order.
        let mut wanted = Vec::new();
        let mut sources: Vec<Option<usize>> = Vec::with_capacity(schema.fields().len());
        let is_row_index = |name: &str| options.row_index && name == ROW_INDEX_COLUMN;
        for field in schema.fields() {
            if Some(field.name().as_str()) == channel_column || is_row_index(field.name()) {
                sources.push(None);
                continue;
            }
            match table.schema().index_of(field.name()) {
                Ok(i) => {
                    sources.push(Some(wanted.len()));
                    wanted.push(i);
                }
                Err(_) => sources.push(None),
            }
        }
        let decoded = table.read(file, Some(&wanted)).map_err(exec)?;
        let rows = decoded.num_rows();
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .zip(&sources)
            .map(|(field, source)| -> Result<ArrayRef> {
                if Some(field.name().as_str()) == channel_column {
                    return Ok(match s.channel {
                        Some(c) => Arc::new(Int64Array::from(vec![c; rows])),
                        None => new_null_array(field.data_type(), rows),
                    });
                }
                if is_row_index(field.name()) {
                    return Ok(Arc::new(Int64Array::from_iter_values(0..rows as i64)));
                }
                match source {
                    Some(j) => {
                        let array = Arc::clone(decoded.column(*j));
                        if array.data_type() == field.data_type() {
                            Ok(array)
                        } else {
                            Ok(cast(&array, field.data_type())?)
                        }
                    }
                    None => Ok(new_null_array(field.data_type(), rows)),
                }
            })
            .collect::<Result<_>>()?;
        let batch = RecordBatch::try_new_with_options(
            Arc::clone(schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let mut offset = 0;
        while offset < rows && left > 0 {
            let len = batch_rows.min(rows - offset).min(left);
            if tx.blocking_send(Ok(batch.slice(offset, len))).is_err() {
                return Ok(()); // the consumer is gone (LIMIT reached, cancelled)
            }
            offset += len;
            left -= len;
        }
    }
    Ok(())
}
