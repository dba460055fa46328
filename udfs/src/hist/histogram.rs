//! The histogram value shared by every histogram function: axes, storage and bin contents,
//! with boost-histogram's binning rules, bin-by-bin merging, the compact partial-aggregation
//! state and the UHI JSON document.
//!
//! Bin contents are stored flat in C order (last axis fastest), flow bins included: on a
//! regular or variable axis index 0 is the underflow bin and index `bins + 1` the overflow
//! bin; a category axis has one bin per category (plus the flow bin when it has one).

use std::collections::HashMap;
use std::fmt;

use datafusion::common::{DataFusionError, Result, exec_datafusion_err, exec_err};

/// What a histogram's bins hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Integer counts (an unweighted fill); UHI `int`.
    Int,
    /// Floating-point counts; UHI `double` (only read from documents).
    Double,
    /// Sum of weights and sum of squared weights; UHI `weighted`.
    Weighted,
}

impl Storage {
    fn code(self) -> u8 {
        match self {
            Storage::Int => 0,
            Storage::Double => 1,
            Storage::Weighted => 2,
        }
    }

    fn from_code(code: u8) -> Result<Self> {
        Ok(match code {
            0 => Storage::Int,
            1 => Storage::Double,
            2 => Storage::Weighted,
            _ => return exec_err!("corrupt histogram state: storage code {code}"),
        })
    }

    /// The storage of the sum of two histograms.
    fn combine(self, other: Storage) -> Storage {
        match (self, other) {
            (Storage::Int, Storage::Int) => Storage::Int,
            (Storage::Weighted, _) | (_, Storage::Weighted) => Storage::Weighted,
            _ => Storage::Double,
        }
    }
}

/// The binning of one axis.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisKind {
    /// `bins` equal bins over `[lower, upper)`.
    Regular {
        /// Number of bins (without flow bins).
        bins: usize,
        /// Lower edge.
        lower: f64,
        /// Upper edge.
        upper: f64,
    },
    /// Bins between increasing `edges`.
    Variable {
        /// Bin edges, strictly increasing, at least two.
        edges: Vec<f64>,
    },
    /// One bin per text category.
    StrCategory {
        /// The categories, in bin order.
        categories: Vec<String>,
    },
    /// One bin per integer category.
    IntCategory {
        /// The categories, in bin order.
        categories: Vec<i64>,
    },
}

/// One axis: its binning, flow bins and label.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The binning.
    pub kind: AxisKind,
    /// Whether there is an underflow bin (always false on category axes).
    pub underflow: bool,
    /// Whether there is an overflow bin (the flow bin of a category axis).
    pub overflow: bool,
    /// The axis name and label (the column the axis was filled from).
    pub label: Option<String>,
}

impl Axis {
    /// A regular axis with both flow bins; errors name `function`.
    pub fn regular(function: &str, bins: i64, lower: f64, upper: f64) -> Result<Self> {
        if bins <= 0 || bins > 100_000_000 {
            return exec_err!(
                "{function}: the number of bins must be between 1 and 1e8, got {bins}"
            );
        }
        if !lower.is_finite() || !upper.is_finite() || lower >= upper {
            return exec_err!(
                "{function}: the axis range must be finite with low < high, got [{lower}, {upper})"
            );
        }
        Ok(Axis {
            kind: AxisKind::Regular {
                bins: bins as usize,
                lower,
                upper,
            },
            underflow: true,
            overflow: true,
            label: None,
        })
    }

    /// A variable axis with both flow bins; errors name `function`.
    pub fn variable(function: &str, edges: Vec<f64>) -> Result<Self> {
        if edges.len() < 2 {
            return exec_err!(
                "{function}: a variable axis needs at least 2 edges, got {}",
                edges.len()
            );
        }
        if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
            return exec_err!(
                "{function}: the edges must be finite and strictly increasing, got {edges:?}"
            );
        }
        Ok(Axis {
            kind: AxisKind::Variable { edges },
            underflow: true,
            overflow: true,
            label: None,
        })
    }

    /// An empty, growing text category axis (no flow bin).
    pub fn str_category() -> Self {
        Axis {
            kind: AxisKind::StrCategory {
                categories: Vec::new(),
            },
            underflow: false,
            overflow: false,
            label: None,
        }
    }

    /// An empty, growing integer category axis (no flow bin).
    pub fn int_category() -> Self {
        Axis {
            kind: AxisKind::IntCategory {
                categories: Vec::new(),
            },
            underflow: false,
            overflow: false,
            label: None,
        }
    }

    /// The same axis with `label`.
    pub fn with_label(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
    }

    /// Number of bins without flow bins.
    pub fn bins(&self) -> usize {
        match &self.kind {
            AxisKind::Regular { bins, .. } => *bins,
            AxisKind::Variable { edges } => edges.len().saturating_sub(1),
            AxisKind::StrCategory { categories } => categories.len(),
            AxisKind::IntCategory { categories } => categories.len(),
        }
    }

    /// Number of bins including flow bins.
    pub fn extent(&self) -> usize {
        self.bins() + usize::from(self.underflow) + usize::from(self.overflow)
    }

    /// Whether this is a category axis.
    pub fn is_category(&self) -> bool {
        matches!(
            self.kind,
            AxisKind::StrCategory { .. } | AxisKind::IntCategory { .. }
        )
    }

    /// The bin edges of a continuous axis (`None` for a category axis).
    pub fn edges(&self) -> Option<Vec<f64>> {
        match &self.kind {
            AxisKind::Regular { bins, lower, upper } => Some(regular_edges(*bins, *lower, *upper)),
            AxisKind::Variable { edges } => Some(edges.clone()),
            _ => None,
        }
    }

    /// Whether two axes bin alike (labels are not compared; categories are, in order).
    pub fn same_binning(&self, other: &Axis) -> bool {
        self.kind == other.kind
            && self.underflow == other.underflow
            && self.overflow == other.overflow
    }
}

/// Bin edges of a regular axis, computed as boost-histogram does:
/// `(1 - z) * lower + z * (lower + width)` with `z = i / bins`.
pub fn regular_edges(bins: usize, lower: f64, upper: f64) -> Vec<f64> {
    let width = upper - lower;
    (0..=bins)
        .map(|i| {
            let z = i as f64 / bins as f64;
            (1.0 - z) * lower + z * (lower + width)
        })
        .collect()
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AxisKind::Regular { bins, lower, upper } => {
                write!(f, "Regular({bins}, {lower}, {upper})")?
            }
            AxisKind::Variable { edges } => write!(f, "Variable({edges:?})")?,
            AxisKind::StrCategory { categories } => write!(f, "StrCategory({categories:?})")?,
            AxisKind::IntCategory { categories } => write!(f, "IntCategory({categories:?})")?,
        }
        if let Some(label) = &self.label {
            write!(f, " '{label}'")?;
        }
        Ok(())
    }
}

/// Writes a list of axes as `[Regular(…), …]` for error messages.
pub fn describe_axes(axes: &[Axis]) -> String {
    let parts: Vec<String> = axes.iter().map(|a| a.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Regular-axis bin index with flow bins, exactly as boost-histogram computes it:
/// `z = (x - lower) / (upper - lower)`; `z < 0` → underflow, `z >= 1` or NaN → overflow,
/// else bin `floor(z * bins)`.
#[inline(always)]
pub fn regular_index(x: f64, lower: f64, width: f64, bins: usize) -> usize {
    let z = (x - lower) / width;
    if z < 1.0 {
        if z >= 0.0 {
            // `z * bins` can round up to `bins` for z just below 1; boost then reports the
            // overflow bin too, and so does this.
            ((z * bins as f64) as usize).min(bins) + 1
        } else {
            0
        }
    } else {
        bins + 1
    }
}

/// Variable-axis bin index with flow bins: the number of edges `<= x` (boost's
/// `upper_bound - 1`, shifted by the underflow bin); NaN and `x == last edge` → overflow.
#[inline(always)]
pub fn variable_index(x: f64, edges: &[f64]) -> usize {
    if x.is_nan() {
        return edges.len();
    }
    edges.partition_point(|&e| e <= x)
}

/// A histogram: axes, storage and flat bin contents (flow bins included).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The axes, outermost first.
    pub axes: Vec<Axis>,
    /// What the bins hold.
    pub storage: Storage,
    /// Counts or sums of weights, C order.
    pub values: Vec<f64>,
    /// Sums of squared weights (empty unless `storage` is `Weighted`).
    pub variances: Vec<f64>,
}

impl Histogram {
    /// An empty histogram over `axes`.
    pub fn new(axes: Vec<Axis>, weighted: bool) -> Self {
        let size = axes.iter().map(Axis::extent).product();
        Histogram {
            axes,
            storage: if weighted {
                Storage::Weighted
            } else {
                Storage::Int
            },
            values: vec![0.0; size],
            variances: if weighted {
                vec![0.0; size]
            } else {
                Vec::new()
            },
        }
    }

    /// Number of bins, flow bins included.
    pub fn size(&self) -> usize {
        self.values.len()
    }

    /// Whether the histogram carries sums of squared weights.
    pub fn is_weighted(&self) -> bool {
        self.storage == Storage::Weighted
    }

    /// The variance of every bin: sums of squared weights, or the counts (Poisson) otherwise.
    pub fn bin_variances(&self) -> &[f64] {
        if self.is_weighted() {
            &self.variances
        } else {
            &self.values
        }
    }

    /// Bytes held.
    pub fn allocated(&self) -> usize {
        (self.values.capacity() + self.variances.capacity()) * 8 + self.axes.len() * 64
    }

    /// Adds `other` bin by bin. Category axes in the first position may differ (the union
    /// is taken, as when merging partial results of a growing category axis); every other
    /// axis must bin alike, else the error names both histograms' axes.
    pub fn add(&mut self, other: &Histogram, function: &str) -> Result<()> {
        let compatible = self.axes.len() == other.axes.len()
            && self
                .axes
                .iter()
                .zip(&other.axes)
                .enumerate()
                .all(|(i, (a, b))| a.same_binning(b) || (i == 0 && growable_match(a, b)));
        if !compatible {
            return exec_err!(
                "{function}: cannot merge histograms with different axes: {} and {}",
                describe_axes(&self.axes),
                describe_axes(&other.axes)
            );
        }
        let storage = self.storage.combine(other.storage);
        if storage == Storage::Weighted && !self.is_weighted() {
            self.variances = self.values.clone();
        }
        self.storage = storage;
        let other_variances = other.bin_variances();
        if self
            .axes
            .first()
            .zip(other.axes.first())
            .is_some_and(|(a, b)| !a.same_binning(b))
        {
            // Union of the first-axis categories: map every row of `other` onto ours.
            let inner: usize = self.axes.iter().skip(1).map(Axis::extent).product();
            let rows = self.merge_categories(other)?;
            for (from, to) in rows.into_iter().enumerate() {
                let (src, dst) = (from * inner, to * inner);
                for k in 0..inner {
                    if let (Some(v), Some(slot)) =
                        (other.values.get(src + k), self.values.get_mut(dst + k))
                    {
                        *slot += v;
                    }
                    if storage == Storage::Weighted
                        && let (Some(v), Some(slot)) = (
                            other_variances.get(src + k),
                            self.variances.get_mut(dst + k),
                        )
                    {
                        *slot += v;
                    }
                }
            }
            return Ok(());
        }
        if self.values.len() != other.values.len() {
            return exec_err!("{function}: corrupt histogram: bin count does not match its axes");
        }
        for (a, b) in self.values.iter_mut().zip(&other.values) {
            *a += b;
        }
        if storage == Storage::Weighted {
            for (a, b) in self.variances.iter_mut().zip(other_variances) {
                *a += b;
            }
        }
        Ok(())
    }

    /// Adds the first-axis categories of `other` that are missing here (growing our bins)
    /// and returns, for each of `other`'s first-axis bins, our bin index.
    fn merge_categories(&mut self, other: &Histogram) -> Result<Vec<usize>> {
        let inner: usize = self.axes.iter().skip(1).map(Axis::extent).product();
        let (Some(mine), Some(theirs)) = (self.axes.first_mut(), other.axes.first()) else {
            return exec_err!("histogram without axes");
        };
        let mut added = 0usize;
        let rows = match (&mut mine.kind, &theirs.kind) {
            (
                AxisKind::StrCategory { categories: ours },
                AxisKind::StrCategory { categories: new },
            ) => {
                let mut index: HashMap<String, usize> = ours
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), i))
                    .collect();
                new.iter()
                    .map(|c| {
                        *index.entry(c.clone()).or_insert_with(|| {
                            ours.push(c.clone());
                            added += 1;
                            ours.len() - 1
                        })
                    })
                    .collect::<Vec<_>>()
            }
            (
                AxisKind::IntCategory { categories: ours },
                AxisKind::IntCategory { categories: new },
            ) => {
                let mut index: HashMap<i64, usize> =
                    ours.iter().enumerate().map(|(i, c)| (*c, i)).collect();
                new.iter()
                    .map(|c| {
                        *index.entry(*c).or_insert_with(|| {
                            ours.push(*c);
                            added += 1;
                            ours.len() - 1
                        })
                    })
                    .collect::<Vec<_>>()
            }
            _ => return exec_err!("category axes of different kinds"),
        };
        let mut rows = rows;
        if theirs.overflow {
            // The flow bin maps onto ours (both have one: `growable_match` checked).
            rows.push(mine.bins());
        }
        // Grow the bins: new category rows go before our flow row, if any.
        let insert_at = (mine.bins() - added) * inner;
        let grow = vec![0.0; added * inner];
        self.values
            .splice(insert_at..insert_at, grow.iter().copied());
        if self.is_weighted() {
            self.variances
                .splice(insert_at..insert_at, grow.iter().copied());
        }
        Ok(rows)
    }

    /// Sorts the categories of every category axis (bins follow), so that results do not
    /// depend on the order in which partitions saw them.
    pub fn sort_categories(&mut self) {
        for axis_index in 0..self.axes.len() {
            let permutation = match self.axes.get(axis_index).map(|a| &a.kind) {
                Some(AxisKind::StrCategory { categories }) => sort_permutation(categories),
                Some(AxisKind::IntCategory { categories }) => sort_permutation(categories),
                _ => continue,
            };
            if permutation.iter().enumerate().all(|(i, &p)| i == p) {
                continue;
            }
            if let Some(axis) = self.axes.get_mut(axis_index) {
                match &mut axis.kind {
                    AxisKind::StrCategory { categories } => {
                        *categories = permutation
                            .iter()
                            .filter_map(|&p| categories.get(p).cloned())
                            .collect()
                    }
                    AxisKind::IntCategory { categories } => {
                        *categories = permutation
                            .iter()
                            .filter_map(|&p| categories.get(p).copied())
                            .collect()
                    }
                    _ => {}
                }
            }
            let outer: usize = self
                .axes
                .iter()
                .take(axis_index)
                .map(Axis::extent)
                .product();
            let inner: usize = self
                .axes
                .iter()
                .skip(axis_index + 1)
                .map(Axis::extent)
                .product();
            let extent = self.axes.get(axis_index).map_or(0, Axis::extent);
            let permute = |data: &mut Vec<f64>| {
                let mut out = data.clone();
                for o in 0..outer {
                    for (to, &from) in permutation.iter().enumerate() {
                        let dst = (o * extent + to) * inner;
                        let src = (o * extent + from) * inner;
                        if let (Some(d), Some(s)) =
                            (out.get_mut(dst..dst + inner), data.get(src..src + inner))
                        {
                            d.copy_from_slice(s);
                        }
                    }
                }
                *data = out;
            };
            permute(&mut self.values);
            if self.is_weighted() {
                permute(&mut self.variances);
            }
        }
    }
}

fn sort_permutation<T: PartialOrd>(categories: &[T]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..categories.len()).collect();
    order.sort_by(|&a, &b| {
        categories
            .get(a)
            .partial_cmp(&categories.get(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// Two category axes of the same kind and flow whose categories may differ.
fn growable_match(a: &Axis, b: &Axis) -> bool {
    let same_kind = matches!(
        (&a.kind, &b.kind),
        (AxisKind::StrCategory { .. }, AxisKind::StrCategory { .. })
            | (AxisKind::IntCategory { .. }, AxisKind::IntCategory { .. })
    );
    same_kind && a.overflow == b.overflow
}

// ---------------------------------------------------------------------------------------------
// Compact partial state: the axes as a small binary blob (bins travel as Arrow lists).

const STATE_VERSION: u8 = 1;

/// Encodes the axes and storage of `hist` (not its bins) for the partial-aggregation state.
pub fn encode_axes(hist: &Histogram) -> Vec<u8> {
    let mut out = vec![STATE_VERSION, hist.storage.code(), hist.axes.len() as u8];
    for axis in &hist.axes {
        let (kind, flags) = (
            match axis.kind {
                AxisKind::Regular { .. } => 0u8,
                AxisKind::Variable { .. } => 1,
                AxisKind::StrCategory { .. } => 2,
                AxisKind::IntCategory { .. } => 3,
            },
            u8::from(axis.underflow) | (u8::from(axis.overflow) << 1),
        );
        out.push(kind);
        out.push(flags);
        match &axis.label {
            Some(label) => put_bytes(&mut out, label.as_bytes()),
            None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        }
        match &axis.kind {
            AxisKind::Regular { bins, lower, upper } => {
                out.extend_from_slice(&(*bins as u64).to_le_bytes());
                out.extend_from_slice(&lower.to_le_bytes());
                out.extend_from_slice(&upper.to_le_bytes());
            }
            AxisKind::Variable { edges } => {
                out.extend_from_slice(&(edges.len() as u32).to_le_bytes());
                for e in edges {
                    out.extend_from_slice(&e.to_le_bytes());
                }
            }
            AxisKind::StrCategory { categories } => {
                out.extend_from_slice(&(categories.len() as u32).to_le_bytes());
                for c in categories {
                    put_bytes(&mut out, c.as_bytes());
                }
            }
            AxisKind::IntCategory { categories } => {
                out.extend_from_slice(&(categories.len() as u32).to_le_bytes());
                for c in categories {
                    out.extend_from_slice(&c.to_le_bytes());
                }
            }
        }
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let slice = self.data.get(self.pos..end).unwrap_or_default();
                self.pos = end;
                Ok(slice)
            }
            None => exec_err!("corrupt histogram state: truncated"),
        }
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| exec_datafusion_err!("corrupt histogram state: bad text"))
    }
    fn count(&mut self, item: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(item) > self.data.len() {
            return exec_err!("corrupt histogram state: bad length");
        }
        Ok(n)
    }
}

/// Decodes [`encode_axes`] output: the axes and the storage.
pub fn decode_axes(data: &[u8]) -> Result<(Vec<Axis>, Storage)> {
    let mut r = Reader { data, pos: 0 };
    if r.u8()? != STATE_VERSION {
        return exec_err!("corrupt histogram state: unknown version");
    }
    let storage = Storage::from_code(r.u8()?)?;
    let n = r.u8()?;
    let mut axes = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let kind = r.u8()?;
        let flags = r.u8()?;
        let label_len = r.u32()?;
        let label = if label_len == u32::MAX {
            None
        } else {
            let bytes = r.take(label_len as usize)?;
            Some(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| exec_datafusion_err!("corrupt histogram state: bad label"))?,
            )
        };
        let kind = match kind {
            0 => AxisKind::Regular {
                bins: r.u64()? as usize,
                lower: r.f64()?,
                upper: r.f64()?,
            },
            1 => {
                let n = r.count(8)?;
                AxisKind::Variable {
                    edges: (0..n).map(|_| r.f64()).collect::<Result<_>>()?,
                }
            }
            2 => {
                let n = r.count(4)?;
                AxisKind::StrCategory {
                    categories: (0..n).map(|_| r.string()).collect::<Result<_>>()?,
                }
            }
            3 => {
                let n = r.count(8)?;
                AxisKind::IntCategory {
                    categories: (0..n).map(|_| r.i64()).collect::<Result<_>>()?,
                }
            }
            _ => return exec_err!("corrupt histogram state: axis kind {kind}"),
        };
        axes.push(Axis {
            kind,
            underflow: flags & 1 != 0,
            overflow: flags & 2 != 0,
            label,
        });
    }
    Ok((axes, storage))
}

// ---------------------------------------------------------------------------------------------
// UHI JSON.

/// The JSON text of a number. JSON has no NaN or infinity: a non-finite number (only reachable
/// through sums of weights that overflow) is written as `null`.
fn push_number(out: &mut String, x: f64) {
    if x.is_finite() {
        // serde_json writes the shortest text that reads back as the same f64.
        out.push_str(&serde_json::Value::from(x).to_string());
    } else {
        out.push_str("null");
    }
}

fn push_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// Writes `data` (flat, C order, shaped by `shape`) as nested JSON arrays.
fn push_nested(out: &mut String, data: &[f64], shape: &[usize], integer: bool) {
    match shape.split_first() {
        None => {}
        Some((&n, [])) => {
            out.push('[');
            for (i, v) in data.iter().take(n).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if integer && v.is_finite() && v.abs() < 9.0e15 {
                    out.push_str(&format!("{}", *v as i64));
                } else {
                    push_number(out, *v);
                }
            }
            out.push(']');
        }
        Some((&n, rest)) => {
            let inner: usize = rest.iter().product();
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                let start = (i * inner).min(data.len());
                let end = ((i + 1) * inner).min(data.len());
                push_nested(out, data.get(start..end).unwrap_or_default(), rest, integer);
            }
            out.push(']');
        }
    }
}

impl Histogram {
    /// The UHI document (`uhi_schema: 1`) of this histogram.
    pub fn to_uhi_json(&self) -> String {
        let mut out = String::with_capacity(256 + self.values.len() * 8);
        out.push_str(r#"{"uhi_schema":1,"writer_info":{"hepq":{"version":"#);
        push_string(&mut out, env!("CARGO_PKG_VERSION"));
        out.push_str(r#"}},"axes":["#);
        for (i, axis) in self.axes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('{');
            match &axis.kind {
                AxisKind::Regular { bins, lower, upper } => {
                    out.push_str(r#""type":"regular","lower":"#);
                    push_number(&mut out, *lower);
                    out.push_str(r#","upper":"#);
                    push_number(&mut out, *upper);
                    out.push_str(&format!(r#","bins":{bins}"#));
                }
                AxisKind::Variable { edges } => {
                    out.push_str(r#""type":"variable","edges":["#);
                    for (j, e) in edges.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        push_number(&mut out, *e);
                    }
                    out.push(']');
                }
                AxisKind::StrCategory { categories } => {
                    out.push_str(r#""type":"category_str","categories":["#);
                    for (j, c) in categories.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        push_string(&mut out, c);
                    }
                    out.push(']');
                }
                AxisKind::IntCategory { categories } => {
                    out.push_str(r#""type":"category_int","categories":["#);
                    let parts: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
                    out.push_str(&parts.join(","));
                    out.push(']');
                }
            }
            if axis.is_category() {
                out.push_str(&format!(r#","flow":{}"#, axis.overflow));
            } else {
                out.push_str(&format!(
                    r#","underflow":{},"overflow":{},"circular":false"#,
                    axis.underflow, axis.overflow
                ));
            }
            if let Some(label) = &axis.label {
                out.push_str(r#","metadata":{"name":"#);
                push_string(&mut out, label);
                out.push_str(r#","label":"#);
                push_string(&mut out, label);
                out.push('}');
            }
            out.push('}');
        }
        out.push_str(r#"],"storage":{"type":"#);
        let shape: Vec<usize> = self.axes.iter().map(Axis::extent).collect();
        match self.storage {
            Storage::Int => {
                out.push_str(r#""int","values":"#);
                push_nested(&mut out, &self.values, &shape, true);
            }
            Storage::Double => {
                out.push_str(r#""double","values":"#);
                push_nested(&mut out, &self.values, &shape, false);
            }
            Storage::Weighted => {
                out.push_str(r#""weighted","values":"#);
                push_nested(&mut out, &self.values, &shape, false);
                out.push_str(r#","variances":"#);
                push_nested(&mut out, &self.variances, &shape, false);
            }
        }
        out.push_str("}}");
        out
    }

    /// Reads a UHI document (`uhi_schema: 1`; regular, variable and category axes; int,
    /// double and weighted storage, dense). Errors name `function`.
    pub fn from_uhi_json(text: &str, function: &str) -> Result<Self> {
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            exec_datafusion_err!("{function}: the argument is not a JSON document: {e}")
        })?;
        parse_document(&doc).map_err(|e| {
            exec_datafusion_err!("{function}: the argument is not a UHI histogram: {e}")
        })
    }
}

fn parse_document(doc: &serde_json::Value) -> std::result::Result<Histogram, String> {
    use serde_json::Value;
    let obj = doc.as_object().ok_or("not a JSON object")?;
    if obj.get("uhi_schema").and_then(Value::as_i64) != Some(1) {
        return Err("uhi_schema must be 1".into());
    }
    let axes_json = obj
        .get("axes")
        .and_then(Value::as_array)
        .ok_or("no axes array")?;
    if axes_json.is_empty() || axes_json.len() > 32 {
        return Err("a histogram needs between 1 and 32 axes".into());
    }
    let mut axes = Vec::with_capacity(axes_json.len());
    for (i, axis) in axes_json.iter().enumerate() {
        let a = axis
            .as_object()
            .ok_or(format!("axis {i} is not an object"))?;
        let flag = |key: &str| a.get(key).and_then(Value::as_bool).unwrap_or(false);
        let label = a
            .get("metadata")
            .and_then(|m| m.get("name").or_else(|| m.get("label")))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let typ = a.get("type").and_then(Value::as_str).unwrap_or_default();
        let numbers = |key: &str| -> std::result::Result<Vec<f64>, String> {
            a.get(key)
                .and_then(Value::as_array)
                .ok_or(format!("axis {i} has no {key} array"))?
                .iter()
                .map(|v| v.as_f64().ok_or(format!("axis {i}: {key} must be numbers")))
                .collect()
        };
        let (kind, underflow, overflow) = match typ {
            "regular" => {
                let bins = a
                    .get("bins")
                    .and_then(Value::as_u64)
                    .ok_or("regular axis without bins")?;
                let lower = a
                    .get("lower")
                    .and_then(Value::as_f64)
                    .ok_or("regular axis without lower")?;
                let upper = a
                    .get("upper")
                    .and_then(Value::as_f64)
                    .ok_or("regular axis without upper")?;
                if bins == 0
                    || bins > 100_000_000
                    || !lower.is_finite()
                    || !upper.is_finite()
                    || lower >= upper
                {
                    return Err(format!("axis {i}: bad regular axis"));
                }
                (
                    AxisKind::Regular {
                        bins: bins as usize,
                        lower,
                        upper,
                    },
                    flag("underflow"),
                    flag("overflow"),
                )
            }
            "variable" => {
                let edges = numbers("edges")?;
                if edges.len() < 2 || edges.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!("axis {i}: edges must increase"));
                }
                (
                    AxisKind::Variable { edges },
                    flag("underflow"),
                    flag("overflow"),
                )
            }
            "category_str" => {
                let categories = a
                    .get("categories")
                    .and_then(Value::as_array)
                    .ok_or(format!("axis {i} has no categories"))?
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or("categories must be text")
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                (AxisKind::StrCategory { categories }, false, flag("flow"))
            }
            "category_int" => {
                let categories = a
                    .get("categories")
                    .and_then(Value::as_array)
                    .ok_or(format!("axis {i} has no categories"))?
                    .iter()
                    .map(|v| v.as_i64().ok_or("categories must be integers"))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                (AxisKind::IntCategory { categories }, false, flag("flow"))
            }
            other => return Err(format!("axis {i}: unsupported axis type '{other}'")),
        };
        axes.push(Axis {
            kind,
            underflow,
            overflow,
            label,
        });
    }
    let shape: Vec<usize> = axes.iter().map(Axis::extent).collect();
    let size = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    let size = size.filter(|&s| s <= 1 << 28).ok_or("too many bins")?;
    let storage = obj
        .get("storage")
        .and_then(Value::as_object)
        .ok_or("no storage")?;
    let typ = storage
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let storage_kind = match typ {
        "int" => Storage::Int,
        "double" => Storage::Double,
        "weighted" => Storage::Weighted,
        other => return Err(format!("unsupported storage '{other}'")),
    };
    if storage.contains_key("index") {
        return Err("sparse storage is not supported".into());
    }
    let read = |key: &str| -> std::result::Result<Vec<f64>, String> {
        match storage.get(key) {
            // An empty storage (only `type`) means all zeros.
            None => Ok(vec![0.0; size]),
            Some(v) => {
                let mut out = Vec::with_capacity(size);
                flatten(v, &shape, &mut out).map_err(|e| format!("storage {key}: {e}"))?;
                Ok(out)
            }
        }
    };
    let values = read("values")?;
    let variances = if storage_kind == Storage::Weighted {
        read("variances")?
    } else {
        Vec::new()
    };
    Ok(Histogram {
        axes,
        storage: storage_kind,
        values,
        variances,
    })
}

fn flatten(
    v: &serde_json::Value,
    shape: &[usize],
    out: &mut Vec<f64>,
) -> std::result::Result<(), String> {
    let array = v
        .as_array()
        .ok_or("expected an array (path references are not supported)")?;
    let Some((&n, rest)) = shape.split_first() else {
        return Err("too deeply nested".into());
    };
    if array.len() != n {
        return Err(format!("expected {n} entries, got {}", array.len()));
    }
    for item in array {
        if rest.is_empty() {
            // `null` stands for a non-finite number (JSON has none); read as NaN.
            out.push(if item.is_null() {
                f64::NAN
            } else {
                item.as_f64().ok_or("bin contents must be numbers")?
            });
        } else {
            flatten(item, rest, out)?;
        }
    }
    Ok(())
}

/// An error for a bad argument of `function`.
pub fn arg_error(function: &str, message: impl fmt::Display) -> DataFusionError {
    exec_datafusion_err!("{function}: {message}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn regular_binning_matches_boost_rules() {
        let (lower, width, bins) = (0.0, 1.0, 4);
        assert_eq!(regular_index(-0.1, lower, width, bins), 0);
        assert_eq!(regular_index(f64::NEG_INFINITY, lower, width, bins), 0);
        assert_eq!(regular_index(0.0, lower, width, bins), 1);
        assert_eq!(regular_index(0.25, lower, width, bins), 2);
        assert_eq!(regular_index(0.999, lower, width, bins), 4);
        assert_eq!(regular_index(1.0, lower, width, bins), 5);
        assert_eq!(regular_index(f64::INFINITY, lower, width, bins), 5);
        assert_eq!(regular_index(f64::NAN, lower, width, bins), 5);
    }

    #[test]
    fn variable_binning_matches_boost_rules() {
        let edges = [0.0, 1.0, 5.0];
        assert_eq!(variable_index(-1.0, &edges), 0);
        assert_eq!(variable_index(0.0, &edges), 1);
        assert_eq!(variable_index(1.0, &edges), 2);
        assert_eq!(variable_index(4.9, &edges), 2);
        assert_eq!(variable_index(5.0, &edges), 3);
        assert_eq!(variable_index(f64::NAN, &edges), 3);
        assert_eq!(variable_index(f64::NEG_INFINITY, &edges), 0);
    }

    #[test]
    fn state_round_trip() {
        let mut h = Histogram::new(
            vec![
                Axis::str_category().with_label(Some("c".into())),
                Axis::variable("t", vec![0.0, 1.0, 3.0]).unwrap(),
            ],
            true,
        );
        if let AxisKind::StrCategory { categories } = &mut h.axes[0].kind {
            categories.push("b".into());
        }
        let (axes, storage) = decode_axes(&encode_axes(&h)).unwrap();
        assert_eq!(axes, h.axes);
        assert_eq!(storage, Storage::Weighted);
        assert!(decode_axes(&encode_axes(&h)[..5]).is_err());
    }

    #[test]
    fn json_round_trip_and_merge_error() {
        let mut h = Histogram::new(vec![Axis::regular("t", 2, 0.0, 1.0).unwrap()], false);
        h.values = vec![1.0, 2.0, 3.0, 4.0];
        let back = Histogram::from_uhi_json(&h.to_uhi_json(), "t").unwrap();
        assert_eq!(back, h);
        let other = Histogram::new(vec![Axis::regular("t", 3, 0.0, 1.0).unwrap()], false);
        let err = h.add(&other, "hist_add").unwrap_err().to_string();
        assert!(
            err.contains("Regular(2, 0, 1)") && err.contains("Regular(3, 0, 1)"),
            "{err}"
        );
    }

    #[test]
    fn categories_union_and_sort() {
        let cat = |cats: &[&str], vals: Vec<f64>| Histogram {
            axes: vec![Axis {
                kind: AxisKind::StrCategory {
                    categories: cats.iter().map(|s| s.to_string()).collect(),
                },
                underflow: false,
                overflow: false,
                label: None,
            }],
            storage: Storage::Int,
            values: vals,
            variances: vec![],
        };
        let mut a = cat(&["z", "a"], vec![1.0, 2.0]);
        a.add(&cat(&["b", "z"], vec![10.0, 20.0]), "t").unwrap();
        a.sort_categories();
        assert_eq!(a, cat(&["a", "b", "z"], vec![2.0, 10.0, 21.0]));
    }
}
