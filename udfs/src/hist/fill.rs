//! Fill kernels: walk whole Arrow buffers (a number per row, or a list of numbers per row)
//! and hand every `(row, bin, weight)` to a sink.
//!
//! NULL values, NULL list elements and NULL lists are skipped. A row whose weight is NULL or
//! not finite is skipped as a whole (see the module docs of [`crate::hist`] for why).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type};
use datafusion::common::{Result, exec_err};

/// The numbers of one argument column.
#[derive(Clone, Copy)]
pub enum Values<'a> {
    /// Float32 numbers.
    F32(&'a [f32]),
    /// Float64 numbers.
    F64(&'a [f64]),
}

/// List offsets.
#[derive(Clone, Copy)]
pub enum Offsets<'a> {
    /// `List`.
    I32(&'a [i32]),
    /// `LargeList`.
    I64(&'a [i64]),
}

/// A numeric argument: one number per row, or a list of numbers per row.
pub struct NumberColumn<'a> {
    values: Values<'a>,
    value_nulls: Option<&'a NullBuffer>,
    offsets: Option<Offsets<'a>>,
    row_nulls: Option<&'a NullBuffer>,
    rows: usize,
}

impl<'a> NumberColumn<'a> {
    /// Views `array` (Float32/Float64, a `List`/`LargeList` of those, or all-NULL).
    pub fn try_new(array: &'a ArrayRef, function: &str, argument: &str) -> Result<Self> {
        let rows = array.len();
        let (values, value_nulls) = match array.data_type() {
            DataType::Float32 | DataType::Float64 | DataType::Null => {
                let (values, nulls) = primitive(array.as_ref(), function, argument)?;
                return Ok(NumberColumn {
                    values,
                    value_nulls: nulls,
                    offsets: None,
                    row_nulls: None,
                    rows,
                });
            }
            DataType::List(_) => {
                let Some(list) = array.as_list_opt::<i32>() else {
                    return exec_err!("{function}: {argument} is not a list");
                };
                let (v, n) = primitive(list.values().as_ref(), function, argument)?;
                return Ok(NumberColumn {
                    values: v,
                    value_nulls: n,
                    offsets: Some(Offsets::I32(list.value_offsets())),
                    row_nulls: list.nulls(),
                    rows,
                });
            }
            DataType::LargeList(_) => {
                let Some(list) = array.as_list_opt::<i64>() else {
                    return exec_err!("{function}: {argument} is not a list");
                };
                let (v, n) = primitive(list.values().as_ref(), function, argument)?;
                (v, n)
            }
            other => {
                return exec_err!(
                    "{function}: {argument} must be a number or a list of numbers, got {other}"
                );
            }
        };
        let Some(list) = array.as_list_opt::<i64>() else {
            return exec_err!("{function}: {argument} is not a list");
        };
        Ok(NumberColumn {
            values,
            value_nulls,
            offsets: Some(Offsets::I64(list.value_offsets())),
            row_nulls: list.nulls(),
            rows,
        })
    }

    /// Whether every row holds one number (not a list).
    pub fn is_scalar(&self) -> bool {
        self.offsets.is_none()
    }

    /// The element range of `row`, `None` when the row (or its list) is NULL.
    #[inline]
    fn range(&self, row: usize) -> Option<(usize, usize)> {
        match self.offsets {
            None => Some((row, row + 1)),
            Some(offsets) => {
                if self.row_nulls.is_some_and(|n| n.is_null(row)) {
                    return None;
                }
                let (start, end) = match offsets {
                    Offsets::I32(o) => (*o.get(row)? as usize, *o.get(row + 1)? as usize),
                    Offsets::I64(o) => (*o.get(row)? as usize, *o.get(row + 1)? as usize),
                };
                Some((start, end.max(start)))
            }
        }
    }

    /// Element `j`, `None` when NULL.
    #[inline]
    fn get(&self, j: usize) -> Option<f64> {
        if self.value_nulls.is_some_and(|n| n.is_null(j)) {
            return None;
        }
        match self.values {
            Values::F32(v) => v.get(j).map(|&x| f64::from(x)),
            Values::F64(v) => v.get(j).copied(),
        }
    }
}

fn primitive<'a>(
    array: &'a dyn Array,
    function: &str,
    argument: &str,
) -> Result<(Values<'a>, Option<&'a NullBuffer>)> {
    match array.data_type() {
        DataType::Float32 => match array.as_primitive_opt::<Float32Type>() {
            Some(a) => Ok((Values::F32(a.values()), a.nulls())),
            None => exec_err!("{function}: {argument} is not Float32"),
        },
        DataType::Float64 => match array.as_primitive_opt::<Float64Type>() {
            Some(a) => Ok((Values::F64(a.values()), a.nulls())),
            None => exec_err!("{function}: {argument} is not Float64"),
        },
        // All NULL: no numbers at all.
        DataType::Null => Ok((Values::F64(&[]), None)),
        other => exec_err!("{function}: {argument} must hold numbers, got {other}"),
    }
}

/// Per-row weights: `None` skips the row (NULL or non-finite weight).
pub struct Weights<'a> {
    weights: Option<&'a Float64Array>,
}

impl<'a> Weights<'a> {
    /// Views the optional weight column (coerced to Float64).
    pub fn try_new(array: Option<&'a ArrayRef>, function: &str) -> Result<Self> {
        match array {
            None => Ok(Weights { weights: None }),
            Some(a) => match a.as_primitive_opt::<Float64Type>() {
                Some(w) => Ok(Weights { weights: Some(w) }),
                None if a.data_type() == &DataType::Null => Ok(Weights {
                    weights: Some(empty_weights()),
                }),
                None => exec_err!(
                    "{function}: the weight must be a number, got {}",
                    a.data_type()
                ),
            },
        }
    }

    /// Whether the fill is weighted.
    pub fn is_weighted(&self) -> bool {
        self.weights.is_some()
    }

    #[inline]
    fn of(&self, row: usize) -> Option<f64> {
        match self.weights {
            None => Some(1.0),
            Some(w) => {
                if w.is_null(row) {
                    return None;
                }
                let v = *w.values().get(row)?;
                v.is_finite().then_some(v)
            }
        }
    }
}

fn empty_weights() -> &'static Float64Array {
    static EMPTY: std::sync::LazyLock<Float64Array> =
        std::sync::LazyLock::new(|| Float64Array::from(Vec::<Option<f64>>::new()));
    &EMPTY
}

/// Fills one numeric column: `sink(row, index(x), weight)` for every number.
#[inline]
pub fn fill_1d<I, S>(column: &NumberColumn<'_>, weights: &Weights<'_>, index: I, sink: S)
where
    I: Fn(f64) -> usize,
    S: FnMut(usize, usize, f64),
{
    match column.values {
        Values::F32(v) => fill_1d_typed(v, column, weights, index, sink),
        Values::F64(v) => fill_1d_typed(v, column, weights, index, sink),
    }
}

#[inline]
fn fill_1d_typed<T, I, S>(
    values: &[T],
    column: &NumberColumn<'_>,
    weights: &Weights<'_>,
    index: I,
    mut sink: S,
) where
    T: Copy + Into<f64>,
    I: Fn(f64) -> usize,
    S: FnMut(usize, usize, f64),
{
    match column.offsets {
        None if column.value_nulls.is_none() && !weights.is_weighted() => {
            // The hot path: a dense column of numbers, unweighted.
            for (row, &x) in values.iter().enumerate() {
                sink(row, index(x.into()), 1.0);
            }
        }
        None => {
            for (row, &x) in values.iter().enumerate().take(column.rows) {
                if column.value_nulls.is_some_and(|n| n.is_null(row)) {
                    continue;
                }
                if let Some(w) = weights.of(row) {
                    sink(row, index(x.into()), w);
                }
            }
        }
        Some(_) => {
            for row in 0..column.rows {
                let Some((start, end)) = column.range(row) else {
                    continue;
                };
                let Some(w) = weights.of(row) else {
                    continue;
                };
                let Some(slice) = values.get(start..end) else {
                    continue;
                };
                match column.value_nulls {
                    None => {
                        for &x in slice {
                            sink(row, index(x.into()), w);
                        }
                    }
                    Some(nulls) => {
                        for (j, &x) in (start..end).zip(slice) {
                            if nulls.is_valid(j) {
                                sink(row, index(x.into()), w);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Fills pairs `(x, y)`: `sink(row, index(x, y), weight)`. Both numbers per row, or both
/// lists of equal length per row (paired element by element), or a list and a number (the
/// number repeated); a pair with a NULL is skipped. Lists of different lengths are an error.
pub fn fill_2d<I, S>(
    x: &NumberColumn<'_>,
    y: &NumberColumn<'_>,
    weights: &Weights<'_>,
    function: &str,
    index: I,
    mut sink: S,
) -> Result<()>
where
    I: Fn(f64, f64) -> usize,
    S: FnMut(usize, usize, f64),
{
    for row in 0..x.rows.min(y.rows) {
        let (Some((xs, xe)), Some((ys, ye))) = (x.range(row), y.range(row)) else {
            continue;
        };
        let Some(w) = weights.of(row) else {
            continue;
        };
        let (nx, ny) = (xe - xs, ye - ys);
        if nx == ny {
            for (i, j) in (xs..xe).zip(ys..ye) {
                if let (Some(a), Some(b)) = (x.get(i), y.get(j)) {
                    sink(row, index(a, b), w);
                }
            }
        } else if x.is_scalar() {
            let Some(a) = x.get(xs) else { continue };
            for j in ys..ye {
                if let Some(b) = y.get(j) {
                    sink(row, index(a, b), w);
                }
            }
        } else if y.is_scalar() {
            let Some(b) = y.get(ys) else { continue };
            for i in xs..xe {
                if let Some(a) = x.get(i) {
                    sink(row, index(a, b), w);
                }
            }
        } else {
            return exec_err!(
                "{function}: the x and y lists of row {row} have different lengths ({nx} and {ny})"
            );
        }
    }
    Ok(())
}

/// A category argument: text or integers, one per row.
pub enum CategoryColumn<'a> {
    /// Text categories (Utf8).
    Str(&'a datafusion::arrow::array::StringArray),
    /// Integer categories (Int64).
    Int(&'a datafusion::arrow::array::Int64Array),
    /// All NULL.
    Null,
}

impl<'a> CategoryColumn<'a> {
    /// Views the (coerced) category column.
    pub fn try_new(array: &'a ArrayRef, function: &str) -> Result<Self> {
        match array.data_type() {
            DataType::Utf8 => match array.as_string_opt::<i32>() {
                Some(a) => Ok(CategoryColumn::Str(a)),
                None => exec_err!("{function}: bad category column"),
            },
            DataType::Int64 => match array.as_primitive_opt::<Int64Type>() {
                Some(a) => Ok(CategoryColumn::Int(a)),
                None => exec_err!("{function}: bad category column"),
            },
            DataType::Null => Ok(CategoryColumn::Null),
            other => exec_err!("{function}: the category must be text or an integer, got {other}"),
        }
    }
}

/// Fills a category column and a numeric column: `sink(row, category_bin, x_bin, weight)`,
/// where `category_bin` comes from `lookup` (which may grow the axis).
pub fn fill_category<L, I, S>(
    category: &CategoryColumn<'_>,
    x: &NumberColumn<'_>,
    weights: &Weights<'_>,
    mut lookup: L,
    index: I,
    mut sink: S,
) where
    L: FnMut(CategoryRef<'_>) -> usize,
    I: Fn(f64) -> usize,
    S: FnMut(usize, usize, f64),
{
    for row in 0..x.rows {
        let key = match category {
            CategoryColumn::Str(a) if a.is_valid(row) => CategoryRef::Str(a.value(row)),
            CategoryColumn::Int(a) if a.is_valid(row) => CategoryRef::Int(a.value(row)),
            _ => continue,
        };
        let Some((start, end)) = x.range(row) else {
            continue;
        };
        let Some(w) = weights.of(row) else {
            continue;
        };
        let mut cat_bin = None;
        for j in start..end {
            if let Some(v) = x.get(j) {
                let c = *cat_bin.get_or_insert_with(|| lookup(key));
                sink(c, index(v), w);
            }
        }
    }
}

/// One category value.
#[derive(Clone, Copy)]
pub enum CategoryRef<'a> {
    /// A text category.
    Str(&'a str),
    /// An integer category.
    Int(i64),
}
