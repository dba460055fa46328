//! A bounds-checked little-endian reader over envelope bytes, with RNTuple's record and list
//! frames and strings. Every length read from the bytes is checked against what remains before
//! anything is allocated.

/// Result of the low-level parsers: a context-free message, wrapped by the caller into an
/// [`crate::Error`] that names the file, the RNTuple and the envelope.
pub(crate) type PResult<T> = std::result::Result<T, String>;

/// Reads little-endian values from `data[pos..end]`.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
}

macro_rules! le {
    ($name:ident, $t:ty) => {
        pub(crate) fn $name(&mut self) -> PResult<$t> {
            const N: usize = std::mem::size_of::<$t>();
            let b = self.take(N)?;
            let mut a = [0u8; N];
            a.copy_from_slice(b);
            Ok(<$t>::from_le_bytes(a))
        }
    };
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor {
            data,
            pos: 0,
            end: data.len(),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> PResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(format!(
                "needs {n} bytes at byte {} but only {} remain",
                self.pos,
                self.remaining()
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    le!(u16, u16);
    le!(u32, u32);
    le!(i32, i32);
    le!(u64, u64);
    le!(i64, i64);
    le!(f64, f64);

    /// A string: a 32-bit byte length, then UTF-8 bytes.
    pub(crate) fn string(&mut self) -> PResult<String> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| "a string is not valid UTF-8".to_string())
    }

    /// Feature flags: 64-bit words, continued while the word is negative. Any set bit is an
    /// error, since specification 1.0 defines none.
    pub(crate) fn feature_flags(&mut self) -> PResult<()> {
        for _ in 0..64 {
            let w = self.i64()?;
            let bits = w & i64::MAX;
            if bits != 0 {
                return Err(format!(
                    "unknown feature flags {bits:#x} are set (this reader knows specification 1.0)"
                ));
            }
            if w >= 0 {
                return Ok(());
            }
        }
        Err("more than 64 feature-flag words".into())
    }

    /// A record frame: returns a cursor over its payload and moves past the whole frame.
    pub(crate) fn record(&mut self) -> PResult<Cursor<'a>> {
        let start = self.pos;
        let size = self.i64()?;
        if size < 8 {
            return Err(format!(
                "expected a record frame at byte {start}, found size {size}"
            ));
        }
        self.frame_body(start, size as u64, 8)
    }

    /// A list frame: returns a cursor over its items and their number, and moves past the
    /// whole frame. `min_item` is the least number of bytes one item can take; counts the frame
    /// cannot hold are rejected.
    pub(crate) fn list(&mut self, min_item: usize) -> PResult<(Cursor<'a>, usize)> {
        let start = self.pos;
        let size = self.i64()?;
        if size >= 0 || size == i64::MIN {
            return Err(format!(
                "expected a list frame at byte {start}, found size {size}"
            ));
        }
        let n = self.u32()? as usize;
        let body = self.frame_body(start, size.unsigned_abs(), 12)?;
        if n.saturating_mul(min_item.max(1)) > body.remaining() {
            return Err(format!(
                "a list frame of {} bytes cannot hold {n} items",
                body.remaining()
            ));
        }
        Ok((body, n))
    }

    fn frame_body(&mut self, start: usize, size: u64, header: usize) -> PResult<Cursor<'a>> {
        let avail = (self.end - start) as u64;
        if size > avail || size < header as u64 {
            return Err(format!(
                "a frame at byte {start} claims {size} bytes but {avail} remain"
            ));
        }
        let end = start + size as usize;
        let body = Cursor {
            data: self.data,
            pos: start + header,
            end,
        };
        self.pos = end;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn frames_and_bounds() {
        // a list frame of two u32 items followed by a record frame holding one u16
        let mut b = Vec::new();
        b.extend_from_slice(&(-(12i64 + 8)).to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&7u32.to_le_bytes());
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&10i64.to_le_bytes());
        b.extend_from_slice(&5u16.to_le_bytes());
        let mut c = Cursor::new(&b);
        let (mut l, n) = c.list(4).unwrap();
        assert_eq!(n, 2);
        assert_eq!((l.u32().unwrap(), l.u32().unwrap()), (7, 9));
        assert!(l.u32().is_err());
        let mut r = c.record().unwrap();
        assert_eq!(r.u16().unwrap(), 5);
        assert_eq!(c.remaining(), 0);
        // a list that claims more items than it can hold
        let mut bad = b.clone();
        bad[8..12].copy_from_slice(&1000u32.to_le_bytes());
        assert!(Cursor::new(&bad).list(4).is_err());
        // a frame longer than the buffer
        assert!(Cursor::new(&b[..15]).list(4).is_err());
        // a string longer than the buffer
        assert!(Cursor::new(&[9, 0, 0, 0, b'a']).string().is_err());
    }
}
