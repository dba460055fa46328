//! `root_write IN.arrow OUT.root [--tree NAME] [--title T] [--compression ALG] [--level N]
//! [--basket-entries N | --basket-bytes N]`: writes the record batches of an Arrow IPC file as a
//! TTree (the Python tests use it to hand uproot files that hepq wrote).

use std::fs::File;

use arrow_ipc::reader::FileReader;
use hepq_root::write::{BasketSize, Compression, TreeWriter, WriteOptions};

fn main() {
    if let Err(e) = run() {
        eprintln!("root_write: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut options = WriteOptions::default();
    let mut algorithm: Option<String> = None;
    let mut level: Option<u32> = None;
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--tree" => options.tree = value()?,
            "--title" => options.title = value()?,
            "--compression" => algorithm = Some(value()?),
            "--level" => level = Some(value()?.parse()?),
            "--basket-entries" => options.basket = BasketSize::Entries(value()?.parse()?),
            "--basket-bytes" => options.basket = BasketSize::Bytes(value()?.parse()?),
            _ => positional.push(a),
        }
    }
    let [input, output] = positional.as_slice() else {
        return Err("usage: root_write IN.arrow OUT.root [--tree NAME] [--compression ALG] [--level N] [--basket-entries N | --basket-bytes N]".into());
    };
    if let Some(alg) = algorithm {
        let probe = Compression::new(&alg, 0)?;
        let level = level.unwrap_or(Compression::default_level(probe.codec));
        options.compression = Compression::new(&alg, level)?;
    } else if let Some(level) = level {
        options.compression = Compression::new("zlib", level)?;
    }
    let reader = FileReader::try_new(File::open(input)?, None)?;
    let mut w = TreeWriter::create(output, reader.schema(), options)?;
    for batch in reader {
        w.write(&batch?)?;
    }
    w.finish()?;
    Ok(())
}
