//! Per-row reductions of numeric and boolean lists: `list_sum`, `list_min`, `list_max`,
//! `list_mean`, `list_argmin`, `list_argmax`, `list_count_true`, `list_any`, `list_all`.
//!
//! Semantics follow awkward's `axis=-1` reductions: NULL elements are skipped, an empty list
//! sums to 0, `any` of nothing is false, `all` of nothing is true, and min/max/mean/argmin/argmax
//! of an empty list are NULL. A NULL list gives NULL. Indices are 1-based.
//!
//! On a list of lists (any depth) the reduction applies to the innermost lists, as awkward's
//! `axis=-1` does, and the result keeps the outer list structure: `list_sum(list_select(
//! Muon_charge, list_argcombinations(Muon_pt, 2)))` is the charge sum of every muon pair.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Int64Array, ListArray,
    PrimitiveArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Float64Type, Int64Type, UInt64Type,
};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::common::{all_scalar, as_list, finish, list_element, list_of, range};

/// Which reduction a function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Sum,
    Min,
    Max,
    Mean,
    ArgMin,
    ArgMax,
    CountTrue,
    Any,
    All,
}

impl Kind {
    fn is_boolean(self) -> bool {
        matches!(self, Kind::CountTrue | Kind::Any | Kind::All)
    }
}

/// The element type a numeric reduction computes on (after coercion).
fn numeric_element(name: &str, element: &DataType) -> Result<DataType> {
    Ok(match element {
        DataType::Float16 | DataType::Float32 => DataType::Float32,
        DataType::Float64 | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            DataType::Float64
        }
        t if t.is_integer() => t.clone(),
        DataType::Boolean | DataType::Null => DataType::Int64,
        other => {
            return plan_err!(
                "{name}: argument 1 must be a list of numbers, got a list of {other}"
            );
        }
    })
}

fn coerce(name: &str, kind: Kind, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let [arg] = arg_types else {
        return plan_err!(
            "{name} takes one argument (a list), got {}",
            arg_types.len()
        );
    };
    let element = match arg {
        DataType::Null => DataType::Null,
        t => match list_element(t) {
            Some(f) => f.data_type().clone(),
            None => return plan_err!("{name}: argument 1 must be a list, got {t}"),
        },
    };
    if list_element(&element).is_some() {
        // A list of lists: reduce the inner lists, keeping the outer structure.
        let inner = coerce(name, kind, std::slice::from_ref(&element))?;
        return Ok(inner.into_iter().map(list_of).collect());
    }
    let element = if kind.is_boolean() {
        match element {
            DataType::Boolean | DataType::Null => DataType::Boolean,
            t if t.is_numeric() => DataType::Boolean,
            other => {
                return plan_err!(
                    "{name}: argument 1 must be a list of booleans (a mask), got a list of {other}"
                );
            }
        }
    } else {
        numeric_element(name, &element)?
    };
    Ok(vec![list_of(element)])
}

fn return_type(name: &str, kind: Kind, arg_types: &[DataType]) -> Result<DataType> {
    let element = match arg_types.first().and_then(list_element) {
        Some(f) => f.data_type().clone(),
        None => return plan_err!("{name}: argument 1 must be a list"),
    };
    if list_element(&element).is_some() {
        return Ok(list_of(return_type(name, kind, &[element])?));
    }
    Ok(match kind {
        Kind::Sum => match element {
            DataType::Float32 => DataType::Float32,
            DataType::Float64 => DataType::Float64,
            t if t.is_unsigned_integer() => DataType::UInt64,
            _ => DataType::Int64,
        },
        Kind::Min | Kind::Max => element,
        Kind::Mean => match element {
            DataType::Float32 => DataType::Float32,
            _ => DataType::Float64,
        },
        Kind::ArgMin | Kind::ArgMax | Kind::CountTrue => DataType::Int64,
        Kind::Any | Kind::All => DataType::Boolean,
    })
}

fn invoke(name: &str, kind: Kind, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let scalar = all_scalar(&args.args);
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let Some(array) = arrays.first() else {
        return exec_err!("{name} takes one argument");
    };
    let list = as_list(name, 0, array)?;
    finish(reduce(name, kind, list, args.return_type())?, scalar)
}

/// Reduces the innermost lists of `list` to values of type `out` (a list type, with the same
/// nesting, when `list` holds lists).
fn reduce(name: &str, kind: Kind, list: &ListArray, out: &DataType) -> Result<ArrayRef> {
    if let Some(inner) = list.values().as_list_opt::<i32>() {
        let Some(out_element) = list_element(out) else {
            return exec_err!("{name}: a list of lists reduces to a list, not to {out}");
        };
        let reduced = reduce(name, kind, inner, out_element.data_type())?;
        let field = Arc::new(Field::new_list_field(reduced.data_type().clone(), true));
        return Ok(Arc::new(ListArray::try_new(
            field,
            list.offsets().clone(),
            reduced,
            list.nulls().cloned(),
        )?));
    }
    if kind.is_boolean() {
        boolean_reduce(name, kind, list)
    } else {
        numeric_reduce(name, kind, list, out)
    }
}

/// Arithmetic on the wide type a numeric reduction accumulates in.
trait Wide: ArrowPrimitiveType {
    fn plus(a: Self::Native, b: Self::Native) -> Self::Native;
    fn to_f64(a: Self::Native) -> f64;
    fn greater(a: Self::Native, b: Self::Native) -> bool;
    fn less(a: Self::Native, b: Self::Native) -> bool;
    fn is_nan(a: Self::Native) -> bool;
}

impl Wide for Float64Type {
    fn plus(a: f64, b: f64) -> f64 {
        a + b
    }
    fn to_f64(a: f64) -> f64 {
        a
    }
    fn greater(a: f64, b: f64) -> bool {
        a > b
    }
    fn less(a: f64, b: f64) -> bool {
        a < b
    }
    fn is_nan(a: f64) -> bool {
        a.is_nan()
    }
}

impl Wide for Int64Type {
    fn plus(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    fn to_f64(a: i64) -> f64 {
        a as f64
    }
    fn greater(a: i64, b: i64) -> bool {
        a > b
    }
    fn less(a: i64, b: i64) -> bool {
        a < b
    }
    fn is_nan(_: i64) -> bool {
        false
    }
}

impl Wide for UInt64Type {
    fn plus(a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }
    fn to_f64(a: u64) -> f64 {
        a as f64
    }
    fn greater(a: u64, b: u64) -> bool {
        a > b
    }
    fn less(a: u64, b: u64) -> bool {
        a < b
    }
    fn is_nan(_: u64) -> bool {
        false
    }
}

fn numeric_reduce(name: &str, kind: Kind, list: &ListArray, out: &DataType) -> Result<ArrayRef> {
    let element = list.value_type();
    let wide = match &element {
        DataType::Float32 | DataType::Float64 => DataType::Float64,
        t if t.is_unsigned_integer() => DataType::UInt64,
        t if t.is_integer() => DataType::Int64,
        DataType::Null => DataType::Int64,
        other => return exec_err!("{name}: unsupported element type {other}"),
    };
    // One cast of the whole value buffer (a no-op for Float64/Int64/UInt64).
    let values = cast(list.values(), &wide)?;
    let result: ArrayRef = match wide {
        DataType::Float64 => reduce_wide(kind, list, values.as_primitive::<Float64Type>()),
        DataType::UInt64 => reduce_wide(kind, list, values.as_primitive::<UInt64Type>()),
        _ => reduce_wide(kind, list, values.as_primitive::<Int64Type>()),
    };
    if result.data_type() == out {
        Ok(result)
    } else {
        Ok(cast(&result, out)?)
    }
}

fn reduce_wide<W: Wide>(kind: Kind, list: &ListArray, values: &PrimitiveArray<W>) -> ArrayRef {
    let offsets = list.value_offsets();
    let rows = list.len();
    let value_nulls = values.nulls();
    let raw = values.values();
    let valid_element = |i: usize| value_nulls.is_none_or(|n| n.is_valid(i));
    let valid_row = |row: usize| list.nulls().is_none_or(|n| n.is_valid(row));
    match kind {
        Kind::Sum => {
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                let (start, end) = range(offsets, row);
                let mut acc = W::Native::default();
                if valid_row(row) {
                    if value_nulls.is_none() {
                        for &v in &raw[start..end] {
                            acc = W::plus(acc, v);
                        }
                    } else {
                        for (i, &v) in raw.iter().enumerate().take(end).skip(start) {
                            if valid_element(i) {
                                acc = W::plus(acc, v);
                            }
                        }
                    }
                }
                out.push(acc);
            }
            Arc::new(PrimitiveArray::<W>::new(out.into(), list.nulls().cloned()))
        }
        Kind::Mean => {
            let mut out = Vec::with_capacity(rows);
            let mut validity = BooleanBufferBuilder::new(rows);
            for row in 0..rows {
                let (start, end) = range(offsets, row);
                let mut acc = 0.0f64;
                let mut count = 0usize;
                if valid_row(row) {
                    for (i, &v) in raw.iter().enumerate().take(end).skip(start) {
                        if valid_element(i) {
                            acc += W::to_f64(v);
                            count += 1;
                        }
                    }
                }
                validity.append(count > 0);
                out.push(if count > 0 { acc / count as f64 } else { 0.0 });
            }
            Arc::new(PrimitiveArray::<Float64Type>::new(
                out.into(),
                Some(NullBuffer::new(validity.finish())),
            ))
        }
        Kind::Min | Kind::Max | Kind::ArgMin | Kind::ArgMax => {
            let want_max = matches!(kind, Kind::Max | Kind::ArgMax);
            let mut best_values = Vec::with_capacity(rows);
            let mut best_index = Vec::with_capacity(rows);
            let mut validity = BooleanBufferBuilder::new(rows);
            for row in 0..rows {
                let (start, end) = range(offsets, row);
                let mut best: Option<(usize, W::Native)> = None;
                if valid_row(row) {
                    for (i, &v) in raw.iter().enumerate().take(end).skip(start) {
                        if !valid_element(i) {
                            continue;
                        }
                        best = match best {
                            None => Some((i, v)),
                            // NaN wins (as in NumPy), the first occurrence is kept on ties.
                            Some((_, b)) if W::is_nan(b) => best,
                            Some(_) if W::is_nan(v) => Some((i, v)),
                            Some((_, b)) if want_max && W::greater(v, b) => Some((i, v)),
                            Some((_, b)) if !want_max && W::less(v, b) => Some((i, v)),
                            keep => keep,
                        };
                    }
                }
                validity.append(best.is_some());
                let (i, v) = best.unwrap_or((start, W::Native::default()));
                best_values.push(v);
                best_index.push((i - start + 1) as i64);
            }
            let nulls = Some(NullBuffer::new(validity.finish()));
            if matches!(kind, Kind::Min | Kind::Max) {
                Arc::new(PrimitiveArray::<W>::new(best_values.into(), nulls))
            } else {
                Arc::new(Int64Array::new(best_index.into(), nulls))
            }
        }
        Kind::CountTrue | Kind::Any | Kind::All => {
            // Not reached: boolean reductions run in `boolean_reduce`.
            Arc::new(Int64Array::new_null(rows))
        }
    }
}

fn boolean_reduce(name: &str, kind: Kind, list: &ListArray) -> Result<ArrayRef> {
    let values = cast(list.values(), &DataType::Boolean)?;
    let Some(mask) = values.as_boolean_opt() else {
        return exec_err!("{name}: argument 1 must be a list of booleans");
    };
    let offsets = list.value_offsets();
    let rows = list.len();
    let valid_row = |row: usize| list.nulls().is_none_or(|n| n.is_valid(row));
    // A NULL element counts as neither true nor false.
    let is_true = |i: usize| mask.is_valid(i) && mask.value(i);
    let is_false = |i: usize| mask.is_valid(i) && !mask.value(i);
    Ok(match kind {
        Kind::CountTrue => {
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                let (start, end) = range(offsets, row);
                let count = if valid_row(row) {
                    if mask.null_count() == 0 {
                        // Bit by bit: a per-row `slice` clones the buffer (an atomic
                        // reference count) and costs more than the few bits of a row.
                        let bits = mask.values();
                        (start..end).filter(|&i| bits.value(i)).count()
                    } else {
                        (start..end).filter(|&i| is_true(i)).count()
                    }
                } else {
                    0
                };
                out.push(count as i64);
            }
            Arc::new(Int64Array::new(out.into(), list.nulls().cloned()))
        }
        Kind::Any => {
            let mut out = BooleanBufferBuilder::new(rows);
            for row in 0..rows {
                let (start, end) = range(offsets, row);
                out.append(valid_row(row) && (start..end).any(is_true));
            }
            Arc::new(BooleanArray::new(out.finish(), list.nulls().cloned()))
        }
        _ => {
            let mut out = BooleanBufferBuilder::new(rows);
            for row in 0..rows {
                let (start, end) = range(offsets, row);
                out.append(!(start..end).any(is_false));
            }
            Arc::new(BooleanArray::new(out.finish(), list.nulls().cloned()))
        }
    })
}

/// Implements `ScalarUDFImpl` for a reduction struct (fields `signature`, `aliases`).
macro_rules! reduction {
    ($ty:ident, $name:literal, $kind:expr, [$($alias:literal),*]) => {
        impl $ty {
            /// The function with its signature and aliases.
            pub fn new() -> Self {
                Self {
                    signature: Signature::user_defined(Volatility::Immutable),
                    aliases: vec![$($alias.to_string()),*],
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
            fn aliases(&self) -> &[String] {
                &self.aliases
            }
            fn signature(&self) -> &Signature {
                &self.signature
            }
            fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
                coerce($name, $kind, arg_types)
            }
            fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
                return_type($name, $kind, arg_types)
            }
            fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
                invoke($name, $kind, args)
            }
            fn documentation(&self) -> Option<&Documentation> {
                self.doc()
            }
        }
    };
}

/// The `ListSum` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "Sum of the elements of each list. NULL elements are skipped; an empty list sums to 0 (as awkward's `ak.sum(axis=-1)`), a NULL list gives NULL. Float32 lists sum to Float32 (accumulated in double precision), Float64 to Float64, signed integers to Int64, unsigned to UInt64, booleans count the true ones. Replaces DataFusion's `list_sum` alias; `array_sum` keeps DataFusion's behaviour (Float64, NULL for an empty list). On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_sum(list)",
    sql_example = r#"```sql
> SELECT list_sum([1.5, 2.5, 3.0]), list_sum(arrow_cast([], 'List(Int32)'));
7.0	0
```"#,
    argument(name = "list", description = "A list of numbers (or booleans).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListSum {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListSum, "list_sum", Kind::Sum, []);

/// The `ListMin` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "Smallest element of each list (NULL elements skipped), of the list's element type. NULL for an empty or NULL list. A NaN element makes the result NaN. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_min(list)",
    sql_example = r#"```sql
> SELECT list_min([3, 1, 2]);
1
```"#,
    argument(name = "list", description = "A list of numbers.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListMin {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListMin, "list_min", Kind::Min, []);

/// The `ListMax` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "Largest element of each list (NULL elements skipped), of the list's element type. NULL for an empty or NULL list. A NaN element makes the result NaN. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_max(list)",
    sql_example = r#"```sql
> SELECT list_max([3, 1, 2]);
3
```"#,
    argument(name = "list", description = "A list of numbers.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListMax {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListMax, "list_max", Kind::Max, []);

/// The `ListMean` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "Arithmetic mean of each list's non-NULL elements: Float32 for Float32 lists, Float64 otherwise. NULL for an empty or NULL list. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_mean(list)",
    sql_example = r#"```sql
> SELECT list_mean([1, 2, 6]);
3.0
```"#,
    argument(name = "list", description = "A list of numbers.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListMean {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListMean, "list_mean", Kind::Mean, []);

/// The `ListArgMax` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "1-based position of the largest element of each list (the first one on ties; NULL elements skipped). NULL for an empty or NULL list. Use it with `array_element` or `list_select`. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_argmax(list)",
    sql_example = r#"```sql
> SELECT list_argmax([3, 7, 7, 1]);
2
```"#,
    argument(name = "list", description = "A list of numbers.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListArgMax {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListArgMax, "list_argmax", Kind::ArgMax, []);

/// The `ListArgMin` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "1-based position of the smallest element of each list (the first one on ties; NULL elements skipped). NULL for an empty or NULL list. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_argmin(list)",
    sql_example = r#"```sql
> SELECT list_argmin([3, 1, 1, 2]);
2
```"#,
    argument(name = "list", description = "A list of numbers.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListArgMin {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListArgMin, "list_argmin", Kind::ArgMin, []);

/// The `ListCountTrue` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "Number of true elements of each boolean list (NULL elements are not counted); 0 for an empty list, NULL for a NULL list. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_count_true(mask)",
    sql_example = r#"```sql
> SELECT list_count_true([30.5, 12.0, 45.1] > 20);
2
```"#,
    argument(name = "mask", description = "A list of booleans, e.g. `Jet_pt > 30`.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListCountTrue {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListCountTrue, "list_count_true", Kind::CountTrue, []);

/// The `ListAny` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "Whether any element of each boolean list is true (NULL elements skipped): false for an empty list, NULL for a NULL list. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_any(mask)",
    sql_example = r#"```sql
> SELECT list_any([false, true]), list_any(arrow_cast([], 'List(Boolean)'));
true	false
```"#,
    argument(name = "mask", description = "A list of booleans.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListAny {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListAny, "list_any", Kind::Any, []);

/// The `ListAll` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List reductions"),
    description = "Whether every element of each boolean list is true (NULL elements skipped): true for an empty list, NULL for a NULL list. On a list of lists the innermost lists are reduced (awkward's `axis=-1`), giving a list per row: e.g. one value per pair of `list_argcombinations`.",
    syntax_example = "list_all(mask)",
    sql_example = r#"```sql
> SELECT list_all([true, false]), list_all(arrow_cast([], 'List(Boolean)'));
false	true
```"#,
    argument(name = "mask", description = "A list of booleans.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListAll {
    signature: Signature,
    aliases: Vec<String>,
}
reduction!(ListAll, "list_all", Kind::All, []);

/// The reduction functions.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(ListSum::new())),
        Arc::new(ScalarUDF::from(ListMin::new())),
        Arc::new(ScalarUDF::from(ListMax::new())),
        Arc::new(ScalarUDF::from(ListMean::new())),
        Arc::new(ScalarUDF::from(ListArgMax::new())),
        Arc::new(ScalarUDF::from(ListArgMin::new())),
        Arc::new(ScalarUDF::from(ListCountTrue::new())),
        Arc::new(ScalarUDF::from(ListAny::new())),
        Arc::new(ScalarUDF::from(ListAll::new())),
    ]
}
