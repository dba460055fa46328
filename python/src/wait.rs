//! One tokio runtime for every session, and waiting on it without the GIL.
//!
//! A query runs as a task on the runtime; the calling thread releases the GIL and wakes every
//! [`POLL`] to run Python's signal handlers. A `KeyboardInterrupt` (Ctrl-C) aborts the task —
//! dropping the plan's streams stops every partition — and is raised to the caller.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::{InternalError, OperationalError, to_py};

/// How often a waiting thread checks for Ctrl-C.
pub const POLL: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// The process-wide runtime (as many workers as cores; a session's `threads` sets how many
/// partitions a query uses).
pub fn runtime() -> PyResult<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("hepq-worker")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| OperationalError::new_err(format!("cannot start the query runtime: {e}")))
}

/// Runs `future` on the runtime and waits for it with the GIL released; Ctrl-C cancels it.
pub fn wait<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = hepq_sql::Result<T>> + Send + 'static,
{
    let rt = runtime()?;
    let mut handle = rt.spawn(future);
    loop {
        let joined =
            py.detach(|| rt.block_on(async { tokio::time::timeout(POLL, &mut handle).await }));
        match joined {
            Ok(Ok(Ok(value))) => return Ok(value),
            Ok(Ok(Err(e))) => return Err(to_py(e)),
            Ok(Err(e)) if e.is_cancelled() => {
                return Err(OperationalError::new_err("the query was cancelled"));
            }
            Ok(Err(e)) => {
                return Err(InternalError::new_err(format!(
                    "internal error: the query task failed ({e}); please report the query"
                )));
            }
            Err(_elapsed) => {
                if let Err(interrupt) = py.check_signals() {
                    handle.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}

/// Whether a Ctrl-C is pending, checked from a thread without the GIL (a consumer pulling an
/// exported stream). A pending signal is left pending for Python to raise.
pub fn interrupted() -> bool {
    Python::attach(|py| {
        if py.check_signals().is_err() {
            // The handler raised KeyboardInterrupt here, where nobody sees it: set the flag
            // again so that Python raises it as soon as the consumer returns.
            set_interrupt();
            true
        } else {
            false
        }
    })
}

/// Marks SIGINT as pending again (`PyErr_SetInterrupt`); called attached to the interpreter.
#[allow(unsafe_code)]
fn set_interrupt() {
    // SAFETY: the caller is attached to the interpreter; the call only sets a flag.
    unsafe { pyo3::ffi::PyErr_SetInterrupt() };
}
