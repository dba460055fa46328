//! Per-event functions over jagged `List` columns: element-wise arithmetic and masks,
//! reductions (`list_sum`, `list_argmax`, …), selection (`list_where`, `list_select`, …) and
//! combinatorics (`list_argcombinations`, `list_argcartesian`).
//!
//! Modules: [`reduce`] (per-row reductions), [`select`] (masks, positions, sorting, padding),
//! [`combinations`] (index tuples), [`elementwise`] (operators and math on lists, with the
//! planner hook that rewrites `Jet_pt > 30`), `common` (argument coercion and alignment).
//!
//! All kernels coerce `LargeList` and `FixedSizeList` arguments to `List` and run over the
//! offsets and flat value buffers.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::ScalarUDF;

pub mod combinations;
pub(crate) mod common;
pub mod elementwise;
pub mod reduce;
pub mod select;

/// The list functions, one entry per function (aliases live on the function).
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    let mut all = reduce::functions();
    all.extend(select::functions());
    all.extend(combinations::functions());
    all.extend(elementwise::operator_functions());
    all.extend(elementwise::lifted_math());
    all
}

/// Registers the planner hook that makes SQL operators work element-wise on lists
/// ([`elementwise::ListOperatorPlanner`]).
pub fn register_planners(registry: &mut dyn FunctionRegistry) -> Result<()> {
    registry.register_expr_planner(Arc::new(elementwise::ListOperatorPlanner))?;
    Ok(())
}
