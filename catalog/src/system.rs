//! hepq's system tables: schema `hepq` of the default catalog (`hepq.tables`, …).
//!
//! Each query reads the catalog afresh, so a table another process recorded a moment ago is
//! listed even though this session has not opened it: `hepq.tables`,
//! `hepq.materialized_views`, `hepq.snapshots`, `hepq.files` and `hepq.refreshes`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{Result, exec_err};
use datafusion::datasource::MemTable;

use crate::entry::{TableEntry, TableKind};
use crate::iceberg::IcebergCatalog;
use crate::schema::TableFactory;
use crate::store::CatalogStore;

/// The name of the system schema.
pub const SYSTEM_SCHEMA: &str = "hepq";

/// The system tables this build has.
const TABLES: &[&str] = &[
    "tables",
    "materialized_views",
    "snapshots",
    "files",
    "refreshes",
];

/// Schema `hepq`: read-only tables describing the catalog.
#[derive(Debug)]
pub struct SystemSchema {
    store: Arc<CatalogStore>,
    iceberg: Option<Arc<IcebergCatalog>>,
    factory: Option<Arc<dyn TableFactory>>,
}

impl SystemSchema {
    /// The system tables of `store`.
    pub fn new(store: Arc<CatalogStore>) -> Self {
        Self {
            store,
            iceberg: None,
            factory: None,
        }
    }

    /// Also lists the files of external tables in `hepq.files` (through `factory`, which knows
    /// their formats).
    pub fn with_factory(mut self, factory: Arc<dyn TableFactory>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// Also lists the Iceberg tables of `iceberg` (with their snapshots and current files).
    pub fn with_iceberg(mut self, iceberg: Arc<IcebergCatalog>) -> Self {
        self.iceberg = Some(iceberg);
        self
    }

    /// The stored tables and views, then the Iceberg tables.
    async fn all_tables(&self) -> Result<Vec<TableEntry>> {
        let mut entries = self.store.tables().await?;
        if let Some(iceberg) = &self.iceberg {
            let extra = iceberg_entries(iceberg, &entries).await?;
            entries.extend(extra);
        }
        Ok(entries)
    }

    /// The Iceberg tables that are not materialised views (whose snapshots and files the
    /// catalog's own rows already list).
    async fn plain_iceberg_tables(&self) -> Result<Vec<(String, String)>> {
        let Some(iceberg) = &self.iceberg else {
            return Ok(Vec::new());
        };
        let stored = self.store.tables().await?;
        Ok(iceberg
            .list()
            .await?
            .into_iter()
            .filter(|(s, n)| !stored.iter().any(|t| &t.schema == s && &t.name == n))
            .collect())
    }
}

/// The catalog entries of the Iceberg tables (schema, name, kind `iceberg`, location and
/// partitioning from their metadata), except those `stored` already holds (an Iceberg-format
/// materialised view).
pub async fn iceberg_entries(
    iceberg: &IcebergCatalog,
    stored: &[TableEntry],
) -> Result<Vec<TableEntry>> {
    let mut entries = Vec::new();
    for (schema, name) in iceberg.list().await? {
        if stored.iter().any(|t| t.schema == schema && t.name == name) {
            continue;
        }
        let (location, partition_columns) = match iceberg.load(&schema, &name).await {
            Ok(info) => (
                Some(info.location.clone()),
                info.partitioning
                    .iter()
                    .map(|p| p.transform.describe(&p.source))
                    .collect(),
            ),
            Err(_) => (None, Vec::new()),
        };
        entries.push(TableEntry {
            schema: schema.clone(),
            name: name.clone(),
            kind: TableKind::Iceberg,
            format: Some("ICEBERG".into()),
            location,
            options: Default::default(),
            partition_columns,
            definition: String::new(),
            created_at_us: 0,
        });
    }
    Ok(entries)
}

/// The columns of `hepq.tables`.
pub fn tables_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("schema_name", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("format", DataType::Utf8, true),
        Field::new("location", DataType::Utf8, true),
        Field::new("options", DataType::Utf8, false),
        Field::new(
            "partition_columns",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            false,
        ),
        Field::new("definition", DataType::Utf8, false),
        Field::new(
            "created_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// `hepq.tables` as one batch.
pub fn tables_batch(entries: &[TableEntry]) -> Result<RecordBatch> {
    let mut schema_name = StringBuilder::new();
    let mut table_name = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut format = StringBuilder::new();
    let mut location = StringBuilder::new();
    let mut options = StringBuilder::new();
    let mut partitions = ListBuilder::new(StringBuilder::new());
    let mut definition = StringBuilder::new();
    let mut created = Vec::with_capacity(entries.len());
    for e in entries {
        schema_name.append_value(&e.schema);
        table_name.append_value(&e.name);
        kind.append_value(e.kind.as_str());
        format.append_option(e.format.as_deref());
        location.append_option(e.location.as_deref());
        options.append_value(serde_json::to_string(&e.options).unwrap_or_else(|_| "{}".into()));
        for column in &e.partition_columns {
            partitions.values().append_value(column);
        }
        partitions.append(true);
        definition.append_value(&e.definition);
        created.push(e.created_at_us);
    }
    let schema = tables_schema();
    // ListBuilder's items are `Field::new_list_field(Utf8, true)`, as declared.
    let partitions = partitions.finish();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(schema_name.finish()),
        Arc::new(table_name.finish()),
        Arc::new(kind.finish()),
        Arc::new(format.finish()),
        Arc::new(location.finish()),
        Arc::new(options.finish()),
        Arc::new(partitions),
        Arc::new(definition.finish()),
        Arc::new(TimestampMicrosecondArray::from(created).with_timezone("UTC")),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn int(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int64, nullable)
}

fn time(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        nullable,
    )
}

fn times(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

fn texts<S: AsRef<str>>(values: Vec<Option<S>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

fn ints(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

impl SystemSchema {
    /// `hepq.materialized_views`: one row per view with its current snapshot and last refresh.
    async fn materialized_views_batch(&self) -> Result<RecordBatch> {
        let views = self.store.materialized_views().await?;
        let snapshots = self.store.snapshots().await?;
        let refreshes = self.store.refreshes().await?;
        let data_files = self.store.data_files().await?;
        let schema = Arc::new(Schema::new(vec![
            text("schema_name", false),
            text("view_name", false),
            text("format", false),
            text("location", false),
            Field::new(
                "partition_columns",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                false,
            ),
            text("refresh", true),
            int("current_snapshot", true),
            int("rows", true),
            int("files", true),
            text("last_refresh_status", true),
            time("last_refresh_started_at", true),
            time("last_refresh_ended_at", true),
            text("last_refresh_error", true),
            time("refreshing_since", true),
            text("query", false),
            time("created_at", false),
        ]));
        let mut partitions = ListBuilder::new(StringBuilder::new());
        let (mut current, mut rows, mut files) = (vec![], vec![], vec![]);
        let (mut status, mut started, mut ended, mut error) = (vec![], vec![], vec![], vec![]);
        for view in &views {
            for column in &view.partition_columns {
                partitions.values().append_value(column);
            }
            partitions.append(true);
            let snapshot = view
                .current_snapshot
                .and_then(|id| snapshots.iter().find(|s| s.snapshot_id == id));
            current.push(view.current_snapshot);
            rows.push(snapshot.map(|s| s.rows));
            files.push(snapshot.map(|s| {
                data_files
                    .iter()
                    .filter(|(schema, name, file, _)| {
                        *schema == view.schema && *name == view.name && s.dirs.contains(&file.dir)
                    })
                    .count() as i64
            }));
            let last = refreshes
                .iter()
                .rev()
                .find(|r| r.schema == view.schema && r.name == view.name);
            status.push(last.map(|r| r.status.clone()));
            started.push(last.map(|r| r.started_at_us));
            ended.push(last.and_then(|r| r.ended_at_us));
            error.push(last.and_then(|r| r.error.clone()));
        }
        let columns: Vec<ArrayRef> = vec![
            texts(views.iter().map(|v| Some(&v.schema)).collect()),
            texts(views.iter().map(|v| Some(&v.name)).collect()),
            texts(views.iter().map(|v| Some(&v.format)).collect()),
            texts(views.iter().map(|v| Some(&v.location)).collect()),
            Arc::new(partitions.finish()),
            texts(views.iter().map(|v| v.refresh_schedule.as_ref()).collect()),
            ints(current),
            ints(rows),
            ints(files),
            texts(status),
            times(started),
            times(ended),
            texts(error),
            times(views.iter().map(|v| v.refresh_started_at_us).collect()),
            texts(views.iter().map(|v| Some(&v.query)).collect()),
            times(views.iter().map(|v| Some(v.created_at_us)).collect()),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// `hepq.snapshots`: the kept snapshots of every materialised view.
    async fn snapshots_batch(&self) -> Result<RecordBatch> {
        let snapshots = self.store.snapshots().await?;
        let views = self.store.materialized_views().await?;
        let schema = Arc::new(Schema::new(vec![
            text("schema_name", false),
            text("view_name", false),
            int("snapshot_id", false),
            int("parent_id", true),
            text("operation", false),
            int("rows", true),
            int("added_rows", true),
            int("added_files", true),
            int("refresh_id", true),
            Field::new("is_current", DataType::Boolean, false),
            time("committed_at", false),
        ]));
        // One row per snapshot: (schema, name, id, parent, operation, rows, added rows,
        // added files, refresh, current, committed).
        type Row = (
            String,
            String,
            i64,
            Option<i64>,
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            bool,
            i64,
        );
        let mut rows: Vec<Row> = snapshots
            .iter()
            .map(|s| {
                let current = views.iter().any(|v| {
                    v.schema == s.schema
                        && v.name == s.name
                        && v.current_snapshot == Some(s.snapshot_id)
                });
                (
                    s.schema.clone(),
                    s.name.clone(),
                    s.snapshot_id,
                    s.parent_id,
                    s.operation.clone(),
                    Some(s.rows),
                    Some(s.added_rows),
                    Some(s.added_files),
                    Some(s.refresh_id),
                    current,
                    s.committed_at_us,
                )
            })
            .collect();
        if let Some(iceberg) = &self.iceberg {
            for (schema, name) in self.plain_iceberg_tables().await? {
                let Ok(list) = iceberg.snapshots(&schema, &name).await else {
                    continue;
                };
                for s in list {
                    rows.push((
                        schema.clone(),
                        name.clone(),
                        s.snapshot_id,
                        s.parent_id,
                        s.operation,
                        s.total_rows,
                        s.added_rows,
                        s.added_files,
                        None,
                        s.is_current,
                        s.timestamp_ms.saturating_mul(1000),
                    ));
                }
            }
        }
        let columns: Vec<ArrayRef> = vec![
            texts(rows.iter().map(|r| Some(&r.0)).collect()),
            texts(rows.iter().map(|r| Some(&r.1)).collect()),
            ints(rows.iter().map(|r| Some(r.2)).collect()),
            ints(rows.iter().map(|r| r.3).collect()),
            texts(rows.iter().map(|r| Some(&r.4)).collect()),
            ints(rows.iter().map(|r| r.5).collect()),
            ints(rows.iter().map(|r| r.6).collect()),
            ints(rows.iter().map(|r| r.7).collect()),
            ints(rows.iter().map(|r| r.8).collect()),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.9).collect::<Vec<_>>(),
            )),
            times(rows.iter().map(|r| Some(r.10)).collect()),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// `hepq.files`: the data files of every materialised view's kept snapshots; `is_current`
    /// marks those readers see now.
    async fn files_batch(&self) -> Result<RecordBatch> {
        let files = self.store.data_files().await?;
        let views = self.store.materialized_views().await?;
        let mut current_dirs = std::collections::HashSet::new();
        for view in &views {
            if let Some(id) = view.current_snapshot
                && let Some(snapshot) = self.store.snapshot(id).await?
            {
                for dir in snapshot.dirs {
                    current_dirs.insert((view.schema.clone(), view.name.clone(), dir));
                }
            }
        }
        let mut is_current: Vec<bool> = files
            .iter()
            .map(|(schema, name, file, _)| {
                current_dirs.contains(&(schema.clone(), name.clone(), file.dir.clone()))
            })
            .collect();
        let mut files = files;
        if let Some(iceberg) = &self.iceberg {
            for (schema, name) in self.plain_iceberg_tables().await? {
                let Ok((Some(snapshot), current)) = iceberg.files(&schema, &name, None).await
                else {
                    continue;
                };
                for file in current {
                    files.push((
                        schema.clone(),
                        name.clone(),
                        crate::materialized::DataFile {
                            dir: String::new(),
                            path: file.path,
                            size: i64::try_from(file.size).unwrap_or(i64::MAX),
                            rows: i64::try_from(file.rows).ok(),
                        },
                        snapshot,
                    ));
                    is_current.push(true);
                }
            }
        }
        // External tables: the files a query would read now (no snapshot).
        let mut snapshot_ids: Vec<Option<i64>> = files.iter().map(|f| Some(f.3)).collect();
        if let Some(factory) = &self.factory {
            for entry in self.store.tables().await? {
                if entry.kind != TableKind::External {
                    continue;
                }
                let Ok(listed) = factory.files(&entry).await else {
                    continue;
                };
                for (path, size, rows) in listed {
                    files.push((
                        entry.schema.clone(),
                        entry.name.clone(),
                        crate::materialized::DataFile {
                            dir: String::new(),
                            path,
                            size,
                            rows,
                        },
                        0,
                    ));
                    snapshot_ids.push(None);
                    is_current.push(true);
                }
            }
        }
        let schema = Arc::new(Schema::new(vec![
            text("schema_name", false),
            text("table_name", false),
            text("path", false),
            int("size_bytes", false),
            int("rows", true),
            int("snapshot_id", true),
            Field::new("is_current", DataType::Boolean, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            texts(files.iter().map(|f| Some(&f.0)).collect()),
            texts(files.iter().map(|f| Some(&f.1)).collect()),
            texts(files.iter().map(|f| Some(&f.2.path)).collect()),
            ints(files.iter().map(|f| Some(f.2.size)).collect()),
            ints(files.iter().map(|f| f.2.rows).collect()),
            ints(snapshot_ids),
            Arc::new(BooleanArray::from(is_current)),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// `hepq.refreshes`: every refresh run, oldest first.
    async fn refreshes_batch(&self) -> Result<RecordBatch> {
        let runs = self.store.refreshes().await?;
        let schema = Arc::new(Schema::new(vec![
            int("refresh_id", false),
            text("schema_name", false),
            text("view_name", false),
            time("started_at", false),
            time("ended_at", true),
            text("status", false),
            text("mode", true),
            text("reason", true),
            int("rows_in", true),
            int("rows_out", true),
            int("source_files", true),
            int("files_written", true),
            int("snapshot_id", true),
            text("error", true),
            text("owner", false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            ints(runs.iter().map(|r| Some(r.refresh_id)).collect()),
            texts(runs.iter().map(|r| Some(&r.schema)).collect()),
            texts(runs.iter().map(|r| Some(&r.name)).collect()),
            times(runs.iter().map(|r| Some(r.started_at_us)).collect()),
            times(runs.iter().map(|r| r.ended_at_us).collect()),
            texts(runs.iter().map(|r| Some(&r.status)).collect()),
            texts(runs.iter().map(|r| r.mode.as_ref()).collect()),
            texts(runs.iter().map(|r| r.reason.as_ref()).collect()),
            ints(runs.iter().map(|r| r.rows_in).collect()),
            ints(runs.iter().map(|r| r.rows_out).collect()),
            ints(runs.iter().map(|r| r.source_files).collect()),
            ints(runs.iter().map(|r| r.files_written).collect()),
            ints(runs.iter().map(|r| r.snapshot_id).collect()),
            texts(runs.iter().map(|r| r.error.as_ref()).collect()),
            texts(runs.iter().map(|r| Some(&r.owner)).collect()),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let batch = match name {
            "tables" => tables_batch(&self.all_tables().await?)?,
            "materialized_views" => self.materialized_views_batch().await?,
            "snapshots" => self.snapshots_batch().await?,
            "files" => self.files_batch().await?,
            "refreshes" => self.refreshes_batch().await?,
            _ => return Ok(None),
        };
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        Ok(Some(Arc::new(table)))
    }

    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        exec_err!(
            "cannot create {SYSTEM_SCHEMA}.{name}: schema {SYSTEM_SCHEMA} holds hepq's read-only system tables"
        )
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        exec_err!(
            "cannot drop {SYSTEM_SCHEMA}.{name}: schema {SYSTEM_SCHEMA} holds hepq's read-only system tables"
        )
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name)
    }
}
