//! Scalar functions that read histogram documents: `hist_values`, `hist_variances`,
//! `hist_edges`, `hist_sum`, `hist_mean`, `hist_std` and `hist_ascii`.
//!
//! Each takes a UHI JSON document (from `hist` or written by hist/boost-histogram) and gives
//! NULL for a NULL document. Flow bins are left out unless asked for.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, AsArray, Float64Array, Float64Builder, ListBuilder, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::ascii::render_ascii;
use super::histogram::{Axis, AxisKind, Histogram};

/// Coerces text arguments (documents) to Utf8.
pub fn coerce_documents(types: &[DataType], function: &str) -> Result<Vec<DataType>> {
    types
        .iter()
        .map(|t| match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                Ok(DataType::Utf8)
            }
            other => exec_err!("{function}: a histogram (UHI JSON text) was expected, got {other}"),
        })
        .collect()
}

/// The document arguments as Utf8 arrays, and whether all arguments were scalars.
pub fn document_arrays(
    args: &ScalarFunctionArgs,
    function: &str,
) -> Result<(Vec<StringArray>, bool)> {
    let scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let docs = arrays
        .iter()
        .map(|a| match a.as_string_opt::<i32>() {
            Some(s) => Ok(s.clone()),
            None => exec_err!(
                "{function}: a histogram (UHI JSON text) was expected, got {}",
                a.data_type()
            ),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((docs, scalar))
}

/// Returns `array` as a column, or as a scalar when every input was one.
pub fn finish(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar && array.len() == 1 {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// `data` restricted to the bins without (`flow == false`) or with flow bins, C order.
pub fn select_bins(hist: &Histogram, data: &[f64], flow: bool) -> Vec<f64> {
    if flow {
        return data.to_vec();
    }
    let ranges: Vec<(usize, usize, usize)> = hist
        .axes
        .iter()
        .map(|a| {
            let start = usize::from(a.underflow);
            (start, start + a.bins(), a.extent())
        })
        .collect();
    let mut out = Vec::new();
    collect(data, &ranges, &mut out);
    out
}

fn collect(data: &[f64], ranges: &[(usize, usize, usize)], out: &mut Vec<f64>) {
    let Some((&(start, end, _), rest)) = ranges.split_first() else {
        return;
    };
    let inner: usize = rest.iter().map(|r| r.2).product();
    for i in start..end {
        let chunk = data.get(i * inner..(i + 1) * inner).unwrap_or_default();
        if rest.is_empty() {
            out.extend_from_slice(chunk);
        } else {
            collect(chunk, rest, out);
        }
    }
}

/// The only axis of a one-dimensional histogram.
fn only_axis<'a>(hist: &'a Histogram, function: &str) -> Result<&'a Axis> {
    match hist.axes.as_slice() {
        [axis] => Ok(axis),
        axes => exec_err!(
            "{function}: a one-dimensional histogram was expected, got {} axes",
            axes.len()
        ),
    }
}

/// Inner-bin centers and values of a one-dimensional numeric histogram.
fn centers_and_values(hist: &Histogram, function: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let axis = only_axis(hist, function)?;
    let Some(edges) = axis.edges() else {
        return exec_err!("{function}: the axis is a category axis");
    };
    let centers = edges.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    Ok((centers, select_bins(hist, &hist.values, false)))
}

/// Weighted mean of the bin centers (NULL when the histogram is empty).
fn mean(hist: &Histogram, function: &str) -> Result<Option<f64>> {
    let (centers, values) = centers_and_values(hist, function)?;
    let total: f64 = values.iter().sum();
    if total == 0.0 {
        return Ok(None);
    }
    Ok(Some(
        centers.iter().zip(&values).map(|(c, v)| c * v).sum::<f64>() / total,
    ))
}

/// Standard deviation of the bin centers weighted by the bin contents.
fn std_dev(hist: &Histogram, function: &str) -> Result<Option<f64>> {
    let Some(m) = mean(hist, function)? else {
        return Ok(None);
    };
    let (centers, values) = centers_and_values(hist, function)?;
    let total: f64 = values.iter().sum();
    let var = centers
        .iter()
        .zip(&values)
        .map(|(c, v)| v * (c - m) * (c - m))
        .sum::<f64>()
        / total;
    Ok(Some(var.max(0.0).sqrt()))
}

/// What an accessor returns for one document.
enum Out {
    List(Vec<f64>),
    Number(Option<f64>),
    Text(String),
}

/// The optional second argument, which must be a constant.
fn option_arg(args: &ScalarFunctionArgs, function: &str) -> Result<Option<ScalarValue>> {
    match args.args.get(1) {
        None => Ok(None),
        Some(ColumnarValue::Scalar(v)) if !v.is_null() => Ok(Some(v.clone())),
        Some(_) => exec_err!("{function}: the second argument must be a non-NULL constant"),
    }
}

fn flow_option(option: Option<&ScalarValue>) -> bool {
    matches!(option, Some(ScalarValue::Boolean(Some(true))))
}

/// Runs `compute` on every document of the first argument.
fn run_accessor(
    args: &ScalarFunctionArgs,
    function: &str,
    returns: &DataType,
    compute: fn(&Histogram, Option<&ScalarValue>, &str) -> Result<Out>,
) -> Result<ColumnarValue> {
    let scalar = matches!(args.args.first(), Some(ColumnarValue::Scalar(_)));
    let option = option_arg(args, function)?;
    let Some(first) = args.args.first() else {
        return exec_err!("{function}: missing argument");
    };
    let docs = first.to_array(args.number_rows)?;
    let Some(docs) = docs.as_string_opt::<i32>() else {
        return exec_err!("{function}: a histogram (UHI JSON text) was expected");
    };
    let mut results = Vec::with_capacity(datafusion::arrow::array::Array::len(docs));
    for doc in docs.iter() {
        results.push(match doc {
            None => None,
            Some(text) => {
                let hist = Histogram::from_uhi_json(text, function)?;
                Some(compute(&hist, option.as_ref(), function)?)
            }
        });
    }
    let array: ArrayRef = match returns {
        DataType::List(_) => {
            let mut builder = ListBuilder::new(Float64Builder::new());
            for r in results {
                match r {
                    Some(Out::List(v)) => {
                        builder.values().append_slice(&v);
                        builder.append(true);
                    }
                    _ => builder.append(false),
                }
            }
            Arc::new(builder.finish())
        }
        DataType::Float64 => Arc::new(
            results
                .into_iter()
                .map(|r| match r {
                    Some(Out::Number(v)) => v,
                    _ => None,
                })
                .collect::<Float64Array>(),
        ),
        _ => Arc::new(
            results
                .into_iter()
                .map(|r| match r {
                    Some(Out::Text(s)) => Some(s),
                    _ => None,
                })
                .collect::<StringArray>(),
        ),
    };
    finish(array, scalar)
}

fn list_of_f64() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// Implements [`ScalarUDFImpl`] for an accessor struct.
macro_rules! accessor {
    ($ty:ident, $name:literal, $returns:expr, $option:expr, $compute:expr) => {
        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $ty {
            #[doc = concat!("The `", $name, "` function.")]
            pub fn new() -> Self {
                $ty {
                    signature: Signature::user_defined(Volatility::Immutable),
                }
            }
        }

        impl ScalarUDFImpl for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn signature(&self) -> &Signature {
                &self.signature
            }

            fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
                let option: Option<DataType> = $option;
                match (types, option) {
                    ([h], _) => coerce_documents(std::slice::from_ref(h), $name),
                    ([h, _], Some(t)) => {
                        let mut out = coerce_documents(std::slice::from_ref(h), $name)?;
                        out.push(t);
                        Ok(out)
                    }
                    _ => exec_err!("{}: wrong number of arguments ({})", $name, types.len()),
                }
            }

            fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
                Ok($returns)
            }

            fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
                run_accessor(&args, $name, &$returns, $compute)
            }

            fn documentation(&self) -> Option<&Documentation> {
                self.doc()
            }
        }
    };
}

/// `hist_values`.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "The bin contents of a histogram (counts, or sums of weights) as an array, without the flow bins unless `flow` is true. A multi-dimensional histogram gives its bins flattened in C order (last axis fastest).",
    syntax_example = "hist_values(h [, flow])",
    sql_example = r#"```sql
> SELECT hist_values(hist(x, 2, 0, 2), true) FROM (VALUES (-1.0), (0.5), (5.0)) AS t(x);
[1.0, 1.0, 0.0, 1.0]
```"#,
    argument(name = "h", description = "A histogram (UHI JSON document)."),
    argument(
        name = "flow",
        description = "Include the underflow/overflow bins (default false)."
    ),
    related_udf(name = "hist_variances")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistValues {
    signature: Signature,
}
accessor!(
    HistValues,
    "hist_values",
    list_of_f64(),
    Some(DataType::Boolean),
    |h, o, _| { Ok(Out::List(select_bins(h, &h.values, flow_option(o)))) }
);

/// `hist_variances`.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "The variance of every bin as an array: the sum of squared weights for a weighted histogram, the counts (Poisson) otherwise — as boost-histogram's `variances()`. Flow bins as in `hist_values`.",
    syntax_example = "hist_variances(h [, flow])",
    sql_example = r#"```sql
> SELECT hist_variances(hist(x, 2, 0, 2, w)) FROM (VALUES (0.5, 2.0), (0.7, 3.0)) AS t(x, w);
[13.0, 0.0]
```"#,
    argument(name = "h", description = "A histogram (UHI JSON document)."),
    argument(
        name = "flow",
        description = "Include the underflow/overflow bins (default false)."
    ),
    related_udf(name = "hist_values")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistVariances {
    signature: Signature,
}
accessor!(
    HistVariances,
    "hist_variances",
    list_of_f64(),
    Some(DataType::Boolean),
    |h, o, _| { Ok(Out::List(select_bins(h, h.bin_variances(), flow_option(o)))) }
);

/// `hist_edges`.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "The bin edges of a histogram's numeric axis (`bins + 1` numbers, computed as boost-histogram does). `axis` picks the axis of a multi-dimensional histogram (1-based, default 1); a category axis is an error.",
    syntax_example = "hist_edges(h [, axis])",
    sql_example = r#"```sql
> SELECT hist_edges(hist(x, 4, 0, 2)) FROM (VALUES (1.0)) AS t(x);
[0.0, 0.5, 1.0, 1.5, 2.0]
```"#,
    argument(name = "h", description = "A histogram (UHI JSON document)."),
    argument(name = "axis", description = "Which axis, 1-based (default 1).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistEdges {
    signature: Signature,
}
accessor!(
    HistEdges,
    "hist_edges",
    list_of_f64(),
    Some(DataType::Int64),
    |h, o, f| {
        let index = match o {
            Some(ScalarValue::Int64(Some(i))) => *i,
            _ => 1,
        };
        let Some(axis) = index
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| h.axes.get(i))
        else {
            return exec_err!(
                "{f}: there is no axis {index} (the histogram has {})",
                h.axes.len()
            );
        };
        match &axis.kind {
            AxisKind::Regular { .. } | AxisKind::Variable { .. } => {
                Ok(Out::List(axis.edges().unwrap_or_default()))
            }
            _ => exec_err!("{f}: axis {index} is a category axis and has no edges"),
        }
    }
);

/// `hist_sum`.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "The sum of the bin contents, without the flow bins unless `flow` is true (boost-histogram's `sum()`).",
    syntax_example = "hist_sum(h [, flow])",
    sql_example = r#"```sql
> SELECT hist_sum(hist(x, 2, 0, 2)), hist_sum(hist(x, 2, 0, 2), true) FROM (VALUES (0.5), (9.0)) AS t(x);
1.0	2.0
```"#,
    argument(name = "h", description = "A histogram (UHI JSON document)."),
    argument(
        name = "flow",
        description = "Include the underflow/overflow bins (default false)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistSum {
    signature: Signature,
}
accessor!(
    HistSum,
    "hist_sum",
    DataType::Float64,
    Some(DataType::Boolean),
    |h, o, _| {
        Ok(Out::Number(Some(
            select_bins(h, &h.values, flow_option(o)).iter().sum(),
        )))
    }
);

/// `hist_mean`.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "The mean of a one-dimensional numeric histogram computed from its bins: the bin centers weighted by the bin contents, flow bins excluded (as ROOT's `TH1::GetMean`). NULL for an empty histogram.",
    syntax_example = "hist_mean(h)",
    sql_example = r#"```sql
> SELECT hist_mean(hist(x, 2, 0, 2)) FROM (VALUES (0.2), (1.2), (1.7)) AS t(x);
1.1666666666666667
```"#,
    argument(
        name = "h",
        description = "A one-dimensional histogram (UHI JSON document)."
    ),
    related_udf(name = "hist_std")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistMean {
    signature: Signature,
}
accessor!(HistMean, "hist_mean", DataType::Float64, None, |h, _, f| {
    Ok(Out::Number(mean(h, f)?))
});

/// `hist_std`.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "The standard deviation of a one-dimensional numeric histogram computed from its bins (population form: the bin centers weighted by the bin contents, divided by their sum; flow bins excluded, as ROOT's `TH1::GetStdDev`). NULL for an empty histogram.",
    syntax_example = "hist_std(h)",
    sql_example = r#"```sql
> SELECT hist_std(hist(x, 2, 0, 2)) FROM (VALUES (0.2), (1.2)) AS t(x);
0.5
```"#,
    argument(
        name = "h",
        description = "A one-dimensional histogram (UHI JSON document)."
    ),
    related_udf(name = "hist_mean")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistStd {
    signature: Signature,
}
accessor!(HistStd, "hist_std", DataType::Float64, None, |h, _, f| {
    Ok(Out::Number(std_dev(h, f)?))
});

/// `hist_ascii`.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "A multi-line text bar chart of a one-dimensional histogram, one line per bin (`[low, high)`, a bar scaled to `width` characters, the content), with lines for non-empty underflow/overflow bins. For psql and the CLI.",
    syntax_example = "hist_ascii(h [, width])",
    sql_example = r#"```sql
> SELECT hist_ascii(hist(x, 2, 0, 2), 10) FROM (VALUES (0.5), (1.5), (1.2)) AS t(x);
[0, 1) █████      1
[1, 2) ██████████ 2
```"#,
    argument(
        name = "h",
        description = "A one-dimensional histogram (UHI JSON document)."
    ),
    argument(
        name = "width",
        description = "Width of the longest bar in characters (default 40)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistAscii {
    signature: Signature,
}
accessor!(
    HistAscii,
    "hist_ascii",
    DataType::Utf8,
    Some(DataType::Int64),
    |h, o, f| {
        let width = match o {
            Some(ScalarValue::Int64(Some(w))) => *w,
            _ => 40,
        };
        if !(1..=1000).contains(&width) {
            return exec_err!("{f}: the width must be between 1 and 1000, got {width}");
        }
        Ok(Out::Text(render_ascii(h, width as usize, f)?))
    }
);
