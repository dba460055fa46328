//! `hepq inspect FILE`: what a ROOT file holds — its trees (with their directories) and every
//! branch with ROOT type, Arrow type (or why it is unsupported), entries, baskets, bytes on
//! disk and uncompressed, and codec. Like `rootls -t` and uproot's `show()`.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use hepq_root::{BranchInfo, RootFile};
use object_store::{ObjectMeta, ObjectStore};

use super::open::{external, reader_for};

/// Describes the ROOT file `object` as text (one block per tree), calling it `name`.
pub async fn inspect(
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
    name: &str,
) -> Result<String> {
    let (reader, _) = reader_for(store, object).await?;
    let name = name.to_string();
    let size = object.size;
    tokio::task::spawn_blocking(move || describe(reader, &name, size))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
}

fn describe(reader: Arc<dyn hepq_root::ReadAt>, name: &str, size: u64) -> Result<String> {
    let file = RootFile::open(reader, name).map_err(external)?;
    let trees = file.trees().map_err(external)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}  (ROOT file format {}, {}, {} tree{})",
        file.version(),
        human_bytes(size),
        trees.len(),
        if trees.len() == 1 { "" } else { "s" }
    );
    for info in &trees {
        let tree = file.tree(&info.path).map_err(external)?;
        let _ = writeln!(
            out,
            "\n{}  {} \"{}\", {} entries, cycle {}",
            info.path, info.class_name, info.title, info.entries, info.cycle
        );
        let rows: Vec<[String; 8]> = tree.branches().iter().map(branch_row).collect();
        let header = [
            "branch",
            "ROOT type",
            "Arrow type",
            "entries",
            "baskets",
            "on disk",
            "uncompressed",
            "codec",
        ]
        .map(String::from);
        let mut widths = header.clone().map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(rows.iter()) {
            let mut line = String::from("  ");
            for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
                // Numbers right-aligned, text left-aligned.
                if (3..=6).contains(&i) {
                    let _ = write!(line, "{cell:>width$}  ");
                } else {
                    let _ = write!(line, "{cell:<width$}  ");
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    Ok(out)
}

fn branch_row(branch: &BranchInfo) -> [String; 8] {
    let arrow = match (&branch.data_type, &branch.unsupported) {
        _ if branch.group => "(group of sub-branches)".to_string(),
        (Some(t), _) => t.to_string(),
        (None, Some(reason)) => format!("unsupported: {reason}"),
        (None, None) => "unsupported".to_string(),
    };
    [
        branch.path.clone(),
        branch.root_type.clone(),
        arrow,
        branch.entries.to_string(),
        branch.baskets.to_string(),
        human_bytes(branch.compressed_bytes),
        human_bytes(branch.uncompressed_bytes),
        branch.codec.clone(),
    ]
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
