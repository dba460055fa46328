//! `hist(x, bins, low, high [, weight])` and `hist(x, edges [, weight])`: a one-dimensional
//! histogram per group, as a UHI document.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, GroupsAccumulator, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::aggregate::{
    FillAccumulator, FillGroupsAccumulator, FillSpec, Layout, axis_from_args, coerce_edges,
    coerce_float, coerce_integer, coerce_values, is_list, json_field, state_fields,
};

/// Coerces `types[i..]`: one axis (edges, or bins/low/high) then an optional weight;
/// returns the index after the axis.
pub(crate) fn coerce_axis(
    types: &[DataType],
    i: usize,
    out: &mut Vec<DataType>,
    function: &str,
) -> Result<usize> {
    match types.get(i) {
        Some(t) if is_list(t) => {
            out.push(coerce_edges(t, function)?);
            Ok(i + 1)
        }
        Some(_) if types.len() >= i + 3 => {
            out.push(coerce_integer(&types[i], function, "bins")?);
            out.push(coerce_float(&types[i + 1], function, "low")?);
            out.push(coerce_float(&types[i + 2], function, "high")?);
            Ok(i + 3)
        }
        _ => exec_err!(
            "{function}: expected an axis (bins, low, high) or (edges) at argument {}",
            i + 1
        ),
    }
}

/// Coerces the optional trailing weight at `i`; errors on extra arguments.
pub(crate) fn coerce_weight(
    types: &[DataType],
    i: usize,
    out: &mut Vec<DataType>,
    function: &str,
    usage: &str,
) -> Result<()> {
    match types.len().checked_sub(i) {
        Some(0) => Ok(()),
        Some(1) => {
            out.push(coerce_float(&types[i], function, "the weight")?);
            Ok(())
        }
        _ => exec_err!(
            "{function}: wrong number of arguments ({}); usage: {usage}",
            types.len()
        ),
    }
}

/// The weight argument index, if `args` has one after `next`.
pub(crate) fn weight_arg(args: &AccumulatorArgs<'_>, next: usize) -> Option<usize> {
    (args.exprs.len() > next).then_some(next)
}

const USAGE: &str = "hist(x, bins, low, high [, weight]) or hist(x, edges [, weight])";

/// The `hist` aggregate.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = r#"Fills a one-dimensional histogram per group and returns it as a [UHI](https://uhi.readthedocs.io/) JSON document (`uhi_schema: 1`, an `arrow.json` text column) that `hist.Hist(...)` and boost-histogram load unchanged.

Binning follows boost-histogram exactly: bins are `[low, high)`; values below `low` and `-inf` go to the underflow bin, values `>= high`, `+inf` and `NaN` to the overflow bin. When `x` is a list column every element is filled (so `hist(Jet_pt, …)` histograms all jets). NULL values and NULL list elements are skipped. Without a weight the storage is `int` (counts); with a weight it is `weighted` (sum of weights and sum of squared weights); a row whose weight is NULL, NaN or infinite is skipped, so that every document is valid JSON. A group without values gives an empty histogram (all bins 0). The axis is named after `x` when `x` is a column."#,
    syntax_example = "hist(x, bins, low, high [, weight])",
    sql_example = r#"```sql
> SELECT hist_values(hist(x, 4, 0, 2)) FROM (VALUES (0.1), (0.6), (1.9), (2.0)) AS t(x);
[1.0, 1.0, 0.0, 1.0]
```"#,
    argument(
        name = "x",
        description = "The values: a number, or a list of numbers per row (all elements are filled)."
    ),
    argument(
        name = "bins",
        description = "Number of equal bins (a constant integer)."
    ),
    argument(
        name = "low",
        description = "Lower edge of the first bin (a constant)."
    ),
    argument(
        name = "high",
        description = "Upper edge of the last bin, excluded (a constant)."
    ),
    argument(
        name = "edges",
        description = "Instead of bins/low/high: a constant array of strictly increasing edges, e.g. `[0, 10, 20, 50, 100]` (variable axis)."
    ),
    argument(
        name = "weight",
        description = "Optional weight per row (every list element of the row gets it)."
    ),
    alternative_syntax = "hist(x, edges [, weight])",
    related_udf(name = "hist_values"),
    related_udf(name = "hist2d"),
    related_udf(name = "hist_merge")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Hist {
    signature: Signature,
}

impl Default for Hist {
    fn default() -> Self {
        Self::new()
    }
}

impl Hist {
    /// The `hist` aggregate.
    pub fn new() -> Self {
        Hist {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn spec(&self, args: &AccumulatorArgs<'_>) -> Result<Arc<FillSpec>> {
        let (axis, next) = axis_from_args(args, 1, "hist", 0)?;
        Ok(Arc::new(FillSpec {
            function: "hist",
            layout: Layout::OneD,
            axes: vec![axis],
            weight: weight_arg(args, next),
        }))
    }
}

impl AggregateUDFImpl for Hist {
    fn name(&self) -> &str {
        "hist"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let Some(x) = types.first() else {
            return exec_err!("hist: no arguments; usage: {USAGE}");
        };
        let mut out = vec![coerce_values(x, "hist", "x")?];
        let next = coerce_axis(types, 1, &mut out, "hist")?;
        coerce_weight(types, next, &mut out, "hist", USAGE)?;
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field(&self, _arg_fields: &[FieldRef]) -> Result<FieldRef> {
        Ok(json_field(self.name()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(FillAccumulator::try_new(self.spec(&args)?)?))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(state_fields(args.name))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(FillGroupsAccumulator::try_new(self.spec(&args)?)?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
