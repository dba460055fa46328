//! The DataFusion side of the catalog: a schema whose stored tables are opened on first use.
//!
//! A session starts with every stored table of a schema listed ([`SchemaProvider::table_names`],
//! `information_schema.tables`) but none opened: opening one (a ROOT file's streamer info, an
//! LH5 file's metadata, a Parquet footer) happens when a query first names it, through the
//! [`TableFactory`] the session hands in. A table whose files are gone therefore does not stop
//! the session; naming it gives an error with the table and its location.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::logical_expr::TableType;

use crate::entry::{TableEntry, TableKind};

/// Builds the DataFusion table of a stored entry: re-plans its `CREATE` statement in the
/// session and runs the format's table factory (or plans the view's query). Implemented by
/// `hepq-sql`, which knows the formats; the catalog does not.
#[async_trait]
pub trait TableFactory: Debug + Send + Sync {
    /// The table (or view) `entry` describes, opened for this session.
    async fn create(&self, entry: &TableEntry) -> Result<Arc<dyn TableProvider>>;

    /// The files behind a stored external table: (path or URL, bytes, rows where the format's
    /// metadata says). Empty where the table has no listing of files.
    async fn files(&self, _entry: &TableEntry) -> Result<Vec<(String, i64, Option<i64>)>> {
        Ok(Vec::new())
    }

    /// `table` as it was at `version` (the `123` of `"events@123"`: an Iceberg snapshot id),
    /// or `None` if the table has no versions.
    async fn at_version(
        &self,
        _table: &Arc<dyn TableProvider>,
        _version: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(None)
    }
}

/// A table of a [`PersistentSchema`]: opened, or stored and not opened yet.
#[derive(Debug, Clone)]
pub enum Slot {
    /// A table in use (registered by the session, or a stored one already opened).
    Ready(Arc<dyn TableProvider>),
    /// A stored table, opened when first named.
    Stored(Arc<TableEntry>),
}

/// A schema of hepq's default catalog: the session's tables plus the stored ones, opened on
/// first use. Registering and deregistering change only the session; the catalog rows are
/// written by `hepq-sql` after DataFusion accepted the DDL.
#[derive(Debug)]
pub struct PersistentSchema {
    name: String,
    slots: RwLock<HashMap<String, Slot>>,
    factory: Arc<dyn TableFactory>,
}

impl PersistentSchema {
    /// Schema `name` holding the stored `entries` (not opened yet).
    pub fn new(
        name: impl Into<String>,
        entries: impl IntoIterator<Item = TableEntry>,
        factory: Arc<dyn TableFactory>,
    ) -> Self {
        let slots = entries
            .into_iter()
            .map(|e| (e.name.clone(), Slot::Stored(Arc::new(e))))
            .collect();
        Self {
            name: name.into(),
            slots: RwLock::new(slots),
            factory,
        }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `name` is a stored table this session has not opened.
    pub fn is_unopened(&self, name: &str) -> bool {
        matches!(self.slot(name), Some(Slot::Stored(_)))
    }

    fn slot(&self, name: &str) -> Option<Slot> {
        self.slots.read().ok().and_then(|s| s.get(name).cloned())
    }

    /// Removes `name` from the session without opening it, returning what was there (to put
    /// back with [`PersistentSchema::restore`] if the statement that needed it gone fails).
    pub fn take(&self, name: &str) -> Option<Slot> {
        self.slots.write().ok().and_then(|mut s| s.remove(name))
    }

    /// Puts back a slot taken by [`PersistentSchema::take`], unless the name was registered
    /// again meanwhile.
    pub fn restore(&self, name: &str, slot: Slot) {
        if let Ok(mut slots) = self.slots.write() {
            slots.entry(name.to_string()).or_insert(slot);
        }
    }

    async fn open(&self, name: &str, entry: Arc<TableEntry>) -> Result<Arc<dyn TableProvider>> {
        let table = self.factory.create(&entry).await.map_err(|e| {
            let what = match (&entry.kind, &entry.location) {
                (TableKind::View, _) => format!("view '{}'", entry.qualified_name()),
                (_, Some(location)) => {
                    format!("table '{}' (LOCATION '{location}')", entry.qualified_name())
                }
                (_, None) => format!("table '{}'", entry.qualified_name()),
            };
            DataFusionError::Plan(format!(
                "{what} from the catalog cannot be opened: {}",
                one_line(&e)
            ))
        })?;
        if let Ok(mut slots) = self.slots.write()
            && let Some(Slot::Stored(current)) = slots.get(name)
            && Arc::ptr_eq(current, &entry)
        {
            slots.insert(name.to_string(), Slot::Ready(Arc::clone(&table)));
        }
        Ok(table)
    }
}

/// DataFusion's message without its backtrace note.
fn one_line(e: &DataFusionError) -> String {
    let text = e.to_string();
    match text.split_once("\n\nbacktrace") {
        Some((head, _)) => head.trim().to_string(),
        None => text.trim().to_string(),
    }
}

#[async_trait]
impl SchemaProvider for PersistentSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .slots
            .read()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.slot(name) {
            // `table@version`: an older snapshot of a versioned (Iceberg) table.
            None => match name.rsplit_once('@') {
                Some((base, version)) if !base.is_empty() => {
                    let table = match self.slot(base) {
                        Some(Slot::Ready(table)) => table,
                        Some(Slot::Stored(entry)) => self.open(base, entry).await?,
                        None => return Ok(None),
                    };
                    self.factory.at_version(&table, version).await
                }
                _ => Ok(None),
            },
            Some(Slot::Ready(table)) => Ok(Some(table)),
            Some(Slot::Stored(entry)) => self.open(name, entry).await.map(Some),
        }
    }

    async fn table_type(&self, name: &str) -> Result<Option<TableType>> {
        Ok(match self.slot(name) {
            None => None,
            Some(Slot::Ready(table)) => Some(table.table_type()),
            Some(Slot::Stored(entry)) => Some(match entry.kind {
                TableKind::View => TableType::View,
                _ => TableType::Base,
            }),
        })
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let Ok(mut slots) = self.slots.write() else {
            return exec_err!("schema {} is unusable after a panic", self.name);
        };
        if slots.contains_key(&name) {
            return exec_err!("The table {name} already exists");
        }
        slots.insert(name, Slot::Ready(table));
        Ok(None)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(match self.take(name) {
            Some(Slot::Ready(table)) => Some(table),
            Some(Slot::Stored(_)) | None => None,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        self.slot(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::empty::EmptyTable;

    use super::*;

    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl TableFactory for Counting {
        async fn create(&self, entry: &TableEntry) -> Result<Arc<dyn TableProvider>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if entry.name == "gone" {
                return exec_err!("file not found");
            }
            Ok(Arc::new(EmptyTable::new(Arc::new(Schema::empty()))))
        }
    }

    fn entry(name: &str, kind: TableKind) -> TableEntry {
        TableEntry {
            schema: "lhc".into(),
            name: name.into(),
            kind,
            format: Some("ROOT".into()),
            location: Some(format!("/data/{name}.root")),
            options: Default::default(),
            partition_columns: vec![],
            definition: String::new(),
            created_at_us: 0,
        }
    }

    #[tokio::test]
    async fn stored_tables_open_once_on_first_use() {
        let factory = Arc::new(Counting::default());
        let schema = PersistentSchema::new(
            "lhc",
            [
                entry("a", TableKind::External),
                entry("v", TableKind::View),
                entry("gone", TableKind::External),
            ],
            Arc::clone(&factory) as Arc<dyn TableFactory>,
        );
        assert_eq!(schema.table_names(), ["a", "gone", "v"]);
        assert_eq!(schema.table_type("v").await.unwrap(), Some(TableType::View));
        assert_eq!(factory.0.load(Ordering::SeqCst), 0, "listing opens nothing");
        schema.table("a").await.unwrap().unwrap();
        schema.table("a").await.unwrap().unwrap();
        assert_eq!(factory.0.load(Ordering::SeqCst), 1);
        let err = schema.table("gone").await.unwrap_err().to_string();
        assert!(
            err.contains("lhc.gone") && err.contains("/data/gone.root"),
            "{err}"
        );
        assert!(schema.table_exist("gone"), "a broken table stays listed");
        let taken = schema.take("gone").unwrap();
        assert!(!schema.table_exist("gone"));
        schema.restore("gone", taken);
        assert!(schema.is_unopened("gone"));
        assert!(
            schema
                .register_table(
                    "a".into(),
                    Arc::new(EmptyTable::new(Arc::new(Schema::empty())))
                )
                .is_err()
        );
    }
}
