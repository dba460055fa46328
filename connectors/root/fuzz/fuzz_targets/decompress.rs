//! Compression frames: every magic (`ZL`, `CS`, `XZ`, `L4`, `ZS`), multi-block records,
//! bogus sizes and checksums. The first 4 bytes choose the declared uncompressed size.
#![no_main]

use hepq_root::compression::decompress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let expected = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize % (64 << 20);
    if let Ok(out) = decompress(&data[4..], expected) {
        assert_eq!(out.len(), expected);
    }
});
