//! Shared plumbing: the output-folder check, the work plan (one item per Parquet file), the
//! parallel runner and the Parquet file writer.
//!
//! Every Parquet file is one work item with its own seed derived from the user's seed and the
//! item's position in the plan, so the bytes written do not depend on how many threads run or
//! in which order they finish.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::random::derive_seed;
use super::{GenerateError, GenerateSummary};

/// Row counts that shape the output: rows per Arrow batch, per row group and per file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Rows per generated record batch (memory held per worker).
    pub batch_rows: usize,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Rows per file before rolling over to the next `part-NNNNN.parquet`.
    pub file_rows: u64,
}

/// The shape for ordinary tables: 64 Ki-row batches, 128 Ki-row groups, ~1 M rows a file.
pub(crate) const DEFAULT_SHAPE: Shape = Shape {
    batch_rows: 65_536,
    row_group_rows: 131_072,
    file_rows: 1_048_576,
};

/// One Parquet file to write.
#[derive(Debug, Clone)]
pub(crate) struct FileTask<P> {
    /// The file's full path (`out/key=value/.../part-NNNNN.parquet`).
    pub path: PathBuf,
    /// Index of this file's first row within its partition.
    pub first_row: u64,
    /// Rows in this file.
    pub rows: u64,
    /// Seed for this file alone.
    pub seed: u64,
    /// What the generator needs to know about the file's partition.
    pub partition: P,
}

/// Splits a partition of `rows` rows under `dir` into files of at most `shape.file_rows` rows,
/// appending them to `tasks`. `partition_index` must be unique per partition in the plan.
pub(crate) fn plan_partition<P: Clone>(
    tasks: &mut Vec<FileTask<P>>,
    dir: &Path,
    rows: u64,
    shape: Shape,
    seed: u64,
    partition_index: u64,
    partition: &P,
) {
    let mut first_row = 0u64;
    let mut file_index = 0u64;
    while first_row < rows {
        let n = shape.file_rows.min(rows - first_row);
        tasks.push(FileTask {
            path: dir.join(format!("part-{file_index:05}.parquet")),
            first_row,
            rows: n,
            seed: derive_seed(seed, partition_index, file_index),
            partition: partition.clone(),
        });
        first_row += n;
        file_index += 1;
    }
}

/// Splits `total` into parts proportional to `weights`; the parts sum to `total` exactly.
pub(crate) fn split_by_weights(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|w| (total as f64 * w / sum).floor() as u64)
        .collect();
    let assigned: u64 = parts.iter().sum();
    let mut rest = total.saturating_sub(assigned);
    let len = parts.len();
    let mut i = 0;
    while rest > 0 {
        parts[i % len] += 1;
        rest -= 1;
        i += 1;
    }
    parts
}

/// Creates `out` if needed and refuses one that already holds anything.
pub(crate) fn prepare_output(out: &Path) -> Result<(), GenerateError> {
    if out.exists() {
        if !out.is_dir() {
            return Err(GenerateError(format!(
                "output path '{}' exists and is not a directory",
                out.display()
            )));
        }
        let mut entries = std::fs::read_dir(out).map_err(|e| {
            GenerateError(format!(
                "cannot read output directory '{}': {e}",
                out.display()
            ))
        })?;
        if entries.next().is_some() {
            return Err(GenerateError(format!(
                "output directory '{}' is not empty; choose a new or empty directory",
                out.display()
            )));
        }
        Ok(())
    } else {
        std::fs::create_dir_all(out).map_err(|e| {
            GenerateError(format!(
                "cannot create output directory '{}': {e}",
                out.display()
            ))
        })
    }
}

/// Writer settings: zstd, the given row-group size, dictionaries only for `dictionary_columns`.
pub(crate) fn writer_properties(
    shape: Shape,
    dictionary_columns: &[&str],
) -> Result<WriterProperties, GenerateError> {
    let level =
        ZstdLevel::try_new(3).map_err(|e| GenerateError(format!("invalid zstd level: {e}")))?;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(shape.row_group_rows))
        // Random floats never fit a dictionary; trying costs time and gains nothing.
        .set_dictionary_enabled(false);
    for column in dictionary_columns {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), true);
    }
    Ok(builder.build())
}

/// One Parquet file being written, batch by batch.
pub(crate) struct ParquetFile {
    path: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
}

impl ParquetFile {
    /// Creates the file (and its parent folders).
    pub(crate) fn create(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<Self, GenerateError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                GenerateError(format!(
                    "cannot create directory '{}': {e}",
                    parent.display()
                ))
            })?;
        }
        let file = File::create(path)
            .map_err(|e| GenerateError(format!("cannot create '{}': {e}", path.display())))?;
        let writer =
            ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
                .map_err(|e| GenerateError(format!("cannot write '{}': {e}", path.display())))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// Appends one batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), GenerateError> {
        self.writer
            .write(batch)
            .map_err(|e| GenerateError(format!("cannot write '{}': {e}", self.path.display())))
    }

    /// Writes the footer, flushes, and returns the file's size in bytes.
    pub(crate) fn finish(self) -> Result<u64, GenerateError> {
        let path = self.path;
        let err = |e: &dyn std::fmt::Display| {
            GenerateError(format!("cannot finish '{}': {e}", path.display()))
        };
        let mut buffered = self.writer.into_inner().map_err(|e| err(&e))?;
        buffered.flush().map_err(|e| err(&e))?;
        let file = buffered
            .into_inner()
            .map_err(|e| err(&e.error().to_string()))?;
        let len = file.metadata().map_err(|e| err(&e))?.len();
        Ok(len)
    }
}

/// Runs `work` on every task, on up to `threads` worker threads, and adds up what they wrote.
///
/// `work(task, report)` writes one file, calls `report(rows)` after each batch with the rows
/// just written, and returns the file's size. `progress` is only ever called on the calling
/// thread, with the running total of rows written.
pub(crate) fn run_tasks<P, W>(
    tasks: &[FileTask<P>],
    threads: usize,
    progress: &dyn Fn(u64),
    work: W,
) -> Result<GenerateSummary, GenerateError>
where
    P: Sync,
    W: Fn(&FileTask<P>, &mut dyn FnMut(u64)) -> Result<u64, GenerateError> + Sync,
{
    let threads = threads.clamp(1, tasks.len().max(1));
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<u64>();
    let mut results: Vec<(usize, Result<u64, GenerateError>)> = Vec::new();
    let mut panicked = false;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let tx = tx.clone();
                let (next, abort, work) = (&next, &abort, &work);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    while !abort.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(task) = tasks.get(i) else { break };
                        let mut report = |rows: u64| {
                            // The receiver outlives the workers; a failed send only means
                            // nobody is listening any more.
                            let _ = tx.send(rows);
                        };
                        let result = work(task, &mut report);
                        if result.is_err() {
                            abort.store(true, Ordering::Relaxed);
                        }
                        done.push((i, result));
                    }
                    done
                })
            })
            .collect();
        drop(tx);
        let mut total = 0u64;
        for rows in rx {
            total += rows;
            progress(total);
        }
        for handle in handles {
            match handle.join() {
                Ok(done) => results.extend(done),
                Err(_) => panicked = true,
            }
        }
    });
    if panicked {
        return Err(GenerateError(
            "a generator thread stopped unexpectedly".into(),
        ));
    }
    results.sort_by_key(|(i, _)| *i);
    let mut summary = GenerateSummary::default();
    for (i, result) in results {
        let bytes = result?;
        summary.files += 1;
        summary.bytes += bytes;
        summary.rows += tasks.get(i).map_or(0, |t| t.rows);
    }
    Ok(summary)
}

/// Worker threads to use: the machine's cores, at most 8 (each holds a row group in memory).
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}
