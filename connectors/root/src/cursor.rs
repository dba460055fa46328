//! A bounds-checked big-endian reader over a byte slice, with ROOT's object framing
//! (byte counts, versions, `TString`s).

use crate::error::{PResult, malformed};

/// Bit set in a byte count word (`kByteCountMask`).
pub(crate) const BYTE_COUNT_MASK: u32 = 0x4000_0000;
/// Bit set in a version word when a collection was streamed member-wise.
pub(crate) const STREAMED_MEMBERWISE: u16 = 0x4000;

/// Reads big-endian values from a slice. `origin` is added to positions to give ROOT's
/// "displacement" (buffer positions counted from the start of the object's key), which object
/// references use.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    origin: usize,
}

/// An object's framing: where it ends (when a byte count was written) and its class version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) end: Option<usize>,
    pub(crate) version: u16,
}

macro_rules! be {
    ($name:ident, $t:ty) => {
        pub(crate) fn $name(&mut self) -> PResult<$t> {
            const N: usize = std::mem::size_of::<$t>();
            let b = self.take(N)?;
            let mut a = [0u8; N];
            a.copy_from_slice(b);
            Ok(<$t>::from_be_bytes(a))
        }
    };
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`; `origin` is the displacement of `data[0]`.
    pub(crate) fn new(data: &'a [u8], origin: usize) -> Self {
        Cursor {
            data,
            pos: 0,
            origin,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The displacement (position plus origin) used by ROOT's object references.
    pub(crate) fn displacement(&self) -> usize {
        self.pos + self.origin
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Moves to an absolute position within the slice.
    pub(crate) fn seek(&mut self, pos: usize) -> PResult<()> {
        if pos > self.data.len() {
            return malformed(format!(
                "position {pos} is beyond the end of a {}-byte buffer",
                self.data.len()
            ));
        }
        self.pos = pos;
        Ok(())
    }

    pub(crate) fn skip(&mut self, n: usize) -> PResult<()> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn take(&mut self, n: usize) -> PResult<&'a [u8]> {
        if n > self.remaining() {
            return malformed(format!(
                "needed {n} bytes at position {} of a {}-byte buffer",
                self.pos,
                self.data.len()
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    be!(u8, u8);
    be!(u16, u16);
    be!(u32, u32);
    be!(u64, u64);
    be!(i16, i16);
    be!(i32, i32);
    be!(i64, i64);

    /// An `i32` that must not be negative, as a `usize`.
    pub(crate) fn count(&mut self, what: &str) -> PResult<usize> {
        let n = self.i32()?;
        if n < 0 {
            return malformed(format!("negative {what} ({n})"));
        }
        Ok(n as usize)
    }

    /// A ROOT `TString` / length-prefixed string: one length byte, or 255 then a 4-byte length.
    pub(crate) fn tstring(&mut self) -> PResult<String> {
        let b = self.string_bytes()?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    pub(crate) fn string_bytes(&mut self) -> PResult<&'a [u8]> {
        let mut n = self.u8()? as usize;
        if n == 255 {
            n = self.u32()? as usize;
        }
        self.take(n)
    }

    /// A NUL-terminated string (class names after a new-class tag).
    pub(crate) fn cstring(&mut self) -> PResult<String> {
        let rest = &self.data[self.pos..];
        match rest.iter().position(|&b| b == 0) {
            Some(i) => {
                let s = String::from_utf8_lossy(&rest[..i]).into_owned();
                self.pos += i + 1;
                Ok(s)
            }
            None => malformed("unterminated class name"),
        }
    }

    /// Reads an object's byte count (if present) and version.
    pub(crate) fn frame(&mut self) -> PResult<Frame> {
        let start = self.pos;
        if self.remaining() < 4 {
            let version = self.u16()?;
            return Ok(Frame { end: None, version });
        }
        let word = self.u32()?;
        if word & BYTE_COUNT_MASK != 0 {
            let n = (word & !BYTE_COUNT_MASK) as usize;
            let end = start + 4 + n;
            if end > self.data.len() {
                return malformed(format!(
                    "object at position {start} claims {n} bytes but the buffer ends at {}",
                    self.data.len()
                ));
            }
            let version = self.u16()?;
            Ok(Frame {
                end: Some(end),
                version,
            })
        } else {
            self.pos = start;
            let version = self.u16()?;
            Ok(Frame { end: None, version })
        }
    }

    /// Reads a `TObject` base: version, unique id, bits, and the process id if referenced.
    pub(crate) fn tobject(&mut self) -> PResult<()> {
        let version = self.u16()?;
        if version & (BYTE_COUNT_MASK >> 16) as u16 != 0 {
            self.skip(4)?;
        }
        self.skip(4)?;
        let bits = self.u32()?;
        if bits & (1 << 4) != 0 {
            self.skip(2)?;
        }
        Ok(())
    }

    /// Reads a `TNamed` base (framed), returning name and title.
    pub(crate) fn tnamed(&mut self) -> PResult<(String, String)> {
        let f = self.frame()?;
        self.tobject()?;
        let name = self.tstring()?;
        let title = self.tstring()?;
        if let Some(end) = f.end {
            self.seek(end)?;
        }
        Ok((name, title))
    }

    /// A big-endian array of `n` `i32`s.
    pub(crate) fn i32_array(&mut self, n: usize) -> PResult<Vec<i32>> {
        let b = self.take(n.saturating_mul(4))?;
        Ok(b.chunks_exact(4)
            .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// A big-endian array of `n` `i64`s.
    pub(crate) fn i64_array(&mut self, n: usize) -> PResult<Vec<i64>> {
        let b = self.take(n.saturating_mul(8))?;
        Ok(b.chunks_exact(8)
            .map(|c| i64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn scalars_and_strings() {
        let data = [0u8, 1, 0xff, 0xff, 0xff, 0xfe, 3, b'a', b'b', b'c', b'x', 0];
        let mut c = Cursor::new(&data, 0);
        assert_eq!(c.u16().unwrap(), 1);
        assert_eq!(c.i32().unwrap(), -2);
        assert_eq!(c.tstring().unwrap(), "abc");
        assert_eq!(c.cstring().unwrap(), "x");
        assert!(c.u8().is_err());
    }

    #[test]
    fn long_tstring_and_truncation() {
        let mut data = vec![255u8, 0, 0, 1, 0];
        data.extend(std::iter::repeat_n(b'z', 256));
        let mut c = Cursor::new(&data, 0);
        assert_eq!(c.tstring().unwrap().len(), 256);
        let mut c = Cursor::new(&data[..100], 0);
        assert!(c.tstring().is_err());
    }

    #[test]
    fn frames() {
        // byte count 6 (version + 4 payload bytes), version 3
        let data = [0x40, 0, 0, 6, 0, 3, 1, 2, 3, 4, 9];
        let mut c = Cursor::new(&data, 0);
        let f = c.frame().unwrap();
        assert_eq!(f.version, 3);
        assert_eq!(f.end, Some(10));
        c.seek(f.end.unwrap()).unwrap();
        assert_eq!(c.u8().unwrap(), 9);
        // a byte count past the end is an error
        let bad = [0x40, 0, 0, 60, 0, 3];
        assert!(Cursor::new(&bad, 0).frame().is_err());
        // no byte count: just a version
        let nob = [0, 7, 1];
        let f = Cursor::new(&nob, 0).frame().unwrap();
        assert_eq!((f.version, f.end), (7, None));
    }
}
