//! Iceberg tables: hepq's one bridge to iceberg-rust.
//!
//! iceberg-rust 0.10 keeps the table metadata (schemas, partition specs, snapshots, manifests)
//! and its SQL catalog (`iceberg-catalog-sql`) keeps the table list in the warehouse's own
//! `catalog.sqlite` (tables `iceberg_tables` and `iceberg_namespace_properties`, the layout
//! pyiceberg's `SqlCatalog` uses too). Its DataFusion integration is pinned to an older
//! DataFusion, and it builds on arrow 58, so nothing here hands it Arrow arrays: schemas are
//! converted through Iceberg's own types, hepq writes the Parquet data files with DataFusion's
//! writer and gives this module their paths, sizes, row counts and partition values, and reads
//! the files this module plans with DataFusion's Parquet reader.
//!
//! A commit writes the manifest, the manifest list and the next `vN-….metadata.json` (all
//! through iceberg-rust's writers), then swaps the table's metadata pointer in one SQLite
//! statement that checks the pointer is still the one the commit started from: the SQL
//! catalog's own protocol, so pyiceberg and hepq processes can commit to one table safely. hepq
//! does the swap itself (instead of iceberg-rust's `Transaction`) for two reasons: 0.10 has no
//! overwrite action (a full refresh of a skim replaces every file), and a materialised view
//! commits its Iceberg snapshot and its refresh record in one SQLite transaction.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, Int32Array, Int64Array, RecordBatch,
};
use datafusion::arrow::datatypes::{
    DataType, Field, Fields, Schema as ArrowSchema, SchemaRef as ArrowSchemaRef, TimeUnit,
};
use futures::TryStreamExt;
use iceberg::io::LocalFsStorageFactory;
use iceberg::spec::ManifestListWriter;
use iceberg::spec::{
    DataContentType, DataFileBuilder, DataFileFormat, FormatVersion, ListType, Literal,
    MAIN_BRANCH, ManifestWriterBuilder, MapType, NestedField, NestedFieldRef, Operation,
    PrimitiveType, Schema as IcebergSchema, Snapshot, Struct, StructType, Summary,
    TableMetadataBuilder, Transform, Type, UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::{
    Catalog, CatalogBuilder, MetadataLocation, NamespaceIdent, TableCreation, TableIdent,
};
use iceberg_catalog_sql::{
    SQL_CATALOG_PROP_BIND_STYLE, SQL_CATALOG_PROP_URI, SQL_CATALOG_PROP_WAREHOUSE, SqlBindStyle,
    SqlCatalog, SqlCatalogBuilder,
};
use sqlx::{Any, Transaction};

use crate::error::{Error, Result};
use crate::store::{Backend, Boxed, CatalogStore};

/// The name of hepq's catalog in the `iceberg_tables` table (pyiceberg:
/// `SqlCatalog("hepq", uri="sqlite:///WAREHOUSE/catalog.sqlite", warehouse=…)`).
pub const ICEBERG_CATALOG_NAME: &str = "hepq";

/// The folder of a warehouse that holds the Iceberg tables (`ICEBERG_DIR/SCHEMA/TABLE/`).
pub const ICEBERG_DIR: &str = "iceberg";

/// The Parquet metadata key that carries an Iceberg field id.
pub const FIELD_ID_KEY: &str = "PARQUET:field_id";

/// How a partition field is derived from its source column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionTransform {
    /// The value itself.
    Identity,
    /// Iceberg's `bucket[N]`: Murmur3 hash of the value, mod N.
    Bucket(u32),
    /// Iceberg's `truncate[W]`: integers rounded down to a multiple of W, strings cut to W
    /// characters.
    Truncate(u32),
}

impl PartitionTransform {
    fn to_iceberg(self) -> Transform {
        match self {
            PartitionTransform::Identity => Transform::Identity,
            PartitionTransform::Bucket(n) => Transform::Bucket(n),
            PartitionTransform::Truncate(w) => Transform::Truncate(w),
        }
    }

    fn from_iceberg(transform: &Transform) -> Option<Self> {
        match transform {
            Transform::Identity => Some(PartitionTransform::Identity),
            Transform::Bucket(n) => Some(PartitionTransform::Bucket(*n)),
            Transform::Truncate(w) => Some(PartitionTransform::Truncate(*w)),
            _ => None,
        }
    }

    /// The transform as SQL writes it (`run`, `bucket(16, event)`, `truncate(4, name)`).
    pub fn describe(self, column: &str) -> String {
        match self {
            PartitionTransform::Identity => column.to_string(),
            PartitionTransform::Bucket(n) => format!("bucket({n}, {column})"),
            PartitionTransform::Truncate(w) => format!("truncate({w}, {column})"),
        }
    }
}

/// One field of a table's partition spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionColumn {
    /// The partition field's name (`run`, `event_bucket`, `name_trunc`).
    pub name: String,
    /// The top-level column it is derived from.
    pub source: String,
    /// How.
    pub transform: PartitionTransform,
}

/// A partition value (`None` is NULL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PartitionValue {
    /// An Iceberg `boolean`.
    Bool(bool),
    /// An Iceberg `int` (also the result of `bucket`).
    Int(i32),
    /// An Iceberg `long`.
    Long(i64),
    /// An Iceberg `date` (days since 1970-01-01).
    Date(i32),
    /// An Iceberg `string`.
    Str(String),
}

/// The partition of one data file: one value per partition field, in spec order.
pub type PartitionKey = Vec<Option<PartitionValue>>;

/// What hepq knows about an Iceberg table once it is loaded.
#[derive(Debug, Clone)]
pub struct IcebergTableInfo {
    /// `schema.table`.
    pub qualified_name: String,
    /// The table's folder (its `data/` and `metadata/` are below it).
    pub location: String,
    /// The current metadata file.
    pub metadata_location: String,
    /// The columns as DataFusion shows them.
    pub table_schema: ArrowSchemaRef,
    /// The columns as data files hold them: Iceberg field ids in `PARQUET:field_id`, list
    /// elements named `element`, map entries `key_value`.
    pub file_schema: ArrowSchemaRef,
    /// The default partition spec's fields.
    pub partitioning: Vec<PartitionColumn>,
    /// Why hepq cannot write to the table (a partition transform it cannot compute).
    pub unwritable: Option<String>,
    /// The current snapshot (`None` for a table never written).
    pub current_snapshot: Option<i64>,
}

/// A data file of a snapshot, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcebergFile {
    /// Absolute path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Rows.
    pub rows: u64,
}

/// A data file hepq wrote, to be committed.
#[derive(Debug, Clone)]
pub struct NewDataFile {
    /// Absolute path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Rows.
    pub rows: u64,
    /// Its partition (empty for an unpartitioned table).
    pub partition: PartitionKey,
}

/// Whether a commit adds to the table or replaces its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// Keep every current file and add the new ones (`append`).
    Append,
    /// The new files become the whole content (`overwrite`).
    Replace,
}

/// One snapshot of a table's history.
#[derive(Debug, Clone)]
pub struct IcebergSnapshot {
    /// Its id.
    pub snapshot_id: i64,
    /// The snapshot it was built on.
    pub parent_id: Option<i64>,
    /// `append`, `overwrite`, …
    pub operation: String,
    /// Rows the table holds in it (from the summary).
    pub total_rows: Option<i64>,
    /// Rows it added.
    pub added_rows: Option<i64>,
    /// Data files it added.
    pub added_files: Option<i64>,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Whether it is the table's current snapshot.
    pub is_current: bool,
}

/// A commit whose files are written and whose pointer swap is still to be done (in a
/// transaction of the caller's choosing).
#[derive(Debug, Clone)]
pub struct PreparedCommit {
    namespace: String,
    name: String,
    old_location: String,
    new_location: String,
    /// The snapshot the commit creates.
    pub snapshot_id: i64,
}

impl PreparedCommit {
    /// Swaps the table's metadata pointer in `tx`; fails (changing nothing) if another commit
    /// moved it since this one was prepared.
    pub fn apply<'a>(&'a self, tx: &'a mut Transaction<'static, Any>) -> Boxed<'a, Result<()>> {
        Box::pin(self.apply_impl(tx))
    }

    async fn apply_impl(&self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        let done = sqlx::query(
            "UPDATE iceberg_tables SET metadata_location = $1, previous_metadata_location = $2 \
             WHERE catalog_name = $3 AND table_namespace = $4 AND table_name = $5 \
             AND metadata_location = $6",
        )
        .bind(&self.new_location)
        .bind(&self.old_location)
        .bind(ICEBERG_CATALOG_NAME)
        .bind(&self.namespace)
        .bind(&self.name)
        .bind(&self.old_location)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.error(format!("cannot commit: {e}")))?;
        if done.rows_affected() != 1 {
            return Err(self.error(
                "another commit changed the table while this one was written (or the table \
                 was dropped); nothing was committed, run the statement again"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The metadata file the commit makes current.
    pub fn metadata_location(&self) -> &str {
        &self.new_location
    }

    fn error(&self, message: String) -> Error {
        Error::Iceberg {
            table: format!("{}.{}", self.namespace, self.name),
            message,
        }
    }
}

/// The Iceberg tables of one warehouse.
pub struct IcebergCatalog {
    catalog: SqlCatalog,
    store: CatalogStore,
    root: String,
}

impl std::fmt::Debug for IcebergCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcebergCatalog")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn iceberg_error(table: &str) -> impl Fn(iceberg::Error) -> Error + '_ {
    move |e| Error::Iceberg {
        table: table.to_string(),
        message: e.to_string(),
    }
}

fn ident(namespace: &str, name: &str) -> TableIdent {
    TableIdent::new(NamespaceIdent::new(namespace.to_string()), name.to_string())
}

impl IcebergCatalog {
    /// Opens the Iceberg catalog in `store`'s database (its SQLite file or PostgreSQL
    /// database), with tables under `warehouse/iceberg/` (creating its tables on first use).
    pub async fn open(store: &CatalogStore, warehouse: &Path) -> Result<Self> {
        let root = warehouse.join(ICEBERG_DIR).display().to_string();
        let bind_style = match store.backend() {
            Backend::Sqlite => SqlBindStyle::QMark,
            Backend::Postgres => SqlBindStyle::DollarNumeric,
        };
        let props = HashMap::from([
            (SQL_CATALOG_PROP_URI.to_string(), store.url().to_string()),
            (SQL_CATALOG_PROP_WAREHOUSE.to_string(), root.clone()),
            (
                SQL_CATALOG_PROP_BIND_STYLE.to_string(),
                bind_style.to_string(),
            ),
            ("pool.max-connections".to_string(), "4".to_string()),
        ]);
        let catalog = SqlCatalogBuilder::default()
            .with_storage_factory(Arc::new(LocalFsStorageFactory))
            .load(ICEBERG_CATALOG_NAME, props)
            .await
            .map_err(|e| Error::Iceberg {
                table: store.location().to_string(),
                message: format!("cannot open the Iceberg catalog: {e}"),
            })?;
        Ok(Self {
            catalog,
            store: store.clone(),
            root,
        })
    }

    /// The folder under which new tables go.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Every Iceberg table of hepq's catalog, as (schema, table), including tables other
    /// tools (pyiceberg) created in it.
    pub fn list(&self) -> Boxed<'_, Result<Vec<(String, String)>>> {
        Box::pin(self.list_impl())
    }

    async fn list_impl(&self) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_namespace, table_name FROM iceberg_tables \
             WHERE catalog_name = $1 AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL) \
             ORDER BY table_namespace, table_name",
        )
        .bind(ICEBERG_CATALOG_NAME)
        .fetch_all(&self.store.pool)
        .await
        .map_err(|e| Error::Iceberg {
            table: "iceberg_tables".into(),
            message: format!("cannot list the Iceberg tables: {e}"),
        })?;
        Ok(rows)
    }

    /// Whether `namespace.name` is an Iceberg table of this catalog.
    pub async fn exists(&self, namespace: &str, name: &str) -> Result<bool> {
        Ok(self
            .list()
            .await?
            .iter()
            .any(|(n, t)| n == namespace && t == name))
    }

    /// Creates an empty table with `schema`'s columns (all nullable) and `partitioning`, in
    /// `ICEBERG_DIR/namespace/name/`.
    pub async fn create(
        &self,
        namespace: &str,
        name: &str,
        schema: &ArrowSchema,
        partitioning: &[(String, PartitionTransform)],
    ) -> Result<IcebergTableInfo> {
        let location = format!("{}/{namespace}/{name}", self.root);
        self.create_at(namespace, name, schema, partitioning, &location)
            .await
    }

    /// [`IcebergCatalog::create`] with the table's folder given.
    pub async fn create_at(
        &self,
        namespace: &str,
        name: &str,
        schema: &ArrowSchema,
        partitioning: &[(String, PartitionTransform)],
        location: &str,
    ) -> Result<IcebergTableInfo> {
        let qualified = format!("{namespace}.{name}");
        let err = iceberg_error(&qualified);
        let iceberg_schema = to_iceberg_schema(schema).map_err(|message| Error::Iceberg {
            table: qualified.clone(),
            message,
        })?;
        let mut spec = UnboundPartitionSpec::builder().with_spec_id(0);
        for (column, transform) in partitioning {
            let field = iceberg_schema
                .as_struct()
                .fields()
                .iter()
                .find(|f| &f.name == column)
                .ok_or_else(|| Error::Iceberg {
                    table: qualified.clone(),
                    message: format!("partition column {column} is not a column of the table"),
                })?;
            check_partition_source(column, &field.field_type, *transform).map_err(|message| {
                Error::Iceberg {
                    table: qualified.clone(),
                    message,
                }
            })?;
            let target = match transform {
                PartitionTransform::Identity => column.clone(),
                PartitionTransform::Bucket(_) => format!("{column}_bucket"),
                PartitionTransform::Truncate(_) => format!("{column}_trunc"),
            };
            spec = spec
                .add_partition_field(field.id, target, transform.to_iceberg())
                .map_err(&err)?;
        }
        let namespace_ident = NamespaceIdent::new(namespace.to_string());
        if !self
            .catalog
            .namespace_exists(&namespace_ident)
            .await
            .map_err(&err)?
        {
            self.catalog
                .create_namespace(&namespace_ident, HashMap::new())
                .await
                .map_err(&err)?;
        }
        let creation = TableCreation::builder()
            .name(name.to_string())
            .location(location.to_string())
            .schema(iceberg_schema)
            .partition_spec(spec.build())
            .properties([
                (
                    "write.parquet.compression-codec".to_string(),
                    "zstd".to_string(),
                ),
                ("created-by".to_string(), "hepq".to_string()),
            ])
            .format_version(FormatVersion::V2)
            .build();
        let table = self
            .catalog
            .create_table(&namespace_ident, creation)
            .await
            .map_err(&err)?;
        table_info(&qualified, &table)
    }

    async fn load_table(&self, namespace: &str, name: &str) -> Result<Table> {
        let qualified = format!("{namespace}.{name}");
        self.catalog
            .load_table(&ident(namespace, name))
            .await
            .map_err(iceberg_error(&qualified))
    }

    /// The table's schema, partitioning and current snapshot.
    pub async fn load(&self, namespace: &str, name: &str) -> Result<IcebergTableInfo> {
        let table = self.load_table(namespace, name).await?;
        table_info(&format!("{namespace}.{name}"), &table)
    }

    /// Drops the table from the catalog and deletes its files. Once the catalog row is gone
    /// the table is dropped: a file that cannot be deleted then is left behind, not an error.
    pub async fn drop_table(&self, namespace: &str, name: &str) -> Result<()> {
        let qualified = format!("{namespace}.{name}");
        match self.catalog.purge_table(&ident(namespace, name)).await {
            Ok(()) => Ok(()),
            Err(_) if !self.exists(namespace, name).await? => Ok(()),
            Err(e) => Err(iceberg_error(&qualified)(e)),
        }
    }

    /// The data files of `snapshot` (the current one if `None`), and the snapshot read.
    pub async fn files(
        &self,
        namespace: &str,
        name: &str,
        snapshot: Option<i64>,
    ) -> Result<(Option<i64>, Vec<IcebergFile>)> {
        let table = self.load_table(namespace, name).await?;
        plan_files(&format!("{namespace}.{name}"), &table, snapshot).await
    }

    /// The table's snapshots, oldest first (by sequence number).
    pub async fn snapshots(&self, namespace: &str, name: &str) -> Result<Vec<IcebergSnapshot>> {
        let table = self.load_table(namespace, name).await?;
        Ok(snapshot_list(&table))
    }

    /// Writes the manifest, manifest list and metadata file of a commit of `files`; the
    /// pointer swap is left to [`PreparedCommit::apply`]. `properties` go into the snapshot
    /// summary.
    pub async fn prepare_commit(
        &self,
        namespace: &str,
        name: &str,
        files: Vec<NewDataFile>,
        mode: CommitMode,
        properties: HashMap<String, String>,
        keep_snapshots: Option<usize>,
    ) -> Result<PreparedCommit> {
        let table = self.load_table(namespace, name).await?;
        let qualified = format!("{namespace}.{name}");
        let err = iceberg_error(&qualified);
        let metadata = table.metadata();
        let old_location = table.metadata_location_result().map_err(&err)?.to_string();
        let file_io = table.file_io();
        let schema = Arc::clone(metadata.current_schema());
        let spec = metadata.default_partition_spec().as_ref().clone();
        let partition_type = spec.partition_type(&schema).map_err(&err)?;
        let snapshot_id = new_snapshot_id(&table);
        let sequence = metadata.next_sequence_number();
        let commit_id = uuid_like(snapshot_id);
        let metadata_dir = format!("{}/metadata", metadata.location());
        let parent = metadata.current_snapshot();

        let added_rows: u64 = files.iter().map(|f| f.rows).sum();
        let added_bytes: u64 = files.iter().map(|f| f.size).sum();
        let added_files = files.len();
        let mut manifests = Vec::new();
        if mode == CommitMode::Append
            && let Some(parent) = parent
        {
            let list = table
                .manifest_list_reader(parent)
                .load()
                .await
                .map_err(&err)?;
            manifests.extend(list.consume_entries());
        }
        if !files.is_empty() {
            let output = file_io
                .new_output(format!("{metadata_dir}/{commit_id}-m0.avro"))
                .map_err(&err)?;
            let mut writer = ManifestWriterBuilder::new(
                output,
                Some(snapshot_id),
                Arc::clone(&schema),
                spec.clone(),
            )
            .build_v2_data();
            for file in files {
                let partition =
                    partition_struct(&file.partition, &partition_type).map_err(|message| {
                        Error::Iceberg {
                            table: qualified.clone(),
                            message,
                        }
                    })?;
                let data_file = DataFileBuilder::default()
                    .content(DataContentType::Data)
                    .file_path(file.path.clone())
                    .file_format(DataFileFormat::Parquet)
                    .partition(partition)
                    .partition_spec_id(spec.spec_id())
                    .record_count(file.rows)
                    .file_size_in_bytes(file.size)
                    .build()
                    .map_err(|e| Error::Iceberg {
                        table: qualified.clone(),
                        message: format!("data file {}: {e}", file.path),
                    })?;
                writer.add_file(data_file, sequence).map_err(&err)?;
            }
            manifests.push(writer.write_manifest_file().await.map_err(&err)?);
        }
        let list_path = format!("{metadata_dir}/snap-{snapshot_id}-0-{commit_id}.avro");
        let list_output = file_io
            .new_output(list_path.clone())
            .map_err(&err)?
            .writer()
            .await
            .map_err(&err)?;
        let mut list_writer = ManifestListWriter::v2(
            list_output,
            snapshot_id,
            parent.map(|p| p.snapshot_id()),
            sequence,
        );
        list_writer
            .add_manifests(manifests.into_iter())
            .map_err(&err)?;
        list_writer.close().await.map_err(&err)?;

        let previous = |key: &str| -> u64 {
            parent
                .and_then(|p| p.summary().additional_properties.get(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let (total_rows, total_files, total_bytes) = match mode {
            CommitMode::Append => (
                previous("total-records") + added_rows,
                previous("total-data-files") + added_files as u64,
                previous("total-files-size") + added_bytes,
            ),
            CommitMode::Replace => (added_rows, added_files as u64, added_bytes),
        };
        let mut summary_properties = properties;
        for (key, value) in [
            ("added-data-files", added_files as u64),
            ("added-records", added_rows),
            ("added-files-size", added_bytes),
            ("total-records", total_rows),
            ("total-data-files", total_files),
            ("total-files-size", total_bytes),
            ("total-delete-files", 0),
            ("total-position-deletes", 0),
            ("total-equality-deletes", 0),
        ] {
            summary_properties.insert(key.to_string(), value.to_string());
        }
        if mode == CommitMode::Replace {
            summary_properties.insert(
                "deleted-data-files".into(),
                previous("total-data-files").to_string(),
            );
            summary_properties.insert(
                "deleted-records".into(),
                previous("total-records").to_string(),
            );
        }
        let operation = match mode {
            CommitMode::Append => Operation::Append,
            CommitMode::Replace => Operation::Overwrite,
        };
        let snapshot = Snapshot::builder()
            .with_snapshot_id(snapshot_id)
            .with_parent_snapshot_id(parent.map(|p| p.snapshot_id()))
            .with_sequence_number(sequence)
            .with_timestamp_ms(now_ms())
            .with_manifest_list(list_path)
            .with_summary(Summary {
                operation,
                additional_properties: summary_properties,
            })
            .with_schema_id(metadata.current_schema_id())
            .build();
        // Snapshots beyond the newest `keep_snapshots` (the new one included) are expired, as
        // the owner of the files (a materialised view) deletes their data.
        let expired: Vec<i64> = match keep_snapshots {
            Some(keep) => {
                let mut old: Vec<(i64, i64)> = metadata
                    .snapshots()
                    .map(|s| (s.sequence_number(), s.snapshot_id()))
                    .collect();
                old.sort_unstable();
                let drop = (old.len() + 1).saturating_sub(keep.max(1));
                old.into_iter().take(drop).map(|(_, id)| id).collect()
            }
            None => Vec::new(),
        };
        let mut builder =
            TableMetadataBuilder::new_from_metadata(metadata.clone(), Some(old_location.clone()))
                .set_branch_snapshot(snapshot, MAIN_BRANCH)
                .map_err(&err)?;
        if !expired.is_empty() {
            builder = builder.remove_snapshots(&expired);
        }
        let built = builder.build().map_err(&err)?;
        let new_location = MetadataLocation::from_str(&old_location)
            .map_err(&err)?
            .with_next_version()
            .with_new_metadata(&built.metadata);
        built
            .metadata
            .write_to(file_io, &new_location)
            .await
            .map_err(&err)?;
        Ok(PreparedCommit {
            namespace: namespace.to_string(),
            name: name.to_string(),
            old_location,
            new_location: new_location.to_string(),
            snapshot_id,
        })
    }

    /// Commits `files` in one snapshot; an append retries once if another writer committed
    /// meanwhile.
    pub fn commit<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        files: Vec<NewDataFile>,
        mode: CommitMode,
        properties: HashMap<String, String>,
    ) -> Boxed<'a, Result<i64>> {
        Box::pin(self.commit_impl(namespace, name, files, mode, properties))
    }

    async fn commit_impl(
        &self,
        namespace: &str,
        name: &str,
        files: Vec<NewDataFile>,
        mode: CommitMode,
        properties: HashMap<String, String>,
    ) -> Result<i64> {
        let mut attempt = 0;
        loop {
            let prepared = self
                .prepare_commit(
                    namespace,
                    name,
                    files.clone(),
                    mode,
                    properties.clone(),
                    None,
                )
                .await?;
            let mut tx = self
                .store
                .begin_write()
                .await
                .map_err(|e| prepared.error(format!("cannot commit: {e}")))?;
            match prepared.apply(&mut tx).await {
                Ok(()) => {
                    tx.commit()
                        .await
                        .map_err(|e| prepared.error(format!("cannot commit: {e}")))?;
                    return Ok(prepared.snapshot_id);
                }
                Err(e) if attempt < 2 && mode == CommitMode::Append => {
                    drop(e);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Reads a table straight from one of its metadata files (`…/metadata/vN….metadata.json`),
/// outside any catalog: its info and the files of `snapshot` (the current one if `None`).
pub async fn read_metadata_file(
    metadata_file: &str,
    snapshot: Option<i64>,
) -> Result<(IcebergTableInfo, Option<i64>, Vec<IcebergFile>)> {
    let err = iceberg_error(metadata_file);
    let file_io = iceberg::io::FileIOBuilder::new(Arc::new(LocalFsStorageFactory)).build();
    let static_table = iceberg::table::StaticTable::from_metadata_file(
        metadata_file,
        TableIdent::new(NamespaceIdent::new("external".into()), "table".into()),
        file_io,
    )
    .await
    .map_err(&err)?;
    let table = static_table.into_table();
    let info = table_info(metadata_file, &table)?;
    let (read, files) = plan_files(metadata_file, &table, snapshot).await?;
    Ok((info, read, files))
}

async fn plan_files(
    qualified: &str,
    table: &Table,
    snapshot: Option<i64>,
) -> Result<(Option<i64>, Vec<IcebergFile>)> {
    let err = iceberg_error(qualified);
    let snapshot = match snapshot {
        Some(id) => {
            if table.metadata().snapshot_by_id(id).is_none() {
                return Err(Error::Iceberg {
                    table: qualified.to_string(),
                    message: format!(
                        "has no snapshot {id} (hepq.snapshots lists the table's snapshots)"
                    ),
                });
            }
            Some(id)
        }
        None => table.metadata().current_snapshot_id(),
    };
    let Some(snapshot) = snapshot else {
        return Ok((None, Vec::new()));
    };
    let scan = table
        .scan()
        .snapshot_id(snapshot)
        .select_all()
        .build()
        .map_err(&err)?;
    let tasks: Vec<_> = scan
        .plan_files()
        .await
        .map_err(&err)?
        .try_collect()
        .await
        .map_err(&err)?;
    let mut files = Vec::with_capacity(tasks.len());
    for task in tasks {
        if !task.deletes.is_empty() {
            return Err(Error::Iceberg {
                table: qualified.to_string(),
                message: format!(
                    "data file {} has row-level delete files, which hepq cannot apply yet",
                    task.data_file_path
                ),
            });
        }
        if task.data_file_format != DataFileFormat::Parquet {
            return Err(Error::Iceberg {
                table: qualified.to_string(),
                message: format!(
                    "data file {} is {:?}; hepq reads Parquet data files only",
                    task.data_file_path, task.data_file_format
                ),
            });
        }
        files.push(IcebergFile {
            path: task.data_file_path.clone(),
            size: task.file_size_in_bytes,
            rows: task.record_count.unwrap_or(0),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((Some(snapshot), files))
}

fn snapshot_list(table: &Table) -> Vec<IcebergSnapshot> {
    let metadata = table.metadata();
    let current = metadata.current_snapshot_id();
    let mut snapshots: Vec<(i64, IcebergSnapshot)> = metadata
        .snapshots()
        .map(|s| {
            let summary = s.summary();
            let get = |key: &str| {
                summary
                    .additional_properties
                    .get(key)
                    .and_then(|v| v.parse::<i64>().ok())
            };
            let snapshot = IcebergSnapshot {
                snapshot_id: s.snapshot_id(),
                parent_id: s.parent_snapshot_id(),
                operation: match summary.operation {
                    Operation::Append => "append",
                    Operation::Replace => "replace",
                    Operation::Overwrite => "overwrite",
                    Operation::Delete => "delete",
                }
                .to_string(),
                total_rows: get("total-records"),
                added_rows: get("added-records"),
                added_files: get("added-data-files"),
                timestamp_ms: s.timestamp_ms(),
                is_current: Some(s.snapshot_id()) == current,
            };
            (s.sequence_number(), snapshot)
        })
        .collect();
    // Metadata files need not list snapshots in order; sequence numbers give it.
    snapshots.sort_by_key(|(sequence, s)| (*sequence, s.timestamp_ms, s.snapshot_id));
    snapshots.into_iter().map(|(_, s)| s).collect()
}

fn table_info(qualified: &str, table: &Table) -> Result<IcebergTableInfo> {
    let metadata = table.metadata();
    let schema = metadata.current_schema();
    let fields = schema.as_struct().fields();
    let convert = |file: bool| -> Result<ArrowSchemaRef> {
        let arrow: Vec<Field> = fields
            .iter()
            .map(|f| to_arrow_field(f, file))
            .collect::<std::result::Result<_, String>>()
            .map_err(|message| Error::Iceberg {
                table: qualified.to_string(),
                message,
            })?;
        Ok(Arc::new(ArrowSchema::new(arrow)))
    };
    let mut partitioning = Vec::new();
    let mut unwritable = None;
    for field in metadata.default_partition_spec().fields() {
        let source = schema
            .field_by_id(field.source_id)
            .map(|f| f.name.clone())
            .ok_or_else(|| Error::Iceberg {
                table: qualified.to_string(),
                message: format!("partition field {} has no source column", field.name),
            })?;
        // A table another tool partitioned by a time transform stays readable; writing to it
        // is refused with this reason.
        match PartitionTransform::from_iceberg(&field.transform) {
            Some(transform) => partitioning.push(PartitionColumn {
                name: field.name.clone(),
                source,
                transform,
            }),
            None => {
                unwritable = Some(format!(
                    "partition field {} uses the transform {}, which hepq cannot compute yet",
                    field.name, field.transform
                ));
            }
        }
    }
    Ok(IcebergTableInfo {
        qualified_name: qualified.to_string(),
        location: metadata.location().to_string(),
        metadata_location: table
            .metadata_location()
            .map(str::to_string)
            .unwrap_or_default(),
        table_schema: convert(false)?,
        file_schema: convert(true)?,
        partitioning,
        unwritable,
        current_snapshot: metadata.current_snapshot_id(),
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A positive snapshot id that the table does not use yet.
fn new_snapshot_id(table: &Table) -> i64 {
    // Time, process and a per-process counter: two commits of one process in the same
    // millisecond get different ids too.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut seed = (now_ms() as u64 ^ u64::from(std::process::id()).rotate_left(32))
        .wrapping_add(count.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    loop {
        // splitmix64 of a time- and process-dependent seed.
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let id = (z >> 1) as i64;
        if id != 0 && table.metadata().snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

/// A unique name part for the commit's files.
fn uuid_like(snapshot_id: i64) -> String {
    let mut text = String::new();
    let _ = write!(text, "{snapshot_id:016x}-{:08x}", std::process::id());
    text
}

// ---------------------------------------------------------------------------------------------
// Types.

/// Iceberg's schema for an Arrow schema, with field ids assigned in order.
fn to_iceberg_schema(schema: &ArrowSchema) -> std::result::Result<IcebergSchema, String> {
    let mut next_id = 0;
    let fields = schema
        .fields()
        .iter()
        .map(|f| to_iceberg_field(f, &mut next_id))
        .collect::<std::result::Result<Vec<_>, String>>()?;
    IcebergSchema::builder()
        .with_schema_id(0)
        .with_fields(fields)
        .build()
        .map_err(|e| e.to_string())
}

fn to_iceberg_field(
    field: &Field,
    next_id: &mut i32,
) -> std::result::Result<NestedFieldRef, String> {
    *next_id += 1;
    let id = *next_id;
    let field_type = to_iceberg_type(field.name(), field.data_type(), next_id)?;
    Ok(Arc::new(NestedField::optional(
        id,
        field.name(),
        field_type,
    )))
}

fn to_iceberg_type(
    column: &str,
    data_type: &DataType,
    next_id: &mut i32,
) -> std::result::Result<Type, String> {
    let primitive = |p: PrimitiveType| Ok(Type::Primitive(p));
    match data_type {
        DataType::Boolean => primitive(PrimitiveType::Boolean),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            primitive(PrimitiveType::Int)
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => primitive(PrimitiveType::Long),
        DataType::Float16 | DataType::Float32 => primitive(PrimitiveType::Float),
        DataType::Float64 => primitive(PrimitiveType::Double),
        DataType::Decimal128(p, s) if *p <= 38 && *s >= 0 => primitive(PrimitiveType::Decimal {
            precision: u32::from(*p),
            scale: *s as u32,
        }),
        DataType::Date32 | DataType::Date64 => primitive(PrimitiveType::Date),
        DataType::Time32(_) | DataType::Time64(_) => primitive(PrimitiveType::Time),
        DataType::Timestamp(_, None) => primitive(PrimitiveType::Timestamp),
        DataType::Timestamp(_, Some(_)) => primitive(PrimitiveType::Timestamptz),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            primitive(PrimitiveType::String)
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            primitive(PrimitiveType::Binary)
        }
        DataType::FixedSizeBinary(n) if *n > 0 => primitive(PrimitiveType::Fixed(*n as u64)),
        DataType::Dictionary(_, value) => to_iceberg_type(column, value, next_id),
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item)
        | DataType::FixedSizeList(item, _) => {
            *next_id += 1;
            let id = *next_id;
            let element = to_iceberg_type(column, item.data_type(), next_id)?;
            Ok(Type::List(ListType::new(Arc::new(
                NestedField::list_element(id, element, false),
            ))))
        }
        DataType::Struct(fields) => {
            let fields = fields
                .iter()
                .map(|f| to_iceberg_field(f, next_id))
                .collect::<std::result::Result<Vec<_>, String>>()?;
            Ok(Type::Struct(StructType::new(fields)))
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(format!("column {column}: map entries are not a struct"));
            };
            let (Some(key), Some(value)) = (kv.first(), kv.get(1)) else {
                return Err(format!(
                    "column {column}: map entries need a key and a value"
                ));
            };
            *next_id += 1;
            let key_id = *next_id;
            *next_id += 1;
            let value_id = *next_id;
            let key_type = to_iceberg_type(column, key.data_type(), next_id)?;
            let value_type = to_iceberg_type(column, value.data_type(), next_id)?;
            Ok(Type::Map(MapType::new(
                Arc::new(NestedField::map_key_element(key_id, key_type)),
                Arc::new(NestedField::map_value_element(value_id, value_type, false)),
            )))
        }
        other => Err(format!(
            "column {column} has type {other}, which an Iceberg table cannot hold"
        )),
    }
}

/// The Arrow field of an Iceberg field: as tables show it (`file == false`) or as data files
/// hold it (`file == true`: field ids, Iceberg's element names).
fn to_arrow_field(field: &NestedField, file: bool) -> std::result::Result<Field, String> {
    let data_type = to_arrow_type(&field.name, &field.field_type, file)?;
    let arrow = Field::new(&field.name, data_type, !field.required);
    Ok(with_id(arrow, field.id, file))
}

fn with_id(field: Field, id: i32, file: bool) -> Field {
    if file {
        field.with_metadata(HashMap::from([(FIELD_ID_KEY.to_string(), id.to_string())]))
    } else {
        field
    }
}

fn to_arrow_type(column: &str, t: &Type, file: bool) -> std::result::Result<DataType, String> {
    Ok(match t {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => DataType::Boolean,
            PrimitiveType::Int => DataType::Int32,
            PrimitiveType::Long => DataType::Int64,
            PrimitiveType::Float => DataType::Float32,
            PrimitiveType::Double => DataType::Float64,
            PrimitiveType::Decimal { precision, scale } => DataType::Decimal128(
                u8::try_from(*precision).map_err(|_| format!("column {column}: precision"))?,
                i8::try_from(*scale).map_err(|_| format!("column {column}: scale"))?,
            ),
            PrimitiveType::Date => DataType::Date32,
            PrimitiveType::Time => DataType::Time64(TimeUnit::Microsecond),
            PrimitiveType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            PrimitiveType::Timestamptz => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
            }
            PrimitiveType::TimestampNs => DataType::Timestamp(TimeUnit::Nanosecond, None),
            PrimitiveType::TimestamptzNs => {
                DataType::Timestamp(TimeUnit::Nanosecond, Some("+00:00".into()))
            }
            PrimitiveType::String => DataType::Utf8,
            PrimitiveType::Uuid => DataType::FixedSizeBinary(16),
            PrimitiveType::Fixed(n) => DataType::FixedSizeBinary(
                i32::try_from(*n).map_err(|_| format!("column {column}: fixed({n})"))?,
            ),
            PrimitiveType::Binary => DataType::Binary,
        },
        Type::List(list) => {
            let element = &list.element_field;
            let inner = to_arrow_type(column, &element.field_type, file)?;
            let name = if file { "element" } else { "item" };
            let item = with_id(Field::new(name, inner, !element.required), element.id, file);
            DataType::List(Arc::new(item))
        }
        Type::Struct(s) => DataType::Struct(Fields::from(
            s.fields()
                .iter()
                .map(|f| to_arrow_field(f, file))
                .collect::<std::result::Result<Vec<_>, String>>()?,
        )),
        Type::Map(map) => {
            let key = to_arrow_field(&map.key_field, file)?;
            let value = to_arrow_field(&map.value_field, file)?;
            let key = Field::new("key", key.data_type().clone(), false)
                .with_metadata(key.metadata().clone());
            let value = Field::new("value", value.data_type().clone(), value.is_nullable())
                .with_metadata(value.metadata().clone());
            DataType::Map(
                Arc::new(Field::new(
                    if file { "key_value" } else { "entries" },
                    DataType::Struct(Fields::from(vec![key, value])),
                    false,
                )),
                false,
            )
        }
    })
}

fn check_partition_source(
    column: &str,
    t: &Type,
    transform: PartitionTransform,
) -> std::result::Result<(), String> {
    let Type::Primitive(p) = t else {
        return Err(format!(
            "partition column {column} is not a scalar column (lists, structs and maps cannot \
             partition a table)"
        ));
    };
    let ok = match transform {
        PartitionTransform::Identity => matches!(
            p,
            PrimitiveType::Boolean
                | PrimitiveType::Int
                | PrimitiveType::Long
                | PrimitiveType::Date
                | PrimitiveType::String
        ),
        PartitionTransform::Bucket(n) => {
            n > 0
                && matches!(
                    p,
                    PrimitiveType::Int
                        | PrimitiveType::Long
                        | PrimitiveType::Date
                        | PrimitiveType::String
                )
        }
        PartitionTransform::Truncate(w) => {
            w > 0
                && matches!(
                    p,
                    PrimitiveType::Int | PrimitiveType::Long | PrimitiveType::String
                )
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cannot partition by {} (column {column} is {p}); hepq partitions by identity of \
             boolean, integer, date and string columns, bucket(N, …) of integer, date and \
             string columns, and truncate(W, …) of integer and string columns",
            transform.describe(column)
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Partition values.

/// The partition key of every row of `batch` (a batch in the table's file schema).
pub fn partition_keys(
    partitioning: &[PartitionColumn],
    batch: &RecordBatch,
) -> std::result::Result<Vec<PartitionKey>, String> {
    let rows = batch.num_rows();
    let mut keys: Vec<PartitionKey> = vec![Vec::with_capacity(partitioning.len()); rows];
    for column in partitioning {
        let index = batch
            .schema()
            .index_of(&column.source)
            .map_err(|_| format!("partition source column {} is missing", column.source))?;
        let array = batch.column(index);
        let values = transform_values(column, array.as_ref())?;
        for (key, value) in keys.iter_mut().zip(values) {
            key.push(value);
        }
    }
    Ok(keys)
}

fn transform_values(
    column: &PartitionColumn,
    array: &dyn Array,
) -> std::result::Result<Vec<Option<PartitionValue>>, String> {
    let n = array.len();
    let mut out = Vec::with_capacity(n);
    let transform = column.transform;
    match array.data_type() {
        DataType::Boolean => {
            let a: &BooleanArray = array.as_boolean();
            for i in 0..n {
                out.push((!a.is_null(i)).then(|| PartitionValue::Bool(a.value(i))));
            }
            if transform != PartitionTransform::Identity {
                return Err(format!(
                    "cannot {} a boolean",
                    transform.describe(&column.source)
                ));
            }
        }
        DataType::Int32 => {
            let a: &Int32Array = array.as_primitive();
            for i in 0..n {
                out.push((!a.is_null(i)).then(|| {
                    let v = a.value(i);
                    match transform {
                        PartitionTransform::Identity => PartitionValue::Int(v),
                        PartitionTransform::Bucket(b) => {
                            PartitionValue::Int(bucket(&i64::from(v).to_le_bytes(), b))
                        }
                        PartitionTransform::Truncate(w) => {
                            // As Iceberg's `v - (((v % W) + W) % W)`, wrapping at the type's
                            // ends (a width beyond the type keeps the value's floor at MIN).
                            let w = i32::try_from(w).unwrap_or(i32::MAX);
                            PartitionValue::Int(v.wrapping_sub(v.rem_euclid(w)))
                        }
                    }
                }));
            }
        }
        DataType::Int64 => {
            let a: &Int64Array = array.as_primitive();
            for i in 0..n {
                out.push((!a.is_null(i)).then(|| {
                    let v = a.value(i);
                    match transform {
                        PartitionTransform::Identity => PartitionValue::Long(v),
                        PartitionTransform::Bucket(b) => {
                            PartitionValue::Int(bucket(&v.to_le_bytes(), b))
                        }
                        PartitionTransform::Truncate(w) => {
                            PartitionValue::Long(v.wrapping_sub(v.rem_euclid(i64::from(w))))
                        }
                    }
                }));
            }
        }
        DataType::Date32 => {
            let a: &Date32Array = array.as_primitive();
            for i in 0..n {
                out.push((!a.is_null(i)).then(|| {
                    let v = a.value(i);
                    match transform {
                        PartitionTransform::Bucket(b) => {
                            PartitionValue::Int(bucket(&i64::from(v).to_le_bytes(), b))
                        }
                        _ => PartitionValue::Date(v),
                    }
                }));
            }
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            for i in 0..n {
                out.push((!a.is_null(i)).then(|| {
                    let v = a.value(i);
                    match transform {
                        PartitionTransform::Identity => PartitionValue::Str(v.to_string()),
                        PartitionTransform::Bucket(b) => {
                            PartitionValue::Int(bucket(v.as_bytes(), b))
                        }
                        PartitionTransform::Truncate(w) => {
                            PartitionValue::Str(v.chars().take(w as usize).collect())
                        }
                    }
                }));
            }
        }
        other => {
            return Err(format!(
                "cannot partition by column {} of type {other}",
                column.source
            ));
        }
    }
    Ok(out)
}

/// Iceberg's bucket: Murmur3 (x86, 32 bit, seed 0) of the value's bytes, sign bit cleared,
/// mod `n`.
fn bucket(bytes: &[u8], n: u32) -> i32 {
    let hash = murmur3::murmur3_32(&mut std::io::Cursor::new(bytes), 0).unwrap_or(0);
    ((hash & 0x7FFF_FFFF) % n.max(1)) as i32
}

/// The Hive-style folder of a partition (`run=194050/event_bucket=3`).
pub fn partition_path(partitioning: &[PartitionColumn], key: &PartitionKey) -> String {
    let mut path = String::new();
    for (column, value) in partitioning.iter().zip(key) {
        if !path.is_empty() {
            path.push('/');
        }
        let text = match value {
            None => "null".to_string(),
            Some(PartitionValue::Bool(b)) => b.to_string(),
            Some(PartitionValue::Int(v)) | Some(PartitionValue::Date(v)) => v.to_string(),
            Some(PartitionValue::Long(v)) => v.to_string(),
            Some(PartitionValue::Str(s)) => s.clone(),
        };
        let _ = write!(path, "{}={}", escape(&column.name), escape(&text));
    }
    path
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn partition_struct(
    key: &PartitionKey,
    partition_type: &StructType,
) -> std::result::Result<Struct, String> {
    let fields = partition_type.fields();
    if key.len() != fields.len() {
        return Err(format!(
            "a data file has {} partition values; the table's partition spec has {} fields",
            key.len(),
            fields.len()
        ));
    }
    Ok(Struct::from_iter(key.iter().map(|value| {
        value.as_ref().map(|v| match v {
            PartitionValue::Bool(b) => Literal::bool(*b),
            PartitionValue::Int(i) => Literal::int(*i),
            PartitionValue::Long(l) => Literal::long(*l),
            PartitionValue::Date(d) => Literal::date(*d),
            PartitionValue::Str(s) => Literal::string(s),
        })
    })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn file(path: &str, rows: u64) -> NewDataFile {
        NewDataFile {
            path: path.to_string(),
            size: 100,
            rows,
            partition: Vec::new(),
        }
    }

    #[tokio::test]
    async fn commits_swap_the_pointer_only_from_the_snapshot_they_started_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = CatalogStore::open_warehouse(dir.path()).await.unwrap();
        let iceberg = IcebergCatalog::open(&store, dir.path()).await.unwrap();
        let schema = ArrowSchema::new(vec![Field::new("x", DataType::Int64, true)]);
        iceberg.create("public", "t", &schema, &[]).await.unwrap();
        let first = iceberg
            .prepare_commit(
                "public",
                "t",
                vec![file("/a.parquet", 1)],
                CommitMode::Append,
                HashMap::new(),
                None,
            )
            .await
            .unwrap();
        let rival = iceberg
            .prepare_commit(
                "public",
                "t",
                vec![file("/b.parquet", 2)],
                CommitMode::Append,
                HashMap::new(),
                None,
            )
            .await
            .unwrap();
        let mut tx = store.begin_write().await.unwrap();
        first.apply(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin_write().await.unwrap();
        let lost = rival.apply(&mut tx).await.unwrap_err().to_string();
        assert!(lost.contains("another commit changed the table"), "{lost}");
        drop(tx);
        // `commit` prepares again on the new snapshot.
        iceberg
            .commit(
                "public",
                "t",
                vec![file("/c.parquet", 3)],
                CommitMode::Append,
                HashMap::new(),
            )
            .await
            .unwrap();
        let (_, files) = iceberg.files("public", "t", None).await.unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/a.parquet", "/c.parquet"]);
        // A replace keeps only its own files; the older snapshot still lists the old ones.
        let replaced = iceberg
            .commit(
                "public",
                "t",
                vec![file("/d.parquet", 4)],
                CommitMode::Replace,
                HashMap::new(),
            )
            .await
            .unwrap();
        let snapshots = iceberg.snapshots("public", "t").await.unwrap();
        assert_eq!(snapshots.len(), 3);
        assert!(
            snapshots
                .iter()
                .any(|s| s.snapshot_id == replaced && s.is_current)
        );
        assert_eq!(
            snapshots.iter().find(|s| s.is_current).unwrap().total_rows,
            Some(4)
        );
        let (_, now) = iceberg.files("public", "t", None).await.unwrap();
        assert_eq!(now.len(), 1);
        let (_, then) = iceberg
            .files("public", "t", Some(snapshots[1].snapshot_id))
            .await
            .unwrap();
        assert_eq!(then.len(), 2);
        let missing = iceberg
            .files("public", "t", Some(1))
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("has no snapshot 1"), "{missing}");
        store.close().await;
    }

    #[test]
    fn buckets_match_the_iceberg_spec() {
        // The spec's examples (Appendix B): int 34 → 2017239379, long 34 → 2017239379,
        // string "iceberg" → 1210000089.
        let hash = |b: &[u8]| murmur3::murmur3_32(&mut std::io::Cursor::new(b), 0).unwrap();
        assert_eq!(hash(&34i64.to_le_bytes()) as i32, 2017239379);
        assert_eq!(hash(b"iceberg") as i32, 1210000089);
        assert_eq!(bucket(&34i64.to_le_bytes(), 16), 2017239379 % 16);
    }

    #[test]
    fn truncation_rounds_down() {
        let column = PartitionColumn {
            name: "x_trunc".into(),
            source: "x".into(),
            transform: PartitionTransform::Truncate(10),
        };
        let array = Int32Array::from(vec![Some(1), Some(-1), None, Some(25), Some(i32::MIN)]);
        let values = transform_values(&column, &array).unwrap();
        assert_eq!(
            values,
            vec![
                Some(PartitionValue::Int(0)),
                Some(PartitionValue::Int(-10)),
                None,
                Some(PartitionValue::Int(20)),
                // i32::MIN rem_euclid 10 is 2: the floor wraps, as in Iceberg's Java code.
                Some(PartitionValue::Int(i32::MIN.wrapping_sub(2))),
            ]
        );
    }

    #[test]
    fn schemas_round_trip_with_field_ids() {
        let schema = ArrowSchema::new(vec![
            Field::new("run", DataType::Int32, false),
            Field::new(
                "pt",
                DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
                true,
            ),
            Field::new(
                "s",
                DataType::Struct(Fields::from(vec![Field::new("a", DataType::Utf8, true)])),
                true,
            ),
        ]);
        let iceberg = to_iceberg_schema(&schema).unwrap();
        let pt = iceberg.field_by_name("pt").unwrap();
        let file = to_arrow_field(pt, true).unwrap();
        assert_eq!(
            file.metadata().get(FIELD_ID_KEY).map(String::as_str),
            Some("2")
        );
        let DataType::List(item) = file.data_type() else {
            panic!("{file:?}")
        };
        assert_eq!(item.name(), "element");
        assert_eq!(
            item.metadata().get(FIELD_ID_KEY).map(String::as_str),
            Some("3")
        );
        let table = to_arrow_field(pt, false).unwrap();
        assert_eq!(table.data_type(), schema.field(1).data_type());
    }
}
