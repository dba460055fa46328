//! The table function `hist_bins(h)`: one row per bin of a one-dimensional histogram,
//! `(bin, low, high, value, variance)`, for BI tools that want a table.
//!
//! Bin 0 is the underflow bin (`low = -inf`), bins `1..=n` are the regular bins and bin
//! `n + 1` is the overflow bin (`high = +inf`; it also holds NaN). `h` is a constant document
//! or a scalar subquery that returns one, e.g.
//! `SELECT * FROM hist_bins((SELECT hist(x, 10, 0, 1) FROM t))`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion_macros::user_doc;

use super::histogram::Histogram;

const NAME: &str = "hist_bins";

/// The `hist_bins` table function.
#[user_doc(
    doc_section(label = "Histogram Functions"),
    description = "A table with one row per bin of a one-dimensional histogram, for BI tools and joins: `bin` (0 is the underflow bin, 1..n the regular bins, n + 1 the overflow bin, which also holds NaN), `low` and `high` (the bin's edges, ±inf for the flow bins), `value` (count or sum of weights) and `variance`. A category axis, or more than one axis, is an error.",
    syntax_example = "SELECT * FROM hist_bins(h)",
    sql_example = r#"```sql
> SELECT bin, low, high, value FROM hist_bins((SELECT hist(x, 2, 0, 2) FROM (VALUES (0.5), (1.5), (1.7), (9.0)) AS t(x)));
+-----+------+------+-------+
| bin | low  | high | value |
+-----+------+------+-------+
| 0   | -inf | 0.0  | 0.0   |
| 1   | 0.0  | 1.0  | 1.0   |
| 2   | 1.0  | 2.0  | 2.0   |
| 3   | 2.0  | inf  | 1.0   |
+-----+------+------+-------+
```"#,
    argument(
        name = "h",
        description = "A histogram (UHI JSON document): a text constant, or a scalar subquery that returns one row such as `(SELECT hist(x, 10, 0, 1) FROM t)`."
    )
)]
#[derive(Debug, Default)]
pub struct HistBins;

/// `hist_bins`' documentation (its `#[user_doc]`), for the SQL reference.
pub fn documentation() -> Option<&'static datafusion_doc::Documentation> {
    static HIST_BINS: HistBins = HistBins;
    HIST_BINS.doc()
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("bin", DataType::Int64, false),
        Field::new("low", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("variance", DataType::Float64, false),
    ]))
}

/// The rows of `text`'s bins.
pub fn bin_rows(text: &str) -> Result<RecordBatch> {
    let hist = Histogram::from_uhi_json(text, NAME)?;
    let [axis] = hist.axes.as_slice() else {
        return exec_err!(
            "{NAME}: a one-dimensional histogram was expected, got {} axes",
            hist.axes.len()
        );
    };
    let Some(edges) = axis.edges() else {
        return exec_err!("{NAME}: the axis is a category axis");
    };
    let (mut bin, mut low, mut high, mut value, mut variance) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let variances = hist.bin_variances();
    let n = edges.len() - 1;
    let mut slot = 0usize;
    let mut push = |b: i64, lo: f64, hi: f64, slot: usize| {
        bin.push(b);
        low.push(lo);
        high.push(hi);
        value.push(hist.values.get(slot).copied().unwrap_or(0.0));
        variance.push(variances.get(slot).copied().unwrap_or(0.0));
    };
    if axis.underflow {
        push(
            0,
            f64::NEG_INFINITY,
            edges.first().copied().unwrap_or(f64::NAN),
            slot,
        );
        slot += 1;
    }
    for (i, w) in edges.windows(2).enumerate() {
        push(i as i64 + 1, w[0], w[1], slot);
        slot += 1;
    }
    if axis.overflow {
        push(
            n as i64 + 1,
            edges.last().copied().unwrap_or(f64::NAN),
            f64::INFINITY,
            slot,
        );
    }
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(bin)),
            Arc::new(Float64Array::from(low)),
            Arc::new(Float64Array::from(high)),
            Arc::new(Float64Array::from(value)),
            Arc::new(Float64Array::from(variance)),
        ],
    )?)
}

impl TableFunctionImpl for HistBins {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let source = match args.exprs() {
            [
                Expr::Literal(
                    ScalarValue::Utf8(Some(s))
                    | ScalarValue::LargeUtf8(Some(s))
                    | ScalarValue::Utf8View(Some(s)),
                    _,
                ),
            ] => Source::Rows(bin_rows(s)?),
            [Expr::ScalarSubquery(subquery)] => Source::Query(Arc::clone(&subquery.subquery)),
            _ => {
                return plan_err!(
                    "{NAME}: expected one histogram: a text constant or a scalar subquery such as hist_bins((SELECT hist(x, 10, 0, 1) FROM t))"
                );
            }
        };
        Ok(Arc::new(BinsTable { source }))
    }
}

#[derive(Debug)]
enum Source {
    Rows(RecordBatch),
    Query(Arc<LogicalPlan>),
}

/// The bins of one histogram, computed at scan time when they come from a subquery.
#[derive(Debug)]
struct BinsTable {
    source: Source,
}

#[async_trait]
impl TableProvider for BinsTable {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = match &self.source {
            Source::Rows(batch) => batch.clone(),
            Source::Query(plan) => {
                let physical = state.create_physical_plan(plan).await?;
                let batches = collect(physical, state.task_ctx()).await?;
                let mut docs = Vec::new();
                for b in &batches {
                    let Some(column) = b.columns().first() else {
                        return exec_err!("{NAME}: the subquery returned no column");
                    };
                    let Some(text) = column.as_string_opt::<i32>() else {
                        return exec_err!(
                            "{NAME}: the subquery must return a histogram (text), got {}",
                            column.data_type()
                        );
                    };
                    docs.extend(text.iter().map(|d| d.map(str::to_string)));
                }
                match docs.as_slice() {
                    [Some(doc)] => bin_rows(doc)?,
                    [None] => RecordBatch::new_empty(schema()),
                    _ => {
                        return exec_err!(
                            "{NAME}: the subquery must return exactly one row, got {}",
                            docs.len()
                        );
                    }
                }
            }
        };
        let exec: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&[vec![batch]], schema(), projection.cloned())?;
        Ok(exec)
    }
}
