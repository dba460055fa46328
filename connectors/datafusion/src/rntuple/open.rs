//! Opening one file of an RNTuple table and choosing its RNTuple, on a blocking thread.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use hepq_rntuple::RNTuple;
use hepq_root::{ReadAt, RootFile};
use object_store::{ObjectMeta, ObjectStore};

use super::file_format::RNTupleOptions;
use crate::root::open::reader_for;

/// Opens `object`, picks the table's RNTuple and runs `f` on it, all on a blocking thread.
pub(crate) async fn with_ntuple<T, F>(
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
    options: &RNTupleOptions,
    f: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&RNTuple) -> Result<T> + Send + 'static,
{
    let (reader, _) = reader_for(store, object).await?;
    let name = object.location.to_string();
    let options = options.clone();
    tokio::task::spawn_blocking(move || {
        let nt = open_ntuple(reader, &name, &options)?;
        f(&nt)
    })
    .await
    .map_err(|e| DataFusionError::External(Box::new(e)))?
}

/// Opens the file behind `reader` and its RNTuple (`options.ntuple`, or the only one).
pub(crate) fn open_ntuple(
    reader: Arc<dyn ReadAt>,
    name: &str,
    options: &RNTupleOptions,
) -> Result<RNTuple> {
    let file = RootFile::open(reader, name).map_err(|e| external(e.into()))?;
    if options.ntuple.is_none() {
        let list = hepq_rntuple::ntuples(&file).map_err(external)?;
        match list.as_slice() {
            [_] => {}
            [] => return Err(DataFusionError::Plan(format!("'{name}' holds no RNTuple"))),
            many => {
                return Err(DataFusionError::Plan(format!(
                    "'{name}' holds {} RNTuples ({}); choose one with OPTIONS ('ntuple' '…')",
                    many.len(),
                    many.iter()
                        .map(|n| n.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    RNTuple::open(&file, options.ntuple.as_deref()).map_err(external)
}

/// A decoder error for DataFusion (its message already names the file, RNTuple and field).
pub(crate) fn external(e: hepq_rntuple::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
