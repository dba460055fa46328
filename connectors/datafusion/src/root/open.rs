//! Opening one ROOT file of a table and choosing its tree, on a blocking thread.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use hepq_root::{ReadAt, RootFile, Tree};
use object_store::{GetOptions, GetResultPayload, ObjectMeta, ObjectStore};
use tokio::runtime::Handle;

use super::file_format::RootOptions;
use super::reader::ObjectStoreReadAt;

/// The byte source for `object`: the local file itself (positional reads) when the store is
/// a local file system, otherwise an object-store reader with a range cache.
pub(crate) async fn reader_for(
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
) -> Result<(Arc<dyn ReadAt>, Option<Arc<ObjectStoreReadAt>>)> {
    // A HEAD request: local file systems answer with the open file and its path, remote
    // stores with metadata only.
    let head = GetOptions {
        head: true,
        ..Default::default()
    };
    if let Ok(result) = store.get_opts(&object.location, head).await
        && let GetResultPayload::File(_, path) = result.payload
    {
        let reader = hepq_root::FileReader::open(&path).map_err(|e| {
            DataFusionError::Execution(format!("cannot open '{}': {e}", path.display()))
        })?;
        return Ok((Arc::new(reader), None));
    }
    let remote = Arc::new(ObjectStoreReadAt::new(
        Arc::clone(store),
        object.location.clone(),
        object.size,
        Handle::current(),
    ));
    Ok((Arc::clone(&remote) as Arc<dyn ReadAt>, Some(remote)))
}

/// Opens `object`, picks the table's tree and runs `f` on it, all on a blocking thread.
pub(crate) async fn with_tree<T, F>(
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
    options: &RootOptions,
    f: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Tree) -> Result<T> + Send + 'static,
{
    let (reader, _) = reader_for(store, object).await?;
    let name = object.location.to_string();
    let options = options.clone();
    tokio::task::spawn_blocking(move || {
        let tree = open_tree(reader, &name, &options)?;
        f(&tree)
    })
    .await
    .map_err(|e| DataFusionError::External(Box::new(e)))?
}

/// Opens the file behind `reader` and its tree (`options.tree`, or the only TTree).
pub(crate) fn open_tree(
    reader: Arc<dyn ReadAt>,
    name: &str,
    options: &RootOptions,
) -> Result<Tree> {
    let file = RootFile::open(reader, name).map_err(external)?;
    match &options.tree {
        Some(path) => file.tree(path).map_err(external),
        None => {
            let trees = file.trees().map_err(external)?;
            match trees.as_slice() {
                [only] => file.tree(&only.path).map_err(external),
                [] => Err(DataFusionError::Plan(format!("'{name}' holds no TTree"))),
                many => Err(DataFusionError::Plan(format!(
                    "'{name}' holds {} TTrees ({}); choose one with OPTIONS ('tree' '…')",
                    many.len(),
                    many.iter()
                        .map(|t| t.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
    }
}

/// A decoder error for DataFusion (its message already names the file, tree and branch).
pub(crate) fn external(e: hepq_root::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
