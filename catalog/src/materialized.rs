//! What the catalog keeps about materialised views (skims), and the transactions that change it.
//!
//! A materialised view's content is a set of *data folders* under its location, each written
//! completely by one refresh. A *snapshot* names the folders that make up the content at one
//! moment: a full refresh commits a snapshot of one new folder, an incremental refresh one that
//! adds a folder to its parent's. Readers resolve the current snapshot when they plan a scan,
//! so they see the old or the new content, never a mix; a refresh that dies before its commit
//! leaves only a folder no snapshot names, which the next refresh removes.
//!
//! A refresh holds a lease (`refresh_owner`) on its view, so two refreshes of one view never
//! run at once; a lease whose holder process is gone is taken over, and its refresh is recorded
//! as interrupted.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::entry::TableEntry;
use crate::error::{Error, Result};
use crate::store::{Boxed, CatalogStore, now_us};

/// A materialised view as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterializedViewEntry {
    /// The SQL schema.
    pub schema: String,
    /// The view's name.
    pub name: String,
    /// The `SELECT` that defines the content.
    pub query: String,
    /// The data files' format (`parquet`).
    pub format: String,
    /// The folder (path or URL) holding the data folders, ending in `/`.
    pub location: String,
    /// `PARTITIONED BY` columns (Hive folders `col=value/` inside each data folder).
    pub partition_columns: Vec<String>,
    /// `refresh = …` of `WITH (…)`: `every 1 hour` or a cron expression; `None`: manual.
    pub refresh_schedule: Option<String>,
    /// The other `WITH (…)` options, as given.
    pub options: BTreeMap<String, String>,
    /// The content's Arrow schema (an Arrow IPC stream holding only the schema), once known.
    pub arrow_schema: Option<Vec<u8>>,
    /// The snapshot readers see; `None` before the first refresh.
    pub current_snapshot: Option<i64>,
    /// Who holds the refresh lease (`host:pid:token`), if anyone.
    pub refresh_owner: Option<String>,
    /// When the lease was taken (µs since the epoch).
    pub refresh_started_at_us: Option<i64>,
    /// When the view was created (µs since the epoch).
    pub created_at_us: i64,
}

impl MaterializedViewEntry {
    /// `schema.name`, for messages.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A committed snapshot of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Increasing over the whole catalog.
    pub snapshot_id: i64,
    /// The view's schema.
    pub schema: String,
    /// The view's name.
    pub name: String,
    /// The snapshot this one replaced.
    pub parent_id: Option<i64>,
    /// The refresh that committed it.
    pub refresh_id: i64,
    /// `full` (content replaced) or `append` (a folder added to the parent's).
    pub operation: String,
    /// The data folders (relative to the view's location) that make up the content.
    pub dirs: Vec<String>,
    /// Rows of the whole content.
    pub rows: i64,
    /// Rows this snapshot added.
    pub added_rows: i64,
    /// Files this snapshot added.
    pub added_files: i64,
    /// When it was committed (µs since the epoch).
    pub committed_at_us: i64,
}

/// A data file of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The data folder it belongs to (relative to the view's location).
    pub dir: String,
    /// Its full path or URL.
    pub path: String,
    /// Bytes.
    pub size: i64,
    /// Rows, where the format says.
    pub rows: Option<i64>,
}

/// A data file with its view and the snapshot that added it: (schema, view, file, snapshot).
pub type ViewFile = (String, String, DataFile, i64);

/// A source file a view has read (for incremental refreshes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceFile {
    /// Its path or URL, as the source table lists it.
    pub path: String,
    /// Bytes.
    pub size: i64,
    /// Last modification (µs since the epoch).
    pub modified_us: i64,
}

/// One refresh run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshEntry {
    /// Increasing over the whole catalog.
    pub refresh_id: i64,
    /// The view's schema.
    pub schema: String,
    /// The view's name.
    pub name: String,
    /// The process that ran it (`host:pid:token`).
    pub owner: String,
    /// Start (µs since the epoch).
    pub started_at_us: i64,
    /// End, once finished.
    pub ended_at_us: Option<i64>,
    /// `running`, `succeeded`, `failed` or `interrupted`.
    pub status: String,
    /// `full` or `incremental`.
    pub mode: Option<String>,
    /// Why that mode (e.g. "the query aggregates").
    pub reason: Option<String>,
    /// Rows read from the sources.
    pub rows_in: Option<i64>,
    /// Rows written.
    pub rows_out: Option<i64>,
    /// Source files read.
    pub source_files: Option<i64>,
    /// Data files written.
    pub files_written: Option<i64>,
    /// The snapshot it committed.
    pub snapshot_id: Option<i64>,
    /// What went wrong.
    pub error: Option<String>,
}

/// What a successful refresh commits.
#[derive(Debug, Clone)]
pub struct RefreshCommit {
    /// The refresh (from [`CatalogStore::begin_refresh`]).
    pub refresh_id: i64,
    /// The lease holder, as given to [`CatalogStore::begin_refresh`].
    pub owner: String,
    /// `full` or `incremental`.
    pub mode: String,
    /// Why that mode.
    pub reason: String,
    /// The new data folder (relative to the location) and its files; `None` when nothing new
    /// was written (an incremental refresh without new source files): no snapshot is made.
    pub new_dir: Option<(String, Vec<DataFile>)>,
    /// Rows written.
    pub rows_out: i64,
    /// Rows read, where known.
    pub rows_in: Option<i64>,
    /// The source files read by this refresh: for `full` they replace the recorded set, for
    /// `incremental` they are added to it.
    pub sources: Vec<SourceFile>,
    /// The content's schema (Arrow IPC bytes).
    pub arrow_schema: Vec<u8>,
    /// How many snapshots to keep (the current one included; at least 2 are kept so that a
    /// reader planning on the previous one can finish).
    pub keep_snapshots: usize,
    /// For a view in Iceberg format: the Iceberg commit of the same files, whose metadata
    /// pointer is swapped in the same transaction (readers through Iceberg and through hepq
    /// see the refresh at the same instant, or not at all).
    pub iceberg: Option<crate::iceberg::PreparedCommit>,
}

/// What a commit did.
#[derive(Debug, Clone, Default)]
pub struct CommitOutcome {
    /// The snapshot made, if any.
    pub snapshot_id: Option<i64>,
    /// Data folders no kept snapshot names any more: the caller deletes them.
    pub expired_dirs: Vec<String>,
}

/// Removes every row of view `schema.name` from the materialised-view tables (not its
/// refresh history) inside `tx`.
pub(crate) async fn delete_view_rows(
    tx: &mut Transaction<'_, Any>,
    schema: &str,
    name: &str,
) -> std::result::Result<(), sqlx::Error> {
    for table in [
        "hepq_materialized_views",
        "hepq_snapshots",
        "hepq_files",
        "hepq_source_files",
    ] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE schema_name = $1 AND name = $2"
        ))
        .bind(schema)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Refresh runs kept per view in `hepq_refreshes` (older ones are removed at each commit).
pub const REFRESH_HISTORY: i64 = 1000;

const VIEW_COLUMNS: &str = "schema_name, name, query, format, location, partition_columns, \
     refresh_schedule, options, arrow_schema, current_snapshot, refresh_owner, \
     refresh_started_at, created_at";

const SNAPSHOT_COLUMNS: &str = "snapshot_id, schema_name, name, parent_id, refresh_id, operation, \
     dirs, rows, added_rows, added_files, committed_at";

const REFRESH_COLUMNS: &str = "refresh_id, schema_name, name, owner, started_at, ended_at, \
     status, mode, reason, rows_in, rows_out, source_files, files_written, snapshot_id, error";

impl CatalogStore {
    fn corrupt(&self, what: &str, message: String) -> Error {
        Error::Corrupt {
            location: self.location().to_string(),
            what: what.to_string(),
            message,
        }
    }

    fn json<T: serde::Serialize + ?Sized>(&self, what: &str, value: &T) -> Result<String> {
        serde_json::to_string(value).map_err(|e| self.corrupt(what, e.to_string()))
    }

    fn view_from_row(&self, row: &AnyRow) -> Result<MaterializedViewEntry> {
        let schema: String = self.column(row, "schema_name", "a materialized view")?;
        let name: String = self.column(row, "name", "a materialized view")?;
        let what = format!("materialized view {schema}.{name}");
        let partitions: String = self.column(row, "partition_columns", &what)?;
        let options: String = self.column(row, "options", &what)?;
        Ok(MaterializedViewEntry {
            query: self.column(row, "query", &what)?,
            format: self.column(row, "format", &what)?,
            location: self.column(row, "location", &what)?,
            partition_columns: serde_json::from_str(&partitions)
                .map_err(|e| self.corrupt(&what, format!("partition_columns: {e}")))?,
            refresh_schedule: self.column(row, "refresh_schedule", &what)?,
            options: serde_json::from_str(&options)
                .map_err(|e| self.corrupt(&what, format!("options: {e}")))?,
            arrow_schema: self.column(row, "arrow_schema", &what)?,
            current_snapshot: self.column(row, "current_snapshot", &what)?,
            refresh_owner: self.column(row, "refresh_owner", &what)?,
            refresh_started_at_us: self.column(row, "refresh_started_at", &what)?,
            created_at_us: self.column(row, "created_at", &what)?,
            schema,
            name,
        })
    }

    fn snapshot_from_row(&self, row: &AnyRow) -> Result<SnapshotEntry> {
        let what = "a snapshot";
        let dirs: String = self.column(row, "dirs", what)?;
        Ok(SnapshotEntry {
            snapshot_id: self.column(row, "snapshot_id", what)?,
            schema: self.column(row, "schema_name", what)?,
            name: self.column(row, "name", what)?,
            parent_id: self.column(row, "parent_id", what)?,
            refresh_id: self.column(row, "refresh_id", what)?,
            operation: self.column(row, "operation", what)?,
            dirs: serde_json::from_str(&dirs)
                .map_err(|e| self.corrupt(what, format!("dirs: {e}")))?,
            rows: self.column(row, "rows", what)?,
            added_rows: self.column(row, "added_rows", what)?,
            added_files: self.column(row, "added_files", what)?,
            committed_at_us: self.column(row, "committed_at", what)?,
        })
    }

    fn refresh_from_row(&self, row: &AnyRow) -> Result<RefreshEntry> {
        let what = "a refresh";
        Ok(RefreshEntry {
            refresh_id: self.column(row, "refresh_id", what)?,
            schema: self.column(row, "schema_name", what)?,
            name: self.column(row, "name", what)?,
            owner: self.column(row, "owner", what)?,
            started_at_us: self.column(row, "started_at", what)?,
            ended_at_us: self.column(row, "ended_at", what)?,
            status: self.column(row, "status", what)?,
            mode: self.column(row, "mode", what)?,
            reason: self.column(row, "reason", what)?,
            rows_in: self.column(row, "rows_in", what)?,
            rows_out: self.column(row, "rows_out", what)?,
            source_files: self.column(row, "source_files", what)?,
            files_written: self.column(row, "files_written", what)?,
            snapshot_id: self.column(row, "snapshot_id", what)?,
            error: self.column(row, "error", what)?,
        })
    }

    /// Records a new materialised view: its `hepq_tables` row (`table`, kind
    /// `materialized_view`) and its state, in one transaction. A name already taken is an error.
    pub fn create_materialized_view<'a>(
        &'a self,
        table: &'a TableEntry,
        view: &'a MaterializedViewEntry,
    ) -> Boxed<'a, Result<()>> {
        Box::pin(async move {
            let qualified = view.qualified_name();
            let what = format!("materialized view {qualified}");
            let error = || self.query_error(format!("record {what}"));
            let options = self.json(&what, &table.options)?;
            let partitions = self.json(&what, &view.partition_columns)?;
            let view_options = self.json(&what, &view.options)?;
            let now = now_us();
            let mut tx = self.begin_write().await.map_err(error())?;
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT kind FROM hepq_tables WHERE schema_name = $1 AND name = $2",
            )
            .bind(&view.schema)
            .bind(&view.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error())?;
            if let Some(kind) = existing {
                return Err(Error::Conflict {
                    location: self.location().to_string(),
                    what,
                    message: format!("the catalog already holds a {kind} of that name"),
                });
            }
            if view.schema != "public" {
                sqlx::query("INSERT INTO hepq_schemas (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(&view.schema)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(error())?;
            }
            sqlx::query(
                "INSERT INTO hepq_tables (schema_name, name, kind, format, location, options, \
                 partition_columns, definition, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&table.schema)
            .bind(&table.name)
            .bind(table.kind.as_str())
            .bind(&table.format)
            .bind(&table.location)
            .bind(&options)
            .bind(&partitions)
            .bind(&table.definition)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
            delete_view_rows(&mut tx, &view.schema, &view.name)
                .await
                .map_err(error())?;
            sqlx::query(&format!(
                "INSERT INTO hepq_materialized_views ({VIEW_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, NULL, $10)"
            ))
            .bind(&view.schema)
            .bind(&view.name)
            .bind(&view.query)
            .bind(&view.format)
            .bind(&view.location)
            .bind(&partitions)
            .bind(&view.refresh_schedule)
            .bind(&view_options)
            .bind(&view.arrow_schema)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
            tx.commit().await.map_err(error())?;
            Ok(())
        })
    }

    /// The materialised view `schema.name`, if recorded.
    pub fn materialized_view<'a>(
        &'a self,
        schema: &'a str,
        name: &'a str,
    ) -> Boxed<'a, Result<Option<MaterializedViewEntry>>> {
        Box::pin(async move {
            let row = sqlx::query(&format!(
                "SELECT {VIEW_COLUMNS} FROM hepq_materialized_views \
                 WHERE schema_name = $1 AND name = $2"
            ))
            .bind(schema)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.query_error(format!("look up materialized view {schema}.{name}")))?;
            row.as_ref().map(|r| self.view_from_row(r)).transpose()
        })
    }

    /// Every materialised view, by schema and name.
    pub fn materialized_views<'a>(&'a self) -> Boxed<'a, Result<Vec<MaterializedViewEntry>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {VIEW_COLUMNS} FROM hepq_materialized_views ORDER BY schema_name, name"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("list materialized views"))?;
            rows.iter().map(|r| self.view_from_row(r)).collect()
        })
    }

    /// Removes materialised view `schema.name` (its table row and state; the refresh history
    /// stays). Returns what was removed, so that the caller can delete its data.
    pub fn drop_materialized_view<'a>(
        &'a self,
        schema: &'a str,
        name: &'a str,
    ) -> Boxed<'a, Result<Option<MaterializedViewEntry>>> {
        Box::pin(async move {
            let error = || self.query_error(format!("remove materialized view {schema}.{name}"));
            let mut tx = self.begin_write().await.map_err(error())?;
            let row = sqlx::query(&format!(
                "SELECT {VIEW_COLUMNS} FROM hepq_materialized_views \
                 WHERE schema_name = $1 AND name = $2"
            ))
            .bind(schema)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error())?;
            let Some(row) = row else {
                return Ok(None);
            };
            let entry = self.view_from_row(&row)?;
            sqlx::query("DELETE FROM hepq_tables WHERE schema_name = $1 AND name = $2")
                .bind(schema)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(error())?;
            delete_view_rows(&mut tx, schema, name)
                .await
                .map_err(error())?;
            tx.commit().await.map_err(error())?;
            Ok(Some(entry))
        })
    }

    /// Takes the refresh lease of `schema.name` for `owner` and records a running refresh;
    /// returns its id. A lease held by another owner for whom `holder_alive` is true is an
    /// error naming the holder; one whose holder is gone is taken over and that refresh is
    /// recorded as interrupted.
    pub fn begin_refresh<'a>(
        &'a self,
        schema: &'a str,
        name: &'a str,
        owner: &'a str,
        holder_alive: &'a (dyn Fn(&str) -> bool + Send + Sync),
    ) -> Boxed<'a, Result<i64>> {
        Box::pin(async move {
            let what = format!("materialized view {schema}.{name}");
            let error = || self.query_error(format!("start a refresh of {what}"));
            let mut tx = self.begin_write().await.map_err(error())?;
            let holder: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT refresh_owner, refresh_started_at FROM hepq_materialized_views \
                 WHERE schema_name = $1 AND name = $2",
            )
            .bind(schema)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error())?;
            let Some((holder, since)) = holder else {
                return Err(Error::Conflict {
                    location: self.location().to_string(),
                    what,
                    message: "no such materialized view".into(),
                });
            };
            let now = now_us();
            if let Some(holder) = holder {
                if holder_alive(&holder) {
                    let seconds = since.map(|s| (now - s) / 1_000_000).unwrap_or(0);
                    return Err(Error::Conflict {
                        location: self.location().to_string(),
                        what,
                        message: format!(
                            "a refresh is already running (process {holder}, for {seconds} s)"
                        ),
                    });
                }
                sqlx::query(
                    "UPDATE hepq_refreshes SET status = 'interrupted', ended_at = $1, \
                     error = 'the process running the refresh ended before it finished' \
                     WHERE schema_name = $2 AND name = $3 AND owner = $4 AND status = 'running'",
                )
                .bind(now)
                .bind(schema)
                .bind(name)
                .bind(&holder)
                .execute(&mut *tx)
                .await
                .map_err(error())?;
            }
            sqlx::query(
                "UPDATE hepq_materialized_views SET refresh_owner = $1, refresh_started_at = $2 \
                 WHERE schema_name = $3 AND name = $4",
            )
            .bind(owner)
            .bind(now)
            .bind(schema)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO hepq_refreshes (schema_name, name, owner, started_at, status) \
                 VALUES ($1, $2, $3, $4, 'running') RETURNING refresh_id",
            )
            .bind(schema)
            .bind(name)
            .bind(owner)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(error())?;
            tx.commit().await.map_err(error())?;
            Ok(id)
        })
    }

    /// Records a failed refresh and releases its lease (if still held by `owner`).
    pub fn fail_refresh<'a>(
        &'a self,
        schema: &'a str,
        name: &'a str,
        refresh_id: i64,
        owner: &'a str,
        message: &'a str,
    ) -> Boxed<'a, Result<()>> {
        Box::pin(async move {
            let error =
                || self.query_error(format!("record the failed refresh of {schema}.{name}"));
            let mut tx = self.begin_write().await.map_err(error())?;
            sqlx::query(
                "UPDATE hepq_refreshes SET status = 'failed', ended_at = $1, error = $2 \
                 WHERE refresh_id = $3",
            )
            .bind(now_us())
            .bind(message)
            .bind(refresh_id)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
            release_lease(&mut tx, schema, name, owner)
                .await
                .map_err(error())?;
            tx.commit().await.map_err(error())?;
            Ok(())
        })
    }

    /// Commits a successful refresh in one transaction: the new snapshot (if anything was
    /// written), its files, the source files, the view's schema and current snapshot, the
    /// refresh record; and releases the lease. Fails, changing nothing, if `owner` no longer
    /// holds the lease.
    pub fn commit_refresh<'a>(
        &'a self,
        schema: &'a str,
        name: &'a str,
        commit: &'a RefreshCommit,
    ) -> Boxed<'a, Result<CommitOutcome>> {
        Box::pin(async move {
            let what = format!("materialized view {schema}.{name}");
            let error = || self.query_error(format!("commit the refresh of {what}"));
            let mut tx = self.begin_write().await.map_err(error())?;
            let state: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT refresh_owner, current_snapshot FROM hepq_materialized_views \
                 WHERE schema_name = $1 AND name = $2",
            )
            .bind(schema)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error())?;
            let Some((holder, current)) = state else {
                return Err(Error::Conflict {
                    location: self.location().to_string(),
                    what,
                    message: "it was dropped during the refresh".into(),
                });
            };
            if holder.as_deref() != Some(commit.owner.as_str()) {
                return Err(Error::Conflict {
                    location: self.location().to_string(),
                    what,
                    message: format!(
                        "the refresh lease passed to {} during the refresh; nothing committed",
                        holder.unwrap_or_else(|| "nobody".into())
                    ),
                });
            }
            let parent = match current {
                Some(id) => self.snapshot_in(&mut tx, id).await?,
                None => None,
            };
            let now = now_us();
            let mut outcome = CommitOutcome::default();
            let files_written = commit
                .new_dir
                .as_ref()
                .map(|(_, files)| files.len() as i64)
                .unwrap_or(0);
            if let Some((dir, files)) = &commit.new_dir {
                let append = commit.mode == "incremental";
                let mut dirs = match (&parent, append) {
                    (Some(p), true) => p.dirs.clone(),
                    _ => Vec::new(),
                };
                dirs.push(dir.clone());
                let rows = if append {
                    parent.as_ref().map(|p| p.rows).unwrap_or(0) + commit.rows_out
                } else {
                    commit.rows_out
                };
                let dirs_json = self.json(&what, &dirs)?;
                let snapshot_id: i64 = sqlx::query_scalar(
                    "INSERT INTO hepq_snapshots (schema_name, name, parent_id, refresh_id, \
                     operation, dirs, rows, added_rows, added_files, committed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING snapshot_id",
                )
                .bind(schema)
                .bind(name)
                .bind(current)
                .bind(commit.refresh_id)
                .bind(if append { "append" } else { "full" })
                .bind(&dirs_json)
                .bind(rows)
                .bind(commit.rows_out)
                .bind(files.len() as i64)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(error())?;
                for file in files {
                    sqlx::query(
                        "INSERT INTO hepq_files (schema_name, name, dir, path, size, rows, \
                         snapshot_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (schema_name, name, path) DO UPDATE SET dir = excluded.dir, \
                         size = excluded.size, rows = excluded.rows, \
                         snapshot_id = excluded.snapshot_id",
                    )
                    .bind(schema)
                    .bind(name)
                    .bind(&file.dir)
                    .bind(&file.path)
                    .bind(file.size)
                    .bind(file.rows)
                    .bind(snapshot_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(error())?;
                }
                sqlx::query(
                    "UPDATE hepq_materialized_views SET current_snapshot = $1, arrow_schema = $2 \
                     WHERE schema_name = $3 AND name = $4",
                )
                .bind(snapshot_id)
                .bind(&commit.arrow_schema)
                .bind(schema)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(error())?;
                if let Some(iceberg) = &commit.iceberg {
                    iceberg.apply(&mut tx).await?;
                }
                outcome.snapshot_id = Some(snapshot_id);
                outcome.expired_dirs = self
                    .expire_in(&mut tx, schema, name, commit.keep_snapshots.max(2))
                    .await?;
            }
            if commit.mode != "incremental" {
                sqlx::query("DELETE FROM hepq_source_files WHERE schema_name = $1 AND name = $2")
                    .bind(schema)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(error())?;
            }
            for source in &commit.sources {
                sqlx::query(
                    "INSERT INTO hepq_source_files (schema_name, name, path, size, modified) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (schema_name, name, path) \
                     DO UPDATE SET size = excluded.size, modified = excluded.modified",
                )
                .bind(schema)
                .bind(name)
                .bind(&source.path)
                .bind(source.size)
                .bind(source.modified_us)
                .execute(&mut *tx)
                .await
                .map_err(error())?;
            }
            sqlx::query(
                "UPDATE hepq_refreshes SET status = 'succeeded', ended_at = $1, mode = $2, \
                 reason = $3, rows_in = $4, rows_out = $5, source_files = $6, files_written = $7, \
                 snapshot_id = $8 WHERE refresh_id = $9",
            )
            .bind(now_us())
            .bind(&commit.mode)
            .bind(&commit.reason)
            .bind(commit.rows_in)
            .bind(commit.rows_out)
            .bind(commit.sources.len() as i64)
            .bind(files_written)
            .bind(outcome.snapshot_id)
            .bind(commit.refresh_id)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
            release_lease(&mut tx, schema, name, &commit.owner)
                .await
                .map_err(error())?;
            // The history keeps the newest REFRESH_HISTORY runs of each view.
            sqlx::query(
                "DELETE FROM hepq_refreshes WHERE schema_name = $1 AND name = $2 AND refresh_id <= \
                 (SELECT refresh_id FROM hepq_refreshes WHERE schema_name = $3 AND name = $4 \
                  ORDER BY refresh_id DESC LIMIT 1 OFFSET $5)",
            )
            .bind(schema)
            .bind(name)
            .bind(schema)
            .bind(name)
            .bind(REFRESH_HISTORY)
            .execute(&mut *tx)
            .await
            .map_err(error())?;
            tx.commit().await.map_err(error())?;
            Ok(outcome)
        })
    }

    async fn snapshot_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: i64,
    ) -> Result<Option<SnapshotEntry>> {
        let row = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM hepq_snapshots WHERE snapshot_id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(self.query_error(format!("read snapshot {id}")))?;
        row.as_ref().map(|r| self.snapshot_from_row(r)).transpose()
    }

    /// Keeps the newest `keep` snapshots of a view, removing older ones and the file rows of
    /// folders no kept snapshot names; returns those folders.
    async fn expire_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        schema: &str,
        name: &str,
        keep: usize,
    ) -> Result<Vec<String>> {
        let error = || self.query_error(format!("expire snapshots of {schema}.{name}"));
        let rows = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM hepq_snapshots WHERE schema_name = $1 AND name = $2 \
             ORDER BY snapshot_id DESC"
        ))
        .bind(schema)
        .bind(name)
        .fetch_all(&mut **tx)
        .await
        .map_err(error())?;
        let snapshots: Vec<SnapshotEntry> = rows
            .iter()
            .map(|r| self.snapshot_from_row(r))
            .collect::<Result<_>>()?;
        if snapshots.len() <= keep {
            return Ok(Vec::new());
        }
        let kept: BTreeSet<&String> = snapshots[..keep].iter().flat_map(|s| &s.dirs).collect();
        let mut expired = BTreeSet::new();
        for old in &snapshots[keep..] {
            for dir in &old.dirs {
                if !kept.contains(dir) {
                    expired.insert(dir.clone());
                }
            }
            sqlx::query("DELETE FROM hepq_snapshots WHERE snapshot_id = $1")
                .bind(old.snapshot_id)
                .execute(&mut **tx)
                .await
                .map_err(error())?;
        }
        for dir in &expired {
            sqlx::query("DELETE FROM hepq_files WHERE schema_name = $1 AND name = $2 AND dir = $3")
                .bind(schema)
                .bind(name)
                .bind(dir)
                .execute(&mut **tx)
                .await
                .map_err(error())?;
        }
        Ok(expired.into_iter().collect())
    }

    /// Snapshot `id`, if it is still kept.
    pub fn snapshot<'a>(&'a self, id: i64) -> Boxed<'a, Result<Option<SnapshotEntry>>> {
        Box::pin(async move {
            let row = sqlx::query(&format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM hepq_snapshots WHERE snapshot_id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.query_error(format!("read snapshot {id}")))?;
            row.as_ref().map(|r| self.snapshot_from_row(r)).transpose()
        })
    }

    /// Every kept snapshot, by view and id.
    pub fn snapshots<'a>(&'a self) -> Boxed<'a, Result<Vec<SnapshotEntry>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM hepq_snapshots \
                 ORDER BY schema_name, name, snapshot_id"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("list snapshots"))?;
            rows.iter().map(|r| self.snapshot_from_row(r)).collect()
        })
    }

    /// Every data file of every view, as (schema, view, file, snapshot that added it).
    pub fn data_files<'a>(&'a self) -> Boxed<'a, Result<Vec<ViewFile>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT schema_name, name, dir, path, size, rows, snapshot_id FROM hepq_files \
                 ORDER BY schema_name, name, path",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("list data files"))?;
            rows.iter()
                .map(|r| {
                    let what = "a data file";
                    Ok((
                        self.column(r, "schema_name", what)?,
                        self.column(r, "name", what)?,
                        DataFile {
                            dir: self.column(r, "dir", what)?,
                            path: self.column(r, "path", what)?,
                            size: self.column(r, "size", what)?,
                            rows: self.column(r, "rows", what)?,
                        },
                        self.column(r, "snapshot_id", what)?,
                    ))
                })
                .collect()
        })
    }

    /// The source files view `schema.name` has read, by path.
    pub fn source_files<'a>(
        &'a self,
        schema: &'a str,
        name: &'a str,
    ) -> Boxed<'a, Result<Vec<SourceFile>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT path, size, modified FROM hepq_source_files \
                 WHERE schema_name = $1 AND name = $2 ORDER BY path",
            )
            .bind(schema)
            .bind(name)
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error(format!("list the source files of {schema}.{name}")))?;
            rows.iter()
                .map(|r| {
                    Ok(SourceFile {
                        path: self.column(r, "path", "a source file")?,
                        size: self.column(r, "size", "a source file")?,
                        modified_us: self.column(r, "modified", "a source file")?,
                    })
                })
                .collect()
        })
    }

    /// When the newest refresh run of each view started: (schema, view, µs since the epoch).
    pub fn last_refresh_starts<'a>(&'a self) -> Boxed<'a, Result<Vec<(String, String, i64)>>> {
        Box::pin(async move {
            sqlx::query_as(
                "SELECT schema_name, name, max(started_at) FROM hepq_refreshes \
                 GROUP BY schema_name, name",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("list the last refreshes"))
        })
    }

    /// Every refresh run, oldest first.
    pub fn refreshes<'a>(&'a self) -> Boxed<'a, Result<Vec<RefreshEntry>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {REFRESH_COLUMNS} FROM hepq_refreshes ORDER BY refresh_id"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("list refreshes"))?;
            rows.iter().map(|r| self.refresh_from_row(r)).collect()
        })
    }
}

async fn release_lease(
    tx: &mut Transaction<'_, Any>,
    schema: &str,
    name: &str,
    owner: &str,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE hepq_materialized_views SET refresh_owner = NULL, refresh_started_at = NULL \
         WHERE schema_name = $1 AND name = $2 AND refresh_owner = $3",
    )
    .bind(schema)
    .bind(name)
    .bind(owner)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::entry::TableKind;

    fn entries() -> (TableEntry, MaterializedViewEntry) {
        let table = TableEntry {
            schema: "public".into(),
            name: "skim".into(),
            kind: TableKind::MaterializedView,
            format: Some("PARQUET".into()),
            location: Some("/w/materialized/public/skim/".into()),
            options: BTreeMap::new(),
            partition_columns: vec![],
            definition: "CREATE MATERIALIZED VIEW skim AS SELECT 1".into(),
            created_at_us: 0,
        };
        let view = MaterializedViewEntry {
            schema: "public".into(),
            name: "skim".into(),
            query: "SELECT 1".into(),
            format: "parquet".into(),
            location: "/w/materialized/public/skim/".into(),
            partition_columns: vec![],
            refresh_schedule: None,
            options: BTreeMap::new(),
            arrow_schema: None,
            current_snapshot: None,
            refresh_owner: None,
            refresh_started_at_us: None,
            created_at_us: 0,
        };
        (table, view)
    }

    fn commit(refresh_id: i64, owner: &str, mode: &str, dir: &str, rows: i64) -> RefreshCommit {
        RefreshCommit {
            iceberg: None,
            refresh_id,
            owner: owner.into(),
            mode: mode.into(),
            reason: "test".into(),
            new_dir: Some((
                dir.into(),
                vec![DataFile {
                    dir: dir.into(),
                    path: format!("/w/{dir}/a.parquet"),
                    size: 10,
                    rows: Some(rows),
                }],
            )),
            rows_out: rows,
            rows_in: None,
            sources: vec![SourceFile {
                path: format!("/src/{dir}.root"),
                size: 1,
                modified_us: 2,
            }],
            arrow_schema: vec![1, 2, 3],
            keep_snapshots: 2,
        }
    }

    #[tokio::test]
    async fn refreshes_commit_snapshots_and_leases_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = CatalogStore::open_warehouse(dir.path()).await.unwrap();
        let (table, view) = entries();
        store.create_materialized_view(&table, &view).await.unwrap();
        assert!(store.create_materialized_view(&table, &view).await.is_err());

        let alive = |_: &str| true;
        let dead = |_: &str| false;
        let r1 = store
            .begin_refresh("public", "skim", "h:1:a", &alive)
            .await
            .unwrap();
        // A second refresh while the holder lives is refused.
        let err = store
            .begin_refresh("public", "skim", "h:2:b", &alive)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already running"), "{err}");
        let out = store
            .commit_refresh("public", "skim", &commit(r1, "h:1:a", "full", "d1", 5))
            .await
            .unwrap();
        let s1 = out.snapshot_id.unwrap();

        // Append twice; the oldest snapshot expires but its folder is still named.
        let r2 = store
            .begin_refresh("public", "skim", "h:1:a", &alive)
            .await
            .unwrap();
        store
            .commit_refresh(
                "public",
                "skim",
                &commit(r2, "h:1:a", "incremental", "d2", 3),
            )
            .await
            .unwrap();
        // A holder that died: its lease is taken over and its refresh marked interrupted.
        let r3 = store
            .begin_refresh("public", "skim", "h:9:z", &alive)
            .await
            .unwrap();
        let r4 = store
            .begin_refresh("public", "skim", "h:1:a", &dead)
            .await
            .unwrap();
        // The old holder cannot commit any more.
        assert!(
            store
                .commit_refresh("public", "skim", &commit(r3, "h:9:z", "full", "dx", 1))
                .await
                .is_err()
        );
        let out = store
            .commit_refresh(
                "public",
                "skim",
                &commit(r4, "h:1:a", "incremental", "d3", 2),
            )
            .await
            .unwrap();
        assert!(out.expired_dirs.is_empty(), "{:?}", out.expired_dirs);
        let view = store
            .materialized_view("public", "skim")
            .await
            .unwrap()
            .unwrap();
        let current = store
            .snapshot(view.current_snapshot.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.dirs, ["d1", "d2", "d3"]);
        assert_eq!(current.rows, 10);
        assert!(store.snapshot(s1).await.unwrap().is_none());
        assert_eq!(store.source_files("public", "skim").await.unwrap().len(), 3);

        // A full refresh replaces everything; d1..d3 expire once two newer snapshots exist.
        let r5 = store
            .begin_refresh("public", "skim", "h:1:a", &alive)
            .await
            .unwrap();
        store
            .commit_refresh("public", "skim", &commit(r5, "h:1:a", "full", "d4", 7))
            .await
            .unwrap();
        let r6 = store
            .begin_refresh("public", "skim", "h:1:a", &alive)
            .await
            .unwrap();
        let out = store
            .commit_refresh("public", "skim", &commit(r6, "h:1:a", "full", "d5", 7))
            .await
            .unwrap();
        assert_eq!(out.expired_dirs, ["d1", "d2", "d3"]);
        assert_eq!(store.source_files("public", "skim").await.unwrap().len(), 1);
        let statuses: Vec<String> = store
            .refreshes()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(
            statuses,
            [
                "succeeded",
                "succeeded",
                "interrupted",
                "succeeded",
                "succeeded",
                "succeeded"
            ]
        );
        store.close().await;

        // Everything is still there after reopening; dropping removes the view's rows.
        let store = CatalogStore::open_warehouse(dir.path()).await.unwrap();
        assert_eq!(store.materialized_views().await.unwrap().len(), 1);
        assert_eq!(store.tables().await.unwrap().len(), 1);
        assert!(
            store
                .drop_materialized_view("public", "skim")
                .await
                .unwrap()
                .is_some()
        );
        assert!(store.tables().await.unwrap().is_empty());
        assert!(store.snapshots().await.unwrap().is_empty());
        assert_eq!(store.refreshes().await.unwrap().len(), 6);
    }
}
