//! The file's TStreamerInfo list, as far as the branch decoder needs it: for each class, its
//! members' names, type codes, type names and titles (which carry `Double32_t` ranges).

use std::collections::HashMap;

use crate::cursor::Cursor;
use crate::error::PResult;
use crate::object::{Any, Refs, read_any, read_objarray, read_tlist};

/// One member (streamer element) of a class.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    /// The member's comment, e.g. `[0, 1, 12]` for a packed `Double32_t`.
    pub(crate) title: String,
    /// The C++ type name.
    pub(crate) type_name: String,
}

/// The streamers of one file, by class name.
#[derive(Debug, Default)]
pub(crate) struct Streamers {
    pub(crate) classes: HashMap<String, Vec<Element>>,
}

impl Streamers {
    /// Parses the streamer-info record (a `TList` of `TStreamerInfo`).
    pub(crate) fn parse(obj: &[u8], keylen: usize) -> PResult<Streamers> {
        let mut c = Cursor::new(obj, keylen);
        let mut refs = Refs::default();
        let mut read_info = |class: &str,
                             c: &mut Cursor<'_>,
                             refs: &mut Refs,
                             _key: usize|
         -> PResult<Option<(String, Vec<Element>)>> {
            if class != "TStreamerInfo" {
                return Ok(None);
            }
            read_streamer_info(c, refs).map(Some)
        };
        let items = read_tlist(&mut c, &mut refs, &mut read_info)?;
        let mut classes = HashMap::new();
        for it in items {
            if let Any::New(Some((name, elems))) = it {
                classes.entry(name).or_insert(elems);
            }
        }
        Ok(Streamers { classes })
    }

    /// The element at index `id` of class `class`.
    pub(crate) fn element(&self, class: &str, id: i32) -> Option<&Element> {
        let elems = self
            .classes
            .get(class)
            .or_else(|| self.classes.get(&canonical(class)))?;
        usize::try_from(id).ok().and_then(|i| elems.get(i))
    }
}

fn read_streamer_info(c: &mut Cursor<'_>, refs: &mut Refs) -> PResult<(String, Vec<Element>)> {
    let f = c.frame()?;
    let (name, _title) = c.tnamed()?;
    let _checksum = c.u32()?;
    let _version = c.i32()?;
    // fElements is written as an object pointer to a TObjArray.
    let mut read_arr =
        |class: &str, c: &mut Cursor<'_>, refs: &mut Refs, _key: usize| -> PResult<Vec<Element>> {
            if class != "TObjArray" {
                return Ok(Vec::new());
            }
            let mut read_el =
                |_class: &str, c: &mut Cursor<'_>, _: &mut Refs, _: usize| -> PResult<Element> {
                    read_element(c)
                };
            let items = read_objarray(c, refs, &mut read_el)?;
            Ok(items
                .into_iter()
                .filter_map(|a| match a {
                    Any::New(e) => Some(e),
                    _ => None,
                })
                .collect())
        };
    let elems = match read_any(c, refs, &mut read_arr)? {
        Any::New(e) => e,
        _ => Vec::new(),
    };
    if let Some(end) = f.end {
        c.seek(end)?;
    }
    Ok((canonical(&name), elems))
}

fn read_element(c: &mut Cursor<'_>) -> PResult<Element> {
    let outer = c.frame()?;
    let base = c.frame()?;
    let (_name, title) = c.tnamed()?;
    let _ftype = c.i32()?;
    let _size = c.i32()?;
    let _array_length = c.i32()?;
    let _array_dim = c.i32()?;
    if base.version == 1 {
        let n = c.count("fMaxIndex length")?;
        c.skip(n.saturating_mul(4))?;
    } else {
        c.skip(20)?;
    }
    let type_name = canonical(&c.tstring()?);
    if let Some(end) = base.end {
        c.seek(end)?;
    }
    if let Some(end) = outer.end {
        c.seek(end)?;
    }
    Ok(Element { title, type_name })
}

/// Normalises a C++ type name: no `std::`, no spaces around `<`, `>`, `,` and `*`.
pub(crate) fn canonical(name: &str) -> String {
    let s = name.replace("std::", "");
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.trim().chars().collect();
    for (i, &ch) in chars.iter().enumerate() {
        if ch == ' ' {
            let prev = out.chars().last();
            let next = chars.get(i + 1).copied();
            let near_punct = |c: Option<char>| matches!(c, Some('<' | '>' | ',' | '*' | ' '));
            if near_punct(prev) || near_punct(next) {
                continue;
            }
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(
            canonical("std::vector<std::vector<float> >"),
            "vector<vector<float>>"
        );
        assert_eq!(canonical("vector<unsigned int>"), "vector<unsigned int>");
        assert_eq!(canonical(" map<int, string> "), "map<int,string>");
    }
}
