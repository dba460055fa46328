//! Hive-partitioned tables: `CREATE EXTERNAL TABLE … LOCATION 'dir/'` over `key=value` folders.
//!
//! DataFusion's own `ListingTableFactory` can find partition *names* in directory paths but
//! types every one of them as a dictionary-encoded string, and it reads a typed
//! `PARTITIONED BY (run BIGINT)` clause as the table's whole schema. [`HiveTableFactory`]
//! replaces it for every listing format (Parquet, CSV, JSON, Arrow):
//!
//! ```text
//!  LOCATION 'lhc/'                      discovered partition columns
//!  ├── run=194050/part-00000.parquet    run      BIGINT   (every value is an integer)
//!  ├── run=194075/part-00000.parquet
//!  └── run=194108/part-00000.parquet
//!
//!  LOCATION 'legend/'
//!  └── period=p03/run=r001/datatype=cal/part-00000.parquet
//!                                       period, run, datatype  VARCHAR
//! ```
//!
//! * Keys come from the folder names between the table root and each file, in path order;
//!   every file must sit under the same keys, otherwise the error names two disagreeing files.
//! * A key whose values all parse as 64-bit integers is `BIGINT`, anything else `VARCHAR`.
//! * `PARTITIONED BY (k)` picks keys by name; `PARTITIONED BY (k TYPE)` also fixes the type;
//!   columns declared besides partition columns are the files' schema, otherwise it is inferred.
//! * Partition columns come after the file columns, as in DuckDB and Spark. Filters on them
//!   prune whole folders before any file is opened (visible as fewer files in `EXPLAIN`).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::{DataFusionError, Result, plan_datafusion_err, plan_err};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::CreateExternalTable;
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

/// The value Hive writes for a NULL partition key.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// Creates listing tables whose `key=value` folders become typed partition columns.
///
/// Register it in place of DataFusion's `ListingTableFactory` for each listing format (see
/// [`crate::register_table_factories`]).
#[derive(Debug, Default)]
pub struct HiveTableFactory;

#[async_trait]
impl TableProviderFactory for HiveTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let table = cmd.name.to_string();
        let session_state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| {
                DataFusionError::Internal("HiveTableFactory needs a SessionState".into())
            })?;
        let format = session_state
            .get_file_format_factory(&cmd.file_type)
            .ok_or_else(|| {
                plan_datafusion_err!("table '{table}': unknown file format {}", cmd.file_type)
            })?
            .create(session_state, &cmd.options)?;

        let paths = cmd
            .locations
            .iter()
            .map(|l| Ok(ListingTableUrl::parse(l)?.with_table_ref(cmd.name.clone())))
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = paths.first() else {
            return plan_err!("table '{table}': CREATE EXTERNAL TABLE needs a LOCATION");
        };
        if let Some(other) = paths
            .iter()
            .find(|p| p.object_store() != first.object_store())
        {
            return plan_err!(
                "table '{table}': all locations must be on one object store, found '{}' and '{}'",
                first.object_store().as_str(),
                other.object_store().as_str()
            );
        }
        let extension = file_extension(&paths, format.as_ref());
        let store = state.runtime_env().object_store(first.object_store())?;

        // List every location once: for partition discovery and to name missing paths.
        let mut files: Vec<(usize, ObjectMeta)> = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let listed: Vec<ObjectMeta> = path
                .list_all_files(state, store.as_ref(), &extension)
                .await
                .map_err(|e| location_error(&table, &cmd.locations[i], e))?
                .try_collect()
                .await
                .map_err(|e| location_error(&table, &cmd.locations[i], e))?;
            if listed.is_empty() {
                return Err(empty_location_error(
                    &table,
                    &cmd.locations[i],
                    &cmd.file_type,
                    &extension,
                    path,
                    store.as_ref(),
                )
                .await);
            }
            files.extend(listed.into_iter().map(|m| (i, m)));
        }

        let discovered = discover_partitions(&paths, &files)?;
        let partition_cols = choose_partition_columns(&table, cmd, &discovered)?;

        let options = ListingOptions::new(Arc::clone(&format))
            .with_file_extension(extension)
            .with_table_partition_cols(partition_cols.clone())
            .with_file_sort_order(cmd.order_exprs.clone());
        for path in &paths {
            options.validate_partitions(session_state, path).await?;
        }

        let declared: Vec<_> = cmd
            .schema
            .fields()
            .iter()
            .filter(|f| !cmd.table_partition_cols.contains(f.name()))
            .cloned()
            .collect();
        let file_schema: SchemaRef = if declared.is_empty() {
            infer_file_schema(&table, session_state, format.as_ref(), &store, &files).await?
        } else {
            Arc::new(Schema::new(declared))
        };
        if let Some((name, _)) = partition_cols
            .iter()
            .find(|(name, _)| file_schema.field_with_name(name).is_ok())
        {
            return plan_err!(
                "table '{table}': column '{name}' is both stored in the files and a partition \
                 key in the folder names; rename one of them"
            );
        }

        let config = ListingTableConfig::new_with_multi_paths(paths)
            .with_listing_options(options)
            .with_schema(file_schema);
        let provider = ListingTable::try_new(config)?
            .with_cache(state.runtime_env().cache_manager.get_file_statistic_cache())
            .with_definition(cmd.definition.clone())
            .with_constraints(cmd.constraints.clone())
            .with_column_defaults(cmd.column_defaults.clone());
        Ok(Arc::new(provider))
    }
}

/// A partition key found in the folder names, with the type its values suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredPartition {
    /// The key, as written before `=`.
    pub name: String,
    /// `Int64` when every (non-null) value is an integer, `Utf8` otherwise.
    pub data_type: DataType,
}

/// Finds the `key=value` folders between each table root and its files.
///
/// Every file must sit under the same keys in the same order; the error names two files that
/// disagree.
pub fn discover_partitions(
    roots: &[ListingTableUrl],
    files: &[(usize, ObjectMeta)],
) -> Result<Vec<DiscoveredPartition>> {
    let mut layout: Option<(Vec<String>, &ObjectMeta)> = None;
    let mut values: Vec<BTreeSet<String>> = Vec::new();
    for (root, meta) in files {
        let Some(segments) = roots
            .get(*root)
            .and_then(|r| r.strip_prefix(&meta.location))
        else {
            continue;
        };
        let segments: Vec<&str> = segments.collect();
        let folders = segments.len().saturating_sub(1);
        let pairs: Vec<(&str, &str)> = segments[..folders]
            .iter()
            .filter_map(|s| s.split_once('='))
            .collect();
        let keys: Vec<String> = pairs.iter().map(|(k, _)| (*k).to_string()).collect();
        match &layout {
            None => {
                values = vec![BTreeSet::new(); keys.len()];
                layout = Some((keys, meta));
            }
            Some((expected, example)) if *expected != keys => {
                return plan_err!(
                    "inconsistent partition folders: '{}' is under keys [{}] but '{}' under [{}]",
                    example.location,
                    expected.join(", "),
                    meta.location,
                    keys.join(", ")
                );
            }
            Some(_) => {}
        }
        for (set, (_, value)) in values.iter_mut().zip(&pairs) {
            set.insert((*value).to_string());
        }
    }
    let keys = layout.map(|(k, _)| k).unwrap_or_default();
    Ok(keys
        .into_iter()
        .zip(values)
        .map(|(name, values)| {
            let integers = values
                .iter()
                .all(|v| v != HIVE_NULL && v.parse::<i64>().is_ok());
            let data_type = if integers && !values.is_empty() {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            DiscoveredPartition { name, data_type }
        })
        .collect())
}

/// Applies `PARTITIONED BY` (names, optionally typed) on top of what the folders show.
fn choose_partition_columns(
    table: &str,
    cmd: &CreateExternalTable,
    discovered: &[DiscoveredPartition],
) -> Result<Vec<(String, DataType)>> {
    if cmd.table_partition_cols.is_empty() {
        return Ok(discovered
            .iter()
            .map(|p| (p.name.clone(), p.data_type.clone()))
            .collect());
    }
    cmd.table_partition_cols
        .iter()
        .map(|name| {
            let declared = cmd
                .schema
                .fields()
                .iter()
                .find(|f| f.name() == name)
                .map(|f| f.data_type().clone());
            let inferred = discovered
                .iter()
                .find(|p| &p.name == name)
                .map(|p| p.data_type.clone());
            match declared.or(inferred) {
                Some(t) => Ok((name.clone(), t)),
                None => plan_err!(
                    "table '{table}': partition column '{name}' does not appear as '{name}=…' \
                     in the folder names (found: [{}])",
                    discovered
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        })
        .collect()
}

/// Infers the files' schema; when that fails, finds and names the first unreadable file.
async fn infer_file_schema(
    table: &str,
    state: &SessionState,
    format: &dyn FileFormat,
    store: &Arc<dyn ObjectStore>,
    files: &[(usize, ObjectMeta)],
) -> Result<SchemaRef> {
    let objects: Vec<ObjectMeta> = files.iter().map(|(_, m)| m.clone()).collect();
    match format.infer_schema(state, store, &objects).await {
        Ok(schema) => Ok(schema),
        Err(all) => {
            for object in &objects {
                if let Err(e) = format
                    .infer_schema(state, store, std::slice::from_ref(object))
                    .await
                {
                    return plan_err!(
                        "table '{table}': cannot read '{}' as {}: {e}",
                        object.location,
                        format.get_ext().to_uppercase()
                    );
                }
            }
            plan_err!("table '{table}': cannot infer a common schema: {all}")
        }
    }
}

/// The file extension a location lists: the file's own for a single file, none for a glob
/// or several locations (the glob or the explicit paths choose), and the format's default for
/// a folder.
fn file_extension(paths: &[ListingTableUrl], format: &dyn FileFormat) -> String {
    match paths {
        [path] if path.get_glob().is_none() => {
            if path.is_collection() {
                return format!(".{}", format.get_ext());
            }
            match path.file_extension() {
                Some(ext) => format!(".{ext}"),
                None => format!(".{}", format.get_ext()),
            }
        }
        _ => String::new(),
    }
}

fn location_error(table: &str, location: &str, e: DataFusionError) -> DataFusionError {
    plan_datafusion_err!("table '{table}': cannot list '{location}': {e}")
}

/// Explains an empty listing: the path is missing, or holds no files of the format.
async fn empty_location_error(
    table: &str,
    location: &str,
    file_type: &str,
    extension: &str,
    path: &ListingTableUrl,
    store: &dyn ObjectStore,
) -> DataFusionError {
    let anything = store.list(Some(path.prefix())).try_next().await;
    let exists = matches!(anything, Ok(Some(_))) || store.head(path.prefix()).await.is_ok();
    if exists {
        plan_datafusion_err!(
            "table '{table}': no {file_type} files ({extension}) found at '{location}'"
        )
    } else {
        plan_datafusion_err!("table '{table}': location '{location}' does not exist")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::path::Path;

    fn meta(path: &str) -> (usize, ObjectMeta) {
        (
            0,
            ObjectMeta {
                location: Path::from(path),
                last_modified: Default::default(),
                size: 1,
                e_tag: None,
                version: None,
            },
        )
    }

    #[test]
    fn integers_become_bigint_and_words_varchar() {
        let root = ListingTableUrl::parse("file:///data/t/").unwrap();
        let files = vec![
            meta("data/t/run=1/period=p03/a.parquet"),
            meta("data/t/run=20/period=p04/b.parquet"),
        ];
        let found = discover_partitions(&[root], &files).unwrap();
        assert_eq!(
            found,
            vec![
                DiscoveredPartition {
                    name: "run".into(),
                    data_type: DataType::Int64
                },
                DiscoveredPartition {
                    name: "period".into(),
                    data_type: DataType::Utf8
                },
            ]
        );
    }

    #[test]
    fn hive_null_makes_a_key_varchar() {
        let root = ListingTableUrl::parse("file:///t/").unwrap();
        let files = vec![
            meta("t/k=1/a.parquet"),
            meta("t/k=__HIVE_DEFAULT_PARTITION__/b.parquet"),
        ];
        let found = discover_partitions(&[root], &files).unwrap();
        assert_eq!(found[0].data_type, DataType::Utf8);
    }

    #[test]
    fn inconsistent_layouts_name_both_files() {
        let root = ListingTableUrl::parse("file:///t/").unwrap();
        let files = vec![meta("t/a=1/x.parquet"), meta("t/b=1/y.parquet")];
        let err = discover_partitions(&[root], &files)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t/a=1/x.parquet") && err.contains("t/b=1/y.parquet"),
            "{err}"
        );
    }

    #[test]
    fn unpartitioned_folder_has_no_keys() {
        let root = ListingTableUrl::parse("file:///t/").unwrap();
        let files = vec![meta("t/x.parquet"), meta("t/y.parquet")];
        assert!(discover_partitions(&[root], &files).unwrap().is_empty());
    }
}
