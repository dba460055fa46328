//! What a physical plan is going to read, for progress reporting.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;

/// The files and bytes the scans of a plan will read (at most; pushdown may read less).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanTotals {
    /// Distinct files scanned.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Adds up the files behind every file scan in `plan`.
pub fn scan_totals(plan: &Arc<dyn ExecutionPlan>) -> ScanTotals {
    let mut seen = HashSet::new();
    let mut totals = ScanTotals::default();
    visit(plan, &mut seen, &mut totals);
    totals
}

fn visit(plan: &Arc<dyn ExecutionPlan>, seen: &mut HashSet<String>, totals: &mut ScanTotals) {
    if let Some(exec) = plan.downcast_ref::<DataSourceExec>()
        && let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>()
    {
        for file in config.file_groups.iter().flat_map(|g| g.iter()) {
            let key = format!(
                "{}{}",
                config.object_store_url.as_str(),
                file.object_meta.location
            );
            if seen.insert(key) {
                totals.files += 1;
                totals.bytes += file.object_meta.size;
            }
        }
    }
    for child in plan.children() {
        visit(child, seen, totals);
    }
}
