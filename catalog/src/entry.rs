//! What the catalog stores about a schema or a table.

use std::collections::BTreeMap;

/// What kind of table a catalog row describes. Later phases add Iceberg tables and
/// materialised views; a row of a kind this build does not know is kept as [`TableKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableKind {
    /// `CREATE EXTERNAL TABLE … STORED AS … LOCATION …`: files hepq reads but does not own.
    External,
    /// `CREATE VIEW … AS …`: a stored query.
    View,
    /// `CREATE MATERIALIZED VIEW … AS …`: a stored query whose result hepq keeps (in the
    /// view's data folders) and refreshes; see [`crate::materialized`].
    MaterializedView,
    /// `CREATE TABLE …` in a warehouse schema: an Iceberg table (see [`crate::iceberg`]).
    /// Listed from Iceberg's own `iceberg_tables`, not from `hepq_tables`.
    Iceberg,
    /// A kind written by a newer hepq; listed, but it cannot be opened by this build.
    Other(String),
}

impl TableKind {
    /// The name stored in the catalog and shown in `hepq.tables`.
    pub fn as_str(&self) -> &str {
        match self {
            TableKind::External => "external",
            TableKind::View => "view",
            TableKind::MaterializedView => "materialized_view",
            TableKind::Iceberg => "iceberg",
            TableKind::Other(name) => name,
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Self {
        match name {
            "external" => TableKind::External,
            "view" => TableKind::View,
            "materialized_view" => TableKind::MaterializedView,
            "iceberg" => TableKind::Iceberg,
            other => TableKind::Other(other.to_string()),
        }
    }
}

/// One table or view of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    /// The SQL schema (`public`, `lhc`, …) in hepq's default catalog.
    pub schema: String,
    /// The table's name within its schema.
    pub name: String,
    /// External table or view.
    pub kind: TableKind,
    /// `STORED AS` of an external table (upper case: `ROOT`, `PARQUET`, …); `None` for views.
    pub format: Option<String>,
    /// Where an external table's files are (absolute path or URL; several are joined with
    /// `, `); `None` for views.
    pub location: Option<String>,
    /// Table options as given in `OPTIONS (…)`, without credentials.
    pub options: BTreeMap<String, String>,
    /// `PARTITIONED BY` columns.
    pub partition_columns: Vec<String>,
    /// The `CREATE` statement that re-creates the table in a new session (relative locations
    /// made absolute, credentials left out).
    pub definition: String,
    /// When the row was written, in microseconds since the Unix epoch (UTC); 0 until stored.
    pub created_at_us: i64,
}

impl TableEntry {
    /// `schema.name`, for messages.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// One `CREATE SCHEMA` of the catalog (`public` exists without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEntry {
    /// The schema's name.
    pub name: String,
    /// When it was created, in microseconds since the Unix epoch (UTC).
    pub created_at_us: i64,
}
