//! [`RootFormat`]: ROOT TTree files as a DataFusion [`FileFormat`] — schema and statistics
//! inference, and the scan plan ([`RootSource`]).
//!
//! `CREATE EXTERNAL TABLE ev STORED AS ROOT LOCATION 'dir/' OPTIONS ('tree' 'Events')` goes
//! through hepq's Hive table factory, so files, folders, globs, URLs and `key=value` partition
//! folders work exactly as for Parquet.
//!
//! Options (`OPTIONS (...)`, also accepted with a `format.` prefix):
//!
//! | option | meaning |
//! |---|---|
//! | `tree` | path of the TTree inside each file (`Events`, `dir/sub/tree`); optional when a file holds exactly one TTree. A file without that TTree but with an RNTuple of that name (or, without `tree`, with exactly one RNTuple and no TTree) is read as the RNTuple |

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{
    DataFusionError, GetExt, Result, Statistics, internal_datafusion_err, plan_err,
};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory};
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder, FileSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::physical_plan::ExecutionPlan;
use object_store::{ObjectMeta, ObjectStore};

use super::open::with_tree;
use super::source::RootSource;

/// The extension ROOT files carry.
pub const ROOT_EXTENSION: &str = "root";

/// Options of a ROOT table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootOptions {
    /// The TTree to read in each file; `None`: the file's only TTree.
    pub tree: Option<String>,
}

impl RootOptions {
    /// Reads the table options, rejecting unknown ones by name.
    pub fn from_options(options: &HashMap<String, String>) -> Result<Self> {
        let mut parsed = RootOptions::default();
        for (key, value) in options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            match key {
                "tree" | "ttree" => parsed.tree = Some(value.clone()),
                other => {
                    return plan_err!(
                        "unknown option '{other}' for STORED AS ROOT (known: 'tree')"
                    );
                }
            }
        }
        Ok(parsed)
    }
}

/// Creates [`RootFormat`]s from `STORED AS ROOT` options.
#[derive(Debug, Default)]
pub struct RootFormatFactory;

impl FileFormatFactory for RootFormatFactory {
    fn create(
        &self,
        _state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        Ok(Arc::new(RootFormat::new(RootOptions::from_options(
            format_options,
        )?)))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(RootFormat::default())
    }
}

impl GetExt for RootFormatFactory {
    fn get_ext(&self) -> String {
        ROOT_EXTENSION.to_string()
    }
}

/// ROOT TTree files as a table: one row per entry, one column per supported branch.
#[derive(Debug, Default, Clone)]
pub struct RootFormat {
    options: RootOptions,
    /// Entry counts seen while inferring the schema, so that the statistics DataFusion asks
    /// for next do not open every file a second time. Keyed by path, size and modification
    /// time, so a rewritten file is read again.
    entries: Arc<Mutex<HashMap<FileKey, u64>>>,
}

/// Identifies one version of one file.
type FileKey = (String, u64, i64);

fn file_key(object: &ObjectMeta) -> FileKey {
    (
        object.location.to_string(),
        object.size,
        object
            .last_modified
            .timestamp_nanos_opt()
            .unwrap_or_default(),
    )
}

impl RootFormat {
    /// A format reading the tree `options` name.
    pub fn new(options: RootOptions) -> Self {
        Self {
            options,
            entries: Arc::default(),
        }
    }

    fn entries_cache(&self) -> std::sync::MutexGuard<'_, HashMap<FileKey, u64>> {
        // A poisoned lock only means another thread panicked; the map is still valid.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The table options.
    pub fn options(&self) -> &RootOptions {
        &self.options
    }
}

#[async_trait]
impl FileFormat for RootFormat {
    fn get_ext(&self) -> String {
        ROOT_EXTENSION.to_string()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> Result<String> {
        if compression.is_compressed() {
            return plan_err!("ROOT files compress their own baskets; no file compression");
        }
        Ok(self.get_ext())
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        None
    }

    async fn infer_schema(
        &self,
        _state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        let mut merged: Option<(Schema, String)> = None;
        for object in objects {
            let (schema, entries) = with_tree(store, object, &self.options, |tree| {
                Ok((tree.schema(), tree.entries()))
            })
            .await?;
            self.entries_cache().insert(file_key(object), entries);
            let schema = strip_metadata(&schema);
            merged = Some(match merged {
                None => (schema, object.location.to_string()),
                Some((have, first)) => {
                    let next = Schema::try_merge([have, schema]).map_err(|e| {
                        DataFusionError::Plan(format!(
                            "'{}' and '{first}' disagree on the tree's branches: {e}",
                            object.location
                        ))
                    })?;
                    (next, first)
                }
            });
        }
        match merged {
            Some((schema, _)) => Ok(Arc::new(schema)),
            None => Err(internal_datafusion_err!(
                "no ROOT files to infer a schema from"
            )),
        }
    }

    async fn infer_stats(
        &self,
        _state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        let cached = self.entries_cache().get(&file_key(object)).copied();
        let entries = match cached {
            Some(entries) => entries,
            None => with_tree(store, object, &self.options, |tree| Ok(tree.entries())).await?,
        };
        let rows = usize::try_from(entries).unwrap_or(usize::MAX);
        Ok(Statistics::new_unknown(&table_schema).with_num_rows(Precision::Exact(rows)))
    }

    async fn create_physical_plan(
        &self,
        _state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table_schema = TableSchema::builder(Arc::clone(conf.file_schema()))
            .with_table_partition_cols(
                conf.table_partition_cols()
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>(),
            )
            .build();
        let mut source: Arc<dyn FileSource> =
            Arc::new(RootSource::new(table_schema, self.options.clone()));
        if let Some(projection) = conf.file_source.projection()
            && let Some(projected) = source.try_pushdown_projection(projection)?
        {
            source = projected;
        }
        let config = FileScanConfigBuilder::from(conf)
            .with_source(source)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        Arc::new(RootSource::new(table_schema, self.options.clone()))
    }
}

/// Field and schema metadata (ROOT type names) differ between files of one dataset in
/// harmless ways; the merged table schema keeps only names and types.
fn strip_metadata(schema: &Schema) -> Schema {
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_metadata(HashMap::new()))
            .collect::<Vec<_>>(),
    )
}
