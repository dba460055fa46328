//! Kinematics over (lists of) physics objects: `delta_phi`, `delta_r`, `min_delta_r`,
//! `inv_mass`, `inv_masses`, four-vector sums and conversions.
//!
//! Modules: [`elementwise`] (ΔΦ, ΔR, transverse mass, coordinate conversions; lists or numbers,
//! broadcasting), [`min_delta_r`] (nearest object of another collection), [`p4`] (sums of
//! four-vectors per row or per index tuple), `broadcast` (the element-wise engine). Everything
//! is computed in double precision and returned as Float32 when the inputs are Float32.

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

mod broadcast;
pub mod elementwise;
pub mod min_delta_r;
pub mod p4;

/// The kinematics functions.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    let mut out = vec![
        Arc::new(ScalarUDF::from(elementwise::DeltaPhi::new())),
        Arc::new(ScalarUDF::from(elementwise::DeltaR::new())),
        Arc::new(ScalarUDF::from(elementwise::TransverseMass::new())),
        Arc::new(ScalarUDF::from(elementwise::PxPyPzE::new())),
        Arc::new(ScalarUDF::from(elementwise::PtEtaPhiM::new())),
        Arc::new(ScalarUDF::from(min_delta_r::MinDeltaR::new())),
    ];
    out.extend(p4::functions());
    out
}
