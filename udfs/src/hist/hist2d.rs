//! `hist2d(x, y, xbins, xlow, xhigh, ybins, ylow, yhigh [, weight])`: a two-dimensional
//! histogram per group (each axis may instead be given by an edges array).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, GroupsAccumulator, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::aggregate::{
    FillAccumulator, FillGroupsAccumulator, FillSpec, Layout, axis_from_args, coerce_values,
    json_field, state_fields,
};
use super::hist1d::{coerce_axis, coerce_weight, weight_arg};

const USAGE: &str = "hist2d(x, y, xbins, xlow, xhigh, ybins, ylow, yhigh [, weight]) \
                     or hist2d(x, y, xedges, yedges [, weight])";

/// The `hist2d` aggregate.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = r#"Fills a two-dimensional histogram per group (x is the first axis, y the second) and returns it as a UHI JSON document. Binning, weights and NULL handling are those of `hist`. `x` and `y` are both numbers, or both lists of the same length per row (paired element by element), or a list and a number (the number is paired with every element); lists of different lengths are an error. Either axis may be given by an edges array instead of bins/low/high."#,
    syntax_example = "hist2d(x, y, xbins, xlow, xhigh, ybins, ylow, yhigh [, weight])",
    sql_example = r#"```sql
> SELECT hist_values(hist2d(x, y, 2, 0, 2, 2, 0, 2)) FROM (VALUES (0.5, 1.5), (1.5, 1.5)) AS t(x, y);
[0.0, 1.0, 0.0, 1.0]
```"#,
    argument(
        name = "x",
        description = "First-axis values: a number or a list of numbers."
    ),
    argument(
        name = "y",
        description = "Second-axis values: a number or a list of numbers."
    ),
    argument(
        name = "xbins, xlow, xhigh",
        description = "The regular first axis (or one `xedges` array)."
    ),
    argument(
        name = "ybins, ylow, yhigh",
        description = "The regular second axis (or one `yedges` array)."
    ),
    argument(name = "weight", description = "Optional weight per row."),
    alternative_syntax = "hist2d(x, y, xedges, yedges [, weight])",
    related_udf(name = "hist")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Hist2d {
    signature: Signature,
}

impl Default for Hist2d {
    fn default() -> Self {
        Self::new()
    }
}

impl Hist2d {
    /// The `hist2d` aggregate.
    pub fn new() -> Self {
        Hist2d {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn spec(&self, args: &AccumulatorArgs<'_>) -> Result<Arc<FillSpec>> {
        let (ax, next) = axis_from_args(args, 2, "hist2d", 0)?;
        let (ay, next) = axis_from_args(args, next, "hist2d", 1)?;
        Ok(Arc::new(FillSpec {
            function: "hist2d",
            layout: Layout::TwoD,
            axes: vec![ax, ay],
            weight: weight_arg(args, next),
        }))
    }
}

impl AggregateUDFImpl for Hist2d {
    fn name(&self) -> &str {
        "hist2d"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let (Some(x), Some(y)) = (types.first(), types.get(1)) else {
            return exec_err!("hist2d: too few arguments; usage: {USAGE}");
        };
        let mut out = vec![
            coerce_values(x, "hist2d", "x")?,
            coerce_values(y, "hist2d", "y")?,
        ];
        let next = coerce_axis(types, 2, &mut out, "hist2d")?;
        let next = coerce_axis(types, next, &mut out, "hist2d")?;
        coerce_weight(types, next, &mut out, "hist2d", USAGE)?;
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
