//! Four-vector sums of the objects in a row: `inv_mass`, `p4_pt`, `p4_eta`, `p4_phi` (of all
//! objects, or of one index tuple per row) and their plural forms `inv_masses`, `p4_pts`,
//! `p4_etas`, `p4_phis` (one value per tuple of a `list_argcombinations` /
//! `list_argcartesian`-style list of index tuples).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float32Array, Float64Array, ListArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::broadcast::{Source, coerce_numeric, float32_result, to_source};
use super::elementwise::{to_cartesian, to_polar};
use crate::list::common::{
    Aligned, align, all_scalar, as_list, finish, is_list, list_element, list_of,
};

/// Which property of the summed four-vector a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantity {
    /// Invariant mass.
    Mass,
    /// Transverse momentum.
    Pt,
    /// Pseudorapidity.
    Eta,
    /// Azimuth.
    Phi,
}

impl Quantity {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Quantity::Mass => ("inv_mass", "inv_masses"),
            Quantity::Pt => ("p4_pt", "p4_pts"),
            Quantity::Eta => ("p4_eta", "p4_etas"),
            Quantity::Phi => ("p4_phi", "p4_phis"),
        }
    }

    /// The quantity of the Cartesian four-vector `p`: only what it needs is computed (a mass
    /// takes no transcendental function), with the same formulas as `to_polar`.
    #[inline]
    fn of(self, p: [f64; 4]) -> f64 {
        let [px, py, pz, e] = p;
        match self {
            Quantity::Mass => {
                let m2 = e * e - px * px - py * py - pz * pz;
                m2.abs().sqrt().copysign(m2)
            }
            Quantity::Pt => px.hypot(py),
            Quantity::Eta => to_polar(px, py, pz, e)[1],
            Quantity::Phi => py.atan2(px),
        }
    }
}

/// The depth of list nesting of `t` (0 for a non-list).
fn depth(t: &DataType) -> usize {
    match list_element(t) {
        Some(f) => 1 + depth(f.data_type()),
        None => 0,
    }
}

fn coerce(name: &str, plural: bool, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let (objects, indices) = match (plural, arg_types.len()) {
        (false, 4) => (&arg_types[..4], None),
        (_, 5) => (&arg_types[..4], Some(&arg_types[4])),
        _ => {
            return plan_err!(
                "{name} takes {} arguments (pt, eta, phi, mass{}), got {}",
                if plural { "5" } else { "4 or 5" },
                if plural { ", tuples" } else { " [, indices]" },
                arg_types.len()
            );
        }
    };
    if !objects.iter().any(is_list) {
        return plan_err!("{name}: pt, eta, phi or mass must be a list (the objects of each row)");
    }
    let mut out = coerce_numeric(name, objects, 4)?;
    if let Some(t) = indices {
        let want = if plural { 2 } else { 1 };
        if depth(t) != want && t != &DataType::Null {
            return plan_err!(
                "{name}: argument 5 must be {}, got {t}",
                if plural {
                    "a list of index tuples (List<List<Int64>>, e.g. list_argcombinations(pt, 2))"
                } else {
                    "a list of 1-based indices (List<Int64>)"
                }
            );
        }
        out.push(if plural {
            list_of(list_of(DataType::Int64))
        } else {
            list_of(DataType::Int64)
        });
    }
    Ok(out)
}

/// Per-element Cartesian four-vectors of the aligned (pt, η, φ, m) and their validity.
struct Objects {
    p4: Vec<[f64; 4]>,
    valid: Vec<bool>,
    offsets: Vec<usize>,
    row_valid: Vec<bool>,
}

fn objects(name: &str, args: &ScalarFunctionArgs) -> Result<Objects> {
    let names: Vec<String> = args
        .arg_fields
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let aligned = align(name, &names[..4], &args.args[..4], args.number_rows)?;
    let sources = aligned
        .operands
        .iter()
        .map(|a| match a {
            Aligned::Array(x) => to_source(x),
            Aligned::Scalar(s) => {
                let v = if s.is_null() {
                    None
                } else {
                    match s.cast_to(&DataType::Float64)? {
                        datafusion::common::ScalarValue::Float64(v) => v,
                        _ => None,
                    }
                };
                Ok(Source::Constant(v))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let len = aligned.elements();
    let mut p4 = Vec::with_capacity(len);
    let mut valid = Vec::with_capacity(len);
    for i in 0..len {
        match (
            sources[0].get(i),
            sources[1].get(i),
            sources[2].get(i),
            sources[3].get(i),
        ) {
            (Some(pt), Some(eta), Some(phi), Some(m)) => {
                p4.push(to_cartesian(pt, eta, phi, m));
                valid.push(true);
            }
            _ => {
                p4.push([0.0; 4]);
                valid.push(false);
            }
        }
    }
    let offsets = aligned.offsets.iter().map(|&o| o as usize).collect();
    let row_valid = (0..aligned.rows)
        .map(|r| aligned.nulls.as_ref().is_none_or(|n| n.is_valid(r)))
        .collect();
    Ok(Objects {
        p4,
        valid,
        offsets,
        row_valid,
    })
}

/// Sums the four-vectors of `positions` (1-based, negative from the end) of row `row`;
/// `None` when an index is out of range or an object has a NULL component.
#[inline]
fn sum_positions(
    objects: &Objects,
    row: usize,
    positions: impl Iterator<Item = Option<i64>>,
) -> Option<[f64; 4]> {
    let (s, e) = (objects.offsets[row], objects.offsets[row + 1]);
    let n = (e - s) as i64;
    let mut acc = [0.0f64; 4];
    for p in positions {
        let p = p?;
        let k = if (1..=n).contains(&p) {
            p - 1
        } else if (-n..=-1).contains(&p) {
            n + p
        } else {
            return None;
        };
        let i = s + k as usize;
        if !objects.valid[i] {
            return None;
        }
        let v = objects.p4[i];
        for (a, x) in acc.iter_mut().zip(v) {
            *a += x;
        }
    }
    Some(acc)
}

fn numbers(values: Vec<Option<f64>>, float32: bool) -> ArrayRef {
    if float32 {
        Arc::new(
            values
                .into_iter()
                .map(|v| v.map(|x| x as f32))
                .collect::<Float32Array>(),
        )
    } else {
        Arc::new(values.into_iter().collect::<Float64Array>())
    }
}

fn invoke(
    name: &str,
    quantity: Quantity,
    plural: bool,
    args: ScalarFunctionArgs,
) -> Result<ColumnarValue> {
    let scalar = all_scalar(&args.args);
    let objects = objects(name, &args)?;
    let rt = args.return_field.data_type();
    let float32 = list_element(rt).map(|f| f.data_type()).unwrap_or(rt) == &DataType::Float32;
    let indices = match args.args.get(4) {
        Some(a) => Some(a.to_array(objects.row_valid.len())?),
        None => None,
    };
    let result: ArrayRef = match (plural, indices) {
        (false, None) => {
            let out: Vec<Option<f64>> = (0..objects.row_valid.len())
                .map(|row| {
                    if !objects.row_valid[row] {
                        return None;
                    }
                    let n = (objects.offsets[row + 1] - objects.offsets[row]) as i64;
                    sum_positions(&objects, row, (1..=n).map(Some)).map(|p| quantity.of(p))
                })
                .collect();
            numbers(out, float32)
        }
        (false, Some(indices)) => {
            let list = as_list(name, 4, &indices)?;
            let leaf = cast(list.values(), &DataType::Int64)?;
            let leaf = leaf.as_primitive::<Int64Type>();
            let off = list.value_offsets();
            let out: Vec<Option<f64>> = (0..list.len())
                .map(|row| {
                    if !objects.row_valid[row] || list.is_null(row) {
                        return None;
                    }
                    let positions = (off[row] as usize..off[row + 1] as usize)
                        .map(|p| leaf.is_valid(p).then(|| leaf.value(p)));
                    sum_positions(&objects, row, positions).map(|p| quantity.of(p))
                })
                .collect();
            numbers(out, float32)
        }
        (true, Some(tuples)) => {
            let outer = as_list(name, 4, &tuples)?;
            let Some(inner) = outer.values().as_list_opt::<i32>() else {
                return exec_err!("{name}: argument 5 must be a list of index tuples");
            };
            let leaf = cast(inner.values(), &DataType::Int64)?;
            let leaf = leaf.as_primitive::<Int64Type>();
            let (oo, io) = (outer.value_offsets(), inner.value_offsets());
            let mut out: Vec<Option<f64>> = vec![None; inner.len()];
            for row in 0..outer.len() {
                if !objects.row_valid[row] || outer.is_null(row) {
                    continue;
                }
                for t in oo[row] as usize..oo[row + 1] as usize {
                    if inner.is_null(t) {
                        continue;
                    }
                    let positions = (io[t] as usize..io[t + 1] as usize)
                        .map(|p| leaf.is_valid(p).then(|| leaf.value(p)));
                    out[t] = sum_positions(&objects, row, positions).map(|p| quantity.of(p));
                }
            }
            let values = numbers(out, float32);
            let row_nulls = NullBuffer::from(objects.row_valid.clone());
            let nulls = NullBuffer::union(Some(&row_nulls), outer.nulls());
            Arc::new(ListArray::try_new(
                Arc::new(Field::new_list_field(values.data_type().clone(), true)),
                outer.offsets().clone(),
                values,
                nulls,
            )?)
        }
        (true, None) => return exec_err!("{name}: argument 5 (index tuples) is missing"),
    };
    finish(result, scalar)
}

/// Implements `ScalarUDFImpl` for a four-vector-sum struct (fields `quantity`, `signature`).
macro_rules! p4_udf {
    ($ty:ident, $plural:literal) => {
        impl $ty {
            /// The function computing `quantity`.
            pub fn new(quantity: Quantity) -> Self {
                Self {
                    quantity,
                    signature: Signature::user_defined(Volatility::Immutable),
                }
            }
            fn function_name(&self) -> &'static str {
                let (singular, plural) = self.quantity.names();
                if $plural { plural } else { singular }
            }
        }
        impl ScalarUDFImpl for $ty {
            fn name(&self) -> &str {
                self.function_name()
            }
            fn signature(&self) -> &Signature {
                &self.signature
            }
            fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
                coerce(self.function_name(), $plural, arg_types)
            }
            fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
                datafusion::common::internal_err!(
                    "{}: return_field_from_args is used",
                    self.function_name()
                )
            }
            fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
                let objects = ReturnFieldArgs {
                    arg_fields: &args.arg_fields[..4.min(args.arg_fields.len())],
                    scalar_arguments: &args.scalar_arguments[..4.min(args.scalar_arguments.len())],
                };
                let number = if float32_result(&objects) {
                    DataType::Float32
                } else {
                    DataType::Float64
                };
                let t = if $plural { list_of(number) } else { number };
                Ok(Arc::new(Field::new(self.function_name(), t, true)))
            }
            fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
                invoke(self.function_name(), self.quantity, $plural, args)
            }
            fn documentation(&self) -> Option<&Documentation> {
                self.doc()
            }
        }
    };
}

/// The `P4Sum` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "Property of the four-vector sum of the objects in each row: `inv_mass` (invariant mass; negative for a space-like sum, as in `vector`), `p4_pt`, `p4_eta`, `p4_phi`. Objects are given as (pt, η, φ, mass) lists of equal lengths (a number broadcasts, e.g. a constant mass). Without `indices` all objects of the row are summed (an empty row sums to the zero vector: mass 0); with `indices` (1-based, e.g. `[1, 2]` or `list_argmax`-based) only those. An out-of-range index or a NULL component gives NULL. Float32 when the non-constant inputs are Float32.",
    syntax_example = "inv_mass(pt, eta, phi, mass [, indices])",
    sql_example = r#"```sql
> SELECT inv_mass([50.0, 40.0], [0.5, -0.3], [0.1, 2.9], 0.105, [1, 2]);
95.49174959307719
```"#,
    argument(name = "pt", description = "Transverse momenta (a list)."),
    argument(name = "eta", description = "Pseudorapidities (a list)."),
    argument(name = "phi", description = "Azimuths (a list)."),
    argument(name = "mass", description = "Masses (a list or a number)."),
    argument(
        name = "indices",
        description = "Optional 1-based positions of the objects to sum."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct P4Sum {
    quantity: Quantity,
    signature: Signature,
}
p4_udf!(P4Sum, false);

/// The `P4Sums` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "One value per index tuple: the invariant mass (`inv_masses`), pt (`p4_pts`), η (`p4_etas`) or φ (`p4_phis`) of the four-vector sum of each tuple's objects, e.g. every dimuon mass with `inv_masses(Muon_pt, Muon_eta, Muon_phi, Muon_mass, list_argcombinations(Muon_pt, 2))`. The result is a list parallel to the tuples.",
    syntax_example = "inv_masses(pt, eta, phi, mass, tuples)",
    sql_example = r#"```sql
> SELECT inv_masses([50.0, 40.0, 20.0], [0.5, -0.3, 1.2], [0.1, 2.9, -1.0], 0.0, list_argcombinations([50.0, 40.0, 20.0], 2));
[95.49151348624656, 40.03930279626168, 70.18081697379577]
```"#,
    argument(name = "pt", description = "Transverse momenta (a list)."),
    argument(name = "eta", description = "Pseudorapidities (a list)."),
    argument(name = "phi", description = "Azimuths (a list)."),
    argument(name = "mass", description = "Masses (a list or a number)."),
    argument(
        name = "tuples",
        description = "A list of 1-based index tuples (List<List<Int64>>)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct P4Sums {
    quantity: Quantity,
    signature: Signature,
}
p4_udf!(P4Sums, true);

/// The four-vector-sum functions.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    let mut out = Vec::new();
    for q in [Quantity::Mass, Quantity::Pt, Quantity::Eta, Quantity::Phi] {
        out.push(Arc::new(ScalarUDF::from(P4Sum::new(q))));
        out.push(Arc::new(ScalarUDF::from(P4Sums::new(q))));
    }
    out
}
