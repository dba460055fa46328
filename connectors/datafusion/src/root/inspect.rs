//! `hepq inspect FILE`: what a ROOT file holds — its trees (with their directories) and every
//! branch with ROOT type, Arrow type (or why it is unsupported), entries, baskets, bytes on
//! disk and uncompressed, and codec; and its RNTuples with every top-level field (C++ type,
//! Arrow type or why it is unsupported, pages, bytes), every column (encoding, bits,
//! representation, pages, elements, bytes, codec) and the clusters. Like `rootls -t` and
//! uproot's `show()`.

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
    let ntuples =
        hepq_rntuple::ntuples(&file).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let mut out = String::new();
    let _ = write!(
        out,
        "{name}  (ROOT file format {}, {}, {} tree{}",
        file.version(),
        human_bytes(size),
        trees.len(),
        if trees.len() == 1 { "" } else { "s" }
    );
    if !ntuples.is_empty() {
        let _ = write!(
            out,
            ", {} RNTuple{}",
            ntuples.len(),
            if ntuples.len() == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, ")");
    for info in &trees {
        let tree = file.tree(&info.path).map_err(external)?;
        let _ = writeln!(
            out,
            "\n{}  {} \"{}\", {} entries, cycle {}",
            info.path, info.class_name, info.title, info.entries, info.cycle
        );
        let rows: Vec<Vec<String>> = tree.branches().iter().map(branch_row).collect();
        let header = [
            "branch",
            "ROOT type",
            "Arrow type",
            "entries",
            "baskets",
            "on disk",
            "uncompressed",
            "codec",
        ];
        table(&mut out, &header, &rows, 3..=6);
    }
    for info in &ntuples {
        describe_ntuple(&mut out, &file, info)?;
    }
    Ok(out)
}

fn branch_row(branch: &BranchInfo) -> Vec<String> {
    let arrow = match (&branch.data_type, &branch.unsupported) {
        _ if branch.group => "(group of sub-branches)".to_string(),
        (Some(t), _) => t.to_string(),
        (None, Some(reason)) => format!("unsupported: {reason}"),
        (None, None) => "unsupported".to_string(),
    };
    vec![
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

/// Appends one RNTuple's fields, columns and clusters.
fn describe_ntuple(
    out: &mut String,
    file: &RootFile,
    info: &hepq_rntuple::NtupleInfo,
) -> Result<()> {
    let nt = hepq_rntuple::RNTuple::open(file, Some(&info.path))
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let v = nt.format_version();
    let clusters = nt.clusters();
    let _ = writeln!(
        out,
        "\n{}  ROOT::RNTuple \"{}\", {} entries, {} cluster{}, format {}.{}.{}.{}, cycle {}, written by {}",
        info.path,
        nt.description(),
        nt.entries(),
        clusters.len(),
        if clusters.len() == 1 { "" } else { "s" },
        v[0],
        v[1],
        v[2],
        v[3],
        info.cycle,
        nt.writer()
    );
    let rows: Vec<Vec<String>> = nt
        .fields()
        .iter()
        .map(|f| {
            let arrow = match (&f.data_type, &f.unsupported) {
                (Some(t), _) => t.to_string(),
                (None, Some(reason)) => format!("unsupported: {reason}"),
                (None, None) => "unsupported".to_string(),
            };
            let ty = if f.type_alias.is_empty() {
                f.type_name.clone()
            } else {
                format!("{} ({})", f.type_name, f.type_alias)
            };
            vec![
                f.name.clone(),
                ty,
                arrow,
                f.columns.len().to_string(),
                f.pages.to_string(),
                human_bytes(f.compressed_bytes),
                human_bytes(f.uncompressed_bytes),
            ]
        })
        .collect();
    let header = [
        "field",
        "C++ type",
        "Arrow type",
        "columns",
        "pages",
        "on disk",
        "uncompressed",
    ];
    table(out, &header, &rows, 3..=6);
    let _ = writeln!(out);
    let rows: Vec<Vec<String>> = nt
        .columns()
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.field_path.clone(),
                c.column_type.clone(),
                c.bits.to_string(),
                c.representation.to_string(),
                c.pages.to_string(),
                c.elements.to_string(),
                human_bytes(c.compressed_bytes),
                human_bytes(c.uncompressed_bytes),
                c.codec.clone(),
            ]
        })
        .collect();
    let header = [
        "column",
        "field",
        "encoding",
        "bits",
        "repr",
        "pages",
        "elements",
        "on disk",
        "uncompressed",
        "codec",
    ];
    table(out, &header, &rows, 3..=8);
    let starts: Vec<String> = clusters
        .iter()
        .take(20)
        .map(|c| c.start.to_string())
        .collect();
    let _ = writeln!(
        out,
        "  cluster first entries: {}{}",
        starts.join(", "),
        if clusters.len() > 20 { ", ..." } else { "" }
    );
    Ok(())
}

/// Writes an aligned text table; the columns in `numeric` are right-aligned.
fn table(
    out: &mut String,
    header: &[&str],
    rows: &[Vec<String>],
    numeric: std::ops::RangeInclusive<usize>,
) {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::from("  ");
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            let width = *width;
            if numeric.contains(&i) {
                let _ = write!(line, "{cell:>width$}  ");
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
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
