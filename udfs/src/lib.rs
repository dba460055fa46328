//! # hepq-udfs: the physicist's vocabulary in SQL
//!
//! Scalar functions over jagged `List` columns (per-event reductions, masks, combinations),
//! kinematics (ΔR, invariant masses) and histogram aggregates whose result is a UHI document.
//! Kernels work on whole Arrow buffers; each function carries its user documentation, from which
//! the SQL reference is generated.
//!
//! [`register_all`] is the one entry point the session builder (`hepq-sql`) calls.
//!
//! Modules: [`list`] (jagged-list functions), [`kinematics`] (ΔR, invariant masses, …),
//! [`hist`] (histogram aggregates and accessors), [`docs`] (the generated SQL reference,
//! `udfs/docs/sql-functions.md`).

pub mod docs;
pub mod hist;
pub mod kinematics;
pub mod list;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// Every scalar function hepq adds to DataFusion's own.
pub fn all_scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut all = list::functions();
    all.extend(kinematics::functions());
    all.extend(hist::scalar_functions());
    all
}

/// Every aggregate function hepq adds to DataFusion's own.
pub fn all_aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    hist::aggregate_functions()
}

/// Every table function hepq adds (name, implementation). `FunctionRegistry` cannot hold
/// table functions, so the session builder registers these itself (`register_udtf`).
pub fn all_table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    hist::table_functions()
}

/// Registers all of hepq's functions with `registry` (a `SessionState` or `SessionContext`).
pub fn register_all(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for udf in all_scalar_functions() {
        registry.register_udf(udf)?;
    }
    for udaf in all_aggregate_functions() {
        registry.register_udaf(udaf)?;
    }
    // Operators on lists (`Jet_pt > 30`) are planned as element-wise functions.
    list::register_planners(registry)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn no_duplicate_names() {
        let mut seen = HashSet::new();
        for udf in all_scalar_functions() {
            for name in std::iter::once(udf.name()).chain(udf.aliases().iter().map(|a| a.as_str()))
            {
                assert!(
                    seen.insert(name.to_string()),
                    "duplicate function name {name}"
                );
            }
        }
        for udaf in all_aggregate_functions() {
            for name in
                std::iter::once(udaf.name()).chain(udaf.aliases().iter().map(|a| a.as_str()))
            {
                assert!(
                    seen.insert(name.to_string()),
                    "duplicate function name {name}"
                );
            }
        }
    }
}
