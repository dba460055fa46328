//! Column types of specification 1.0 and the decoding of one page's bytes into values:
//! plain little-endian, split (byte-transposed), zigzag, delta (index columns), bits, half
//! precision, truncated and quantised reals, switches.

use crate::cursor::PResult;

/// A column's on-disk type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum ColumnType {
    Bit,
    Byte,
    Char,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Real16,
    Real32,
    Real64,
    Index32,
    Index64,
    Switch,
    SplitInt16,
    SplitUInt16,
    SplitInt32,
    SplitUInt32,
    SplitInt64,
    SplitUInt64,
    SplitReal16,
    SplitReal32,
    SplitReal64,
    SplitIndex32,
    SplitIndex64,
    Real32Trunc,
    Real32Quant,
}

/// How a column's values are laid out, reduced to what decoding needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repr {
    Bit,
    /// A plain little-endian integer of this many bytes.
    Int {
        bytes: usize,
        signed: bool,
    },
    /// Split integer; zigzag for signed ones.
    SplitInt {
        bytes: usize,
        signed: bool,
    },
    /// Index (offset) column: plain, or split + delta.
    Index {
        bytes: usize,
        split: bool,
    },
    Real {
        bytes: usize,
        split: bool,
    },
    Trunc,
    Quant,
    Switch,
}

impl ColumnType {
    /// The type with the given on-disk code.
    pub fn from_code(code: u16) -> Option<ColumnType> {
        use ColumnType::*;
        Some(match code {
            0x00 => Bit,
            0x01 => Byte,
            0x02 => Char,
            0x03 => Int8,
            0x04 => UInt8,
            0x05 => Int16,
            0x06 => UInt16,
            0x07 => Int32,
            0x08 => UInt32,
            0x09 => Int64,
            0x0A => UInt64,
            0x0B => Real16,
            0x0C => Real32,
            0x0D => Real64,
            0x0E => Index32,
            0x0F => Index64,
            0x10 => Switch,
            0x11 => SplitInt16,
            0x12 => SplitUInt16,
            0x13 => SplitInt32,
            0x14 => SplitUInt32,
            0x15 => SplitInt64,
            0x16 => SplitUInt64,
            0x17 => SplitReal16,
            0x18 => SplitReal32,
            0x19 => SplitReal64,
            0x1A => SplitIndex32,
            0x1B => SplitIndex64,
            0x1C => Real32Trunc,
            0x1D => Real32Quant,
            _ => return None,
        })
    }

    /// The specification's name for the type (`SplitReal32`, `Index64`, ...).
    pub fn name(self) -> &'static str {
        use ColumnType::*;
        match self {
            Bit => "Bit",
            Byte => "Byte",
            Char => "Char",
            Int8 => "Int8",
            UInt8 => "UInt8",
            Int16 => "Int16",
            UInt16 => "UInt16",
            Int32 => "Int32",
            UInt32 => "UInt32",
            Int64 => "Int64",
            UInt64 => "UInt64",
            Real16 => "Real16",
            Real32 => "Real32",
            Real64 => "Real64",
            Index32 => "Index32",
            Index64 => "Index64",
            Switch => "Switch",
            SplitInt16 => "SplitInt16",
            SplitUInt16 => "SplitUInt16",
            SplitInt32 => "SplitInt32",
            SplitUInt32 => "SplitUInt32",
            SplitInt64 => "SplitInt64",
            SplitUInt64 => "SplitUInt64",
            SplitReal16 => "SplitReal16",
            SplitReal32 => "SplitReal32",
            SplitReal64 => "SplitReal64",
            SplitIndex32 => "SplitIndex32",
            SplitIndex64 => "SplitIndex64",
            Real32Trunc => "Real32Trunc",
            Real32Quant => "Real32Quant",
        }
    }

    pub(crate) fn repr(self) -> Repr {
        use ColumnType::*;
        match self {
            Bit => Repr::Bit,
            Byte | Char | UInt8 => Repr::Int {
                bytes: 1,
                signed: false,
            },
            Int8 => Repr::Int {
                bytes: 1,
                signed: true,
            },
            Int16 => Repr::Int {
                bytes: 2,
                signed: true,
            },
            UInt16 => Repr::Int {
                bytes: 2,
                signed: false,
            },
            Int32 => Repr::Int {
                bytes: 4,
                signed: true,
            },
            UInt32 => Repr::Int {
                bytes: 4,
                signed: false,
            },
            Int64 => Repr::Int {
                bytes: 8,
                signed: true,
            },
            UInt64 => Repr::Int {
                bytes: 8,
                signed: false,
            },
            SplitInt16 => Repr::SplitInt {
                bytes: 2,
                signed: true,
            },
            SplitUInt16 => Repr::SplitInt {
                bytes: 2,
                signed: false,
            },
            SplitInt32 => Repr::SplitInt {
                bytes: 4,
                signed: true,
            },
            SplitUInt32 => Repr::SplitInt {
                bytes: 4,
                signed: false,
            },
            SplitInt64 => Repr::SplitInt {
                bytes: 8,
                signed: true,
            },
            SplitUInt64 => Repr::SplitInt {
                bytes: 8,
                signed: false,
            },
            Real16 => Repr::Real {
                bytes: 2,
                split: false,
            },
            Real32 => Repr::Real {
                bytes: 4,
                split: false,
            },
            Real64 => Repr::Real {
                bytes: 8,
                split: false,
            },
            SplitReal16 => Repr::Real {
                bytes: 2,
                split: true,
            },
            SplitReal32 => Repr::Real {
                bytes: 4,
                split: true,
            },
            SplitReal64 => Repr::Real {
                bytes: 8,
                split: true,
            },
            Index32 => Repr::Index {
                bytes: 4,
                split: false,
            },
            Index64 => Repr::Index {
                bytes: 8,
                split: false,
            },
            SplitIndex32 => Repr::Index {
                bytes: 4,
                split: true,
            },
            SplitIndex64 => Repr::Index {
                bytes: 8,
                split: true,
            },
            Real32Trunc => Repr::Trunc,
            Real32Quant => Repr::Quant,
            Switch => Repr::Switch,
        }
    }

    /// True for types holding integers (or bits and characters) that an integer or boolean
    /// field can read.
    pub(crate) fn is_integer(self) -> bool {
        matches!(
            self.repr(),
            Repr::Bit | Repr::Int { .. } | Repr::SplitInt { .. }
        )
    }

    /// True for floating-point types.
    pub(crate) fn is_real(self) -> bool {
        matches!(self.repr(), Repr::Real { .. } | Repr::Trunc | Repr::Quant)
    }

    /// True for index (offset) types.
    pub(crate) fn is_index(self) -> bool {
        matches!(self.repr(), Repr::Index { .. })
    }
}

/// A column as decoding needs it: its type, bits per element and value range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ColumnSpec {
    pub(crate) ty: ColumnType,
    pub(crate) bits: u16,
    pub(crate) range: Option<(f64, f64)>,
}

impl ColumnSpec {
    /// Checks the bits on storage against the type.
    pub(crate) fn validate(&self) -> PResult<()> {
        let ok = match self.ty.repr() {
            Repr::Bit => self.bits == 1,
            Repr::Int { bytes, .. }
            | Repr::SplitInt { bytes, .. }
            | Repr::Index { bytes, .. }
            | Repr::Real { bytes, .. } => self.bits as usize == bytes * 8,
            Repr::Trunc => (10..=31).contains(&self.bits),
            Repr::Quant => (1..=32).contains(&self.bits) && self.range.is_some(),
            Repr::Switch => self.bits == 96,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "column type {} with {} bits on storage{} is invalid",
                self.ty.name(),
                self.bits,
                if matches!(self.ty, ColumnType::Real32Quant) && self.range.is_none() {
                    " and no value range"
                } else {
                    ""
                }
            ))
        }
    }

    /// The uncompressed size of a page of `n` elements.
    pub(crate) fn page_bytes(&self, n: usize) -> Option<usize> {
        match self.ty.repr() {
            Repr::Bit => Some(n.div_ceil(8)),
            Repr::Trunc | Repr::Quant => n.checked_mul(self.bits as usize).map(|b| b.div_ceil(8)),
            _ => n.checked_mul(self.bits as usize / 8),
        }
    }
}

/// A value type a page can be decoded into.
pub(crate) trait Elem: Copy + Default + Send + Sync + 'static {
    fn from_u64(v: u64) -> Self;
    fn from_i64(v: i64) -> Self;
    fn from_f64(v: f64) -> Self;
    fn from_f32(v: f32) -> Self;
}

macro_rules! elem_int {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            #[inline]
            fn from_u64(v: u64) -> Self { v as $t }
            #[inline]
            fn from_i64(v: i64) -> Self { v as $t }
            #[inline]
            fn from_f64(v: f64) -> Self { v as $t }
            #[inline]
            fn from_f32(v: f32) -> Self { v as $t }
        }
    )*};
}
elem_int!(i8, u8, i16, u16, i32, u32, i64, u64, f32, f64);

impl Elem for bool {
    #[inline]
    fn from_u64(v: u64) -> Self {
        v != 0
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline]
    fn from_f32(v: f32) -> Self {
        v != 0.0
    }
}

#[inline]
fn le_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (k, &x) in b.iter().enumerate() {
        v |= (x as u64) << (8 * k);
    }
    v
}

#[inline]
fn sign_extend(v: u64, bytes: usize) -> i64 {
    let shift = 64 - 8 * bytes as u32;
    ((v << shift) as i64) >> shift
}

#[inline]
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Half precision to single precision.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if man == 0 {
            sign
        } else {
            // subnormal: normalise
            let mut e: i32 = 127 - 15 + 1;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// The values of a split (byte-transposed) page of `out.len()` elements of `W` bytes, put back
/// together little-endian and handed to `put` with the output slot: a loop over byte planes
/// cut to exactly the output's length, so that it needs no bounds checks and vectorises.
#[inline(always)]
fn unsplit<T, const W: usize>(raw: &[u8], out: &mut [T], mut put: impl FnMut(&mut T, u64)) {
    let n = out.len();
    let planes: [&[u8]; W] = std::array::from_fn(|k| &raw[k * n..(k + 1) * n]);
    match W {
        2 => {
            let (p0, p1) = (&planes[0][..n], &planes[1][..n]);
            for (i, o) in out.iter_mut().enumerate() {
                put(o, u16::from_le_bytes([p0[i], p1[i]]) as u64);
            }
        }
        4 => {
            let (p0, p1, p2, p3) = (
                &planes[0][..n],
                &planes[1][..n],
                &planes[2][..n],
                &planes[3][..n],
            );
            for (i, o) in out.iter_mut().enumerate() {
                put(o, u32::from_le_bytes([p0[i], p1[i], p2[i], p3[i]]) as u64);
            }
        }
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                let mut v = 0u64;
                for (k, p) in planes.iter().enumerate() {
                    v |= (p[i] as u64) << (8 * k);
                }
                put(o, v);
            }
        }
    }
}

/// The little-endian values of a plain page of `W`-byte elements, handed to `put`.
#[inline(always)]
fn plain<T, const W: usize>(raw: &[u8], out: &mut [T], mut put: impl FnMut(&mut T, u64)) {
    // Fixed-width loads per width (a copy into a wider array would be a memcpy call).
    match W {
        1 => {
            for (o, &b) in out.iter_mut().zip(raw) {
                put(o, b as u64);
            }
        }
        2 => {
            for (o, c) in out.iter_mut().zip(raw.chunks_exact(2)) {
                put(o, u16::from_le_bytes([c[0], c[1]]) as u64);
            }
        }
        4 => {
            for (o, c) in out.iter_mut().zip(raw.chunks_exact(4)) {
                put(o, u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u64);
            }
        }
        _ => {
            for (o, c) in out.iter_mut().zip(raw.chunks_exact(8)) {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                put(o, u64::from_le_bytes(a));
            }
        }
    }
}

/// Dispatches on the element width to [`unsplit`] or [`plain`].
#[inline(always)]
fn values<T>(raw: &[u8], out: &mut [T], bytes: usize, split: bool, put: impl FnMut(&mut T, u64)) {
    match (bytes, split) {
        (1, _) => plain::<T, 1>(raw, out, put),
        (2, true) => unsplit::<T, 2>(raw, out, put),
        (2, false) => plain::<T, 2>(raw, out, put),
        (4, true) => unsplit::<T, 4>(raw, out, put),
        (4, false) => plain::<T, 4>(raw, out, put),
        (_, true) => unsplit::<T, 8>(raw, out, put),
        (_, false) => plain::<T, 8>(raw, out, put),
    }
}

/// The `i`-th `bits`-wide value of a little-endian bit stream.
#[inline]
fn packed_at(raw: &[u8], bits: usize, i: usize) -> u64 {
    let pos = i * bits;
    let byte = pos / 8;
    let shift = pos % 8;
    let mut w = [0u8; 8];
    let avail = raw.len().saturating_sub(byte).min(8);
    w[..avail].copy_from_slice(&raw[byte..byte + avail]);
    let mut v = u64::from_le_bytes(w) >> shift;
    // 32 bits + a shift of up to 7 fit in the 64-bit window
    if bits < 64 {
        v &= (1u64 << bits) - 1;
    }
    v
}

/// Decodes one page of `n` elements (already decompressed, `raw.len() == page_bytes(n)`) and
/// appends the values to `out`. Index columns decode to cluster-relative end offsets.
pub(crate) fn decode_page<T: Elem>(
    spec: &ColumnSpec,
    raw: &[u8],
    n: usize,
    out: &mut Vec<T>,
) -> PResult<()> {
    check_page(spec, raw, n)?;
    let start = out.len();
    out.resize(start + n, T::default());
    decode_page_into(spec, raw, &mut out[start..])
}

fn check_page(spec: &ColumnSpec, raw: &[u8], n: usize) -> PResult<()> {
    let need = spec
        .page_bytes(n)
        .ok_or_else(|| format!("a page of {n} elements is too large"))?;
    if raw.len() != need {
        return Err(format!(
            "a page of {n} {} elements has {} bytes, expected {need}",
            spec.ty.name(),
            raw.len()
        ));
    }
    Ok(())
}

/// Decodes one page of `out.len()` elements (already decompressed) into `out`, as
/// [`decode_page`] appends them.
pub(crate) fn decode_page_into<T: Elem>(
    spec: &ColumnSpec,
    raw: &[u8],
    out: &mut [T],
) -> PResult<()> {
    let n = out.len();
    // The element widths below come from the type: its bits on storage must agree.
    spec.validate()?;
    check_page(spec, raw, n)?;
    match spec.ty.repr() {
        Repr::Bit => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = T::from_u64(((raw[i / 8] >> (i % 8)) & 1) as u64);
            }
        }
        Repr::Int { bytes, signed } => {
            if signed {
                values(raw, out, bytes, false, |o, v| {
                    *o = T::from_i64(sign_extend(v, bytes))
                });
            } else {
                values(raw, out, bytes, false, |o, v| *o = T::from_u64(v));
            }
        }
        Repr::SplitInt { bytes, signed } => {
            if signed {
                values(raw, out, bytes, true, |o, v| *o = T::from_i64(unzigzag(v)));
            } else {
                values(raw, out, bytes, true, |o, v| *o = T::from_u64(v));
            }
        }
        Repr::Index { bytes, split } => {
            if split {
                // Delta-encoded within the page: a running sum.
                let mut acc = 0u64;
                values(raw, out, bytes, true, |o, v| {
                    acc = acc.wrapping_add(v);
                    *o = T::from_u64(acc)
                });
            } else {
                values(raw, out, bytes, false, |o, v| *o = T::from_u64(v));
            }
        }
        Repr::Real { bytes, split } => match bytes {
            2 => values(raw, out, 2, split, |o, v| {
                *o = T::from_f32(f16_to_f32(v as u16))
            }),
            4 => values(raw, out, 4, split, |o, v| {
                *o = T::from_f32(f32::from_bits(v as u32))
            }),
            _ => values(raw, out, 8, split, |o, v| {
                *o = T::from_f64(f64::from_bits(v))
            }),
        },
        Repr::Trunc => {
            let bits = spec.bits as usize;
            for (i, o) in out.iter_mut().enumerate() {
                let v = (packed_at(raw, bits, i) as u32) << (32 - bits);
                *o = T::from_f32(f32::from_bits(v));
            }
        }
        Repr::Quant => {
            let bits = spec.bits as usize;
            let (min, max) = spec.range.unwrap_or((0.0, 0.0));
            let denom = ((1u64 << bits) - 1) as f64;
            for (i, o) in out.iter_mut().enumerate() {
                let q = packed_at(raw, bits, i) as f64;
                *o = T::from_f64(min + q * (max - min) / denom);
            }
        }
        Repr::Switch => return Err("a switch column cannot be read as values".into()),
    }
    Ok(())
}

/// Decodes a page of a switch column into (index, tag) pairs.
pub(crate) fn decode_switch(
    raw: &[u8],
    n: usize,
    index: &mut Vec<u64>,
    tag: &mut Vec<u32>,
) -> PResult<()> {
    if Some(raw.len()) != n.checked_mul(12) {
        return Err(format!(
            "a page of {n} Switch elements has {} bytes, expected {}",
            raw.len(),
            n.saturating_mul(12)
        ));
    }
    for c in raw.chunks_exact(12) {
        index.push(le_uint(&c[..8]));
        tag.push(le_uint(&c[8..]) as u32);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn spec(ty: ColumnType, bits: u16) -> ColumnSpec {
        ColumnSpec {
            ty,
            bits,
            range: None,
        }
    }

    #[test]
    fn split_zigzag_delta() {
        // values -1, 2, -3 as zigzag 1, 4, 5, split into two byte planes
        let raw = [1u8, 4, 5, 0, 0, 0];
        let mut out: Vec<i16> = Vec::new();
        decode_page(&spec(ColumnType::SplitInt16, 16), &raw, 3, &mut out).unwrap();
        assert_eq!(out, [-1, 2, -3]);
        // split + delta index: deltas 3, 2, 0 -> offsets 3, 5, 5
        let raw = [3u8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut out: Vec<u64> = Vec::new();
        decode_page(&spec(ColumnType::SplitIndex32, 32), &raw, 3, &mut out).unwrap();
        assert_eq!(out, [3, 5, 5]);
        // plain index
        let mut out: Vec<u64> = Vec::new();
        decode_page(&spec(ColumnType::Index32, 32), &[7, 0, 0, 0], 1, &mut out).unwrap();
        assert_eq!(out, [7]);
        // split reals: 1.0f32 = 0x3f800000
        let raw = [0u8, 0, 0x80, 0x3f];
        let mut out: Vec<f32> = Vec::new();
        decode_page(&spec(ColumnType::SplitReal32, 32), &raw, 1, &mut out).unwrap();
        assert_eq!(out, [1.0]);
    }

    #[test]
    fn bits_trunc_quant_half() {
        let mut out: Vec<bool> = Vec::new();
        decode_page(&spec(ColumnType::Bit, 1), &[0b0000_0101, 1], 9, &mut out).unwrap();
        assert_eq!(
            out,
            [true, false, true, false, false, false, false, false, true]
        );
        // Real32Trunc with 16 bits keeps the upper half of 1.5f32 (0x3fc00000)
        let mut out: Vec<f32> = Vec::new();
        decode_page(
            &spec(ColumnType::Real32Trunc, 16),
            &[0xc0, 0x3f],
            1,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, [1.5]);
        // Real32Quant, 4 bits over [0, 15]: values 3 and 12 packed in one byte
        let q = ColumnSpec {
            ty: ColumnType::Real32Quant,
            bits: 4,
            range: Some((0.0, 15.0)),
        };
        let mut out: Vec<f32> = Vec::new();
        decode_page(&q, &[0xc3], 2, &mut out).unwrap();
        assert_eq!(out, [3.0, 12.0]);
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
        // wrong sizes are errors
        let mut out: Vec<f32> = Vec::new();
        assert!(decode_page(&spec(ColumnType::Real32, 32), &[0; 3], 1, &mut out).is_err());
    }
}
