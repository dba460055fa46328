//! Where the session meets the persistent catalog (`hepq-catalog`).
//!
//! * At start, every stored schema becomes a [`PersistentSchema`] of the default catalog
//!   `hepq`, listing its stored tables without opening them, and schema `hepq` holds the
//!   system tables ([`SystemSchema`]).
//! * A stored table is opened on first use by [`StoredTables`]: its `CREATE` statement is
//!   planned again in this session and handed to the format's table factory (which reads only
//!   metadata), or, for a view, its query is planned.
//! * [`run_ddl`] runs a DDL statement through DataFusion and, once DataFusion accepted it,
//!   records it in the catalog; a statement DataFusion refuses records nothing, and a catalog
//!   write that fails undoes the session's change where it can.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, SchemaReference, TableReference, plan_err};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::ViewTable;
use datafusion::datasource::listing::ListingTable;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{DdlStatement, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::Analyzer;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion::sql::parser::{CreateExternalTable as ExternalTableAst, DFParser, Statement};
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectType, Statement as SqlStatement, Value,
};
use futures::TryStreamExt;
use hepq_catalog::iceberg::{IcebergCatalog, PartitionTransform};
use hepq_catalog::{
    CatalogStore, PersistentSchema, SYSTEM_SCHEMA, Slot, SystemSchema, TableEntry, TableFactory,
    TableKind,
};

use crate::error::{Error, Result};
use crate::iceberg::IcebergTable;
use crate::object_stores::HepqObjectStoreRegistry;
use crate::session::{HepqSession, configure_s3, quote_literal, session_dialect};

/// The catalog whose schemas persist (the session's default catalog).
pub const DEFAULT_CATALOG: &str = "hepq";

/// A schema no session has: a stored statement is planned under a name in it, because the
/// planner looks up every table a statement names, the one it creates too, and opening a stored
/// table must not ask for itself.
const REOPEN_SCHEMA: &str = "__hepq_catalog_reopen";

/// Schemas that hold no persistent tables.
const RESERVED_SCHEMAS: &[&str] = &["information_schema", "pg_catalog", SYSTEM_SCHEMA];

/// Table options never written to the catalog: credentials come from the environment of the
/// process that opens the table.
fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("secret")
        || key.contains("password")
        || key.contains("token")
        || key.ends_with("access_key_id")
}

/// Opens the stored tables of a session: the [`TableFactory`] hepq-sql hands the catalog.
#[derive(Clone)]
pub(crate) struct StoredTables {
    /// The session's current state (`None` once the session is gone).
    state: Arc<dyn Fn() -> Option<SessionState> + Send + Sync>,
    registry: Arc<HepqObjectStoreRegistry>,
    /// The catalog (for materialised views, whose state lives there).
    store: Arc<CatalogStore>,
    /// The warehouse's Iceberg tables.
    iceberg: Option<Arc<IcebergCatalog>>,
}

impl std::fmt::Debug for StoredTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTables").finish_non_exhaustive()
    }
}

impl StoredTables {
    pub(crate) fn new(
        ctx: &datafusion::execution::context::SessionContext,
        registry: Arc<HepqObjectStoreRegistry>,
        store: Arc<CatalogStore>,
        iceberg: Option<Arc<IcebergCatalog>>,
    ) -> Self {
        let weak = ctx.state_weak_ref();
        Self {
            state: Arc::new(move || weak.upgrade().map(|s| s.read().clone())),
            registry,
            store,
            iceberg,
        }
    }
}

/// Parses one statement with the session's dialect.
fn parse_one(state: &SessionState, sql: &str) -> datafusion::common::Result<Statement> {
    let dialect = session_dialect(state).map_err(DataFusionError::from)?;
    let mut statements = DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?;
    match (statements.pop_front(), statements.is_empty()) {
        (Some(statement), true) => Ok(statement),
        _ => plan_err!("expected one statement, found {}", statements.len() + 1),
    }
}

#[async_trait]
impl TableFactory for StoredTables {
    async fn create(
        &self,
        entry: &TableEntry,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        if entry.kind == TableKind::Iceberg {
            let Some(iceberg) = &self.iceberg else {
                return plan_err!("the session has no Iceberg catalog");
            };
            let table = IcebergTable::open(Arc::clone(iceberg), &entry.schema, &entry.name, None)
                .await
                .map_err(DataFusionError::from)?;
            return Ok(Arc::new(table));
        }
        if entry.kind == TableKind::MaterializedView {
            let Some(view) = self
                .store
                .materialized_view(&entry.schema, &entry.name)
                .await?
            else {
                return plan_err!(
                    "materialized view {} has no state in the catalog",
                    entry.qualified_name()
                );
            };
            return crate::materialized::open_table(&self.store, self.iceberg.as_ref(), &view)
                .await
                .map_err(DataFusionError::from);
        }
        let Some(state) = (self.state)() else {
            return plan_err!("the session has ended");
        };
        let mut statement = parse_one(&state, &entry.definition)?;
        let placeholder = ObjectName::from(vec![
            Ident::new(REOPEN_SCHEMA),
            Ident::new(entry.name.as_str()),
        ]);
        match &mut statement {
            Statement::CreateExternalTable(create) => create.name = placeholder,
            Statement::Statement(sql) => {
                if let SqlStatement::CreateView(view) = sql.as_mut() {
                    view.name = placeholder;
                }
            }
            _ => {}
        }
        match state.statement_to_plan(statement).await? {
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(mut cmd)) => {
                cmd.name = TableReference::full(
                    DEFAULT_CATALOG,
                    entry.schema.as_str(),
                    entry.name.as_str(),
                );
                configure_s3(&self.registry, &mut cmd).map_err(DataFusionError::from)?;
                let file_type = cmd.file_type.to_uppercase();
                let Some(factory) = state.table_factories().get(file_type.as_str()) else {
                    return plan_err!("no table factory for STORED AS {file_type}");
                };
                factory.create(&state, &cmd).await
            }
            LogicalPlan::Ddl(DdlStatement::CreateView(cmd)) => {
                // As DataFusion's CREATE VIEW does: types coerced once, at creation.
                let input = Analyzer::with_rules(vec![Arc::new(TypeCoercion::new())])
                    .execute_and_check(
                        Arc::unwrap_or_clone(cmd.input),
                        state.config().options(),
                        |_, _| {},
                    )?;
                Ok(Arc::new(ViewTable::new(input, cmd.definition)))
            }
            _ => plan_err!(
                "its stored definition is not CREATE EXTERNAL TABLE or CREATE VIEW: {}",
                entry.definition
            ),
        }
    }

    async fn files(
        &self,
        entry: &TableEntry,
    ) -> datafusion::common::Result<Vec<(String, i64, Option<i64>)>> {
        if entry.kind != TableKind::External {
            return Ok(Vec::new());
        }
        let Some(state) = (self.state)() else {
            return Ok(Vec::new());
        };
        let table = self.create(entry).await?;
        let Some(listing) = table.downcast_ref::<ListingTable>() else {
            return Ok(Vec::new());
        };
        let options = listing.options();
        let partitions: Vec<&str> = options
            .table_partition_cols
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        let table_schema = table.schema();
        let file_schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
            table_schema
                .fields()
                .iter()
                .filter(|f| !partitions.contains(&f.name().as_str()))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let mut files = Vec::new();
        for url in listing.table_paths() {
            let store = state.runtime_env().object_store(url)?;
            let listed: Vec<_> = url
                .list_all_files(&state, store.as_ref(), &options.file_extension)
                .await?
                .try_collect()
                .await?;
            for meta in listed {
                let rows = options
                    .format
                    .infer_stats(&state, &store, Arc::clone(&file_schema), &meta)
                    .await
                    .ok()
                    .and_then(|s| s.num_rows.get_value().copied())
                    .and_then(|n| i64::try_from(n).ok());
                let base = url.object_store();
                let path = if base.as_str() == "file:///" {
                    format!("/{}", meta.location)
                } else {
                    format!("{}{}", base.as_str(), meta.location)
                };
                files.push((path, i64::try_from(meta.size).unwrap_or(i64::MAX), rows));
            }
        }
        files.sort();
        Ok(files)
    }

    async fn at_version(
        &self,
        table: &Arc<dyn TableProvider>,
        version: &str,
    ) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        let Some(iceberg) = table.downcast_ref::<IcebergTable>() else {
            return plan_err!(
                "only Iceberg tables have versions: '@{version}' names a snapshot of one"
            );
        };
        let Ok(snapshot) = version.parse::<i64>() else {
            return plan_err!("'@{version}' is not a snapshot id (hepq.snapshots lists them)");
        };
        let pinned = iceberg
            .at_snapshot(snapshot)
            .await
            .map_err(DataFusionError::from)?;
        Ok(Some(Arc::new(pinned)))
    }
}

/// Installs the catalog of `store` into the session: a [`PersistentSchema`] for `public` and
/// for every stored schema, and the system schema. Returns warnings (tables whose files are
/// gone: they stay in the catalog and give an error when used).
pub(crate) async fn install(
    ctx: &datafusion::execution::context::SessionContext,
    store: &Arc<CatalogStore>,
    iceberg: Option<&Arc<IcebergCatalog>>,
    factory: Arc<dyn TableFactory>,
) -> Result<Vec<String>> {
    let catalog = ctx
        .catalog(DEFAULT_CATALOG)
        .ok_or_else(|| Error::Config(format!("the session has no catalog '{DEFAULT_CATALOG}'")))?;
    let mut warnings = Vec::new();
    let mut by_schema: BTreeMap<String, Vec<TableEntry>> = BTreeMap::new();
    by_schema.insert("public".into(), Vec::new());
    for schema in store.schemas().await? {
        by_schema.entry(schema.name).or_default();
    }
    let mut tables = store.tables().await?;
    if let Some(iceberg) = iceberg {
        let extra = hepq_catalog::system::iceberg_entries(iceberg, &tables).await?;
        tables.extend(extra);
    }
    for table in tables {
        if let Some(problem) = missing_location(&table) {
            warnings.push(problem);
        }
        by_schema
            .entry(table.schema.clone())
            .or_default()
            .push(table);
    }
    for (name, tables) in by_schema {
        if RESERVED_SCHEMAS.contains(&name.as_str()) {
            warnings.push(format!(
                "catalog {}: schema '{name}' is reserved; its {} stored table(s) are not opened",
                store.location(),
                tables.len()
            ));
            continue;
        }
        let schema = PersistentSchema::new(name.clone(), tables, Arc::clone(&factory));
        catalog.register_schema(&name, Arc::new(schema))?;
    }
    let mut system = SystemSchema::new(Arc::clone(store)).with_factory(Arc::clone(&factory));
    if let Some(iceberg) = iceberg {
        system = system.with_iceberg(Arc::clone(iceberg));
    }
    catalog.register_schema(SYSTEM_SCHEMA, Arc::new(system))?;
    Ok(warnings)
}

/// A warning if a local external table's location no longer exists (checked by name only:
/// no file is opened).
fn missing_location(table: &TableEntry) -> Option<String> {
    if table.kind != TableKind::External {
        return None;
    }
    let location = table.location.as_deref()?;
    let first = location.split(", ").next().unwrap_or(location);
    if first.contains("://") {
        return None;
    }
    // For a glob, the folder before its first wildcard.
    let fixed = match first.find(['*', '?', '[']) {
        Some(i) => first[..i]
            .rsplit_once('/')
            .map(|(dir, _)| dir)
            .unwrap_or("."),
        None => first,
    };
    if Path::new(fixed).exists() {
        return None;
    }
    Some(format!(
        "table '{}': LOCATION '{location}' does not exist; the table stays in the catalog \
         (DROP TABLE {} removes it)",
        table.qualified_name(),
        table.qualified_name()
    ))
}

/// `location` made absolute if it is a relative local path (a later session may run
/// elsewhere); URLs and absolute paths are kept.
pub(crate) fn absolute_location(location: &str) -> String {
    if location.contains("://") || location.starts_with('/') || location.starts_with("file:") {
        return location.to_string();
    }
    let path = Path::new(location);
    let absolute = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) => match std::path::absolute(path) {
            Ok(p) => p,
            Err(_) => return location.to_string(),
        },
    };
    let mut text = absolute.display().to_string();
    if location.ends_with('/') && !text.ends_with('/') {
        text.push('/');
    }
    text
}

/// An option value as text (`'hit'` → `hit`).
fn option_text(value: &Value) -> String {
    match value {
        Value::SingleQuotedString(s)
        | Value::DoubleQuotedString(s)
        | Value::EscapedStringLiteral(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `CREATE EXTERNAL TABLE` statement that re-creates `ast`: every clause kept, locations
/// absolute, credentials left out, without `OR REPLACE`/`IF NOT EXISTS`.
pub(crate) fn external_table_definition(ast: &ExternalTableAst) -> String {
    let mut sql = String::from("CREATE ");
    if ast.unbounded {
        sql.push_str("UNBOUNDED ");
    }
    sql.push_str("EXTERNAL TABLE ");
    sql.push_str(&ast.name.to_string());
    let elements: Vec<String> = ast
        .columns
        .iter()
        .map(|c| c.to_string())
        .chain(ast.constraints.iter().map(|c| c.to_string()))
        .collect();
    if !elements.is_empty() {
        sql.push_str(&format!(" ({})", elements.join(", ")));
    }
    sql.push_str(&format!(" STORED AS {}", ast.file_type));
    if !ast.table_partition_cols.is_empty() {
        sql.push_str(&format!(
            " PARTITIONED BY ({})",
            ast.table_partition_cols.join(", ")
        ));
    }
    for order in &ast.order_exprs {
        let exprs: Vec<String> = order.iter().map(|o| o.to_string()).collect();
        sql.push_str(&format!(" WITH ORDER ({})", exprs.join(", ")));
    }
    let locations: Vec<String> = ast
        .locations
        .iter()
        .map(|l| quote_literal(&absolute_location(l)))
        .collect();
    match locations.as_slice() {
        [one] => sql.push_str(&format!(" LOCATION {one}")),
        many => sql.push_str(&format!(" LOCATION ({})", many.join(", "))),
    }
    let options: Vec<String> = ast
        .options
        .iter()
        .filter(|(k, _)| !is_secret_option(k))
        .map(|(k, v)| format!("{} {}", quote_literal(k), quote_literal(&option_text(v))))
        .collect();
    if !options.is_empty() {
        sql.push_str(&format!(" OPTIONS ({})", options.join(", ")));
    }
    sql
}

/// The schema and table a name stands for, if it is in the persistent (default) catalog.
pub(crate) fn persistent_name(
    session: &HepqSession,
    name: &TableReference,
) -> Option<(String, String)> {
    let state = session.context().state();
    let options = &state.config().options().catalog;
    let resolved = name
        .clone()
        .resolve(&options.default_catalog, &options.default_schema);
    if &*resolved.catalog != DEFAULT_CATALOG || RESERVED_SCHEMAS.contains(&&*resolved.schema) {
        return None;
    }
    Some((resolved.schema.to_string(), resolved.table.to_string()))
}

pub(crate) fn schema_provider(
    session: &HepqSession,
    schema: &str,
) -> Option<Arc<dyn SchemaProvider>> {
    session
        .context()
        .catalog(DEFAULT_CATALOG)
        .and_then(|c| c.schema(schema))
}

/// Takes a stored, not yet opened table out of the session (so that a statement replacing
/// it need not open it first).
fn take_unopened(
    session: &HepqSession,
    schema: &str,
    table: &str,
) -> Option<(Arc<dyn SchemaProvider>, Slot)> {
    let provider = schema_provider(session, schema)?;
    let persistent = provider.downcast_ref::<PersistentSchema>()?;
    if !persistent.is_unopened(table) {
        return None;
    }
    let slot = persistent.take(table)?;
    Some((provider, slot))
}

/// Stored tables taken out of the session for one statement: (schema, table name, slot).
pub(crate) type Hidden = Vec<(Arc<dyn SchemaProvider>, String, Slot)>;

/// Takes out of the session the stored, unopened tables that `statement` drops or replaces
/// (`DROP TABLE`/`DROP VIEW`, `CREATE OR REPLACE …`): the planner would otherwise open them
/// first, which fails for a table whose files are gone. [`restore_hidden`] puts them back if
/// the statement fails.
pub(crate) fn hide_targets(session: &HepqSession, statement: &Statement) -> Hidden {
    let names: Vec<ObjectName> = match statement {
        Statement::CreateExternalTable(create) if create.or_replace => vec![create.name.clone()],
        Statement::Statement(sql) => match sql.as_ref() {
            SqlStatement::CreateView(view) if view.or_replace => vec![view.name.clone()],
            SqlStatement::Drop {
                object_type: ObjectType::Table | ObjectType::View,
                names,
                ..
            } => names.clone(),
            _ => vec![],
        },
        _ => vec![],
    };
    let normalize = session
        .context()
        .state()
        .config()
        .options()
        .sql_parser
        .enable_ident_normalization;
    let mut hidden = Vec::new();
    for name in names {
        let Ok(reference) = object_name_to_table_reference(name, normalize) else {
            continue;
        };
        let Some((schema, table)) = persistent_name(session, &reference) else {
            continue;
        };
        if let Some((provider, slot)) = take_unopened(session, &schema, &table) {
            hidden.push((provider, table, slot));
        }
    }
    hidden
}

/// Puts back what [`hide_targets`] took out.
pub(crate) fn restore_hidden(hidden: Hidden) {
    for (provider, table, slot) in hidden {
        put_back(Some((provider, slot)), &table);
    }
}

fn put_back(taken: Option<(Arc<dyn SchemaProvider>, Slot)>, table: &str) {
    if let Some((provider, slot)) = taken
        && let Some(persistent) = provider.downcast_ref::<PersistentSchema>()
    {
        persistent.restore(table, slot);
    }
}

fn empty_result(session: &HepqSession) -> Result<DataFrame> {
    let plan = LogicalPlanBuilder::empty(false).build()?;
    Ok(DataFrame::new(session.context().state(), plan))
}

async fn execute(session: &HepqSession, plan: LogicalPlan) -> Result<DataFrame> {
    Ok(session.context().execute_logical_plan(plan).await?)
}

/// Runs a DDL `plan` (already prepared) and records it in `store` once DataFusion accepted
/// it. `ast` is the parsed `CREATE EXTERNAL TABLE`, whose clauses the plan does not keep.
pub(crate) async fn run_ddl(
    session: &HepqSession,
    store: &CatalogStore,
    plan: LogicalPlan,
    ast: Option<ExternalTableAst>,
    partitioning: Vec<(String, PartitionTransform)>,
) -> Result<DataFrame> {
    let ddl = match plan {
        LogicalPlan::Ddl(ddl) => ddl,
        other => return execute(session, other).await,
    };
    match ddl {
        DdlStatement::CreateMemoryTable(cmd) if !cmd.temporary && session.iceberg().is_some() => {
            let (Some((schema, table)), Some(iceberg)) =
                (persistent_name(session, &cmd.name), session.iceberg())
            else {
                return execute(
                    session,
                    LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(cmd)),
                )
                .await;
            };
            let Some(provider) = schema_provider(session, &schema) else {
                return Err(Error::Config(format!("schema {schema} does not exist")));
            };
            if session.context().table_exist(cmd.name.clone())? {
                if cmd.if_not_exists {
                    return empty_result(session);
                }
                let is_iceberg = iceberg.exists(&schema, &table).await?;
                if !(cmd.or_replace && is_iceberg) {
                    return Err(Error::Config(format!(
                        "table {schema}.{table} already exists{}",
                        if cmd.or_replace && !is_iceberg {
                            " and is not an Iceberg table (DROP it first)"
                        } else {
                            ""
                        }
                    )));
                }
                provider.deregister_table(&table)?;
                iceberg.drop_table(&schema, &table).await?;
            }
            let state = session.context().state();
            crate::iceberg::create_table(
                &state,
                iceberg,
                &provider,
                &schema,
                &table,
                &cmd.input,
                &partitioning,
            )
            .await?;
            empty_result(session)
        }
        DdlStatement::CreateExternalTable(cmd) => {
            let (Some((schema, table)), Some(ast)) = (persistent_name(session, &cmd.name), ast)
            else {
                return execute(
                    session,
                    LogicalPlan::Ddl(DdlStatement::CreateExternalTable(cmd)),
                )
                .await;
            };
            let existed = session.context().table_exist(cmd.name.clone())?;
            let or_replace = cmd.or_replace;
            if existed && cmd.if_not_exists {
                return execute(
                    session,
                    LogicalPlan::Ddl(DdlStatement::CreateExternalTable(cmd)),
                )
                .await;
            }
            let entry = TableEntry {
                schema: schema.clone(),
                name: table.clone(),
                kind: TableKind::External,
                format: Some(cmd.file_type.to_uppercase()),
                location: Some(
                    ast.locations
                        .iter()
                        .map(|l| absolute_location(l))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                options: ast
                    .options
                    .iter()
                    .filter(|(k, _)| !is_secret_option(k))
                    .map(|(k, v)| (k.clone(), option_text(v)))
                    .collect(),
                partition_columns: cmd.table_partition_cols.clone(),
                definition: external_table_definition(&ast),
                created_at_us: 0,
            };
            let taken = if or_replace && existed {
                take_unopened(session, &schema, &table)
            } else {
                None
            };
            let plan = LogicalPlan::Ddl(DdlStatement::CreateExternalTable(cmd));
            record_table(session, store, plan, entry, or_replace, taken).await
        }
        DdlStatement::CreateView(cmd) if !cmd.temporary => {
            let Some((schema, table)) = persistent_name(session, &cmd.name) else {
                return execute(session, LogicalPlan::Ddl(DdlStatement::CreateView(cmd))).await;
            };
            let existed = session.context().table_exist(cmd.name.clone())?;
            let or_replace = cmd.or_replace;
            let Some(definition) = cmd.definition.clone() else {
                return Err(Error::Config(format!(
                    "view {schema}.{table} has no SQL text to store in the catalog"
                )));
            };
            let entry = TableEntry {
                schema: schema.clone(),
                name: table.clone(),
                kind: TableKind::View,
                format: None,
                location: None,
                options: BTreeMap::new(),
                partition_columns: vec![],
                definition,
                created_at_us: 0,
            };
            let taken = if or_replace && existed {
                take_unopened(session, &schema, &table)
            } else {
                None
            };
            let plan = LogicalPlan::Ddl(DdlStatement::CreateView(cmd));
            record_table(session, store, plan, entry, or_replace, taken).await
        }
        DdlStatement::DropTable(cmd) => {
            let name = cmd.name.clone();
            let plan = LogicalPlan::Ddl(DdlStatement::DropTable(cmd));
            drop_table(session, store, plan, &name, false).await
        }
        DdlStatement::DropView(cmd) => {
            let name = cmd.name.clone();
            let plan = LogicalPlan::Ddl(DdlStatement::DropView(cmd));
            drop_table(session, store, plan, &name, true).await
        }
        DdlStatement::CreateCatalogSchema(cmd) => {
            let tokens: Vec<&str> = cmd.schema_name.split('.').collect();
            let name = match tokens.as_slice() {
                [schema] => Some(schema.to_string()),
                [catalog, schema] if *catalog == DEFAULT_CATALOG => Some(schema.to_string()),
                _ => None,
            };
            let Some(name) = name.filter(|n| !RESERVED_SCHEMAS.contains(&n.as_str())) else {
                return execute(
                    session,
                    LogicalPlan::Ddl(DdlStatement::CreateCatalogSchema(cmd)),
                )
                .await;
            };
            let existed = schema_provider(session, &name).is_some();
            let df = execute(
                session,
                LogicalPlan::Ddl(DdlStatement::CreateCatalogSchema(cmd)),
            )
            .await?;
            if !existed && let Err(e) = store.create_schema(&name).await {
                if let Some(catalog) = session.context().catalog(DEFAULT_CATALOG) {
                    let _ = catalog.deregister_schema(&name, true);
                }
                return Err(e.into());
            }
            // The new schema behaves as a stored one (`table@snapshot` of its Iceberg tables).
            if !existed
                && let (Some(catalog), Some(factory)) = (
                    session.context().catalog(DEFAULT_CATALOG),
                    session.table_factory(),
                )
            {
                catalog.register_schema(
                    &name,
                    Arc::new(PersistentSchema::new(name.clone(), Vec::new(), factory)),
                )?;
            }
            Ok(df)
        }
        DdlStatement::DropCatalogSchema(cmd) => {
            let (catalog, name) = match &cmd.name {
                SchemaReference::Bare { schema } => (None, schema.to_string()),
                SchemaReference::Full { catalog, schema } => {
                    (Some(catalog.to_string()), schema.to_string())
                }
            };
            let default = session
                .context()
                .state()
                .config()
                .options()
                .catalog
                .default_catalog
                .clone();
            if catalog.unwrap_or(default) != DEFAULT_CATALOG {
                return execute(
                    session,
                    LogicalPlan::Ddl(DdlStatement::DropCatalogSchema(cmd)),
                )
                .await;
            }
            if name == SYSTEM_SCHEMA {
                return Err(Error::Config(format!(
                    "schema {SYSTEM_SCHEMA} holds hepq's system tables and cannot be dropped"
                )));
            }
            let cascade = cmd.cascade;
            let iceberg_tables: Vec<String> = match session.iceberg() {
                Some(iceberg) => iceberg
                    .list()
                    .await?
                    .into_iter()
                    .filter(|(schema, _)| *schema == name)
                    .map(|(_, table)| table)
                    .collect(),
                None => Vec::new(),
            };
            if !cascade {
                // Tables another process recorded are not in this session: check the catalog.
                let mut stored: BTreeSet<String> = store
                    .tables()
                    .await?
                    .into_iter()
                    .filter(|t| t.schema == name)
                    .map(|t| t.name)
                    .collect();
                stored.extend(iceberg_tables.iter().cloned());
                if !stored.is_empty() {
                    return Err(Error::Config(format!(
                        "cannot drop schema {name}: the catalog still holds {} (drop them \
                         first, or DROP SCHEMA {name} CASCADE)",
                        stored.into_iter().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            let df = execute(
                session,
                LogicalPlan::Ddl(DdlStatement::DropCatalogSchema(cmd)),
            )
            .await?;
            if cascade {
                // Materialised views go with their data, Iceberg tables with theirs.
                for view in store.materialized_views().await? {
                    if view.schema == name {
                        crate::materialized::drop_view(session, store, &view.schema, &view.name)
                            .await?;
                    }
                }
                if let Some(iceberg) = session.iceberg() {
                    for table in &iceberg_tables {
                        if iceberg.exists(&name, table).await? {
                            iceberg.drop_table(&name, table).await?;
                        }
                    }
                }
            }
            store.drop_schema(&name, cascade).await?;
            Ok(df)
        }
        other => execute(session, LogicalPlan::Ddl(other)).await,
    }
}

/// Runs a `CREATE EXTERNAL TABLE`/`CREATE VIEW` plan, then records `entry`; on failure the
/// table taken out for the statement is put back, and a table DataFusion registered but the
/// catalog could not record is removed again.
async fn record_table(
    session: &HepqSession,
    store: &CatalogStore,
    plan: LogicalPlan,
    entry: TableEntry,
    replace: bool,
    taken: Option<(Arc<dyn SchemaProvider>, Slot)>,
) -> Result<DataFrame> {
    let df = match execute(session, plan).await {
        Ok(df) => df,
        Err(e) => {
            put_back(taken, &entry.name);
            return Err(e);
        }
    };
    if let Err(e) = store.put_table(&entry, replace).await {
        if let Some(provider) = schema_provider(session, &entry.schema) {
            let _ = provider.deregister_table(&entry.name);
        }
        put_back(taken, &entry.name);
        return Err(e.into());
    }
    Ok(df)
}

/// `DROP TABLE`/`DROP VIEW` of a stored table: a table this session has not opened is
/// removed without opening it (its files may be gone); otherwise DataFusion drops it (and
/// clears its caches) first. The catalog row goes once the session's table is gone.
async fn drop_table(
    session: &HepqSession,
    store: &CatalogStore,
    plan: LogicalPlan,
    name: &TableReference,
    view: bool,
) -> Result<DataFrame> {
    let Some((schema, table)) = persistent_name(session, name) else {
        return execute(session, plan).await;
    };
    if !view
        && let Some(iceberg) = session.iceberg()
        && iceberg.exists(&schema, &table).await?
    {
        if let Some(provider) = schema_provider(session, &schema) {
            match provider.downcast_ref::<PersistentSchema>() {
                Some(p) => {
                    p.take(&table);
                }
                None => {
                    provider.deregister_table(&table)?;
                }
            }
        }
        iceberg.drop_table(&schema, &table).await?;
        return empty_result(session);
    }
    let Some(entry) = store.table(&schema, &table).await? else {
        return execute(session, plan).await;
    };
    if entry.kind == TableKind::MaterializedView {
        return Err(Error::Config(format!(
            "{}.{} is a materialized view: use DROP MATERIALIZED VIEW",
            entry.schema, entry.name
        )));
    }
    if (entry.kind == TableKind::View) != view {
        return execute(session, plan).await;
    }
    let provider = schema_provider(session, &schema);
    let unopened = provider
        .as_ref()
        .and_then(|p| p.downcast_ref::<PersistentSchema>())
        .is_some_and(|p| p.is_unopened(&table));
    let in_session = provider.as_ref().is_some_and(|p| p.table_exist(&table));
    let df = if unopened || !in_session {
        if let Some(p) = provider
            .as_ref()
            .and_then(|p| p.downcast_ref::<PersistentSchema>())
        {
            p.take(&table);
        }
        empty_result(session)?
    } else {
        execute(session, plan).await?
    };
    store.drop_table(&schema, &table).await?;
    Ok(df)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;

    fn ast(sql: &str) -> ExternalTableAst {
        match DFParser::parse_sql_with_dialect(sql, &GenericDialect {})
            .unwrap()
            .pop_front()
            .unwrap()
        {
            Statement::CreateExternalTable(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn definitions_keep_every_clause_but_secrets() {
        let sql = "CREATE OR REPLACE EXTERNAL TABLE lhc.\"Events\" (a INT, run INT) STORED AS PARQUET \
                   PARTITIONED BY (run) LOCATION 's3://bucket/events/' \
                   OPTIONS ('aws.region' 'eu-west-1', 'aws.secret_access_key' 'hunter2', tree 'Events')";
        let definition = external_table_definition(&ast(sql));
        assert_eq!(
            definition,
            "CREATE EXTERNAL TABLE lhc.\"Events\" (a INT, run INT) STORED AS PARQUET \
             PARTITIONED BY (run) LOCATION 's3://bucket/events/' \
             OPTIONS ('aws.region' 'eu-west-1', 'tree' 'Events')"
        );
        // It parses back to the same clauses.
        let again = ast(&definition);
        assert_eq!(again.columns.len(), 2);
        assert_eq!(again.table_partition_cols, ["run"]);
        assert!(again.options.iter().all(|(k, _)| !k.contains("secret")));
    }

    #[test]
    fn relative_locations_become_absolute() {
        let here = std::env::current_dir().unwrap();
        let got = absolute_location("no/such/dir/");
        assert!(
            got.starts_with(&here.display().to_string()) && got.ends_with("no/such/dir/"),
            "{got}"
        );
        assert_eq!(absolute_location("/data/x.root"), "/data/x.root");
        assert_eq!(absolute_location("s3://b/k"), "s3://b/k");
    }
}
