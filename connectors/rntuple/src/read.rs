//! Reading: one decoding task per (cluster, column) run in parallel, then the field tree is
//! walked cluster by cluster to line the columns up (padding deferred columns, turning
//! cluster-relative offsets into global ones), and finally Arrow arrays are built from the
//! gathered buffers without copying them again.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, ListArray, NullArray, PrimitiveArray,
    StringArray, StructArray, UInt32Array, UInt64Array, UnionArray,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, UnionFields};
use hepq_root::RootFile;
use rayon::prelude::*;

use crate::column::{ColumnSpec, ColumnType, decode_page, decode_page_into, decode_switch};
use crate::field::{Kind, Leaf, Plan, Target};
use crate::meta::{Cluster, ColumnPages, ColumnRec};

/// The most bytes the direct read allocates for one column's values; past it the general
/// gather, which grows with the pages actually decoded, reads the fields.
const MAX_COLUMN_BYTES: usize = 1 << 32;

/// The largest page (uncompressed) this reader accepts.
const MAX_PAGE_BYTES: usize = 1 << 30;

/// Scratch memory larger than this is given back after each page instead of kept.
const KEEP_SCRATCH: usize = 64 << 20;

thread_local! {
    /// This thread's page-record and decompressed-page buffers, reused from page to page.
    static PAGE_SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Makes `v` at least `n` bytes long (zero-filling only what it never held).
fn grow(v: &mut Vec<u8>, n: usize) {
    if v.len() < n {
        v.resize(n, 0);
    }
}

/// Decoded values of one column slot.
#[derive(Debug)]
pub(crate) enum Buf {
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
    Switch(Vec<u64>, Vec<u32>),
}

macro_rules! each_buf {
    ($b:expr, $v:ident => $e:expr, $i:ident, $t:ident => $s:expr) => {
        match $b {
            Buf::Bool($v) => $e,
            Buf::I8($v) => $e,
            Buf::U8($v) => $e,
            Buf::I16($v) => $e,
            Buf::U16($v) => $e,
            Buf::I32($v) => $e,
            Buf::U32($v) => $e,
            Buf::I64($v) => $e,
            Buf::U64($v) => $e,
            Buf::F32($v) => $e,
            Buf::F64($v) => $e,
            Buf::Switch($i, $t) => $s,
        }
    };
}

impl Buf {
    fn new(t: Target) -> Buf {
        match t {
            Target::Leaf(l) => match l {
                Leaf::Bool => Buf::Bool(Vec::new()),
                Leaf::I8 => Buf::I8(Vec::new()),
                Leaf::U8 => Buf::U8(Vec::new()),
                Leaf::I16 => Buf::I16(Vec::new()),
                Leaf::U16 => Buf::U16(Vec::new()),
                Leaf::I32 => Buf::I32(Vec::new()),
                Leaf::U32 => Buf::U32(Vec::new()),
                Leaf::I64 => Buf::I64(Vec::new()),
                Leaf::U64 => Buf::U64(Vec::new()),
                Leaf::F32 => Buf::F32(Vec::new()),
                Leaf::F64 => Buf::F64(Vec::new()),
            },
            Target::Index => Buf::U64(Vec::new()),
            Target::Chars => Buf::U8(Vec::new()),
            Target::Switch => Buf::Switch(Vec::new(), Vec::new()),
        }
    }

    fn len(&self) -> usize {
        each_buf!(self, v => v.len(), i, _t => i.len())
    }

    fn decode(&mut self, spec: &ColumnSpec, raw: &[u8], n: usize) -> Result<(), String> {
        each_buf!(self, v => decode_page(spec, raw, n, v), i, t => decode_switch(raw, n, i, t))
    }

    /// Puts `k` zero elements in front (the synthetic leading pages of a deferred column).
    fn pad_front(&mut self, k: usize) {
        fn pad<T: Default + Clone>(v: &mut Vec<T>, k: usize) {
            v.splice(0..0, std::iter::repeat_n(T::default(), k));
        }
        each_buf!(self, v => pad(v, k), i, t => { pad(i, k); pad(t, k) })
    }

    fn append(&mut self, other: Buf) -> Result<(), String> {
        match (self, other) {
            (Buf::Bool(a), Buf::Bool(b)) => a.extend(b),
            (Buf::I8(a), Buf::I8(b)) => a.extend(b),
            (Buf::U8(a), Buf::U8(b)) => a.extend(b),
            (Buf::I16(a), Buf::I16(b)) => a.extend(b),
            (Buf::U16(a), Buf::U16(b)) => a.extend(b),
            (Buf::I32(a), Buf::I32(b)) => a.extend(b),
            (Buf::U32(a), Buf::U32(b)) => a.extend(b),
            (Buf::I64(a), Buf::I64(b)) => a.extend(b),
            (Buf::U64(a), Buf::U64(b)) => a.extend(b),
            (Buf::F32(a), Buf::F32(b)) => a.extend(b),
            (Buf::F64(a), Buf::F64(b)) => a.extend(b),
            (Buf::Switch(a, b), Buf::Switch(c, d)) => {
                a.extend(c);
                b.extend(d);
            }
            _ => return Err("internal: mismatched buffer kinds".into()),
        }
        Ok(())
    }

    fn into_u64(self) -> Result<Vec<u64>, String> {
        match self {
            Buf::U64(v) => Ok(v),
            _ => Err("internal: expected an index buffer".into()),
        }
    }
}

/// Everything a read needs from the RNTuple.
pub(crate) struct Source<'a> {
    pub(crate) file: &'a RootFile,
    pub(crate) columns: &'a [ColumnRec],
    pub(crate) clusters: &'a [Cluster],
    pub(crate) max_key_size: u64,
}

/// One decoding task: the pages of one column in one cluster.
struct Task<'a> {
    cluster: usize,
    slot: usize,
    column: usize,
    spec: ColumnSpec,
    target: Target,
    pages: Option<&'a ColumnPages>,
}

/// A decoded (cluster, slot) chunk and the number of zero elements a deferred column may add.
struct Chunk {
    buf: Buf,
    column: usize,
    pad_limit: u64,
}

impl Source<'_> {
    fn spec(&self, c: usize) -> Result<ColumnSpec, String> {
        let rec = self
            .columns
            .get(c)
            .ok_or_else(|| format!("column {c} does not exist"))?;
        let ty = ColumnType::from_code(rec.ty)
            .ok_or_else(|| format!("column {c} has unknown type {:#x}", rec.ty))?;
        Ok(ColumnSpec {
            ty,
            bits: rec.bits,
            range: rec.range,
        })
    }

    /// Chooses the representation of `plan` active in `cluster`: the first one whose columns
    /// are not suppressed there.
    fn representation<'p>(&self, plan: &'p Plan, cluster: usize) -> Result<&'p [usize], String> {
        let cl = &self.clusters[cluster];
        for cols in &plan.reprs {
            let Some(&first) = cols.first() else { continue };
            match cl.columns.get(first) {
                Some(p) if p.suppressed => continue,
                _ => return Ok(cols),
            }
        }
        Err(format!(
            "every column representation is suppressed in cluster {cluster}"
        ))
    }

    fn decode(&self, t: &Task<'_>) -> Result<Buf, String> {
        let mut buf = Buf::new(t.target);
        let Some(pages) = t.pages else {
            return Ok(buf);
        };
        self.each_page(t, pages, |page, n| buf.decode(&t.spec, page, n))?;
        Ok(buf)
    }

    /// Reads, checks and decompresses each page of `pages` in turn (into this thread's reused
    /// memory) and hands it to `f` with its element count.
    fn each_page(
        &self,
        t: &Task<'_>,
        pages: &ColumnPages,
        mut f: impl FnMut(&[u8], usize) -> Result<(), String>,
    ) -> Result<(), String> {
        for (pi, p) in pages.pages.iter().enumerate() {
            let ctx = |e: String| {
                format!(
                    "column {} ({}), cluster {}, page {pi}: {e}",
                    t.column,
                    t.spec.ty.name(),
                    t.cluster
                )
            };
            let n = p.elements as usize;
            let need = t
                .spec
                .page_bytes(n)
                .filter(|&b| b <= MAX_PAGE_BYTES)
                .ok_or_else(|| ctx(format!("a page of {n} elements is too large")))?;
            if p.loc.size > self.max_key_size {
                return Err(ctx(format!(
                    "the page ({} bytes) is stored over several keys (larger than the maximum key size {}), which is not supported",
                    p.loc.size, self.max_key_size
                )));
            }
            let size = usize::try_from(p.loc.size)
                .ok()
                .filter(|&s| s <= MAX_PAGE_BYTES)
                .ok_or_else(|| ctx(format!("a page of {} bytes is too large", p.loc.size)))?;
            let with_sum = size + if p.checksum { 8 } else { 0 };
            PAGE_SCRATCH.with(|cell| {
                let mut cell = cell.borrow_mut();
                let (record, page) = &mut *cell;
                grow(record, with_sum);
                let raw = &mut record[..with_sum];
                self.file
                    .read_range_into(p.loc.offset, raw, "RNTuple page")
                    .map_err(|e| ctx(e.to_string()))?;
                let (data, sum) = raw.split_at(size);
                if p.checksum {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(sum);
                    let stored = u64::from_le_bytes(a);
                    let computed = xxhash_rust::xxh3::xxh3_64(data);
                    if stored != computed {
                        return Err(ctx(format!(
                            "page checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
                        )));
                    }
                }
                // The declared size is checked against the blocks' own headers before the
                // scratch memory grows to it.
                hepq_root::compression::check_blocks(data, need)
                    .map_err(|e| ctx(format!("decompression failed: {e}")))?;
                grow(page, need);
                let page = &mut page[..need];
                hepq_root::compression::decompress_into(data, page)
                    .map_err(|e| ctx(format!("decompression failed: {e}")))?;
                let r = f(page, n).map_err(ctx);
                let (record, page) = &mut *cell;
                for v in [record, page] {
                    if v.len() > KEEP_SCRATCH {
                        *v = Vec::new();
                    }
                }
                r
            })?;
        }
        Ok(())
    }
}

/// Gathered, cluster-aligned buffers of each slot.
struct Slot {
    buf: Buf,
    /// For index slots: elements of the child so far. For switch slots: per alternative.
    running: Vec<u64>,
}

struct Gather<'a> {
    chunks: HashMap<(usize, usize), Chunk>,
    slots: Vec<Slot>,
    ids: &'a HashMap<(usize, usize), usize>,
}

fn check_offsets(idx: &[u64]) -> Result<u64, String> {
    let mut prev = 0;
    for &v in idx {
        if v < prev {
            return Err(format!("collection offsets decrease ({prev} then {v})"));
        }
        prev = v;
    }
    Ok(prev)
}

impl Gather<'_> {
    fn slot(&self, field: usize, k: usize) -> Result<usize, String> {
        self.ids
            .get(&(field, k))
            .copied()
            .ok_or_else(|| "internal: unplanned column slot".to_string())
    }

    /// The chunk of (cluster, slot), padded to `need` elements.
    fn take(&mut self, cluster: usize, slot: usize, need: u64) -> Result<Buf, String> {
        let Some(mut c) = self.chunks.remove(&(cluster, slot)) else {
            return Err("internal: missing chunk".into());
        };
        let have = c.buf.len() as u64;
        if have > need {
            return Err(format!(
                "column {} has {have} elements in cluster {cluster} where {need} are expected",
                c.column
            ));
        }
        if have < need {
            let pad = need - have;
            if pad > c.pad_limit {
                return Err(format!(
                    "column {} has {have} elements in cluster {cluster} where {need} are expected",
                    c.column
                ));
            }
            c.buf.pad_front(pad as usize);
        }
        Ok(c.buf)
    }

    fn push(&mut self, slot: usize, b: Buf) -> Result<(), String> {
        self.slots[slot].buf.append(b)
    }

    fn index(&mut self, cluster: usize, slot: usize, need: u64) -> Result<(Vec<u64>, u64), String> {
        let idx = self.take(cluster, slot, need)?.into_u64()?;
        let last = check_offsets(&idx)?;
        Ok((idx, last))
    }

    fn push_index(&mut self, slot: usize, mut idx: Vec<u64>, n_child: u64) -> Result<(), String> {
        let base = self.slots[slot].running[0];
        for v in &mut idx {
            *v += base;
        }
        self.slots[slot].running[0] = base
            .checked_add(n_child)
            .ok_or_else(|| "offsets overflow".to_string())?;
        self.push(slot, Buf::U64(idx))
    }

    fn run(&mut self, plan: &Plan, cluster: usize, need: u64) -> Result<(), String> {
        match &plan.kind {
            Kind::Leaf(_) => {
                let s = self.slot(plan.field, 0)?;
                let b = self.take(cluster, s, need)?;
                self.push(s, b)
            }
            Kind::Bitset(n) => {
                let s = self.slot(plan.field, 0)?;
                let total = need
                    .checked_mul(*n as u64)
                    .ok_or_else(|| "element count overflows".to_string())?;
                let b = self.take(cluster, s, total)?;
                self.push(s, b)
            }
            Kind::String => {
                let s = self.slot(plan.field, 0)?;
                let c = self.slot(plan.field, 1)?;
                let (idx, last) = self.index(cluster, s, need)?;
                let chars = self.take(cluster, c, last)?;
                self.push(c, chars)?;
                self.push_index(s, idx, last)
            }
            Kind::Cardinality { .. } => {
                let s = self.slot(plan.field, 0)?;
                let (idx, _) = self.index(cluster, s, need)?;
                let mut prev = 0;
                let lens: Vec<u64> = idx
                    .iter()
                    .map(|&v| {
                        let l = v - prev;
                        prev = v;
                        l
                    })
                    .collect();
                self.push(s, Buf::U64(lens))
            }
            Kind::List(child) | Kind::Optional(child) => {
                let s = self.slot(plan.field, 0)?;
                let (idx, last) = self.index(cluster, s, need)?;
                self.run(child, cluster, last)?;
                self.push_index(s, idx, last)
            }
            Kind::Array(child, n) => {
                let total = need
                    .checked_mul(*n as u64)
                    .ok_or_else(|| "element count overflows".to_string())?;
                self.run(child, cluster, total)
            }
            Kind::Struct(members) => {
                for (_, m) in members {
                    self.run(m, cluster, need)?;
                }
                Ok(())
            }
            Kind::Variant(alts) => {
                let s = self.slot(plan.field, 0)?;
                let Buf::Switch(mut index, tags) = self.take(cluster, s, need)? else {
                    return Err("internal: expected a switch buffer".into());
                };
                let mut counts = vec![0u64; alts.len() + 1];
                for (&t, i) in tags.iter().zip(index.iter_mut()) {
                    let t = t as usize;
                    if t > alts.len() {
                        return Err(format!(
                            "variant tag {t} but the variant has {} alternatives",
                            alts.len()
                        ));
                    }
                    if t == 0 {
                        *i = counts[0];
                    }
                    counts[t] += 1;
                }
                for (&t, &i) in tags.iter().zip(index.iter()) {
                    if t != 0 && i >= counts[t as usize] {
                        return Err(format!(
                            "variant index {i} of alternative {t} is out of range ({} elements)",
                            counts[t as usize]
                        ));
                    }
                }
                for (k, a) in alts.iter().enumerate() {
                    self.run(a, cluster, counts[k + 1])?;
                }
                let running = &mut self.slots[s].running;
                for (&t, i) in tags.iter().zip(index.iter_mut()) {
                    *i += running[t as usize];
                }
                for (r, c) in running.iter_mut().zip(&counts) {
                    *r += c;
                }
                self.push(s, Buf::Switch(index, tags))
            }
        }
    }
}

/// Takes a gathered buffer out of its slot.
fn take_slot(slots: &mut [Slot], s: usize) -> Buf {
    std::mem::replace(&mut slots[s].buf, Buf::Bool(Vec::new()))
}

fn offsets_i32(idx: &[u64]) -> Result<OffsetBuffer<i32>, String> {
    let mut out = Vec::with_capacity(idx.len() + 1);
    out.push(0i32);
    for &v in idx {
        out.push(i32::try_from(v).map_err(|_| {
            format!("{v} elements exceed the 2^31 that one Arrow list or string array can hold")
        })?);
    }
    // the offsets were checked to be non-decreasing while gathering
    Ok(OffsetBuffer::new(ScalarBuffer::from(out)))
}

fn prim<T: arrow_array::ArrowPrimitiveType>(v: Vec<T::Native>) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), None))
}

/// The Arrow array of a leaf's values.
fn leaf_array(buf: Buf) -> Result<ArrayRef, String> {
    Ok(match buf {
        Buf::Bool(v) => Arc::new(BooleanArray::from(v)),
        Buf::I8(v) => prim::<Int8Type>(v),
        Buf::U8(v) => prim::<UInt8Type>(v),
        Buf::I16(v) => prim::<Int16Type>(v),
        Buf::U16(v) => prim::<UInt16Type>(v),
        Buf::I32(v) => prim::<Int32Type>(v),
        Buf::U32(v) => prim::<UInt32Type>(v),
        Buf::I64(v) => prim::<Int64Type>(v),
        Buf::U64(v) => prim::<UInt64Type>(v),
        Buf::F32(v) => prim::<Float32Type>(v),
        Buf::F64(v) => prim::<Float64Type>(v),
        Buf::Switch(..) => return Err("internal: switch buffer for a leaf".into()),
    })
}

fn build(plan: &Plan, len: usize, g: &mut Gather<'_>) -> Result<ArrayRef, String> {
    let item = |p: &Plan| Arc::new(Field::new_list_field(p.data_type.clone(), true));
    let arr: ArrayRef = match &plan.kind {
        Kind::Leaf(_) => {
            let s = g.slot(plan.field, 0)?;
            leaf_array(take_slot(&mut g.slots, s))?
        }
        Kind::Bitset(n) => {
            let s = g.slot(plan.field, 0)?;
            let Buf::Bool(v) = take_slot(&mut g.slots, s) else {
                return Err("internal: expected bits".into());
            };
            let values = Arc::new(BooleanArray::from(v));
            let f = Arc::new(Field::new_list_field(DataType::Boolean, true));
            Arc::new(
                FixedSizeListArray::try_new(f, *n as i32, values, None)
                    .map_err(|e| e.to_string())?,
            )
        }
        Kind::String => {
            let s = g.slot(plan.field, 0)?;
            let c = g.slot(plan.field, 1)?;
            let idx = take_slot(&mut g.slots, s).into_u64()?;
            let Buf::U8(chars) = take_slot(&mut g.slots, c) else {
                return Err("internal: expected characters".into());
            };
            let offsets = offsets_i32(&idx)?;
            Arc::new(
                StringArray::try_new(offsets, Buffer::from_vec(chars), None)
                    .map_err(|e| format!("string values: {e}"))?,
            )
        }
        Kind::Cardinality { wide } => {
            let s = g.slot(plan.field, 0)?;
            let lens = take_slot(&mut g.slots, s).into_u64()?;
            if *wide {
                Arc::new(UInt64Array::from(lens))
            } else {
                let v = lens
                    .into_iter()
                    .map(|l| {
                        u32::try_from(l).map_err(|_| format!("cardinality {l} exceeds 32 bits"))
                    })
                    .collect::<Result<Vec<u32>, String>>()?;
                Arc::new(UInt32Array::from(v))
            }
        }
        Kind::List(child) => {
            let s = g.slot(plan.field, 0)?;
            let idx = take_slot(&mut g.slots, s).into_u64()?;
            let n_child = idx.last().copied().unwrap_or(0) as usize;
            let values = build(child, n_child, g)?;
            let offsets = offsets_i32(&idx)?;
            Arc::new(
                ListArray::try_new(item(child), offsets, values, None)
                    .map_err(|e| e.to_string())?,
            )
        }
        Kind::Optional(child) => {
            let s = g.slot(plan.field, 0)?;
            let idx = take_slot(&mut g.slots, s).into_u64()?;
            let n_child = idx.last().copied().unwrap_or(0) as usize;
            let values = build(child, n_child, g)?;
            let mut prev = 0u64;
            let mut take = Vec::with_capacity(idx.len());
            for &v in &idx {
                match v - prev {
                    0 => take.push(None),
                    1 => take.push(Some(prev)),
                    n => return Err(format!("an optional value holds {n} elements")),
                }
                prev = v;
            }
            let indices = UInt64Array::from(take);
            arrow_select::take::take(values.as_ref(), &indices, None).map_err(|e| e.to_string())?
        }
        Kind::Array(child, n) => {
            let total = len
                .checked_mul(*n)
                .ok_or_else(|| "element count overflows".to_string())?;
            let values = build(child, total, g)?;
            Arc::new(
                FixedSizeListArray::try_new(item(child), *n as i32, values, None)
                    .map_err(|e| e.to_string())?,
            )
        }
        Kind::Struct(members) => {
            if members.is_empty() {
                Arc::new(StructArray::new_empty_fields(len, None))
            } else {
                let mut fields = Vec::with_capacity(members.len());
                let mut arrays = Vec::with_capacity(members.len());
                for (name, m) in members {
                    fields.push(Field::new(name, m.data_type.clone(), m.nullable));
                    arrays.push(build(m, len, g)?);
                }
                Arc::new(
                    StructArray::try_new(Fields::from(fields), arrays, None)
                        .map_err(|e| e.to_string())?,
                )
            }
        }
        Kind::Variant(alts) => {
            let s = g.slot(plan.field, 0)?;
            let running = g.slots[s].running.clone();
            let Buf::Switch(index, tags) = take_slot(&mut g.slots, s) else {
                return Err("internal: expected a switch buffer".into());
            };
            let DataType::Union(uf, _) = &plan.data_type else {
                return Err("internal: variant without a union type".into());
            };
            let uf: UnionFields = uf.clone();
            let mut children: Vec<ArrayRef> = vec![Arc::new(NullArray::new(running[0] as usize))];
            for (k, a) in alts.iter().enumerate() {
                children.push(build(a, running[k + 1] as usize, g)?);
            }
            let type_ids: Vec<i8> = tags.iter().map(|&t| t as i8).collect();
            let offsets = index
                .iter()
                .map(|&i| i32::try_from(i).map_err(|_| "too many variant values".to_string()))
                .collect::<Result<Vec<i32>, String>>()?;
            Arc::new(
                UnionArray::try_new(
                    uf,
                    ScalarBuffer::from(type_ids),
                    Some(ScalarBuffer::from(offsets)),
                    children,
                )
                .map_err(|e| e.to_string())?,
            )
        }
    };
    if arr.len() != len {
        return Err(format!(
            "internal: built {} values where {len} were expected",
            arr.len()
        ));
    }
    Ok(arr)
}

/// Reads the top-level fields `plans` over whole clusters `clusters`; returns one array per
/// plan covering every entry of those clusters. Errors are (plan position, message).
pub(crate) fn read_clusters(
    src: &Source<'_>,
    plans: &[&Plan],
    clusters: std::ops::Range<usize>,
) -> Result<Vec<ArrayRef>, (usize, String)> {
    // number the column slots of every plan
    let mut ids: HashMap<(usize, usize), usize> = HashMap::new();
    let mut slot_targets: Vec<Target> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    let mut slot_plans: Vec<(usize, &Plan)> = Vec::new();
    for (pi, p) in plans.iter().enumerate() {
        p.visit(&mut |q: &Plan| {
            for (k, t) in q.targets().into_iter().enumerate() {
                if let std::collections::hash_map::Entry::Vacant(e) = ids.entry((q.field, k)) {
                    e.insert(slot_targets.len());
                    slot_targets.push(t);
                    owner.push(pi);
                    if k == 0 {
                        slot_plans.push((pi, q));
                    }
                }
            }
        });
    }
    if let Some(arrays) = direct::read(src, plans, clusters.clone()) {
        return Ok(arrays);
    }
    // one task per (cluster, column)
    let mut tasks = Vec::new();
    for cl in clusters.clone() {
        for &(pi, q) in &slot_plans {
            let cols = src.representation(q, cl).map_err(|e| (pi, e))?;
            for (k, &c) in cols.iter().enumerate() {
                let slot = *ids
                    .get(&(q.field, k))
                    .ok_or((pi, "internal: unplanned column slot".to_string()))?;
                let spec = src.spec(c).map_err(|e| (pi, e))?;
                tasks.push(Task {
                    cluster: cl,
                    slot,
                    column: c,
                    spec,
                    target: slot_targets[slot],
                    pages: src.clusters[cl].columns.get(c),
                });
            }
        }
    }
    let decoded: Vec<Result<Buf, String>> = tasks.par_iter().map(|t| src.decode(t)).collect();
    let mut chunks = HashMap::with_capacity(tasks.len());
    for (t, r) in tasks.iter().zip(decoded) {
        let buf = r.map_err(|e| (owner[t.slot], e))?;
        let pad_limit = src.columns[t.column].first_element.unsigned_abs();
        chunks.insert(
            (t.cluster, t.slot),
            Chunk {
                buf,
                column: t.column,
                pad_limit,
            },
        );
    }
    let slots = slot_targets
        .iter()
        .map(|&t| Slot {
            buf: Buf::new(t),
            running: vec![0; 127],
        })
        .collect();
    let mut g = Gather {
        chunks,
        slots,
        ids: &ids,
    };
    let mut total = 0usize;
    for cl in clusters {
        let need = src.clusters[cl].entries;
        for (pi, p) in plans.iter().enumerate() {
            g.run(p, cl, need)
                .map_err(|e| (pi, format!("cluster {cl}: {e}")))?;
        }
        total = total
            .checked_add(need as usize)
            .ok_or((0, "entry count overflows".to_string()))?;
    }
    plans
        .iter()
        .enumerate()
        .map(|(pi, p)| build(p, total, &mut g).map_err(|e| (pi, e)))
        .collect()
}

/// The direct read of leaves and lists of leaves (the usual flat n-tuple): the columns' element
/// counts per cluster, known from the page lists, lay out each (cluster, column) page range's
/// slice of the final Arrow values and list offsets, and one parallel task per range decodes its
/// pages straight into that slice (list offsets made global as they are written). Anything else
/// (other field kinds, deferred columns, element counts that do not line up, any error) makes
/// [`direct::read`] return `None`, and the general gather reads the fields and names the error.
mod direct {
    use super::*;

    /// Where one plan's values come from in one cluster.
    struct Range<'a> {
        cluster: usize,
        column: usize,
        spec: ColumnSpec,
        pages: Option<&'a ColumnPages>,
        /// Elements the page list declares.
        elements: usize,
    }

    /// One (cluster, column) decoding job with its output slice.
    type Job<'s> = Box<dyn FnOnce() -> bool + Send + 's>;

    /// The column (and its pages) a one-column representation of `q` reads in `cluster`.
    fn range<'a>(src: &Source<'a>, q: &Plan, cluster: usize) -> Option<Range<'a>> {
        let cols = src.representation(q, cluster).ok()?;
        let &[column] = cols else {
            return None;
        };
        let rec = src.columns.get(column)?;
        if rec.first_element != 0 {
            return None;
        }
        let spec = src.spec(column).ok()?;
        let pages = src.clusters[cluster].columns.get(column);
        let elements = pages.map_or(0, |p| p.elements());
        Some(Range {
            cluster,
            column,
            spec,
            pages,
            elements: usize::try_from(elements).ok()?,
        })
    }

    /// A plan's layout: its values' ranges per cluster and, for lists, its index ranges.
    struct Layout<'a> {
        values: Vec<Range<'a>>,
        index: Option<Vec<Range<'a>>>,
        leaf: Leaf,
        child: Option<&'a Plan>,
    }

    pub(super) fn read(
        src: &Source<'_>,
        plans: &[&Plan],
        clusters: std::ops::Range<usize>,
    ) -> Option<Vec<ArrayRef>> {
        let entries: Vec<usize> = clusters
            .clone()
            .map(|c| usize::try_from(src.clusters[c].entries).ok())
            .collect::<Option<_>>()?;
        let rows = entries.iter().try_fold(0usize, |n, &e| n.checked_add(e))?;
        let mut layouts = Vec::with_capacity(plans.len());
        for p in plans {
            let layout = match &p.kind {
                Kind::Leaf(l) => {
                    let values: Vec<Range<'_>> = clusters
                        .clone()
                        .map(|c| range(src, p, c))
                        .collect::<Option<_>>()?;
                    if values.iter().zip(&entries).any(|(r, &e)| r.elements != e) {
                        return None;
                    }
                    Layout {
                        values,
                        index: None,
                        leaf: *l,
                        child: None,
                    }
                }
                Kind::List(child) => {
                    let Kind::Leaf(l) = &child.kind else {
                        return None;
                    };
                    let index: Vec<Range<'_>> = clusters
                        .clone()
                        .map(|c| range(src, p, c))
                        .collect::<Option<_>>()?;
                    if index.iter().zip(&entries).any(|(r, &e)| r.elements != e)
                        || index.iter().any(|r| !r.spec.ty.is_index())
                    {
                        return None;
                    }
                    let values: Vec<Range<'_>> = clusters
                        .clone()
                        .map(|c| range(src, child, c))
                        .collect::<Option<_>>()?;
                    Layout {
                        values,
                        index: Some(index),
                        leaf: *l,
                        child: Some(child),
                    }
                }
                _ => return None,
            };
            layouts.push(layout);
        }
        // Every column's buffers, then every job writing into them.
        let mut bufs: Vec<(Buf, Vec<i32>)> = Vec::with_capacity(layouts.len());
        for l in &layouts {
            let total = l
                .values
                .iter()
                .try_fold(0usize, |n, r| n.checked_add(r.elements))?;
            if l.index.is_some() && total > i32::MAX as usize {
                return None;
            }
            let values = zeroed(Target::Leaf(l.leaf), total)?;
            let offsets = if l.index.is_some() {
                vec![0i32; rows + 1]
            } else {
                Vec::new()
            };
            bufs.push((values, offsets));
        }
        let mut jobs: Vec<Job<'_>> = Vec::new();
        for (l, (values, offsets)) in layouts.iter().zip(bufs.iter_mut()) {
            let ok =
                each_buf!(values, v => value_jobs(src, &l.values, v, &mut jobs), _i, _t => false);
            if !ok {
                return None;
            }
            if let Some(index) = &l.index {
                index_jobs(src, index, &l.values, &entries, offsets, &mut jobs)?;
            }
        }
        let ok = jobs
            .into_par_iter()
            .map(|job| job())
            .reduce(|| true, |a, b| a & b);
        if !ok {
            return None;
        }
        // The arrays (packing booleans, Arrow's check of the offsets) in parallel too.
        let out: Vec<Option<ArrayRef>> = layouts
            .par_iter()
            .zip(bufs.into_par_iter())
            .map(|(l, (values, offsets))| {
                let values = leaf_array(values).ok()?;
                let arr: ArrayRef = match l.child {
                    None => values,
                    Some(child) => {
                        let item = Arc::new(Field::new_list_field(child.data_type.clone(), true));
                        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                        Arc::new(ListArray::try_new(item, offsets, values, None).ok()?)
                    }
                };
                (arr.len() == rows).then_some(arr)
            })
            .collect();
        out.into_iter().collect()
    }

    /// A zero-filled buffer of `n` values for `target`.
    fn zeroed(target: Target, n: usize) -> Option<Buf> {
        let mut b = Buf::new(target);
        let bytes = match &b {
            Buf::Bool(_) | Buf::I8(_) | Buf::U8(_) => 1,
            Buf::I16(_) | Buf::U16(_) => 2,
            Buf::I32(_) | Buf::U32(_) | Buf::F32(_) => 4,
            _ => 8,
        };
        if n.checked_mul(bytes)? > MAX_COLUMN_BYTES {
            return None;
        }
        fn fill<T: Default + Clone>(v: &mut Vec<T>, n: usize) {
            *v = vec![T::default(); n];
        }
        match &mut b {
            Buf::Switch(..) => return None,
            other => each_buf!(other, v => fill(v, n), _i, _t => {}),
        }
        Some(b)
    }

    fn task<'a>(r: &Range<'a>, target: Target) -> Task<'a> {
        Task {
            cluster: r.cluster,
            slot: 0,
            column: r.column,
            spec: r.spec,
            target,
            pages: r.pages,
        }
    }

    /// One job per cluster decoding its value pages into its slice of `v`.
    fn value_jobs<'s, T: crate::column::Elem>(
        src: &'s Source<'_>,
        ranges: &'s [Range<'_>],
        v: &'s mut [T],
        jobs: &mut Vec<Job<'s>>,
    ) -> bool {
        let mut rest = v;
        for r in ranges {
            let (mine, more) = std::mem::take(&mut rest).split_at_mut(r.elements);
            rest = more;
            let Some(pages) = r.pages else {
                continue;
            };
            jobs.push(Box::new(move || {
                let t = task(r, Target::Index);
                let mut at = 0usize;
                src.each_page(&t, pages, |page, n| {
                    let out = mine
                        .get_mut(at..at + n)
                        .ok_or_else(|| "more elements than declared".to_string())?;
                    at += n;
                    decode_page_into(&t.spec, page, out)
                })
                .is_ok()
                    && at == mine.len()
            }));
        }
        true
    }

    /// One job per cluster decoding its index pages into its slice of the list offsets, made
    /// global (plus the child elements of the clusters before), and checking that they are in
    /// order and end at the child's element count in the cluster.
    fn index_jobs<'s>(
        src: &'s Source<'_>,
        index: &'s [Range<'_>],
        values: &[Range<'_>],
        entries: &[usize],
        offsets: &'s mut [i32],
        jobs: &mut Vec<Job<'s>>,
    ) -> Option<()> {
        let mut rest = offsets.get_mut(1..)?;
        let mut base = 0usize;
        for ((r, v), &e) in index.iter().zip(values).zip(entries) {
            let (mine, more) = std::mem::take(&mut rest).split_at_mut(e);
            rest = more;
            let (start, end) = (base, base.checked_add(v.elements)?);
            base = end;
            if end > i32::MAX as usize || (e == 0 && start != end) {
                return None;
            }
            let Some(pages) = r.pages else {
                if e != 0 || start != end {
                    return None;
                }
                continue;
            };
            jobs.push(Box::new(move || {
                let t = task(r, Target::Index);
                let mut at = 0usize;
                let mut rel: Vec<u64> = Vec::new();
                let ok = src
                    .each_page(&t, pages, |page, n| {
                        let out = mine
                            .get_mut(at..at + n)
                            .ok_or_else(|| "more elements than declared".to_string())?;
                        at += n;
                        rel.clear();
                        rel.resize(n, 0);
                        decode_page_into(&t.spec, page, &mut rel)?;
                        let limit = (end - start) as u64;
                        let mut bad = false;
                        for (o, &x) in out.iter_mut().zip(&rel) {
                            bad |= x > limit;
                            *o = (start as u64).wrapping_add(x) as i32;
                        }
                        if bad {
                            return Err("offset beyond the child's elements".into());
                        }
                        Ok(())
                    })
                    .is_ok();
                let ordered = mine.windows(2).fold(true, |ok, w| ok & (w[0] <= w[1]));
                ok && at == mine.len() && ordered && mine.last().is_none_or(|&l| l as usize == end)
            }));
        }
        Some(())
    }
}
