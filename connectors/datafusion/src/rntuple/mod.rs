//! ROOT RNTuples as DataFusion tables: `STORED AS RNTUPLE` and `read_rntuple('path' [, 'name'])`.
//!
//! An RNTuple table is read by the ROOT adapter ([`crate::root`]): the same format, scan,
//! partitioning of whole clusters, object-store prefetch and statistics, with
//! [`RootOptions::rntuple_only`] set so that only RNTuples are considered. `STORED AS ROOT`
//! also reads a file's RNTuple when it holds no matching TTree.
//!
//! Options (`OPTIONS (...)`, also accepted with a `format.` prefix):
//!
//! | option | meaning |
//! |---|---|
//! | `ntuple` (or `name`, `rntuple`) | path of the RNTuple inside each file (`Events`, `dir/ntuple`); optional when a file holds exactly one RNTuple |

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::{GetExt, Result};
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory};

use crate::root::{RootFormat, RootOptions};

pub use crate::root::table_function::ReadRNTuple;

/// The name of the format in `STORED AS RNTUPLE` (the key DataFusion registers it under).
pub const RNTUPLE_FORMAT: &str = "rntuple";

/// Creates the ROOT format in its RNTuple-only mode from `STORED AS RNTUPLE` options.
#[derive(Debug, Default)]
pub struct RNTupleFormatFactory;

impl FileFormatFactory for RNTupleFormatFactory {
    fn create(
        &self,
        _state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        Ok(Arc::new(RootFormat::new(
            RootOptions::from_rntuple_options(format_options)?,
        )))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(RootFormat::new(RootOptions {
            rntuple_only: true,
            ..RootOptions::default()
        }))
    }
}

impl GetExt for RNTupleFormatFactory {
    fn get_ext(&self) -> String {
        RNTUPLE_FORMAT.to_string()
    }
}
