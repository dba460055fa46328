//! Integration tests over real files in ../shared/testdata: every tree opens, reads agree with
//! the file's own bookkeeping, and truncated or corrupted copies give errors, never panics.
//! The values themselves are checked against uproot in tests/python/test_root_uproot.py.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::Array;
use hepq_root::{Error, FileReader, MemReader, RootFile};

fn testdata(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!(
            "test data {} is missing (CI=true makes this a failure)",
            p.display()
        );
    }
    eprintln!("skipping: {} not found", p.display());
    None
}

fn open(rel: &str) -> Option<RootFile> {
    let p = testdata(rel)?;
    Some(RootFile::open(Arc::new(FileReader::open(&p).unwrap()), rel).unwrap())
}

/// Opens every tree and reads every supported column; returns the number of values read.
fn read_everything(file: &RootFile) -> hepq_root::Result<usize> {
    let mut n = 0;
    for t in file.trees()? {
        let tree = file.tree(&t.path)?;
        let cols: Vec<usize> = (0..tree.schema().fields().len()).collect();
        let batch = tree.read(&cols, 0..tree.entries())?;
        n += batch.num_rows() * batch.num_columns();
    }
    Ok(n)
}

#[test]
fn hzz_every_codec_reads_the_same() {
    let mut batches = Vec::new();
    for codec in ["zlib", "lz4", "lzma", "zstd", "uncompressed"] {
        let Some(f) = open(&format!("scikit-hep-testdata/uproot-HZZ-{codec}.root")) else {
            return;
        };
        let trees = f.trees().unwrap();
        assert_eq!(trees.len(), 1);
        assert_eq!(trees[0].path, "events");
        let t = f.tree("events").unwrap();
        assert_eq!(t.entries(), 2421);
        assert!(
            t.branches().iter().all(|b| b.unsupported.is_none()),
            "{:?}",
            t.branches()
        );
        let cols: Vec<usize> = (0..t.schema().fields().len()).collect();
        batches.push(t.read(&cols, 0..t.entries()).unwrap());
    }
    for b in &batches[1..] {
        assert_eq!(b, &batches[0]);
    }
}

#[test]
fn entry_ranges_agree_with_whole_reads() {
    let Some(f) = open("cms-opendata/Run2012B_SingleMu_1000.root") else {
        return;
    };
    let t = f.tree("Events").unwrap();
    assert_eq!(t.entries(), 1000);
    let cols: Vec<usize> = (0..t.schema().fields().len()).collect();
    let all = t.read(&cols, 0..1000).unwrap();
    let starts = t.cluster_starts();
    assert_eq!(starts[0], 0);
    for (a, b) in [(0u64, 1u64), (3, 517), (999, 1000), (500, 500)] {
        let part = t.read(&cols, a..b).unwrap();
        assert_eq!(part.num_rows() as u64, b - a);
        for c in 0..cols.len() {
            assert_eq!(
                part.column(c).as_ref(),
                all.column(c).slice(a as usize, (b - a) as usize).as_ref()
            );
        }
    }
    assert!(!t.byte_ranges(&[0, 1], 0..1000).is_empty());
    assert!(t.read(&cols, 0..1001).is_err());
    assert!(t.read(&[cols.len()], 0..1).is_err());
}

#[test]
fn nested_directories_and_missing_trees() {
    let Some(f) = open("scikit-hep-testdata/uproot-nesteddirs.root") else {
        return;
    };
    let trees = f.trees().unwrap();
    assert!(trees.iter().any(|t| t.path.contains('/')), "{trees:?}");
    for t in &trees {
        f.tree(&t.path).unwrap();
    }
    match f.tree("no/such/tree") {
        Err(Error::NoSuchTree { file, .. }) => assert!(file.contains("nesteddirs")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_branches_are_listed_and_refused() {
    let Some(f) = open("scikit-hep-testdata/uproot-stl_containers.root") else {
        return;
    };
    let t = f.tree("tree").unwrap();
    let map = t
        .branches()
        .iter()
        .find(|b| b.name == "map_int32_int16")
        .unwrap();
    assert!(map.unsupported.is_some() && map.column.is_none());
    let e = t
        .read_branch("map_int32_int16", 0..1)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("map_int32_int16") && e.contains("tree") && e.contains("stl_containers"),
        "{e}"
    );
    assert!(e.contains("map<int,short>"), "{e}");
}

fn assert_no_panic(bytes: Vec<u8>, what: &str) {
    let r = std::panic::catch_unwind(|| {
        let Ok(f) = RootFile::open(Arc::new(MemReader::new(bytes)), "corrupt.root") else {
            return;
        };
        let _ = read_everything(&f);
    });
    assert!(r.is_ok(), "panic on {what}");
}

#[test]
fn truncated_files_give_errors() {
    for rel in [
        "scikit-hep-testdata/uproot-HZZ-lz4.root",
        "scikit-hep-testdata/uproot-small-evnt-tree-fullsplit.root",
    ] {
        let Some(p) = testdata(rel) else { return };
        let data = std::fs::read(p).unwrap();
        let full = RootFile::open(Arc::new(MemReader::new(data.clone())), rel).unwrap();
        assert!(read_everything(&full).unwrap() > 0);
        let step = (data.len() / 97).max(1);
        for cut in (0..data.len()).step_by(step) {
            let r = std::panic::catch_unwind(|| {
                let f = RootFile::open(Arc::new(MemReader::new(data[..cut].to_vec())), "cut.root");
                match f {
                    Err(e) => assert!(e.to_string().contains("cut.root"), "{e}"),
                    Ok(f) => {
                        if let Err(e) = read_everything(&f) {
                            assert!(e.to_string().contains("cut.root"), "{e}");
                        }
                    }
                }
            });
            assert!(r.is_ok(), "panic at cut {cut} of {rel}");
        }
    }
}

#[test]
fn corrupted_bytes_give_errors() {
    let Some(p) = testdata("scikit-hep-testdata/uproot-HZZ-zlib.root") else {
        return;
    };
    let data = std::fs::read(p).unwrap();
    let step = (data.len() / 300).max(1);
    for pos in (0..data.len()).step_by(step) {
        for val in [0x00u8, 0xff, 0x40] {
            let mut d = data.clone();
            d[pos] = val;
            assert_no_panic(d, &format!("byte {pos} set to {val:#x}"));
        }
    }
}

/// Hostile sizes in basket headers (record length, uncompressed length, key length, the data's
/// end, the entry count) give an error naming the file and branch, never a panic or a huge
/// allocation: the direct read checks them before it lays out the column's buffers.
#[test]
fn hostile_basket_sizes_are_errors_naming_the_branch() {
    let rel = "cms-opendata/Run2012B_SingleMu_1000.root";
    let Some(p) = testdata(rel) else { return };
    let data = std::fs::read(p).unwrap();
    let file = RootFile::open(Arc::new(MemReader::new(data.clone())), rel).unwrap();
    let tree = file.tree("Events").unwrap();
    let schema = tree.schema();
    let jet_pt = schema.index_of("Jet_pt").unwrap();
    let ranges = tree.byte_ranges(&[jet_pt], 0..tree.entries());
    assert!(!ranges.is_empty());
    let start = ranges[0].start as usize;
    let keylen = i16::from_be_bytes([data[start + 14], data[start + 15]]) as usize;
    // fNbytes, fObjlen, fKeylen, then the TBasket's fNevBuf and fLast.
    let fields = [(0, 4), (6, 4), (14, 2), (keylen - 9, 4), (keylen - 5, 4)];
    for (at, width) in fields {
        for hostile in [0u32, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x0100_0000] {
            let mut d = data.clone();
            let bytes = hostile.to_be_bytes();
            d[start + at..start + at + width].copy_from_slice(&bytes[4 - width..]);
            let r = std::panic::catch_unwind(|| {
                let f = RootFile::open(Arc::new(MemReader::new(d)), "hostile.root").unwrap();
                let t = f.tree("Events").unwrap();
                t.read(&[jet_pt], 0..t.entries()).map(|b| b.num_rows())
            });
            let what = format!("field at +{at} set to {hostile:#x}");
            match r {
                Err(_) => panic!("panic with {what}"),
                Ok(Ok(rows)) => assert_eq!(rows as u64, tree.entries(), "{what}"),
                Ok(Err(e)) => {
                    let e = e.to_string();
                    assert!(
                        e.contains("hostile.root") && e.contains("Jet_pt"),
                        "{what}: {e}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_testdata_tree_opens() {
    let Some(dir) = testdata("scikit-hep-testdata") else {
        return;
    };
    let mut opened = 0;
    let mut failed = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e != "root") {
            continue;
        }
        let name = p.display().to_string();
        let r = std::panic::catch_unwind(|| -> (usize, Vec<String>) {
            let f = match RootFile::open(Arc::new(FileReader::open(&p).unwrap()), &name) {
                Ok(f) => f,
                Err(e) => return (0, vec![e.to_string()]),
            };
            let list = match f.trees() {
                Ok(l) => l,
                Err(e) => return (0, vec![e.to_string()]),
            };
            let mut n = 0;
            let mut errs = Vec::new();
            for t in list {
                match f.tree(&t.path) {
                    Ok(_) => n += 1,
                    Err(e) => errs.push(e.to_string()),
                }
            }
            (n, errs)
        });
        let (n, errs) = r.unwrap_or_else(|_| panic!("panic on {name}"));
        opened += n;
        failed.extend(errs);
    }
    // Only trees of TTree class version < 16 (e.g. written by Geant4's own writer) are refused,
    // with a clear message.
    let unclear: Vec<&String> = failed
        .iter()
        .filter(|e| !e.contains("is not supported"))
        .collect();
    assert!(unclear.is_empty(), "trees failed to open: {unclear:#?}");
    assert!(
        failed.len() <= 5,
        "{} trees refused: {failed:#?}",
        failed.len()
    );
    assert!(opened > 300, "only {opened} trees opened");
}

#[test]
fn keys_list_every_object_and_read_their_bytes() {
    let Some(f) = open("scikit-hep-testdata/uproot-nesteddirs.root") else {
        return;
    };
    let keys = f.keys().unwrap();
    // directories are listed and entered: nested paths appear, and trees are among the keys
    assert!(keys.iter().any(|k| k.path.contains('/')), "{keys:?}");
    for t in f.trees().unwrap() {
        assert!(
            keys.iter()
                .any(|k| k.path == t.path && k.class_name == t.class_name),
            "{t:?} not in {keys:?}"
        );
        assert!(!f.object_bytes(&t.path, None).unwrap().is_empty());
    }
    assert!(f.object_bytes("no/such/key", None).is_err());
    // an RNTuple anchor: ROOT::RNTuple keys are listed with their class, their object read
    let Some(f) = open("scikit-hep-testdata/test_int_float_rntuple_v1-0-0-0.root") else {
        return;
    };
    let keys = f.keys().unwrap();
    let k = keys
        .iter()
        .find(|k| k.class_name == "ROOT::RNTuple")
        .unwrap();
    assert_eq!((k.path.as_str(), k.cycle), ("ntuple", 1));
    // byte count + version + 64 bytes of fields + 8 bytes of checksum
    assert_eq!(f.object_bytes("ntuple", Some(1)).unwrap().len(), 78);
    assert!(f.object_bytes("ntuple", Some(7)).is_err());
}
