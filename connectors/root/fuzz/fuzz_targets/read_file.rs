//! Whole-file fuzzing: TFile header, TKey and TDirectory parsing, TStreamerInfo, TTree /
//! TBranch / TLeaf metadata, basket headers and entry offsets, decompression and decoding.
//! Seeded with small real files (see connectors/root/fuzz/README.md), so mutations reach deep.
#![no_main]

use std::sync::Arc;

use hepq_root::{MemReader, RootFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reader = Arc::new(MemReader::new(data.to_vec()));
    let Ok(file) = RootFile::open(reader, "fuzz.root") else {
        return;
    };
    let Ok(trees) = file.trees() else {
        return;
    };
    for info in trees.iter().take(4) {
        let Ok(tree) = file.tree(&info.path) else {
            continue;
        };
        let _ = tree.branches().len();
        let entries = tree.entries().min(100_000);
        let columns: Vec<usize> = (0..tree.schema().fields().len()).collect();
        let _ = tree.byte_ranges(&columns, 0..entries);
        let _ = tree.read(&columns, 0..entries);
        for b in tree.branches().iter().filter(|b| b.unsupported.is_some()).take(4) {
            let _ = tree.read_branch(&b.path, 0..entries.min(10));
        }
    }
});
