//! Helpers shared by the list and kinematics kernels: argument coercion to `List`, turning
//! `ColumnarValue`s into arrays and back, and aligning the elements of several lists (or of a
//! list and a per-row scalar) so that one Arrow kernel can run over the flat value buffers.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, UInt32Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::ColumnarValue;

/// The element field of a list type (`List`, `LargeList` or `FixedSizeList`), if it is one.
pub(crate) fn list_element(data_type: &DataType) -> Option<&FieldRef> {
    match data_type {
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
            Some(field)
        }
        _ => None,
    }
}

/// Whether `data_type` is a list type our kernels accept.
pub(crate) fn is_list(data_type: &DataType) -> bool {
    list_element(data_type).is_some()
}

/// `List<element>` with a nullable element field, the one list layout our kernels run on.
pub(crate) fn list_of(element: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(element, true)))
}

/// Coerces any list type to `List` of the same element (kernels see only `ListArray`), or to
/// `List<element>` when `element` is given. Non-list types come back unchanged.
pub(crate) fn coerce_list(data_type: &DataType, element: Option<&DataType>) -> DataType {
    match list_element(data_type) {
        Some(field) => list_of(
            element
                .cloned()
                .unwrap_or_else(|| field.data_type().clone()),
        ),
        None => data_type.clone(),
    }
}

/// Checks that argument `index` of `function` is a list (or NULL) and returns it coerced to `List`.
pub(crate) fn require_list(function: &str, index: usize, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Null => Ok(list_of(DataType::Null)),
        t if is_list(t) => Ok(coerce_list(t, None)),
        other => plan_err!(
            "{function}: argument {} must be a list, got {other}",
            index + 1
        ),
    }
}

/// Whether every argument is a scalar (then the result is a scalar too).
pub(crate) fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// Turns a kernel's array result back into a `ColumnarValue`: a scalar when every input was one.
pub(crate) fn finish(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// Argument `index` of `function` as a `ListArray` (after coercion every list argument is one;
/// an untyped NULL becomes an all-null list of `Null`).
pub(crate) fn as_list<'a>(
    function: &str,
    index: usize,
    array: &'a ArrayRef,
) -> Result<&'a ListArray> {
    match array.as_list_opt::<i32>() {
        Some(list) => Ok(list),
        None => exec_err!(
            "{function}: argument {} must be a list, got {}",
            index + 1,
            array.data_type()
        ),
    }
}

/// The `[start, end)` value range of row `row`.
#[inline]
pub(crate) fn range(offsets: &[i32], row: usize) -> (usize, usize) {
    (offsets[row] as usize, offsets[row + 1] as usize)
}

/// The flat values of `list` that belong to its rows (the slice between the first and last
/// offsets).
pub(crate) fn row_values(list: &ListArray) -> ArrayRef {
    let offsets = list.value_offsets();
    let start = offsets.first().copied().unwrap_or(0) as usize;
    let end = offsets.last().copied().unwrap_or(0) as usize;
    list.values().slice(start, end - start)
}

/// One operand of an element-wise operation, lined up with the elements of the result.
pub(crate) enum Aligned {
    /// One value per result element.
    Array(ArrayRef),
    /// A constant (a literal), the same for every element.
    Scalar(ScalarValue),
}

/// The element-wise alignment of several operands: the result's list structure and, per
/// operand, its values lined up with the result's elements.
pub(crate) struct Alignment {
    /// Row offsets of the result (starting at 0).
    pub offsets: OffsetBuffer<i32>,
    /// Rows that are NULL in the result (a NULL list or NULL per-row scalar in any operand).
    pub nulls: Option<NullBuffer>,
    /// Operands lined up with the result's elements.
    pub operands: Vec<Aligned>,
    /// Number of rows.
    pub rows: usize,
}

impl Alignment {
    /// Wraps flat result `values` (one per aligned element) into the result list.
    pub fn into_list(self, values: ArrayRef) -> Result<ListArray> {
        let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
        Ok(ListArray::try_new(field, self.offsets, values, self.nulls)?)
    }

    /// Number of result elements.
    pub fn elements(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) as usize
    }
}

/// Lines up `args` element by element. At least one argument must be a list array; every list
/// must have the same length as the others in each row where none is NULL (otherwise an error
/// naming `function`, both operands and the row). Per-row scalars are repeated over their row's
/// elements; constant scalars stay constants.
///
/// Rows where any operand is NULL become NULL rows with no elements.
pub(crate) fn align(
    function: &str,
    names: &[String],
    args: &[ColumnarValue],
    rows: usize,
) -> Result<Alignment> {
    // Which arguments are lists (as arrays), per-row scalars or constants.
    let mut lists: Vec<(usize, ListArray)> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        match arg {
            ColumnarValue::Array(a) if is_list(a.data_type()) => {
                lists.push((i, as_list(function, i, a)?.clone()));
            }
            ColumnarValue::Scalar(s) if is_list(&s.data_type()) => {
                let a = s.to_array_of_size(rows)?;
                lists.push((i, as_list(function, i, &a)?.clone()));
            }
            _ => {}
        }
    }
    let Some((first_index, first)) = lists.first() else {
        return exec_err!("{function}: expected at least one list argument");
    };
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");

    // Row validity: every list and per-row scalar must be valid.
    let mut nulls = first.nulls().cloned();
    for (_, list) in lists.iter().skip(1) {
        nulls = NullBuffer::union(nulls.as_ref(), list.nulls());
    }
    for arg in args {
        if let ColumnarValue::Array(a) = arg
            && !is_list(a.data_type())
        {
            nulls = NullBuffer::union(nulls.as_ref(), a.logical_nulls().as_ref());
        }
    }
    let valid = |row: usize| nulls.as_ref().is_none_or(|n| n.is_valid(row));

    // Lengths must agree in valid rows.
    let first_offsets = first.value_offsets();
    for (j, list) in lists.iter().skip(1) {
        let offsets = list.value_offsets();
        if offsets == first_offsets {
            continue;
        }
        for row in 0..rows {
            if !valid(row) {
                continue;
            }
            let a = first_offsets[row + 1] - first_offsets[row];
            let b = offsets[row + 1] - offsets[row];
            if a != b {
                return exec_err!(
                    "{function}: {} and {} have different lengths in row {} ({a} and {b} elements)",
                    name(*first_index),
                    name(*j),
                    row + 1
                );
            }
        }
    }

    // Result offsets: the first list's lengths, zero for NULL rows.
    let mut all_valid_same = nulls.is_none();
    if all_valid_same {
        all_valid_same = lists
            .iter()
            .all(|(_, l)| l.value_offsets() == first_offsets);
    }
    let offsets = if all_valid_same {
        let base = first_offsets.first().copied().unwrap_or(0);
        if base == 0 {
            // Already starting at 0: share the buffer instead of copying it.
            first.offsets().clone()
        } else {
            OffsetBuffer::new(first_offsets.iter().map(|o| o - base).collect())
        }
    } else {
        OffsetBuffer::from_lengths((0..rows).map(|row| {
            if valid(row) {
                (first_offsets[row + 1] - first_offsets[row]) as usize
            } else {
                0
            }
        }))
    };

    // Row id of every result element (only built when a per-row scalar or a gather needs it).
    let needs_row_ids = args
        .iter()
        .any(|a| matches!(a, ColumnarValue::Array(x) if !is_list(x.data_type())));
    let row_ids: Option<UInt32Array> = needs_row_ids.then(|| {
        let mut ids = Vec::with_capacity(offsets.last().copied().unwrap_or(0) as usize);
        for row in 0..rows {
            let n = (offsets[row + 1] - offsets[row]) as usize;
            ids.extend(std::iter::repeat_n(row as u32, n));
        }
        UInt32Array::from(ids)
    });

    let mut operands = Vec::with_capacity(args.len());
    let mut list_iter = lists.iter().peekable();
    for (i, arg) in args.iter().enumerate() {
        if let Some((j, list)) = list_iter.peek()
            && *j == i
        {
            let values = if all_valid_same {
                row_values(list)
            } else {
                gather(list, &offsets, rows, &valid)?
            };
            operands.push(Aligned::Array(values));
            list_iter.next();
            continue;
        }
        match arg {
            ColumnarValue::Scalar(s) => operands.push(Aligned::Scalar(s.clone())),
            ColumnarValue::Array(a) => match &row_ids {
                Some(ids) => operands.push(Aligned::Array(take(a.as_ref(), ids, None)?)),
                None => return exec_err!("{function}: internal alignment error"),
            },
        }
    }
    Ok(Alignment {
        offsets,
        nulls,
        operands,
        rows,
    })
}

/// The values of `list`'s valid rows, in row order (NULL rows contribute nothing).
fn gather(
    list: &ListArray,
    result_offsets: &OffsetBuffer<i32>,
    rows: usize,
    valid: &dyn Fn(usize) -> bool,
) -> Result<ArrayRef> {
    let offsets = list.value_offsets();
    let mut indices = Vec::with_capacity(result_offsets.last().copied().unwrap_or(0) as usize);
    for row in 0..rows {
        if valid(row) {
            indices.extend(offsets[row] as u32..offsets[row + 1] as u32);
        }
    }
    Ok(take(
        list.values().as_ref(),
        &UInt32Array::from(indices),
        None,
    )?)
}
