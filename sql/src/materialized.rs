//! Materialised views (skims): `CREATE MATERIALIZED VIEW`, `REFRESH`, `DROP`, `SHOW`, the
//! table readers see, and the refresh engine.
//!
//! A view's content lives under its location (default `WAREHOUSE/materialized/SCHEMA/NAME/`)
//! as data folders `data/r<refresh>-<token>/`, each written completely by one refresh (Parquet
//! files, in Hive folders `col=value/` with `PARTITIONED BY`). The catalog's current snapshot
//! names the folders readers see ([`hepq_catalog::materialized`]): a refresh writes its folder,
//! then commits a snapshot in one SQLite transaction, so readers see the old or the new
//! content and a refresh that dies leaves the last good snapshot.
//!
//! A refresh is *incremental* when the query is row-wise (projections, filters, `unnest` and
//! per-event functions over one file-backed table, nothing volatile): it reads only the source
//! files added since the last refresh and appends a folder. Otherwise (aggregates, joins,
//! sorts, limits, views, a changed or removed source file, a changed result schema, `FULL`)
//! it recomputes everything and replaces the content. `hepq.refreshes` says which and why.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Statistics, TableReference, plan_err};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory, format_as_file_type};
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{MemTable, provider_as_source, source_as_provider};
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown, TableScan, TableType,
};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::sql::parser::Statement;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{ObjectName, Query};
use datafusion::sql::sqlparser::parser::Parser;
use futures::TryStreamExt;
use hepq_catalog::{
    CatalogStore, DataFile, MaterializedViewEntry, PersistentSchema, RefreshCommit, SourceFile,
    TableEntry, TableKind,
};
use object_store::{ObjectStore, ObjectStoreExt};

use hepq_catalog::iceberg::{CommitMode, IcebergCatalog, PartitionTransform};

use crate::catalog::{DEFAULT_CATALOG, absolute_location, persistent_name, schema_provider};
use crate::error::{Error, Result};
use crate::schedule::Schedule;
use crate::session::{HepqSession, quote_literal, session_dialect};
use crate::statements::Extension;

/// The formats a materialised view can be kept in: Parquet (Hive folders with `PARTITIONED
/// BY`) or ROOT (one TTree file `Events` per refresh, no `PARTITIONED BY`).
const FORMATS: &[&str] = &["parquet", "root", "iceberg"];

/// Snapshots kept per view unless `keep_snapshots` says otherwise.
const DEFAULT_KEEP_SNAPSHOTS: usize = 2;

fn config(message: impl Into<String>) -> Error {
    Error::Config(message.into())
}

/// Runs a materialised-view statement.
pub(crate) async fn run(session: &HepqSession, statement: Extension) -> Result<DataFrame> {
    let Some(store) = session.catalog().cloned() else {
        return Err(config(
            "materialized views need a warehouse: start hepq with --warehouse DIR \
             (or HEPQ_WAREHOUSE, or hepq.connect(warehouse=…))",
        ));
    };
    match statement {
        Extension::Create {
            name,
            or_replace,
            if_not_exists,
            partitioned_by,
            options,
            query,
        } => {
            create(
                session,
                &store,
                &name,
                or_replace,
                if_not_exists,
                partitioned_by,
                options,
                &query,
            )
            .await
        }
        Extension::Refresh { name, full } => {
            let object = {
                let dialect = session_dialect(&session.state())?;
                Parser::new(dialect.as_ref())
                    .try_with_sql(&name)
                    .and_then(|mut p| p.parse_object_name(false))
                    .map_err(|e| config(format!("bad view name {name}: {e}")))?
            };
            let (schema, table) = resolve(session, &object)?;
            let report = refresh(session, &store, &schema, &table, full).await?;
            report_frame(session, &[report])
        }
        Extension::Drop { names, if_exists } => {
            for name in &names {
                let (schema, table) = resolve(session, name)?;
                let dropped = drop_view(session, &store, &schema, &table).await?;
                if !dropped && !if_exists {
                    return Err(config(format!(
                        "materialized view {schema}.{table} does not exist"
                    )));
                }
            }
            empty(session)
        }
        Extension::Show => Ok(session.context().sql(SHOW_SQL).await?),
    }
}

const SHOW_SQL: &str = "SELECT schema_name, view_name, format, rows, files, refresh, \
     last_refresh_status, last_refresh_ended_at FROM hepq.materialized_views \
     ORDER BY schema_name, view_name";

/// The plan of a materialised-view statement, for front ends that plan before they run: a
/// query for `SHOW`, and for the others a scan that acts when executed
/// ([`crate::command`]), not before.
pub(crate) async fn plan(session: &HepqSession, statement: Extension) -> Result<LogicalPlan> {
    let (tag, schema) = match &statement {
        Extension::Show => return plan_query(session, SHOW_SQL).await,
        Extension::Create { .. } => ("CREATE MATERIALIZED VIEW", Arc::new(Schema::empty())),
        Extension::Drop { .. } => ("DROP MATERIALIZED VIEW", Arc::new(Schema::empty())),
        Extension::Refresh { .. } => ("REFRESH MATERIALIZED VIEW", report_schema()),
    };
    let session = session.clone();
    let action: crate::command::Action = Arc::new(move || {
        let session = session.clone();
        let statement = statement.clone();
        Box::pin(async move {
            let df = run(&session, statement)
                .await
                .map_err(DataFusionError::from)?;
            df.collect().await
        })
    });
    let table = crate::command::CommandTable::new(tag, schema, action);
    Ok(
        LogicalPlanBuilder::scan("hepq_command", provider_as_source(Arc::new(table)), None)?
            .build()?,
    )
}

fn empty(session: &HepqSession) -> Result<DataFrame> {
    let plan = LogicalPlanBuilder::empty(false).build()?;
    Ok(DataFrame::new(session.state(), plan))
}

/// The (schema, name) of a view in the persistent catalog.
fn resolve(session: &HepqSession, name: &ObjectName) -> Result<(String, String)> {
    let normalize = session
        .state()
        .config()
        .options()
        .sql_parser
        .enable_ident_normalization;
    let reference = object_name_to_table_reference(name.clone(), normalize)?;
    persistent_name(session, &reference).ok_or_else(|| {
        config(format!(
            "materialized view {name} must be in the warehouse's catalog '{DEFAULT_CATALOG}' \
             (and not in a system schema)"
        ))
    })
}

/// Plans `sql` (a query) in the session.
async fn plan_query(session: &HepqSession, sql: &str) -> Result<LogicalPlan> {
    let statements = session.parse(sql)?;
    let [statement] = <[Statement; 1]>::try_from(statements)
        .map_err(|s| config(format!("expected one query, found {} statements", s.len())))?;
    Ok(session.state().statement_to_plan(statement).await?)
}

/// The content's schema: the query's columns with the `PARTITIONED BY` ones moved last (as
/// they come back from Hive folders), and the file schema (without them).
fn content_schemas(query: &Schema, partitions: &[String]) -> Result<(SchemaRef, SchemaRef)> {
    for column in partitions {
        let field = query.field_with_name(column).map_err(|_| {
            config(format!(
                "PARTITIONED BY column {column} is not a column of the query (columns: {})",
                query
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if field.data_type().is_nested() {
            return Err(config(format!(
                "PARTITIONED BY column {column} has type {}; only scalar columns can partition",
                field.data_type()
            )));
        }
    }
    let file_fields: Vec<Field> = query
        .fields()
        .iter()
        .filter(|f| !partitions.contains(f.name()))
        .map(|f| f.as_ref().clone())
        .collect();
    let mut table_fields = file_fields.clone();
    for column in partitions {
        if let Ok(f) = query.field_with_name(column) {
            table_fields.push(f.clone().with_nullable(true));
        }
    }
    Ok((
        Arc::new(Schema::new(table_fields)),
        Arc::new(Schema::new(file_fields)),
    ))
}

fn schema_bytes(schema: &Schema) -> Result<Vec<u8>> {
    let mut writer = datafusion::arrow::ipc::writer::StreamWriter::try_new(Vec::new(), schema)
        .map_err(DataFusionError::from)?;
    writer.finish().map_err(DataFusionError::from)?;
    Ok(writer.into_inner().map_err(DataFusionError::from)?)
}

fn schema_from_bytes(bytes: &[u8], view: &str) -> Result<SchemaRef> {
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .map_err(|e| config(format!("materialized view {view}: stored schema: {e}")))?;
    Ok(reader.schema())
}

/// Query schemas equal in names and types (nullability and metadata aside).
fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type().equals_datatype(y.data_type()))
}

#[allow(clippy::too_many_arguments)]
async fn create(
    session: &HepqSession,
    store: &Arc<CatalogStore>,
    name: &ObjectName,
    or_replace: bool,
    if_not_exists: bool,
    partitioned_by: Vec<String>,
    options: Vec<(String, String)>,
    query: &Query,
) -> Result<DataFrame> {
    let (schema, table) = resolve(session, name)?;
    let qualified = format!("{schema}.{table}");
    if schema_provider(session, &schema).is_none() {
        return Err(config(format!(
            "cannot create materialized view {qualified}: schema {schema} does not exist \
             (CREATE SCHEMA {schema})"
        )));
    }
    let reference = TableReference::full(DEFAULT_CATALOG, schema.as_str(), table.as_str());
    let exists = store.table(&schema, &table).await?.is_some()
        || session.context().table_exist(reference)?;
    if exists {
        if if_not_exists {
            return empty(session);
        }
        if !or_replace {
            return Err(config(format!(
                "cannot create materialized view {qualified}: a table or view of that name \
                 already exists"
            )));
        }
        if store.materialized_view(&schema, &table).await?.is_none() {
            return Err(config(format!(
                "cannot replace {qualified}: it is not a materialized view"
            )));
        }
    }

    let mut format = "parquet".to_string();
    let mut refresh_schedule = None;
    let mut location = None;
    let mut kept = BTreeMap::new();
    let mut populate = true;
    for (key, value) in &options {
        match key.as_str() {
            crate::statements::POPULATE_OPTION => {
                populate = !value.eq_ignore_ascii_case("false");
                continue;
            }
            "format" => {
                let f = value.to_ascii_lowercase();
                if !FORMATS.contains(&f.as_str()) {
                    return Err(config(format!(
                        "materialized view {qualified}: format '{value}' is not supported yet \
                         (supported: {})",
                        FORMATS.join(", ")
                    )));
                }
                format = f;
            }
            "refresh" => {
                Schedule::parse(value).map_err(|e| {
                    config(format!(
                        "materialized view {qualified}: refresh = '{value}': {e}"
                    ))
                })?;
                refresh_schedule = Some(value.clone());
            }
            "location" => {
                let mut l = absolute_location(value);
                if !l.ends_with('/') {
                    l.push('/');
                }
                location = Some(l);
            }
            "keep_snapshots" => {
                let n: usize = value.parse().ok().filter(|n| *n >= 2).ok_or_else(|| {
                    config(format!(
                        "materialized view {qualified}: keep_snapshots must be a whole number \
                         ≥ 2, not '{value}'"
                    ))
                })?;
                kept.insert(key.clone(), n.to_string());
                continue;
            }
            other => {
                return Err(config(format!(
                    "materialized view {qualified}: unknown option '{other}' (options: \
                     refresh, format, location, keep_snapshots)"
                )));
            }
        }
        kept.insert(key.clone(), value.clone());
    }

    if format == "root" && !partitioned_by.is_empty() {
        return Err(config(format!(
            "materialized view {qualified}: PARTITIONED BY needs format 'parquet' (a ROOT skim \
             is one file per refresh)"
        )));
    }
    let query_sql = query.to_string();
    let plan = plan_query(session, &query_sql).await?;
    let query_schema = plan.schema().as_arrow().clone();
    content_schemas(&query_schema, &partitioned_by)?;
    let location = match location {
        Some(l) => l,
        None => {
            let warehouse = session
                .warehouse()
                .ok_or_else(|| config("materialized views need a warehouse"))?;
            format!(
                "{}/",
                warehouse
                    .join("materialized")
                    .join(&schema)
                    .join(&table)
                    .display()
            )
        }
    };

    if exists {
        drop_view(session, store, &schema, &table).await?;
    }
    let mut with: Vec<String> = kept
        .iter()
        .map(|(k, v)| format!("{k} = {}", quote_literal(v)))
        .collect();
    if !kept.contains_key("location") {
        with.push(format!("location = {}", quote_literal(&location)));
    }
    let partition_clause = if partitioned_by.is_empty() {
        String::new()
    } else {
        format!(" PARTITIONED BY ({})", partitioned_by.join(", "))
    };
    let definition = format!(
        "CREATE MATERIALIZED VIEW {name}{partition_clause} WITH ({}) AS {query_sql}",
        with.join(", ")
    );
    let table_entry = TableEntry {
        schema: schema.clone(),
        name: table.clone(),
        kind: TableKind::MaterializedView,
        format: Some(format.to_uppercase()),
        location: Some(location.clone()),
        options: kept.clone(),
        partition_columns: partitioned_by.clone(),
        definition,
        created_at_us: 0,
    };
    let view = MaterializedViewEntry {
        schema: schema.clone(),
        name: table.clone(),
        query: query_sql,
        format,
        location,
        partition_columns: partitioned_by,
        refresh_schedule,
        options: kept,
        arrow_schema: Some(schema_bytes(&query_schema)?),
        current_snapshot: None,
        refresh_owner: None,
        refresh_started_at_us: None,
        created_at_us: 0,
    };
    if view.format == "iceberg" {
        let iceberg = session
            .iceberg()
            .ok_or_else(|| config("Iceberg materialized views need a warehouse"))?;
        if iceberg.exists(&schema, &table).await? {
            return Err(config(format!(
                "cannot create materialized view {qualified}: an Iceberg table of that name \
                 already exists"
            )));
        }
        if view.location.contains("://") && !view.location.starts_with("file://") {
            return Err(config(format!(
                "materialized view {qualified}: format 'iceberg' is written on local disks only \
                 (location '{}')",
                view.location
            )));
        }
        let identity: Vec<(String, PartitionTransform)> = view
            .partition_columns
            .iter()
            .map(|c| (c.clone(), PartitionTransform::Identity))
            .collect();
        let columns = Schema::new(
            query_schema
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), f.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        iceberg
            .create_at(
                &schema,
                &table,
                &columns,
                &identity,
                view.location.trim_end_matches('/'),
            )
            .await?;
    }
    if let Err(e) = store.create_materialized_view(&table_entry, &view).await {
        if let Some(iceberg) = session.iceberg().filter(|_| view.format == "iceberg") {
            let _ = iceberg.drop_table(&schema, &table).await;
        }
        return Err(e.into());
    }
    let provider = open_table(store, session.iceberg(), &view).await?;
    if let Some(p) = schema_provider(session, &schema) {
        p.register_table(table.clone(), provider)?;
    }
    // Populated at creation, as PostgreSQL does (unless WITH NO DATA); a query that fails to
    // run creates nothing.
    if populate && let Err(e) = refresh(session, store, &schema, &table, false).await {
        let _ = drop_view(session, store, &schema, &table).await;
        return Err(e);
    }
    empty(session)
}

/// Drops view `schema.table` (catalog rows, the session's table, its data folders); returns
/// whether it existed.
pub(crate) async fn drop_view(
    session: &HepqSession,
    store: &CatalogStore,
    schema: &str,
    table: &str,
) -> Result<bool> {
    let Some(entry) = store.drop_materialized_view(schema, table).await? else {
        return Ok(false);
    };
    if let Some(provider) = schema_provider(session, schema) {
        if let Some(persistent) = provider.downcast_ref::<PersistentSchema>() {
            persistent.take(table);
        } else {
            let _ = provider.deregister_table(table);
        }
    }
    if entry.format == "iceberg"
        && let Some(iceberg) = session.iceberg()
        && iceberg.exists(schema, table).await?
    {
        // Its metadata (and the files its snapshots name).
        let _ = iceberg.drop_table(schema, table).await;
        delete_folder(session, &format!("{}metadata/", entry.location)).await;
    }
    // The data: every file under LOCATION/data/ (folders this view's refreshes wrote).
    delete_folder(session, &format!("{}data/", entry.location)).await;
    if !entry.location.contains("://") {
        let _ = std::fs::remove_dir(&entry.location);
    }
    Ok(true)
}

/// Deletes every object under the folder `location` (path or URL, ending in `/`), and the
/// local folder itself; best effort (what cannot be deleted stays, and is retried by the next
/// refresh's clean-up).
async fn delete_folder(session: &HepqSession, location: &str) {
    if let Ok((store, prefix)) = object_store_for(session, location) {
        let listed: Vec<_> = store
            .list(Some(&prefix))
            .try_collect()
            .await
            .unwrap_or_default();
        for object in listed {
            let _ = store.delete(&object.location).await;
        }
    }
    if !location.contains("://") {
        let _ = std::fs::remove_dir_all(location);
    }
}

fn object_store_for(
    session: &HepqSession,
    location: &str,
) -> Result<(Arc<dyn ObjectStore>, object_store::path::Path)> {
    let url = ListingTableUrl::parse(location)?;
    let store = session
        .context()
        .runtime_env()
        .object_store(url.object_store())?;
    Ok((store, url.prefix().clone()))
}

/// What one refresh did.
#[derive(Debug, Clone)]
pub struct RefreshReport {
    /// `schema.name`.
    pub view: String,
    /// `full` or `incremental`.
    pub mode: String,
    /// Why that mode.
    pub reason: String,
    /// Rows written.
    pub rows_out: i64,
    /// Rows read from the sources, where known.
    pub rows_in: Option<i64>,
    /// Source files read (for an incremental refresh: the new ones).
    pub source_files: i64,
    /// The snapshot committed (`None` when nothing was new).
    pub snapshot_id: Option<i64>,
    /// Wall time.
    pub seconds: f64,
}

fn report_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("view", DataType::Utf8, false),
        Field::new("mode", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("rows_in", DataType::Int64, true),
        Field::new("rows_out", DataType::Int64, false),
        Field::new("source_files", DataType::Int64, false),
        Field::new("snapshot_id", DataType::Int64, true),
        Field::new("seconds", DataType::Float64, false),
    ]))
}

fn report_frame(session: &HepqSession, reports: &[RefreshReport]) -> Result<DataFrame> {
    let schema = report_schema();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            reports.iter().map(|r| r.view.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            reports.iter().map(|r| r.mode.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            reports.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(Int64Array::from_iter(reports.iter().map(|r| r.rows_in))),
        Arc::new(Int64Array::from_iter_values(
            reports.iter().map(|r| r.rows_out),
        )),
        Arc::new(Int64Array::from_iter_values(
            reports.iter().map(|r| r.source_files),
        )),
        Arc::new(Int64Array::from_iter(reports.iter().map(|r| r.snapshot_id))),
        Arc::new(Float64Array::from_iter_values(
            reports.iter().map(|r| r.seconds),
        )),
    ];
    let batch =
        RecordBatch::try_new(Arc::clone(&schema), columns).map_err(DataFusionError::from)?;
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    Ok(session.context().read_table(Arc::new(table))?)
}

// ---------------------------------------------------------------------------------------------
// Refresh leases: who is refreshing.

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The lease tokens of refreshes running in this process.
fn active_tokens() -> &'static Mutex<HashSet<String>> {
    static ACTIVE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    ACTIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // splitmix64 of time, process and counter: unique enough for folder names and leases.
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9E37_79B9);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:012x}", (x ^ (x >> 31)) & 0xFFFF_FFFF_FFFF)
}

/// Whether the holder `host:pid:token` of a lease is still running: in this process, its
/// token is active; on this host, its process exists; on another host, assumed so.
fn holder_alive(holder: &str) -> bool {
    let mut parts = holder.splitn(3, ':');
    let (Some(host), Some(pid), Some(token)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if host != host_name() {
        return true;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return active_tokens()
            .lock()
            .map(|a| a.contains(token))
            .unwrap_or(true);
    }
    let proc_dir = std::path::Path::new("/proc");
    if !proc_dir.exists() {
        return true;
    }
    proc_dir.join(pid.to_string()).exists()
}

/// A lease held by this process; ends (and, if the refresh never finished, records it as
/// failed) when dropped — also when a cancelled query drops the refresh mid-way.
struct Lease {
    store: Arc<CatalogStore>,
    schema: String,
    name: String,
    token: String,
    owner: String,
    refresh_id: Option<i64>,
    finished: bool,
}

impl Lease {
    fn new(store: &Arc<CatalogStore>, schema: &str, name: &str) -> Self {
        let token = new_token();
        if let Ok(mut active) = active_tokens().lock() {
            active.insert(token.clone());
        }
        Self {
            store: Arc::clone(store),
            schema: schema.into(),
            name: name.into(),
            owner: format!("{}:{}:{token}", host_name(), std::process::id()),
            token,
            refresh_id: None,
            finished: false,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut active) = active_tokens().lock() {
            active.remove(&self.token);
        }
        let (Some(id), false) = (self.refresh_id, self.finished) else {
            return;
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let store = Arc::clone(&self.store);
            let (schema, name, owner) =
                (self.schema.clone(), self.name.clone(), self.owner.clone());
            handle.spawn(async move {
                let _ = store
                    .fail_refresh(&schema, &name, id, &owner, "cancelled")
                    .await;
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The refresh.

/// Refreshes view `schema.table`: incrementally where the query allows and `full` is not set.
pub(crate) async fn refresh(
    session: &HepqSession,
    store: &Arc<CatalogStore>,
    schema: &str,
    table: &str,
    full: bool,
) -> Result<RefreshReport> {
    let started = Instant::now();
    let view = store
        .materialized_view(schema, table)
        .await?
        .ok_or_else(|| config(format!("materialized view {schema}.{table} does not exist")))?;
    let mut lease = Lease::new(store, schema, table);
    let refresh_id = store
        .begin_refresh(schema, table, &lease.owner, &holder_alive)
        .await?;
    lease.refresh_id = Some(refresh_id);
    let result = refresh_locked(session, store, &view, &lease, refresh_id, full).await;
    lease.finished = true;
    match result {
        Ok(mut report) => {
            report.seconds = started.elapsed().as_secs_f64();
            Ok(report)
        }
        Err(e) => {
            let message = e.to_string();
            let _ = store
                .fail_refresh(schema, table, refresh_id, &lease.owner, &message)
                .await;
            Err(e)
        }
    }
}

/// Data folder names this engine writes: `r<refresh id>-<12 hex digits>`.
fn is_data_dir(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('r') else {
        return false;
    };
    let Some((id, token)) = rest.split_once('-') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && token.len() == 12
        && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Deletes every data folder of the view that no kept snapshot names (left by a refresh that
/// died before its commit). Runs under the lease, so no other refresh is writing one.
async fn remove_orphans(
    session: &HepqSession,
    store: &CatalogStore,
    view: &MaterializedViewEntry,
) -> Result<()> {
    let referenced: HashSet<String> = store
        .snapshots()
        .await?
        .into_iter()
        .filter(|s| s.schema == view.schema && s.name == view.name)
        .flat_map(|s| s.dirs)
        .collect();
    let data = format!("{}data/", view.location);
    let (object_store, prefix) = object_store_for(session, &data)?;
    let listed: Vec<_> = object_store
        .list(Some(&prefix))
        .try_collect()
        .await
        .unwrap_or_default();
    let mut dirs: HashSet<String> = listed
        .iter()
        .filter_map(|o| o.location.prefix_match(&prefix)?.next())
        .map(|d| d.as_ref().to_string())
        .collect();
    // A local folder holding only a killed writer's staging files lists no objects.
    if !data.contains("://")
        && let Ok(entries) = std::fs::read_dir(&data)
    {
        dirs.extend(
            entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok()),
        );
    }
    for dir in dirs {
        if is_data_dir(&dir) && !referenced.contains(&dir) {
            delete_folder(session, &format!("{data}{dir}/")).await;
        }
    }
    Ok(())
}

/// Why a query cannot be refreshed incrementally, or its one source scan.
fn row_wise_scan(plan: &LogicalPlan) -> std::result::Result<TableScan, String> {
    let mut scans = Vec::new();
    let mut problem: Option<String> = None;
    let walk = plan.apply(|node| {
        let what = match node {
            LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Unnest(_) => None,
            LogicalPlan::TableScan(scan) => {
                scans.push(scan.clone());
                None
            }
            LogicalPlan::Aggregate(_) => Some("aggregates".to_string()),
            LogicalPlan::Join(_) => Some("joins".to_string()),
            LogicalPlan::Sort(_) => Some("sorts".to_string()),
            LogicalPlan::Limit(_) => Some("a LIMIT".to_string()),
            LogicalPlan::Window(_) => Some("window functions".to_string()),
            LogicalPlan::Distinct(_) => Some("DISTINCT".to_string()),
            LogicalPlan::Union(_) => Some("UNION".to_string()),
            other => {
                let shown = other.display().to_string();
                let step = shown.split(':').next().unwrap_or("").trim().to_string();
                Some(format!("a step that is not row-wise ({step})"))
            }
        };
        if let Some(what) = what {
            problem = Some(format!("the query has {what}"));
            return Ok(TreeNodeRecursion::Stop);
        }
        for expr in node.expressions() {
            if expr.is_volatile() {
                problem = Some("the query calls a volatile function".into());
                return Ok(TreeNodeRecursion::Stop);
            }
            let subquery = expr
                .exists(|e| {
                    Ok(matches!(
                        e,
                        Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_)
                    ))
                })
                .unwrap_or(true);
            if subquery {
                problem = Some("the query has a subquery".into());
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    if let Err(e) = walk {
        return Err(format!("the query could not be analysed ({e})"));
    }
    if let Some(problem) = problem {
        return Err(problem);
    }
    match <[TableScan; 1]>::try_from(scans) {
        Ok([scan]) => Ok(scan),
        Err(scans) => Err(format!("the query reads {} tables, not one", scans.len())),
    }
}

/// The source's files as the listing sees them now.
async fn source_files(
    session: &HepqSession,
    listing: &ListingTable,
) -> Result<Vec<(SourceFile, String)>> {
    let state = session.state();
    let listed = listing.list_files_for_scan(&state, &[], None).await?;
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for group in listed.file_groups {
        for file in group.files() {
            let meta = &file.object_meta;
            let key = meta.location.as_ref().to_string();
            if !seen.insert(key.clone()) {
                continue;
            }
            files.push((
                SourceFile {
                    path: key.clone(),
                    size: i64::try_from(meta.size).unwrap_or(i64::MAX),
                    modified_us: meta.last_modified.timestamp_micros(),
                },
                key,
            ));
        }
    }
    files.sort();
    Ok(files)
}

enum Plan {
    Full {
        reason: String,
        sources: Vec<SourceFile>,
    },
    Incremental {
        scan: TableScan,
        new: Vec<SourceFile>,
    },
}

async fn choose(
    session: &HepqSession,
    store: &CatalogStore,
    view: &MaterializedViewEntry,
    plan: &LogicalPlan,
    full: bool,
) -> Result<Plan> {
    let scan = row_wise_scan(plan);
    let listing_files = match &scan {
        Ok(scan) => {
            let provider = source_as_provider(&scan.source)?;
            match provider.downcast_ref::<ListingTable>() {
                Some(listing) => Ok(source_files(session, listing).await?),
                None => Err(format!(
                    "its source {} is not a table of files",
                    scan.table_name
                )),
            }
        }
        Err(reason) => Err(reason.clone()),
    };
    let (scan, files) = match (scan, listing_files) {
        (Ok(scan), Ok(files)) => (scan, files),
        (_, Err(reason)) => {
            return Ok(Plan::Full {
                reason,
                sources: vec![],
            });
        }
        (Err(reason), _) => {
            return Ok(Plan::Full {
                reason,
                sources: vec![],
            });
        }
    };
    let sources: Vec<SourceFile> = files.into_iter().map(|(f, _)| f).collect();
    let full_because = |reason: &str| Plan::Full {
        reason: reason.to_string(),
        sources: sources.clone(),
    };
    if full {
        return Ok(full_because("FULL was asked for"));
    }
    if view.current_snapshot.is_none() {
        return Ok(full_because("first refresh"));
    }
    let stored = match &view.arrow_schema {
        Some(bytes) => Some(schema_from_bytes(bytes, &view.qualified_name())?),
        None => None,
    };
    if !stored.is_some_and(|s| same_columns(&s, plan.schema().as_arrow())) {
        return Ok(full_because("the query's columns changed"));
    }
    let previous = store.source_files(&view.schema, &view.name).await?;
    if previous.is_empty() {
        return Ok(full_because(
            "no source files were recorded by the last refresh",
        ));
    }
    let now: HashMap<&str, &SourceFile> = sources.iter().map(|s| (s.path.as_str(), s)).collect();
    for old in &previous {
        match now.get(old.path.as_str()) {
            None => {
                return Ok(full_because(&format!(
                    "source file {} was removed",
                    old.path
                )));
            }
            Some(f) if f.size != old.size || f.modified_us != old.modified_us => {
                return Ok(full_because(&format!("source file {} changed", old.path)));
            }
            Some(_) => {}
        }
    }
    let known: HashSet<&str> = previous.iter().map(|s| s.path.as_str()).collect();
    let new = sources
        .iter()
        .filter(|s| !known.contains(s.path.as_str()))
        .cloned()
        .collect();
    Ok(Plan::Incremental { scan, new })
}

/// A table that reads only some files of a listing table: the listing's scan with every other
/// file taken out of its file groups.
#[derive(Debug)]
struct FileSubset {
    inner: Arc<dyn TableProvider>,
    keep: Arc<HashSet<String>>,
}

#[async_trait]
impl TableProvider for FileSubset {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        let mut restricted = false;
        let plan = plan
            .transform_up(|node| {
                let Some(exec) = node.downcast_ref::<DataSourceExec>() else {
                    return Ok(Transformed::no(node));
                };
                let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() else {
                    return Ok(Transformed::no(node));
                };
                restricted = true;
                let groups: Vec<FileGroup> = config
                    .file_groups
                    .iter()
                    .map(|g| {
                        FileGroup::new(
                            g.files()
                                .iter()
                                .filter(|f| self.keep.contains(f.object_meta.location.as_ref()))
                                .cloned()
                                .collect(),
                        )
                    })
                    .collect();
                let unknown =
                    Statistics::new_unknown(config.file_source().table_schema().table_schema());
                let config = FileScanConfigBuilder::from(config.clone())
                    .with_file_groups(groups)
                    .with_statistics(unknown)
                    .build();
                let exec: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
                Ok(Transformed::yes(exec))
            })?
            .data;
        if !restricted {
            return plan_err!("cannot restrict the scan to new files for an incremental refresh");
        }
        Ok(plan)
    }
}

/// Rows that the plan's leaves (the scans) produced.
fn scanned_rows(plan: &Arc<dyn ExecutionPlan>) -> Option<i64> {
    if plan.children().is_empty() {
        return plan
            .metrics()
            .and_then(|m| m.output_rows())
            .map(|n| n as i64);
    }
    let mut total = 0i64;
    let mut any = false;
    for child in plan.children() {
        if let Some(n) = scanned_rows(child) {
            total += n;
            any = true;
        }
    }
    any.then_some(total)
}

async fn refresh_locked(
    session: &HepqSession,
    store: &Arc<CatalogStore>,
    view: &MaterializedViewEntry,
    lease: &Lease,
    refresh_id: i64,
    full: bool,
) -> Result<RefreshReport> {
    let qualified = view.qualified_name();
    remove_orphans(session, store, view).await?;
    let plan = plan_query(session, &view.query)
        .await
        .map_err(|e| config(format!("materialized view {qualified}: {e}")))?;
    let query_schema = plan.schema().as_arrow().clone();
    let keep_snapshots = view
        .options
        .get("keep_snapshots")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_KEEP_SNAPSHOTS);
    let chosen = choose(session, store, view, &plan, full).await?;
    let (mode, reason, plan, sources) = match chosen {
        Plan::Full { reason, sources } => ("full", reason, plan, sources),
        Plan::Incremental { scan, new } => {
            if new.is_empty() {
                let commit = RefreshCommit {
                    refresh_id,
                    owner: lease.owner.clone(),
                    mode: "incremental".into(),
                    reason: "no new source files".into(),
                    new_dir: None,
                    rows_out: 0,
                    rows_in: Some(0),
                    sources: vec![],
                    arrow_schema: schema_bytes(&query_schema)?,
                    keep_snapshots,
                    iceberg: None,
                };
                store
                    .commit_refresh(&view.schema, &view.name, &commit)
                    .await?;
                return Ok(RefreshReport {
                    view: qualified,
                    mode: "incremental".into(),
                    reason: "no new source files".into(),
                    rows_out: 0,
                    rows_in: Some(0),
                    source_files: 0,
                    snapshot_id: None,
                    seconds: 0.0,
                });
            }
            let subset = Arc::new(FileSubset {
                inner: source_as_provider(&scan.source)?,
                keep: Arc::new(new.iter().map(|s| s.path.clone()).collect()),
            });
            let source = provider_as_source(subset);
            let plan = plan
                .transform_up(|node| match node {
                    LogicalPlan::TableScan(mut s) if s.table_name == scan.table_name => {
                        s.source = Arc::clone(&source);
                        Ok(Transformed::yes(LogicalPlan::TableScan(s)))
                    }
                    other => Ok(Transformed::no(other)),
                })?
                .data;
            let reason = format!("{} new source file(s)", new.len());
            ("incremental", reason, plan, new)
        }
    };

    let dir = format!("r{refresh_id}-{}", new_token());
    let url = format!("{}data/{dir}/", view.location);
    if view.format == "iceberg" {
        let written = IcebergRefresh {
            view,
            lease,
            refresh_id,
            mode,
            reason: reason.clone(),
            dir: dir.clone(),
            url: url.clone(),
            sources,
            arrow_schema: schema_bytes(&query_schema)?,
            keep_snapshots,
        };
        return written.run(session, store, plan).await;
    }
    let factory = session
        .state()
        .get_file_format_factory(&view.format)
        .ok_or_else(|| config(format!("no writer for format {}", view.format)))?;
    // The ROOT writer writes one file; Parquet writes a folder (of Hive folders).
    let target = if view.format == "root" {
        format!("{url}skim.root")
    } else {
        url.clone()
    };
    let copy = LogicalPlanBuilder::copy_to(
        plan,
        target,
        format_as_file_type(factory),
        HashMap::new(),
        view.partition_columns.clone(),
    )?
    .build()?;
    let state = session.state();
    let physical = state.create_physical_plan(&copy).await?;
    let written = collect(Arc::clone(&physical), session.context().task_ctx()).await;
    let batches = match written {
        Ok(b) => b,
        Err(e) => {
            delete_folder(session, &url).await;
            return Err(config(format!("materialized view {qualified}: {e}")));
        }
    };
    let rows_out: i64 = batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
        .flat_map(|a| a.iter().flatten())
        .map(|n| n as i64)
        .sum();
    let rows_in = scanned_rows(&physical);
    let files = match data_files(session, &url, &dir).await {
        Ok(f) => f,
        Err(e) => {
            delete_folder(session, &url).await;
            return Err(e);
        }
    };
    let source_count = sources.len() as i64;
    let commit = RefreshCommit {
        refresh_id,
        owner: lease.owner.clone(),
        mode: mode.into(),
        reason: reason.clone(),
        new_dir: Some((dir, files)),
        rows_out,
        rows_in,
        sources,
        arrow_schema: schema_bytes(&query_schema)?,
        keep_snapshots,
        iceberg: None,
    };
    let outcome = match store
        .commit_refresh(&view.schema, &view.name, &commit)
        .await
    {
        Ok(o) => o,
        Err(e) => {
            delete_folder(session, &url).await;
            return Err(e.into());
        }
    };
    for expired in &outcome.expired_dirs {
        delete_folder(session, &format!("{}data/{expired}/", view.location)).await;
    }
    Ok(RefreshReport {
        view: qualified,
        mode: mode.into(),
        reason,
        rows_out,
        rows_in,
        source_files: source_count,
        snapshot_id: outcome.snapshot_id,
        seconds: 0.0,
    })
}

/// A refresh of a view in Iceberg format, once its plan is chosen.
struct IcebergRefresh<'a> {
    view: &'a MaterializedViewEntry,
    lease: &'a Lease,
    refresh_id: i64,
    mode: &'static str,
    reason: String,
    dir: String,
    url: String,
    sources: Vec<SourceFile>,
    arrow_schema: Vec<u8>,
    keep_snapshots: usize,
}

impl IcebergRefresh<'_> {
    /// Writes the content's Parquet files (with Iceberg field ids and partition values) into a
    /// new data folder, prepares the Iceberg snapshot (append, or overwrite for a full
    /// refresh), and commits both it and hepq's refresh record in one SQLite transaction.
    async fn run(
        self,
        session: &HepqSession,
        store: &Arc<CatalogStore>,
        plan: LogicalPlan,
    ) -> Result<RefreshReport> {
        let view = self.view;
        let qualified = view.qualified_name();
        let iceberg = session
            .iceberg()
            .ok_or_else(|| config("Iceberg materialized views need a warehouse"))?;
        let info = iceberg.load(&view.schema, &view.name).await?;
        let state = session.state();
        let physical = state.create_physical_plan(&plan).await?;
        let data_dir = self.url.trim_end_matches('/').to_string();
        let files = match crate::iceberg::write_data_files(
            Arc::clone(&physical),
            session.context().task_ctx(),
            &info,
            Some(data_dir),
        )
        .await
        {
            Ok(f) => f,
            Err(e) => {
                delete_folder(session, &self.url).await;
                return Err(config(format!("materialized view {qualified}: {e}")));
            }
        };
        let rows_out: i64 = files.iter().map(|f| f.rows as i64).sum();
        let rows_in = scanned_rows(&physical);
        let mode = if self.mode == "incremental" {
            CommitMode::Append
        } else {
            CommitMode::Replace
        };
        let properties = HashMap::from([
            ("hepq.refresh-id".to_string(), self.refresh_id.to_string()),
            ("hepq.refresh-mode".to_string(), self.mode.to_string()),
        ]);
        let prepared = match iceberg
            .prepare_commit(
                &view.schema,
                &view.name,
                files.clone(),
                mode,
                properties,
                Some(self.keep_snapshots.max(2)),
            )
            .await
        {
            Ok(p) => p,
            Err(e) => {
                delete_folder(session, &self.url).await;
                return Err(e.into());
            }
        };
        let data_files = files
            .iter()
            .map(|f| DataFile {
                dir: self.dir.clone(),
                path: f.path.clone(),
                size: i64::try_from(f.size).unwrap_or(i64::MAX),
                rows: i64::try_from(f.rows).ok(),
            })
            .collect();
        let source_count = self.sources.len() as i64;
        let commit = RefreshCommit {
            refresh_id: self.refresh_id,
            owner: self.lease.owner.clone(),
            mode: self.mode.into(),
            reason: self.reason.clone(),
            new_dir: Some((self.dir.clone(), data_files)),
            rows_out,
            rows_in,
            sources: self.sources,
            arrow_schema: self.arrow_schema,
            keep_snapshots: self.keep_snapshots,
            iceberg: Some(prepared),
        };
        let outcome = match store
            .commit_refresh(&view.schema, &view.name, &commit)
            .await
        {
            Ok(o) => o,
            Err(e) => {
                delete_folder(session, &self.url).await;
                return Err(e.into());
            }
        };
        for expired in &outcome.expired_dirs {
            delete_folder(session, &format!("{}data/{expired}/", view.location)).await;
        }
        Ok(RefreshReport {
            view: qualified,
            mode: self.mode.into(),
            reason: self.reason,
            rows_out,
            rows_in,
            source_files: source_count,
            snapshot_id: outcome.snapshot_id,
            seconds: 0.0,
        })
    }
}

/// The table a materialised view reads as: its Iceberg table for format `iceberg`, else its
/// current snapshot's data folders.
pub(crate) async fn open_table(
    store: &Arc<CatalogStore>,
    iceberg: Option<&Arc<IcebergCatalog>>,
    view: &MaterializedViewEntry,
) -> Result<Arc<dyn TableProvider>> {
    if view.format == "iceberg" {
        let iceberg = iceberg.ok_or_else(|| config("the session has no Iceberg catalog"))?;
        let table =
            crate::iceberg::IcebergTable::open(Arc::clone(iceberg), &view.schema, &view.name, None)
                .await?;
        return Ok(Arc::new(table));
    }
    Ok(Arc::new(MaterializedViewTable::open(
        Arc::clone(store),
        view,
    )?))
}

/// The row count in a Parquet file's footer (`None` if it cannot be read).
async fn parquet_rows(
    store: &Arc<dyn ObjectStore>,
    meta: &object_store::ObjectMeta,
) -> Option<i64> {
    datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata::new(
        store.as_ref(),
        meta,
    )
    .fetch_metadata()
    .await
    .ok()
    .map(|m| m.file_metadata().num_rows())
}

/// The files a refresh wrote under `url`, with sizes and (from the Parquet footers) rows.
async fn data_files(session: &HepqSession, url: &str, dir: &str) -> Result<Vec<DataFile>> {
    let (object_store, prefix) = object_store_for(session, url)?;
    let listed: Vec<_> = object_store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| config(format!("cannot list {url}: {e}")))?;
    let base = url.trim_end_matches('/');
    let mut files = Vec::with_capacity(listed.len());
    for meta in listed {
        let relative = meta
            .location
            .prefix_match(&prefix)
            .map(|parts| {
                parts
                    .map(|p| p.as_ref().to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_else(|| meta.location.to_string());
        let rows = parquet_rows(&object_store, &meta).await;
        files.push(DataFile {
            dir: dir.to_string(),
            path: format!("{base}/{relative}"),
            size: i64::try_from(meta.size).unwrap_or(i64::MAX),
            rows,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

// ---------------------------------------------------------------------------------------------
// What readers see.

/// A materialised view as a table: the current snapshot's data folders, resolved at each scan.
#[derive(Debug)]
pub(crate) struct MaterializedViewTable {
    store: Arc<CatalogStore>,
    schema_name: String,
    name: String,
    location: String,
    format: String,
    table_schema: SchemaRef,
    file_schema: SchemaRef,
    partitions: Vec<(String, DataType)>,
}

impl MaterializedViewTable {
    pub(crate) fn open(store: Arc<CatalogStore>, view: &MaterializedViewEntry) -> Result<Self> {
        let qualified = view.qualified_name();
        let bytes = view.arrow_schema.as_ref().ok_or_else(|| {
            config(format!(
                "materialized view {qualified} has no stored schema"
            ))
        })?;
        let query = schema_from_bytes(bytes, &qualified)?;
        let (table_schema, file_schema) = content_schemas(&query, &view.partition_columns)?;
        let partitions = view
            .partition_columns
            .iter()
            .filter_map(|c| {
                query
                    .field_with_name(c)
                    .ok()
                    .map(|f| (c.clone(), f.data_type().clone()))
            })
            .collect();
        Ok(Self {
            store,
            schema_name: view.schema.clone(),
            name: view.name.clone(),
            location: view.location.clone(),
            format: view.format.clone(),
            table_schema,
            file_schema,
            partitions,
        })
    }
}

#[async_trait]
impl TableProvider for MaterializedViewTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.table_schema)
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
        let qualified = format!("{}.{}", self.schema_name, self.name);
        let view = self
            .store
            .materialized_view(&self.schema_name, &self.name)
            .await?
            .ok_or_else(|| {
                DataFusionError::Plan(format!("materialized view {qualified} was dropped"))
            })?;
        let dirs = match view.current_snapshot {
            Some(id) => self
                .store
                .snapshot(id)
                .await?
                .map(|s| s.dirs)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if dirs.is_empty() {
            let projected = match projection {
                Some(p) => Arc::new(self.table_schema.project(p)?),
                None => Arc::clone(&self.table_schema),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let urls = dirs
            .iter()
            .map(|d| ListingTableUrl::parse(format!("{}data/{d}/", self.location)))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let (format, extension): (Arc<dyn FileFormat>, &str) = if self.format == "root" {
            (
                FileFormatFactory::default(&hepq_connectors::root::RootFormatFactory),
                ".root",
            )
        } else {
            (
                Arc::new(
                    ParquetFormat::default().with_options(state.table_options().parquet.clone()),
                ),
                ".parquet",
            )
        };
        let options = ListingOptions::new(format)
            .with_file_extension(extension)
            .with_table_partition_cols(self.partitions.clone());
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(Arc::clone(&self.file_schema));
        ListingTable::try_new(config)?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// Materialised views whose schedule says a refresh is due now: never refreshed, or the
/// schedule's next time after the last refresh's start has passed (so a run missed while no
/// server was up runs once).
pub async fn due_refreshes(store: &CatalogStore) -> Result<Vec<(String, String)>> {
    let views = store.materialized_views().await?;
    let last_starts: HashMap<(String, String), i64> = store
        .last_refresh_starts()
        .await?
        .into_iter()
        .map(|(schema, name, start)| ((schema, name), start))
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let mut due = Vec::new();
    for view in views {
        let Some(text) = &view.refresh_schedule else {
            continue;
        };
        let Ok(schedule) = Schedule::parse(text) else {
            continue;
        };
        if view.refresh_owner.as_deref().is_some_and(holder_alive) {
            continue;
        }
        let last = last_starts
            .get(&(view.schema.clone(), view.name.clone()))
            .copied()
            .unwrap_or(view.created_at_us);
        if schedule.next_after_us(last).is_some_and(|next| next <= now) {
            due.push((view.schema.clone(), view.name.clone()));
        }
    }
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_folder_names() {
        let token = new_token();
        assert_eq!(token.len(), 12, "{token}");
        assert!(is_data_dir(&format!("r12-{token}")));
        assert!(!is_data_dir("r12"));
        assert!(!is_data_dir("user-files"));
        assert!(!is_data_dir(&format!("rx-{token}")));
    }

    #[test]
    fn leases_of_dead_processes_are_free() {
        let me = format!("{}:{}:nothere", host_name(), std::process::id());
        assert!(!holder_alive(&me));
        assert!(!holder_alive("garbage"));
        assert!(holder_alive("some-other-host:1:x"));
        assert!(!holder_alive(&format!("{}:4294967295:x", host_name())));
    }
}
