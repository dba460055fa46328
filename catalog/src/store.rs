//! The catalog's storage: a SQLite file (`WAREHOUSE/catalog.sqlite`) through sqlx.
//!
//! Tables of the file (all prefixed `hepq_`, so that Iceberg's SQL catalog can later keep its
//! own `iceberg_*` tables in the same file):
//!
//! | table | one row per | columns |
//! |---|---|---|
//! | `hepq_catalog_version` | applied migration | `version`, `applied_at` |
//! | `hepq_schemas` | `CREATE SCHEMA` | `name`, `created_at` |
//! | `hepq_tables` | table or view | `schema_name`, `name`, `kind`, `format`, `location`, `options` (JSON object), `partition_columns` (JSON array), `definition`, `created_at` |
//! | `hepq_materialized_views` | materialised view | its query, format, data location, schedule, content schema, current snapshot, refresh lease |
//! | `hepq_snapshots` | committed refresh | the data folders the snapshot consists of, rows |
//! | `hepq_files` | data file of a view | folder, path, size, rows, snapshot that added it |
//! | `hepq_source_files` | source file a view has read | path, size, modification time |
//! | `hepq_refreshes` | refresh run | start, end, status, mode, rows in/out, files, error |
//!
//! (See [`crate::materialized`] for the materialised-view tables.)
//!
//! Times are microseconds since the Unix epoch (UTC). Several processes may use one file: it
//! runs in WAL mode with a busy timeout, every write is one `BEGIN IMMEDIATE` transaction, and a
//! migration re-checks the version inside its transaction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};

use crate::entry::{SchemaEntry, TableEntry, TableKind};
use crate::error::{Error, Result};

/// The catalog file's name inside a warehouse directory.
pub const CATALOG_FILE: &str = "catalog.sqlite";

/// How long a write waits for another process's write to finish before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema changes of the catalog's own tables, in order; `MIGRATIONS[i]` takes the file
/// from version `i` to `i + 1`. Never edit a released entry: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: schemas, external tables and views.
    "CREATE TABLE hepq_schemas (
        name TEXT NOT NULL PRIMARY KEY,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE hepq_tables (
        schema_name TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        format TEXT,
        location TEXT,
        options TEXT NOT NULL DEFAULT '{}',
        partition_columns TEXT NOT NULL DEFAULT '[]',
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (schema_name, name)
    );",
    // 2: materialised views, their snapshots, data files, source files and refreshes.
    "CREATE TABLE hepq_materialized_views (
        schema_name TEXT NOT NULL,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        format TEXT NOT NULL,
        location TEXT NOT NULL,
        partition_columns TEXT NOT NULL DEFAULT '[]',
        refresh_schedule TEXT,
        options TEXT NOT NULL DEFAULT '{}',
        arrow_schema BLOB,
        current_snapshot INTEGER,
        refresh_owner TEXT,
        refresh_started_at INTEGER,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (schema_name, name)
    );
    CREATE TABLE hepq_snapshots (
        snapshot_id INTEGER PRIMARY KEY AUTOINCREMENT,
        schema_name TEXT NOT NULL,
        name TEXT NOT NULL,
        parent_id INTEGER,
        refresh_id INTEGER NOT NULL,
        operation TEXT NOT NULL,
        dirs TEXT NOT NULL DEFAULT '[]',
        rows INTEGER NOT NULL,
        added_rows INTEGER NOT NULL,
        added_files INTEGER NOT NULL,
        committed_at INTEGER NOT NULL
    );
    CREATE TABLE hepq_files (
        schema_name TEXT NOT NULL,
        name TEXT NOT NULL,
        dir TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        rows INTEGER,
        snapshot_id INTEGER NOT NULL,
        PRIMARY KEY (schema_name, name, path)
    );
    CREATE TABLE hepq_source_files (
        schema_name TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        PRIMARY KEY (schema_name, name, path)
    );
    CREATE TABLE hepq_refreshes (
        refresh_id INTEGER PRIMARY KEY AUTOINCREMENT,
        schema_name TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        status TEXT NOT NULL,
        mode TEXT,
        reason TEXT,
        rows_in INTEGER,
        rows_out INTEGER,
        source_files INTEGER,
        files_written INTEGER,
        snapshot_id INTEGER,
        error TEXT
    );",
];

/// The newest catalog version this build writes.
pub const CATALOG_VERSION: i64 = MIGRATIONS.len() as i64;

/// A boxed future that is `Send`: the catalog's async methods return these so that callers
/// (which spawn sessions on multi-threaded runtimes) need not prove the driver's futures `Send`
/// for every lifetime, which the compiler cannot do for sqlx's executors.
pub type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A connection pool to one catalog database.
#[derive(Debug, Clone)]
pub struct CatalogStore {
    pub(crate) pool: SqlitePool,
    location: String,
}

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl CatalogStore {
    /// Opens (creating if needed) the catalog of the warehouse directory `warehouse`:
    /// `WAREHOUSE/catalog.sqlite`.
    pub fn open_warehouse<'a>(warehouse: &'a Path) -> Boxed<'a, Result<Self>> {
        Box::pin(Self::open_warehouse_impl(warehouse))
    }

    async fn open_warehouse_impl(warehouse: &Path) -> Result<Self> {
        std::fs::create_dir_all(warehouse).map_err(|source| Error::Directory {
            path: warehouse.display().to_string(),
            source,
        })?;
        Self::open_file(&warehouse.join(CATALOG_FILE)).await
    }

    /// Opens a catalog by URL: `sqlite://PATH` (or a plain path) for a SQLite file. A shared
    /// PostgreSQL catalog (`postgres://…`) is not supported yet.
    pub fn open_url<'a>(url: &'a str) -> Boxed<'a, Result<Self>> {
        Box::pin(Self::open_url_impl(url))
    }

    async fn open_url_impl(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Err(Error::Unsupported(
                "a PostgreSQL catalog (postgres://…) is not yet supported; use a warehouse \
                 directory (its catalog is WAREHOUSE/catalog.sqlite)"
                    .into(),
            ));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Self::open_file(Path::new(path)).await;
        }
        if url.contains("://") {
            return Err(Error::Unsupported(format!(
                "unsupported catalog URL '{url}' (expected a path or sqlite://PATH)"
            )));
        }
        Self::open_file(Path::new(url)).await
    }

    /// Opens (creating if needed) the SQLite catalog file `path` and brings its tables to the
    /// current version.
    pub fn open_file<'a>(path: &'a Path) -> Boxed<'a, Result<Self>> {
        Box::pin(Self::open_file_impl(path))
    }

    async fn open_file_impl(path: &Path) -> Result<Self> {
        let location = path.display().to_string();
        let options = SqliteConnectOptions::new()
            .filename(PathBuf::from(path))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(60)))
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| Error::Open {
                location: location.clone(),
                source,
            })?;
        let store = Self { pool, location };
        store.migrate().await?;
        Ok(store)
    }

    /// A write transaction: `BEGIN IMMEDIATE`, so that it waits (up to the busy timeout) for
    /// another process's write instead of failing at its first write.
    pub(crate) async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// The catalog file (or URL), for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    pub(crate) fn query_error(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(sqlx::Error) -> Error + '_ {
        let action = action.into();
        move |source| Error::Query {
            location: self.location.clone(),
            action,
            source,
        }
    }

    /// The version recorded in the file (0 for a new file).
    async fn version(&self) -> Result<i64> {
        let open_error = |source| Error::Open {
            location: self.location.clone(),
            source,
        };
        let exists: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'hepq_catalog_version'",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(open_error)?;
        if exists.is_none() {
            return Ok(0);
        }
        let version: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM hepq_catalog_version")
                .fetch_one(&self.pool)
                .await
                .map_err(open_error)?;
        Ok(version.unwrap_or(0))
    }

    /// Applies the migrations the file lacks, in one transaction.
    async fn migrate(&self) -> Result<()> {
        let found = self.version().await?;
        if found > CATALOG_VERSION {
            return Err(Error::TooNew {
                location: self.location.clone(),
                found,
                supported: CATALOG_VERSION,
            });
        }
        if found == CATALOG_VERSION {
            return Ok(());
        }
        let error = || self.query_error("upgrade the catalog's tables");
        let mut tx = self.begin_write().await.map_err(error())?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS hepq_catalog_version (
                version INTEGER NOT NULL PRIMARY KEY,
                applied_at INTEGER NOT NULL
            )",
        )
        .execute(&mut *tx)
        .await
        .map_err(error())?;
        // Another process may have migrated since we looked.
        let current: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM hepq_catalog_version")
                .fetch_one(&mut *tx)
                .await
                .map_err(error())?;
        let current = current.unwrap_or(0);
        if current > CATALOG_VERSION {
            return Err(Error::TooNew {
                location: self.location.clone(),
                found: current,
                supported: CATALOG_VERSION,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            sqlx::query(migration)
                .execute(&mut *tx)
                .await
                .map_err(error())?;
            sqlx::query("INSERT INTO hepq_catalog_version (version, applied_at) VALUES (?, ?)")
                .bind(index as i64 + 1)
                .bind(now_us())
                .execute(&mut *tx)
                .await
                .map_err(error())?;
        }
        tx.commit().await.map_err(error())?;
        Ok(())
    }

    /// Every `CREATE SCHEMA` of the catalog, by name.
    pub fn schemas<'a>(&'a self) -> Boxed<'a, Result<Vec<SchemaEntry>>> {
        Box::pin(self.schemas_impl())
    }

    async fn schemas_impl(&self) -> Result<Vec<SchemaEntry>> {
        let rows = sqlx::query("SELECT name, created_at FROM hepq_schemas ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("list schemas"))?;
        rows.iter()
            .map(|row| -> Result<SchemaEntry> {
                Ok(SchemaEntry {
                    name: self.column(row, "name", "a schema")?,
                    created_at_us: self.column(row, "created_at", "a schema")?,
                })
            })
            .collect()
    }

    /// Whether `CREATE SCHEMA name` is recorded.
    pub fn schema_exists<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<bool>> {
        Box::pin(self.schema_exists_impl(name))
    }

    async fn schema_exists_impl(&self, name: &str) -> Result<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT name FROM hepq_schemas WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.query_error(format!("look up schema {name}")))?;
        Ok(found.is_some())
    }

    /// Every table and view of the catalog, by schema and name.
    pub fn tables<'a>(&'a self) -> Boxed<'a, Result<Vec<TableEntry>>> {
        Box::pin(self.tables_impl())
    }

    async fn tables_impl(&self) -> Result<Vec<TableEntry>> {
        let rows = sqlx::query(
            "SELECT schema_name, name, kind, format, location, options, partition_columns, \
             definition, created_at FROM hepq_tables ORDER BY schema_name, name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error("list tables"))?;
        rows.iter().map(|row| self.table_from_row(row)).collect()
    }

    /// The table or view `schema.name`, if recorded.
    pub fn table<'a>(
        &'a self,
        schema: &'a str,
        name: &'a str,
    ) -> Boxed<'a, Result<Option<TableEntry>>> {
        Box::pin(self.table_impl(schema, name))
    }

    async fn table_impl(&self, schema: &str, name: &str) -> Result<Option<TableEntry>> {
        let row = sqlx::query(
            "SELECT schema_name, name, kind, format, location, options, partition_columns, \
             definition, created_at FROM hepq_tables WHERE schema_name = ? AND name = ?",
        )
        .bind(schema)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.query_error(format!("look up table {schema}.{name}")))?;
        row.as_ref().map(|row| self.table_from_row(row)).transpose()
    }

    pub(crate) fn column<'r, T>(&self, row: &'r SqliteRow, column: &str, what: &str) -> Result<T>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        row.try_get(column).map_err(|e| Error::Corrupt {
            location: self.location.clone(),
            what: what.to_string(),
            message: format!("column {column}: {e}"),
        })
    }

    fn table_from_row(&self, row: &SqliteRow) -> Result<TableEntry> {
        let schema: String = self.column(row, "schema_name", "a table")?;
        let name: String = self.column(row, "name", "a table")?;
        let what = format!("table {schema}.{name}");
        let corrupt = |message: String| Error::Corrupt {
            location: self.location.clone(),
            what: what.clone(),
            message,
        };
        let options: String = self.column(row, "options", &what)?;
        let options: BTreeMap<String, String> = serde_json::from_str(&options)
            .map_err(|e| corrupt(format!("options are not a JSON object of strings: {e}")))?;
        let partition_columns: String = self.column(row, "partition_columns", &what)?;
        let partition_columns: Vec<String> =
            serde_json::from_str(&partition_columns).map_err(|e| {
                corrupt(format!(
                    "partition_columns is not a JSON array of strings: {e}"
                ))
            })?;
        let kind: String = self.column(row, "kind", &what)?;
        Ok(TableEntry {
            kind: TableKind::parse(&kind),
            format: self.column(row, "format", &what)?,
            location: self.column(row, "location", &what)?,
            options,
            partition_columns,
            definition: self.column(row, "definition", &what)?,
            created_at_us: self.column(row, "created_at", &what)?,
            schema,
            name,
        })
    }

    /// Records `CREATE SCHEMA name` (nothing happens if it is recorded already).
    pub fn create_schema<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<()>> {
        Box::pin(self.create_schema_impl(name))
    }

    async fn create_schema_impl(&self, name: &str) -> Result<()> {
        let error = || self.query_error(format!("record schema {name}"));
        let mut tx = self.begin_write().await.map_err(error())?;
        sqlx::query("INSERT OR IGNORE INTO hepq_schemas (name, created_at) VALUES (?, ?)")
            .bind(name)
            .bind(now_us())
            .execute(&mut *tx)
            .await
            .map_err(error())?;
        tx.commit().await.map_err(error())?;
        Ok(())
    }

    /// Removes schema `name` and, with `cascade`, its tables; without `cascade` a schema that
    /// still holds tables is refused (naming them) and nothing changes.
    pub fn drop_schema<'a>(&'a self, name: &'a str, cascade: bool) -> Boxed<'a, Result<()>> {
        Box::pin(self.drop_schema_impl(name, cascade))
    }

    async fn drop_schema_impl(&self, name: &str, cascade: bool) -> Result<()> {
        let error = || self.query_error(format!("remove schema {name}"));
        let mut tx = self.begin_write().await.map_err(error())?;
        if !cascade {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM hepq_tables WHERE schema_name = ? ORDER BY name",
            )
            .bind(name)
            .fetch_all(&mut *tx)
            .await
            .map_err(error())?;
            if !tables.is_empty() {
                return Err(Error::Conflict {
                    location: self.location.clone(),
                    what: format!("schema {name}"),
                    message: format!(
                        "it still holds {} (drop them first, or DROP SCHEMA {name} CASCADE)",
                        tables.join(", ")
                    ),
                });
            }
        }
        sqlx::query("DELETE FROM hepq_tables WHERE schema_name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
        for table in [
            "hepq_materialized_views",
            "hepq_snapshots",
            "hepq_files",
            "hepq_source_files",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE schema_name = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(error())?;
        }
        sqlx::query("DELETE FROM hepq_schemas WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
        tx.commit().await.map_err(error())?;
        Ok(())
    }

    /// Records a table or view (and its schema, if not recorded yet). With `replace` an
    /// existing row of that name is replaced; without, an existing row is an error.
    /// Returns the entry as stored (with its creation time).
    pub fn put_table<'a>(
        &'a self,
        entry: &'a TableEntry,
        replace: bool,
    ) -> Boxed<'a, Result<TableEntry>> {
        Box::pin(self.put_table_impl(entry, replace))
    }

    async fn put_table_impl(&self, entry: &TableEntry, replace: bool) -> Result<TableEntry> {
        let qualified = entry.qualified_name();
        let error = || self.query_error(format!("record table {qualified}"));
        let options = serde_json::to_string(&entry.options).map_err(|e| Error::Corrupt {
            location: self.location.clone(),
            what: format!("table {qualified}"),
            message: e.to_string(),
        })?;
        let partition_columns =
            serde_json::to_string(&entry.partition_columns).map_err(|e| Error::Corrupt {
                location: self.location.clone(),
                what: format!("table {qualified}"),
                message: e.to_string(),
            })?;
        let created_at = now_us();
        let mut tx = self.begin_write().await.map_err(error())?;
        if entry.schema != "public" {
            sqlx::query("INSERT OR IGNORE INTO hepq_schemas (name, created_at) VALUES (?, ?)")
                .bind(&entry.schema)
                .bind(created_at)
                .execute(&mut *tx)
                .await
                .map_err(error())?;
        }
        if !replace {
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT kind FROM hepq_tables WHERE schema_name = ? AND name = ?",
            )
            .bind(&entry.schema)
            .bind(&entry.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error())?;
            if let Some(kind) = existing {
                return Err(Error::Conflict {
                    location: self.location.clone(),
                    what: format!("table {qualified}"),
                    message: format!(
                        "the catalog already holds a {kind} of that name (created by another \
                         session?); DROP it or use CREATE OR REPLACE"
                    ),
                });
            }
        }
        sqlx::query(
            "INSERT OR REPLACE INTO hepq_tables (schema_name, name, kind, format, location, \
             options, partition_columns, definition, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&entry.schema)
        .bind(&entry.name)
        .bind(entry.kind.as_str())
        .bind(&entry.format)
        .bind(&entry.location)
        .bind(&options)
        .bind(&partition_columns)
        .bind(&entry.definition)
        .bind(created_at)
        .execute(&mut *tx)
        .await
        .map_err(error())?;
        tx.commit().await.map_err(error())?;
        Ok(TableEntry {
            created_at_us: created_at,
            ..entry.clone()
        })
    }

    /// Removes table or view `schema.name`; returns whether a row was removed.
    pub fn drop_table<'a>(&'a self, schema: &'a str, name: &'a str) -> Boxed<'a, Result<bool>> {
        Box::pin(self.drop_table_impl(schema, name))
    }

    async fn drop_table_impl(&self, schema: &str, name: &str) -> Result<bool> {
        let error = || self.query_error(format!("remove table {schema}.{name}"));
        let mut tx = self.begin_write().await.map_err(error())?;
        let done = sqlx::query("DELETE FROM hepq_tables WHERE schema_name = ? AND name = ?")
            .bind(schema)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
        crate::materialized::delete_view_rows(&mut tx, schema, name)
            .await
            .map_err(error())?;
        tx.commit().await.map_err(error())?;
        Ok(done.rows_affected() > 0)
    }

    /// Closes the pool's connections (also done when the last clone is dropped).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn view(schema: &str, name: &str) -> TableEntry {
        TableEntry {
            schema: schema.into(),
            name: name.into(),
            kind: TableKind::View,
            format: None,
            location: None,
            options: BTreeMap::new(),
            partition_columns: vec![],
            definition: format!("CREATE VIEW {name} AS SELECT 1"),
            created_at_us: 0,
        }
    }

    #[tokio::test]
    async fn rows_survive_reopening_and_drops_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = CatalogStore::open_warehouse(dir.path()).await.unwrap();
        store.create_schema("lhc").await.unwrap();
        let mut external = view("lhc", "events");
        external.kind = TableKind::External;
        external.format = Some("ROOT".into());
        external.location = Some("/data/events.root".into());
        external.options.insert("tree".into(), "Events".into());
        external.partition_columns = vec!["run".into()];
        store.put_table(&external, false).await.unwrap();
        store.put_table(&view("public", "v"), false).await.unwrap();
        assert!(store.put_table(&view("public", "v"), false).await.is_err());
        store.put_table(&view("public", "v"), true).await.unwrap();
        store.close().await;

        let store = CatalogStore::open_warehouse(dir.path()).await.unwrap();
        let names: Vec<String> = store
            .schemas()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["lhc"]);
        let tables = store.tables().await.unwrap();
        assert_eq!(tables.len(), 2);
        let got = store.table("lhc", "events").await.unwrap().unwrap();
        assert_eq!(got.options.get("tree").map(String::as_str), Some("Events"));
        assert_eq!(got.partition_columns, ["run"]);
        assert!(got.created_at_us > 0);
        assert!(store.drop_schema("lhc", false).await.is_err());
        assert!(store.drop_table("lhc", "events").await.unwrap());
        assert!(!store.drop_table("lhc", "events").await.unwrap());
        store.drop_schema("lhc", false).await.unwrap();
        store.close().await;

        let store = CatalogStore::open_warehouse(dir.path()).await.unwrap();
        assert!(store.schemas().await.unwrap().is_empty());
        assert_eq!(store.tables().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_damaged_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CATALOG_FILE);
        std::fs::write(&path, b"this is not a SQLite database, just some text....").unwrap();
        let err = CatalogStore::open_warehouse(dir.path())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[tokio::test]
    async fn a_newer_catalog_is_refused_and_postgres_is_not_yet_supported() {
        let dir = tempfile::tempdir().unwrap();
        let store = CatalogStore::open_warehouse(dir.path()).await.unwrap();
        sqlx::query("INSERT INTO hepq_catalog_version (version, applied_at) VALUES (99, 0)")
            .execute(&store.pool)
            .await
            .unwrap();
        store.close().await;
        let err = CatalogStore::open_warehouse(dir.path())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("version 99"), "{err}");
        let err = CatalogStore::open_url("postgres://localhost/hepq")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not yet supported"), "{err}");
    }
}
