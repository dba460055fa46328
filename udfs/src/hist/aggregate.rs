//! The machinery the filling aggregates (`hist`, `hist2d`, `hist_cat`) and `hist_merge`
//! share: argument coercion and constant parsing, the result field, the partial state, the
//! row-at-a-time [`Accumulator`] and the [`GroupsAccumulator`] that keeps every group's bins in
//! one flat buffer.
//!
//! Partial state (three fields, per group): `axes` — a small binary blob describing the axes
//! and storage; `values` — the bins as `List<Float64>`, flow bins included; `variances` — the
//! sums of squared weights as `List<Float64>` (NULL for unweighted histograms). The UHI JSON
//! document is produced only by `evaluate`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float64Array, ListArray, StringArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{CastExpr, Column, Literal, TryCastExpr};

use super::fill::{
    CategoryColumn, CategoryRef, NumberColumn, Weights, fill_1d, fill_2d, fill_category,
};
use super::histogram::{
    Axis, AxisKind, Histogram, Storage, decode_axes, encode_axes, regular_index, variable_index,
};

/// The Arrow extension name of the result column (Arrow's canonical JSON extension type).
pub const JSON_EXTENSION: &str = "arrow.json";

/// The result field of every histogram-valued function: Utf8 marked as `arrow.json`.
pub fn json_field(name: &str) -> FieldRef {
    let metadata = HashMap::from([(
        "ARROW:extension:name".to_string(),
        JSON_EXTENSION.to_string(),
    )]);
    Arc::new(Field::new(name, DataType::Utf8, true).with_metadata(metadata))
}

/// The three partial-state fields.
pub fn state_fields(name: &str) -> Vec<FieldRef> {
    vec![
        Arc::new(Field::new(format!("{name}[axes]"), DataType::Binary, true)),
        Arc::new(Field::new(format!("{name}[values]"), list_type(), true)),
        Arc::new(Field::new(format!("{name}[variances]"), list_type(), true)),
    ]
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

fn list_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Float64, true))
}

// ---------------------------------------------------------------------------------------------
// Argument coercion.

fn is_plain_number(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

fn coerce_element(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Float32 | DataType::Float64 => Some(t.clone()),
        t if is_plain_number(t) => Some(DataType::Float64),
        _ => None,
    }
}

/// A number (→ Float32/Float64) or a list of numbers (→ `List<Float32|Float64>`).
pub fn coerce_values(t: &DataType, function: &str, argument: &str) -> Result<DataType> {
    let bad = || exec_err!("{function}: {argument} must be a number or a list of numbers, got {t}");
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            let Some(element) = coerce_element(f.data_type()) else {
                return bad();
            };
            if element == *f.data_type() && !matches!(t, DataType::FixedSizeList(..)) {
                return Ok(t.clone());
            }
            let field = Arc::new(Field::new_list_field(element, true));
            Ok(match t {
                DataType::LargeList(_) => DataType::LargeList(field),
                _ => DataType::List(field),
            })
        }
        t => coerce_element(t).map_or_else(bad, Ok),
    }
}

/// An integer constant such as a bin count (→ Int64).
pub fn coerce_integer(t: &DataType, function: &str, argument: &str) -> Result<DataType> {
    if t.is_integer() || t.is_null() {
        Ok(DataType::Int64)
    } else {
        exec_err!("{function}: {argument} must be an integer, got {t}")
    }
}

/// A numeric constant or column (→ Float64).
pub fn coerce_float(t: &DataType, function: &str, argument: &str) -> Result<DataType> {
    if is_plain_number(t) {
        Ok(DataType::Float64)
    } else {
        exec_err!("{function}: {argument} must be a number, got {t}")
    }
}

/// Whether `t` is a list type (an edges argument).
pub fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

/// A constant array of edges (→ `List<Float64>`).
pub fn coerce_edges(t: &DataType, function: &str) -> Result<DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
            if is_plain_number(f.data_type()) =>
        {
            Ok(list_type())
        }
        _ => exec_err!("{function}: the edges must be an array of numbers, got {t}"),
    }
}

/// A category column: text (→ Utf8) or integers (→ Int64).
pub fn coerce_category(t: &DataType, function: &str) -> Result<DataType> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            Ok(DataType::Utf8)
        }
        DataType::Dictionary(_, v)
            if matches!(
                v.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            Ok(DataType::Utf8)
        }
        t if t.is_integer() => Ok(DataType::Int64),
        _ => exec_err!("{function}: the category must be text or an integer, got {t}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Constant arguments.

fn literal<'a>(
    exprs: &'a [Arc<dyn PhysicalExpr>],
    i: usize,
    function: &str,
    argument: &str,
) -> Result<&'a ScalarValue> {
    match exprs.get(i).and_then(|e| e.downcast_ref::<Literal>()) {
        Some(lit) => Ok(lit.value()),
        None => exec_err!("{function}: {argument} must be a constant"),
    }
}

/// The integer constant argument `i`.
pub fn literal_i64(
    exprs: &[Arc<dyn PhysicalExpr>],
    i: usize,
    function: &str,
    argument: &str,
) -> Result<i64> {
    match literal(exprs, i, function, argument)? {
        ScalarValue::Int64(Some(v)) => Ok(*v),
        other => exec_err!("{function}: {argument} must be a non-NULL integer, got {other}"),
    }
}

/// The numeric constant argument `i`.
pub fn literal_f64(
    exprs: &[Arc<dyn PhysicalExpr>],
    i: usize,
    function: &str,
    argument: &str,
) -> Result<f64> {
    match literal(exprs, i, function, argument)? {
        ScalarValue::Float64(Some(v)) => Ok(*v),
        other => exec_err!("{function}: {argument} must be a non-NULL number, got {other}"),
    }
}

/// The constant edges argument `i`.
pub fn literal_edges(
    exprs: &[Arc<dyn PhysicalExpr>],
    i: usize,
    function: &str,
) -> Result<Vec<f64>> {
    let value = literal(exprs, i, function, "the edges")?;
    let ScalarValue::List(list) = value else {
        return exec_err!("{function}: the edges must be an array of numbers, got {value}");
    };
    if list.is_null(0) {
        return exec_err!("{function}: the edges must not be NULL");
    }
    let values = list.value(0);
    let Some(values) = values.as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>()
    else {
        return exec_err!("{function}: the edges must be an array of numbers");
    };
    if values.null_count() > 0 {
        return exec_err!("{function}: the edges must not contain NULL");
    }
    Ok(values.values().to_vec())
}

/// The axis label of argument `i`: its column name when it is a plain column (also under
/// the casts that type coercion adds, e.g. `Utf8View` → `Utf8`).
pub fn column_label(exprs: &[Arc<dyn PhysicalExpr>], i: usize) -> Option<String> {
    let mut expr = exprs.get(i)?;
    loop {
        if let Some(column) = expr.downcast_ref::<Column>() {
            return Some(column.name().to_string());
        }
        if let Some(cast) = expr.downcast_ref::<CastExpr>() {
            expr = cast.expr();
        } else if let Some(cast) = expr.downcast_ref::<TryCastExpr>() {
            expr = cast.expr();
        } else {
            return None;
        }
    }
}

/// A regular axis from arguments `i..i+3` (bins, low, high) or a variable axis from the
/// edges at `i`; returns the axis and the index of the next argument.
pub fn axis_from_args(
    args: &AccumulatorArgs<'_>,
    i: usize,
    function: &str,
    label_arg: usize,
) -> Result<(Axis, usize)> {
    let label = column_label(args.exprs, label_arg);
    let is_edges = args
        .expr_fields
        .get(i)
        .is_some_and(|f| is_list(f.data_type()));
    if is_edges {
        let edges = literal_edges(args.exprs, i, function)?;
        Ok((Axis::variable(function, edges)?.with_label(label), i + 1))
    } else {
        let bins = literal_i64(args.exprs, i, function, "bins")?;
        let low = literal_f64(args.exprs, i + 1, function, "low")?;
        let high = literal_f64(args.exprs, i + 2, function, "high")?;
        Ok((
            Axis::regular(function, bins, low, high)?.with_label(label),
            i + 3,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Fill specification.

/// Which columns fill which axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `x` fills one numeric axis.
    OneD,
    /// `x` and `y` fill two numeric axes.
    TwoD,
    /// A category column and `x` fill a growing category axis and a numeric axis.
    Category,
}

/// What one filling aggregate call does: its axes, layout and weight argument.
#[derive(Debug, Clone)]
pub struct FillSpec {
    /// The SQL function name, for errors.
    pub function: &'static str,
    /// How the arguments map onto the axes.
    pub layout: Layout,
    /// The axes of an empty histogram.
    pub axes: Vec<Axis>,
    /// The argument index of the weight, if any.
    pub weight: Option<usize>,
}

impl FillSpec {
    fn empty(&self) -> Histogram {
        Histogram::new(self.axes.clone(), self.weight.is_some())
    }
}

/// A numeric axis ready to bin.
#[derive(Debug, Clone)]
enum NumAxis {
    Regular { lower: f64, width: f64, bins: usize },
    Variable(Vec<f64>),
}

impl NumAxis {
    fn of(axis: &Axis, function: &str) -> Result<Self> {
        match &axis.kind {
            AxisKind::Regular { bins, lower, upper } => Ok(NumAxis::Regular {
                lower: *lower,
                width: upper - lower,
                bins: *bins,
            }),
            AxisKind::Variable { edges } => Ok(NumAxis::Variable(edges.clone())),
            _ => internal_err!("{function}: a numeric axis was expected"),
        }
    }

    #[inline(always)]
    fn index(&self, x: f64) -> usize {
        match self {
            NumAxis::Regular { lower, width, bins } => regular_index(x, *lower, *width, *bins),
            NumAxis::Variable(edges) => variable_index(x, edges),
        }
    }
}

/// Adds `w` (and `w²`) to bin `offset + bin`.
#[inline(always)]
fn add(values: &mut [f64], variances: &mut [f64], slot: usize, w: f64, weighted: bool) {
    if let Some(v) = values.get_mut(slot) {
        *v += w;
    }
    if weighted && let Some(v) = variances.get_mut(slot) {
        *v += w * w;
    }
}

/// Fills the numeric layouts (`OneD`, `TwoD`): `sink(row, bin, weight)`.
fn fill_numeric<S>(spec: &FillSpec, axes: &[NumAxis], values: &[ArrayRef], sink: S) -> Result<()>
where
    S: FnMut(usize, usize, f64),
{
    let weights = Weights::try_new(spec.weight.and_then(|i| values.get(i)), spec.function)?;
    let Some(x_array) = values.first() else {
        return internal_err!("{}: missing argument", spec.function);
    };
    let x = NumberColumn::try_new(x_array, spec.function, "x")?;
    match (spec.layout, axes) {
        (Layout::OneD, [axis]) => {
            match axis {
                NumAxis::Regular { lower, width, bins } => {
                    let (lower, width, bins) = (*lower, *width, *bins);
                    fill_1d(&x, &weights, |v| regular_index(v, lower, width, bins), sink)
                }
                NumAxis::Variable(edges) => {
                    fill_1d(&x, &weights, |v| variable_index(v, edges), sink)
                }
            }
            Ok(())
        }
        (Layout::TwoD, [ax, ay]) => {
            let Some(y_array) = values.get(1) else {
                return internal_err!("{}: missing argument", spec.function);
            };
            let y = NumberColumn::try_new(y_array, spec.function, "y")?;
            let ny = ay_extent(ay);
            fill_2d(
                &x,
                &y,
                &weights,
                spec.function,
                |a, b| ax.index(a) * ny + ay.index(b),
                sink,
            )
        }
        _ => internal_err!("{}: bad fill layout", spec.function),
    }
}

fn ay_extent(axis: &NumAxis) -> usize {
    match axis {
        NumAxis::Regular { bins, .. } => bins + 2,
        NumAxis::Variable(edges) => edges.len() + 1,
    }
}

// ---------------------------------------------------------------------------------------------
// The row-at-a-time accumulator (no GROUP BY, and `hist_cat`).

/// One histogram being filled.
#[derive(Debug)]
pub struct FillAccumulator {
    spec: Arc<FillSpec>,
    num_axes: Vec<NumAxis>,
    hist: Histogram,
    blob: Vec<u8>,
    str_index: HashMap<String, usize>,
    int_index: HashMap<i64, usize>,
}

impl FillAccumulator {
    /// An empty histogram for `spec`.
    pub fn try_new(spec: Arc<FillSpec>) -> Result<Self> {
        let num_axes = spec
            .axes
            .iter()
            .filter(|a| !a.is_category())
            .map(|a| NumAxis::of(a, spec.function))
            .collect::<Result<_>>()?;
        let hist = spec.empty();
        let blob = encode_axes(&hist);
        Ok(FillAccumulator {
            spec,
            num_axes,
            hist,
            blob,
            str_index: HashMap::new(),
            int_index: HashMap::new(),
        })
    }

    fn rebuild_index(&mut self) {
        self.str_index.clear();
        self.int_index.clear();
        match self.hist.axes.first().map(|a| &a.kind) {
            Some(AxisKind::StrCategory { categories }) => {
                self.str_index = categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), i))
                    .collect()
            }
            Some(AxisKind::IntCategory { categories }) => {
                self.int_index = categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (*c, i))
                    .collect()
            }
            _ => {}
        }
    }
}

/// Grows the first (category) axis of a histogram as new categories appear.
struct CategoryFill<'a> {
    hist: &'a mut Histogram,
    str_index: &'a mut HashMap<String, usize>,
    int_index: &'a mut HashMap<i64, usize>,
    inner: usize,
    weighted: bool,
}

impl CategoryFill<'_> {
    fn category(&mut self, key: CategoryRef<'_>) -> usize {
        let (existing, next) = match key {
            CategoryRef::Str(s) => (self.str_index.get(s).copied(), self.str_index.len()),
            CategoryRef::Int(v) => (self.int_index.get(&v).copied(), self.int_index.len()),
        };
        if let Some(i) = existing {
            return i;
        }
        if let Some(axis) = self.hist.axes.first_mut() {
            match (&mut axis.kind, key) {
                (AxisKind::StrCategory { categories }, CategoryRef::Str(s)) => {
                    categories.push(s.to_string());
                    self.str_index.insert(s.to_string(), next);
                }
                (AxisKind::IntCategory { categories }, CategoryRef::Int(v)) => {
                    categories.push(v);
                    self.int_index.insert(v, next);
                }
                _ => {}
            }
        }
        self.hist
            .values
            .resize(self.hist.values.len() + self.inner, 0.0);
        if self.weighted {
            self.hist
                .variances
                .resize(self.hist.variances.len() + self.inner, 0.0);
        }
        next
    }
}

impl Accumulator for FillAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let weighted = self.spec.weight.is_some();
        if self.spec.layout == Layout::Category {
            let function = self.spec.function;
            let (Some(c), Some(x)) = (values.first(), values.get(1)) else {
                return internal_err!("{function}: missing argument");
            };
            let categories = CategoryColumn::try_new(c, function)?;
            let x = NumberColumn::try_new(x, function, "x")?;
            let weights = Weights::try_new(self.spec.weight.and_then(|i| values.get(i)), function)?;
            let Some(axis) = self.num_axes.first() else {
                return internal_err!("{function}: missing axis");
            };
            let inner = self.hist.axes.get(1).map_or(1, Axis::extent);
            let mut state = CategoryFill {
                hist: &mut self.hist,
                str_index: &mut self.str_index,
                int_index: &mut self.int_index,
                inner,
                weighted,
            };
            let state_ref = &mut state;
            let mut pending: Vec<(usize, usize, f64)> = Vec::new();
            fill_category(
                &categories,
                &x,
                &weights,
                |key| state_ref.category(key),
                |v| axis.index(v),
                |c, b, w| pending.push((c, b, w)),
            );
            for (c, b, w) in pending {
                add(
                    &mut state.hist.values,
                    &mut state.hist.variances,
                    c * inner + b,
                    w,
                    weighted,
                );
            }
            return Ok(());
        }
        let hist = &mut self.hist;
        let (vals, vars) = (&mut hist.values, &mut hist.variances);
        fill_numeric(&self.spec, &self.num_axes, values, |_, bin, w| {
            add(vals, vars, bin, w, weighted)
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut hist = self.hist.clone();
        hist.sort_categories();
        Ok(ScalarValue::Utf8(Some(hist.to_uhi_json())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.hist.allocated() + self.blob.capacity()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let blob = if self.spec.layout == Layout::Category {
            encode_axes(&self.hist)
        } else {
            self.blob.clone()
        };
        Ok(vec![
            ScalarValue::Binary(Some(blob)),
            list_scalar(Some(&self.hist.values)),
            list_scalar(self.hist.is_weighted().then_some(&self.hist.variances)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let function = self.spec.function;
        let fixed = self.spec.layout != Layout::Category;
        for_each_state(states, function, |blob, values, variances| {
            if fixed && blob == self.blob.as_slice() {
                add_slices(&mut self.hist, values, variances);
                Ok(())
            } else {
                let other = state_histogram(blob, values, variances)?;
                self.hist.add(&other, function)
            }
        })?;
        if !fixed {
            self.rebuild_index();
        }
        Ok(())
    }
}

fn add_slices(hist: &mut Histogram, values: &[f64], variances: Option<&[f64]>) {
    for (a, b) in hist.values.iter_mut().zip(values) {
        *a += b;
    }
    if hist.is_weighted() {
        for (a, b) in hist.variances.iter_mut().zip(variances.unwrap_or(values)) {
            *a += b;
        }
    }
}

/// Rebuilds one histogram from its state.
fn state_histogram(blob: &[u8], values: &[f64], variances: Option<&[f64]>) -> Result<Histogram> {
    let (axes, storage) = decode_axes(blob)?;
    let size: usize = axes.iter().map(Axis::extent).product();
    if values.len() != size || variances.is_some_and(|v| v.len() != size) {
        return exec_err!("corrupt histogram state: {} bins for {size}", values.len());
    }
    let variances = match (storage, variances) {
        (Storage::Weighted, Some(v)) => v.to_vec(),
        (Storage::Weighted, None) => values.to_vec(),
        _ => Vec::new(),
    };
    Ok(Histogram {
        axes,
        storage,
        values: values.to_vec(),
        variances,
    })
}

/// Calls `f(blob, values, variances)` for every non-NULL row of a state batch.
fn for_each_state<F>(states: &[ArrayRef], function: &str, mut f: F) -> Result<()>
where
    F: FnMut(&[u8], &[f64], Option<&[f64]>) -> Result<()>,
{
    for_each_state_row(states, function, |_, blob, values, variances| {
        f(blob, values, variances)
    })
}

fn for_each_state_row<F>(states: &[ArrayRef], function: &str, mut f: F) -> Result<()>
where
    F: FnMut(usize, &[u8], &[f64], Option<&[f64]>) -> Result<()>,
{
    let (Some(blobs), Some(values), Some(variances)) = (
        states.first().and_then(|a| a.as_binary_opt::<i32>()),
        states.get(1).and_then(|a| a.as_list_opt::<i32>()),
        states.get(2).and_then(|a| a.as_list_opt::<i32>()),
    ) else {
        return internal_err!("{function}: unexpected partial state");
    };
    let (Some(flat_values), Some(flat_variances)) = (
        values
            .values()
            .as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>(),
        variances
            .values()
            .as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>(),
    ) else {
        return internal_err!("{function}: unexpected partial state");
    };
    let (vo, wo) = (values.value_offsets(), variances.value_offsets());
    for row in 0..blobs.len() {
        if blobs.is_null(row) || values.is_null(row) {
            continue;
        }
        let range = |o: &[i32]| -> Option<(usize, usize)> {
            Some((*o.get(row)? as usize, *o.get(row + 1)? as usize))
        };
        let Some((vs, ve)) = range(vo) else { continue };
        let Some(v) = flat_values.values().get(vs..ve) else {
            return exec_err!("{function}: corrupt partial state");
        };
        let w = if variances.is_null(row) {
            None
        } else {
            range(wo).and_then(|(s, e)| flat_variances.values().get(s..e))
        };
        f(row, blobs.value(row), v, w)?;
    }
    Ok(())
}

fn list_scalar(values: Option<&Vec<f64>>) -> ScalarValue {
    let array = match values {
        Some(v) => ListArray::new(
            list_field(),
            OffsetBuffer::from_lengths([v.len()]),
            Arc::new(Float64Array::from(v.clone())),
            None,
        ),
        None => ListArray::new_null(list_field(), 1),
    };
    ScalarValue::List(Arc::new(array))
}

// ---------------------------------------------------------------------------------------------
// The grouped accumulator: one flat buffer of `groups × bins`.

/// Every group's histogram of a `OneD`/`TwoD` fill, in one flat buffer.
///
/// A batch is filled in two passes: the first computes each value's slot (`group × bins +
/// bin`) into a small sequential buffer, the second increments the slots. The second loop is
/// so short that the CPU keeps many of its (cache-missing: 10,000 groups × 102 bins is
/// megabytes) increments in flight at once. Unweighted fills count in 32-bit integers (half the
/// memory traffic of doubles), folded into the `f64` bins before they could overflow and
/// whenever the bins are read.
#[derive(Debug)]
pub struct FillGroupsAccumulator {
    spec: Arc<FillSpec>,
    num_axes: Vec<NumAxis>,
    template: Histogram,
    blob: Vec<u8>,
    stride: usize,
    weighted: bool,
    values: Vec<f64>,
    variances: Vec<f64>,
    /// Unweighted fills not yet folded into `values`.
    counts: Vec<u32>,
    /// How many fills `counts` holds in all (an upper bound for any one bin).
    pending: u64,
    /// The first pass's slots and weights (kept to reuse their allocations).
    slots: Vec<usize>,
    slot_weights: Vec<f64>,
    groups: usize,
}

impl FillGroupsAccumulator {
    /// An accumulator for `spec` (not for the `Category` layout).
    pub fn try_new(spec: Arc<FillSpec>) -> Result<Self> {
        if spec.layout == Layout::Category {
            return internal_err!(
                "{}: grouped category fills are not supported",
                spec.function
            );
        }
        let num_axes = spec
            .axes
            .iter()
            .map(|a| NumAxis::of(a, spec.function))
            .collect::<Result<_>>()?;
        let template = spec.empty();
        let stride = template.size();
        let blob = encode_axes(&template);
        let weighted = spec.weight.is_some();
        Ok(FillGroupsAccumulator {
            spec,
            num_axes,
            template,
            blob,
            stride,
            weighted,
            values: Vec::new(),
            variances: Vec::new(),
            counts: Vec::new(),
            pending: 0,
            slots: Vec::new(),
            slot_weights: Vec::new(),
            groups: 0,
        })
    }

    fn resize(&mut self, total_num_groups: usize) {
        if total_num_groups > self.groups {
            self.values.resize(total_num_groups * self.stride, 0.0);
            if self.weighted {
                self.variances.resize(total_num_groups * self.stride, 0.0);
            } else {
                self.counts.resize(total_num_groups * self.stride, 0);
            }
            self.groups = total_num_groups;
        }
    }

    /// Adds the pending integer counts into the bins.
    fn fold_counts(&mut self) {
        if self.pending == 0 {
            return;
        }
        for (v, c) in self.values.iter_mut().zip(self.counts.iter_mut()) {
            *v += f64::from(*c);
            *c = 0;
        }
        self.pending = 0;
    }

    /// The second pass: adds the collected slots (and weights) into the bins.
    fn scatter(&mut self) {
        if self.weighted {
            for (&slot, &w) in self.slots.iter().zip(&self.slot_weights) {
                if let Some(v) = self.values.get_mut(slot) {
                    *v += w;
                }
                if let Some(v) = self.variances.get_mut(slot) {
                    *v += w * w;
                }
            }
            return;
        }
        let fills = self.slots.len() as u64;
        if self.pending + fills > u64::from(u32::MAX) {
            self.fold_counts();
        }
        for &slot in &self.slots {
            if let Some(c) = self.counts.get_mut(slot) {
                *c += 1;
            }
        }
        self.pending += fills;
    }

    /// Takes the bins of the groups `emit_to` names.
    fn take(&mut self, emit_to: EmitTo) -> (usize, Vec<f64>, Vec<f64>) {
        self.fold_counts();
        let n = match emit_to {
            EmitTo::All => self.groups,
            EmitTo::First(n) => n.min(self.groups),
        };
        let cut = n * self.stride;
        let take = |data: &mut Vec<f64>| -> Vec<f64> {
            if cut >= data.len() {
                std::mem::take(data)
            } else {
                let rest = data.split_off(cut);
                std::mem::replace(data, rest)
            }
        };
        let values = take(&mut self.values);
        let variances = if self.weighted {
            take(&mut self.variances)
        } else {
            // Folded above: every count is 0; keep one per remaining bin.
            self.counts.truncate(self.counts.len().saturating_sub(cut));
            Vec::new()
        };
        self.groups -= n;
        (n, values, variances)
    }
}

impl GroupsAccumulator for FillGroupsAccumulator {
    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Not offered: `supports_convert_to_state` keeps its default (false).
        internal_err!("hist: convert_to_state is not supported")
    }

    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let (stride, weighted) = (self.stride, self.weighted);
        self.slots.clear();
        self.slot_weights.clear();
        let (slots, weights) = (&mut self.slots, &mut self.slot_weights);
        let mut collect = |g: usize, bin: usize, w: f64| {
            slots.push(g * stride + bin);
            if weighted {
                weights.push(w);
            }
        };
        match opt_filter {
            None => fill_numeric(&self.spec, &self.num_axes, values, |row, bin, w| {
                if let Some(&g) = group_indices.get(row) {
                    collect(g, bin, w)
                }
            })?,
            Some(filter) => fill_numeric(&self.spec, &self.num_axes, values, |row, bin, w| {
                if filter.is_valid(row)
                    && filter.value(row)
                    && let Some(&g) = group_indices.get(row)
                {
                    collect(g, bin, w)
                }
            })?,
        }
        self.scatter();
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (n, values, variances) = self.take(emit_to);
        let mut hist = self.template.clone();
        let docs: StringArray = (0..n)
            .map(|g| {
                let range = g * self.stride..(g + 1) * self.stride;
                if let Some(v) = values.get(range.clone()) {
                    hist.values.copy_from_slice(v);
                }
                if let Some(v) = variances.get(range) {
                    hist.variances.copy_from_slice(v);
                }
                Some(hist.to_uhi_json())
            })
            .collect();
        Ok(Arc::new(docs))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (n, values, variances) = self.take(emit_to);
        let blobs: BinaryArray = (0..n).map(|_| Some(self.blob.as_slice())).collect();
        let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(self.stride, n));
        let values = ListArray::new(
            list_field(),
            offsets.clone(),
            Arc::new(Float64Array::from(values)),
            None,
        );
        let variances = if self.weighted {
            ListArray::new(
                list_field(),
                offsets,
                Arc::new(Float64Array::from(variances)),
                None,
            )
        } else {
            ListArray::new_null(list_field(), n)
        };
        Ok(vec![Arc::new(blobs), Arc::new(values), Arc::new(variances)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let function = self.spec.function;
        let (stride, weighted) = (self.stride, self.weighted);
        let blob = self.blob.clone();
        let template = &self.template;
        let (vals, vars) = (&mut self.values, &mut self.variances);
        for_each_state_row(values, function, |row, b, v, w| {
            if b != blob.as_slice() {
                let other = state_histogram(b, v, w)?;
                // Same binning required: report both axes.
                let mut probe = template.clone();
                probe.add(&other, function)?;
                if other.storage != template.storage {
                    return exec_err!("{function}: cannot merge histograms of different storage");
                }
            }
            let Some(&g) = group_indices.get(row) else {
                return Ok(());
            };
            let base = g * stride;
            if let Some(dst) = vals.get_mut(base..base + stride) {
                for (a, b) in dst.iter_mut().zip(v) {
                    *a += b;
                }
            }
            if weighted && let Some(dst) = vars.get_mut(base..base + stride) {
                for (a, b) in dst.iter_mut().zip(w.unwrap_or(v)) {
                    *a += b;
                }
            }
            Ok(())
        })
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + (self.values.capacity() + self.variances.capacity()) * 8
            + self.counts.capacity() * 4
            + self.slots.capacity() * std::mem::size_of::<usize>()
            + self.slot_weights.capacity() * 8
            + self.template.allocated()
    }
}

// ---------------------------------------------------------------------------------------------
// `hist_merge`: sums documents.

/// Sums UHI documents (or partial states) into one histogram.
#[derive(Debug)]
pub struct MergeAccumulator {
    function: &'static str,
    hist: Option<Histogram>,
}

impl MergeAccumulator {
    /// An accumulator that has seen no histogram yet.
    pub fn new(function: &'static str) -> Self {
        MergeAccumulator {
            function,
            hist: None,
        }
    }

    fn add(&mut self, other: Histogram) -> Result<()> {
        match &mut self.hist {
            None => self.hist = Some(other),
            Some(h) => h.add(&other, self.function)?,
        }
        Ok(())
    }
}

impl Accumulator for MergeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return internal_err!("{}: missing argument", self.function);
        };
        if array.data_type().is_null() {
            return Ok(());
        }
        let Some(docs) = array.as_string_opt::<i32>() else {
            return exec_err!("{}: the argument must be a UHI JSON text", self.function);
        };
        for doc in docs.iter().flatten() {
            let h = Histogram::from_uhi_json(doc, self.function)?;
            self.add(h)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(self.hist.as_ref().map(|h| {
            let mut h = h.clone();
            h.sort_categories();
            h.to_uhi_json()
        })))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.hist.as_ref().map_or(0, Histogram::allocated)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(match &self.hist {
            None => vec![
                ScalarValue::Binary(None),
                list_scalar(None),
                list_scalar(None),
            ],
            Some(h) => vec![
                ScalarValue::Binary(Some(encode_axes(h))),
                list_scalar(Some(&h.values)),
                list_scalar(h.is_weighted().then_some(&h.variances)),
            ],
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let function = self.function;
        let mut parts = Vec::new();
        for_each_state(states, function, |blob, values, variances| {
            parts.push(state_histogram(blob, values, variances)?);
            Ok(())
        })?;
        for h in parts {
            self.add(h)?;
        }
        Ok(())
    }
}
