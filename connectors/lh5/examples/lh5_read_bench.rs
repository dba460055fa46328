//! Reader throughput: every `ch*/{tier}` table (all columns hepq reads) of the given LH5 files
//! into Arrow, best of `--repeat` runs. Prints one JSON line. Used by `connectors/lh5/bench/run.py`
//! next to `lh5.read` on the same tables.
//!
//! `lh5_read_bench [--repeat N] TIER FILE...`

use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut repeat = 5usize;
    if args.first().map(String::as_str) == Some("--repeat") && args.len() > 1 {
        repeat = args[1].parse().unwrap_or(5);
        args.drain(..2);
    }
    let Some((tier, files)) = args.split_first() else {
        eprintln!("usage: lh5_read_bench [--repeat N] TIER FILE...");
        std::process::exit(2);
    };
    let mut best = f64::INFINITY;
    let (mut rows, mut columns, mut tables) = (0usize, 0usize, 0usize);
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        (rows, columns, tables) = (0, 0, 0);
        for path in files {
            let file = match hepq_lh5::Lh5File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            };
            let names = file.tables().unwrap_or_default();
            for name in names.iter().filter(|n| n.ends_with(&format!("/{tier}"))) {
                match file.table(name).and_then(|t| t.read(&file, None)) {
                    Ok(batch) => {
                        rows += batch.num_rows();
                        columns += batch.num_columns();
                        tables += 1;
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        std::process::exit(1);
                    }
                }
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{{\"reader\":\"hepq-lh5\",\"tier\":\"{tier}\",\"files\":{},\"tables\":{tables},\"columns\":{columns},\"rows\":{rows},\"seconds\":{best:.6}}}",
        files.len()
    );
}
