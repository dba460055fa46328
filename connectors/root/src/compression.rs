//! ROOT compression frames.
//!
//! A compressed record is a sequence of blocks, each with a 9-byte header: a two-letter magic
//! that names the codec (`ZL` zlib, `CS` ROOT's old deflate, `XZ` lzma, `L4` lz4 with an 8-byte
//! XXH64 checksum in front of the payload, `ZS` zstd), one method byte, and the compressed and
//! uncompressed block sizes as 3-byte little-endian integers. Records longer than 16 MiB are split
//! into several blocks. Each block is decompressed into exactly its declared size, so a
//! decompression bomb can never produce more than the record's declared length.

use crate::error::{Malformed, PResult, malformed};

/// The length of a block header.
pub const BLOCK_HEADER_LEN: usize = 9;

/// The largest record this decoder will decompress (ROOT's own limit is 1 GiB per basket).
pub const MAX_RECORD_LEN: usize = 1 << 30;

/// A compression algorithm, as named by a block's magic or a branch's `fCompress` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Codec {
    /// Stored without compression.
    None,
    /// zlib (`ZL`).
    Zlib,
    /// ROOT's old deflate (`CS`).
    OldRoot,
    /// LZMA / xz (`XZ`).
    Lzma,
    /// LZ4 with an XXH64 checksum (`L4`).
    Lz4,
    /// Zstandard (`ZS`).
    Zstd,
}

impl Codec {
    /// The codec's short name: `none`, `zlib`, `old-root`, `lzma`, `lz4`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Zlib => "zlib",
            Codec::OldRoot => "old-root",
            Codec::Lzma => "lzma",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }

    /// The codec that a ROOT `fCompress` setting (algorithm × 100 + level) selects.
    pub fn from_setting(setting: i32) -> Codec {
        if setting <= 0 || setting % 100 == 0 {
            return Codec::None;
        }
        match setting / 100 {
            0 | 1 => Codec::Zlib,
            2 => Codec::Lzma,
            3 => Codec::OldRoot,
            4 => Codec::Lz4,
            5 => Codec::Zstd,
            _ => Codec::Zlib,
        }
    }
}

fn le24(b: &[u8]) -> usize {
    b[0] as usize | (b[1] as usize) << 8 | (b[2] as usize) << 16
}

/// Decompresses one record of `compressed` bytes into exactly `expected` bytes. If the two
/// lengths are equal, the record is stored uncompressed and returned as is.
pub fn decompress(compressed: &[u8], expected: usize) -> Result<Vec<u8>, Malformed> {
    if compressed.len() == expected {
        return Ok(compressed.to_vec());
    }
    // The declared total is only trusted once the blocks' own headers add up to it.
    check_blocks(compressed, expected)?;
    // A record of one zstd block is decompressed into the vector's spare capacity (no
    // zero-filling first), as zstd can fill uninitialised memory itself.
    if let Ok((magic, c_len, u_len)) = block_header(compressed, 0)
        && &magic == b"ZS"
        && u_len == expected
        && BLOCK_HEADER_LEN + c_len == compressed.len()
    {
        let mut out = Vec::with_capacity(expected);
        let body = &compressed[BLOCK_HEADER_LEN..];
        with_zstd(|d| {
            let n = d
                .decompress_to_buffer(body, &mut out)
                .map_err(|e| crate::error::Malformed(format!("zstd: {e}")))?;
            if n != expected || out.len() != expected {
                return malformed(format!("zstd block gave {n} bytes, expected {expected}"));
            }
            Ok(())
        })?;
        return Ok(out);
    }
    let mut out = vec![0u8; expected];
    decompress_into(compressed, &mut out)?;
    Ok(out)
}

/// The codec named by the first block of a compressed record.
pub fn codec_of(compressed: &[u8], expected: usize) -> Codec {
    if compressed.len() == expected || compressed.len() < 2 {
        return Codec::None;
    }
    match &compressed[..2] {
        b"ZL" => Codec::Zlib,
        b"CS" => Codec::OldRoot,
        b"XZ" => Codec::Lzma,
        b"L4" => Codec::Lz4,
        b"ZS" => Codec::Zstd,
        _ => Codec::None,
    }
}

/// Decompresses one record of `compressed` bytes into `dst`, which must be exactly as long as
/// the record's declared uncompressed size (as [`decompress`], without allocating: the reader
/// decompresses baskets into reused scratch memory). Every block's declared size is checked
/// against the room left in `dst` before it is decompressed.
pub fn decompress_into(compressed: &[u8], dst: &mut [u8]) -> Result<(), Malformed> {
    let expected = dst.len();
    if compressed.len() == expected {
        dst.copy_from_slice(compressed);
        return Ok(());
    }
    if expected > MAX_RECORD_LEN {
        return malformed(format!(
            "declared uncompressed size {expected} exceeds the {MAX_RECORD_LEN}-byte limit"
        ));
    }
    let mut pos = 0;
    let mut out = 0;
    while pos < compressed.len() {
        let (magic, c_len, u_len) = block_header(compressed, pos)?;
        if out + u_len > expected {
            return malformed(format!(
                "compression blocks decompress to more than the declared {expected} bytes"
            ));
        }
        let body = &compressed[pos + BLOCK_HEADER_LEN..pos + BLOCK_HEADER_LEN + c_len];
        let d = &mut dst[out..out + u_len];
        match &magic {
            b"ZL" => inflate_reused(body, d)?,
            b"CS" => inflate(body, d, false).map_err(|e| {
                crate::error::Malformed(format!(
                    "ROOT's old 'CS' compression could not be decoded as raw deflate ({e})"
                ))
            })?,
            b"XZ" => unxz(body, d)?,
            b"L4" => unlz4(body, d)?,
            b"ZS" => unzstd(body, d)?,
            _ => {
                return malformed(format!(
                    "unknown compression magic {:?} at byte {pos}",
                    String::from_utf8_lossy(&magic)
                ));
            }
        }
        out += u_len;
        pos += BLOCK_HEADER_LEN + c_len;
    }
    if out != expected {
        return malformed(format!(
            "compression blocks gave {out} bytes, expected {expected}"
        ));
    }
    Ok(())
}

/// Checks, without decompressing, that the block headers of a record chain up to exactly
/// `expected` bytes: what a caller checks before it allocates `expected` bytes for
/// [`decompress_into`], so that no more is allocated than the blocks themselves declare.
pub fn check_blocks(compressed: &[u8], expected: usize) -> Result<(), Malformed> {
    if compressed.len() == expected {
        return Ok(());
    }
    if expected > MAX_RECORD_LEN {
        return malformed(format!(
            "declared uncompressed size {expected} exceeds the {MAX_RECORD_LEN}-byte limit"
        ));
    }
    let mut pos = 0;
    let mut out = 0usize;
    while pos < compressed.len() {
        let (_, c_len, u_len) = block_header(compressed, pos)?;
        out += u_len;
        if out > expected {
            return malformed(format!(
                "compression blocks decompress to more than the declared {expected} bytes"
            ));
        }
        pos += BLOCK_HEADER_LEN + c_len;
    }
    if out != expected {
        return malformed(format!(
            "compression blocks gave {out} bytes, expected {expected}"
        ));
    }
    Ok(())
}

/// The magic and compressed and uncompressed sizes of the block at `pos`, whose body is checked
/// to lie within `compressed`.
fn block_header(compressed: &[u8], pos: usize) -> PResult<([u8; 2], usize, usize)> {
    let rest = &compressed[pos..];
    if rest.len() < BLOCK_HEADER_LEN {
        return malformed(format!(
            "truncated compression block header at byte {pos} of {}",
            compressed.len()
        ));
    }
    let c_len = le24(&rest[3..6]);
    let u_len = le24(&rest[6..9]);
    if rest.len() - BLOCK_HEADER_LEN < c_len {
        return malformed(format!(
            "compression block at byte {pos} claims {c_len} bytes but only {} remain",
            rest.len() - BLOCK_HEADER_LEN
        ));
    }
    Ok(([rest[0], rest[1]], c_len, u_len))
}

/// Inflates one zlib block into `dst` (exactly its size) with libdeflate (whole-buffer
/// decompression: ROOT declares every block's uncompressed size), reusing this thread's
/// decompressor. The zlib stream's Adler-32 checksum is verified.
fn inflate_reused(body: &[u8], dst: &mut [u8]) -> PResult<()> {
    thread_local! {
        static INFLATE: std::cell::RefCell<libdeflater::Decompressor> =
            std::cell::RefCell::new(libdeflater::Decompressor::new());
    }
    INFLATE.with(|d| {
        let produced = d
            .borrow_mut()
            .zlib_decompress(body, dst)
            .map_err(|e| crate::error::Malformed(format!("zlib: {e}")))?;
        if produced != dst.len() {
            return malformed(format!(
                "zlib block gave {produced} bytes, expected {}",
                dst.len()
            ));
        }
        Ok(())
    })
}

fn inflate(body: &[u8], dst: &mut [u8], zlib_header: bool) -> PResult<()> {
    let mut d = flate2::Decompress::new(zlib_header);
    let status = d
        .decompress(body, dst, flate2::FlushDecompress::Finish)
        .map_err(|e| crate::error::Malformed(format!("zlib: {e}")))?;
    let produced = d.total_out() as usize;
    if status != flate2::Status::StreamEnd || produced != dst.len() {
        return malformed(format!(
            "zlib block gave {produced} bytes, expected {}",
            dst.len()
        ));
    }
    Ok(())
}

fn unxz(body: &[u8], dst: &mut [u8]) -> PResult<()> {
    let mut s = liblzma::stream::Stream::new_stream_decoder(u64::MAX, 0)
        .map_err(|e| crate::error::Malformed(format!("lzma: {e}")))?;
    let status = s
        .process(body, dst, liblzma::stream::Action::Finish)
        .map_err(|e| crate::error::Malformed(format!("lzma: {e}")))?;
    let produced = s.total_out() as usize;
    if status != liblzma::stream::Status::StreamEnd || produced != dst.len() {
        return malformed(format!(
            "lzma block gave {produced} bytes, expected {}",
            dst.len()
        ));
    }
    Ok(())
}

fn unlz4(body: &[u8], dst: &mut [u8]) -> PResult<()> {
    if body.len() < 8 {
        return malformed("lz4 block too short for its checksum");
    }
    let mut ck = [0u8; 8];
    ck.copy_from_slice(&body[..8]);
    let expected = u64::from_be_bytes(ck);
    let payload = &body[8..];
    let computed = xxhash_rust::xxh64::xxh64(payload, 0);
    if computed != expected {
        return malformed(format!(
            "lz4 block checksum mismatch (stored {expected:#018x}, computed {computed:#018x})"
        ));
    }
    let n = lz4_flex::block::decompress_into(payload, dst)
        .map_err(|e| crate::error::Malformed(format!("lz4: {e}")))?;
    if n != dst.len() {
        return malformed(format!("lz4 block gave {n} bytes, expected {}", dst.len()));
    }
    Ok(())
}

fn unzstd(body: &[u8], dst: &mut [u8]) -> PResult<()> {
    with_zstd(|d| {
        let n = d
            .decompress_to_buffer(body, dst)
            .map_err(|e| crate::error::Malformed(format!("zstd: {e}")))?;
        if n != dst.len() {
            return malformed(format!("zstd block gave {n} bytes, expected {}", dst.len()));
        }
        Ok(())
    })
}

/// Runs `f` with this thread's reused zstd decompression context.
fn with_zstd<R>(
    f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> PResult<R>,
) -> PResult<R> {
    thread_local! {
        static ZSTD: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    ZSTD.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| crate::error::Malformed(format!("zstd: {e}")))?,
            );
        }
        let Some(d) = cell.as_mut() else {
            return malformed("zstd: no decompression context");
        };
        f(d)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::io::Write;

    /// Frames one block the way ROOT does.
    pub(crate) fn frame(magic: &[u8; 2], method: u8, body: &[u8], u_len: usize) -> Vec<u8> {
        let c = body.len();
        let mut out = vec![magic[0], magic[1], method];
        out.extend_from_slice(&[c as u8, (c >> 8) as u8, (c >> 16) as u8]);
        out.extend_from_slice(&[u_len as u8, (u_len >> 8) as u8, (u_len >> 16) as u8]);
        out.extend_from_slice(body);
        out
    }

    pub(crate) fn zlib_block(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        frame(b"ZL", 8, &e.finish().unwrap(), data.len())
    }

    fn lz4_block(data: &[u8]) -> Vec<u8> {
        let c = lz4_flex::block::compress(data);
        let mut body = xxhash_rust::xxh64::xxh64(&c, 0).to_be_bytes().to_vec();
        body.extend_from_slice(&c);
        frame(b"L4", 1, &body, data.len())
    }

    fn sample() -> Vec<u8> {
        (0..5000u32).flat_map(|i| (i % 97).to_be_bytes()).collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        let zl = zlib_block(&data);
        assert_eq!(decompress(&zl, data.len()).unwrap(), data);
        assert_eq!(codec_of(&zl, data.len()), Codec::Zlib);

        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&data).unwrap();
        let cs = frame(b"CS", 8, &e.finish().unwrap(), data.len());
        assert_eq!(decompress(&cs, data.len()).unwrap(), data);

        let l4 = lz4_block(&data);
        assert_eq!(decompress(&l4, data.len()).unwrap(), data);

        let zs = frame(
            b"ZS",
            1,
            &zstd::bulk::compress(&data, 3).unwrap(),
            data.len(),
        );
        assert_eq!(decompress(&zs, data.len()).unwrap(), data);

        let mut x = liblzma::write::XzEncoder::new(Vec::new(), 6);
        x.write_all(&data).unwrap();
        let xz = frame(b"XZ", 0, &x.finish().unwrap(), data.len());
        assert_eq!(decompress(&xz, data.len()).unwrap(), data);

        // uncompressed: equal lengths
        assert_eq!(decompress(&data, data.len()).unwrap(), data);
    }

    #[test]
    fn multi_block_records() {
        let data = sample();
        let (a, b) = data.split_at(7000);
        let mut rec = zlib_block(a);
        rec.extend(lz4_block(b));
        assert_eq!(decompress(&rec, data.len()).unwrap(), data);
    }

    #[test]
    fn corrupt_lz4_checksum() {
        let data = sample();
        let mut l4 = lz4_block(&data);
        l4[BLOCK_HEADER_LEN + 3] ^= 0xff;
        let e = decompress(&l4, data.len()).unwrap_err();
        assert!(e.0.contains("checksum"), "{e}");
    }

    #[test]
    fn bombs_and_lies_are_errors() {
        let data = sample();
        let zl = zlib_block(&data);
        // declared total smaller than the block's claim
        assert!(decompress(&zl, data.len() - 1).is_err());
        // declared total larger than what the blocks give
        assert!(decompress(&zl, data.len() + 1).is_err());
        // a block that claims more output than it really holds
        let mut lie = zl.clone();
        lie[6] = lie[6].wrapping_add(1);
        assert!(decompress(&lie, data.len() + 1).is_err());
        // absurd declared size
        assert!(decompress(&zl, MAX_RECORD_LEN + 1).is_err());
        // unknown magic
        let mut unk = zl.clone();
        unk[0] = b'Q';
        assert!(
            decompress(&unk, data.len())
                .unwrap_err()
                .0
                .contains("magic")
        );
    }

    #[test]
    fn truncation_at_every_offset_is_an_error() {
        let data = sample();
        let zs = frame(
            b"ZS",
            1,
            &zstd::bulk::compress(&data, 3).unwrap(),
            data.len(),
        );
        let xz = {
            let mut x = liblzma::write::XzEncoder::new(Vec::new(), 6);
            x.write_all(&data).unwrap();
            frame(b"XZ", 0, &x.finish().unwrap(), data.len())
        };
        for rec in [zlib_block(&data), lz4_block(&data), zs, xz] {
            for cut in 0..rec.len() {
                assert!(decompress(&rec[..cut], data.len()).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn settings() {
        assert_eq!(Codec::from_setting(101), Codec::Zlib);
        assert_eq!(Codec::from_setting(1), Codec::Zlib);
        assert_eq!(Codec::from_setting(404), Codec::Lz4);
        assert_eq!(Codec::from_setting(505), Codec::Zstd);
        assert_eq!(Codec::from_setting(207), Codec::Lzma);
        assert_eq!(Codec::from_setting(0), Codec::None);
        assert_eq!(Codec::from_setting(400), Codec::None);
    }
}
