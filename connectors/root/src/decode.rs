//! Basket bytes → Arrow arrays: one builder per plan, byte-swapping big-endian values straight
//! into the values buffer and deriving list offsets from the baskets' entry offsets.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeListArray, ListArray, PrimitiveArray, StringArray,
    StructArray, types::*,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields};

use crate::cursor::{BYTE_COUNT_MASK, STREAMED_MEMBERWISE};
use crate::error::{PResult, malformed};
use crate::types::{Elem, Plan, list_of, shaped};

/// A basket's uncompressed data and, when the branch has them, its entry offsets (one per entry
/// plus the data length).
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) entries: usize,
    pub(crate) data: Arc<Vec<u8>>,
    pub(crate) offsets: Option<Arc<Vec<u32>>>,
}

/// Decoded values of one element kind.
#[derive(Debug)]
enum Values {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

macro_rules! swap_into {
    ($v:expr, $t:ty, $bytes:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        $v.extend($bytes.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            <$t>::from_be_bytes(a)
        }));
    }};
}

pub(crate) fn truncated(c: &[u8], bits: u32) -> f32 {
    let bits = bits.min(23) as u64;
    let exp = c[0] as u64;
    let man = u16::from_be_bytes([c[1], c[2]]) as u64;
    let mut iv = exp << 23;
    iv |= (man & ((1u64 << (bits + 1)) - 1)) << (23 - bits);
    let v = f32::from_bits(iv as u32);
    if (1u64 << (bits + 1)) & man != 0 {
        -v
    } else {
        v
    }
}

impl Values {
    fn new(elem: Elem) -> Values {
        match elem.data_type() {
            DataType::Boolean => Values::Bool(Vec::new()),
            DataType::Int8 => Values::I8(Vec::new()),
            DataType::UInt8 => Values::U8(Vec::new()),
            DataType::Int16 => Values::I16(Vec::new()),
            DataType::UInt16 => Values::U16(Vec::new()),
            DataType::Int32 => Values::I32(Vec::new()),
            DataType::UInt32 => Values::U32(Vec::new()),
            DataType::Int64 => Values::I64(Vec::new()),
            DataType::UInt64 => Values::U64(Vec::new()),
            DataType::Float32 => Values::F32(Vec::new()),
            _ => Values::F64(Vec::new()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::I8(v) => v.len(),
            Values::U8(v) => v.len(),
            Values::I16(v) => v.len(),
            Values::U16(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::U64(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    fn reserve(&mut self, n: usize) {
        match self {
            Values::Bool(v) => v.reserve(n),
            Values::I8(v) => v.reserve(n),
            Values::U8(v) => v.reserve(n),
            Values::I16(v) => v.reserve(n),
            Values::U16(v) => v.reserve(n),
            Values::I32(v) => v.reserve(n),
            Values::U32(v) => v.reserve(n),
            Values::I64(v) => v.reserve(n),
            Values::U64(v) => v.reserve(n),
            Values::F32(v) => v.reserve(n),
            Values::F64(v) => v.reserve(n),
        }
    }

    /// Appends the values stored big-endian in `bytes` (a whole number of `elem`s).
    fn push(&mut self, elem: Elem, bytes: &[u8]) {
        match (self, elem) {
            (Values::Bool(v), _) => v.extend(bytes.iter().map(|&b| b != 0)),
            (Values::I8(v), _) => v.extend(bytes.iter().map(|&b| b as i8)),
            (Values::U8(v), _) => v.extend_from_slice(bytes),
            (Values::I16(v), _) => swap_into!(v, i16, bytes),
            (Values::U16(v), _) => swap_into!(v, u16, bytes),
            (Values::I32(v), _) => swap_into!(v, i32, bytes),
            (Values::U32(v), _) => swap_into!(v, u32, bytes),
            (Values::I64(v), _) => swap_into!(v, i64, bytes),
            (Values::U64(v), _) => swap_into!(v, u64, bytes),
            (Values::F32(v), Elem::F32) => swap_into!(v, f32, bytes),
            (Values::F64(v), Elem::F64) => swap_into!(v, f64, bytes),
            (Values::F64(v), Elem::F32AsF64) => v.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f64),
            ),
            (Values::F32(v), Elem::Truncated { bits, .. }) => {
                v.extend(bytes.chunks_exact(3).map(|c| truncated(c, bits)))
            }
            (Values::F64(v), Elem::Truncated { bits, .. }) => {
                v.extend(bytes.chunks_exact(3).map(|c| truncated(c, bits) as f64))
            }
            (
                Values::F32(v),
                Elem::Packed {
                    low, high, bits, ..
                },
            ) => {
                let f = ((high - low) / (1u64 << bits) as f64) as f32;
                let low = low as f32;
                v.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f32 * f + low),
                )
            }
            (
                Values::F64(v),
                Elem::Packed {
                    low, high, bits, ..
                },
            ) => {
                let f = (high - low) / (1u64 << bits) as f64;
                v.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f64 * f + low),
                )
            }
            // Values::new chose the vector from the element's Arrow type, so no other pairs occur.
            _ => {}
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Values::Bool(v) => Arc::new(BooleanArray::from(v)),
            Values::I8(v) => prim::<Int8Type>(v),
            Values::U8(v) => prim::<UInt8Type>(v),
            Values::I16(v) => prim::<Int16Type>(v),
            Values::U16(v) => prim::<UInt16Type>(v),
            Values::I32(v) => prim::<Int32Type>(v),
            Values::U32(v) => prim::<UInt32Type>(v),
            Values::I64(v) => prim::<Int64Type>(v),
            Values::U64(v) => prim::<UInt64Type>(v),
            Values::F32(v) => prim::<Float32Type>(v),
            Values::F64(v) => prim::<Float64Type>(v),
        }
    }
}

fn prim<T: arrow_array::ArrowPrimitiveType>(v: Vec<T::Native>) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), None))
}

/// Wraps flat values into nested fixed-size lists.
pub(crate) fn shape(values: ArrayRef, dims: &[usize]) -> PResult<ArrayRef> {
    let mut arr = values;
    for &n in dims.iter().rev() {
        let field = Arc::new(Field::new_list_field(arr.data_type().clone(), true));
        arr = Arc::new(
            FixedSizeListArray::try_new(field, n as i32, arr, None)
                .map_err(|e| crate::error::Malformed(format!("fixed-size list: {e}")))?,
        );
    }
    Ok(arr)
}

pub(crate) fn list(values: ArrayRef, offsets: Vec<i32>) -> PResult<ArrayRef> {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    Ok(Arc::new(
        ListArray::try_new(field, offsets, values, None)
            .map_err(|e| crate::error::Malformed(format!("list: {e}")))?,
    ))
}

fn off(n: usize) -> PResult<i32> {
    i32::try_from(n).map_err(|_| crate::error::Malformed("more than 2^31 list values".into()))
}

/// Accumulates one column across baskets.
pub(crate) struct Builder {
    plan: Plan,
    values: Values,
    fields: Vec<Values>,
    outer: Vec<i32>,
    inner: Vec<i32>,
    bytes: Vec<u8>,
    rows: usize,
}

fn read_len(d: &[u8], p: &mut usize) -> PResult<usize> {
    let Some(&b) = d.get(*p) else {
        return malformed("string length runs past the entry");
    };
    *p += 1;
    if b == 255 {
        let Some(s) = d.get(*p..*p + 4) else {
            return malformed("string length runs past the entry");
        };
        *p += 4;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
    } else {
        Ok(b as usize)
    }
}

fn take<'a>(d: &'a [u8], p: &mut usize, n: usize) -> PResult<&'a [u8]> {
    match d.get(*p..p.saturating_add(n)) {
        Some(s) => {
            *p += n;
            Ok(s)
        }
        None => malformed(format!(
            "{n} bytes needed at {} of a {}-byte entry",
            *p,
            d.len()
        )),
    }
}

fn be_u32(d: &[u8], p: &mut usize) -> PResult<u32> {
    let s = take(d, p, 4)?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Checks a collection header (byte count and version) at `p` and moves past it.
fn stl_header(d: &[u8], p: &mut usize) -> PResult<()> {
    let bc = be_u32(d, p)?;
    let v = take(d, p, 2)?;
    let version = u16::from_be_bytes([v[0], v[1]]);
    if bc & BYTE_COUNT_MASK == 0 {
        return malformed("collection without a byte count");
    }
    if version & STREAMED_MEMBERWISE != 0 {
        return malformed("collection streamed member-wise is not supported");
    }
    Ok(())
}

/// The most entries a declared count may preallocate for (vectors still grow past it).
const CAPACITY_HINT_CAP: usize = 1 << 20;

impl Builder {
    pub(crate) fn new(plan: &Plan, capacity: usize) -> Builder {
        let (values, fields) = match plan {
            Plan::Fixed { elem, .. } | Plan::Jagged { elem, .. } | Plan::VecVec { elem } => {
                (Values::new(*elem), Vec::new())
            }
            Plan::LeafList { fields } => (
                Values::new(Elem::U8),
                fields.iter().map(|(_, e, _)| Values::new(*e)).collect(),
            ),
            _ => (Values::new(Elem::U8), Vec::new()),
        };
        // `capacity` comes from entry counts the file declares: a hint, capped so that a
        // hostile count cannot allocate before any data backs it.
        let mut outer = Vec::with_capacity(capacity.min(CAPACITY_HINT_CAP) + 1);
        outer.push(0);
        Builder {
            plan: plan.clone(),
            values,
            fields,
            outer,
            inner: vec![0],
            bytes: Vec::new(),
            rows: 0,
        }
    }

    /// Reserves room for the values held in `bytes` bytes of basket data (an upper bound:
    /// headers and unread entries are counted too), for the plans whose values are numbers.
    pub(crate) fn reserve_values(&mut self, bytes: usize) {
        if let Plan::Fixed { elem, .. } | Plan::Jagged { elem, .. } | Plan::VecVec { elem } =
            &self.plan
        {
            let n = bytes / elem.size().max(1);
            self.values.reserve(n.saturating_sub(self.values.len()));
        }
    }

    /// Bytes of one entry of a fixed-size plan.
    pub(crate) fn fixed_entry_size(plan: &Plan) -> Option<usize> {
        match plan {
            Plan::Fixed { elem, dims } => Some(elem.size() * dims.iter().product::<usize>()),
            Plan::LeafList { fields } => Some(
                fields
                    .iter()
                    .map(|(_, e, d)| e.size() * d.iter().product::<usize>())
                    .sum(),
            ),
            _ => None,
        }
    }

    /// Appends entries `[a, b)` of a basket. `counts` gives the number of items per entry of the
    /// whole basket for jagged branches written without entry offsets.
    pub(crate) fn push(
        &mut self,
        basket: &Loaded,
        a: usize,
        b: usize,
        counts: Option<&[u32]>,
    ) -> PResult<()> {
        if a > b || b > basket.entries {
            return malformed(format!(
                "entries {a}..{b} requested from a basket of {}",
                basket.entries
            ));
        }
        let d = basket.data.as_slice();
        let plan = self.plan.clone();
        if let Some(size) = Self::fixed_entry_size(&plan) {
            let need = basket.entries.checked_mul(size);
            if need.is_none_or(|n| n > d.len()) {
                return malformed(format!(
                    "basket holds {} bytes, too few for {} entries of {size} bytes",
                    d.len(),
                    basket.entries
                ));
            }
            let chunk = &d[a * size..b * size];
            match &plan {
                Plan::Fixed { elem, .. } => {
                    self.values.reserve(chunk.len() / elem.size().max(1));
                    self.values.push(*elem, chunk);
                }
                Plan::LeafList { fields } => {
                    for entry in chunk.chunks_exact(size.max(1)) {
                        let mut p = 0;
                        for ((_, e, dims), vals) in fields.iter().zip(self.fields.iter_mut()) {
                            let n = e.size() * dims.iter().product::<usize>();
                            vals.push(*e, &entry[p..p + n]);
                            p += n;
                        }
                    }
                }
                _ => {}
            }
            self.rows += b - a;
            return Ok(());
        }
        if let Plan::Jagged {
            elem,
            dims,
            header: 0,
            ..
        } = &plan
        {
            // Leaf-lists `T[n]`: entries lie back to back, so all of `a..b` is one copy and
            // the list offsets follow from the entry boundaries.
            let item = elem.size() * dims.iter().product::<usize>();
            return self.push_leaf_list(basket, a, b, counts, *elem, item);
        }
        let ranges = self.entry_ranges(basket, counts)?;
        for &(s, e) in &ranges[a..b] {
            self.push_entry(&d[s..e])?;
        }
        self.rows += b - a;
        Ok(())
    }

    /// Appends entries `[a, b)` of a leaf-list basket: entry boundaries from the basket's entry
    /// offsets, or from the counter's `counts` when it has none.
    fn push_leaf_list(
        &mut self,
        basket: &Loaded,
        a: usize,
        b: usize,
        counts: Option<&[u32]>,
        elem: Elem,
        item: usize,
    ) -> PResult<()> {
        let d = basket.data.as_slice();
        let n = basket.entries;
        if item == 0 {
            return malformed("leaf-list of zero-sized items");
        }
        let mut last = *self.outer.last().unwrap_or(&0);
        self.outer.reserve(b - a);
        let (start, end) = match (&basket.offsets, counts) {
            (Some(o), _) => {
                if o.len() != n + 1 {
                    return malformed("entry offset table does not match the entry count");
                }
                let bounds = &o[a..=b];
                let (first, end) = (bounds[0] as usize, bounds[b - a] as usize);
                if first > end || end - first > i32::MAX as usize {
                    return malformed("entry offsets out of order or too large");
                }
                // The list offset of each entry is its byte offset / item size; item sizes are
                // almost always powers of two, where that is a shift (no division per entry).
                let base = last as i64 - (first / item) as i64;
                // Written as plain maps and folds so that they vectorise.
                let ordered = bounds.windows(2).fold(true, |ok, w| ok & (w[0] <= w[1]));
                let aligned = if item.is_power_of_two() {
                    let (shift, mask) = (item.trailing_zeros(), item as u32 - 1);
                    let first = first as u32;
                    self.outer.extend(
                        bounds[1..]
                            .iter()
                            .map(|&o| (base + (o >> shift) as i64) as i32),
                    );
                    bounds
                        .iter()
                        .fold(true, |ok, &o| ok & (o.wrapping_sub(first) & mask == 0))
                } else {
                    self.outer.extend(
                        bounds[1..]
                            .iter()
                            .map(|&o| (base + (o as usize / item) as i64) as i32),
                    );
                    bounds.iter().fold(true, |ok, &o| {
                        ok & ((o as usize).wrapping_sub(first) % item == 0)
                    })
                };
                let bad = !(ordered && aligned);
                if bad || base + (end / item) as i64 > i32::MAX as i64 {
                    return malformed(format!(
                        "entries are not whole numbers of {item}-byte items, or out of order"
                    ));
                }
                (first, end)
            }
            (None, Some(counts)) => {
                if counts.len() != n {
                    return malformed("counter branch does not match the basket's entries");
                }
                let before: usize = counts[..a].iter().map(|&c| c as usize).sum();
                let mut items = 0usize;
                for &c in &counts[a..b] {
                    items += c as usize;
                    last = last.checked_add(off(c as usize)?).ok_or_else(|| {
                        crate::error::Malformed("more than 2^31 list values".into())
                    })?;
                    self.outer.push(last);
                }
                let start = before.checked_mul(item);
                let end = (before + items).checked_mul(item);
                match (start, end) {
                    (Some(s), Some(e)) => (s, e),
                    _ => return malformed("counter values overflow"),
                }
            }
            (None, None) => {
                return malformed("variable-length branch without entry offsets or counter");
            }
        };
        if start > end || end > d.len() {
            return malformed(format!(
                "entries span bytes {start}..{end} of a basket of {} bytes",
                d.len()
            ));
        }
        self.values.push(elem, &d[start..end]);
        self.rows += b - a;
        Ok(())
    }

    /// Byte ranges of every entry of the basket.
    fn entry_ranges(
        &self,
        basket: &Loaded,
        counts: Option<&[u32]>,
    ) -> PResult<Vec<(usize, usize)>> {
        let d = basket.data.as_slice();
        let n = basket.entries;
        if let Some(o) = &basket.offsets {
            if o.len() != n + 1 {
                return malformed("entry offset table does not match the entry count");
            }
            return Ok(o
                .windows(2)
                .map(|w| (w[0] as usize, w[1] as usize))
                .collect());
        }
        let mut out = Vec::with_capacity(n.min(CAPACITY_HINT_CAP));
        let mut p = 0usize;
        match &self.plan {
            Plan::Jagged {
                elem, dims, header, ..
            } if *header != 10 => {
                let Some(counts) = counts else {
                    return malformed("variable-length branch without entry offsets or counter");
                };
                if counts.len() != n {
                    return malformed("counter branch does not match the basket's entries");
                }
                let item = elem.size() * dims.iter().product::<usize>();
                for &c in counts {
                    let len = header + c as usize * item;
                    if p + len > d.len() {
                        return malformed("counter values run past the basket's data");
                    }
                    out.push((p, p + len));
                    p += len;
                }
            }
            Plan::Str { header } => {
                for _ in 0..n {
                    let s = p;
                    p += header;
                    let len = read_len(d, &mut p)?;
                    take(d, &mut p, len)?;
                    out.push((s, p));
                }
            }
            _ => {
                // collections: the byte count tells each entry's length
                for _ in 0..n {
                    let s = p;
                    let bc = be_u32(d, &mut p)?;
                    if bc & BYTE_COUNT_MASK == 0 {
                        return malformed("collection without a byte count");
                    }
                    let len = (bc & !BYTE_COUNT_MASK) as usize;
                    take(d, &mut p, len)?;
                    out.push((s, p));
                }
            }
        }
        Ok(out)
    }

    fn push_entry(&mut self, e: &[u8]) -> PResult<()> {
        let mut p = 0usize;
        match &self.plan {
            Plan::Jagged {
                elem, dims, header, ..
            } => {
                let item = elem.size() * dims.iter().product::<usize>();
                if *header == 10 {
                    stl_header(e, &mut p)?;
                    let n = be_u32(e, &mut p)? as usize;
                    let body = take(e, &mut p, n.saturating_mul(item))?;
                    self.values.push(*elem, body);
                    let last = *self.outer.last().unwrap_or(&0);
                    self.outer.push(last + off(n)?);
                } else {
                    take(e, &mut p, *header)?;
                    let body = &e[p..];
                    if item == 0 || !body.len().is_multiple_of(item) {
                        return malformed(format!(
                            "entry of {} bytes is not a whole number of {item}-byte items",
                            body.len()
                        ));
                    }
                    self.values.push(*elem, body);
                    let last = *self.outer.last().unwrap_or(&0);
                    self.outer.push(last + off(body.len() / item)?);
                }
            }
            Plan::Str { header } => {
                take(e, &mut p, *header)?;
                let len = read_len(e, &mut p)?;
                let s = take(e, &mut p, len)?;
                self.push_str(s)?;
                let last = *self.outer.last().unwrap_or(&0);
                self.outer.push(last + 1);
            }
            Plan::VecStr => {
                stl_header(e, &mut p)?;
                let n = be_u32(e, &mut p)? as usize;
                if n > e.len() {
                    return malformed(format!("vector of {n} strings in a {}-byte entry", e.len()));
                }
                for _ in 0..n {
                    let len = read_len(e, &mut p)?;
                    let s = take(e, &mut p, len)?;
                    self.push_str(s)?;
                }
                let last = *self.outer.last().unwrap_or(&0);
                self.outer.push(last + off(n)?);
            }
            Plan::VecVec { elem } => {
                stl_header(e, &mut p)?;
                let n = be_u32(e, &mut p)? as usize;
                if n > e.len() {
                    return malformed(format!("vector of {n} vectors in a {}-byte entry", e.len()));
                }
                for _ in 0..n {
                    let m = be_u32(e, &mut p)? as usize;
                    let body = take(e, &mut p, m.saturating_mul(elem.size()))?;
                    self.values.push(*elem, body);
                    let last = *self.inner.last().unwrap_or(&0);
                    self.inner.push(last + off(m)?);
                }
                let last = *self.outer.last().unwrap_or(&0);
                self.outer.push(last + off(n)?);
            }
            Plan::Fixed { .. } | Plan::LeafList { .. } => {}
        }
        Ok(())
    }

    /// Appends one string (to `inner` offsets for vectors of strings, `outer` for strings).
    fn push_str(&mut self, s: &[u8]) -> PResult<()> {
        match std::str::from_utf8(s) {
            Ok(_) => self.bytes.extend_from_slice(s),
            Err(_) => self
                .bytes
                .extend_from_slice(String::from_utf8_lossy(s).as_bytes()),
        }
        if matches!(self.plan, Plan::VecStr) {
            self.inner.push(off(self.bytes.len())?);
        } else {
            // outer offsets for plain strings count bytes: fix up in `finish`
            self.inner.push(off(self.bytes.len())?);
        }
        Ok(())
    }

    /// Builds the Arrow array.
    pub(crate) fn finish(self) -> PResult<ArrayRef> {
        match self.plan {
            Plan::Fixed { dims, .. } => shape(self.values.finish(), &dims),
            Plan::Jagged { dims, .. } => {
                let v = shape(self.values.finish(), &dims)?;
                list(v, self.outer)
            }
            Plan::Str { .. } => strings(self.inner, self.bytes),
            Plan::VecStr => list(strings(self.inner, self.bytes)?, self.outer),
            Plan::VecVec { .. } => {
                let inner = list(self.values.finish(), self.inner)?;
                list(inner, self.outer)
            }
            Plan::LeafList { fields } => {
                let mut arrays = Vec::new();
                let mut fs = Vec::new();
                for ((name, e, dims), vals) in fields.iter().zip(self.fields) {
                    let _ = vals.len();
                    let a = shape(vals.finish(), dims)?;
                    fs.push(Field::new(name, shaped(e.data_type(), dims), false));
                    arrays.push(a);
                }
                if arrays.is_empty() {
                    return malformed("leaf-list without leaves");
                }
                Ok(Arc::new(
                    StructArray::try_new(Fields::from(fs), arrays, None)
                        .map_err(|e| crate::error::Malformed(format!("struct: {e}")))?,
                ))
            }
        }
    }

    /// Number of rows appended so far.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }
}

fn strings(offsets: Vec<i32>, bytes: Vec<u8>) -> PResult<ArrayRef> {
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    Ok(Arc::new(
        StringArray::try_new(offsets, bytes.into(), None)
            .map_err(|e| crate::error::Malformed(format!("strings: {e}")))?,
    ))
}

/// An empty array of a plan's type.
pub(crate) fn empty(plan: &Plan) -> PResult<ArrayRef> {
    Builder::new(plan, 0).finish()
}

#[allow(dead_code)]
fn _types_are_consistent(plan: &Plan) -> DataType {
    match plan {
        Plan::VecVec { elem } => list_of(list_of(elem.data_type())),
        other => other.data_type(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow_array::Array;

    fn loaded(data: Vec<u8>, entries: usize, offsets: Option<Vec<u32>>) -> Loaded {
        Loaded {
            entries,
            data: Arc::new(data),
            offsets: offsets.map(Arc::new),
        }
    }

    #[test]
    fn fixed_and_jagged() {
        let data: Vec<u8> = [1i32, -2, 3].iter().flat_map(|v| v.to_be_bytes()).collect();
        let plan = Plan::Fixed {
            elem: Elem::I32,
            dims: vec![],
        };
        let mut b = Builder::new(&plan, 3);
        b.push(&loaded(data.clone(), 3, None), 1, 3, None).unwrap();
        let a = b.finish().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a.data_type(), &plan.data_type());

        let plan = Plan::Jagged {
            elem: Elem::I32,
            dims: vec![],
            header: 0,
            counter: None,
        };
        let mut b = Builder::new(&plan, 3);
        b.push(
            &loaded(data.clone(), 3, Some(vec![0, 0, 8, 12])),
            0,
            3,
            None,
        )
        .unwrap();
        let a = b.finish().unwrap();
        let l = a.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(l.value_offsets(), &[0, 0, 2, 3]);

        // without offsets, from counter values
        let mut b = Builder::new(&plan, 3);
        b.push(&loaded(data.clone(), 2, None), 0, 2, Some(&[1, 2]))
            .unwrap();
        let a = b.finish().unwrap();
        assert_eq!(
            a.as_any()
                .downcast_ref::<ListArray>()
                .unwrap()
                .value_offsets(),
            &[0, 1, 3]
        );
        // counts that overrun
        let mut b = Builder::new(&plan, 3);
        assert!(b.push(&loaded(data, 2, None), 0, 2, Some(&[1, 5])).is_err());
    }

    #[test]
    fn strings_and_vectors_truncated_everywhere() {
        // vector<string> entry: header, n=2, "ab", "c"
        let body: Vec<u8> = [&2u32.to_be_bytes()[..], &[2, b'a', b'b', 1, b'c']].concat();
        let mut e = (((body.len() + 2) as u32) | BYTE_COUNT_MASK)
            .to_be_bytes()
            .to_vec();
        e.extend([0, 6]);
        e.extend(&body);
        let n = e.len() as u32;
        let mut b = Builder::new(&Plan::VecStr, 1);
        b.push(&loaded(e.clone(), 1, Some(vec![0, n])), 0, 1, None)
            .unwrap();
        let a = b.finish().unwrap();
        assert_eq!(a.len(), 1);
        for cut in 0..e.len() {
            let mut b = Builder::new(&Plan::VecStr, 1);
            let r = b.push(
                &loaded(e[..cut].to_vec(), 1, Some(vec![0, cut as u32])),
                0,
                1,
                None,
            );
            assert!(r.is_err(), "cut {cut}");
            let mut b = Builder::new(&Plan::VecStr, 1);
            assert!(
                b.push(&loaded(e[..cut].to_vec(), 1, None), 0, 1, None)
                    .is_err()
            );
        }
    }

    #[test]
    fn float16_truncation() {
        // exponent 127 (1.0), mantissa 0 → 1.0; sign bit → -1.0
        assert_eq!(truncated(&[127, 0, 0], 12), 1.0);
        assert_eq!(truncated(&[127, 0x20, 0], 12), -1.0);
    }
}
