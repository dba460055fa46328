//! [`RNTupleOpener`]: one (file, byte range) of an RNTuple table → a stream of record batches.

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileOpenFuture, FileOpener};
use futures::{FutureExt, StreamExt};
use hepq_rntuple::RNTuple;
use object_store::ObjectStore;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::file_format::RNTupleOptions;
use super::open::{external, open_ntuple};
use crate::root::open::reader_for;

/// Batches of fewer entries are merged with the next clusters (small writers make tiny ones).
const MIN_CHUNK_ENTRIES: u64 = 65_536;

/// Opens RNTuple files for a scan: chooses the RNTuple, maps the byte range to clusters, decodes.
pub struct RNTupleOpener {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) options: RNTupleOptions,
    /// The table's file columns this scan reads, in output order.
    pub(crate) projected_schema: SchemaRef,
    /// Preferred rows per batch (DataFusion's `batch_size`); a cluster is never split.
    pub(crate) batch_rows: Option<usize>,
    /// Stop after this many rows (LIMIT pushed into the scan).
    pub(crate) limit: Option<usize>,
}

impl FileOpener for RNTupleOpener {
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
                    let nt = open_ntuple(reader, &name, &options)?;
                    let columns = column_indexes(&nt, &schema, &name)?;
                    let wanted: Vec<usize> = columns.iter().filter_map(|c| *c).collect();
                    let chunks = chunks(&nt, byte_range, size, min_chunk, limit);
                    for entries in chunks {
                        if let Some(remote) = &remote {
                            let ranges = nt.byte_ranges(&wanted, entries.clone());
                            handle.block_on(remote.prefetch(&ranges)).map_err(|e| {
                                DataFusionError::Execution(format!("'{name}': {e}"))
                            })?;
                        }
                        let batch = read_chunk(&nt, &schema, &columns, &wanted, entries)?;
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

/// For each projected table column, its index in this file's RNTuple schema (None: the file
/// lacks the field and the column reads as NULL). A field of another type is an error.
fn column_indexes(nt: &RNTuple, table: &SchemaRef, file: &str) -> Result<Vec<Option<usize>>> {
    let schema = nt.schema();
    table
        .fields()
        .iter()
        .map(|field| match schema.index_of(field.name()) {
            Ok(i) => {
                let have = schema.field(i).data_type();
                if have == field.data_type() {
                    Ok(Some(i))
                } else {
                    Err(DataFusionError::Execution(format!(
                        "'{file}': field '{}' is {have} here but {} in the table",
                        field.name(),
                        field.data_type()
                    )))
                }
            }
            Err(_) => Ok(None),
        })
        .collect()
}

/// Decodes `entries` of the wanted fields and lays them out as the table's columns.
fn read_chunk(
    nt: &RNTuple,
    schema: &SchemaRef,
    columns: &[Option<usize>],
    wanted: &[usize],
    entries: Range<u64>,
) -> Result<RecordBatch> {
    let rows = (entries.end - entries.start) as usize;
    let decoded = if wanted.is_empty() {
        None
    } else {
        Some(nt.read(wanted, entries).map_err(external)?)
    };
    let mut next = 0;
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| match (column, &decoded) {
            (Some(_), Some(batch)) => {
                let array = Arc::clone(batch.column(next));
                next += 1;
                array
            }
            _ => new_null_array(field.data_type(), rows),
        })
        .collect();
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
    nt: &RNTuple,
    byte_range: Option<Range<u64>>,
    file_size: u64,
    min_chunk: u64,
    limit: Option<u64>,
) -> Vec<Range<u64>> {
    let total = nt.entries();
    let mut starts = nt.cluster_starts();
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
