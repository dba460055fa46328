//! Arrow columns → TTree branches: which leaf type each column becomes, which jagged columns
//! share a counter branch, and the big-endian encoding of a slice of rows into a basket buffer.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};

/// A leaf's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl Elem {
    fn of(dt: &DataType) -> Option<Elem> {
        Some(match dt {
            DataType::Boolean => Elem::Bool,
            DataType::Int8 => Elem::I8,
            DataType::UInt8 => Elem::U8,
            DataType::Int16 => Elem::I16,
            DataType::UInt16 => Elem::U16,
            DataType::Int32 => Elem::I32,
            DataType::UInt32 => Elem::U32,
            DataType::Int64 => Elem::I64,
            DataType::UInt64 => Elem::U64,
            DataType::Float32 => Elem::F32,
            DataType::Float64 => Elem::F64,
            _ => return None,
        })
    }

    /// Bytes per value.
    pub(crate) fn size(self) -> usize {
        match self {
            Elem::Bool | Elem::I8 | Elem::U8 => 1,
            Elem::I16 | Elem::U16 => 2,
            Elem::I32 | Elem::U32 | Elem::F32 => 4,
            Elem::I64 | Elem::U64 | Elem::F64 => 8,
        }
    }

    /// The type letter of a branch title (`x/F`).
    pub(crate) fn letter(self) -> char {
        match self {
            Elem::Bool => 'O',
            Elem::I8 => 'B',
            Elem::U8 => 'b',
            Elem::I16 => 'S',
            Elem::U16 => 's',
            Elem::I32 => 'I',
            Elem::U32 => 'i',
            Elem::I64 => 'L',
            Elem::U64 => 'l',
            Elem::F32 => 'F',
            Elem::F64 => 'D',
        }
    }

    /// The leaf class.
    pub(crate) fn leaf_class(self) -> &'static str {
        match self {
            Elem::Bool => "TLeafO",
            Elem::I8 | Elem::U8 => "TLeafB",
            Elem::I16 | Elem::U16 => "TLeafS",
            Elem::I32 | Elem::U32 => "TLeafI",
            Elem::I64 | Elem::U64 => "TLeafL",
            Elem::F32 => "TLeafF",
            Elem::F64 => "TLeafD",
        }
    }

    pub(crate) fn unsigned(self) -> bool {
        matches!(self, Elem::U8 | Elem::U16 | Elem::U32 | Elem::U64)
    }

    fn is_integer(self) -> bool {
        !matches!(self, Elem::Bool | Elem::F32 | Elem::F64)
    }
}

/// What one Arrow column is, as far as a TTree is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColType {
    /// Numbers, with fixed dimensions (`x[3][4]`) from nested fixed-size lists.
    Number { elem: Elem, dims: Vec<usize> },
    /// Variable-length lists of (fixed-shape) numbers: a leaf-list with a counter.
    List {
        elem: Elem,
        dims: Vec<usize>,
        large: bool,
    },
    /// Strings: a `char*` leaf (`TLeafC`), as uproot writes strings.
    Str,
}

fn fixed(dt: &DataType) -> Option<(Elem, Vec<usize>)> {
    if let Some(e) = Elem::of(dt) {
        return Some((e, Vec::new()));
    }
    if let DataType::FixedSizeList(f, n) = dt {
        let (e, mut dims) = fixed(f.data_type())?;
        if *n <= 0 {
            return None;
        }
        dims.insert(0, *n as usize);
        return Some((e, dims));
    }
    None
}

/// Classifies a column's Arrow type, or says why a TTree cannot hold it.
pub(crate) fn col_type(dt: &DataType) -> Result<ColType, String> {
    if let Some((elem, dims)) = fixed(dt) {
        return Ok(ColType::Number { elem, dims });
    }
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(ColType::Str),
        DataType::List(f) | DataType::LargeList(f) => match fixed(f.data_type()) {
            Some((elem, dims)) => Ok(ColType::List {
                elem,
                dims,
                large: matches!(dt, DataType::LargeList(_)),
            }),
            None => Err(format!(
                "lists of {} are not supported (lists of numbers and of fixed-size lists of numbers are)",
                f.data_type()
            )),
        },
        _ => Err(
            "supported types are integers, booleans, Float32/Float64, Utf8, FixedSizeList of numbers and List of numbers"
                .to_string(),
        ),
    }
}

/// What a branch holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Fixed-size entries from a column.
    Fixed,
    /// A counter: the item count of the list columns `users`, written from column `source`
    /// (an integer column of the same name, checked against the counts) or generated as Int_t.
    Counter {
        source: Option<usize>,
        users: Vec<usize>,
    },
    /// A leaf-list `x[n]` counted by branch `counter`.
    Jagged { counter: usize },
    /// `char*` strings.
    Str,
}

/// One branch to write.
#[derive(Debug, Clone)]
pub(crate) struct BranchPlan {
    pub(crate) name: String,
    /// The source column (none for generated counters).
    pub(crate) column: Option<usize>,
    pub(crate) elem: Elem,
    pub(crate) dims: Vec<usize>,
    pub(crate) kind: Kind,
}

impl BranchPlan {
    /// Bytes per entry of a fixed-size branch.
    pub(crate) fn entry_size(&self) -> usize {
        self.elem.size() * self.dims.iter().product::<usize>()
    }

    /// Whether baskets carry entry offsets.
    pub(crate) fn has_offsets(&self) -> bool {
        matches!(self.kind, Kind::Jagged { .. } | Kind::Str)
    }

    /// The fixed dimensions as written in titles: `[3][4]`.
    pub(crate) fn dims_suffix(&self) -> String {
        self.dims.iter().map(|d| format!("[{d}]")).collect()
    }
}

/// The list columns' item counts per row of `batch` (for the first list column of a group).
fn lengths(batch: &RecordBatch, col: usize) -> Vec<usize> {
    let a = batch.column(col);
    match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            l.offsets()
                .windows(2)
                .map(|w| (w[1] - w[0]) as usize)
                .collect()
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            l.offsets()
                .windows(2)
                .map(|w| (w[1] - w[0]) as usize)
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Chooses the branches: every column in schema order, each list column preceded by its counter
/// (`nJet` for `Jet_pt`, `Jet_eta`, … when their lengths agree in `sample`, else `n<name>`).
/// An integer column that already bears a counter's name becomes that counter.
pub(crate) fn plan(
    schema: &Schema,
    types: &[ColType],
    sample: Option<&RecordBatch>,
) -> Result<Vec<BranchPlan>, String> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    // counter name for each list column
    let mut counter_of: Vec<Option<String>> = vec![None; types.len()];
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, t) in types.iter().enumerate() {
        if !matches!(t, ColType::List { .. }) {
            continue;
        }
        let prefix = match names[i].split_once('_') {
            Some((p, rest)) if !p.is_empty() && !rest.is_empty() => Some(p),
            _ => None,
        };
        match prefix {
            Some(p) => match groups.iter_mut().find(|(g, _)| g == p) {
                Some((_, members)) => members.push(i),
                None => groups.push((p.to_string(), vec![i])),
            },
            None => counter_of[i] = Some(format!("n{}", names[i])),
        }
    }
    for (prefix, members) in &groups {
        let first = members[0];
        let first_len = sample.map(|b| lengths(b, first));
        for &m in members {
            let same = match (&first_len, sample) {
                (Some(f), Some(b)) => *f == lengths(b, m),
                _ => true,
            };
            counter_of[m] = Some(if same {
                format!("n{prefix}")
            } else {
                format!("n{}", names[m])
            });
        }
    }
    let mut branches: Vec<BranchPlan> = Vec::new();
    // counter name -> branch index
    let mut counters: Vec<(String, usize)> = Vec::new();
    // columns consumed as counters
    let mut used_as_counter: Vec<bool> = vec![false; types.len()];
    for (i, t) in types.iter().enumerate() {
        if used_as_counter[i] {
            continue;
        }
        match t {
            ColType::Number { elem, dims } => {
                // a column that is some list's counter is emitted when its first list comes
                if counter_of.iter().flatten().any(|c| c == names[i]) && dims.is_empty() {
                    if !elem.is_integer() {
                        return Err(format!(
                            "column {:?} ({}) has the name of a counter branch but is not an integer",
                            names[i],
                            schema.field(i).data_type()
                        ));
                    }
                    continue;
                }
                branches.push(BranchPlan {
                    name: names[i].to_string(),
                    column: Some(i),
                    elem: *elem,
                    dims: dims.clone(),
                    kind: Kind::Fixed,
                });
            }
            ColType::Str => branches.push(BranchPlan {
                name: names[i].to_string(),
                column: Some(i),
                elem: Elem::I8,
                dims: Vec::new(),
                kind: Kind::Str,
            }),
            ColType::List { elem, dims, .. } => {
                let cname = counter_of[i]
                    .clone()
                    .unwrap_or_else(|| format!("n{}", names[i]));
                let idx = match counters.iter().find(|(n, _)| *n == cname) {
                    Some(&(_, b)) => b,
                    None => {
                        let source = names.iter().position(|n| *n == cname);
                        let elem = match source {
                            Some(s) => match &types[s] {
                                ColType::Number { elem, dims }
                                    if dims.is_empty() && elem.is_integer() =>
                                {
                                    used_as_counter[s] = true;
                                    *elem
                                }
                                _ => {
                                    return Err(format!(
                                        "column {cname:?} ({}) has the name of the counter branch of {:?} but is not an integer",
                                        schema.field(s).data_type(),
                                        names[i]
                                    ));
                                }
                            },
                            None => Elem::I32,
                        };
                        branches.push(BranchPlan {
                            name: cname.clone(),
                            column: source,
                            elem,
                            dims: Vec::new(),
                            kind: Kind::Counter {
                                source,
                                users: Vec::new(),
                            },
                        });
                        counters.push((cname.clone(), branches.len() - 1));
                        branches.len() - 1
                    }
                };
                if let Kind::Counter { users, .. } = &mut branches[idx].kind {
                    users.push(i);
                }
                branches.push(BranchPlan {
                    name: names[i].to_string(),
                    column: Some(i),
                    elem: *elem,
                    dims: dims.clone(),
                    kind: Kind::Jagged { counter: idx },
                });
            }
        }
    }
    Ok(branches)
}

/// Checks that a column has no nulls at any level.
pub(crate) fn check_nulls(a: &dyn Array) -> Result<(), String> {
    if a.null_count() > 0 {
        return Err(format!(
            "holds {} null value(s); a TTree cannot store nulls (fill or filter them first, e.g. with coalesce)",
            a.null_count()
        ));
    }
    match a.data_type() {
        DataType::FixedSizeList(..) => check_nulls(a.as_fixed_size_list().values().as_ref()),
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.offsets();
            let (s, e) = (o[0] as usize, o[o.len() - 1] as usize);
            check_nulls(l.values().slice(s, e - s).as_ref())
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.offsets();
            let (s, e) = (o[0] as usize, o[o.len() - 1] as usize);
            check_nulls(l.values().slice(s, e - s).as_ref())
        }
        _ => Ok(()),
    }
}

/// The flat numeric values under nested fixed-size lists.
fn flat_values(a: &ArrayRef) -> ArrayRef {
    let mut a = a.clone();
    while let DataType::FixedSizeList(..) = a.data_type() {
        a = a.as_fixed_size_list().values().clone();
    }
    a
}

macro_rules! be_extend {
    ($out:expr, $a:expr, $t:ty, $r:expr) => {{
        let v = &$a.as_primitive::<$t>().values()[$r];
        $out.reserve(v.len() * std::mem::size_of_val(&v.first().copied().unwrap_or_default()));
        for x in v {
            $out.extend_from_slice(&x.to_be_bytes());
        }
    }};
}

/// Appends values `r` (flat indexes) of a numeric or boolean array, big-endian.
fn put_values(out: &mut Vec<u8>, a: &dyn Array, r: Range<usize>) {
    match a.data_type() {
        DataType::Boolean => {
            let b = a.as_boolean();
            out.extend(r.map(|i| b.value(i) as u8));
        }
        DataType::Int8 => be_extend!(out, a, Int8Type, r),
        DataType::UInt8 => be_extend!(out, a, UInt8Type, r),
        DataType::Int16 => be_extend!(out, a, Int16Type, r),
        DataType::UInt16 => be_extend!(out, a, UInt16Type, r),
        DataType::Int32 => be_extend!(out, a, Int32Type, r),
        DataType::UInt32 => be_extend!(out, a, UInt32Type, r),
        DataType::Int64 => be_extend!(out, a, Int64Type, r),
        DataType::UInt64 => be_extend!(out, a, UInt64Type, r),
        DataType::Float32 => be_extend!(out, a, Float32Type, r),
        DataType::Float64 => be_extend!(out, a, Float64Type, r),
        // col_type admitted only the types above
        _ => {}
    }
}

/// An integer column's values as i64 (for checking counters).
fn int_values(a: &dyn Array, r: Range<usize>) -> Vec<i128> {
    macro_rules! ints {
        ($t:ty) => {
            a.as_primitive::<$t>().values()[r]
                .iter()
                .map(|&x| x as i128)
                .collect()
        };
    }
    match a.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt64 => ints!(UInt64Type),
        _ => Vec::new(),
    }
}

/// One branch's basket being filled.
#[derive(Debug, Default)]
pub(crate) struct Basket {
    pub(crate) data: Vec<u8>,
    /// Entry start offsets into `data` (jagged and string branches).
    pub(crate) offsets: Vec<u32>,
    pub(crate) entries: usize,
    /// The largest value (counters) or string length (strings) seen in the whole branch.
    pub(crate) max: i64,
}

fn list_range(a: &ArrayRef, row: usize) -> (usize, usize) {
    match a.data_type() {
        DataType::LargeList(_) => {
            let o = a.as_list::<i64>().offsets();
            (o[row] as usize, o[row + 1] as usize)
        }
        _ => {
            let o = a.as_list::<i32>().offsets();
            (o[row] as usize, o[row + 1] as usize)
        }
    }
}

fn list_values(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::LargeList(_) => a.as_list::<i64>().values().clone(),
        _ => a.as_list::<i32>().values().clone(),
    }
}

/// Appends rows `rows` of `batch` to the basket of branch `b`. `first_entry` is the tree entry
/// of `rows.start` (for messages). Fails on data a branch cannot hold (counters that disagree
/// with the lists they count, over-long baskets).
pub(crate) fn append(
    b: &BranchPlan,
    basket: &mut Basket,
    batch: &RecordBatch,
    rows: Range<usize>,
    names: &[&str],
    first_entry: u64,
) -> Result<(), String> {
    let n = rows.len();
    if n == 0 {
        return Ok(());
    }
    match &b.kind {
        Kind::Fixed => {
            let Some(col) = b.column else { return Ok(()) };
            let a = batch.column(col);
            let k: usize = b.dims.iter().product();
            put_values(
                &mut basket.data,
                flat_values(a).as_ref(),
                rows.start * k..rows.end * k,
            );
        }
        Kind::Counter { source, users } => {
            let Some(&first) = users.first() else {
                return Ok(());
            };
            let fa = batch.column(first);
            let counts: Vec<usize> = rows
                .clone()
                .map(|r| {
                    let (s, e) = list_range(fa, r);
                    e - s
                })
                .collect();
            for &u in &users[1..] {
                let ua = batch.column(u);
                for (j, r) in rows.clone().enumerate() {
                    let (s, e) = list_range(ua, r);
                    if e - s != counts[j] {
                        return Err(format!(
                            "columns {:?} and {:?} share the counter branch {:?} but hold {} and {} items at entry {}",
                            names[first],
                            names[u],
                            b.name,
                            counts[j],
                            e - s,
                            first_entry + j as u64
                        ));
                    }
                }
            }
            match source {
                Some(src) => {
                    let a = batch.column(*src);
                    let vals = int_values(a.as_ref(), rows.clone());
                    for (j, (&v, &c)) in vals.iter().zip(&counts).enumerate() {
                        if v != c as i128 {
                            return Err(format!(
                                "column {:?} is the counter of {:?} but holds {v} where the list has {c} items (entry {})",
                                b.name,
                                names[first],
                                first_entry + j as u64
                            ));
                        }
                    }
                    put_values(&mut basket.data, a.as_ref(), rows.clone());
                }
                None => {
                    for &c in &counts {
                        let c = i32::try_from(c).map_err(|_| {
                            format!(
                                "list column {:?} has a row of more than 2^31 items",
                                names[first]
                            )
                        })?;
                        basket.data.extend_from_slice(&c.to_be_bytes());
                    }
                }
            }
            if let Some(&m) = counts.iter().max() {
                basket.max = basket.max.max(m as i64);
            }
        }
        Kind::Jagged { .. } => {
            let Some(col) = b.column else { return Ok(()) };
            let a = batch.column(col);
            let k: usize = b.dims.iter().product();
            let values = flat_values(&list_values(a));
            let (s, _) = list_range(a, rows.start);
            let (_, e) = list_range(a, rows.end - 1);
            basket.offsets.reserve(n);
            for r in rows.clone() {
                let (rs, _) = list_range(a, r);
                let at = basket.data.len() + (rs - s) * k * b.elem.size();
                basket.offsets.push(offset32(at, &b.name)?);
            }
            put_values(&mut basket.data, values.as_ref(), s * k..e * k);
        }
        Kind::Str => {
            let Some(col) = b.column else { return Ok(()) };
            let a = batch.column(col);
            basket.offsets.reserve(n);
            for r in rows.clone() {
                let s: &[u8] = match a.data_type() {
                    DataType::LargeUtf8 => a.as_string::<i64>().value(r).as_bytes(),
                    DataType::Utf8View => a.as_string_view().value(r).as_bytes(),
                    _ => a.as_string::<i32>().value(r).as_bytes(),
                };
                basket.offsets.push(offset32(basket.data.len(), &b.name)?);
                if s.len() < 255 {
                    basket.data.push(s.len() as u8);
                } else {
                    basket.data.push(255);
                    let l = u32::try_from(s.len())
                        .map_err(|_| format!("a string of column {:?} is over 4 GiB", b.name))?;
                    basket.data.extend_from_slice(&l.to_be_bytes());
                }
                basket.data.extend_from_slice(s);
                basket.max = basket.max.max(s.len() as i64);
            }
        }
    }
    basket.entries += n;
    if basket.data.len() > MAX_BASKET_DATA {
        return Err(format!(
            "a basket of branch {:?} would hold more than {} bytes; use a smaller basket size",
            b.name, MAX_BASKET_DATA
        ));
    }
    Ok(())
}

/// The most data one basket may hold (entry offsets and ROOT's `fLast` are 32-bit, and ROOT
/// refuses baskets over 1 GiB).
pub(crate) const MAX_BASKET_DATA: usize = 1 << 30;

fn offset32(at: usize, name: &str) -> Result<u32, String> {
    if at > MAX_BASKET_DATA {
        return Err(format!(
            "a basket of branch {name:?} would hold more than {MAX_BASKET_DATA} bytes; use a smaller basket size"
        ));
    }
    Ok(at as u32)
}

/// The largest number of bytes any branch needs per row of `batch` (to turn a basket size in
/// bytes into entries).
pub(crate) fn max_row_bytes(branches: &[BranchPlan], batch: &RecordBatch) -> usize {
    let rows = batch.num_rows().max(1);
    let mut best = 1usize;
    for b in branches {
        let per_row = match (&b.kind, b.column) {
            (Kind::Fixed, _) => b.entry_size(),
            (Kind::Counter { .. }, _) => b.elem.size(),
            (Kind::Jagged { .. }, Some(c)) => {
                let a = batch.column(c);
                let items: usize = if batch.num_rows() == 0 {
                    0
                } else {
                    let (s, _) = list_range(a, 0);
                    let (_, e) = list_range(a, batch.num_rows() - 1);
                    e - s
                };
                (items * b.entry_size()).div_ceil(rows) + 4
            }
            (Kind::Str, Some(c)) => {
                let a = batch.column(c);
                let bytes = match a.data_type() {
                    DataType::LargeUtf8 => a.as_string::<i64>().values().len(),
                    DataType::Utf8View => (0..a.len())
                        .map(|i| a.as_string_view().value(i).len())
                        .sum(),
                    _ => {
                        let s = a.as_string::<i32>();
                        let o = s.offsets();
                        (o[o.len() - 1] - o[0]) as usize
                    }
                };
                bytes.div_ceil(rows) + 5
            }
            _ => 0,
        };
        best = best.max(per_row);
    }
    best
}
