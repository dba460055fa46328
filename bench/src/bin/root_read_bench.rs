//! `root_read_bench`: times hepq-root reading TTree branches into Arrow, and the raw
//! decompression of the same baskets, with a given number of threads.
//!
//! ```text
//! root_read_bench FILE [--tree Events] [--branches 'Jet_*,Muon_*'] [--threads 1,2]
//!                 [--modes read,decompress] [--repeat 5]
//! ```
//!
//! Prints one JSON object per (mode, threads): the median and every run's seconds, the entries,
//! and the compressed/uncompressed bytes of the selected branches. Every measurement is warm:
//! one untimed run precedes the timed ones. `bench/root/run.py` drives it next to uproot.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use hepq_rntuple::RNTuple;
use hepq_root::{FileReader, RootFile, Tree};
use serde_json::json;

struct Args {
    file: String,
    tree: String,
    patterns: Vec<String>,
    threads: Vec<usize>,
    modes: Vec<String>,
    repeat: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        file: String::new(),
        tree: "Events".into(),
        patterns: vec!["Jet_*".into(), "Muon_*".into()],
        threads: vec![1, 2],
        modes: vec!["read".into(), "decompress".into()],
        repeat: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--tree" => args.tree = value("--tree")?,
            "--branches" => {
                args.patterns = value("--branches")?
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            "--threads" => {
                args.threads = value("--threads")?
                    .split(',')
                    .map(|t| t.parse().map_err(|e| format!("--threads {t:?}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--modes" => args.modes = value("--modes")?.split(',').map(str::to_string).collect(),
            "--repeat" => {
                let r = value("--repeat")?;
                args.repeat = r.parse().map_err(|e| format!("--repeat {r:?}: {e}"))?
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => args.file = other.to_string(),
        }
    }
    if args.file.is_empty() {
        return Err(
            "usage: root_read_bench FILE [--tree T] [--branches 'Jet_*,Muon_*'] \
                    [--threads 1,2] [--repeat N]"
                .into(),
        );
    }
    Ok(args)
}

/// `*` matches any run of characters; everything else literally.
fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob_match(tail, &rest[i..]))
        }
    }
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    }
}

/// What the file holds: a TTree or an RNTuple.
enum Source {
    Tree(Tree),
    Ntuple(RNTuple),
}

impl Source {
    fn schema(&self) -> arrow_schema::SchemaRef {
        match self {
            Source::Tree(t) => t.schema(),
            Source::Ntuple(n) => n.schema(),
        }
    }

    fn entries(&self) -> u64 {
        match self {
            Source::Tree(t) => t.entries(),
            Source::Ntuple(n) => n.entries(),
        }
    }

    fn read(&self, columns: &[usize], entries: std::ops::Range<u64>) -> Result<usize, String> {
        let batch = match self {
            Source::Tree(t) => t.read(columns, entries).map_err(|e| e.to_string())?,
            Source::Ntuple(n) => n.read(columns, entries).map_err(|e| e.to_string())?,
        };
        Ok(batch.num_rows())
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let reader = Arc::new(FileReader::open(&args.file).map_err(|e| format!("{}: {e}", args.file))?);
    let file = RootFile::open(reader, &args.file).map_err(|e| e.to_string())?;
    // A TTree of that name, else the file's RNTuple of that name (bench/prepare.py --rntuple).
    let source = match file.tree(&args.tree) {
        Ok(tree) => Source::Tree(tree),
        Err(tree_error) => Source::Ntuple(
            RNTuple::open(&file, Some(&args.tree))
                .map_err(|e| format!("no TTree ({tree_error}) and no RNTuple ({e})"))?,
        ),
    };
    let schema = source.schema();
    let columns: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| args.patterns.iter().any(|p| glob_match(p, f.name())))
        .map(|(i, _)| i)
        .collect();
    if columns.is_empty() {
        return Err(format!("no branch matches {:?}", args.patterns));
    }
    let names: Vec<&str> = columns
        .iter()
        .map(|&c| schema.field(c).name().as_str())
        .collect();
    let (zipped, unzipped): (u64, u64) = match &source {
        Source::Tree(tree) => tree
            .branches()
            .iter()
            .filter(|b| names.contains(&b.name.as_str()))
            .fold((0, 0), |(z, u), b| {
                (z + b.compressed_bytes, u + b.uncompressed_bytes)
            }),
        Source::Ntuple(_) => (0, 0),
    };
    let entries = source.entries();
    for &threads in &args.threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| e.to_string())?;
        for mode in args.modes.iter().map(String::as_str) {
            let once = || -> Result<(), String> {
                match mode {
                    "read" => {
                        let rows = source.read(&columns, 0..entries)?;
                        if rows as u64 != entries {
                            return Err(format!("read {rows} rows of {entries}"));
                        }
                    }
                    "decompress" => {
                        let Source::Tree(tree) = &source else {
                            return Err("mode decompress is for TTrees only".into());
                        };
                        let baskets = tree
                            .load_baskets(&columns, 0..entries)
                            .map_err(|e| e.to_string())?;
                        if baskets.is_empty() {
                            return Err("no baskets".into());
                        }
                    }
                    other => return Err(format!("unknown mode {other:?} (read, decompress)")),
                }
                Ok(())
            };
            pool.install(once)?;
            let mut times = Vec::with_capacity(args.repeat);
            for _ in 0..args.repeat {
                let start = Instant::now();
                pool.install(once)?;
                times.push(start.elapsed().as_secs_f64());
            }
            let all = times.clone();
            println!(
                "{}",
                json!({
                    "file": args.file,
                    "mode": mode,
                    "threads": threads,
                    "median_s": median(&mut times),
                    "times_s": all,
                    "entries": entries,
                    "branches": names.len(),
                    "compressed_bytes": zipped,
                    "uncompressed_bytes": unzipped,
                })
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("root_read_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
