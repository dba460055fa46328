//! `hist_merge(h)` (aggregate: the bin-by-bin sum of histogram documents) and
//! `hist_add(h1, h2)` (scalar: the sum of two).

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, Documentation, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::accessors::{coerce_documents, document_arrays, finish};
use super::aggregate::{MergeAccumulator, json_field, state_fields};
use super::histogram::Histogram;

/// The `hist_merge` aggregate.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = r#"Sums histogram documents bin by bin, e.g. per-run histograms stored in a table, and returns the sum as a UHI JSON document. All histograms must have the same axes (the error names both); category axes are merged by taking the union of their categories. Unweighted and weighted histograms may be mixed (the sum is weighted). NULL documents are skipped; a group of only NULLs gives NULL."#,
    syntax_example = "hist_merge(h)",
    sql_example = r#"```sql
> SELECT hist_values(hist_merge(h)) FROM (SELECT run, hist(x, 2, 0, 2) AS h FROM (VALUES (1, 0.5), (2, 1.5), (2, 0.2)) AS t(run, x) GROUP BY run);
[2.0, 1.0]
```"#,
    argument(
        name = "h",
        description = "A histogram: a UHI JSON document (from `hist`, or written by hist/boost-histogram)."
    ),
    related_udf(name = "hist_add"),
    related_udf(name = "hist")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistMerge {
    signature: Signature,
}

impl Default for HistMerge {
    fn default() -> Self {
        Self::new()
    }
}

impl HistMerge {
    /// The `hist_merge` aggregate.
    pub fn new() -> Self {
        HistMerge {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for HistMerge {
    fn name(&self) -> &str {
        "hist_merge"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        if types.len() != 1 {
            return exec_err!("hist_merge: expected one argument, got {}", types.len());
        }
        coerce_documents(types, "hist_merge")
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field(&self, _arg_fields: &[FieldRef]) -> Result<FieldRef> {
        Ok(json_field(self.name()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(MergeAccumulator::new("hist_merge")))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `hist_add` scalar function.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = r#"The bin-by-bin sum of two histogram documents with the same axes (the error names both axes otherwise), as a UHI JSON document. NULL if either is NULL."#,
    syntax_example = "hist_add(h1, h2)",
    sql_example = r#"```sql
> SELECT hist_values(hist_add(a, b)) FROM (SELECT hist(x, 2, 0, 2) AS a, hist(x + 1, 2, 0, 2) AS b FROM (VALUES (0.5)) AS t(x));
[1.0, 1.0]
```"#,
    argument(name = "h1", description = "A histogram (UHI JSON document)."),
    argument(name = "h2", description = "A histogram with the same axes."),
    related_udf(name = "hist_merge")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistAdd {
    signature: Signature,
}

impl Default for HistAdd {
    fn default() -> Self {
        Self::new()
    }
}

impl HistAdd {
    /// The `hist_add` function.
    pub fn new() -> Self {
        HistAdd {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for HistAdd {
    fn name(&self) -> &str {
        "hist_add"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        if types.len() != 2 {
            return exec_err!("hist_add: expected two arguments, got {}", types.len());
        }
        coerce_documents(types, "hist_add")
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(json_field(self.name()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = document_arrays(&args, "hist_add")?;
        let (Some(a), Some(b)) = (arrays.first(), arrays.get(1)) else {
            return exec_err!("hist_add: expected two arguments");
        };
        let out = a
            .iter()
            .zip(b.iter())
            .map(|pair| match pair {
                (Some(x), Some(y)) => {
                    let mut h = Histogram::from_uhi_json(x, "hist_add")?;
                    h.add(&Histogram::from_uhi_json(y, "hist_add")?, "hist_add")?;
                    h.sort_categories();
                    Ok(Some(h.to_uhi_json()))
                }
                _ => Ok(None),
            })
            .collect::<Result<StringArray>>()?;
        finish(Arc::new(out), scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
