//! LEGEND LH5 (HDF5) files as DataFusion tables: `STORED AS LH5` and `read_lh5('path' [, 'group'])`.
//!
//! ```sql
//! CREATE EXTERNAL TABLE hit STORED AS LH5 LOCATION 'tier/hit/' OPTIONS ('tier' 'hit');
//! SELECT channel, period, run, count(*) FROM hit WHERE datatype = 'cal' GROUP BY 1, 2, 3;
//! SELECT count(*) FROM read_lh5('l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5', 'ch1084803/hit');
//! ```
//!
//! Options (`OPTIONS (...)`, also accepted with a `format.` prefix):
//!
//! | option | meaning |
//! |---|---|
//! | `group` | the LH5 table inside each file (`ch1084803/hit`, `evt`, `hardware_tcm_1`) |
//! | `tier` | every table named `{tier}` in each file (`ch1084803/hit`, `ch1084804/hit`, …) as one table, with a `channel` column (`BIGINT`, the number in `ch<rawid>`; NULL for a top-level table named `{tier}`). Files whose LEGEND name has another tier are skipped |
//! | `row_index` | `true` adds a column `row_index BIGINT`: the row's 0-based position in its LH5 table in its file, the number a `tcm` tier's `row_in_table` and an `evt` tier's `hit_idx` point at |
//!
//! Without either option a file's only table is read, or, when all its tables are
//! `{something}/{tier}` for one tier, the file is read as with `'tier' '{tier}'`.
//!
//! * Files named by LEGEND's convention (`{exp}-{period}-{run}-{datatype}-{timestamp}-tier_{tier}.lh5`,
//!   see [`legend`]) give the partition columns `period`, `run`, `datatype`, `timestamp`
//!   (`VARCHAR`), appended after the file columns; filters on them skip whole files before
//!   any is opened. A partition column whose name the tables already use is called
//!   `file_{name}` (`dsp` tables have a `timestamp` column); when the tables have a `channel`
//!   column, the channel from the group name is called `rawid`.
//! * Columns are the tables' columns merged by name across files and channels (a channel
//!   without a column reads NULL there); `units` attributes are kept as field metadata.
//! * Only the projected datasets are read. Columns hepq cannot read are left out (logged
//!   with their reason); the rest of the table still reads.
//! * Row counts come from planning (exact statistics): `count(*)` opens no file.

pub mod legend;
mod source;
pub mod table_function;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, DataFusionError, Result, Statistics, plan_err};
use datafusion::datasource::listing::{ListingTableUrl, PartitionedFile};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{CreateExternalTable, Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::create_physical_expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::scalar::ScalarValue;
use futures::TryStreamExt;
use hepq_lh5::Lh5File;
use object_store::{GetOptions, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt};

use legend::{LegendName, PARTITION_COLUMNS};
use source::Lh5Source;

pub use hepq_lh5::UNITS_KEY;
pub use table_function::ReadLh5;

/// The name of the format in `STORED AS LH5`.
pub const LH5_FORMAT: &str = "LH5";

/// The extension LH5 files carry.
pub const LH5_EXTENSION: &str = "lh5";

/// Options of an LH5 table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lh5Options {
    /// `'group'`: the one table to read in each file.
    pub group: Option<String>,
    /// `'tier'`: every `ch*/{tier}` table in each file, with a channel column.
    pub tier: Option<String>,
    /// `'row_index' 'true'`: a [`ROW_INDEX_COLUMN`] column with each row's position in its
    /// table in its file.
    pub row_index: bool,
}

/// The column `'row_index' 'true'` adds.
pub const ROW_INDEX_COLUMN: &str = "row_index";

impl Lh5Options {
    /// Reads the table options, rejecting unknown ones by name.
    pub fn from_options(options: &HashMap<String, String>) -> Result<Self> {
        let mut parsed = Lh5Options::default();
        for (key, value) in options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            match key {
                "group" | "table" => parsed.group = Some(value.trim_matches('/').to_string()),
                "tier" => parsed.tier = Some(value.clone()),
                "row_index" => {
                    parsed.row_index = match value.to_ascii_lowercase().as_str() {
                        "true" | "1" | "yes" | "on" => true,
                        "false" | "0" | "no" | "off" => false,
                        _ => {
                            return plan_err!(
                                "option 'row_index' for STORED AS LH5 is 'true' or 'false', \
                                 not '{value}'"
                            );
                        }
                    }
                }
                other => {
                    return plan_err!(
                        "unknown option '{other}' for STORED AS LH5 \
                         (known: 'group', 'tier', 'row_index')"
                    );
                }
            }
        }
        if parsed.group.is_some() && parsed.tier.is_some() {
            return plan_err!("STORED AS LH5 takes 'group' or 'tier', not both");
        }
        Ok(parsed)
    }
}

/// One table of one file to read, and the channel its group name gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selected {
    pub(crate) group: String,
    pub(crate) channel: Option<i64>,
}

/// The tables of a file, for error messages.
fn table_list(tables: &[String]) -> String {
    if tables.is_empty() {
        return "the file has no LH5 tables".to_string();
    }
    let mut list = tables
        .iter()
        .take(20)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if tables.len() > 20 {
        list.push_str(", …");
    }
    format!("tables: {list}")
}

/// The tables `options` select in `file`, and the tier when the file is read by tier.
pub(crate) fn select_tables(
    file: &Lh5File,
    options: &Lh5Options,
) -> std::result::Result<(Vec<Selected>, Option<String>), String> {
    if let Some(group) = &options.group {
        return Ok((
            vec![Selected {
                group: group.clone(),
                channel: None,
            }],
            None,
        ));
    }
    let tables = file.tables().map_err(|e| e.to_string())?;
    let tier = match &options.tier {
        Some(t) => t.clone(),
        None => {
            if let [only] = tables.as_slice() {
                return Ok((
                    vec![Selected {
                        group: only.clone(),
                        channel: None,
                    }],
                    None,
                ));
            }
            let tiers: std::collections::BTreeSet<&str> = tables
                .iter()
                .filter_map(|t| t.split_once('/').map(|(_, tier)| tier))
                .collect();
            match (tiers.len(), tiers.first()) {
                (1, Some(t)) if tables.iter().all(|x| x.contains('/')) => (*t).to_string(),
                _ => {
                    return Err(format!(
                        "the file holds {} tables; choose one with OPTIONS ('group' '…') or a \
                         tier with OPTIONS ('tier' '…') ({})",
                        tables.len(),
                        table_list(&tables)
                    ));
                }
            }
        }
    };
    let mut selected = Vec::new();
    for t in &tables {
        if t == &tier {
            selected.push(Selected {
                group: t.clone(),
                channel: None,
            });
        } else if let Some((parent, last)) = t.rsplit_once('/')
            && last == tier
            && !parent.contains('/')
        {
            let channel = parent
                .strip_prefix("ch")
                .and_then(|d| d.parse::<i64>().ok());
            selected.push(Selected {
                group: t.clone(),
                channel,
            });
        }
    }
    if selected.is_empty() {
        return Err(format!(
            "no '{tier}' tables in the file ({})",
            table_list(&tables)
        ));
    }
    Ok((selected, Some(tier)))
}

/// Opens an LH5 file of a table: a local file directly (only the datasets read are read
/// from disk), other stores by fetching the object.
pub(crate) async fn open_file(
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
) -> Result<Lh5File> {
    let head = GetOptions {
        head: true,
        ..Default::default()
    };
    let name = object.location.to_string();
    if let Ok(result) = store.get_opts(&object.location, head).await
        && let GetResultPayload::File(_, path) = result.payload
    {
        return tokio::task::spawn_blocking(move || Lh5File::open(&path))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .map_err(|e| DataFusionError::Execution(e.to_string()));
    }
    let bytes = store
        .get(&object.location)
        .await
        .map_err(|e| DataFusionError::Execution(format!("cannot read '{name}': {e}")))?
        .bytes()
        .await
        .map_err(|e| DataFusionError::Execution(format!("cannot read '{name}': {e}")))?;
    tokio::task::spawn_blocking(move || Lh5File::from_bytes(name, bytes.to_vec()))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(|e| DataFusionError::Execution(e.to_string()))
}

/// The LH5 files at `path`: the file itself, or every `.lh5` file below a folder (LEGEND
/// nests its files in `tier/{tier}/{datatype}/{period}/{run}/` folders) or matching a glob.
async fn list_lh5_files(
    path: &ListingTableUrl,
    store: &dyn ObjectStore,
) -> Result<Vec<ObjectMeta>> {
    if !path.is_collection() && path.get_glob().is_none() {
        match store.head(path.prefix()).await {
            Ok(meta) => return Ok(vec![meta]),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let extension = format!(".{LH5_EXTENSION}");
    let listed: Vec<ObjectMeta> = store
        .list(Some(path.prefix()))
        .try_filter(|meta| {
            let keep = meta.location.as_ref().ends_with(&extension)
                && path.contains(&meta.location, false);
            futures::future::ready(keep)
        })
        .try_collect()
        .await?;
    Ok(listed)
}

/// What schema inference learnt about one file.
struct FileInfo {
    schema: Vec<Field>,
    rows: usize,
    tier: Option<String>,
    unsupported: Vec<String>,
}

/// Plans every selected table of `file` and merges their columns.
fn file_info(file: &Lh5File, options: &Lh5Options) -> std::result::Result<FileInfo, String> {
    let (selected, tier) =
        select_tables(file, options).map_err(|e| format!("'{}': {e}", file.name()))?;
    let mut fields: Vec<Field> = Vec::new();
    let mut rows = 0usize;
    let mut unsupported = Vec::new();
    for s in &selected {
        let table = file.table(&s.group).map_err(|e| e.to_string())?;
        rows = rows.saturating_add(table.num_rows());
        for u in table.unsupported() {
            unsupported.push(format!("{}/{}: {}", s.group, u.column, u.reason));
        }
        for f in table.schema().fields() {
            merge_field(&mut fields, f, &format!("{} in '{}'", s.group, file.name()))?;
        }
    }
    Ok(FileInfo {
        schema: fields,
        rows,
        tier,
        unsupported,
    })
}

/// Adds `field` to `fields` by name. The same name in two tables must have compatible
/// types: numbers widen to a type that holds both (files of different production cycles
/// store e.g. `channel` as `uint16` or `uint32`), lists widen their items. Differing `units`
/// metadata is dropped.
fn merge_field(
    fields: &mut Vec<Field>,
    field: &Field,
    whence: &str,
) -> std::result::Result<(), String> {
    match fields.iter_mut().find(|f| f.name() == field.name()) {
        None => fields.push(field.clone()),
        Some(have) => {
            let Some(common) = common_type(have.data_type(), field.data_type()) else {
                return Err(format!(
                    "column '{}' is {} in {whence} but {} elsewhere",
                    field.name(),
                    field.data_type(),
                    have.data_type()
                ));
            };
            if &common != have.data_type() {
                *have = have.clone().with_data_type(common);
            }
            if have.metadata() != field.metadata() {
                have.set_metadata(HashMap::new());
            }
        }
    }
    Ok(())
}

/// A type both `a` and `b` cast to without loss (for integers up to 64 bits), if any.
fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if a.equals_datatype(b) {
        return Some(a.clone());
    }
    let int = |t: &DataType| -> Option<(bool, u32)> {
        Some(match t {
            Int8 => (true, 8),
            Int16 => (true, 16),
            Int32 => (true, 32),
            Int64 => (true, 64),
            UInt8 => (false, 8),
            UInt16 => (false, 16),
            UInt32 => (false, 32),
            UInt64 => (false, 64),
            _ => return None,
        })
    };
    let signed = |w: u32| match w {
        8 => Int8,
        16 => Int16,
        32 => Int32,
        _ => Int64,
    };
    let unsigned = |w: u32| match w {
        8 => UInt8,
        16 => UInt16,
        32 => UInt32,
        _ => UInt64,
    };
    match (a, b) {
        (List(x), List(y)) => {
            let item = common_type(x.data_type(), y.data_type())?;
            Some(List(Arc::new(x.as_ref().clone().with_data_type(item))))
        }
        (FixedSizeList(x, n), FixedSizeList(y, m)) if n == m => {
            let item = common_type(x.data_type(), y.data_type())?;
            Some(FixedSizeList(
                Arc::new(x.as_ref().clone().with_data_type(item)),
                *n,
            ))
        }
        (Float32 | Float64, Float32 | Float64) => Some(Float64),
        (Float32 | Float64, _) if int(b).is_some() => Some(Float64),
        (_, Float32 | Float64) if int(a).is_some() => Some(Float64),
        _ => {
            let (sa, wa) = int(a)?;
            let (sb, wb) = int(b)?;
            Some(match (sa, sb) {
                (true, true) => signed(wa.max(wb)),
                (false, false) => unsigned(wa.max(wb)),
                (true, false) => signed(wa.max((wb * 2).min(64))),
                (false, true) => signed(wb.max((wa * 2).min(64))),
            })
        }
    }
}

/// Creates LH5 tables (`CREATE EXTERNAL TABLE … STORED AS LH5`).
#[derive(Debug, Default)]
pub struct Lh5TableFactory;

#[async_trait]
impl TableProviderFactory for Lh5TableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let table = cmd.name.to_string();
        let mut options = Lh5Options::from_options(&cmd.options)?;
        if !cmd.table_partition_cols.is_empty() {
            return plan_err!(
                "table '{table}': STORED AS LH5 finds its partition columns in LEGEND file names; \
                 PARTITIONED BY is not supported"
            );
        }
        let paths = cmd
            .locations
            .iter()
            .map(ListingTableUrl::parse)
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = paths.first() else {
            return plan_err!("table '{table}': CREATE EXTERNAL TABLE needs a LOCATION");
        };
        let url = first.object_store();
        let store = state.runtime_env().object_store(&url)?;
        let mut files: Vec<ObjectMeta> = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let listed = list_lh5_files(path, store.as_ref()).await.map_err(|e| {
                DataFusionError::Plan(format!(
                    "table '{table}': cannot list '{}': {e}",
                    cmd.locations[i]
                ))
            })?;
            if listed.is_empty() {
                return plan_err!(
                    "table '{table}': no LH5 files found at '{}'",
                    cmd.locations[i]
                );
            }
            files.extend(listed);
        }
        if let Some(tier) = &options.tier {
            files
                .retain(|m| LegendName::parse(m.location.as_ref()).is_none_or(|n| &n.tier == tier));
            if files.is_empty() {
                return plan_err!("table '{table}': no files of tier '{tier}' in the location");
            }
        }
        files.sort_by(|a, b| a.location.cmp(&b.location));

        // Read every file's tables: the merged schema and each file's row count.
        let mut fields: Vec<Field> = Vec::new();
        let mut entries = Vec::with_capacity(files.len());
        let mut resolved_tier: Option<Option<String>> = None;
        for meta in files {
            let file = open_file(&store, &meta)
                .await
                .map_err(|e| DataFusionError::Plan(format!("table '{table}': {e}")))?;
            let opts = options.clone();
            let (file, info) = tokio::task::spawn_blocking(move || {
                let info = file_info(&file, &opts);
                (file, info)
            })
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
            let info = info.map_err(|e| DataFusionError::Plan(format!("table '{table}': {e}")))?;
            for u in &info.unsupported {
                log::info!("table '{table}': '{}': column {u} not read", file.name());
            }
            match &resolved_tier {
                None => {
                    // The first file decides between one table and a tier for all files.
                    if options.tier.is_none()
                        && options.group.is_none()
                        && let Some(t) = &info.tier
                    {
                        options.tier = Some(t.clone());
                    }
                    resolved_tier = Some(info.tier.clone());
                }
                Some(t) if *t != info.tier => {
                    return plan_err!(
                        "table '{table}': '{}' holds other tables than the first file; \
                         choose them with OPTIONS ('group' …) or ('tier' …)",
                        file.name()
                    );
                }
                Some(_) => {}
            }
            for f in &info.schema {
                merge_field(&mut fields, f, &format!("'{}'", file.name()))
                    .map_err(|e| DataFusionError::Plan(format!("table '{table}': {e}")))?;
            }
            let legend = LegendName::parse(meta.location.as_ref());
            entries.push(FileEntry {
                meta,
                legend,
                rows: info.rows,
            });
        }
        let by_tier = options.tier.is_some();
        let channel_name = if fields.iter().any(|f| f.name() == "channel") {
            "rawid"
        } else {
            "channel"
        };
        let mut file_fields: Vec<Field> = Vec::new();
        if by_tier {
            file_fields.push(Field::new(channel_name, DataType::Int64, true));
        }
        if options.row_index {
            if fields.iter().any(|f| f.name() == ROW_INDEX_COLUMN) {
                return plan_err!(
                    "table '{table}': the files already have a column '{ROW_INDEX_COLUMN}'; \
                     option 'row_index' cannot add another"
                );
            }
            file_fields.push(Field::new(ROW_INDEX_COLUMN, DataType::Int64, false));
        }
        file_fields.extend(fields);
        let partition_cols: Vec<FieldRef> = if entries.iter().all(|e| e.legend.is_some()) {
            PARTITION_COLUMNS
                .iter()
                .map(|name| {
                    let taken = file_fields.iter().any(|f| f.name() == name);
                    let name = if taken {
                        format!("file_{name}")
                    } else {
                        (*name).to_string()
                    };
                    Arc::new(Field::new(name, DataType::Utf8, false))
                })
                .collect()
        } else {
            Vec::new()
        };
        let file_schema = Arc::new(Schema::new(file_fields));
        let mut all = file_schema.fields().iter().cloned().collect::<Vec<_>>();
        all.extend(partition_cols.iter().cloned());
        Ok(Arc::new(Lh5Provider {
            schema: Arc::new(Schema::new(all)),
            file_schema,
            partition_cols,
            files: entries,
            options,
            channel_column: by_tier.then(|| channel_name.to_string()),
            object_store_url: ObjectStoreUrl::parse(url.as_str())?,
        }))
    }
}

/// One file of an LH5 table.
#[derive(Debug, Clone)]
struct FileEntry {
    meta: ObjectMeta,
    legend: Option<LegendName>,
    rows: usize,
}

/// An LH5 table: files, their partition values, and the merged schema.
#[derive(Debug)]
pub struct Lh5Provider {
    schema: SchemaRef,
    file_schema: SchemaRef,
    partition_cols: Vec<FieldRef>,
    files: Vec<FileEntry>,
    options: Lh5Options,
    channel_column: Option<String>,
    object_store_url: ObjectStoreUrl,
}

impl Lh5Provider {
    /// Total rows over all files.
    pub fn num_rows(&self) -> usize {
        self.files.iter().map(|f| f.rows).sum()
    }

    fn is_partition_filter(&self, expr: &Expr) -> bool {
        let refs = expr.column_refs();
        !refs.is_empty()
            && refs
                .iter()
                .all(|c| self.partition_cols.iter().any(|p| p.name() == &c.name))
    }

    /// Indices of the files whose partition values pass every partition-only filter.
    fn prune(&self, filters: &[Expr]) -> Result<Vec<usize>> {
        let all: Vec<usize> = (0..self.files.len()).collect();
        let applicable: Vec<&Expr> = filters
            .iter()
            .filter(|f| self.is_partition_filter(f))
            .collect();
        if applicable.is_empty() || self.partition_cols.is_empty() {
            return Ok(all);
        }
        let schema = Arc::new(Schema::new(self.partition_cols.clone()));
        let columns: Vec<ArrayRef> = (0..self.partition_cols.len())
            .map(|i| {
                Arc::new(StringArray::from_iter_values(self.files.iter().map(|f| {
                    f.legend
                        .as_ref()
                        .map(|l| l.partition_values()[i].to_string())
                        .unwrap_or_default()
                }))) as ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let props = ExecutionProps::new();
        let mut keep = vec![true; self.files.len()];
        for filter in applicable {
            let unqualified = filter
                .clone()
                .transform(|e| {
                    Ok(match e {
                        Expr::Column(c) => {
                            Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
                        }
                        other => Transformed::no(other),
                    })
                })?
                .data;
            let physical = create_physical_expr(
                &unqualified,
                &df_schema,
                &props,
                &PhysicalPlanningContext::default(),
            )?;
            let result = physical.evaluate(&batch)?.into_array(batch.num_rows())?;
            let Some(mask) = result.as_any().downcast_ref::<BooleanArray>() else {
                continue;
            };
            for (i, k) in keep.iter_mut().enumerate() {
                *k &= mask.is_valid(i) && mask.value(i);
            }
        }
        Ok(all.into_iter().filter(|&i| keep[i]).collect())
    }
}

#[async_trait]
impl TableProvider for Lh5Provider {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.is_partition_filter(f) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let kept = self.prune(filters)?;
        let partitions = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<PartitionedFile>> =
            vec![Vec::new(); partitions.min(kept.len().max(1))];
        let n_groups = groups.len();
        for (k, i) in kept.iter().enumerate() {
            let entry = &self.files[*i];
            let values: Vec<ScalarValue> = match (&entry.legend, self.partition_cols.is_empty()) {
                (Some(l), false) => l
                    .partition_values()
                    .iter()
                    .map(|v| ScalarValue::Utf8(Some((*v).to_string())))
                    .collect(),
                _ => Vec::new(),
            };
            groups[k % n_groups].push(
                PartitionedFile::new_from_meta(entry.meta.clone()).with_partition_values(values),
            );
        }
        let groups: Vec<FileGroup> = groups
            .into_iter()
            .filter(|g| !g.is_empty())
            .map(FileGroup::new)
            .collect();
        let table_schema = TableSchema::builder(Arc::clone(&self.file_schema))
            .with_table_partition_cols(self.partition_cols.clone())
            .build();
        let source = Arc::new(Lh5Source::new(
            table_schema,
            self.options.clone(),
            self.channel_column.clone(),
        ));
        // Row counts are known from planning: `count(*)` needs no file read.
        let rows: usize = kept.iter().map(|&i| self.files[i].rows).sum();
        let statistics =
            Statistics::new_unknown(&self.schema).with_num_rows(Precision::Exact(rows));
        let config = FileScanConfigBuilder::new(self.object_store_url.clone(), source)
            .with_file_groups(groups)
            .with_statistics(statistics)
            .with_limit(limit)
            .with_projection_indices(projection.cloned())?
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}
