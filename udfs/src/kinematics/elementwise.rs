//! Element-wise kinematics: `delta_phi`, `delta_r`, `transverse_mass` and the conversions
//! `pxpypze` (pt, η, φ, m → px, py, pz, E) and `ptetaphim` (back). Arguments are lists or
//! numbers; numbers broadcast over the lists' elements.

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::broadcast::{coerce_numeric, map_elements, result_field, wrap_phi};

/// Implements `ScalarUDFImpl` for an element-wise kinematics struct (field `signature`).
macro_rules! elementwise_kinematics {
    ($ty:ident, $name:literal, $n:literal, [$($out:literal),+], $f:expr) => {
        impl $ty {
            /// The function.
            pub fn new() -> Self {
                Self {
                    signature: Signature::user_defined(Volatility::Immutable),
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
            fn signature(&self) -> &Signature {
                &self.signature
            }
            fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
                coerce_numeric($name, arg_types, $n)
            }
            fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
                datafusion::common::internal_err!("{}: return_field_from_args is used", $name)
            }
            fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
                Ok(result_field($name, &args, &[$($out),+]))
            }
            fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
                map_elements($name, &args, [$($out),+], $f)
            }
            fn documentation(&self) -> Option<&Documentation> {
                self.doc()
            }
        }
    };
}

/// The `DeltaPhi` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "φ1 − φ2 wrapped into [−π, π) (as `vector`'s `deltaphi`). Lists or numbers; numbers broadcast, lists must have equal lengths per row. Float32 when the inputs are Float32.",
    syntax_example = "delta_phi(phi1, phi2)",
    sql_example = r#"```sql
> SELECT delta_phi(3.0, -3.0);
-0.28318530717958623
```"#,
    argument(name = "phi1", description = "Azimuth(s) in radians."),
    argument(name = "phi2", description = "Azimuth(s) in radians.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DeltaPhi {
    signature: Signature,
}
elementwise_kinematics!(
    DeltaPhi,
    "delta_phi",
    2,
    ["delta_phi"],
    |[a, b]: [f64; 2]| [wrap_phi(a - b)]
);

/// The `DeltaR` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "ΔR = sqrt(Δη² + Δφ²) with Δφ wrapped into [−π, π) (as `vector`'s `deltaR`). Each argument is a list or a number; numbers broadcast (e.g. one lepton against every jet), lists must have equal lengths per row.",
    syntax_example = "delta_r(eta1, phi1, eta2, phi2)",
    sql_example = r#"```sql
> SELECT delta_r([0.5, -1.0], [0.1, 3.0], 0.0, 0.0);
[0.5099019513592785, 3.1622776601683795]
```"#,
    argument(name = "eta1", description = "Pseudorapidity of the first object(s)."),
    argument(name = "phi1", description = "Azimuth of the first object(s)."),
    argument(name = "eta2", description = "Pseudorapidity of the second object(s)."),
    argument(name = "phi2", description = "Azimuth of the second object(s).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DeltaR {
    signature: Signature,
}
elementwise_kinematics!(
    DeltaR,
    "delta_r",
    4,
    ["delta_r"],
    |[e1, p1, e2, p2]: [f64; 4]| {
        let (de, dp) = (e1 - e2, wrap_phi(p1 - p2));
        [(de * de + dp * dp).sqrt()]
    }
);

/// The `TransverseMass` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "Transverse mass sqrt(2·pt1·pt2·(1 − cos(φ1 − φ2))), e.g. of a lepton and the missing transverse momentum. Lists or numbers, broadcasting.",
    syntax_example = "transverse_mass(pt1, phi1, pt2, phi2)",
    sql_example = r#"```sql
> SELECT transverse_mass(40.0, 0.0, 30.0, 3.141592653589793);
69.2820323027551
```"#,
    argument(
        name = "pt1",
        description = "Transverse momentum of the first object(s)."
    ),
    argument(name = "phi1", description = "Azimuth of the first object(s)."),
    argument(
        name = "pt2",
        description = "Transverse momentum of the second object(s)."
    ),
    argument(name = "phi2", description = "Azimuth of the second object(s).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TransverseMass {
    signature: Signature,
}
elementwise_kinematics!(
    TransverseMass,
    "transverse_mass",
    4,
    ["transverse_mass"],
    |[pt1, p1, pt2, p2]: [f64; 4]| [(2.0 * pt1 * pt2 * (1.0 - (p1 - p2).cos())).max(0.0).sqrt()]
);

/// (pt, η, φ, m) → (px, py, pz, E).
#[inline]
pub(crate) fn to_cartesian(pt: f64, eta: f64, phi: f64, m: f64) -> [f64; 4] {
    let (px, py, pz) = (pt * phi.cos(), pt * phi.sin(), pt * eta.sinh());
    let e = (px * px + py * py + pz * pz + m * m.abs()).max(0.0).sqrt();
    [px, py, pz, e]
}

/// (px, py, pz, E) → (pt, η, φ, m); m is negative for a space-like vector (as in `vector`).
#[inline]
pub(crate) fn to_polar(px: f64, py: f64, pz: f64, e: f64) -> [f64; 4] {
    let pt = px.hypot(py);
    let eta = if pt == 0.0 && pz == 0.0 {
        0.0
    } else {
        (pz / pt).asinh()
    };
    let m2 = e * e - px * px - py * py - pz * pz;
    [pt, eta, py.atan2(px), m2.abs().sqrt().copysign(m2)]
}

/// The `PxPyPzE` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "Converts (pt, η, φ, mass) to the Cartesian four-momentum `{px, py, pz, e}` (a struct, or a list of structs for list arguments). Numbers broadcast.",
    syntax_example = "pxpypze(pt, eta, phi, mass)",
    sql_example = r#"```sql
> SELECT pxpypze(10.0, 0.0, 0.0, 0.0);
{px: 10.0, py: 0.0, pz: 0.0, e: 10.0}
```"#,
    argument(name = "pt", description = "Transverse momentum."),
    argument(name = "eta", description = "Pseudorapidity."),
    argument(name = "phi", description = "Azimuth."),
    argument(name = "mass", description = "Mass.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PxPyPzE {
    signature: Signature,
}
elementwise_kinematics!(
    PxPyPzE,
    "pxpypze",
    4,
    ["px", "py", "pz", "e"],
    |[pt, eta, phi, m]: [f64; 4]| to_cartesian(pt, eta, phi, m)
);

/// The `PtEtaPhiM` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "Converts a Cartesian four-momentum (px, py, pz, E) to `{pt, eta, phi, mass}` (a struct, or a list of structs). A space-like vector gets a negative mass, as in `vector`.",
    syntax_example = "ptetaphim(px, py, pz, e)",
    sql_example = r#"```sql
> SELECT ptetaphim(3.0, 4.0, 0.0, 13.0);
{pt: 5.0, eta: 0.0, phi: 0.9272952180016122, mass: 12.0}
```"#,
    argument(name = "px", description = "x component."),
    argument(name = "py", description = "y component."),
    argument(name = "pz", description = "z component."),
    argument(name = "e", description = "Energy.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PtEtaPhiM {
    signature: Signature,
}
elementwise_kinematics!(
    PtEtaPhiM,
    "ptetaphim",
    4,
    ["pt", "eta", "phi", "mass"],
    |[px, py, pz, e]: [f64; 4]| to_polar(px, py, pz, e)
);
