//! `read_root('path' [, 'tree'])` and `read_rntuple('path' [, 'name'])`: a ROOT file, folder,
//! glob or URL as a table in a query, without `CREATE EXTERNAL TABLE`.
//!
//! ```sql
//! SELECT count(*) FROM read_root('data/nano.root', 'Events');
//! ```
//!
//! It resolves the location exactly as `CREATE EXTERNAL TABLE … STORED AS ROOT` does (Hive
//! partitions, object stores, schema merged across files).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::{
    Session, TableFunctionArgs, TableFunctionImpl, TableProvider, TableProviderFactory,
};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{CreateExternalTable, Expr};
use tokio::runtime::Handle;

use crate::hive::HiveTableFactory;

/// The `read_root` table function.
#[derive(Debug, Default)]
pub struct ReadRoot;

impl TableFunctionImpl for ReadRoot {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        read_file_table(&args, &READ_ROOT)
    }
}

/// The `read_rntuple('path' [, 'name'])` table function: the same as `read_root`, through
/// `STORED AS RNTUPLE`.
#[derive(Debug, Default)]
pub struct ReadRNTuple;

impl TableFunctionImpl for ReadRNTuple {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        read_file_table(&args, &READ_RNTUPLE)
    }
}

/// What distinguishes the table functions over ROOT files.
struct Spec {
    function: &'static str,
    format: &'static str,
    /// The table option the second argument sets, and how the usage message calls it.
    option: &'static str,
    what: &'static str,
}

const READ_ROOT: Spec = Spec {
    function: "read_root",
    format: "ROOT",
    option: "tree",
    what: "tree",
};

const READ_RNTUPLE: Spec = Spec {
    function: "read_rntuple",
    format: "RNTUPLE",
    option: "ntuple",
    what: "RNTuple",
};

fn read_file_table(args: &TableFunctionArgs, spec: &Spec) -> Result<Arc<dyn TableProvider>> {
    let f = spec.function;
    let exprs = args.exprs();
    let (location, tree) = match exprs {
        [location] => (string_arg(location, f, "path")?, None),
        [location, tree] => (
            string_arg(location, f, "path")?,
            Some(string_arg(tree, f, &format!("{} name", spec.what))?),
        ),
        _ => {
            return plan_err!(
                "{f} takes a path and an optional {} name: {f}('file.root' [, 'Events'])",
                spec.what
            );
        }
    };
    let mut options = HashMap::new();
    if let Some(tree) = tree {
        options.insert(spec.option.to_string(), tree);
    }
    let cmd = CreateExternalTable::builder(
        f,
        location.clone(),
        spec.format,
        Arc::new(DFSchema::empty()),
    )
    .with_options(options)
    .build();
    create_table_while_planning(f, &location, &HiveTableFactory, args.session(), &cmd)
}

/// Runs `factory` for `cmd` from a table function (`f`, reading `location`). Table functions
/// are planned synchronously but opening files is async: the factory runs to completion on a
/// helper thread that may block on the current tokio runtime.
pub(crate) fn create_table_while_planning(
    f: &str,
    location: &str,
    factory: &(dyn TableProviderFactory + Sync),
    session: &dyn Session,
    cmd: &CreateExternalTable,
) -> Result<Arc<dyn TableProvider>> {
    let handle = Handle::try_current()
        .map_err(|e| DataFusionError::Internal(format!("{f} needs a tokio runtime: {e}")))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| handle.block_on(factory.create(session, cmd)))
            .join()
            .map_err(|_| DataFusionError::Internal(format!("{f}: planning thread failed")))?
    })
    .map_err(|e| DataFusionError::Plan(format!("{f}('{location}'): {e}")))
}

/// A string-literal argument `what` of table function `function`.
pub(crate) fn string_arg(expr: &Expr, function: &str, what: &str) -> Result<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Ok(s.clone()),
        other => plan_err!("{function}: the {what} must be a string literal, got {other}"),
    }
}
