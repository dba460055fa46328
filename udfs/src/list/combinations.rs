//! Combinatorics on lists: `list_argcombinations(values, k)` (index tuples i < j < … of one
//! collection, in awkward's `ak.argcombinations` order) and `list_argcartesian(a, b)` (index
//! pairs across two collections, as `ak.argcartesian`). Positions are 1-based; the results are
//! `List<List<Int64>>`, ready for `list_select`, `inv_masses`, …

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, ListArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::common::{all_scalar, as_list, finish, list_of, range, require_list};

/// Largest tuple size `list_argcombinations` accepts.
const MAX_K: usize = 16;
/// Largest number of index values one batch may produce (keeps i32 offsets valid).
const MAX_VALUES: usize = i32::MAX as usize;

fn tuples_type() -> DataType {
    list_of(list_of(DataType::Int64))
}

/// Wraps flat tuple values (`k` per tuple) and per-row tuple counts into `List<List<Int64>>`.
fn tuples_array(
    values: Vec<i64>,
    k: usize,
    tuples_per_row: Vec<usize>,
    nulls: Option<NullBuffer>,
) -> Result<ListArray> {
    let total: usize = tuples_per_row.iter().sum();
    let inner = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Int64, true)),
        OffsetBuffer::from_lengths(std::iter::repeat_n(k, total)),
        Arc::new(Int64Array::from(values)),
        None,
    )?;
    Ok(ListArray::try_new(
        Arc::new(Field::new_list_field(inner.data_type().clone(), true)),
        OffsetBuffer::from_lengths(tuples_per_row),
        Arc::new(inner),
        nulls,
    )?)
}

/// n choose k, saturating.
fn choose(n: usize, k: usize) -> usize {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut c: u128 = 1;
    for i in 0..k {
        c = c * (n - i) as u128 / (i + 1) as u128;
        if c > usize::MAX as u128 {
            return usize::MAX;
        }
    }
    c as usize
}

/// Per-row k-combinations of positions `1..=n`, lexicographic.
pub(crate) fn argcombinations(list: &ListArray, k: usize) -> Result<ListArray> {
    let off = list.value_offsets();
    let rows = list.len();
    let mut counts = Vec::with_capacity(rows);
    let mut total = 0usize;
    for row in 0..rows {
        let (s, e) = range(off, row);
        let c = if list.is_null(row) {
            0
        } else {
            choose(e - s, k)
        };
        total = total.saturating_add(c.saturating_mul(k));
        counts.push(c);
    }
    if total > MAX_VALUES {
        return exec_err!(
            "list_argcombinations: {total} index values in one batch is too many (k = {k}); use a smaller k or fewer objects"
        );
    }
    let mut values = Vec::with_capacity(total);
    let mut idx = [0usize; MAX_K];
    for (row, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let (s, e) = range(off, row);
        let n = e - s;
        for (i, slot) in idx.iter_mut().enumerate().take(k) {
            *slot = i;
        }
        loop {
            values.extend(idx[..k].iter().map(|&i| i as i64 + 1));
            // Advance to the next combination: the rightmost index that can still grow.
            let mut i = k;
            while i > 0 && idx[i - 1] == n - k + (i - 1) {
                i -= 1;
            }
            if i == 0 {
                break;
            }
            idx[i - 1] += 1;
            let mut j = i;
            while j < k {
                idx[j] = idx[j - 1] + 1;
                j += 1;
            }
        }
    }
    tuples_array(values, k, counts, list.nulls().cloned())
}

/// The `ListArgCombinations` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List combinatorics"),
    description = "Every k-tuple of distinct 1-based positions i < j < … of each list, in awkward's `ak.argcombinations` order (lexicographic). A list with fewer than k elements gives an empty list, a NULL list NULL. Feed the result to `list_select`, `inv_masses`, `p4_pts`, ….",
    syntax_example = "list_argcombinations(values, k)",
    sql_example = r#"```sql
> SELECT list_argcombinations([10, 20, 30], 2);
[[1, 2], [1, 3], [2, 3]]
```"#,
    argument(name = "values", description = "A list (only its lengths matter)."),
    argument(
        name = "k",
        description = "Tuple size, a constant integer from 1 to 16."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListArgCombinations {
    signature: Signature,
}

impl Default for ListArgCombinations {
    fn default() -> Self {
        Self::new()
    }
}

impl ListArgCombinations {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListArgCombinations {
    fn name(&self) -> &str {
        "list_argcombinations"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [values, k] = arg_types else {
            return plan_err!("list_argcombinations takes two arguments (values, k)");
        };
        if !k.is_integer() {
            return plan_err!("list_argcombinations: argument 2 (k) must be an integer, got {k}");
        }
        Ok(vec![
            require_list("list_argcombinations", 0, values)?,
            DataType::Int64,
        ])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(tuples_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let k = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Int64(Some(k)))
                if (1..=MAX_K as i64).contains(k) =>
            {
                *k as usize
            }
            ColumnarValue::Scalar(s) => {
                return exec_err!(
                    "list_argcombinations: argument 2 (k) must be between 1 and {MAX_K}, got {s}"
                );
            }
            ColumnarValue::Array(_) => {
                return exec_err!("list_argcombinations: argument 2 (k) must be a constant");
            }
        };
        let scalar = all_scalar(&args.args);
        let values = args.args[0].to_array(args.number_rows)?;
        let list = as_list("list_argcombinations", 0, &values)?;
        finish(Arc::new(argcombinations(list, k)?), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `ListArgCartesian` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "List combinatorics"),
    description = "Every pair of 1-based positions (i in `a`, j in `b`) of each row, i-major (awkward's `ak.argcartesian([a, b])` order). An empty collection gives an empty list, a NULL one NULL. Select the objects with `list_select(a, array_transform(pairs, p -> p[1]))` and `… p[2]`.",
    syntax_example = "list_argcartesian(a, b)",
    sql_example = r#"```sql
> SELECT list_argcartesian([1.0, 2.0], [5, 6, 7]);
[[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]
```"#,
    argument(name = "a", description = "The first collection (a list)."),
    argument(name = "b", description = "The second collection (a list).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListArgCartesian {
    signature: Signature,
}

impl Default for ListArgCartesian {
    fn default() -> Self {
        Self::new()
    }
}

impl ListArgCartesian {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListArgCartesian {
    fn name(&self) -> &str {
        "list_argcartesian"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = arg_types else {
            return plan_err!("list_argcartesian takes two arguments (a, b)");
        };
        Ok(vec![
            require_list("list_argcartesian", 0, a)?,
            require_list("list_argcartesian", 1, b)?,
        ])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(tuples_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let a = as_list("list_argcartesian", 0, &arrays[0])?;
        let b = as_list("list_argcartesian", 1, &arrays[1])?;
        let nulls = NullBuffer::union(a.nulls(), b.nulls());
        let (ao, bo) = (a.value_offsets(), b.value_offsets());
        let mut counts = Vec::with_capacity(a.len());
        let mut total = 0usize;
        for row in 0..a.len() {
            let valid = nulls.as_ref().is_none_or(|n| n.is_valid(row));
            let (s1, e1) = range(ao, row);
            let (s2, e2) = range(bo, row);
            let c = if valid {
                (e1 - s1).saturating_mul(e2 - s2)
            } else {
                0
            };
            total = total.saturating_add(c.saturating_mul(2));
            counts.push(c);
        }
        if total > MAX_VALUES {
            return exec_err!("list_argcartesian: {total} index values in one batch is too many");
        }
        let mut values = Vec::with_capacity(total);
        for (row, &c) in counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let (s1, e1) = range(ao, row);
            let (s2, e2) = range(bo, row);
            for i in 1..=(e1 - s1) as i64 {
                for j in 1..=(e2 - s2) as i64 {
                    values.push(i);
                    values.push(j);
                }
            }
        }
        finish(Arc::new(tuples_array(values, 2, counts, nulls)?), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The combinatorics functions.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(ListArgCombinations::new())),
        Arc::new(ScalarUDF::from(ListArgCartesian::new())),
    ]
}
