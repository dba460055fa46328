//! The direct read of numeric branches (scalars, fixed-size arrays and leaf-list arrays `T[n]`
//! with entry offsets): every basket is decompressed into this thread's reused scratch memory
//! and decoded straight into its own slice of the column's final values buffer (and of its list
//! offsets), one parallel task per basket, with no per-basket buffers and no concatenation.
//!
//! The slices are laid out before anything is decompressed, from what the basket headers
//! declare (entries, the data's end `fLast`), which are checked against the records' block
//! headers first, so that no more is allocated than the blocks themselves declare. A basket
//! that does not fit this layout (no entry offsets, entries that do not start at the data,
//! uneven items, a corrupt record) makes [`read`] return `None`, and the caller reads the
//! column with the general builder, which gives the same values or names the error.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use arrow_array::types::*;
use arrow_array::{ArrayRef, BooleanArray, ListArray, PrimitiveArray};
use arrow_buffer::{BooleanBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::Field;
use rayon::prelude::*;

use crate::compression::{self, BLOCK_HEADER_LEN, MAX_RECORD_LEN};
use crate::cursor::{BYTE_COUNT_MASK, STREAMED_MEMBERWISE};
use crate::decode::{Loaded, shape as fixed_shape};
use crate::file::FileInner as Inner;
use crate::meta::BasketHeader;
use crate::types::{Elem, Plan};

/// The header of each `std::vector<T>` entry: a byte count, a version and the element count.
const VECTOR_HEADER: usize = 10;

/// Scratch memory larger than this is given back after each basket instead of kept.
const KEEP_SCRATCH: usize = 64 << 20;

/// One basket as the layout sees it.
pub(crate) enum Src {
    /// A record on disk (`len` bytes at `seek`) of which only the header has been read.
    Disk {
        seek: u64,
        len: usize,
        h: BasketHeader,
    },
    /// An embedded basket, or one only partly read, decompressed and split already.
    Mem(Loaded),
}

/// One basket's part of the read: entries `a..b` of it, `values` values.
pub(crate) struct Piece {
    pub(crate) src: Src,
    pub(crate) a: usize,
    pub(crate) b: usize,
    values: usize,
}

/// A value type the direct read decodes into, from big-endian bytes.
trait Native: Copy + Default + Send + Sync + 'static {
    /// Decodes `src` (exactly `dst.len()` values of `elem`) into `dst`.
    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]);
}

macro_rules! be_int {
    ($($t:ty),*) => {$(
        impl Native for $t {
            #[inline]
            fn decode(_: Elem, src: &[u8], dst: &mut [Self]) {
                const N: usize = std::mem::size_of::<$t>();
                // A plain zip of fixed-size chunks: LLVM turns it into vector byte shuffles.
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(N)) {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c);
                    *d = <$t>::from_be_bytes(a);
                }
            }
        }
    )*};
}
be_int!(i16, u16, i32, u32, i64, u64);

impl Native for u8 {
    #[inline]
    fn decode(_: Elem, src: &[u8], dst: &mut [Self]) {
        dst.copy_from_slice(&src[..dst.len()]);
    }
}

impl Native for i8 {
    #[inline]
    fn decode(_: Elem, src: &[u8], dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s as i8;
        }
    }
}

#[inline]
fn be_f32(c: &[u8]) -> f32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(c);
    f32::from_be_bytes(a)
}

#[inline]
fn be_u32(c: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(c);
    u32::from_be_bytes(a)
}

impl Native for f32 {
    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
        match elem {
            Elem::Truncated { bits, .. } => {
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(3)) {
                    *d = crate::decode::truncated(c, bits);
                }
            }
            Elem::Packed {
                low, high, bits, ..
            } => {
                let f = ((high - low) / (1u64 << bits) as f64) as f32;
                let low = low as f32;
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = be_u32(c) as f32 * f + low;
                }
            }
            _ => {
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = be_f32(c);
                }
            }
        }
    }
}

impl Native for f64 {
    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
        match elem {
            Elem::F32AsF64 => {
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = be_f32(c) as f64;
                }
            }
            Elem::Truncated { bits, .. } => {
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(3)) {
                    *d = crate::decode::truncated(c, bits) as f64;
                }
            }
            Elem::Packed {
                low, high, bits, ..
            } => {
                let f = (high - low) / (1u64 << bits) as f64;
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = be_u32(c) as f64 * f + low;
                }
            }
            _ => {
                for (d, c) in dst.iter_mut().zip(src.chunks_exact(8)) {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    *d = f64::from_be_bytes(a);
                }
            }
        }
    }
}

/// The element and shape of a plan the direct read handles; `jagged` for leaf-list arrays and
/// `std::vector<T>`, `vector` for the latter (each entry a 10-byte header, then its values).
pub(crate) struct Shape<'a> {
    elem: Elem,
    dims: &'a [usize],
    jagged: bool,
    vector: bool,
}

impl Shape<'_> {
    pub(crate) fn of(plan: &Plan) -> Option<Shape<'_>> {
        match plan {
            Plan::Fixed { elem, dims } => Some(Shape {
                elem: *elem,
                dims,
                jagged: false,
                vector: false,
            }),
            Plan::Jagged {
                elem,
                dims,
                header: header @ (0 | VECTOR_HEADER),
                ..
            } => Some(Shape {
                elem: *elem,
                dims,
                jagged: true,
                vector: *header == VECTOR_HEADER,
            }),
            _ => None,
        }
    }

    /// Values per item (an entry of a fixed plan, a list element of a jagged one).
    fn per_item(&self) -> Option<usize> {
        self.dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|&n| n > 0)
    }

    /// Bytes per item.
    fn item(&self) -> Option<usize> {
        self.per_item()?.checked_mul(self.elem.size())
    }
}

/// The most bytes the direct read allocates for one column; past it the general builder,
/// which grows with the data actually decompressed, reads the column.
const MAX_COLUMN_BYTES: usize = 1 << 32;

/// The basket `src` (covering `entries` entries, `a..b` of them wanted) as a piece of the
/// layout, or `None` when it does not fit it. A disk basket only partly wanted of a jagged
/// branch is decompressed here with `load` (its values are known only from its offsets).
pub(crate) fn piece(
    shape: &Shape<'_>,
    src: Src,
    entries: usize,
    a: usize,
    b: usize,
    load: &dyn Fn() -> Option<Loaded>,
) -> Option<Piece> {
    let item = shape.item()?;
    let esize = shape.elem.size();
    if a > b || b > entries {
        return None;
    }
    let values = match &src {
        Src::Disk { len, h, .. } => {
            if h.nev_buf != entries || h.nbytes > *len || h.keylen > h.nbytes {
                return None;
            }
            // No more than the record's blocks can declare (at most 2^24 - 1 bytes each, after
            // a 9-byte header), as the general reader allows.
            let compressed = h.nbytes - h.keylen;
            let bound = (compressed / BLOCK_HEADER_LEN).saturating_mul((1 << 24) - 1);
            if h.objlen > MAX_RECORD_LEN || (h.objlen != compressed && h.objlen > bound) {
                return None;
            }
            let border = h.last.checked_sub(h.keylen)?;
            if border > h.objlen {
                return None;
            }
            if shape.jagged {
                if a != 0 || b != entries {
                    let loaded = load()?;
                    return piece(shape, Src::Mem(loaded), entries, a, b, &|| None);
                }
                // The offset table (a count, then one offset per entry) follows the data.
                let table = h.objlen - border;
                if table < 4 || (table - 4) / 4 < entries {
                    return None;
                }
                // Vectors: every entry's header, then whole items.
                let headers = if shape.vector {
                    entries.checked_mul(VECTOR_HEADER)?
                } else {
                    0
                };
                let body = border.checked_sub(headers)?;
                if !body.is_multiple_of(item) {
                    return None;
                }
                body / esize
            } else {
                if entries.checked_mul(item)? > border {
                    return None;
                }
                (b - a) * (item / esize)
            }
        }
        Src::Mem(l) => {
            if l.entries != entries {
                return None;
            }
            if shape.jagged {
                let o = l.offsets.as_ref()?;
                if o.len() != entries + 1 {
                    return None;
                }
                let (first, end) = (o[a] as usize, o[b] as usize);
                if first > end || end > l.data.len() {
                    return None;
                }
                if shape.vector {
                    let d = l.data.as_slice();
                    let mut items = 0usize;
                    for w in o[a..=b].windows(2) {
                        items += vector_len(d, w[0] as usize, w[1] as usize, item)?;
                    }
                    items.checked_mul(item / esize)?
                } else {
                    if !(end - first).is_multiple_of(item) {
                        return None;
                    }
                    (end - first) / esize
                }
            } else {
                if entries.checked_mul(item)? > l.data.len() {
                    return None;
                }
                (b - a) * (item / esize)
            }
        }
    };
    Some(Piece { src, a, b, values })
}

/// Decodes the pieces (in entry order) into one array of the plan's type, or `None` when one
/// of them does not fit the layout after all (see the module's documentation).
pub(crate) fn read(
    file: &Inner,
    shape: &Shape<'_>,
    pieces: &[Piece],
    shared: &SharedOffsets,
) -> Option<ArrayRef> {
    use arrow_schema::DataType as D;
    match shape.elem.data_type() {
        D::Boolean => {
            let (v, o) = decode_all::<u8>(file, shape, pieces)?;
            let bits = BooleanBuffer::collect_bool(v.len(), |i| v[i] != 0);
            finish(shape, Arc::new(BooleanArray::new(bits, None)), o, shared)
        }
        D::Int8 => typed::<Int8Type>(file, shape, pieces, shared),
        D::UInt8 => typed::<UInt8Type>(file, shape, pieces, shared),
        D::Int16 => typed::<Int16Type>(file, shape, pieces, shared),
        D::UInt16 => typed::<UInt16Type>(file, shape, pieces, shared),
        D::Int32 => typed::<Int32Type>(file, shape, pieces, shared),
        D::UInt32 => typed::<UInt32Type>(file, shape, pieces, shared),
        D::Int64 => typed::<Int64Type>(file, shape, pieces, shared),
        D::UInt64 => typed::<UInt64Type>(file, shape, pieces, shared),
        D::Float32 => typed::<Float32Type>(file, shape, pieces, shared),
        D::Float64 => typed::<Float64Type>(file, shape, pieces, shared),
        _ => None,
    }
}

fn typed<T>(
    file: &Inner,
    shape: &Shape<'_>,
    pieces: &[Piece],
    shared: &SharedOffsets,
) -> Option<ArrayRef>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: Native,
{
    let (v, o) = decode_all::<T::Native>(file, shape, pieces)?;
    let values = Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), None));
    finish(shape, values, o, shared)
}

fn finish(
    shape: &Shape<'_>,
    values: ArrayRef,
    offsets: Vec<i32>,
    shared: &SharedOffsets,
) -> Option<ArrayRef> {
    let values = fixed_shape(values, shape.dims).ok()?;
    if shape.jagged {
        let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
        let offsets = shared.get(offsets);
        Some(Arc::new(
            ListArray::try_new(field, offsets, values, None).ok()?,
        ))
    } else {
        Some(values)
    }
}

/// The list offsets built so far in one read, shared by the columns whose offsets turn out
/// equal (the branches of one collection, `Jet_pt`, `Jet_eta`, … all follow `nJet`): one buffer
/// in memory instead of one per column, and Arrow's check of their order done once.
#[derive(Default)]
pub(crate) struct SharedOffsets(Mutex<Vec<OffsetBuffer<i32>>>);

/// The most distinct offset buffers one read keeps for sharing.
const SHARED_OFFSETS: usize = 64;

impl SharedOffsets {
    /// An offset buffer equal to `offsets` (which must be in order): one built before, or a new
    /// one, kept for the columns after.
    pub(crate) fn get(&self, offsets: Vec<i32>) -> OffsetBuffer<i32> {
        let candidates: Vec<OffsetBuffer<i32>> = match self.0.lock() {
            Ok(kept) => kept
                .iter()
                .filter(|o| o.len() == offsets.len() && o.last() == offsets.last())
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        };
        // Comparing equal buffers is a memory compare, far cheaper than checking their order.
        if let Some(same) = candidates
            .into_iter()
            .find(|o| o.as_ref() == offsets.as_slice())
        {
            return same;
        }
        let made = OffsetBuffer::new(ScalarBuffer::from(offsets));
        if let Ok(mut kept) = self.0.lock()
            && kept.len() < SHARED_OFFSETS
        {
            kept.push(made.clone());
        }
        made
    }
}

/// Allocates the column's buffers and decodes every piece into its slices in parallel.
fn decode_all<T: Native>(
    file: &Inner,
    shape: &Shape<'_>,
    pieces: &[Piece],
) -> Option<(Vec<T>, Vec<i32>)> {
    let total = pieces
        .iter()
        .try_fold(0usize, |n, p| n.checked_add(p.values))?;
    let rows = pieces
        .iter()
        .try_fold(0usize, |n, p| n.checked_add(p.b - p.a))?;
    let per_item = shape.per_item()?;
    if shape.jagged && total / per_item > i32::MAX as usize {
        return None;
    }
    if total.checked_mul(std::mem::size_of::<T>())? > MAX_COLUMN_BYTES {
        return None;
    }
    let mut values = vec![T::default(); total];
    let mut offsets = if shape.jagged {
        vec![0i32; rows + 1]
    } else {
        Vec::new()
    };
    // Disjoint slices, one per piece, with the list offset at which each piece starts.
    let mut jobs = Vec::with_capacity(pieces.len());
    {
        let mut vrest = values.as_mut_slice();
        let mut orest = offsets.get_mut(1..).unwrap_or_default();
        let mut base = 0usize;
        for p in pieces {
            let (v, vr) = std::mem::take(&mut vrest).split_at_mut(p.values);
            vrest = vr;
            let n = if shape.jagged { p.b - p.a } else { 0 };
            let (o, or) = std::mem::take(&mut orest).split_at_mut(n);
            orest = or;
            jobs.push((p, v, o, base as i32));
            base += p.values / per_item;
        }
    }
    let ok = jobs
        .into_par_iter()
        .map(|(p, v, o, base)| decode_piece(file, shape, p, v, o, base))
        .reduce(|| true, |a, b| a & b);
    ok.then_some((values, offsets))
}

thread_local! {
    /// This thread's record and decompressed-basket buffers, reused from basket to basket.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

fn decode_piece<T: Native>(
    file: &Inner,
    shape: &Shape<'_>,
    p: &Piece,
    values: &mut [T],
    offsets: &mut [i32],
    base: i32,
) -> bool {
    let Some(item) = shape.item() else {
        return false;
    };
    match &p.src {
        Src::Mem(l) => {
            let d = l.data.as_slice();
            if shape.vector {
                let Some(bounds) = l.offsets.as_ref().and_then(|o| o.get(p.a..=p.b)) else {
                    return false;
                };
                let ranges = bounds.windows(2).map(|w| (w[0] as usize, w[1] as usize));
                return vectors(shape.elem, d, ranges, item, base, values, offsets);
            }
            if shape.jagged {
                let Some(o) = l.offsets.as_ref() else {
                    return false;
                };
                let Some(bounds) = o.get(p.a..=p.b) else {
                    return false;
                };
                let first = bounds[0];
                let ordered = bounds.windows(2).fold(true, |ok, w| ok & (w[0] <= w[1]));
                let aligned = bounds.iter().fold(true, |ok, &x| {
                    ok & (x.wrapping_sub(first) as usize).is_multiple_of(item)
                });
                if !(ordered && aligned) {
                    return false;
                }
                for (dst, &x) in offsets.iter_mut().zip(&bounds[1..]) {
                    *dst = base.wrapping_add(((x - first) as usize / item) as i32);
                }
                let (s, e) = (first as usize, bounds[bounds.len() - 1] as usize);
                decode_values(shape.elem, &d[s..e], values)
            } else {
                decode_values(shape.elem, &d[p.a * item..p.b * item], values)
            }
        }
        Src::Disk { seek, len, h } => SCRATCH.with(|cell| {
            let mut cell = cell.borrow_mut();
            let (record, raw) = &mut *cell;
            grow(record, *len);
            grow(raw, h.objlen);
            let record = &mut record[..*len];
            let raw = &mut raw[..h.objlen];
            let ok = file.read_into(*seek, record, "basket").is_ok()
                && compression::decompress_into(&record[h.keylen..h.nbytes], raw).is_ok();
            let border = h.last - h.keylen;
            let ok = ok
                && if shape.vector {
                    let table = &raw[border..];
                    match vector_ranges(table, p.b, h.keylen, border) {
                        Some(ranges) => vectors(
                            shape.elem,
                            &raw[..border],
                            ranges,
                            item,
                            base,
                            values,
                            offsets,
                        ),
                        None => false,
                    }
                } else if shape.jagged {
                    let table = &raw[border..];
                    entry_ends(table, p.b, h.keylen, border, item, base, offsets)
                        && decode_values(shape.elem, &raw[..border], values)
                } else {
                    decode_values(shape.elem, &raw[p.a * item..p.b * item], values)
                };
            let (record, raw) = &mut *cell;
            for v in [record, raw] {
                if v.len() > KEEP_SCRATCH {
                    *v = Vec::new();
                }
            }
            ok
        }),
    }
}

/// Makes `v` at least `n` bytes long (zero-filling only what it never held).
fn grow(v: &mut Vec<u8>, n: usize) {
    if v.len() < n {
        v.resize(n, 0);
    }
}

fn decode_values<T: Native>(elem: Elem, src: &[u8], dst: &mut [T]) -> bool {
    if src.len() != dst.len() * elem.size() {
        return false;
    }
    T::decode(elem, src, dst);
    true
}

/// Turns a whole basket's entry-offset table (a count, then each entry's start counted from the
/// key) into the list offsets at the end of each of its `n` entries, `base` plus items so far.
/// False unless the first entry starts at the data and every entry is a whole number of items,
/// in order, within the data (`border` bytes).
fn entry_ends(
    table: &[u8],
    n: usize,
    keylen: usize,
    border: usize,
    item: usize,
    base: i32,
    out: &mut [i32],
) -> bool {
    if n == 0 || out.len() != n {
        return n == 0 && out.is_empty();
    }
    let Some(starts) = table.get(4..4 + 4 * n) else {
        return false;
    };
    let count = be_u32(&table[..4]);
    if (count as usize) < n || count > i32::MAX as u32 {
        return false;
    }
    let (keylen, border_u) = (keylen as u32, border as u32);
    if be_u32(&starts[..4]) != keylen {
        return false;
    }
    // Branch-free maps and folds, so that they vectorise: each entry's start counted from the
    // data (wrapping: one before the key becomes huge), checked against the data's end and
    // divided into items; then the order of the results.
    let mut bad = false;
    let ends = &mut out[..n - 1];
    if item.is_power_of_two() {
        let (shift, mask) = (item.trailing_zeros(), item as u32 - 1);
        for (o, c) in ends.iter_mut().zip(starts[4..].chunks_exact(4)) {
            let r = be_u32(c).wrapping_sub(keylen);
            bad |= (r > border_u) | (r & mask != 0);
            *o = base.wrapping_add((r >> shift) as i32);
        }
    } else {
        let item_u = item as u32;
        for (o, c) in ends.iter_mut().zip(starts[4..].chunks_exact(4)) {
            let r = be_u32(c).wrapping_sub(keylen);
            bad |= (r > border_u) | (r % item_u != 0);
            *o = base.wrapping_add((r / item_u) as i32);
        }
    }
    out[n - 1] = base.wrapping_add((border / item) as i32);
    // Within the data and whole items, the ends are in order exactly when the starts are (the
    // first start is the data's, so the first end cannot precede the basket's base).
    let ordered = out.windows(2).fold(true, |ok, w| ok & (w[0] <= w[1]));
    !bad && ordered
}

/// The element count of the `std::vector<T>` entry at bytes `s..e` of `d`, when it is exactly a
/// collection header (byte count, a version not streamed member-wise, the count) and that many
/// `item`-byte values.
fn vector_len(d: &[u8], s: usize, e: usize, item: usize) -> Option<usize> {
    let entry = d.get(s..e)?;
    let head = entry.get(..VECTOR_HEADER)?;
    if be_u32(&head[..4]) & BYTE_COUNT_MASK == 0
        || u16::from_be_bytes([head[4], head[5]]) & STREAMED_MEMBERWISE != 0
    {
        return None;
    }
    let n = be_u32(&head[6..10]) as usize;
    (n.checked_mul(item)? == entry.len() - VECTOR_HEADER).then_some(n)
}

/// Each entry's byte range from a whole basket's entry-offset table (`n` entries), when the
/// first starts at the data and they are in order within it.
fn vector_ranges(
    table: &[u8],
    n: usize,
    keylen: usize,
    border: usize,
) -> Option<impl Iterator<Item = (usize, usize)> + '_> {
    let starts = table.get(4..4 + 4 * n)?;
    let count = be_u32(table.get(..4)?);
    if (count as usize) < n || count > i32::MAX as u32 {
        return None;
    }
    let keylen = keylen as u32;
    if n > 0 && be_u32(&starts[..4]) != keylen {
        return None;
    }
    let start = move |k: usize| -> usize {
        if k == n {
            border
        } else {
            be_u32(&starts[4 * k..4 * k + 4]).wrapping_sub(keylen) as usize
        }
    };
    Some((0..n).map(move |k| (start(k), start(k + 1))))
}

/// Decodes `std::vector<T>` entries (their byte ranges in `d`) into `values` and the list
/// offsets at their ends into `offsets`; false unless every entry is exactly a vector and
/// together they fill `values`.
fn vectors<T: Native>(
    elem: Elem,
    d: &[u8],
    ranges: impl Iterator<Item = (usize, usize)>,
    item: usize,
    base: i32,
    values: &mut [T],
    offsets: &mut [i32],
) -> bool {
    let per_item = item / elem.size();
    let mut at = 0usize;
    let mut items = 0usize;
    let mut slots = offsets.iter_mut();
    for (s, e) in ranges {
        let Some(n) = (s <= e).then(|| vector_len(d, s, e, item)).flatten() else {
            return false;
        };
        let Some(out) = values.get_mut(at..at + n * per_item) else {
            return false;
        };
        T::decode(elem, &d[s + VECTOR_HEADER..e], out);
        at += n * per_item;
        items += n;
        let Some(slot) = slots.next() else {
            return false;
        };
        *slot = base.wrapping_add(items as i32);
    }
    at == values.len() && slots.next().is_none()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// A `std::vector<float>` entry as ROOT streams it.
    fn vector_entry(v: &[f32]) -> Vec<u8> {
        let mut e = ((6 + 4 * v.len()) as u32 | BYTE_COUNT_MASK)
            .to_be_bytes()
            .to_vec();
        e.extend(9u16.to_be_bytes());
        e.extend((v.len() as u32).to_be_bytes());
        e.extend(v.iter().flat_map(|x| x.to_be_bytes()));
        e
    }

    #[test]
    fn vectors_from_an_entry_offset_table() {
        let entries = [vec![1.0f32, 2.0], vec![], vec![3.0]];
        let mut data = Vec::new();
        let keylen = 70usize;
        let mut table = (entries.len() as u32 + 1).to_be_bytes().to_vec();
        for e in &entries {
            table.extend(((data.len() + keylen) as u32).to_be_bytes());
            data.extend(vector_entry(e));
        }
        let border = data.len();
        let ranges = vector_ranges(&table, 3, keylen, border).unwrap();
        let mut values = vec![0f32; 3];
        let mut offsets = vec![0i32; 3];
        assert!(vectors(
            Elem::F32,
            &data,
            ranges,
            4,
            5,
            &mut values,
            &mut offsets
        ));
        assert_eq!(values, [1.0, 2.0, 3.0]);
        assert_eq!(offsets, [7, 7, 8]);
        // a count that disagrees with the entry's length, a member-wise version, no byte count
        for (at, byte) in [(9, 3u8), (4, 0x40), (0, 0)] {
            let mut bad = data.clone();
            bad[at] = byte;
            let ranges = vector_ranges(&table, 3, keylen, border).unwrap();
            let mut values = vec![0f32; 3];
            let ok = vectors(Elem::F32, &bad, ranges, 4, 0, &mut values, &mut offsets);
            assert!(!ok, "byte {at} set to {byte:#x}");
        }
        // more values than the layout holds
        let ranges = vector_ranges(&table, 3, keylen, border).unwrap();
        let mut short = vec![0f32; 2];
        assert!(!vectors(
            Elem::F32,
            &data,
            ranges,
            4,
            0,
            &mut short,
            &mut offsets
        ));
        // out-of-order entry offsets
        let mut t = table.clone();
        t[8..12].copy_from_slice(&((keylen + 100) as u32).to_be_bytes());
        let ranges = vector_ranges(&t, 3, keylen, border).unwrap();
        assert!(!vectors(
            Elem::F32,
            &data,
            ranges,
            4,
            0,
            &mut values,
            &mut offsets
        ));
        // a table that does not start at the data
        let mut t = table.clone();
        t[4..8].copy_from_slice(&((keylen + 1) as u32).to_be_bytes());
        assert!(vector_ranges(&t, 3, keylen, border).is_none());
    }

    #[test]
    fn vector_plans_take_the_direct_path() {
        let plan = Plan::Jagged {
            elem: Elem::F32,
            dims: vec![],
            header: VECTOR_HEADER,
            counter: None,
        };
        let s = Shape::of(&plan).unwrap();
        assert!(s.jagged && s.vector);
    }
}
