//! hepq's system tables: schema `hepq` of the default catalog (`hepq.tables`, …).
//!
//! Each query reads the catalog afresh, so a table another process recorded a moment ago is
//! listed even though this session has not opened it. Later phases add `hepq.files`,
//! `hepq.snapshots`, `hepq.materialized_views` and `hepq.refreshes` here.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{Result, exec_err};
use datafusion::datasource::MemTable;

use crate::entry::TableEntry;
use crate::store::CatalogStore;

/// The name of the system schema.
pub const SYSTEM_SCHEMA: &str = "hepq";

/// The system tables this build has.
const TABLES: &[&str] = &["tables"];

/// Schema `hepq`: read-only tables describing the catalog.
#[derive(Debug)]
pub struct SystemSchema {
    store: Arc<CatalogStore>,
}

impl SystemSchema {
    /// The system tables of `store`.
    pub fn new(store: Arc<CatalogStore>) -> Self {
        Self { store }
    }
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

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match name {
            "tables" => {
                let entries = self.store.tables().await?;
                let batch = tables_batch(&entries)?;
                let table = MemTable::try_new(tables_schema(), vec![vec![batch]])?;
                Ok(Some(Arc::new(table)))
            }
            _ => Ok(None),
        }
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
