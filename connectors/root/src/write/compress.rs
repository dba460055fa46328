//! The compression side of ROOT's frames: a record is cut into blocks of at most 16 MiB - 1,
//! each written with the 9-byte header that [`crate::compression::decompress`] reads (magic,
//! method, compressed and uncompressed sizes as 3-byte little-endian integers).

use std::io::Write;

use crate::compression::{BLOCK_HEADER_LEN, Codec};

/// The largest block (uncompressed, and compressed) a 3-byte size can describe.
const MAX_BLOCK: usize = 0xFF_FFFF;

/// A compression algorithm and level, as ROOT's `fCompress` setting (algorithm × 100 + level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// The algorithm: [`Codec::None`], [`Codec::Zlib`], [`Codec::Lzma`], [`Codec::Lz4`] or
    /// [`Codec::Zstd`].
    pub codec: Codec,
    /// The level: 1 to 9 (zstd: 1 to 22); 0 stores records uncompressed. LZ4 has one level
    /// here (lz4_flex's fast block compressor), whatever the number.
    pub level: u32,
}

impl Default for Compression {
    /// zlib at level 1 (setting 101): ROOT 6's compiled-in default for `TFile`
    /// (`RCompressionSetting::EDefaults::kUseCompiledDefault`), and uproot's default too.
    fn default() -> Self {
        Compression {
            codec: Codec::Zlib,
            level: 1,
        }
    }
}

impl Compression {
    /// Parses an algorithm name (`zlib`, `lzma`, `lz4`, `zstd`, `none`) and a level.
    pub fn new(algorithm: &str, level: u32) -> Result<Compression, String> {
        let codec = match algorithm.to_ascii_lowercase().as_str() {
            "zlib" => Codec::Zlib,
            "lzma" | "xz" => Codec::Lzma,
            "lz4" => Codec::Lz4,
            "zstd" => Codec::Zstd,
            "none" | "uncompressed" => Codec::None,
            other => {
                return Err(format!(
                    "unknown compression {other:?} (zlib, lzma, lz4, zstd or none)"
                ));
            }
        };
        let max = if codec == Codec::Zstd { 22 } else { 9 };
        if level > max {
            return Err(format!(
                "compression level {level} is out of range for {algorithm} (0 to {max})"
            ));
        }
        Ok(Compression { codec, level })
    }

    /// The default level of an algorithm: zlib 1, lzma 7, lz4 4, zstd 5 (ROOT's recommended
    /// settings 101, 207, 404 and 505).
    pub fn default_level(codec: Codec) -> u32 {
        match codec {
            Codec::Lzma => 7,
            Codec::Lz4 => 4,
            Codec::Zstd => 5,
            Codec::None => 0,
            _ => 1,
        }
    }

    /// ROOT's setting: algorithm × 100 + level (0 for no compression).
    pub fn setting(&self) -> i32 {
        let alg = match self.codec {
            Codec::Zlib => 1,
            Codec::Lzma => 2,
            Codec::OldRoot => 3,
            Codec::Lz4 => 4,
            Codec::Zstd => 5,
            Codec::None => return 0,
        };
        if self.level == 0 {
            return 0;
        }
        alg * 100 + self.level as i32
    }
}

/// Compresses a record. Returns `None` when it should be stored as is: no compression asked
/// for, or the compressed form would not be smaller (ROOT's rule, which readers rely on: a record
/// whose stored length equals its uncompressed length is uncompressed).
pub(crate) fn compress(data: &[u8], c: Compression) -> std::io::Result<Option<Vec<u8>>> {
    if c.setting() == 0 || data.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(data.len() / 2 + BLOCK_HEADER_LEN);
    for block in data.chunks(MAX_BLOCK) {
        let start = out.len();
        out.extend_from_slice(&[0u8; BLOCK_HEADER_LEN]);
        let (magic, method): (&[u8; 2], u8) = match c.codec {
            Codec::Zlib | Codec::OldRoot => {
                let mut e = flate2::write::ZlibEncoder::new(
                    &mut out,
                    flate2::Compression::new(c.level.min(9)),
                );
                e.write_all(block)?;
                e.finish()?;
                (b"ZL", 8)
            }
            Codec::Lzma => {
                let mut e = liblzma::write::XzEncoder::new(&mut out, c.level.min(9));
                e.write_all(block)?;
                e.finish()?;
                (b"XZ", 0)
            }
            Codec::Lz4 => {
                let body = lz4_flex::block::compress(block);
                out.extend_from_slice(&xxhash_rust::xxh64::xxh64(&body, 0).to_be_bytes());
                out.extend_from_slice(&body);
                (b"L4", 1)
            }
            Codec::Zstd => {
                let body = zstd::bulk::compress(block, c.level as i32)?;
                out.extend_from_slice(&body);
                (b"ZS", 1)
            }
            Codec::None => return Ok(None),
        };
        let c_len = out.len() - start - BLOCK_HEADER_LEN;
        if c_len > MAX_BLOCK || out.len() >= data.len() {
            return Ok(None);
        }
        let u_len = block.len();
        let h = &mut out[start..start + BLOCK_HEADER_LEN];
        h[0] = magic[0];
        h[1] = magic[1];
        h[2] = method;
        h[3..6].copy_from_slice(&(c_len as u32).to_le_bytes()[..3]);
        h[6..9].copy_from_slice(&(u_len as u32).to_le_bytes()[..3]);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::compression::{codec_of, decompress};

    #[test]
    fn every_codec_round_trips_through_the_decoder() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect();
        for codec in [Codec::Zlib, Codec::Lzma, Codec::Lz4, Codec::Zstd] {
            let c = Compression {
                codec,
                level: Compression::default_level(codec),
            };
            let z = compress(&data, c).unwrap().unwrap();
            assert!(z.len() < data.len());
            assert_eq!(codec_of(&z, data.len()), codec);
            assert_eq!(decompress(&z, data.len()).unwrap(), data);
        }
        let none = Compression::new("none", 0).unwrap();
        assert!(compress(&data, none).unwrap().is_none());
    }

    #[test]
    fn records_over_16_mib_use_several_blocks() {
        let data: Vec<u8> = (0..(MAX_BLOCK + 1000) as u32)
            .map(|i| (i % 7) as u8)
            .collect();
        let z = compress(&data, Compression::new("zstd", 1).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(decompress(&z, data.len()).unwrap(), data);
        // the second block's header follows the first block
        let c_len = u32::from_le_bytes([z[3], z[4], z[5], 0]) as usize;
        assert_eq!(&z[BLOCK_HEADER_LEN + c_len..][..2], b"ZS");
    }

    #[test]
    fn incompressible_data_is_stored() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(
            compress(&data, Compression::new("zlib", 9).unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn names_levels_and_settings() {
        assert_eq!(Compression::default().setting(), 101);
        assert_eq!(Compression::new("ZSTD", 5).unwrap().setting(), 505);
        assert_eq!(Compression::new("lzma", 7).unwrap().setting(), 207);
        assert_eq!(Compression::new("lz4", 4).unwrap().setting(), 404);
        assert_eq!(Compression::new("zlib", 0).unwrap().setting(), 0);
        assert!(Compression::new("brotli", 1).is_err());
        assert!(Compression::new("zlib", 10).is_err());
        assert!(Compression::new("zstd", 22).is_ok());
    }
}
