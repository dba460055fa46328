//! A big-endian output buffer with ROOT's object framing: byte counts with versions, `TString`s,
//! and polymorphic object pointers with class tags and references (`TBufferFile::WriteObjectAny`).

use std::collections::HashMap;

/// Bit set in a byte count word (`kByteCountMask`).
const BYTE_COUNT_MASK: u32 = 0x4000_0000;
/// The tag that introduces a class name written for the first time in a buffer.
const NEW_CLASS_TAG: u32 = 0xFFFF_FFFF;
/// Bit set in a tag that refers to a class written earlier in the buffer.
const CLASS_MASK: u32 = 0x8000_0000;
/// Offsets recorded for references are shifted by this much so that 0 can mean null.
const MAP_OFFSET: u32 = 2;

/// `TObject::fBits` as ROOT writes them for heap objects (`kNotDeleted | kIsOnHeap`).
pub(crate) const OBJECT_BITS: u32 = 0x0300_0000;

/// An output buffer. `origin` is the displacement of byte 0 (the key length, for an object
/// record), which object and class references count from.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub(crate) buf: Vec<u8>,
    origin: u32,
    classes: HashMap<&'static str, u32>,
}

/// A byte count reserved by [`Out::begin`], closed by [`Out::end`].
#[must_use]
pub(crate) struct Mark(usize);

impl Out {
    /// A buffer whose first byte sits `origin` bytes after the start of its key.
    pub(crate) fn new(origin: usize) -> Out {
        Out {
            buf: Vec::new(),
            origin: origin as u32,
            classes: HashMap::new(),
        }
    }

    /// The displacement of the next byte.
    pub(crate) fn displacement(&self) -> u32 {
        self.origin + self.buf.len() as u32
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// A `TString`: one length byte, or 255 and a 4-byte length, then the bytes.
    pub(crate) fn tstring(&mut self, s: &str) {
        tstring_into(&mut self.buf, s.as_bytes());
    }

    /// Reserves a byte count and writes a class version; [`Out::end`] fills the count in.
    pub(crate) fn begin(&mut self, version: u16) -> Mark {
        let at = self.buf.len();
        self.u32(0);
        self.u16(version);
        Mark(at)
    }

    /// Fills in the byte count reserved by `mark` (the bytes after the count itself).
    pub(crate) fn end(&mut self, mark: Mark) {
        let n = (self.buf.len() - mark.0 - 4) as u32;
        self.buf[mark.0..mark.0 + 4].copy_from_slice(&(n | BYTE_COUNT_MASK).to_be_bytes());
    }

    /// A `TObject` header (version 1, no unique id) with the given bits.
    pub(crate) fn tobject(&mut self, bits: u32) {
        self.u16(1);
        self.u32(0);
        self.u32(bits);
    }

    /// A framed `TNamed` (version 1).
    pub(crate) fn tnamed(&mut self, name: &str, title: &str, bits: u32) {
        let m = self.begin(1);
        self.tobject(bits);
        self.tstring(name);
        self.tstring(title);
        self.end(m);
    }

    /// Starts a polymorphic object pointer of class `class`: the byte count and the class tag
    /// (the name the first time, a reference afterwards). Returns the object's reference key
    /// (what later pointers to the same object write) and the mark that [`Out::end_object`]
    /// closes.
    pub(crate) fn begin_object(&mut self, class: &'static str) -> (u32, Mark) {
        let key = self.displacement() + MAP_OFFSET;
        let at = self.buf.len();
        self.u32(0);
        match self.classes.get(class) {
            Some(&c) => self.u32(c | CLASS_MASK),
            None => {
                let c = self.displacement() + MAP_OFFSET;
                self.classes.insert(class, c);
                self.u32(NEW_CLASS_TAG);
                self.bytes(class.as_bytes());
                self.u8(0);
            }
        }
        (key, Mark(at))
    }

    /// Closes an object pointer opened by [`Out::begin_object`].
    pub(crate) fn end_object(&mut self, mark: Mark) {
        self.end(mark);
    }

    /// A pointer to an object written earlier in this buffer (its reference key).
    pub(crate) fn object_ref(&mut self, key: u32) {
        self.u32(key);
    }

    /// A null pointer.
    pub(crate) fn null(&mut self) {
        self.u32(0);
    }
}

/// Appends a `TString` to `out`.
pub(crate) fn tstring_into(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() < 255 {
        out.push(s.len() as u8);
    } else {
        out.push(255);
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// The length of a `TString` holding `s`.
pub(crate) fn tstring_len(s: &str) -> usize {
    s.len() + if s.len() < 255 { 1 } else { 5 }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn framing_and_references() {
        let mut o = Out::new(10);
        let m = o.begin(3);
        o.tstring("ab");
        o.end(m);
        assert_eq!(o.buf, [0x40, 0, 0, 5, 0, 3, 2, b'a', b'b']);
        let (k1, m1) = o.begin_object("TFoo");
        o.end_object(m1);
        // key: displacement of the byte count (10 + 9) + 2
        assert_eq!(k1, 21);
        let (_, m2) = o.begin_object("TFoo");
        o.end_object(m2);
        // second time: a class reference to the tag's displacement (10 + 13) + 2, masked
        let tail = &o.buf[o.buf.len() - 4..];
        assert_eq!(
            u32::from_be_bytes(tail.try_into().unwrap()),
            25 | CLASS_MASK
        );
        let long = "x".repeat(300);
        let mut v = Vec::new();
        tstring_into(&mut v, long.as_bytes());
        assert_eq!(v.len(), tstring_len(&long));
        assert_eq!(&v[..5], &[255, 0, 0, 1, 44]);
    }
}
