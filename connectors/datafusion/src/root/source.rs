//! [`RootSource`]: the DataFusion [`FileSource`] of ROOT tables.
//!
//! ```text
//!        DataSourceExec (one partition per file group)
//!                 │
//!        ProjectionOpener      partition columns and expressions on top
//!                 │
//!           RootOpener         one (file, byte range) → entry range of whole clusters
//!                 │  blocking thread: open file, choose tree, then per chunk of clusters
//!                 ▼  (prefetch basket ranges from object stores) decode → RecordBatch
//!        hepq_root::Tree::read(columns, entries)   baskets decompressed in parallel
//! ```
//!
//! # Execution overview
//! * Planning splits big files into byte ranges (DataFusion's `FileGroupPartitioner`), so one
//!   large file keeps every core busy. The opener turns a byte range into the clusters whose
//!   proportional position `first_entry / entries × file_size` falls inside it: every cluster
//!   is read by exactly one partition, whatever the ranges.
//! * Only the projected branches are read (`try_pushdown_projection`).
//! * Decoding runs on a blocking thread and hands batches over a bounded channel (two in
//!   flight), so memory stays bounded and a dropped stream (LIMIT, cancel) stops the decoder.

use std::fmt;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::physical_plan::{FileOpener, FileScanConfig, FileSource};
use datafusion::datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::{DisplayFormatType, PhysicalExpr};
use object_store::ObjectStore;

use super::file_format::RootOptions;
use super::opener::RootOpener;

/// Scans ROOT TTrees for a `DataSourceExec`.
#[derive(Clone)]
pub struct RootSource {
    table_schema: TableSchema,
    options: RootOptions,
    projection: SplitProjection,
    metrics: ExecutionPlanMetricsSet,
    batch_size: Option<usize>,
}

impl RootSource {
    /// A source reading `table_schema`'s files with `options`.
    pub fn new(table_schema: TableSchema, options: RootOptions) -> Self {
        Self {
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            options,
            metrics: ExecutionPlanMetricsSet::new(),
            batch_size: None,
        }
    }
}

impl fmt::Debug for RootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootSource")
            .field("options", &self.options)
            .finish()
    }
}

impl FileSource for RootSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let file_schema = self.table_schema.file_schema();
        let projected = Arc::new(file_schema.project(&self.projection.file_indices)?);
        let opener = Arc::new(RootOpener {
            store: object_store,
            options: self.options.clone(),
            projected_schema: projected,
            batch_rows: self.batch_size.or(base_config.batch_size),
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
        if self.options.rntuple_only {
            "rntuple"
        } else {
            "root"
        }
    }

    fn fmt_extra(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        if let Some(tree) = &self.options.tree {
            write!(f, ", tree={tree}")?;
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
