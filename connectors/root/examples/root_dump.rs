//! `root_dump FILE [TREE] [--out out.arrow]`: lists a tree's branches as JSON on stdout (with the
//! reason each unsupported one is skipped) and, with `--out`, writes every supported branch as an
//! Arrow IPC file. Branches that fail to decode are reported under `read_error` and left out.
//! Without TREE, the file's only tree is used; with several, they are listed and none is read.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema};
use hepq_root::{FileReader, RootFile};
use serde_json::{Value, json};

fn main() {
    if let Err(e) = run() {
        eprintln!("root_dump: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut out = None;
    while let Some(a) = args.next() {
        if a == "--out" {
            out = Some(args.next().ok_or("--out needs a path")?);
        } else {
            positional.push(a);
        }
    }
    let Some(path) = positional.first() else {
        return Err("usage: root_dump FILE [TREE] [--out out.arrow]".into());
    };
    let file = RootFile::open(Arc::new(FileReader::open(path)?), path)?;
    let trees = file.trees()?;
    let tree_list: Vec<Value> = trees
        .iter()
        .map(|t| json!({"path": t.path, "cycle": t.cycle, "entries": t.entries, "class": t.class_name}))
        .collect();
    let name = match positional.get(1) {
        Some(n) => n.clone(),
        None if trees.len() == 1 => trees[0].path.clone(),
        None => {
            println!("{}", json!({"file": path, "trees": tree_list}));
            return Ok(());
        }
    };
    let tree = file.tree(&name)?;
    let schema = tree.schema();
    let mut fields: Vec<Field> = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut errors = std::collections::HashMap::new();
    // schema column -> column in the written file
    let mut written = std::collections::HashMap::new();
    if out.is_some() {
        for (i, f) in schema.fields().iter().enumerate() {
            match tree.read(&[i], 0..tree.entries()) {
                Ok(b) => {
                    written.insert(i, fields.len());
                    fields.push(f.as_ref().clone());
                    arrays.push(b.column(0).clone());
                }
                Err(e) => {
                    errors.insert(i, e.to_string());
                }
            }
        }
    }
    let branches: Vec<Value> = tree
        .branches()
        .iter()
        .map(|b| {
            json!({
                "name": b.name,
                "path": b.path,
                "column": b.column.map(|c| schema.field(c).name().clone()),
                "column_index": b.column.and_then(|c| written.get(&c).copied()),
                "root_type": b.root_type,
                "arrow_type": b.data_type.as_ref().map(|d| d.to_string()),
                "unsupported": b.unsupported,
                "group": b.group,
                "read_error": b.column.and_then(|c| errors.get(&c).cloned()),
                "baskets": b.baskets,
                "compressed_bytes": b.compressed_bytes,
                "uncompressed_bytes": b.uncompressed_bytes,
                "codec": b.codec,
                "entries": b.entries,
            })
        })
        .collect();
    if let Some(out) = out {
        let schema = Arc::new(Schema::new(fields));
        let opts = RecordBatchOptions::new().with_row_count(Some(tree.entries() as usize));
        let batch = RecordBatch::try_new_with_options(schema.clone(), arrays, &opts)?;
        let f = std::fs::File::create(&out)?;
        let mut w = arrow_ipc::writer::FileWriter::try_new(f, &schema)?;
        w.write(&batch)?;
        w.finish()?;
    }
    println!(
        "{}",
        json!({
            "file": path,
            "trees": tree_list,
            "tree": tree.path(),
            "entries": tree.entries(),
            "cluster_starts": tree.cluster_starts(),
            "branches": branches,
        })
    );
    Ok(())
}
