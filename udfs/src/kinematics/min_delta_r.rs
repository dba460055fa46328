//! `min_delta_r`: for every object of one collection, the ΔR to the nearest object of another
//! collection in the same row (lepton–jet isolation, overlap removal).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float32Array, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::broadcast::{Source, coerce_numeric, float32_result, to_source, wrap_phi};
use crate::list::common::{Aligned, align, all_scalar, finish, is_list, list_element, list_of};

/// The `MinDeltaR` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Kinematics"),
    description = "For each object of the first collection (eta, phi), the smallest ΔR to any object of the second collection (other_eta, other_phi) in the same row; NULL when the second collection is empty (or an object has a NULL coordinate). The result is a list parallel to `eta`. All four arguments are lists; each collection's two lists must have equal lengths per row.",
    syntax_example = "min_delta_r(eta, phi, other_eta, other_phi)",
    sql_example = r#"```sql
> SELECT min_delta_r([0.0, 1.0], [0.0, 0.0], [0.1, 5.0], [0.0, 0.0]);
[0.1, 0.9]
```"#,
    argument(
        name = "eta",
        description = "Pseudorapidities of the first collection."
    ),
    argument(name = "phi", description = "Azimuths of the first collection."),
    argument(
        name = "other_eta",
        description = "Pseudorapidities of the second collection."
    ),
    argument(name = "other_phi", description = "Azimuths of the second collection.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MinDeltaR {
    signature: Signature,
}

impl Default for MinDeltaR {
    fn default() -> Self {
        Self::new()
    }
}

impl MinDeltaR {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn sources(aligned: &crate::list::common::Alignment) -> Result<Vec<Source>> {
    aligned
        .operands
        .iter()
        .map(|a| match a {
            Aligned::Array(x) => to_source(x),
            Aligned::Scalar(_) => Ok(Source::Constant(None)),
        })
        .collect()
}

impl ScalarUDFImpl for MinDeltaR {
    fn name(&self) -> &str {
        "min_delta_r"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if let Some((i, t)) = arg_types.iter().enumerate().find(|(_, t)| !is_list(t)) {
            return plan_err!("min_delta_r: argument {} must be a list, got {t}", i + 1);
        }
        coerce_numeric("min_delta_r", arg_types, 4)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        datafusion::common::internal_err!("min_delta_r: return_field_from_args is used")
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let number = if float32_result(&args) {
            DataType::Float32
        } else {
            DataType::Float64
        };
        Ok(Arc::new(Field::new("min_delta_r", list_of(number), true)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let names: Vec<String> = args
            .arg_fields
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let a = align(
            "min_delta_r",
            &names[..2],
            &args.args[..2],
            args.number_rows,
        )?;
        let b = align(
            "min_delta_r",
            &names[2..],
            &args.args[2..],
            args.number_rows,
        )?;
        let (sa, sb) = (sources(&a)?, sources(&b)?);
        let mut out: Vec<Option<f64>> = Vec::with_capacity(a.elements());
        for row in 0..a.rows {
            let (s1, e1) = (a.offsets[row] as usize, a.offsets[row + 1] as usize);
            let (s2, e2) = (b.offsets[row] as usize, b.offsets[row + 1] as usize);
            let b_valid = b.nulls.as_ref().is_none_or(|n| n.is_valid(row));
            for i in s1..e1 {
                let (Some(eta), Some(phi)) = (sa[0].get(i), sa[1].get(i)) else {
                    out.push(None);
                    continue;
                };
                let mut best: Option<f64> = None;
                if b_valid {
                    for j in s2..e2 {
                        if let (Some(e), Some(p)) = (sb[0].get(j), sb[1].get(j)) {
                            let (de, dp) = (eta - e, wrap_phi(phi - p));
                            let d2 = de * de + dp * dp;
                            best = Some(best.map_or(d2, |b| b.min(d2)));
                        }
                    }
                }
                out.push(best.map(f64::sqrt));
            }
        }
        let float32 = list_element(args.return_field.data_type())
            .is_some_and(|f| f.data_type() == &DataType::Float32);
        let values: ArrayRef = if float32 {
            Arc::new(
                out.into_iter()
                    .map(|v| v.map(|x| x as f32))
                    .collect::<Float32Array>(),
            )
        } else {
            Arc::new(out.into_iter().collect::<Float64Array>())
        };
        finish(Arc::new(a.into_list(values)?), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
