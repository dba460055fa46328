//! Tree metadata as streamed in a TTree record: the TTree itself, its TBranch / TBranchElement /
//! TBranchObject tree, their TLeaf* leaves, basket tables and embedded baskets.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cursor::Cursor;
use crate::error::{PResult, malformed};
use crate::object::{Any, Refs, read_any, read_objarray};

/// A leaf (`TLeafI`, `TLeafF`, `TLeafElement`, …).
#[derive(Debug, Clone, Default)]
pub(crate) struct LeafMeta {
    pub(crate) class: String,
    pub(crate) name: String,
    pub(crate) title: String,
    pub(crate) len: i32,
    pub(crate) is_unsigned: bool,
    /// Index (into the tree's leaves) of the counter leaf, for `x[n]` leaves.
    pub(crate) leaf_count: Option<usize>,
    /// `TLeafElement::fType`.
    pub(crate) ftype: i32,
}

/// The TBranchElement part of a branch.
#[derive(Debug, Clone, Default)]
pub(crate) struct ElementMeta {
    pub(crate) class_name: String,
    pub(crate) id: i32,
    pub(crate) ftype: i32,
    pub(crate) streamer_type: i32,
    /// Index (into the tree's branches) of the counter branch.
    pub(crate) branch_count: Option<usize>,
}

/// A basket held inside the branch record (not flushed to its own key).
#[derive(Debug, Clone)]
pub(crate) struct EmbeddedBasket {
    pub(crate) entries: usize,
    pub(crate) data: Arc<Vec<u8>>,
    pub(crate) offsets: Option<Arc<Vec<u32>>>,
}

/// A branch of any class.
#[derive(Debug, Clone, Default)]
pub(crate) struct BranchMeta {
    pub(crate) name: String,
    pub(crate) title: String,
    pub(crate) parent: Option<usize>,
    pub(crate) children: Vec<usize>,
    pub(crate) leaves: Vec<usize>,
    pub(crate) compress: i32,
    pub(crate) entry_offset_len: i32,
    pub(crate) write_basket: i32,
    pub(crate) entries: i64,
    pub(crate) tot_bytes: i64,
    pub(crate) zip_bytes: i64,
    pub(crate) basket_bytes: Vec<i32>,
    pub(crate) basket_entry: Vec<i64>,
    pub(crate) basket_seek: Vec<i64>,
    pub(crate) embedded: Vec<EmbeddedBasket>,
    pub(crate) element: Option<ElementMeta>,
    /// `TBranchObject::fClassName`.
    pub(crate) object_class: Option<String>,
}

/// A whole tree's metadata.
#[derive(Debug, Clone, Default)]
pub(crate) struct TreeMeta {
    pub(crate) entries: i64,
    /// All branches, depth first in file order; top-level ones have no parent.
    pub(crate) branches: Vec<BranchMeta>,
    pub(crate) leaves: Vec<LeafMeta>,
}

#[derive(Debug, Clone, Copy)]
enum Obj {
    Leaf(usize),
    Branch(usize),
}

#[derive(Default)]
struct Ctx {
    branches: Vec<BranchMeta>,
    leaves: Vec<LeafMeta>,
    by_key: HashMap<usize, Obj>,
    depth: usize,
}

/// Reads just the entry count of a TTree record.
pub(crate) fn peek_entries(obj: &[u8], keylen: usize, class: &str) -> PResult<u64> {
    let mut c = Cursor::new(obj, keylen);
    skip_ntuple_frame(&mut c, class)?;
    let _f = c.frame()?;
    c.tnamed()?;
    skip_att(&mut c, 6)?;
    skip_att(&mut c, 4)?;
    skip_att(&mut c, 8)?;
    let n = c.i64()?;
    if n < 0 {
        return malformed(format!("negative entry count {n}"));
    }
    Ok(n as u64)
}

/// `TNtuple` and `TNtupleD` records wrap a TTree in their own frame.
fn skip_ntuple_frame(c: &mut Cursor<'_>, class: &str) -> PResult<()> {
    if class == "TNtuple" || class == "TNtupleD" {
        c.frame()?;
    }
    Ok(())
}

/// Parses a TTree record.
pub(crate) fn parse_tree(obj: &[u8], keylen: usize, class: &str) -> PResult<TreeMeta> {
    let mut c = Cursor::new(obj, keylen);
    skip_ntuple_frame(&mut c, class)?;
    let f = c.frame()?;
    let v = f.version;
    if !(16..=20).contains(&v) {
        return malformed(format!(
            "TTree class version {v} is not supported (16 to 20 are)"
        ));
    }
    c.tnamed()?;
    skip_att(&mut c, 6)?;
    skip_att(&mut c, 4)?;
    skip_att(&mut c, 8)?;
    let entries = c.i64()?;
    let _tot = c.i64()?;
    let _zip = c.i64()?;
    let _saved = c.i64()?;
    if v >= 18 {
        let _flushed = c.i64()?;
    }
    let _weight = c.u64()?;
    let _timer = c.i32()?;
    let _scan = c.i32()?;
    let _update = c.i32()?;
    if v >= 17 {
        let _default_offset_len = c.i32()?;
    }
    let mut n_cluster = 0usize;
    if v >= 19 {
        n_cluster = c.count("fNClusterRange")?;
    }
    let _max_entries = c.i64()?;
    let _max_loop = c.i64()?;
    let _max_virtual = c.i64()?;
    let _auto_save = c.i64()?;
    if v >= 18 {
        let _auto_flush = c.i64()?;
    }
    let _estimate = c.i64()?;
    if v >= 19 {
        // fClusterRangeEnd and fClusterSize; cluster boundaries are taken from the baskets.
        c.skip(1)?;
        c.i64_array(n_cluster)?;
        c.skip(1)?;
        c.i64_array(n_cluster)?;
    }
    if v >= 20 {
        skip_iofeatures(&mut c)?;
    }
    let mut refs = Refs::default();
    let mut ctx = Ctx::default();
    read_branch_array(&mut c, &mut refs, &mut ctx, None)?;
    // fLeaves, fAliases and the rest are not needed.
    if entries < 0 {
        return malformed(format!("negative entry count {entries}"));
    }
    Ok(TreeMeta {
        entries,
        branches: ctx.branches,
        leaves: ctx.leaves,
    })
}

/// Skips a `TAttLine`/`TAttFill`/`TAttMarker` base: by its byte count, or by its known size
/// (`members` bytes after the version) in old files that wrote none.
fn skip_att(c: &mut Cursor<'_>, members: usize) -> PResult<()> {
    let f = c.frame()?;
    match f.end {
        Some(end) => c.seek(end),
        None => c.skip(members),
    }
}

fn skip_iofeatures(c: &mut Cursor<'_>) -> PResult<()> {
    let f = c.frame()?;
    match f.end {
        Some(end) => c.seek(end),
        None => c.skip(5),
    }
}

fn read_branch_array(
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    ctx: &mut Ctx,
    parent: Option<usize>,
) -> PResult<Vec<usize>> {
    let items = {
        let mut read = |class: &str, c: &mut Cursor<'_>, refs: &mut Refs, key: usize| {
            read_branch_object(class, c, refs, key, ctx, parent)
        };
        read_objarray(c, refs, &mut read)?
    };
    let mut out = Vec::new();
    for it in items {
        match it {
            Any::New(Some(i)) => out.push(i),
            Any::Ref(k) => {
                if let Some(Obj::Branch(i)) = ctx.by_key.get(&k) {
                    out.push(*i);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn read_branch_object(
    class: &str,
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    key: usize,
    ctx: &mut Ctx,
    parent: Option<usize>,
) -> PResult<Option<usize>> {
    match class {
        "TBranch" | "TBranchElement" | "TBranchObject" | "TBranchSTL" | "TBranchRef" => {}
        _ => return Ok(None),
    }
    if ctx.depth > 64 {
        return malformed("branches nested more than 64 deep");
    }
    let idx = ctx.branches.len();
    ctx.branches.push(BranchMeta {
        parent,
        ..Default::default()
    });
    ctx.by_key.insert(key, Obj::Branch(idx));
    ctx.depth += 1;
    let r = match class {
        "TBranch" | "TBranchRef" => read_tbranch(c, refs, ctx, idx),
        "TBranchElement" => read_tbranch_element(c, refs, ctx, idx),
        "TBranchObject" => read_tbranch_object(c, refs, ctx, idx),
        _ => {
            // TBranchSTL: a TBranch base is all we understand.
            let f = c.frame()?;
            read_tbranch(c, refs, ctx, idx)?;
            if let Some(end) = f.end {
                c.seek(end)?;
            }
            Ok(())
        }
    };
    ctx.depth -= 1;
    r?;
    Ok(Some(idx))
}

fn read_tbranch(c: &mut Cursor<'_>, refs: &mut Refs, ctx: &mut Ctx, idx: usize) -> PResult<()> {
    let f = c.frame()?;
    let v = f.version;
    if !(10..=13).contains(&v) {
        return malformed(format!(
            "TBranch class version {v} is not supported (10 to 13 are)"
        ));
    }
    let (name, title) = c.tnamed()?;
    skip_att(c, 4)?;
    let compress = c.i32()?;
    let _basket_size = c.i32()?;
    let entry_offset_len = c.i32()?;
    let write_basket = c.i32()?;
    let _entry_number = c.i64()?;
    if v >= 13 {
        skip_iofeatures(c)?;
    }
    let _offset = c.i32()?;
    let max_baskets = c.count("fMaxBaskets")?;
    let _split = c.i32()?;
    let entries = c.i64()?;
    if v >= 11 {
        let _first = c.i64()?;
    }
    let tot_bytes = c.i64()?;
    let zip_bytes = c.i64()?;
    {
        let b = &mut ctx.branches[idx];
        b.name = name;
        b.title = title;
        b.compress = compress;
        b.entry_offset_len = entry_offset_len;
        b.write_basket = write_basket;
        b.entries = entries;
        b.tot_bytes = tot_bytes;
        b.zip_bytes = zip_bytes;
    }
    let children = read_branch_array(c, refs, ctx, Some(idx))?;
    ctx.branches[idx].children = children;
    let leaves = read_leaf_array(c, refs, ctx)?;
    ctx.branches[idx].leaves = leaves;
    let embedded = read_baskets(c, refs)?;
    ctx.branches[idx].embedded = embedded;
    if max_baskets > c.remaining() / 20 + 1 {
        return malformed(format!(
            "fMaxBaskets {max_baskets} cannot fit the branch record"
        ));
    }
    c.skip(1)?;
    let basket_bytes = c.i32_array(max_baskets)?;
    c.skip(1)?;
    let basket_entry = c.i64_array(max_baskets)?;
    c.skip(1)?;
    let basket_seek = c.i64_array(max_baskets)?;
    {
        let b = &mut ctx.branches[idx];
        b.basket_bytes = basket_bytes;
        b.basket_entry = basket_entry;
        b.basket_seek = basket_seek;
    }
    if let Some(end) = f.end {
        c.seek(end)?;
    }
    Ok(())
}

fn read_tbranch_element(
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    ctx: &mut Ctx,
    idx: usize,
) -> PResult<()> {
    let f = c.frame()?;
    let v = f.version;
    if !(8..=10).contains(&v) {
        return malformed(format!(
            "TBranchElement class version {v} is not supported (8 to 10 are)"
        ));
    }
    read_tbranch(c, refs, ctx, idx)?;
    let class_name = c.tstring()?;
    let _parent_name = c.tstring()?;
    let _clones_name = c.tstring()?;
    let _checksum = c.u32()?;
    if v >= 10 {
        let _class_version = c.i16()?;
    } else {
        let _class_version = c.i32()?;
    }
    let id = c.i32()?;
    let ftype = c.i32()?;
    let streamer_type = c.i32()?;
    let _maximum = c.i32()?;
    let branch_count = read_branch_ref(c, refs, ctx, idx)?;
    let _count2 = read_branch_ref(c, refs, ctx, idx)?;
    ctx.branches[idx].element = Some(ElementMeta {
        class_name,
        id,
        ftype,
        streamer_type,
        branch_count,
    });
    if let Some(end) = f.end {
        c.seek(end)?;
    }
    Ok(())
}

fn read_branch_ref(
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    ctx: &mut Ctx,
    idx: usize,
) -> PResult<Option<usize>> {
    let parent = ctx.branches[idx].parent;
    let r = {
        let mut read = |class: &str, c: &mut Cursor<'_>, refs: &mut Refs, key: usize| {
            read_branch_object(class, c, refs, key, ctx, parent)
        };
        read_any(c, refs, &mut read)?
    };
    Ok(match r {
        Any::New(i) => i,
        Any::Ref(k) => match ctx.by_key.get(&k) {
            Some(Obj::Branch(i)) => Some(*i),
            _ => None,
        },
        Any::Null => None,
    })
}

fn read_tbranch_object(
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    ctx: &mut Ctx,
    idx: usize,
) -> PResult<()> {
    let f = c.frame()?;
    read_tbranch(c, refs, ctx, idx)?;
    let class_name = c.tstring()?;
    ctx.branches[idx].object_class = Some(class_name);
    if let Some(end) = f.end {
        c.seek(end)?;
    }
    Ok(())
}

fn read_leaf_array(c: &mut Cursor<'_>, refs: &mut Refs, ctx: &mut Ctx) -> PResult<Vec<usize>> {
    let items = {
        let mut read = |class: &str, c: &mut Cursor<'_>, refs: &mut Refs, key: usize| {
            read_leaf_object(class, c, refs, key, ctx)
        };
        read_objarray(c, refs, &mut read)?
    };
    let mut out = Vec::new();
    for it in items {
        match it {
            Any::New(Some(i)) => out.push(i),
            Any::Ref(k) => {
                if let Some(Obj::Leaf(i)) = ctx.by_key.get(&k) {
                    out.push(*i);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn read_leaf_object(
    class: &str,
    c: &mut Cursor<'_>,
    refs: &mut Refs,
    key: usize,
    ctx: &mut Ctx,
) -> PResult<Option<usize>> {
    if !class.starts_with("TLeaf") {
        return Ok(None);
    }
    if ctx.depth > 128 {
        return malformed("leaf counters nested too deep");
    }
    let idx = ctx.leaves.len();
    ctx.leaves.push(LeafMeta {
        class: class.to_string(),
        ..Default::default()
    });
    ctx.by_key.insert(key, Obj::Leaf(idx));
    let outer = c.frame()?;
    let base = c.frame()?;
    let (name, title) = c.tnamed()?;
    let len = c.i32()?;
    let _len_type = c.i32()?;
    let _offset = c.i32()?;
    let _is_range = c.u8()?;
    let is_unsigned = c.u8()? != 0;
    ctx.depth += 1;
    let count = {
        let mut read = |class: &str, c: &mut Cursor<'_>, refs: &mut Refs, key: usize| {
            read_leaf_object(class, c, refs, key, ctx)
        };
        read_any(c, refs, &mut read)
    };
    ctx.depth -= 1;
    let leaf_count = match count? {
        Any::New(i) => i,
        Any::Ref(k) => match ctx.by_key.get(&k) {
            Some(Obj::Leaf(i)) => Some(*i),
            _ => None,
        },
        Any::Null => None,
    };
    if let Some(end) = base.end {
        c.seek(end)?;
    }
    let mut ftype = 0;
    if class == "TLeafElement" {
        let _id = c.i32()?;
        ftype = c.i32()?;
    }
    if let Some(end) = outer.end {
        c.seek(end)?;
    }
    ctx.leaves[idx] = LeafMeta {
        class: class.to_string(),
        name,
        title,
        len,
        is_unsigned,
        leaf_count,
        ftype,
    };
    Ok(Some(idx))
}

/// The TBasket header fields this decoder uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BasketHeader {
    pub(crate) nbytes: usize,
    pub(crate) objlen: usize,
    pub(crate) keylen: usize,
    pub(crate) nev_buf_size: i32,
    pub(crate) nev_buf: usize,
    pub(crate) last: usize,
}

/// Parses a basket's key and TBasket header from the start of `b`.
pub(crate) fn basket_header(b: &[u8]) -> PResult<BasketHeader> {
    let mut c = Cursor::new(b, 0);
    let nbytes = c.i32()?;
    let _version = c.i16()?;
    let objlen = c.i32()?;
    let _datime = c.u32()?;
    let keylen = c.i16()?;
    let _cycle = c.i16()?;
    if nbytes < 0 || objlen < 0 || keylen < 19 {
        return malformed(format!(
            "basket header has impossible sizes (nbytes {nbytes}, objlen {objlen}, keylen {keylen})"
        ));
    }
    let keylen = keylen as usize;
    c.seek(keylen - 19)?;
    let _bversion = c.u16()?;
    let _buffer_size = c.i32()?;
    let nev_buf_size = c.i32()?;
    let nev_buf = c.i32()?;
    let last = c.i32()?;
    if nev_buf < 0 || last < keylen as i32 {
        return malformed(format!(
            "basket header has impossible entry count {nev_buf} or end {last}"
        ));
    }
    Ok(BasketHeader {
        nbytes: nbytes as usize,
        objlen: objlen as usize,
        keylen,
        nev_buf_size,
        nev_buf: nev_buf as usize,
        last: last as usize,
    })
}

/// Reads the entry-offset table that follows a basket's data: a count and then one offset
/// (counted from the key's start) per entry. Returns offsets into the data, with the data's
/// length appended.
pub(crate) fn entry_offsets(
    table: &[u8],
    nev_buf: usize,
    keylen: usize,
    border: usize,
) -> PResult<Vec<u32>> {
    let mut c = Cursor::new(table, 0);
    let n = c.count("entry offset count")?;
    if n < nev_buf {
        return malformed(format!(
            "entry offset table holds {n} offsets for {nev_buf} entries"
        ));
    }
    let raw = c.take(nev_buf.saturating_mul(4))?;
    // The hot path of every jagged basket: a plain map and a fold (they vectorise); the slow
    // path below names the offending offset.
    let (keylen, border_i) = (keylen as i64, border as i64);
    let mut out: Vec<u32> = Vec::with_capacity(nev_buf + 1);
    out.extend(raw.chunks_exact(4).map(|b| {
        let o = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64 - keylen;
        o.clamp(0, border_i) as u32
    }));
    let valid = raw
        .chunks_exact(4)
        .fold((true, 0i64), |(ok, prev), b| {
            let o = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64 - keylen;
            (ok & (o >= prev) & (o <= border_i), o)
        })
        .0;
    if !valid {
        let mut prev = 0i64;
        for b in raw.chunks_exact(4) {
            let o = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64 - keylen;
            if o < prev || o > border_i {
                return malformed(format!("entry offset {o} out of order or beyond {border}"));
            }
            prev = o;
        }
    }
    out.push(border as u32);
    Ok(out)
}

fn read_baskets(c: &mut Cursor<'_>, refs: &mut Refs) -> PResult<Vec<EmbeddedBasket>> {
    let items = {
        let mut read = |class: &str, c: &mut Cursor<'_>, _refs: &mut Refs, _key: usize| {
            if class != "TBasket" {
                return Ok(None);
            }
            read_embedded_basket(c)
        };
        read_objarray(c, refs, &mut read)?
    };
    Ok(items
        .into_iter()
        .filter_map(|a| match a {
            Any::New(Some(b)) => Some(b),
            _ => None,
        })
        .collect())
}

fn read_embedded_basket(c: &mut Cursor<'_>) -> PResult<Option<EmbeddedBasket>> {
    let start = c.pos();
    let h = basket_header(&c.data()[start..])?;
    c.seek(start + h.keylen)?;
    let border = h.last - h.keylen;
    let mut offsets = None;
    if h.nbytes <= h.keylen {
        if (h.nev_buf_size as i64) * (h.nev_buf as i64) + h.keylen as i64 != h.last as i64 {
            let n = c.count("embedded entry offset count")?;
            let raw = c.i32_array(n.min(h.nev_buf))?;
            if n < h.nev_buf {
                return malformed("embedded basket has too few entry offsets");
            }
            c.skip((n - h.nev_buf) * 4)?;
            let mut v = Vec::with_capacity(h.nev_buf + 1);
            let mut prev = 0u32;
            for o in raw {
                let o = o as i64 - h.keylen as i64;
                if o < prev as i64 || o > border as i64 {
                    return malformed("embedded basket entry offsets out of order");
                }
                prev = o as u32;
                v.push(prev);
            }
            v.push(border as u32);
            offsets = Some(Arc::new(v));
        }
        // a copy of the key precedes the data
        c.skip(h.keylen)?;
        let data = c.take(border)?.to_vec();
        Ok(Some(EmbeddedBasket {
            entries: h.nev_buf,
            data: Arc::new(data),
            offsets,
        }))
    } else {
        // a header of a basket that was written to its own key: nothing embedded
        Ok(None)
    }
}
