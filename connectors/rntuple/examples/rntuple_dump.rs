//! `rntuple_dump FILE [NAME] [--out out.arrow]`: lists an RNTuple's top-level fields as JSON on
//! stdout (with the reason each unsupported one is skipped) and, with `--out`, writes every
//! supported field as an Arrow IPC file. Fields that fail to decode are reported under
//! `read_error` and left out. Without NAME, the file's only RNTuple is used; with several, they
//! are listed and none is read.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema};
use hepq_rntuple::{RNTuple, ntuples};
use hepq_root::{FileReader, RootFile};
use serde_json::{Value, json};

fn main() {
    if let Err(e) = run() {
        eprintln!("rntuple_dump: {e}");
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
        return Err("usage: rntuple_dump FILE [NAME] [--out out.arrow]".into());
    };
    let file = RootFile::open(Arc::new(FileReader::open(path)?), path)?;
    let list = ntuples(&file)?;
    let listed: Vec<Value> = list
        .iter()
        .map(|n| json!({"path": n.path, "cycle": n.cycle}))
        .collect();
    let name = match positional.get(1) {
        Some(n) => n.clone(),
        None if list.len() == 1 => list[0].path.clone(),
        None => {
            println!("{}", json!({"file": path, "ntuples": listed}));
            return Ok(());
        }
    };
    let nt = RNTuple::open(&file, Some(&name))?;
    let schema = nt.schema();
    let mut fields: Vec<Field> = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut errors = std::collections::HashMap::new();
    let mut written = std::collections::HashMap::new();
    if out.is_some() {
        for (i, f) in schema.fields().iter().enumerate() {
            match nt.read(&[i], 0..nt.entries()) {
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
    let field_list: Vec<Value> = nt
        .fields()
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "type_name": f.type_name,
                "type_alias": f.type_alias,
                "arrow_type": f.data_type.as_ref().map(|d| d.to_string()),
                "unsupported": f.unsupported,
                "column_index": f.column.and_then(|c| written.get(&c).copied()),
                "read_error": f.column.and_then(|c| errors.get(&c).cloned()),
                "columns": f.columns,
                "pages": f.pages,
                "compressed_bytes": f.compressed_bytes,
                "uncompressed_bytes": f.uncompressed_bytes,
            })
        })
        .collect();
    let columns: Vec<Value> = nt
        .columns()
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "field": c.field_path, "type": c.column_type, "bits": c.bits,
                "representation": c.representation, "first_element": c.first_element,
                "pages": c.pages, "elements": c.elements, "codec": c.codec,
            })
        })
        .collect();
    if let Some(out) = out {
        let schema = Arc::new(Schema::new(fields));
        let opts = RecordBatchOptions::new().with_row_count(Some(nt.entries() as usize));
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
            "ntuples": listed,
            "ntuple": nt.path(),
            "entries": nt.entries(),
            "clusters": nt.cluster_starts(),
            "version": nt.format_version(),
            "fields": field_list,
            "columns": columns,
        })
    );
    Ok(())
}
