//! The waveform decoders on arbitrary bytes: `radware_sigcompress` (first byte picks the
//! shift) and `uleb128_zigzag_diff`. Decoded lengths never exceed the limit given.
#![no_main]

use hepq_lh5::codec::{radware_sigcompress_decode, uleb128_zigzag_diff_decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let shift = i32::from(first as i8) * 512;
    let mut out = Vec::new();
    if let Ok(n) = radware_sigcompress_decode(rest, shift, 40_000, &mut out) {
        assert_eq!(n, out.len());
    }
    out.clear();
    if let Ok(n) = uleb128_zigzag_diff_decode(rest, 40_000, &mut out) {
        assert!(n <= 40_000 && n == out.len());
    }
});
