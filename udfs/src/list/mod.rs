//! Per-event functions over jagged `List` columns: element-wise arithmetic and masks,
//! reductions (`list_sum`, `list_argmax`, …), selection (`list_where`, `list_select`, …) and
//! combinatorics (`list_argcombinations`, `list_argcartesian`).

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

/// The list functions, one entry per function (aliases live on the function).
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    Vec::new()
}
