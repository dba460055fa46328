//! `read_rntuple('path' [, 'name'])`: the RNTuples of a ROOT file, folder, glob or URL as a
//! table in a query,
//! without `CREATE EXTERNAL TABLE`.
//!
//! ```sql
//! SELECT count(*) FROM read_rntuple('data/nano_rntuple.root', 'Events');
//! ```
//!
//! It resolves the location exactly as `CREATE EXTERNAL TABLE … STORED AS RNTUPLE` does (Hive
//! partitions, object stores, schema merged across files).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::{
    TableFunctionArgs, TableFunctionImpl, TableProvider, TableProviderFactory,
};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{CreateExternalTable, Expr};
use tokio::runtime::Handle;

use crate::hive::HiveTableFactory;

/// The `read_rntuple` table function.
#[derive(Debug, Default)]
pub struct ReadRNTuple;

impl TableFunctionImpl for ReadRNTuple {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        let (location, ntuple) = match exprs {
            [location] => (string_arg(location, "path")?, None),
            [location, ntuple] => (
                string_arg(location, "path")?,
                Some(string_arg(ntuple, "RNTuple name")?),
            ),
            _ => {
                return plan_err!(
                    "read_rntuple takes a path and an optional RNTuple name: read_rntuple('file.root' [, 'Events'])"
                );
            }
        };
        let mut options = HashMap::new();
        if let Some(ntuple) = ntuple {
            options.insert("ntuple".to_string(), ntuple);
        }
        let cmd = CreateExternalTable::builder(
            "read_rntuple",
            location.clone(),
            "RNTUPLE",
            Arc::new(DFSchema::empty()),
        )
        .with_options(options)
        .build();
        let session = args.session();
        let handle = Handle::try_current().map_err(|e| {
            DataFusionError::Internal(format!("read_rntuple needs a tokio runtime: {e}"))
        })?;
        // Table functions are planned synchronously, but opening files is async: run the
        // factory to completion on a helper thread that may block on the runtime.
        std::thread::scope(|scope| {
            scope
                .spawn(|| handle.block_on(HiveTableFactory.create(session, &cmd)))
                .join()
                .map_err(|_| {
                    DataFusionError::Internal("read_rntuple: planning thread failed".into())
                })?
        })
        .map_err(|e| DataFusionError::Plan(format!("read_rntuple('{location}'): {e}")))
    }
}

fn string_arg(expr: &Expr, what: &str) -> Result<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Ok(s.clone()),
        other => plan_err!("read_rntuple: the {what} must be a string literal, got {other}"),
    }
}
