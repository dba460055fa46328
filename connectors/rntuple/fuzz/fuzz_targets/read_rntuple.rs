//! Whole-file fuzzing of the RNTuple reader: anchor, header/footer/page-list envelopes and
//! their checksums, the field and column tree, page decoding of every encoding. Seeded with the
//! small test-data RNTuples (see connectors/rntuple/fuzz/README.md).
#![no_main]

use std::sync::Arc;

use hepq_rntuple::{RNTuple, ntuples};
use hepq_root::{MemReader, RootFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reader = Arc::new(MemReader::new(data.to_vec()));
    let Ok(file) = RootFile::open(reader, "fuzz.root") else {
        return;
    };
    let Ok(found) = ntuples(&file) else {
        return;
    };
    for info in found.iter().take(4) {
        let Ok(ntuple) = RNTuple::open(&file, Some(&info.path)) else {
            continue;
        };
        let entries = ntuple.entries().min(100_000);
        let columns: Vec<usize> = (0..ntuple.schema().fields().len()).collect();
        let _ = ntuple.byte_ranges(&columns, 0..entries);
        let _ = ntuple.read(&columns, 0..entries);
    }
});
