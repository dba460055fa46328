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
//! | `collections` | `separate` (default): one column per branch; `zip`: NanoAOD collections (`nJet`, `Jet_pt`, `Jet_eta`, …) become one column `Jet: List<Struct<pt, eta, …>>` (see [`super::zip`]) |
//!
//! `COPY (SELECT …) TO 'out.root' STORED AS ROOT OPTIONS (...)` writes one TTree ([`RootSink`](super::sink::RootSink));
//! its options are listed in [`super::sink::write_options`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
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

use datafusion::datasource::physical_plan::FileSinkConfig;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::physical_expr_common::sort_expr::LexRequirement;

use super::open::with_tree;
use super::sink::{
    READ_ONLY_OPTIONS, RootSink, WRITE_ONLY_OPTIONS, check_write_option, write_options,
};
use super::source::RootSource;
use super::zip::zip_schema;

/// The extension ROOT files carry.
pub const ROOT_EXTENSION: &str = "root";

/// Options of a ROOT table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootOptions {
    /// The TTree to read in each file; `None`: the file's only TTree.
    pub tree: Option<String>,
    /// `'collections' 'zip'`: NanoAOD collections as `List<Struct>` columns.
    pub zip_collections: bool,
    /// `STORED AS RNTUPLE`: read only RNTuples (`tree` then names the RNTuple).
    pub rntuple_only: bool,
    /// Options only COPY TO uses (`compression`, `level`, …), as given.
    pub write: BTreeMap<String, String>,
    /// Every option name given, to refuse read-only options on writes and vice versa.
    pub given: BTreeSet<String>,
}

impl RootOptions {
    /// Reads the table options, rejecting unknown ones by name.
    pub fn from_options(options: &HashMap<String, String>) -> Result<Self> {
        let mut parsed = RootOptions::default();
        for (key, value) in options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            parsed.given.insert(key.to_string());
            match key {
                "tree" | "ttree" => parsed.tree = Some(value.clone()),
                "collections" => {
                    parsed.zip_collections = match value.to_ascii_lowercase().as_str() {
                        "zip" => true,
                        "separate" => false,
                        other => {
                            return plan_err!(
                                "option 'collections' of STORED AS ROOT is 'zip' or 'separate', \
                                 not '{other}'"
                            );
                        }
                    }
                }
                k if WRITE_ONLY_OPTIONS.contains(&k) => {
                    check_write_option(k, value)?;
                    parsed.write.insert(k.to_string(), value.clone());
                }
                other => {
                    return plan_err!(
                        "unknown option '{other}' for STORED AS ROOT (known: 'tree', 'collections'; for COPY TO also {})",
                        WRITE_ONLY_OPTIONS.join(", ")
                    );
                }
            }
        }
        Ok(parsed)
    }

    /// Reads the options of `STORED AS RNTUPLE`: `ntuple` (also `name`, `rntuple`), the
    /// RNTuple in each file. The table is then read by the same machinery as ROOT tables.
    pub fn from_rntuple_options(options: &HashMap<String, String>) -> Result<Self> {
        let mut parsed = RootOptions {
            rntuple_only: true,
            ..RootOptions::default()
        };
        for (key, value) in options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            match key {
                "ntuple" | "name" | "rntuple" => parsed.tree = Some(value.clone()),
                other => {
                    return plan_err!(
                        "unknown option '{other}' for STORED AS RNTUPLE (known: 'ntuple')"
                    );
                }
            }
            parsed.given.insert(key.to_string());
        }
        Ok(parsed)
    }

    /// Refuses options that only COPY TO understands, naming them.
    pub fn check_read(&self) -> Result<()> {
        match self.write.keys().next() {
            Some(k) => {
                plan_err!("option '{k}' of STORED AS ROOT is only valid for COPY ... TO (writing)")
            }
            None => Ok(()),
        }
    }

    /// Refuses options that only reads understand, naming them.
    pub fn check_write(&self) -> Result<()> {
        match self
            .given
            .iter()
            .find(|k| READ_ONLY_OPTIONS.contains(&k.as_str()))
        {
            Some(k) => plan_err!(
                "option '{k}' of STORED AS ROOT is only valid for reading, not for COPY ... TO"
            ),
            None => Ok(()),
        }
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
        self.options.check_read()?;
        let mut merged: Option<(Schema, String)> = None;
        let zip = self.options.zip_collections;
        for object in objects {
            let (schema, entries) = with_tree(store, object, &self.options, move |tree| {
                let schema = tree.schema();
                let schema = if zip {
                    Arc::new(zip_schema(&schema))
                } else {
                    schema
                };
                Ok((schema, tree.entries()))
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
        self.options.check_read()?;
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

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        _state: &dyn Session,
        conf: FileSinkConfig,
        order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.options.rntuple_only {
            return plan_err!(
                "COPY ... TO STORED AS RNTUPLE is not supported; write a TTree with STORED AS ROOT"
            );
        }
        self.options.check_write()?;
        let options = write_options(self.options.tree.as_deref(), &self.options.write)?;
        let sink = Arc::new(RootSink::new(conf, options));
        Ok(Arc::new(DataSinkExec::new(input, sink, order_requirements)))
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
