//! [`RNTupleFormat`]: ROOT RNTuples as a DataFusion [`FileFormat`] — schema and statistics
//! inference, and the scan plan ([`RNTupleSource`]).
//!
//! `CREATE EXTERNAL TABLE ev STORED AS RNTUPLE LOCATION 'dir/' OPTIONS ('ntuple' 'Events')` goes
//! through hepq's Hive table factory, so files, folders, globs, URLs and `key=value` partition
//! folders work exactly as for Parquet.
//!
//! Options (`OPTIONS (...)`, also accepted with a `format.` prefix):
//!
//! | option | meaning |
//! |---|---|
//! | `ntuple` (or `name`) | path of the RNTuple inside each file (`Events`, `dir/ntuple`); optional when a file holds exactly one RNTuple |

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

use super::open::with_ntuple;
use super::source::RNTupleSource;

/// The extension ROOT files carry (RNTuples live in ROOT files).
pub const ROOT_EXTENSION: &str = "root";

/// The name of the format in `STORED AS RNTUPLE` (the key DataFusion registers it under).
pub const RNTUPLE_FORMAT: &str = "rntuple";

/// Options of an RNTuple table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RNTupleOptions {
    /// The RNTuple to read in each file; `None`: the file's only RNTuple.
    pub ntuple: Option<String>,
}

impl RNTupleOptions {
    /// Reads the table options, rejecting unknown ones by name.
    pub fn from_options(options: &HashMap<String, String>) -> Result<Self> {
        let mut parsed = RNTupleOptions::default();
        for (key, value) in options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            match key {
                "ntuple" | "name" | "rntuple" => parsed.ntuple = Some(value.clone()),
                other => {
                    return plan_err!(
                        "unknown option '{other}' for STORED AS RNTUPLE (known: 'ntuple')"
                    );
                }
            }
        }
        Ok(parsed)
    }
}

/// Creates [`RNTupleFormat`]s from `STORED AS RNTUPLE` options.
#[derive(Debug, Default)]
pub struct RNTupleFormatFactory;

impl FileFormatFactory for RNTupleFormatFactory {
    fn create(
        &self,
        _state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        Ok(Arc::new(RNTupleFormat::new(RNTupleOptions::from_options(
            format_options,
        )?)))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(RNTupleFormat::default())
    }
}

impl GetExt for RNTupleFormatFactory {
    fn get_ext(&self) -> String {
        RNTUPLE_FORMAT.to_string()
    }
}

/// RNTuples as a table: one row per entry, one column per supported top-level field.
#[derive(Debug, Default, Clone)]
pub struct RNTupleFormat {
    options: RNTupleOptions,
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

impl RNTupleFormat {
    /// A format reading the RNTuple `options` names.
    pub fn new(options: RNTupleOptions) -> Self {
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
    pub fn options(&self) -> &RNTupleOptions {
        &self.options
    }
}

#[async_trait]
impl FileFormat for RNTupleFormat {
    fn get_ext(&self) -> String {
        ROOT_EXTENSION.to_string()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> Result<String> {
        if compression.is_compressed() {
            return plan_err!("RNTuples compress their own pages; no file compression");
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
            let (schema, entries) = with_ntuple(store, object, &self.options, |nt| {
                Ok((nt.schema(), nt.entries()))
            })
            .await?;
            self.entries_cache().insert(file_key(object), entries);
            let schema = strip_metadata(&schema);
            merged = Some(match merged {
                None => (schema, object.location.to_string()),
                Some((have, first)) => {
                    let next = Schema::try_merge([have, schema]).map_err(|e| {
                        DataFusionError::Plan(format!(
                            "'{}' and '{first}' disagree on the RNTuple's fields: {e}",
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
                "no RNTuple files to infer a schema from"
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
            None => with_ntuple(store, object, &self.options, |nt| Ok(nt.entries())).await?,
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
            Arc::new(RNTupleSource::new(table_schema, self.options.clone()));
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
        Arc::new(RNTupleSource::new(table_schema, self.options.clone()))
    }
}

/// Field and schema metadata (C++ type names) differ between files of one dataset in
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
