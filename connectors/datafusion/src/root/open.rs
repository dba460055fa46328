//! Opening one ROOT file of a table and choosing its tree, on a blocking thread. A file that
//! holds no TTree but an RNTuple (or whose named object is an RNTuple) is read as that RNTuple,
//! so `STORED AS ROOT` and `read_root` accept both.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use std::ops::Range;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use hepq_rntuple::RNTuple;
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
    F: FnOnce(&Table) -> Result<T> + Send + 'static,
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

/// What a ROOT table reads in one file: a TTree, or an RNTuple.
#[derive(Debug)]
pub(crate) enum Table {
    /// A TTree.
    Tree(Tree),
    /// An RNTuple.
    Ntuple(RNTuple),
}

impl Table {
    pub(crate) fn schema(&self) -> SchemaRef {
        match self {
            Table::Tree(t) => t.schema(),
            Table::Ntuple(n) => n.schema(),
        }
    }

    pub(crate) fn entries(&self) -> u64 {
        match self {
            Table::Tree(t) => t.entries(),
            Table::Ntuple(n) => n.entries(),
        }
    }

    pub(crate) fn cluster_starts(&self) -> Vec<u64> {
        match self {
            Table::Tree(t) => t.cluster_starts(),
            Table::Ntuple(n) => n.cluster_starts(),
        }
    }

    pub(crate) fn byte_ranges(&self, columns: &[usize], entries: Range<u64>) -> Vec<Range<u64>> {
        match self {
            Table::Tree(t) => t.byte_ranges(columns, entries),
            Table::Ntuple(n) => n.byte_ranges(columns, entries),
        }
    }

    pub(crate) fn read(&self, columns: &[usize], entries: Range<u64>) -> Result<RecordBatch> {
        match self {
            Table::Tree(t) => t.read(columns, entries).map_err(external),
            Table::Ntuple(n) => n
                .read(columns, entries)
                .map_err(|e| DataFusionError::External(Box::new(e))),
        }
    }
}

/// Opens the file behind `reader` and its tree (`options.tree`, or the only TTree), or its
/// RNTuple when it holds no such TTree; with `options.rntuple_only` (`STORED AS RNTUPLE`) only
/// RNTuples are considered.
pub(crate) fn open_tree(
    reader: Arc<dyn ReadAt>,
    name: &str,
    options: &RootOptions,
) -> Result<Table> {
    let file = RootFile::open(reader, name).map_err(external)?;
    let ntuple = |path: &str| {
        RNTuple::open(&file, Some(path))
            .map(Table::Ntuple)
            .map_err(|e| DataFusionError::External(Box::new(e)))
    };
    let ntuples =
        || hepq_rntuple::ntuples(&file).map_err(|e| DataFusionError::External(Box::new(e)));
    if options.rntuple_only {
        return match &options.tree {
            Some(path) => ntuple(path),
            None => match ntuples()?.as_slice() {
                [only] => ntuple(&only.path),
                [] => Err(DataFusionError::Plan(format!("'{name}' holds no RNTuple"))),
                many => Err(DataFusionError::Plan(format!(
                    "'{name}' holds {} RNTuples ({}); choose one with OPTIONS ('ntuple' '…')",
                    many.len(),
                    many.iter()
                        .map(|n| n.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            },
        };
    }
    match &options.tree {
        Some(path) => match file.tree(path) {
            Ok(tree) => Ok(Table::Tree(tree)),
            Err(e @ hepq_root::Error::NoSuchTree { .. }) => {
                let bare = path.rsplit_once(';').map_or(path.as_str(), |(p, _)| p);
                if ntuples()?.iter().any(|n| n.path == bare.trim_matches('/')) {
                    ntuple(path)
                } else {
                    Err(external(e))
                }
            }
            Err(e) => Err(external(e)),
        },
        None => {
            let trees = file.trees().map_err(external)?;
            match trees.as_slice() {
                [only] => file.tree(&only.path).map(Table::Tree).map_err(external),
                [] => match ntuples()?.as_slice() {
                    [only] => ntuple(&only.path),
                    [] => Err(DataFusionError::Plan(format!(
                        "'{name}' holds no TTree and no RNTuple"
                    ))),
                    many => Err(DataFusionError::Plan(format!(
                        "'{name}' holds no TTree but {} RNTuples ({}); choose one with OPTIONS ('tree' '…')",
                        many.len(),
                        many.iter()
                            .map(|n| n.path.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))),
                },
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
