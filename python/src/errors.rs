//! The PEP 249 exception hierarchy and how engine errors map onto it.
//!
//! ```text
//! Exception
//!  ├── Warning
//!  └── Error
//!       ├── InterfaceError            misuse of the module (closed cursor, bad argument type)
//!       └── DatabaseError
//!            ├── DataError            bad values: casts, division by zero, malformed files
//!            ├── OperationalError     I/O, object stores, memory limits, cancelled queries
//!            ├── IntegrityError       (not raised by hepq; for DB-API completeness)
//!            ├── InternalError        engine bugs (please report)
//!            ├── ProgrammingError     SQL syntax, unknown tables or columns, plan errors
//!            └── NotSupportedError    features the engine does not implement
//! ```

use hepq_sql::datafusion::arrow::error::ArrowError;
use hepq_sql::datafusion::common::DataFusionError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    hepq,
    Warning,
    PyException,
    "Important warnings (PEP 249); hepq raises none so far."
);
create_exception!(
    hepq,
    Error,
    PyException,
    "Base class of every hepq error (PEP 249)."
);
create_exception!(
    hepq,
    InterfaceError,
    Error,
    "Misuse of the module itself: a closed connection or cursor, an argument of the wrong kind."
);
create_exception!(
    hepq,
    DatabaseError,
    Error,
    "Errors of the engine; the message is the engine's."
);
create_exception!(
    hepq,
    DataError,
    DatabaseError,
    "Problems with the data: failed casts, division by zero, values out of range, bad files."
);
create_exception!(
    hepq,
    OperationalError,
    DatabaseError,
    "Errors of the engine's operation: I/O and object stores, memory limits, cancelled queries."
);
create_exception!(
    hepq,
    IntegrityError,
    DatabaseError,
    "Relational integrity errors (PEP 249); hepq has no constraints and raises none."
);
create_exception!(
    hepq,
    InternalError,
    DatabaseError,
    "An internal error of the engine (a bug: please report it with the query)."
);
create_exception!(
    hepq,
    ProgrammingError,
    DatabaseError,
    "SQL errors: syntax, unknown tables, columns or functions, type errors found while planning."
);
create_exception!(
    hepq,
    NotSupportedError,
    DatabaseError,
    "A feature the engine or this module does not support."
);

/// Adds the exception classes to the module.
pub fn add_exceptions(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Warning", py.get_type::<Warning>())?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("InterfaceError", py.get_type::<InterfaceError>())?;
    m.add("DatabaseError", py.get_type::<DatabaseError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("OperationalError", py.get_type::<OperationalError>())?;
    m.add("IntegrityError", py.get_type::<IntegrityError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("ProgrammingError", py.get_type::<ProgrammingError>())?;
    m.add("NotSupportedError", py.get_type::<NotSupportedError>())?;
    Ok(())
}

/// The exception class for an Arrow error.
fn arrow_kind(e: &ArrowError, message: String) -> PyErr {
    match e {
        ArrowError::NotYetImplemented(_) => NotSupportedError::new_err(message),
        ArrowError::IoError(..) | ArrowError::MemoryError(_) => OperationalError::new_err(message),
        ArrowError::SchemaError(_) => ProgrammingError::new_err(message),
        ArrowError::ExternalError(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(df) => engine_kind(df, message),
            None => DataError::new_err(message),
        },
        _ => DataError::new_err(message),
    }
}

/// The exception class for an engine error, decided by its innermost cause.
fn engine_kind(e: &DataFusionError, message: String) -> PyErr {
    match e.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::Configuration(_) => ProgrammingError::new_err(message),
        DataFusionError::NotImplemented(_) => NotSupportedError::new_err(message),
        DataFusionError::Internal(_) => InternalError::new_err(message),
        DataFusionError::ArrowError(inner, _) => arrow_kind(inner, message),
        DataFusionError::IoError(_)
        | DataFusionError::ObjectStore(_)
        | DataFusionError::ResourcesExhausted(_)
        | DataFusionError::ExecutionJoin(_) => OperationalError::new_err(message),
        DataFusionError::External(inner) => match inner.downcast_ref::<ArrowError>() {
            Some(arrow) => arrow_kind(arrow, message),
            None => DataError::new_err(message),
        },
        // Execution errors, Parquet and format-reader errors: the data could not be processed.
        _ => DataError::new_err(message),
    }
}

/// Converts an error of the session facade into the matching Python exception, keeping the
/// engine's one-line message.
pub fn to_py(e: hepq_sql::Error) -> PyErr {
    let message = e.to_string();
    match &e {
        hepq_sql::Error::Engine(df) => engine_kind(df, message),
        hepq_sql::Error::Config(_) => ProgrammingError::new_err(message),
        hepq_sql::Error::Io { .. } => OperationalError::new_err(message),
        _ => DatabaseError::new_err(message),
    }
}

/// Converts an engine error (from DataFusion directly) into a Python exception.
pub fn engine_to_py(e: DataFusionError) -> PyErr {
    to_py(hepq_sql::Error::Engine(e))
}

/// Converts an Arrow error (from the C data interface) into a Python exception.
pub fn arrow_to_py(e: ArrowError) -> PyErr {
    let message = e.to_string();
    arrow_kind(&e, message)
}
