//! [`RootOpener`]: one (file, byte range) of a ROOT table → a stream of record batches.

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileOpenFuture, FileOpener};
use futures::{FutureExt, StreamExt};
use object_store::ObjectStore;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::file_format::RootOptions;
use super::open::{Table, open_tree, reader_for};
use super::zip::{self, Source};

/// Batches of fewer entries are merged with the next clusters (uproot writes tiny clusters).
const MIN_CHUNK_ENTRIES: u64 = 65_536;

/// Opens ROOT files for a scan: chooses the tree, maps the byte range to clusters, decodes.
pub struct RootOpener {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) options: RootOptions,
    /// The table's file columns this scan reads, in output order.
    pub(crate) projected_schema: SchemaRef,
    /// Preferred rows per batch (DataFusion's `batch_size`); a cluster is never split.
    pub(crate) batch_rows: Option<usize>,
    /// Stop after this many rows (LIMIT pushed into the scan).
    pub(crate) limit: Option<usize>,
}

impl FileOpener for RootOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let store = Arc::clone(&self.store);
        let options = self.options.clone();
        let schema = Arc::clone(&self.projected_schema);
        let min_chunk = (self.batch_rows.unwrap_or(0) as u64).max(MIN_CHUNK_ENTRIES);
        let limit = self.limit.map(|l| l as u64);
        Ok(async move {
            let (reader, remote) = reader_for(&store, &file.object_meta).await?;
            let name = file.object_meta.location.to_string();
            let size = file.object_meta.size;
            let byte_range = file
                .range
                .as_ref()
                .map(|r| (r.start.max(0) as u64)..(r.end.max(0) as u64));
            let (tx, rx) = mpsc::channel::<Result<RecordBatch>>(2);
            let handle = Handle::current();
            tokio::task::spawn_blocking(move || {
                let run = || -> Result<()> {
                    let tree = open_tree(reader, &name, &options)?;
                    let sources =
                        zip::sources(&tree.schema(), &schema, options.zip_collections, &name)?;
                    let wanted: Vec<usize> = sources
                        .iter()
                        .flat_map(|s| match s {
                            Source::Branch(c) => vec![*c],
                            Source::Collection(members) => members.clone(),
                        })
                        .flatten()
                        .collect();
                    let chunks = chunks(&tree, byte_range, size, min_chunk, limit);
                    for entries in chunks {
                        if let Some(remote) = &remote {
                            let ranges = tree.byte_ranges(&wanted, entries.clone());
                            handle.block_on(remote.prefetch(&ranges)).map_err(|e| {
                                DataFusionError::Execution(format!("'{name}': {e}"))
                            })?;
                        }
                        let batch = read_chunk(&tree, &schema, &sources, &wanted, entries, &name)?;
                        if tx.blocking_send(Ok(batch)).is_err() {
                            return Ok(()); // the consumer is gone (LIMIT reached, cancelled)
                        }
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    let _ = tx.blocking_send(Err(e));
                }
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            Ok(stream.boxed())
        }
        .boxed())
    }
}

/// Decodes `entries` of the wanted branches and lays them out as the table's columns: a
/// branch this file lacks reads as NULL, a zipped collection is assembled from its members.
fn read_chunk(
    tree: &Table,
    schema: &SchemaRef,
    sources: &[Source],
    wanted: &[usize],
    entries: Range<u64>,
    file: &str,
) -> Result<RecordBatch> {
    let rows = (entries.end - entries.start) as usize;
    let decoded = if wanted.is_empty() {
        None
    } else {
        Some(tree.read(wanted, entries)?)
    };
    // `wanted` lists the branches in the order `sources` names them.
    let mut next = 0;
    let mut take = |present: bool| -> Option<ArrayRef> {
        match (present, &decoded) {
            (true, Some(batch)) => {
                let array = batch.columns().get(next).map(Arc::clone);
                next += 1;
                array
            }
            _ => None,
        }
    };
    let arrays: Vec<ArrayRef> =
        sources
            .iter()
            .zip(schema.fields())
            .map(|(source, field)| match source {
                Source::Branch(column) => Ok(take(column.is_some())
                    .unwrap_or_else(|| new_null_array(field.data_type(), rows))),
                Source::Collection(members) => {
                    let members = members.iter().map(|m| take(m.is_some())).collect();
                    zip::assemble(field, members, rows, file)
                }
            })
            .collect::<Result<_>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        arrays,
        &options,
    )?)
}

/// The entry ranges this scan reads: whole clusters whose proportional byte position lies
/// in `byte_range` (all clusters when there is none), merged to at least `min_chunk`
/// entries, and cut at `limit` entries.
fn chunks(
    tree: &Table,
    byte_range: Option<Range<u64>>,
    file_size: u64,
    min_chunk: u64,
    limit: Option<u64>,
) -> Vec<Range<u64>> {
    let total = tree.entries();
    let mut starts = tree.cluster_starts();
    starts.retain(|s| *s < total);
    if starts.first() != Some(&0) && total > 0 {
        starts.insert(0, 0);
    }
    let mut clusters: Vec<Range<u64>> = starts
        .iter()
        .enumerate()
        .map(|(i, s)| *s..starts.get(i + 1).copied().unwrap_or(total))
        .collect();
    if let Some(range) = byte_range {
        clusters.retain(|c| {
            let position = (c.start as u128 * file_size as u128 / total.max(1) as u128) as u64;
            range.contains(&position)
        });
    }
    let mut out: Vec<Range<u64>> = Vec::new();
    for cluster in clusters {
        match out.last_mut() {
            Some(last) if last.end == cluster.start && last.end - last.start < min_chunk => {
                last.end = cluster.end;
            }
            _ => out.push(cluster),
        }
    }
    if let Some(limit) = limit {
        let mut left = limit;
        out.retain_mut(|r| {
            if left == 0 {
                return false;
            }
            let len = (r.end - r.start).min(left);
            r.end = r.start + len;
            left -= len;
            true
        });
    }
    out
}
