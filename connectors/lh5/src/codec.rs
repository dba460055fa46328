//! The waveform codecs of LH5's encoded arrays (`ArrayOfEncodedEqualSizedArrays`,
//! `VectorOfEncodedVectors`), decoders only.
//!
//! * `radware_sigcompress` — D. Radford's signal compression: the waveform is cut into chunks
//!   of samples, each stored either as absolute values or as differences from the previous
//!   sample, minus the chunk's minimum, bit-packed with the fewest bits that hold the chunk's
//!   range. The stream is big-endian 16-bit words: `[length]`, then per chunk `[n samples]
//!   [bits]` followed by `[min]` and packed data (absolute, `bits < 32`) or `[first sample]
//!   [min]` and packed differences (`bits - 32`). Values were shifted by `codec_shift` before
//!   encoding and are computed as 16-bit integers in that shifted space.
//! * `uleb128_zigzag_diff` — each sample's difference from the previous one (the first from
//!   zero), zig-zag mapped to an unsigned number and written as an unsigned LEB128 varint.
//!
//! Both decode into `i32` samples, as legend-lh5io does. Corrupt input returns a
//! [`CodecError`], never panics, and never writes more samples than the caller allows.

/// Why an encoded waveform could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// The codecs LH5 encoded arrays name in their `codec` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// `radware_sigcompress`, with the `codec_shift` attribute (0 when absent).
    RadwareSigcompress {
        /// The value added to every sample before encoding.
        shift: i32,
    },
    /// `uleb128_zigzag_diff`.
    Uleb128ZigzagDiff,
}

impl Codec {
    /// The codec a `codec` attribute names, if hepq knows it.
    pub fn from_name(name: &str, shift: i32) -> Option<Self> {
        match name {
            "radware_sigcompress" => Some(Codec::RadwareSigcompress { shift }),
            "uleb128_zigzag_diff" => Some(Codec::Uleb128ZigzagDiff),
            _ => None,
        }
    }

    /// Decodes one waveform, appending its samples to `out`; returns how many were appended.
    /// At most `max_samples` samples are accepted; a longer waveform is an error.
    pub fn decode(
        self,
        input: &[u8],
        max_samples: usize,
        out: &mut Vec<i32>,
    ) -> Result<usize, CodecError> {
        match self {
            Codec::RadwareSigcompress { shift } => {
                radware_sigcompress_decode(input, shift, max_samples, out)
            }
            Codec::Uleb128ZigzagDiff => uleb128_zigzag_diff_decode(input, max_samples, out),
        }
    }
}

/// `mask(n)`: the low `n` bits set (`n` ≤ 16).
fn mask(bits: u16) -> u16 {
    if bits >= 16 {
        u16::MAX
    } else {
        (1u16 << bits) - 1
    }
}

/// Decodes one `radware_sigcompress` waveform (see the module docs), appending to `out`.
pub fn radware_sigcompress_decode(
    input: &[u8],
    shift: i32,
    max_samples: usize,
    out: &mut Vec<i32>,
) -> Result<usize, CodecError> {
    let n_words = input.len() / 2;
    // Words past the end read as zero (as in a zero-padded buffer); every loop below is
    // bounded by the word count or the declared length, so corrupt input cannot hang.
    let word = |i: usize| -> u16 {
        match (input.get(2 * i), input.get(2 * i + 1)) {
            (Some(&hi), Some(&lo)) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        }
    };
    if n_words == 0 {
        return Err(CodecError(
            "radware_sigcompress: empty encoded waveform".into(),
        ));
    }
    let declared = word(0) as i16;
    if declared < 0 {
        return Err(CodecError(format!(
            "radware_sigcompress: negative signal length {declared}"
        )));
    }
    let length = declared as usize;
    if length > max_samples {
        return Err(CodecError(format!(
            "radware_sigcompress: signal length {length} exceeds the {max_samples} samples allowed"
        )));
    }
    let start = out.len();
    out.try_reserve(length)
        .map_err(|e| CodecError(format!("radware_sigcompress: {e}")))?;
    let shift64 = i64::from(shift);
    let mut isi = 1usize;
    let mut bp: i32 = 0;
    let mut dd: u32 = 0;
    let produced = |out: &Vec<i32>| out.len() - start;
    while isi < n_words && produced(out) < length {
        if bp > 0 {
            isi += 1;
        }
        bp = 0;
        let n_samples = word(isi);
        isi += 1;
        let mut bits = word(isi);
        isi += 1;
        let differences = bits >= 32;
        if differences {
            bits -= 32;
        }
        if bits > 16 {
            return Err(CodecError(format!(
                "radware_sigcompress: invalid bit width {bits} at word {}",
                isi - 1
            )));
        }
        let m = mask(bits);
        let nb = i32::from(bits);
        let mut i = 0u16;
        if differences {
            let first = i64::from(word(isi) as i16) - shift64;
            out.push(first as i32);
            isi += 1;
            i = 1;
        }
        let min_val = i64::from(word(isi) as i16);
        isi += 1;
        if isi < n_words || !differences {
            dd = (dd & 0xFFFF_0000) | u32::from(word(isi));
        }
        while i < n_samples && produced(out) < length {
            if bp + nb > 15 {
                bp -= 16;
                dd = (dd & 0x0000_FFFF) | (u32::from(word(isi)) << 16);
                isi += 1;
                if isi < n_words {
                    dd = (dd & 0xFFFF_0000) | u32::from(word(isi));
                }
                dd = dd.checked_shl((bp + nb) as u32).unwrap_or(0);
            } else {
                dd = dd.checked_shl(nb as u32).unwrap_or(0);
            }
            let packed = i64::from(((dd >> 16) as u16) & m);
            let value = if differences {
                let previous = out.last().copied().map_or(0, i64::from);
                // The running sum wraps as a 16-bit integer in the shifted space.
                i64::from((packed + min_val + previous + shift64) as i16) - shift64
            } else {
                packed + min_val - shift64
            };
            out.push(value as i32);
            bp += nb;
            i += 1;
        }
    }
    let got = produced(out);
    if got != length {
        out.truncate(start);
        return Err(CodecError(format!(
            "radware_sigcompress: decoded {got} samples, header says {length}"
        )));
    }
    Ok(length)
}

/// Decodes one `uleb128_zigzag_diff` waveform (see the module docs), appending to `out`.
pub fn uleb128_zigzag_diff_decode(
    input: &[u8],
    max_samples: usize,
    out: &mut Vec<i32>,
) -> Result<usize, CodecError> {
    let start = out.len();
    let mut last: i32 = 0;
    let mut pos = 0usize;
    while pos < input.len() {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&byte) = input.get(pos) else {
                out.truncate(start);
                return Err(CodecError(format!(
                    "uleb128_zigzag_diff: varint truncated at byte {pos}"
                )));
            };
            pos += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift >= 64 {
                out.truncate(start);
                return Err(CodecError(format!(
                    "uleb128_zigzag_diff: varint longer than 64 bits ending at byte {pos}"
                )));
            }
        }
        if out.len() - start >= max_samples {
            out.truncate(start);
            return Err(CodecError(format!(
                "uleb128_zigzag_diff: more than the {max_samples} samples allowed"
            )));
        }
        // Like legend-lh5io, the varint is a 32-bit number and the signal is 32-bit.
        let zz = value as u32;
        let diff = ((zz >> 1) as i32) ^ -((zz & 1) as i32);
        last = last.wrapping_add(diff);
        out.push(last);
    }
    Ok(out.len() - start)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Test-only encoder (the textbook definition, written independently of the decoder).
    fn uleb_encode(signal: &[i32]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut last = 0i32;
        for &s in signal {
            let d = s.wrapping_sub(last);
            let mut zz = ((d << 1) ^ (d >> 31)) as u32;
            loop {
                let b = (zz & 0x7F) as u8;
                zz >>= 7;
                if zz == 0 {
                    out.push(b);
                    break;
                }
                out.push(b | 0x80);
            }
            last = s;
        }
        out
    }

    #[test]
    fn uleb128_round_trip() {
        let signal = [0, 1, -1, 300, -70000, i32::MAX, i32::MIN, 5, 5, 5];
        let enc = uleb_encode(&signal);
        let mut out = Vec::new();
        assert_eq!(uleb128_zigzag_diff_decode(&enc, 100, &mut out), Ok(10));
        assert_eq!(out, signal);
    }

    #[test]
    fn uleb128_known_bytes() {
        // diffs 1, -2, 64 → zigzag 2, 3, 128 → bytes 02 03 80 01.
        let mut out = Vec::new();
        uleb128_zigzag_diff_decode(&[0x02, 0x03, 0x80, 0x01], 10, &mut out).unwrap();
        assert_eq!(out, [1, -1, 63]);
    }

    #[test]
    fn uleb128_malformed() {
        let mut out = vec![7];
        assert!(uleb128_zigzag_diff_decode(&[0x80], 10, &mut out).is_err());
        assert!(uleb128_zigzag_diff_decode(&[0xFF; 11], 10, &mut out).is_err());
        assert!(uleb128_zigzag_diff_decode(&[1, 1, 1], 2, &mut out).is_err());
        // Failed decodes leave what was there before.
        assert_eq!(out, [7]);
        assert_eq!(uleb128_zigzag_diff_decode(&[], 2, &mut out), Ok(0));
    }

    fn words(w: &[u16]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    #[test]
    fn radware_absolute_chunk() {
        // 4 samples, one absolute chunk of 4 samples, 4 bits each, min 100:
        // packed nibbles 1 2 3 15 → 0x123F.
        let enc = words(&[4, 4, 4, 100, 0x123F]);
        let mut out = Vec::new();
        assert_eq!(radware_sigcompress_decode(&enc, 0, 10, &mut out), Ok(4));
        assert_eq!(out, [101, 102, 103, 115]);
        // The shift is subtracted after decoding.
        out.clear();
        radware_sigcompress_decode(&enc, 10, 10, &mut out).unwrap();
        assert_eq!(out, [91, 92, 93, 105]);
    }

    #[test]
    fn radware_difference_chunk() {
        // 4 samples, one difference chunk (bits 32 + 2), first sample 1000, min -1:
        // differences -1, 0, 2 → packed (d - min) 0, 1, 3 in 2 bits → 0b00_01_11 << 10.
        let enc = words(&[4, 4, 34, 1000, (-1i16) as u16, 0b0001_1100_0000_0000]);
        let mut out = Vec::new();
        assert_eq!(radware_sigcompress_decode(&enc, 0, 10, &mut out), Ok(4));
        assert_eq!(out, [1000, 999, 999, 1001]);
    }

    #[test]
    fn radware_difference_wraps_in_shifted_space() {
        // shift -32768 maps u16 samples to i16; decoding adds 32768 back.
        let first = (40000i32 - 32768) as u16;
        let enc = words(&[2, 2, 32 + 1, first, 0, 0x8000]);
        let mut out = Vec::new();
        radware_sigcompress_decode(&enc, -32768, 10, &mut out).unwrap();
        assert_eq!(out, [40000, 40001]);
    }

    #[test]
    fn radware_malformed() {
        let mut out = Vec::new();
        assert!(radware_sigcompress_decode(&[], 0, 10, &mut out).is_err());
        // negative length
        assert!(radware_sigcompress_decode(&words(&[0x8000]), 0, 10, &mut out).is_err());
        // more samples than allowed
        assert!(radware_sigcompress_decode(&words(&[20, 20, 0, 0]), 0, 10, &mut out).is_err());
        // bit width out of range
        assert!(radware_sigcompress_decode(&words(&[4, 4, 17, 0, 0]), 0, 10, &mut out).is_err());
        // truncated: header says 4, stream holds none
        assert!(radware_sigcompress_decode(&words(&[4]), 0, 10, &mut out).is_err());
        assert!(out.is_empty());
        // zero-length signal
        assert_eq!(
            radware_sigcompress_decode(&words(&[0]), 0, 10, &mut out),
            Ok(0)
        );
    }

    #[test]
    fn radware_never_panics_on_noise() {
        let mut state = 0x1234_5678u32;
        for len in 0..200usize {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            let mut out = Vec::new();
            let _ = radware_sigcompress_decode(&bytes, 0, 40_000, &mut out);
            let _ = uleb128_zigzag_diff_decode(&bytes, 40_000, &mut out);
        }
    }
}
