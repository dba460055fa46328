//! `read_lh5('path' [, 'group'])`: an LH5 file, folder or glob as a table in a query, without
//! `CREATE EXTERNAL TABLE`.
//!
//! ```sql
//! SELECT count(*) FROM read_lh5('l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5', 'ch1084803/hit');
//! ```
//!
//! It resolves the location exactly as `CREATE EXTERNAL TABLE … STORED AS LH5` does; without
//! a group, a file's only table, or all channels of its one tier, are read.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::{
    TableFunctionArgs, TableFunctionImpl, TableProvider, TableProviderFactory,
};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{CreateExternalTable, Expr};
use tokio::runtime::Handle;

use super::{LH5_FORMAT, Lh5TableFactory};

/// The `read_lh5` table function.
#[derive(Debug, Default)]
pub struct ReadLh5;

impl TableFunctionImpl for ReadLh5 {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let f = "read_lh5";
        let (location, group) = match args.exprs() {
            [location] => (string_arg(location, "path")?, None),
            [location, group] => (
                string_arg(location, "path")?,
                Some(string_arg(group, "group")?),
            ),
            _ => {
                return plan_err!(
                    "{f} takes a path and an optional group: {f}('file.lh5' [, 'ch1084803/hit'])"
                );
            }
        };
        let mut options = HashMap::new();
        if let Some(group) = group {
            options.insert("group".to_string(), group);
        }
        let cmd = CreateExternalTable::builder(
            f,
            location.clone(),
            LH5_FORMAT,
            Arc::new(DFSchema::empty()),
        )
        .with_options(options)
        .build();
        let session = args.session();
        let handle = Handle::try_current()
            .map_err(|e| DataFusionError::Internal(format!("{f} needs a tokio runtime: {e}")))?;
        // Table functions are planned synchronously, but opening files is async: run the
        // factory to completion on a helper thread that may block on the runtime.
        std::thread::scope(|scope| {
            scope
                .spawn(|| handle.block_on(Lh5TableFactory.create(session, &cmd)))
                .join()
                .map_err(|_| DataFusionError::Internal(format!("{f}: planning thread failed")))?
        })
        .map_err(|e| DataFusionError::Plan(format!("{f}('{location}'): {e}")))
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
        other => plan_err!("read_lh5: the {what} must be a string literal, got {other}"),
    }
}
