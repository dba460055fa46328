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

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DFSchema, Result, plan_err};
use datafusion::logical_expr::CreateExternalTable;

use super::{LH5_FORMAT, Lh5TableFactory};
use crate::root::table_function::{create_table_while_planning, string_arg};

/// The `read_lh5` table function.
#[derive(Debug, Default)]
pub struct ReadLh5;

impl TableFunctionImpl for ReadLh5 {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let f = "read_lh5";
        let (location, group) = match args.exprs() {
            [location] => (string_arg(location, f, "path")?, None),
            [location, group] => (
                string_arg(location, f, "path")?,
                Some(string_arg(group, f, "group")?),
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
        create_table_while_planning(f, &location, &Lh5TableFactory, args.session(), &cmd)
    }
}
