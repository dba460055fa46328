//! Progress bars on stderr, shown only when stderr is a terminal.
//!
//! A query's bar appears after half a second (short queries stay quiet) and shows files and
//! bytes read against what the plan's scans cover, the read rate and an ETA. The generator's
//! bar counts rows.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hepq_sql::object_stores::IoCounters;
use hepq_sql::progress::ScanTotals;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::generate::{self, Dataset, GenerateOptions, GenerateSummary};

/// A running query's progress bar (inactive when stderr is not a terminal).
pub struct QueryProgress {
    done: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl QueryProgress {
    /// Starts reporting reads counted by `counters` against `totals`.
    pub fn start(counters: &Arc<IoCounters>, totals: ScanTotals) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() || totals.bytes == 0 {
            return Self { done, task: None };
        }
        let counters = Arc::clone(counters);
        let start_bytes = counters.bytes_read();
        let start_files = counters.files_touched();
        let flag = Arc::clone(&done);
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if flag.load(Ordering::Relaxed) {
                return;
            }
            let bar = ProgressBar::with_draw_target(
                Some(totals.bytes),
                ProgressDrawTarget::stderr_with_hz(10),
            );
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} \
                 {bytes_per_sec} ETA {eta} {msg}",
            ) {
                bar.set_style(style);
            }
            while !flag.load(Ordering::Relaxed) {
                let bytes = counters.bytes_read().saturating_sub(start_bytes);
                let files = counters.files_touched().saturating_sub(start_files);
                bar.set_position(bytes.min(totals.bytes));
                bar.set_message(format!(
                    "{}/{} files",
                    files.min(totals.files),
                    totals.files
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            bar.finish_and_clear();
        });
        Self {
            done,
            task: Some(task),
        }
    }

    /// Stops and erases the bar.
    pub fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(task) = self.task {
            // The bar clears itself within one tick; don't wait for it.
            drop(task);
        }
    }
}

/// Runs the generator with a row-count progress bar on a terminal.
pub fn generate_with_progress(
    dataset: Dataset,
    options: &GenerateOptions,
) -> Result<GenerateSummary, generate::GenerateError> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(
            Some(options.events),
            ProgressDrawTarget::stderr_with_hz(10),
        );
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows \
             {per_sec} ETA {eta}",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let report = |rows: u64| {
        if let Some(bar) = &bar {
            bar.set_position(rows);
        }
    };
    let result = generate::generate(dataset, options, &report);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}

/// `1234567` → `1.2 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}
