//! `hist_cat(category, x, bins, low, high [, weight])`: one histogram with a growing category
//! axis (text or integers) in front of a numeric axis.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::aggregate::{
    FillAccumulator, FillSpec, Layout, axis_from_args, coerce_category, coerce_values,
    column_label, json_field, state_fields,
};
use super::hist1d::{coerce_axis, coerce_weight, weight_arg};
use super::histogram::Axis;

const USAGE: &str =
    "hist_cat(category, x, bins, low, high [, weight]) or hist_cat(category, x, edges [, weight])";

/// The `hist_cat` aggregate.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = r#"Fills one histogram with a category axis (first) and a numeric axis (second), and returns it as a UHI JSON document: `category_str` for a text category, `category_int` for an integer one. The categories are those seen in the data (a growing axis without a flow bin), sorted. Binning of `x`, weights and NULL handling are those of `hist`; a row whose category is NULL is skipped."#,
    syntax_example = "hist_cat(category, x, bins, low, high [, weight])",
    sql_example = r#"```sql
> SELECT hist_values(hist_cat(c, x, 2, 0, 2)) FROM (VALUES ('b', 0.5), ('a', 1.5), ('b', 1.0)) AS t(c, x);
[0.0, 1.0, 1.0, 1.0]
```"#,
    argument(name = "category", description = "The category: text or an integer."),
    argument(
        name = "x",
        description = "The values: a number or a list of numbers per row."
    ),
    argument(
        name = "bins, low, high",
        description = "The regular numeric axis (or one `edges` array)."
    ),
    argument(name = "weight", description = "Optional weight per row."),
    alternative_syntax = "hist_cat(category, x, edges [, weight])",
    related_udf(name = "hist")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistCat {
    signature: Signature,
}

impl Default for HistCat {
    fn default() -> Self {
        Self::new()
    }
}

impl HistCat {
    /// The `hist_cat` aggregate.
    pub fn new() -> Self {
        HistCat {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn spec(&self, args: &AccumulatorArgs<'_>) -> Result<Arc<FillSpec>> {
        let category = match args.expr_fields.first().map(|f| f.data_type()) {
            Some(DataType::Int64) => Axis::int_category(),
            _ => Axis::str_category(),
        }
        .with_label(column_label(args.exprs, 0));
        let (axis, next) = axis_from_args(args, 2, "hist_cat", 1)?;
        Ok(Arc::new(FillSpec {
            function: "hist_cat",
            layout: Layout::Category,
            axes: vec![category, axis],
            weight: weight_arg(args, next),
        }))
    }
}

impl AggregateUDFImpl for HistCat {
    fn name(&self) -> &str {
        "hist_cat"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let (Some(c), Some(x)) = (types.first(), types.get(1)) else {
            return exec_err!("hist_cat: too few arguments; usage: {USAGE}");
        };
        let mut out = vec![
            coerce_category(c, "hist_cat")?,
            coerce_values(x, "hist_cat", "x")?,
        ];
        let next = coerce_axis(types, 2, &mut out, "hist_cat")?;
        coerce_weight(types, next, &mut out, "hist_cat", USAGE)?;
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

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
