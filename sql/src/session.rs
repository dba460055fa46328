//! The one session builder and the query facade every front end uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::{SessionConfig, SessionContext, SessionState};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{CreateExternalTable, DdlStatement, LogicalPlan};
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use hepq_catalog::iceberg::IcebergCatalog;
use hepq_catalog::{CatalogStore, TableFactory};
use url::Url;

use crate::catalog::StoredTables;
use crate::error::{Error, Result};
use crate::object_stores::{HepqObjectStoreRegistry, IoCounters, S3_TABLE_OPTIONS};

/// How to build a session. Front ends fill this from their command line, config or arguments;
/// this crate reads no environment variables itself.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Worker threads for query execution (DataFusion's target partitions); `None` = all cores.
    pub threads: Option<usize>,
    /// Upper bound on memory used by operators that buffer (sorts, joins, aggregates), in bytes.
    pub memory_limit: Option<usize>,
    /// The warehouse directory: its catalog (`catalog.sqlite`) keeps schemas, external tables
    /// and views across sessions, and every folder in its `tables/` is registered as a
    /// Parquet table (for this session only). `None`: nothing persists.
    pub warehouse: Option<PathBuf>,
    /// The catalog database of the warehouse, by URL: `postgres://…` for a PostgreSQL catalog
    /// shared by several hosts (the warehouse directory, then on a shared file system, still
    /// holds the data files), `sqlite://PATH` for another SQLite file. `None`: the warehouse's
    /// own `catalog.sqlite`. Needs a warehouse (an error without one).
    pub catalog: Option<String>,
    /// Standard AWS settings (`AWS_REGION`, `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, …) used for
    /// `s3://` locations, as read by the front end from its environment.
    pub object_store_env: Vec<(String, String)>,
}

/// A table format hepq can register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Apache Parquet (Hive-partitioned folders welcome).
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// Newline-delimited JSON.
    Json,
    /// Arrow IPC files.
    Arrow,
    /// ROOT TTree files.
    Root,
    /// ROOT RNTuple files.
    Rntuple,
    /// LEGEND LH5 (HDF5) files.
    Lh5,
}

impl Format {
    /// The name used in `STORED AS`.
    pub fn sql_name(self) -> &'static str {
        match self {
            Format::Parquet => "PARQUET",
            Format::Csv => "CSV",
            Format::Json => "JSON",
            Format::Arrow => "ARROW",
            Format::Root => "ROOT",
            Format::Rntuple => "RNTUPLE",
            Format::Lh5 => "LH5",
        }
    }

    /// Parses a format name as users write it (`parquet`, `csv`, `root`, …).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Ok(Format::Parquet),
            "csv" => Ok(Format::Csv),
            "json" | "ndjson" | "jsonl" => Ok(Format::Json),
            "arrow" | "ipc" | "feather" => Ok(Format::Arrow),
            "root" | "ttree" => Ok(Format::Root),
            "rntuple" => Ok(Format::Rntuple),
            "lh5" => Ok(Format::Lh5),
            other => Err(Error::Config(format!(
                "unknown format '{other}' (expected parquet, csv, json, arrow, root, rntuple or lh5)"
            ))),
        }
    }

    /// The format a file name's extension stands for, if any.
    pub fn from_extension(name: &str) -> Option<Self> {
        let (_, ext) = name.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "pq" | "parq" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "json" | "ndjson" | "jsonl" => Some(Format::Json),
            "arrow" | "ipc" | "feather" => Some(Format::Arrow),
            "root" => Some(Format::Root),
            "lh5" | "hdf5" | "h5" => Some(Format::Lh5),
            _ => None,
        }
    }
}

/// A hepq session: DataFusion with hepq's formats, functions and object stores.
#[derive(Clone)]
pub struct HepqSession {
    ctx: SessionContext,
    registry: Arc<HepqObjectStoreRegistry>,
    warnings: Vec<String>,
    /// The warehouse's catalog, where DDL is recorded; `None` without a warehouse.
    catalog: Option<Arc<CatalogStore>>,
    /// The warehouse's Iceberg tables; `None` without a warehouse.
    iceberg: Option<Arc<IcebergCatalog>>,
    /// Opens the warehouse's stored tables; `None` without a warehouse.
    factory: Option<Arc<dyn TableFactory>>,
    /// The warehouse directory, if any.
    warehouse: Option<PathBuf>,
}

impl std::fmt::Debug for HepqSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HepqSession")
            .field("session_id", &self.ctx.session_id())
            .finish()
    }
}

impl HepqSession {
    /// Builds a session: the engine, hepq's table factories and functions, the object-store
    /// registry and memory pool, then the warehouse's tables.
    pub async fn new(options: SessionOptions) -> Result<Self> {
        if options.catalog.is_some() && options.warehouse.is_none() {
            return Err(Error::Config(
                "a catalog database needs a warehouse directory (it holds the data files): \
                 give a warehouse too"
                    .into(),
            ));
        }
        let counters = Arc::new(IoCounters::default());
        let registry = Arc::new(HepqObjectStoreRegistry::new(
            options.object_store_env.clone(),
            counters,
        ));
        // No file-listing cache: DataFusion's default keeps a table's first listing for the
        // session's lifetime, so a server connection or notebook would never see files that
        // arrive later. Each query lists its folders again, as DuckDB does.
        let mut runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::clone(&registry) as Arc<dyn ObjectStoreRegistry>)
            .with_cache_manager(
                datafusion::execution::cache::cache_manager::CacheManagerConfig::default()
                    .with_list_files_cache_limit(0),
            );
        if let Some(limit) = options.memory_limit {
            let top = std::num::NonZeroUsize::new(5).unwrap_or(std::num::NonZeroUsize::MIN);
            runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(
                FairSpillPool::new(limit),
                top,
            )));
        }
        let runtime = runtime.build_arc()?;

        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("hepq", "public")
            .with_create_default_catalog_and_schema(true);
        if let Some(threads) = options.threads {
            config = config.with_target_partitions(threads.max(1));
        }
        // HEP column names are mixed-case (`MET_pt`, `Jet_pt`, `luminosityBlock`): identifiers
        // match as written instead of being folded to lower case. Function names and keywords
        // stay case-insensitive.
        config.options_mut().sql_parser.enable_ident_normalization = false;
        // DuckDB's dialect (PostgreSQL's, plus lambdas `x -> x * 2` for `array_transform` and
        // `list_filter`, struct literals `{'a': 1}` and list slices), so analyses written for
        // DuckDB read the same here; `f(a = b)` stays a comparison (`dialect.rs`).
        // `SET datafusion.sql_parser.dialect = …` changes it.
        config.options_mut().sql_parser.dialect = datafusion::common::config::Dialect::DuckDB;
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .build();
        hepq_connectors::register_table_factories(&mut state);
        hepq_udfs::register_all(&mut state)?;
        for (name, function) in hepq_udfs::all_table_functions() {
            state.register_udtf(name, function);
        }

        let ctx = SessionContext::new_with_state(state);
        for (name, function) in hepq_connectors::table_functions() {
            ctx.register_udtf(name, function);
        }
        let mut session = Self {
            ctx,
            registry,
            warnings: Vec::new(),
            catalog: None,
            iceberg: None,
            factory: None,
            warehouse: options.warehouse.clone(),
        };
        if let Some(warehouse) = &options.warehouse {
            session
                .open_catalog(warehouse, options.catalog.as_deref())
                .await?;
            session.open_warehouse(warehouse).await?;
        }
        Ok(session)
    }

    /// The DataFusion context underneath, for front ends that need the engine directly.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// A snapshot of the session state (configuration, catalogs, functions).
    pub fn state(&self) -> SessionState {
        self.ctx.state()
    }

    /// Bytes and files read so far through this session's object stores.
    pub fn io_counters(&self) -> &Arc<IoCounters> {
        self.registry.counters()
    }

    /// Problems met while opening the warehouse (a table folder that could not be read, …).
    /// They do not stop the session; front ends show them.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Splits `sql` into statements, checking syntax. Errors name the line and column.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        let dialect = session_dialect(&self.ctx.state())?;
        Ok(crate::statements::parse_sql(sql, dialect.as_ref())?.into())
    }

    /// Plans and starts one parsed statement. DDL and `SET` take effect at once; a query comes
    /// back as a lazy [`DataFrame`] to stream or collect.
    ///
    /// With a warehouse, `CREATE SCHEMA`, `CREATE EXTERNAL TABLE`, `CREATE VIEW` and their
    /// `DROP`s are recorded in its catalog once DataFusion has accepted them (a refused
    /// statement records nothing); `CREATE TEMPORARY VIEW`/`TEMPORARY EXTERNAL TABLE` last
    /// for this session only.
    pub async fn run_statement(&self, statement: Statement) -> Result<DataFrame> {
        self.execute(statement, true).await
    }

    /// The logical plan of one parsed statement, for front ends that plan a statement before
    /// running it (the server describes at Parse and runs at Execute). hepq's own statements
    /// (`CREATE`/`REFRESH`/`DROP MATERIALIZED VIEW`) become plans that act only when executed;
    /// [`crate::command::command_tag`] names them.
    pub async fn plan_statement(&self, statement: Statement) -> Result<LogicalPlan> {
        if let Some(extension) = crate::statements::classify(&statement) {
            return crate::materialized::plan(self, extension).await;
        }
        let mut statement = statement;
        if let (Statement::Statement(sql), Some(_)) = (&mut statement, &self.catalog) {
            // Planned only (an Iceberg table's partitioning matters when it is run).
            crate::iceberg::partitioning_of(sql)?;
        }
        Ok(self.ctx.state().statement_to_plan(statement).await?)
    }

    /// [`HepqSession::run_statement`], recording DDL in the catalog only when `persist`.
    async fn execute(&self, statement: Statement, persist: bool) -> Result<DataFrame> {
        let hidden = match self.catalog {
            Some(_) if persist => crate::catalog::hide_targets(self, &statement),
            _ => Vec::new(),
        };
        let result = self.execute_with(statement, persist).await;
        if result.is_err() {
            crate::catalog::restore_hidden(hidden);
        }
        result
    }

    async fn execute_with(&self, statement: Statement, persist: bool) -> Result<DataFrame> {
        if let Some(extension) = crate::statements::classify(&statement) {
            return crate::materialized::run(self, extension).await;
        }
        let store = self.catalog.as_ref().filter(|_| persist);
        let external = match (&statement, store) {
            (Statement::CreateExternalTable(ast), Some(_)) => Some(ast.clone()),
            _ => None,
        };
        let mut statement = statement;
        // `CREATE TEMPORARY TABLE` (DataFusion has none): an in-memory table of this session;
        // without the keyword, a warehouse schema makes an Iceberg table.
        let mut temporary_table = false;
        if let Statement::Statement(sql) = &mut statement
            && let datafusion::sql::sqlparser::ast::Statement::CreateTable(create) = sql.as_mut()
            && create.temporary
        {
            create.temporary = false;
            temporary_table = true;
        }
        let partitioning = match (&mut statement, store) {
            (Statement::Statement(sql), Some(_)) => crate::iceberg::partitioning_of(sql)?,
            _ => Vec::new(),
        };
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        let plan = self.prepare_plan(plan)?;
        // DataFusion has no temporary tables or views: here they are session-only ones.
        let (plan, temporary) = match plan {
            LogicalPlan::Ddl(DdlStatement::CreateView(mut cmd)) if cmd.temporary => {
                cmd.temporary = false;
                (LogicalPlan::Ddl(DdlStatement::CreateView(cmd)), true)
            }
            plan @ LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(_)) if temporary_table => {
                (plan, true)
            }
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(mut cmd)) if cmd.temporary => {
                cmd.temporary = false;
                (
                    LogicalPlan::Ddl(DdlStatement::CreateExternalTable(cmd)),
                    true,
                )
            }
            plan => (plan, false),
        };
        match store {
            Some(store) if !temporary && matches!(plan, LogicalPlan::Ddl(_)) => {
                crate::catalog::run_ddl(self, store, plan, external, partitioning).await
            }
            _ => Ok(self.ctx.execute_logical_plan(plan).await?),
        }
    }

    /// The warehouse's catalog, if the session has a warehouse.
    pub fn catalog(&self) -> Option<&Arc<CatalogStore>> {
        self.catalog.as_ref()
    }

    /// What opens the warehouse's stored tables, if the session has a warehouse.
    pub(crate) fn table_factory(&self) -> Option<Arc<dyn TableFactory>> {
        self.factory.clone()
    }

    /// The warehouse's Iceberg tables, if the session has a warehouse.
    pub fn iceberg(&self) -> Option<&Arc<IcebergCatalog>> {
        self.iceberg.as_ref()
    }

    /// The warehouse directory, if the session has one.
    pub fn warehouse(&self) -> Option<&Path> {
        self.warehouse.as_deref()
    }

    /// `REFRESH MATERIALIZED VIEW schema.name [FULL]`, returning what the refresh did.
    pub async fn refresh_materialized_view(
        &self,
        schema: &str,
        name: &str,
        full: bool,
    ) -> Result<crate::materialized::RefreshReport> {
        let store = self.catalog.clone().ok_or_else(|| {
            Error::Config("materialized views need a warehouse (--warehouse DIR)".into())
        })?;
        crate::materialized::refresh(self, &store, schema, name, full).await
    }

    /// Runs every `;`-separated statement of `sql` in order and returns the last one's result,
    /// not yet executed (`None` for an empty script). Earlier statements run to completion.
    pub async fn run_script(&self, sql: &str) -> Result<Option<DataFrame>> {
        let statements = self.parse(sql)?;
        let count = statements.len();
        let mut last = None;
        for (i, statement) in statements.into_iter().enumerate() {
            let df = self.run_statement(statement).await?;
            if i + 1 == count {
                last = Some(df);
            } else {
                df.collect().await?;
            }
        }
        Ok(last)
    }

    /// Runs `sql` (one or more statements) and collects the last result.
    pub async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        match self.run_script(sql).await? {
            Some(df) => {
                let schema = Arc::new(df.schema().as_arrow().clone());
                Ok((schema, df.collect().await?))
            }
            None => Ok((
                Arc::new(datafusion::arrow::datatypes::Schema::empty()),
                vec![],
            )),
        }
    }

    /// Registers `location` (file, folder, glob or URL) as table `name`, as
    /// `CREATE EXTERNAL TABLE` would, inferring the format from the extension unless given.
    /// The table lasts for this session only (it is not recorded in the warehouse's catalog).
    pub async fn register(&self, name: &str, location: &str, format: Option<Format>) -> Result<()> {
        let format = match format {
            Some(f) => f,
            None => self.infer_format(location).await?,
        };
        let sql = format!(
            "CREATE OR REPLACE EXTERNAL TABLE {} STORED AS {} LOCATION {}",
            quote_identifier(name),
            format.sql_name(),
            quote_literal(location)
        );
        let run = async {
            for statement in self.parse(&sql)? {
                self.execute(statement, false).await?.collect().await?;
            }
            Ok::<_, Error>(())
        };
        run.await.map_err(|e| match e {
            Error::Engine(e) => Error::Config(format!("cannot register '{name}': {e}")),
            other => other,
        })?;
        Ok(())
    }

    /// Describes a ROOT file (`hepq inspect`): its trees and every branch with ROOT type,
    /// Arrow type or why it is unsupported, entries, baskets, sizes and codec.
    pub async fn inspect(&self, location: &str) -> Result<String> {
        use object_store::ObjectStoreExt;
        let url = datafusion::datasource::listing::ListingTableUrl::parse(location)?;
        let store = self.ctx.runtime_env().object_store(url.object_store())?;
        let object = store
            .head(url.prefix())
            .await
            .map_err(|e| Error::Config(format!("cannot open '{location}': {e}")))?;
        Ok(hepq_connectors::root::inspect::inspect(&store, &object, location).await?)
    }

    /// The format of `location` from its extension, or from the first file inside a folder.
    pub async fn infer_format(&self, location: &str) -> Result<Format> {
        let trimmed = location.trim_end_matches('/');
        let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
        if let Some(format) = Format::from_extension(last) {
            return Ok(format);
        }
        let local = Path::new(location);
        if !location.contains("://") && !local.exists() && !last.contains(['*', '?', '[']) {
            return Err(Error::Config(format!("'{location}' does not exist")));
        }
        // A folder (or a URL prefix): look at what is inside.
        let url = datafusion::datasource::listing::ListingTableUrl::parse(location)?;
        let store = self.ctx.runtime_env().object_store(url.object_store())?;
        let mut listing = store.list(Some(url.prefix()));
        use futures::TryStreamExt;
        while let Some(meta) = listing
            .try_next()
            .await
            .map_err(|e| Error::Config(format!("cannot list '{location}': {e}")))?
        {
            if let Some(format) = Format::from_extension(meta.location.as_ref()) {
                return Ok(format);
            }
        }
        Err(Error::Config(format!(
            "cannot tell the format of '{location}' from its name or contents; name it, \
             e.g. NAME:parquet=LOCATION"
        )))
    }

    /// Applies hepq's handling to a plan before it runs: S3 options of
    /// `CREATE EXTERNAL TABLE` configure the bucket's object store and are removed.
    fn prepare_plan(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        if let LogicalPlan::DescribeTable(describe) = &plan {
            return describe_with_units(&describe.schema);
        }
        let LogicalPlan::Ddl(DdlStatement::CreateExternalTable(mut cmd)) = plan else {
            return Ok(plan);
        };
        configure_s3(&self.registry, &mut cmd)?;
        Ok(LogicalPlan::Ddl(DdlStatement::CreateExternalTable(cmd)))
    }

    /// Opens the warehouse's catalog and puts its schemas, tables and views into the session
    /// (listed now, opened when first used) along with the system tables (`hepq.tables`).
    async fn open_catalog(&mut self, warehouse: &Path, catalog: Option<&str>) -> Result<()> {
        let store = Arc::new(CatalogStore::open(warehouse, catalog).await?);
        let iceberg = Arc::new(IcebergCatalog::open(&store, warehouse).await?);
        let factory: Arc<dyn TableFactory> = Arc::new(StoredTables::new(
            &self.ctx,
            Arc::clone(&self.registry),
            Arc::clone(&store),
            Some(Arc::clone(&iceberg)),
        ));
        let warnings =
            crate::catalog::install(&self.ctx, &store, Some(&iceberg), Arc::clone(&factory))
                .await?;
        self.factory = Some(factory);
        self.warnings.extend(warnings);
        self.catalog = Some(store);
        self.iceberg = Some(iceberg);
        Ok(())
    }

    /// Registers each folder of `warehouse/tables/` as a Parquet table named after it, for
    /// this session (a name the catalog already holds is skipped, with a warning).
    async fn open_warehouse(&mut self, warehouse: &Path) -> Result<()> {
        let tables = warehouse.join("tables");
        std::fs::create_dir_all(&tables).map_err(|source| Error::Io {
            path: tables.display().to_string(),
            source,
        })?;
        let entries = std::fs::read_dir(&tables).map_err(|source| Error::Io {
            path: tables.display().to_string(),
            source,
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if self.ctx.table_exist(name).unwrap_or(false) {
                self.warnings.push(format!(
                    "warehouse folder tables/{name} skipped: the catalog has a table '{name}'"
                ));
                continue;
            }
            let location = format!("{}/", dir.display());
            if let Err(e) = self.register(name, &location, Some(Format::Parquet)).await {
                self.warnings
                    .push(format!("warehouse table '{name}' skipped: {e}"));
            }
        }
        Ok(())
    }

    /// The session's configuration options.
    pub fn config_options(&self) -> ConfigOptions {
        self.ctx.state().config().options().as_ref().clone()
    }
}

/// The SQL dialect statements of a session are parsed with (hepq's DuckDB variant unless
/// `datafusion.sql_parser.dialect` names another); stored catalog statements are re-parsed
/// with it too.
pub(crate) fn session_dialect(
    state: &SessionState,
) -> Result<Box<dyn datafusion::sql::sqlparser::dialect::Dialect>> {
    let dialect_name = state.config().options().sql_parser.dialect;
    if dialect_name == datafusion::common::config::Dialect::DuckDB {
        return Ok(Box::new(crate::dialect::HepqDialect));
    }
    dialect_from_str(dialect_name)
        .ok_or_else(|| Error::Config(format!("unknown SQL dialect {dialect_name}")))
}

/// Applies the `aws.*` options of a `CREATE EXTERNAL TABLE`: they configure the bucket's S3
/// store (on top of the session's `AWS_*` settings) and are removed from the table's options.
pub(crate) fn configure_s3(
    registry: &HepqObjectStoreRegistry,
    cmd: &mut CreateExternalTable,
) -> Result<()> {
    let (s3_options, rest): (Vec<_>, Vec<_>) = cmd
        .options
        .clone()
        .into_iter()
        .partition(|(k, _)| k.starts_with("aws."));
    if s3_options.is_empty() {
        return Ok(());
    }
    let location = cmd.locations.first().cloned().unwrap_or_default();
    let url = Url::parse(&location)
        .map_err(|e| Error::Config(format!("'aws.*' options need an s3:// LOCATION ({e})")))?;
    if !matches!(url.scheme(), "s3" | "s3a") {
        return Err(Error::Config(format!(
            "'aws.*' options need an s3:// LOCATION, not '{location}'"
        )));
    }
    let store = registry.build_s3(&url, &s3_options)?;
    registry.register_store(&url, store);
    cmd.options = rest.into_iter().collect();
    cmd.definition = cmd.definition.take().map(|d| redact_options(&d));
    Ok(())
}

/// Quotes an identifier for SQL (`"name"`, doubling inner quotes).
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for SQL (`'text'`, doubling inner quotes).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Hides secrets in a stored table definition.
fn redact_options(definition: &str) -> String {
    let mut out = definition.to_string();
    for (option, _) in S3_TABLE_OPTIONS {
        if !option.contains("key") && !option.contains("token") {
            continue;
        }
        let mut search_from = 0;
        while let Some(found) = out[search_from..].find(option) {
            let start = search_from + found + option.len();
            // Skip the quote that closes the option name; the value is the next literal.
            let Some(key_close) = out[start..].find('\'').map(|i| start + i) else {
                break;
            };
            let Some(open) = out[key_close + 1..].find('\'').map(|i| key_close + 1 + i) else {
                break;
            };
            let Some(close) = out[open + 1..].find('\'').map(|i| open + 1 + i) else {
                break;
            };
            out.replace_range(open + 1..close, "***");
            search_from = open + 4;
        }
    }
    out
}

/// `DESCRIBE table`: DataFusion's `column_name`, `data_type`, `is_nullable`, plus `units`, the
/// physical units a connector recorded for the column (LH5's `units` attributes; for a struct
/// column, its members' units as `member: units, …`), NULL when there are none.
fn describe_with_units(schema: &datafusion::arrow::datatypes::Schema) -> Result<LogicalPlan> {
    use datafusion::arrow::array::StringBuilder;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::{MemTable, provider_as_source};
    use datafusion::logical_expr::LogicalPlanBuilder;

    fn units(field: &Field) -> Option<String> {
        if let Some(u) = field.metadata().get(hepq_connectors::lh5::UNITS_KEY) {
            return Some(u.clone());
        }
        let DataType::Struct(members) = field.data_type() else {
            return None;
        };
        let parts: Vec<String> = members
            .iter()
            .filter_map(|m| units(m).map(|u| format!("{}: {u}", m.name())))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// The type without field metadata, which `DataType`'s display would print inline.
    fn plain(data_type: &DataType) -> DataType {
        let field = |f: &Field| {
            Arc::new(
                f.clone()
                    .with_data_type(plain(f.data_type()))
                    .with_metadata(Default::default()),
            )
        };
        match data_type {
            DataType::Struct(fields) => DataType::Struct(fields.iter().map(|f| field(f)).collect()),
            DataType::List(f) => DataType::List(field(f)),
            DataType::LargeList(f) => DataType::LargeList(field(f)),
            DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f), *n),
            other => other.clone(),
        }
    }

    let mut names = StringBuilder::new();
    let mut types = StringBuilder::new();
    let mut nullable = StringBuilder::new();
    let mut unit = StringBuilder::new();
    for field in schema.fields() {
        names.append_value(field.name());
        types.append_value(plain(field.data_type()).to_string());
        nullable.append_value(if field.is_nullable() { "YES" } else { "NO" });
        unit.append_option(units(field));
    }
    let output = Arc::new(Schema::new(vec![
        Field::new("column_name", DataType::Utf8, false),
        Field::new("data_type", DataType::Utf8, false),
        Field::new("is_nullable", DataType::Utf8, false),
        Field::new("units", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&output),
        vec![
            Arc::new(names.finish()),
            Arc::new(types.finish()),
            Arc::new(nullable.finish()),
            Arc::new(unit.finish()),
        ],
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    let table = MemTable::try_new(output, vec![vec![batch]])?;
    Ok(LogicalPlanBuilder::scan("describe", provider_as_source(Arc::new(table)), None)?.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let d = "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/' \
                 OPTIONS ('aws.secret_access_key' 'hunter2', 'aws.region' 'eu')";
        let r = redact_options(d);
        assert!(!r.contains("hunter2") && r.contains("'eu'"), "{r}");
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::from_extension("a/b.PARQUET"), Some(Format::Parquet));
        assert_eq!(Format::from_extension("x.root"), Some(Format::Root));
        assert_eq!(Format::from_extension("dir"), None);
        assert!(Format::parse("xlsx").is_err());
    }
}
