//! Histogram aggregates (`hist`, `hist2d`, `hist_cat`, `hist_merge`) whose result is a UHI
//! document, the scalar functions that read or combine such documents (`hist_values`,
//! `hist_add`, …) and the table function `hist_bins`.
//!
//! # Representation
//! The result of every histogram-valued function is a Utf8 column marked with Arrow's canonical
//! JSON extension type (`ARROW:extension:name = arrow.json`). Each value is one UHI document
//! (`uhi_schema: 1`, <https://uhi.readthedocs.io/>) that `hist.Hist(...)` and boost-histogram
//! load unchanged: regular, variable or category axes with their flow bins, `int` storage for
//! unweighted fills and `weighted` storage (sums of weights and of squared weights) otherwise.
//! The axis is named and labelled after the column it was filled from; `writer_info` is
//! `{"hepq": {"version": …}}`. Partial aggregation states are compact (a binary axis
//! description plus the bins as `List<Float64>`) and merge bin by bin; the document is
//! produced only at the end.
//!
//! # NaN and infinities
//! JSON (and therefore the UHI schema, whose bin contents are JSON numbers) has no NaN or
//! infinity. Values of `x` that are NaN or ±inf are binned like boost-histogram does (NaN and
//! +inf in the overflow bin, -inf in the underflow bin), so counts stay finite. A row whose
//! *weight* is NaN or ±inf is skipped (like a NULL weight) so that no bin becomes non-finite;
//! should a sum of finite weights still overflow, it is written as `null`, and read back as
//! NaN. Axis limits and edges must be finite.
//!
//! Modules: [`histogram`] (the histogram value, binning, state and UHI codec), [`fill`] (the fill
//! kernels), [`aggregate`] (accumulators), one module per function or family.

pub mod accessors;
pub mod aggregate;
pub mod ascii;
pub mod bins;
pub mod fill;
pub mod hist1d;
pub mod hist2d;
pub mod hist_cat;
pub mod histogram;
pub mod merge;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// The histogram aggregates.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::from(hist1d::Hist::new())),
        Arc::new(AggregateUDF::from(hist2d::Hist2d::new())),
        Arc::new(AggregateUDF::from(hist_cat::HistCat::new())),
        Arc::new(AggregateUDF::from(merge::HistMerge::new())),
    ]
}

/// The scalar functions over histogram documents.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(merge::HistAdd::new())),
        Arc::new(ScalarUDF::from(accessors::HistValues::new())),
        Arc::new(ScalarUDF::from(accessors::HistVariances::new())),
        Arc::new(ScalarUDF::from(accessors::HistEdges::new())),
        Arc::new(ScalarUDF::from(accessors::HistSum::new())),
        Arc::new(ScalarUDF::from(accessors::HistMean::new())),
        Arc::new(ScalarUDF::from(accessors::HistStd::new())),
        Arc::new(ScalarUDF::from(accessors::HistAscii::new())),
    ]
}

/// The histogram table functions (name, implementation).
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![(
        "hist_bins",
        Arc::new(bins::HistBins) as Arc<dyn TableFunctionImpl>,
    )]
}

/// The table functions' documentation, for the SQL reference: (name, documentation).
pub fn table_function_docs() -> Vec<(
    &'static str,
    &'static datafusion::logical_expr::Documentation,
)> {
    bins::documentation()
        .map(|doc| ("hist_bins", doc))
        .into_iter()
        .collect()
}
