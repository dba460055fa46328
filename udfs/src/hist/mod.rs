//! Histogram aggregates (`hist`, `hist2d`, `hist_cat`, `hist_merge`) whose result is a UHI
//! document, and the scalar functions that read such documents (`hist_values`, …).

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// The histogram aggregates.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    Vec::new()
}

/// The scalar functions over histogram documents.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    Vec::new()
}
