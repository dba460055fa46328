//! Demo data generator: `hepq generate lhc|legend`.
//!
//! Writes deterministic, physically plausible demo tables as Hive-partitioned Parquet
//! (zstd), straight through `parquet`'s [`ArrowWriter`](parquet::arrow::ArrowWriter):
//!
//! | dataset | layout | rows |
//! |---|---|---|
//! | [`Dataset::Lhc`] | `out/run=194050/part-00000.parquet` | NanoAOD-like CMS 2012 events ([`lhc`]) |
//! | [`Dataset::Legend`] | `out/period=p03/run=r000/datatype=cal/part-00000.parquet` | LEGEND germanium hits ([`legend`]) |
//!
//! Partition keys live only in the folder names, never in the files. Output is streamed in
//! record batches of 64 Ki rows, row groups of 128 Ki rows, and a partition rolls over to the
//! next `part-NNNNN.parquet` every ~1 M rows (smaller for LEGEND with waveforms), so memory
//! stays bounded whatever the row count.
//!
//! Determinism: every file has its own random stream, derived from the seed and the file's
//! place in the plan; files are written in parallel but the bytes do not depend on the threads.
//! The same seed and options give byte-identical files.
//!
//! Modules: [`lhc`] and [`legend`] (the physics), [`random`] (the portable generator and
//! samplers), [`writer`] (the output-folder check, the plan, the parallel runner and the file
//! writer).

mod legend;
mod lhc;
mod random;
mod writer;

use std::path::PathBuf;

/// Which demo dataset to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// NanoAOD-like LHC events, Parquet partitioned by `run=`.
    Lhc,
    /// LEGEND germanium-detector hits, partitioned `period=/run=/datatype=`.
    Legend,
}

/// Options shared by both generators.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of rows (events for LHC, hits for LEGEND) to write.
    pub events: u64,
    /// Output directory (the table root).
    pub out: PathBuf,
    /// Seed: the same seed and options give byte-identical data.
    pub seed: u64,
    /// LEGEND only: add a fixed-length int16 `waveform` column.
    pub waveforms: bool,
}

/// What a generator wrote.
#[derive(Debug, Clone, Default)]
pub struct GenerateSummary {
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// A generator failure (I/O or Parquet encoding), naming the path involved.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GenerateError(pub String);

/// Generates `dataset` into `opts.out`, calling `progress(rows_done)` as it goes.
///
/// `opts.out` is created if missing and must be empty if present. `progress` is called on the
/// calling thread with the running total of rows written (after every batch of every file).
pub fn generate(
    dataset: Dataset,
    opts: &GenerateOptions,
    progress: &dyn Fn(u64),
) -> Result<GenerateSummary, GenerateError> {
    writer::prepare_output(&opts.out)?;
    if opts.events == 0 {
        return Ok(GenerateSummary::default());
    }
    let summary = match dataset {
        Dataset::Lhc => lhc::generate(opts, progress)?,
        Dataset::Legend => legend::generate(opts, progress)?,
    };
    progress(summary.rows);
    Ok(summary)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the generator tests: run a generator, read a table back.

    use std::fs::File;
    use std::path::Path;

    use arrow::record_batch::RecordBatch;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::{Dataset, GenerateOptions, GenerateSummary, generate};

    /// Generates `rows` rows of `dataset` into `out`.
    pub(crate) fn run(
        dataset: Dataset,
        out: &Path,
        rows: u64,
        seed: u64,
        waveforms: bool,
    ) -> GenerateSummary {
        let opts = GenerateOptions {
            events: rows,
            out: out.to_path_buf(),
            seed,
            waveforms,
        };
        generate(dataset, &opts, &|_| {}).unwrap()
    }

    /// Every Parquet file under `root` (sorted), as (path relative to `root`, batches).
    pub(crate) fn read_table(root: &Path) -> Vec<(String, Vec<RecordBatch>)> {
        fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, files);
                } else {
                    files.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(root, &mut files);
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
                let batches = reader.collect::<Result<Vec<_>, _>>().unwrap();
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                (relative, batches)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn refuses_a_non_empty_output_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.parquet"), b"x").unwrap();
        for dataset in [Dataset::Lhc, Dataset::Legend] {
            let opts = GenerateOptions {
                events: 10,
                out: dir.path().to_path_buf(),
                seed: 1,
                waveforms: false,
            };
            let err = generate(dataset, &opts, &|_| {}).unwrap_err();
            assert!(
                err.to_string().contains(&dir.path().display().to_string()),
                "{err}"
            );
            assert!(err.to_string().contains("not empty"), "{err}");
        }
        // A file where the folder should be is refused too, naming it.
        let file = dir.path().join("old.parquet");
        let opts = GenerateOptions {
            events: 10,
            out: file.clone(),
            seed: 1,
            waveforms: false,
        };
        let err = generate(Dataset::Lhc, &opts, &|_| {}).unwrap_err();
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn creates_missing_folders_and_reports_progress() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a").join("b");
        let last = Cell::new(0u64);
        let calls = Cell::new(0u32);
        let opts = GenerateOptions {
            events: 500,
            out: out.clone(),
            seed: 3,
            waveforms: false,
        };
        let summary = generate(Dataset::Legend, &opts, &|rows| {
            assert!(rows >= last.get());
            last.set(rows);
            calls.set(calls.get() + 1);
        })
        .unwrap();
        assert_eq!(summary.rows, 500);
        assert_eq!(last.get(), 500);
        assert!(calls.get() >= 2);
        assert!(summary.bytes > 0 && summary.files > 0);

        // Zero rows: an empty, existing table root.
        let empty = dir.path().join("empty");
        let opts = GenerateOptions {
            events: 0,
            out: empty.clone(),
            seed: 3,
            waveforms: false,
        };
        let summary = generate(Dataset::Lhc, &opts, &|_| {}).unwrap();
        assert_eq!(summary.files, 0);
        assert!(empty.is_dir());
    }
}
