//! Iceberg tables in SQL: the DataFusion side of `hepq_catalog::iceberg`.
//!
//! * [`IcebergTable`] — a table provider that asks the catalog for the data files of the
//!   current snapshot (or a pinned one) at each scan and reads them with DataFusion's Parquet
//!   reader; `INSERT INTO` (and `INSERT OVERWRITE`) write Parquet files and commit them as one
//!   snapshot.
//! * [`write_data_files`] — runs a plan's partitions in parallel, each writing its own Parquet
//!   files (split by the table's partition spec) with Iceberg field ids.
//! * [`create_table`] — `CREATE TABLE` / `CREATE TABLE … AS` in a warehouse schema.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array, UInt64Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DataFusionError, Statistics, plan_err};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::provider_as_source;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, TableType};
use datafusion::logical_expr::{TableProviderFilterPushDown, UNNAMED_TABLE};
use datafusion::parquet::arrow::{ArrowSchemaConverter, AsyncArrowWriter};
use datafusion::parquet::basic::{Compression, LogicalType, Type as PhysicalType, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream, collect,
};
use datafusion::sql::sqlparser::ast::{
    DataType as SqlDataType, HiveDistributionStyle, Statement as SqlStatement,
};
use futures::StreamExt;
use hepq_catalog::iceberg::{
    CommitMode, IcebergCatalog, IcebergTableInfo, NewDataFile, PartitionKey, PartitionTransform,
    partition_keys, partition_path,
};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Error, Result};

/// Rows after which a writer starts a new file.
const ROWS_PER_FILE: u64 = 4 * 1024 * 1024;

/// The zstd level of the data files: fast to write (skims are written often), still small.
const ZSTD_LEVEL: i32 = 1;

fn df_error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// An Iceberg table of the warehouse, read at its current snapshot (or `snapshot`).
pub struct IcebergTable {
    catalog: Arc<IcebergCatalog>,
    namespace: String,
    name: String,
    snapshot: Option<i64>,
    schema: SchemaRef,
}

impl fmt::Debug for IcebergTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IcebergTable")
            .field("table", &format!("{}.{}", self.namespace, self.name))
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

impl IcebergTable {
    /// Opens `namespace.name` (its schema is read now; its files at each scan).
    pub async fn open(
        catalog: Arc<IcebergCatalog>,
        namespace: &str,
        name: &str,
        snapshot: Option<i64>,
    ) -> Result<Self> {
        let info = catalog.load(namespace, name).await?;
        if let Some(id) = snapshot
            && !catalog
                .snapshots(namespace, name)
                .await?
                .iter()
                .any(|s| s.snapshot_id == id)
        {
            return Err(Error::Config(format!(
                "Iceberg table {namespace}.{name} has no snapshot {id} (hepq.snapshots lists \
                 its snapshots)"
            )));
        }
        Ok(Self {
            catalog,
            namespace: namespace.to_string(),
            name: name.to_string(),
            snapshot,
            schema: info.table_schema,
        })
    }

    /// The same table pinned to `snapshot`.
    pub async fn at_snapshot(&self, snapshot: i64) -> Result<Self> {
        Self::open(
            Arc::clone(&self.catalog),
            &self.namespace,
            &self.name,
            Some(snapshot),
        )
        .await
    }
}

/// Spreads `files` over at most `partitions` groups of about equal bytes.
fn file_groups(files: Vec<(String, u64)>, partitions: usize) -> Vec<FileGroup> {
    let n = partitions.max(1).min(files.len().max(1));
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> = (0..n).map(|_| (0, Vec::new())).collect();
    let mut files = files;
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (path, size) in files {
        let Some(group) = groups.iter_mut().min_by_key(|g| g.0) else {
            break;
        };
        group.0 += size;
        let location = object_path(&path);
        let mut file = PartitionedFile::new(location.to_string(), size);
        file.object_meta.location = location;
        group.1.push(file);
    }
    groups
        .into_iter()
        .filter(|g| !g.1.is_empty())
        .map(|g| FileGroup::new(g.1))
        .collect()
}

/// The local object-store path of an Iceberg file path (`/abs/…` or `file:///abs/…`).
fn object_path(path: &str) -> ObjectPath {
    let local = local_path(path);
    let trimmed = local.trim_start_matches('/');
    ObjectPath::parse(trimmed).unwrap_or_else(|_| ObjectPath::from(trimmed))
}

fn local_path(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("file://") {
        rest
    } else if let Some(rest) = path.strip_prefix("file:") {
        rest
    } else {
        path
    }
}

#[async_trait]
impl TableProvider for IcebergTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let (_, files) = self
            .catalog
            .files(&self.namespace, &self.name, self.snapshot)
            .await?;
        if files.is_empty() {
            let projected = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let groups = file_groups(
            files.into_iter().map(|f| (f.path, f.size)).collect(),
            state.config().target_partitions(),
        );
        let mut source = ParquetSource::new(Arc::clone(&self.schema))
            .with_table_parquet_options(state.table_options().parquet.clone());
        if let Some(predicate) = conjunction(filters.to_vec()) {
            let df_schema = DFSchema::try_from(self.schema.as_ref().clone())?;
            let physical: Arc<dyn PhysicalExpr> =
                state.create_physical_expr(predicate, &df_schema)?;
            source = source.with_predicate(physical);
        }
        let statistics = Statistics::new_unknown(&self.schema).with_num_rows(Precision::Exact(
            usize::try_from(rows).unwrap_or(usize::MAX),
        ));
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
                .with_file_groups(groups)
                .with_statistics(statistics)
                .with_limit(limit)
                .with_projection_indices(projection.cloned())?
                .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        if self.snapshot.is_some() {
            return plan_err!(
                "cannot insert into an older snapshot of {}.{}",
                self.namespace,
                self.name
            );
        }
        let mode = match insert_op {
            InsertOp::Append => CommitMode::Append,
            InsertOp::Overwrite => CommitMode::Replace,
            InsertOp::Replace => {
                return plan_err!(
                    "REPLACE INTO is not supported for Iceberg table {}.{}",
                    self.namespace,
                    self.name
                );
            }
        };
        Ok(Arc::new(IcebergWriteExec::new(
            input,
            Arc::clone(&self.catalog),
            self.namespace.clone(),
            self.name.clone(),
            mode,
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// The columns of `batch` as the table's data files hold them (matched by position: the
/// planner has already ordered and named them as the table's).
fn conform(
    batch: &RecordBatch,
    file_schema: &SchemaRef,
) -> datafusion::common::Result<RecordBatch> {
    if batch.num_columns() != file_schema.fields().len() {
        return Err(df_error(format!(
            "{} columns written to a table of {}",
            batch.num_columns(),
            file_schema.fields().len()
        )));
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(file_schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                cast(column, field.data_type()).map_err(|e| {
                    df_error(format!(
                        "column {}: cannot store {} as {}: {e}",
                        field.name(),
                        column.data_type(),
                        field.data_type()
                    ))
                })
            }
        })
        .collect::<datafusion::common::Result<_>>()?;
    Ok(RecordBatch::try_new(Arc::clone(file_schema), columns)?)
}

struct OpenFile {
    writer: AsyncArrowWriter<BufWriter>,
    path: String,
    location: ObjectPath,
    rows: u64,
}

/// Where one writer task puts its files.
#[derive(Clone)]
struct FileNamer {
    data_dir: String,
    prefix: String,
    task: usize,
    counter: Arc<AtomicU64>,
}

impl FileNamer {
    fn next(&self, partition: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = if partition.is_empty() {
            self.data_dir.clone()
        } else {
            format!("{}/{partition}", self.data_dir)
        };
        format!("{dir}/{}-{:05}-{n:05}.parquet", self.prefix, self.task)
    }
}

fn writer_properties(schema: &Schema) -> datafusion::common::Result<WriterProperties> {
    let level = ZstdLevel::try_new(ZSTD_LEVEL).map_err(df_error)?;
    // Column-chunk statistics only (min/max per row group, what Iceberg and DataFusion prune
    // with); page-level statistics cost time on every page and nothing reads them here.
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("hepq {}", env!("CARGO_PKG_VERSION")));
    // No dictionary for floating-point columns (momenta, angles, energies): their values
    // rarely repeat, and trying a dictionary first hashes every value. Integers and strings
    // (run, event, counts, names) keep it. The leaves are the Parquet schema's own, as the
    // Arrow writer converts it.
    let parquet = ArrowSchemaConverter::new()
        .convert(schema)
        .map_err(df_error)?;
    for column in parquet.columns() {
        let float = matches!(
            column.physical_type(),
            PhysicalType::FLOAT | PhysicalType::DOUBLE
        ) || matches!(column.logical_type_ref(), Some(LogicalType::Float16));
        if float {
            builder = builder.set_column_dictionary_enabled(column.path().clone(), false);
        }
    }
    Ok(builder.build())
}

async fn close(
    store: &Arc<dyn ObjectStore>,
    file: OpenFile,
    partition: PartitionKey,
) -> datafusion::common::Result<NewDataFile> {
    file.writer.close().await?;
    let size = store.head(&file.location).await.map_err(df_error)?.size;
    Ok(NewDataFile {
        path: file.path,
        size,
        rows: file.rows,
        partition,
    })
}

/// Writes one input partition's batches.
async fn write_stream(
    mut stream: SendableRecordBatchStream,
    store: Arc<dyn ObjectStore>,
    info: Arc<IcebergTableInfo>,
    namer: FileNamer,
    written: Arc<Vec<std::sync::Mutex<Vec<ObjectPath>>>>,
) -> datafusion::common::Result<Vec<NewDataFile>> {
    let properties = writer_properties(&info.file_schema)?;
    let mut open: HashMap<PartitionKey, OpenFile> = HashMap::new();
    let mut done = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        let batch = conform(&batch, &info.file_schema)?;
        let parts: Vec<(PartitionKey, RecordBatch)> = if info.partitioning.is_empty() {
            vec![(Vec::new(), batch)]
        } else {
            let keys = partition_keys(&info.partitioning, &batch).map_err(df_error)?;
            let mut rows: HashMap<&PartitionKey, Vec<u32>> = HashMap::new();
            for (i, key) in keys.iter().enumerate() {
                rows.entry(key).or_default().push(i as u32);
            }
            let mut parts = Vec::with_capacity(rows.len());
            for (key, indices) in rows {
                let indices = UInt32Array::from(indices);
                parts.push((key.clone(), take_record_batch(&batch, &indices)?));
            }
            parts
        };
        for (key, part) in parts {
            if !open.contains_key(&key) {
                let path = namer.next(&partition_path(&info.partitioning, &key));
                let location = object_path(&path);
                if let Some(list) = written.get(namer.task)
                    && let Ok(mut list) = list.lock()
                {
                    list.push(location.clone());
                }
                let writer = AsyncArrowWriter::try_new(
                    BufWriter::new(Arc::clone(&store), location.clone()),
                    Arc::clone(&info.file_schema),
                    Some(properties.clone()),
                )?;
                open.insert(
                    key.clone(),
                    OpenFile {
                        writer,
                        path,
                        location,
                        rows: 0,
                    },
                );
            }
            let full = match open.get_mut(&key) {
                Some(file) => {
                    file.writer.write(&part).await?;
                    file.rows += part.num_rows() as u64;
                    file.rows >= ROWS_PER_FILE
                }
                None => false,
            };
            if full && let Some(file) = open.remove(&key) {
                done.push(close(&store, file, key).await?);
            }
        }
    }
    for (key, file) in open {
        done.push(close(&store, file, key).await?);
    }
    Ok(done)
}

/// Runs every partition of `input` at once, each writing Parquet files for `info`'s table
/// under `data_dir` (the table's `data/` folder by default); returns the files (nothing is
/// committed). On failure the files already written are deleted.
pub(crate) async fn write_data_files(
    input: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
    info: &IcebergTableInfo,
    data_dir: Option<String>,
) -> datafusion::common::Result<Vec<NewDataFile>> {
    if let Some(reason) = &info.unwritable {
        return Err(df_error(format!(
            "cannot write to Iceberg table {}: {reason}",
            info.qualified_name
        )));
    }
    let location = info.location.trim_end_matches('/');
    if location.contains("://") && !location.starts_with("file://") {
        return Err(df_error(format!(
            "Iceberg table {} is at {location}: hepq writes Iceberg tables on local disks only",
            info.qualified_name
        )));
    }
    let store = context
        .runtime_env()
        .object_store(ObjectStoreUrl::local_filesystem())?;
    let info = Arc::new(info.clone());
    let partitions = input.output_partitioning().partition_count();
    let prefix = unique_prefix();
    let counter = Arc::new(AtomicU64::new(0));
    let written: Arc<Vec<std::sync::Mutex<Vec<ObjectPath>>>> = Arc::new(
        (0..partitions)
            .map(|_| std::sync::Mutex::new(Vec::new()))
            .collect(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for partition in 0..partitions {
        let stream = input.execute(partition, Arc::clone(&context))?;
        let namer = FileNamer {
            data_dir: data_dir
                .clone()
                .unwrap_or_else(|| format!("{location}/data")),
            prefix: prefix.clone(),
            task: partition,
            counter: Arc::clone(&counter),
        };
        tasks.spawn(write_stream(
            stream,
            Arc::clone(&store),
            Arc::clone(&info),
            namer,
            Arc::clone(&written),
        ));
    }
    let mut files = Vec::new();
    let mut failure = None;
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ok(mut f)) => files.append(&mut f),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
                tasks.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                failure.get_or_insert(df_error(format!("a writer task failed: {e}")));
                tasks.abort_all();
            }
        }
    }
    if let Some(e) = failure {
        delete_written(&store, &written).await;
        return Err(e);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Deletes the files the writer tasks opened (their exact object paths: partition folders may
/// hold escaped characters that re-parsing a string would escape again).
async fn delete_written(
    store: &Arc<dyn ObjectStore>,
    written: &[std::sync::Mutex<Vec<ObjectPath>>],
) {
    for list in written {
        let paths: Vec<ObjectPath> = list.lock().map(|l| l.clone()).unwrap_or_default();
        for path in paths {
            let _ = store.delete(&path).await;
        }
    }
}

/// Deletes data files a failed commit left.
pub(crate) async fn delete_files(context: &TaskContext, files: &[NewDataFile]) {
    let Ok(store) = context
        .runtime_env()
        .object_store(ObjectStoreUrl::local_filesystem())
    else {
        return;
    };
    for file in files {
        let _ = store.delete(&object_path(&file.path)).await;
    }
}

fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}-{:x}", std::process::id())
}

/// `INSERT INTO` an Iceberg table: writes the files, then commits them as one snapshot.
struct IcebergWriteExec {
    input: Arc<dyn ExecutionPlan>,
    catalog: Arc<IcebergCatalog>,
    namespace: String,
    name: String,
    mode: CommitMode,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for IcebergWriteExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IcebergWriteExec")
            .field("table", &format!("{}.{}", self.namespace, self.name))
            .finish_non_exhaustive()
    }
}

impl IcebergWriteExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        catalog: Arc<IcebergCatalog>,
        namespace: String,
        name: String,
        mode: CommitMode,
    ) -> Self {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "count",
            DataType::UInt64,
            false,
        )]));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            input,
            catalog,
            namespace,
            name,
            mode,
            schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for IcebergWriteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "IcebergWriteExec: table={}.{} mode={:?}",
            self.namespace, self.name, self.mode
        )
    }
}

impl ExecutionPlan for IcebergWriteExec {
    fn name(&self) -> &'static str {
        "IcebergWriteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let Some(input) = children.into_iter().next() else {
            return plan_err!("IcebergWriteExec needs its input");
        };
        Ok(Arc::new(Self::new(
            input,
            Arc::clone(&self.catalog),
            self.namespace.clone(),
            self.name.clone(),
            self.mode,
        )))
    }

    fn execute(
        &self,
        _partition: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        let input = Arc::clone(&self.input);
        let catalog = Arc::clone(&self.catalog);
        let (namespace, name, mode) = (self.namespace.clone(), self.name.clone(), self.mode);
        let schema = Arc::clone(&self.schema);
        let out_schema = Arc::clone(&schema);
        let stream = futures::stream::once(async move {
            let info = catalog.load(&namespace, &name).await?;
            let files = write_data_files(input, Arc::clone(&context), &info, None).await?;
            let rows: u64 = files.iter().map(|f| f.rows).sum();
            if (!files.is_empty() || mode == CommitMode::Replace)
                && let Err(e) = catalog
                    .commit(&namespace, &name, files.clone(), mode, HashMap::new())
                    .await
            {
                delete_files(&context, &files).await;
                return Err(DataFusionError::from(e));
            }
            Ok(RecordBatch::try_new(
                out_schema,
                vec![Arc::new(UInt64Array::from(vec![rows]))],
            )?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream.boxed(),
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// CREATE TABLE.

/// `CREATE TABLE schema.name (…)` or `CREATE TABLE … AS query` as an Iceberg table: creates it,
/// registers it in the session's schema `provider`, and (for `AS`) inserts the query's rows in
/// its first snapshot. If the insert fails the table is dropped again.
pub(crate) async fn create_table(
    state: &datafusion::execution::context::SessionState,
    catalog: &Arc<IcebergCatalog>,
    provider: &Arc<dyn datafusion::catalog::SchemaProvider>,
    namespace: &str,
    name: &str,
    input: &LogicalPlan,
    partitioning: &[(String, PartitionTransform)],
) -> Result<u64> {
    let schema = input.schema().as_arrow().clone();
    let plain = Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    catalog
        .create(namespace, name, &plain, partitioning)
        .await?;
    let table = Arc::new(IcebergTable::open(Arc::clone(catalog), namespace, name, None).await?);
    provider.register_table(
        name.to_string(),
        Arc::clone(&table) as Arc<dyn TableProvider>,
    )?;
    let has_rows = !matches!(
        input,
        LogicalPlan::EmptyRelation(e) if !e.produce_one_row
    );
    if !has_rows {
        return Ok(0);
    }
    let inserted = async {
        let plan = LogicalPlanBuilder::insert_into(
            input.clone(),
            UNNAMED_TABLE,
            provider_as_source(table),
            InsertOp::Append,
        )?
        .build()?;
        let physical = state.create_physical_plan(&plan).await?;
        let batches = collect(physical, state.task_ctx()).await?;
        let rows: u64 = batches
            .iter()
            .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
            .flat_map(|a| a.iter().flatten())
            .sum();
        Ok::<u64, DataFusionError>(rows)
    }
    .await;
    match inserted {
        Ok(rows) => Ok(rows),
        Err(e) => {
            let _ = provider.deregister_table(name);
            let _ = catalog.drop_table(namespace, name).await;
            Err(e.into())
        }
    }
}

/// Takes the `PARTITIONED BY (…)` clause out of a `CREATE TABLE` (DataFusion refuses it) and
/// returns it as Iceberg partition fields: `run` (identity), `bucket(16, event)`,
/// `truncate(4, name)` (carried as the column definitions `event bucket(16)`,
/// `name truncate(4)` by [`crate::statements`]).
pub(crate) fn partitioning_of(
    statement: &mut SqlStatement,
) -> Result<Vec<(String, PartitionTransform)>> {
    let SqlStatement::CreateTable(create) = statement else {
        return Ok(Vec::new());
    };
    let HiveDistributionStyle::PARTITIONED { columns } = &create.hive_distribution else {
        return Ok(Vec::new());
    };
    let mut fields = Vec::with_capacity(columns.len());
    for column in columns {
        let name = column.name.value.clone();
        let transform = match &column.data_type {
            SqlDataType::Unspecified => PartitionTransform::Identity,
            SqlDataType::Custom(function, modifiers) => {
                let function = function.to_string().to_ascii_lowercase();
                let n = match modifiers.as_slice() {
                    [n] => n.parse::<u32>().ok().filter(|n| *n > 0),
                    _ => None,
                };
                match (function.as_str(), n) {
                    ("bucket", Some(n)) => PartitionTransform::Bucket(n),
                    ("truncate", Some(w)) => PartitionTransform::Truncate(w),
                    _ => {
                        return Err(Error::Config(format!(
                            "PARTITIONED BY: {function}({}) of column {name} is not a partition \
                             transform (use a column, bucket(N, column) or truncate(W, column))",
                            modifiers.join(", ")
                        )));
                    }
                }
            }
            other => {
                return Err(Error::Config(format!(
                    "PARTITIONED BY: column {name} is given a type ({other}); list the column \
                     alone, or bucket(N, {name}) / truncate(W, {name})"
                )));
            }
        };
        fields.push((name, transform));
    }
    create.hive_distribution = HiveDistributionStyle::NONE;
    Ok(fields)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use datafusion::parquet::schema::types::ColumnPath;

    #[test]
    fn float_leaves_have_no_dictionary_and_the_paths_match_parquets() {
        let element = |t: DataType| Arc::new(Field::new("element", t, true));
        let schema = Schema::new(vec![
            Field::new("run", DataType::Int64, true),
            Field::new("MET_pt", DataType::Float32, true),
            Field::new("Jet_pt", DataType::List(element(DataType::Float32)), true),
            Field::new("Jet_id", DataType::List(element(DataType::Int32)), true),
            Field::new(
                "nested",
                DataType::List(element(DataType::List(element(DataType::Float64)))),
                true,
            ),
            Field::new(
                "p4",
                DataType::Struct(
                    vec![
                        Field::new("e", DataType::Float64, true),
                        Field::new("tag", DataType::Utf8, true),
                    ]
                    .into(),
                ),
                true,
            ),
        ]);
        let props = writer_properties(&schema).unwrap();
        let parquet = ArrowSchemaConverter::new().convert(&schema).unwrap();
        let mut floats = 0;
        for column in parquet.columns() {
            let is_float = matches!(
                column.physical_type(),
                PhysicalType::FLOAT | PhysicalType::DOUBLE
            );
            floats += usize::from(is_float);
            assert_eq!(
                props.dictionary_enabled(column.path()),
                !is_float,
                "{}",
                column.path()
            );
        }
        assert_eq!(floats, 4);
        // The paths as a Parquet reader names them.
        let enabled = |path: &str| {
            props.dictionary_enabled(&ColumnPath::new(
                path.split('.').map(String::from).collect(),
            ))
        };
        for path in [
            "MET_pt",
            "Jet_pt.list.element",
            "nested.list.element.list.element",
            "p4.e",
        ] {
            assert!(!enabled(path), "{path}");
        }
        for path in ["run", "Jet_id.list.element", "p4.tag"] {
            assert!(enabled(path), "{path}");
        }
    }
}
