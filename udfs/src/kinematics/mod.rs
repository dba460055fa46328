//! Kinematics over (lists of) physics objects: `delta_phi`, `delta_r`, `min_delta_r`,
//! `inv_mass`, `inv_masses`, four-vector sums and conversions.

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

/// The kinematics functions.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    Vec::new()
}
