//! Runs every `tests/slt/**/*.slt` file against a fresh hepq session per file.
//!
//! Files under `slt/catalog/` run on a new, empty warehouse each (its path is `$WAREHOUSE`
//! with `control substitution on`); there `connection NAME` opens another session on the same
//! warehouse, as a restart would, to check what the catalog kept.
//!
//! `cargo test -p hepq-tests --test sqllogictests` runs them all;
//! `… -- NAME` runs the files whose path contains NAME; `… -- --complete [NAME]` rewrites the
//! expected results from what hepq returns (review the diff before committing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use hepq_tests::HepqDb;
use sqllogictest::{Runner, default_column_validator, default_normalizer, default_validator};

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            slt_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slt") {
            out.push(path);
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let complete = args.iter().any(|a| a == "--complete");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("slt");
    let mut files = Vec::new();
    slt_files(&root, &mut files);
    files.sort();
    files.retain(|f| {
        filters.is_empty()
            || filters
                .iter()
                .any(|n| f.to_string_lossy().contains(n.as_str()))
    });
    assert!(
        !files.is_empty(),
        "no .slt files found under {}",
        root.display()
    );

    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let warehouse = name
            .starts_with("catalog")
            .then(|| tempfile::tempdir().expect("temporary warehouse"));
        let warehouse_path = warehouse.as_ref().map(|w| w.path().to_path_buf());
        let connect_to = warehouse_path.clone();
        let mut runner = Runner::new(move || {
            let warehouse = connect_to.clone();
            async move { Ok::<_, hepq_tests::DbError>(HepqDb::with_warehouse(warehouse).await) }
        });
        if let Some(path) = &warehouse_path {
            runner.set_var("WAREHOUSE".into(), path.display().to_string());
        }
        runner.with_column_validator(default_column_validator);
        let result = if complete {
            runner
                .update_test_file(
                    file,
                    " ",
                    default_validator,
                    default_normalizer,
                    default_column_validator,
                )
                .await
                .map_err(|e| e.to_string())
        } else {
            runner
                .run_file_async(file)
                .await
                .map_err(|e| e.display(true).to_string())
        };
        match result {
            Ok(()) => println!("ok    {name}"),
            Err(e) => {
                println!("FAIL  {name}\n{e}");
                failures.push(name);
            }
        }
    }
    if !failures.is_empty() {
        eprintln!(
            "{} of {} sqllogictest files failed: {}",
            failures.len(),
            files.len(),
            failures.join(", ")
        );
        std::process::exit(1);
    }
    println!("{} sqllogictest files passed", files.len());
}
