//! Selecting elements of lists: `list_where` (by mask), `list_select` (by 1-based indices,
//! also nested index tuples), `list_first`, `list_last`, `list_pad`, `list_fill_null`,
//! `list_len`, `list_local_index` and `list_argsort`.

use std::sync::Arc;

use datafusion::arrow::array::Scalar;
use datafusion::arrow::array::make_comparator;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Int64Array, ListArray,
    UInt32Array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::{SortOptions, cast, concat, filter, is_not_null, take};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::common::{all_scalar, as_list, finish, list_element, list_of, range, require_list};

fn arg_names(args: &ScalarFunctionArgs) -> Vec<String> {
    args.arg_fields
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}

fn element_type(arg: &DataType) -> DataType {
    list_element(arg)
        .map(|f| f.data_type().clone())
        .unwrap_or(DataType::Null)
}

// ---------------------------------------------------------------------------------------------
// list_where

/// The `ListWhere` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "Keeps the elements of each list where the mask is true (DuckDB's `list_where`; awkward's `values[mask]`). A NULL mask element drops the element. The two lists must have the same length in every row; a NULL list or mask gives NULL.",
    syntax_example = "list_where(values, mask)",
    sql_example = r#"```sql
> SELECT list_where([25.0, 40.0, 31.5], [25.0, 40.0, 31.5] > 30);
[40.0, 31.5]
```"#,
    argument(name = "values", description = "A list of any element type."),
    argument(
        name = "mask",
        description = "A boolean list of the same length, e.g. `Jet_pt > 30`."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListWhere {
    signature: Signature,
}

impl Default for ListWhere {
    fn default() -> Self {
        Self::new()
    }
}

impl ListWhere {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListWhere {
    fn name(&self) -> &str {
        "list_where"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [values, mask] = arg_types else {
            return plan_err!("list_where takes two arguments (values, mask)");
        };
        let values = require_list("list_where", 0, values)?;
        require_list("list_where", 1, mask)?;
        Ok(vec![values, list_of(DataType::Boolean)])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(element_type(&arg_types[0])))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let names = arg_names(&args);
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let values = as_list("list_where", 0, &arrays[0])?;
        let mask_list = as_list("list_where", 1, &arrays[1])?;
        let Some(mask) = mask_list.values().as_boolean_opt() else {
            return exec_err!("list_where: argument 2 must be a list of booleans");
        };
        let rows = values.len();
        let nulls = NullBuffer::union(values.nulls(), mask_list.nulls());
        let voff = values.value_offsets();
        let moff = mask_list.value_offsets();
        let mut keep = BooleanBufferBuilder::new(values.values().len());
        keep.append_n(values.values().len(), false);
        let mut lengths = Vec::with_capacity(rows);
        for row in 0..rows {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                lengths.push(0);
                continue;
            }
            let (vs, ve) = range(voff, row);
            let (ms, me) = range(moff, row);
            if ve - vs != me - ms {
                return exec_err!(
                    "list_where: {} and {} have different lengths in row {} ({} and {} elements)",
                    names[0],
                    names[1],
                    row + 1,
                    ve - vs,
                    me - ms
                );
            }
            let mut n = 0;
            for k in 0..ve - vs {
                if mask.is_valid(ms + k) && mask.value(ms + k) {
                    keep.set_bit(vs + k, true);
                    n += 1;
                }
            }
            lengths.push(n);
        }
        let kept = filter(values.values(), &BooleanArray::new(keep.finish(), None))?;
        let out = ListArray::try_new(
            Arc::new(Field::new_list_field(kept.data_type().clone(), true)),
            OffsetBuffer::from_lengths(lengths),
            kept,
            nulls,
        )?;
        finish(Arc::new(out), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

// ---------------------------------------------------------------------------------------------
// list_select

/// The `ListSelect` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "Picks elements of each list by 1-based position (negative positions count from the end; out of range or NULL gives a NULL element). The indices may be a list of integers, or a list of index tuples such as the result of `list_argcombinations`/`list_argsort`, which gives a list of lists of values.",
    syntax_example = "list_select(values, indices)",
    sql_example = r#"```sql
> SELECT list_select([10, 20, 30], [3, 1, 5]), list_select([10, 20, 30], list_argcombinations([10, 20, 30], 2));
[30, 10, NULL]	[[10, 20], [10, 30], [20, 30]]
```"#,
    argument(name = "values", description = "A list of any element type."),
    argument(
        name = "indices",
        description = "A list of 1-based positions, or a list of lists of positions."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListSelect {
    signature: Signature,
}

impl Default for ListSelect {
    fn default() -> Self {
        Self::new()
    }
}

impl ListSelect {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The nested list type of `indices` with its innermost element replaced by `leaf`.
fn replace_leaf(indices: &DataType, leaf: &DataType) -> DataType {
    match list_element(indices) {
        Some(f) => list_of(replace_leaf(f.data_type(), leaf)),
        None => leaf.clone(),
    }
}

impl ScalarUDFImpl for ListSelect {
    fn name(&self) -> &str {
        "list_select"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [values, indices] = arg_types else {
            return plan_err!("list_select takes two arguments (values, indices)");
        };
        let values = require_list("list_select", 0, values)?;
        let indices = require_list("list_select", 1, indices)?;
        // Innermost element: must be an integer.
        let mut leaf = &indices;
        while let Some(f) = list_element(leaf) {
            leaf = f.data_type();
        }
        if !(leaf.is_integer() || leaf == &DataType::Null) {
            return plan_err!(
                "list_select: argument 2 must hold integer positions, got {}",
                arg_types[1]
            );
        }
        Ok(vec![values, replace_leaf(&indices, &DataType::Int64)])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(replace_leaf(&arg_types[1], &element_type(&arg_types[0])))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let values = as_list("list_select", 0, &arrays[0])?;
        let indices = as_list("list_select", 1, &arrays[1])?;
        finish(select(values, indices)?, scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// `list_select` on arrays: `indices` is a list whose innermost values are Int64 positions.
pub(crate) fn select(values: &ListArray, indices: &ListArray) -> Result<ArrayRef> {
    let rows = values.len();
    // Per row, the range of innermost positions it owns, composing the offsets of each level.
    let mut levels: Vec<&ListArray> = Vec::new();
    let mut current = indices;
    loop {
        levels.push(current);
        match current.values().as_list_opt::<i32>() {
            Some(inner) => current = inner,
            None => break,
        }
    }
    let leaf = match levels.last() {
        Some(l) => cast(l.values(), &DataType::Int64)?,
        None => return exec_err!("list_select: indices must be a list"),
    };
    let leaf = leaf.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    let mut take_index: Vec<Option<u32>> = vec![None; leaf.len()];
    let voff = values.value_offsets();
    for row in 0..rows {
        if values.is_null(row) {
            continue;
        }
        let (mut lo, mut hi) = (row, row + 1);
        for level in &levels {
            let off = level.value_offsets();
            (lo, hi) = (off[lo] as usize, off[hi] as usize);
        }
        let (vs, ve) = range(voff, row);
        let n = (ve - vs) as i64;
        for (p, slot) in take_index.iter_mut().enumerate().take(hi).skip(lo) {
            if leaf.is_null(p) {
                continue;
            }
            let i = leaf.value(p);
            let pos = if (1..=n).contains(&i) {
                Some(i - 1)
            } else if (-n..=-1).contains(&i) {
                Some(n + i)
            } else {
                None
            };
            *slot = pos.map(|k| (vs as i64 + k) as u32);
        }
    }
    let mut rebuilt = take(
        values.values().as_ref(),
        &UInt32Array::from(take_index),
        None,
    )?;
    for (depth, level) in levels.iter().enumerate().rev() {
        let nulls = if depth == 0 {
            NullBuffer::union(level.nulls(), values.nulls())
        } else {
            level.nulls().cloned()
        };
        rebuilt = Arc::new(ListArray::try_new(
            Arc::new(Field::new_list_field(rebuilt.data_type().clone(), true)),
            level.offsets().clone(),
            rebuilt,
            nulls,
        )?);
    }
    Ok(rebuilt)
}

// ---------------------------------------------------------------------------------------------
// list_first / list_last

/// Which end `list_first`/`list_last` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum End {
    First,
    Last,
}

fn end_invoke(name: &str, end: End, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let scalar = all_scalar(&args.args);
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let values = as_list(name, 0, &arrays[0])?;
    let off = values.value_offsets();
    let idx: UInt32Array = (0..values.len())
        .map(|row| {
            let (s, e) = range(off, row);
            if values.is_null(row) || s == e {
                None
            } else if end == End::First {
                Some(s as u32)
            } else {
                Some((e - 1) as u32)
            }
        })
        .collect();
    finish(take(values.values().as_ref(), &idx, None)?, scalar)
}

/// The `ListFirst` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "The first element of each list (awkward's `ak.firsts`); NULL for an empty or NULL list. DataFusion's `array_first(list, lambda)` (first element matching a predicate) keeps its name.",
    syntax_example = "list_first(values)",
    sql_example = r#"```sql
> SELECT list_first([3, 1, 2]), list_first(arrow_cast([], 'List(Int32)'));
3	NULL
```"#,
    argument(name = "values", description = "A list of any element type.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListFirst {
    signature: Signature,
}

/// The `ListLast` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "The last element of each list; NULL for an empty or NULL list.",
    syntax_example = "list_last(values)",
    sql_example = r#"```sql
> SELECT list_last([3, 1, 2]);
2
```"#,
    argument(name = "values", description = "A list of any element type.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListLast {
    signature: Signature,
}

macro_rules! end_udf {
    ($ty:ident, $name:literal, $end:expr) => {
        impl $ty {
            /// The function.
            pub fn new() -> Self {
                Self {
                    signature: Signature::user_defined(Volatility::Immutable),
                }
            }
        }
        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }
        impl ScalarUDFImpl for $ty {
            fn name(&self) -> &str {
                $name
            }
            fn signature(&self) -> &Signature {
                &self.signature
            }
            fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
                let [values] = arg_types else {
                    return plan_err!("{} takes one argument (a list)", $name);
                };
                Ok(vec![require_list($name, 0, values)?])
            }
            fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
                Ok(element_type(&arg_types[0]))
            }
            fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
                end_invoke($name, $end, args)
            }
            fn documentation(&self) -> Option<&Documentation> {
                self.doc()
            }
        }
    };
}
end_udf!(ListFirst, "list_first", End::First);
end_udf!(ListLast, "list_last", End::Last);

// ---------------------------------------------------------------------------------------------
// list_pad

/// The `ListPad` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "Pads each list with `fill` up to at least `n` elements (awkward's `ak.fill_none(ak.pad_none(values, n), fill)`); longer lists are kept whole. A NULL list stays NULL.",
    syntax_example = "list_pad(values, n, fill)",
    sql_example = r#"```sql
> SELECT list_pad([1.5], 3, 0.0);
[1.5, 0.0, 0.0]
```"#,
    argument(name = "values", description = "A list of any element type."),
    argument(
        name = "n",
        description = "The minimum length, a constant integer >= 0."
    ),
    argument(name = "fill", description = "The value to pad with (may be NULL).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListPad {
    signature: Signature,
}

impl Default for ListPad {
    fn default() -> Self {
        Self::new()
    }
}

impl ListPad {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListPad {
    fn name(&self) -> &str {
        "list_pad"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [values, n, _fill] = arg_types else {
            return plan_err!("list_pad takes three arguments (values, n, fill)");
        };
        let values = require_list("list_pad", 0, values)?;
        if !(n.is_integer() || n == &DataType::Null) {
            return plan_err!("list_pad: argument 2 (n) must be an integer, got {n}");
        }
        let element = element_type(&values);
        Ok(vec![values, DataType::Int64, element])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(element_type(&arg_types[0])))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Int64(Some(n))) if *n >= 0 => *n as usize,
            other => {
                return exec_err!(
                    "list_pad: argument 2 (n) must be a constant integer >= 0, got {}",
                    match other {
                        ColumnarValue::Scalar(s) => s.to_string(),
                        ColumnarValue::Array(_) => "a column".to_string(),
                    }
                );
            }
        };
        let values_arg = args.args[0].to_array(args.number_rows)?;
        let values = as_list("list_pad", 0, &values_arg)?;
        let rows = values.len();
        let flat = values.values();
        let (fill, per_row) = match &args.args[2] {
            ColumnarValue::Scalar(s) => (s.to_array_of_size(1)?, false),
            ColumnarValue::Array(a) => (Arc::clone(a), true),
        };
        let fill = if fill.data_type() == flat.data_type() {
            fill
        } else {
            cast(&fill, flat.data_type())?
        };
        let combined = concat(&[flat.as_ref(), fill.as_ref()])?;
        let off = values.value_offsets();
        let mut idx = Vec::new();
        let mut lengths = Vec::with_capacity(rows);
        for row in 0..rows {
            if values.is_null(row) {
                lengths.push(0);
                continue;
            }
            let (s, e) = range(off, row);
            idx.extend(s as u32..e as u32);
            let pad = n.saturating_sub(e - s);
            let f = (flat.len() + if per_row { row } else { 0 }) as u32;
            idx.extend(std::iter::repeat_n(f, pad));
            lengths.push(e - s + pad);
        }
        let taken = take(combined.as_ref(), &UInt32Array::from(idx), None)?;
        let out = ListArray::try_new(
            Arc::new(Field::new_list_field(taken.data_type().clone(), true)),
            OffsetBuffer::from_lengths(lengths),
            taken,
            values.nulls().cloned(),
        )?;
        finish(Arc::new(out), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

// ---------------------------------------------------------------------------------------------
// list_fill_null

/// The `ListFillNull` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "Replaces the NULL elements of each list by `fill` (awkward's `ak.fill_none`), e.g. the NULL distances `min_delta_r` gives when the other collection is empty. The list structure is kept; a NULL list stays NULL. Alias `list_fill_none`.",
    syntax_example = "list_fill_null(values, fill)",
    sql_example = r#"```sql
> SELECT list_fill_null([1.5, NULL, 3.0], 0.0);
[1.5, 0.0, 3.0]
```"#,
    argument(name = "values", description = "A list of any element type."),
    argument(
        name = "fill",
        description = "The replacement: a constant or a per-row value, cast to the element type."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListFillNull {
    signature: Signature,
    aliases: Vec<String>,
}

impl Default for ListFillNull {
    fn default() -> Self {
        Self::new()
    }
}

impl ListFillNull {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["list_fill_none".to_string()],
        }
    }
}

impl ScalarUDFImpl for ListFillNull {
    fn name(&self) -> &str {
        "list_fill_null"
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [values, _fill] = arg_types else {
            return plan_err!("list_fill_null takes two arguments (values, fill)");
        };
        let values = require_list("list_fill_null", 0, values)?;
        let element = element_type(&values);
        Ok(vec![values, element])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(element_type(&arg_types[0])))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let values_arg = args.args[0].to_array(args.number_rows)?;
        let values = as_list("list_fill_null", 0, &values_arg)?;
        let flat = values.values();
        if values.is_empty() || flat.null_count() == 0 {
            return finish(Arc::clone(&values_arg), scalar);
        }
        let (fill, per_row) = match &args.args[1] {
            ColumnarValue::Scalar(s) => (s.to_array_of_size(1)?, false),
            ColumnarValue::Array(a) => (Arc::clone(a), true),
        };
        let fill = if fill.data_type() == flat.data_type() {
            fill
        } else {
            cast(&fill, flat.data_type())?
        };
        let filled = if per_row {
            // Each element's row fill, gathered once over the whole value buffer.
            let off = values.value_offsets();
            let mut rows = vec![0u32; flat.len()];
            for row in 0..values.len() {
                let (s, e) = range(off, row);
                if let Some(slots) = rows.get_mut(s..e) {
                    slots.fill(row as u32);
                }
            }
            let per_element = take(fill.as_ref(), &UInt32Array::from(rows), None)?;
            zip(&is_not_null(flat.as_ref())?, flat, &per_element)?
        } else {
            zip(&is_not_null(flat.as_ref())?, flat, &Scalar::new(fill))?
        };
        let out = ListArray::try_new(
            Arc::new(Field::new_list_field(filled.data_type().clone(), true)),
            values.offsets().clone(),
            filled,
            values.nulls().cloned(),
        )?;
        finish(Arc::new(out), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

// ---------------------------------------------------------------------------------------------
// list_len

/// The `ListLen` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "The number of elements of each list (awkward's `ak.num`, DuckDB's `len`), read from the list offsets: `list_len(Jet_pt) >= 3` selects events with at least three jets, also where no counter branch (`nJet`) exists, e.g. in Parquet. NULL for a NULL list. Unlike `cardinality`, a list of lists counts its outer elements.",
    syntax_example = "list_len(values)",
    sql_example = r#"```sql
> SELECT list_len([7.5, 8.5, 9.5]), list_len(arrow_cast([], 'List(Float32)'));
3	0
```"#,
    argument(name = "values", description = "A list of any element type.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListLen {
    signature: Signature,
}

impl Default for ListLen {
    fn default() -> Self {
        Self::new()
    }
}

impl ListLen {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListLen {
    fn name(&self) -> &str {
        "list_len"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [values] = arg_types else {
            return plan_err!("list_len takes one argument (a list)");
        };
        Ok(vec![require_list("list_len", 0, values)?])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let values_arg = args.args[0].to_array(args.number_rows)?;
        let values = as_list("list_len", 0, &values_arg)?;
        let lengths: Vec<i64> = values
            .value_offsets()
            .windows(2)
            .map(|w| i64::from(w[1] - w[0]))
            .collect();
        finish(
            Arc::new(Int64Array::new(lengths.into(), values.nulls().cloned())),
            scalar,
        )
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

// ---------------------------------------------------------------------------------------------
// list_local_index

/// The `ListLocalIndex` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "The 1-based position of every element of each list: `[1, 2, …, n]` (awkward's `ak.local_index`, but 1-based like all SQL list positions). A NULL list gives NULL.",
    syntax_example = "list_local_index(values)",
    sql_example = r#"```sql
> SELECT list_local_index([7.5, 8.5, 9.5]);
[1, 2, 3]
```"#,
    argument(name = "values", description = "A list of any element type.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListLocalIndex {
    signature: Signature,
}

impl Default for ListLocalIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl ListLocalIndex {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListLocalIndex {
    fn name(&self) -> &str {
        "list_local_index"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [values] = arg_types else {
            return plan_err!("list_local_index takes one argument (a list)");
        };
        Ok(vec![require_list("list_local_index", 0, values)?])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(DataType::Int64))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let values = as_list("list_local_index", 0, &arrays[0])?;
        let off = values.value_offsets();
        let mut out = Vec::new();
        let mut lengths = Vec::with_capacity(values.len());
        for row in 0..values.len() {
            let (s, e) = range(off, row);
            let n = if values.is_null(row) { 0 } else { e - s };
            out.extend(1..=n as i64);
            lengths.push(n);
        }
        let out = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Int64, true)),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(Int64Array::from(out)),
            values.nulls().cloned(),
        )?;
        finish(Arc::new(out), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

// ---------------------------------------------------------------------------------------------
// list_argsort

/// The `ListArgsort` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List selection"),
    description = "The 1-based positions that sort each list, ascending (default) or with `'DESC'` descending; the sort is stable and NULL elements go last. Use with `list_select` to reorder, e.g. jets by decreasing pT. A NULL list gives NULL.",
    syntax_example = "list_argsort(values [, 'ASC' | 'DESC'])",
    sql_example = r#"```sql
> SELECT list_argsort([20.0, 50.0, 35.0], 'DESC');
[2, 3, 1]
```"#,
    argument(name = "values", description = "A list of any orderable element type."),
    argument(
        name = "order",
        description = "Optional `'ASC'` or `'DESC'` (a constant)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListArgsort {
    signature: Signature,
}

impl Default for ListArgsort {
    fn default() -> Self {
        Self::new()
    }
}

impl ListArgsort {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListArgsort {
    fn name(&self) -> &str {
        "list_argsort"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [values] => Ok(vec![require_list("list_argsort", 0, values)?]),
            [values, _order] => Ok(vec![
                require_list("list_argsort", 0, values)?,
                DataType::Utf8,
            ]),
            _ => plan_err!("list_argsort takes one or two arguments (values [, 'DESC'])"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(DataType::Int64))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let descending = match args.args.get(1) {
            None => false,
            Some(ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)),
            )) => match s.to_ascii_uppercase().as_str() {
                "ASC" => false,
                "DESC" => true,
                other => {
                    return exec_err!(
                        "list_argsort: argument 2 must be 'ASC' or 'DESC', got '{other}'"
                    );
                }
            },
            Some(_) => {
                return exec_err!("list_argsort: argument 2 must be a constant 'ASC' or 'DESC'");
            }
        };
        let scalar = all_scalar(&args.args[..1]);
        let values_arg = args.args[0].to_array(args.number_rows)?;
        let values = as_list("list_argsort", 0, &values_arg)?;
        finish(Arc::new(argsort(values, descending)?), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Per-row 1-based sorting permutation of `values`.
pub(crate) fn argsort(values: &ListArray, descending: bool) -> Result<ListArray> {
    let flat = values.values();
    let cmp = make_comparator(
        flat.as_ref(),
        flat.as_ref(),
        SortOptions {
            descending,
            nulls_first: false,
        },
    )?;
    let off = values.value_offsets();
    let mut perm: Vec<u32> = Vec::new();
    let mut lengths = Vec::with_capacity(values.len());
    for row in 0..values.len() {
        let (s, e) = range(off, row);
        if values.is_null(row) {
            lengths.push(0);
            continue;
        }
        let start = perm.len();
        perm.extend(s as u32..e as u32);
        perm[start..].sort_by(|&a, &b| cmp(a as usize, b as usize));
        lengths.push(e - s);
    }
    // Back to 1-based positions inside each row.
    let mut out = Vec::with_capacity(perm.len());
    let mut k = 0;
    for (row, &n) in lengths.iter().enumerate() {
        let s = off[row] as i64;
        for &p in &perm[k..k + n] {
            out.push(p as i64 - s + 1);
        }
        k += n;
    }
    Ok(ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Int64, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Int64Array::from(out)),
        values.nulls().cloned(),
    )?)
}

/// The selection functions.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(ListWhere::new())),
        Arc::new(ScalarUDF::from(ListSelect::new())),
        Arc::new(ScalarUDF::from(ListFirst::new())),
        Arc::new(ScalarUDF::from(ListLast::new())),
        Arc::new(ScalarUDF::from(ListPad::new())),
        Arc::new(ScalarUDF::from(ListFillNull::new())),
        Arc::new(ScalarUDF::from(ListLen::new())),
        Arc::new(ScalarUDF::from(ListLocalIndex::new())),
        Arc::new(ScalarUDF::from(ListArgsort::new())),
    ]
}
