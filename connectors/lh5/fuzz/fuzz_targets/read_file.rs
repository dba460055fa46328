//! Whole-file fuzzing of the LH5 layer: HDF5 superblock, object headers, groups, attributes
//! (`datatype`, `units`, `codec`), chunked and filtered datasets (gzip, shuffle, zstd), and the
//! LH5 objects built on them (tables, vectors of vectors, encoded waveforms). Seeded with small
//! real LEGEND files (see connectors/lh5/fuzz/README.md), so mutations reach deep.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = hepq_lh5::Lh5File::from_bytes_with_limit("fuzz.lh5", data.to_vec(), 64 << 20)
    else {
        return;
    };
    if let Ok(objects) = file.objects() {
        for o in objects.iter().take(64) {
            let _ = file.read_object(&o.path);
        }
    }
    if let Ok(tables) = file.tables() {
        for t in tables.iter().take(8) {
            if let Ok(table) = file.table(t) {
                let _ = table.read(&file, None);
            }
        }
    }
});
