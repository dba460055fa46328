//! ROOT's polymorphic object framing (`TBufferFile::ReadObjectAny`): class tags, new-class
//! records, references to objects and classes read earlier in the same buffer, and `TObjArray`s.

use std::collections::HashMap;

use crate::cursor::{BYTE_COUNT_MASK, Cursor};
use crate::error::{PResult, malformed};

const NEW_CLASS_TAG: u32 = 0xFFFF_FFFF;
const CLASS_MASK: u32 = 0x8000_0000;
const MAP_OFFSET: usize = 2;

/// What `read_any` found.
#[derive(Debug)]
pub(crate) enum Any<T> {
    /// A null pointer.
    Null,
    /// A new object, read by the callback.
    New(T),
    /// A reference to an object read earlier, by its key.
    Ref(usize),
}

/// Class names seen so far in one buffer, by their displacement key.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    classes: HashMap<usize, String>,
}

/// The callback that reads one object of a named class from the cursor.
/// Its arguments: the class name, the cursor at the object's own framing, the buffer's class
/// references, and the key under which later references will name this object.
pub(crate) type ReadFn<'f, T> =
    dyn FnMut(&str, &mut Cursor<'_>, &mut Refs, usize) -> PResult<T> + 'f;

/// Reads one polymorphic object pointer.
pub(crate) fn read_any<T>(
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    read: &mut ReadFn<'_, T>,
) -> PResult<Any<T>> {
    let beg = c.displacement();
    let beg_pos = c.pos();
    let word = c.u32()?;
    let (end, tag, start) = if word & BYTE_COUNT_MASK == 0 || word == NEW_CLASS_TAG {
        (None, word, None)
    } else {
        let n = (word & !BYTE_COUNT_MASK) as usize;
        let end = beg_pos + 4 + n;
        if end > c.data().len() {
            return malformed(format!(
                "object at {beg_pos} claims {n} bytes past the buffer's end"
            ));
        }
        let start = c.displacement();
        (Some(end), c.u32()?, Some(start))
    };
    if tag & CLASS_MASK == 0 {
        if tag == 0 {
            if let Some(end) = end {
                c.seek(end)?;
            }
            return Ok(Any::Null);
        }
        if let Some(end) = end {
            c.seek(end)?;
        }
        return Ok(Any::Ref(tag as usize));
    }
    let class = if tag == NEW_CLASS_TAG {
        let name = c.cstring()?;
        if let Some(start) = start {
            refs.classes.insert(start + MAP_OFFSET, name.clone());
        }
        name
    } else {
        let r = (tag & !CLASS_MASK) as usize;
        match refs.classes.get(&r) {
            Some(n) => n.clone(),
            None => return malformed(format!("reference to an unknown class (tag {r})")),
        }
    };
    let obj = read(&class, c, refs, beg + MAP_OFFSET)?;
    if let Some(end) = end {
        c.seek(end)?;
    }
    Ok(Any::New(obj))
}

/// Reads a `TObjArray` (framed), calling `read` for each non-null new element.
pub(crate) fn read_objarray<T>(
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    read: &mut ReadFn<'_, T>,
) -> PResult<Vec<Any<T>>> {
    let f = c.frame()?;
    c.tobject()?;
    let _name = c.tstring()?;
    let n = c.count("TObjArray size")?;
    let _lower = c.i32()?;
    if n > c.remaining() / 4 {
        return malformed(format!("TObjArray of {n} items cannot fit its buffer"));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read_any(c, refs, read)?);
    }
    if let Some(end) = f.end {
        c.seek(end)?;
    }
    Ok(out)
}

/// Reads a `TList` (framed), calling `read` for each non-null new element.
pub(crate) fn read_tlist<T>(
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    read: &mut ReadFn<'_, T>,
) -> PResult<Vec<Any<T>>> {
    let f = c.frame()?;
    c.tobject()?;
    let _name = c.tstring()?;
    let n = c.count("TList size")?;
    if n > c.remaining() / 4 {
        return malformed(format!("TList of {n} items cannot fit its buffer"));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read_any(c, refs, read)?);
        let opt = c.u8()? as usize;
        c.skip(opt)?;
    }
    if let Some(end) = f.end {
        c.seek(end)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn new_class_then_class_reference_then_object_reference() {
        let mut buf = Vec::new();
        // object 1: byte count, new class tag, "TFoo\0", payload u32 7
        let body1: Vec<u8> = [
            &0xFFFF_FFFFu32.to_be_bytes()[..],
            b"TFoo\0",
            &7u32.to_be_bytes(),
        ]
        .concat();
        buf.extend(((body1.len() as u32) | BYTE_COUNT_MASK).to_be_bytes());
        buf.extend(&body1);
        // object 2: byte count, class reference to TFoo (displacement 4 + 2), payload 9
        let body2: Vec<u8> = [&(CLASS_MASK | 6).to_be_bytes()[..], &9u32.to_be_bytes()].concat();
        buf.extend(((body2.len() as u32) | BYTE_COUNT_MASK).to_be_bytes());
        buf.extend(&body2);
        // a reference to object 1 (key 0 + 2) and a null
        buf.extend(2u32.to_be_bytes());
        buf.extend(0u32.to_be_bytes());
        let mut c = Cursor::new(&buf, 0);
        let mut refs = Refs::default();
        let mut read =
            |cls: &str, c: &mut Cursor<'_>, _: &mut Refs, _: usize| -> PResult<(String, u32)> {
                Ok((cls.to_string(), c.u32()?))
            };
        match read_any(&mut c, &mut refs, &mut read).unwrap() {
            Any::New((cls, v)) => assert_eq!((cls.as_str(), v), ("TFoo", 7)),
            other => panic!("{other:?}"),
        }
        match read_any(&mut c, &mut refs, &mut read).unwrap() {
            Any::New((cls, v)) => assert_eq!((cls.as_str(), v), ("TFoo", 9)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_any(&mut c, &mut refs, &mut read).unwrap(),
            Any::Ref(2)
        ));
        assert!(matches!(
            read_any(&mut c, &mut refs, &mut read).unwrap(),
            Any::Null
        ));
        // truncated everywhere: errors, no panics
        for cut in 0..buf.len() {
            let mut c = Cursor::new(&buf[..cut], 0);
            let mut refs = Refs::default();
            let _ = read_any(&mut c, &mut refs, &mut read);
        }
    }
}
