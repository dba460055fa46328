//! Engine errors → PostgreSQL SQLSTATEs and `ErrorResponse` messages.

use hepq_sql::datafusion::arrow::error::ArrowError;
use hepq_sql::datafusion::common::{DataFusionError, SchemaError};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{ErrorResponse, NoticeResponse};

/// An error to report to the client.
#[derive(Debug, Clone)]
pub struct PgError {
    /// `ERROR` or `FATAL`.
    pub severity: &'static str,
    /// Five-character SQLSTATE.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl PgError {
    /// An `ERROR` with this SQLSTATE.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: "ERROR",
            code,
            message: message.into(),
        }
    }

    /// A `FATAL` error (the connection closes after it).
    pub fn fatal(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: "FATAL",
            code,
            message: message.into(),
        }
    }

    /// 57014 after a cancel request.
    pub fn cancelled() -> Self {
        Self::new("57014", "canceling statement due to user request")
    }

    /// 57014 after `statement_timeout`.
    pub fn timed_out() -> Self {
        Self::new("57014", "canceling statement due to statement timeout")
    }

    /// 25P02: a statement in a failed transaction block.
    pub fn in_failed_transaction() -> Self {
        Self::new(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }

    /// The backend message.
    pub fn to_message(&self) -> PgWireBackendMessage {
        PgWireBackendMessage::ErrorResponse(ErrorResponse::new(vec![
            (b'S', self.severity.to_string()),
            (b'V', self.severity.to_string()),
            (b'C', self.code.to_string()),
            (b'M', self.message.clone()),
        ]))
    }
}

/// A `NOTICE`/`WARNING` message.
pub fn notice(severity: &str, code: &str, message: &str) -> PgWireBackendMessage {
    PgWireBackendMessage::NoticeResponse(NoticeResponse::new(vec![
        (b'S', severity.to_string()),
        (b'V', severity.to_string()),
        (b'C', code.to_string()),
        (b'M', message.to_string()),
    ]))
}

impl From<hepq_sql::Error> for PgError {
    fn from(e: hepq_sql::Error) -> Self {
        let code = match &e {
            hepq_sql::Error::Engine(df) => sqlstate(df),
            hepq_sql::Error::Config(_) => "22023",
            hepq_sql::Error::Io { .. } => "58030",
            _ => "XX000",
        };
        PgError::new(code, e.to_string())
    }
}

impl From<DataFusionError> for PgError {
    fn from(e: DataFusionError) -> Self {
        hepq_sql::Error::Engine(e).into()
    }
}

/// The SQLSTATE of an engine error.
pub fn sqlstate(e: &DataFusionError) -> &'static str {
    let e = unwrap(e);
    match e {
        DataFusionError::SQL(..) => "42601",
        DataFusionError::SchemaError(inner, _) => match inner.as_ref() {
            SchemaError::FieldNotFound { .. } => "42703",
            SchemaError::AmbiguousReference { .. } => "42702",
            SchemaError::DuplicateQualifiedField { .. }
            | SchemaError::DuplicateUnqualifiedField { .. } => "42701",
        },
        DataFusionError::ArrowError(a, _) => arrow_state(a),
        DataFusionError::ResourcesExhausted(_) => "53200",
        DataFusionError::NotImplemented(_) => "0A000",
        DataFusionError::Configuration(_) => "22023",
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => "58030",
        DataFusionError::Plan(m) => plan_state(m),
        DataFusionError::Execution(m) => {
            if m.contains("Divide by zero") {
                "22012"
            } else if m.contains("Cast error") || m.contains("Cannot cast") {
                "22P02"
            } else if m.contains("not found") && m.contains("able") {
                "42P01"
            } else {
                "XX000"
            }
        }
        _ => {
            let m = e.to_string();
            if m.contains("Resources exhausted") {
                "53200"
            } else {
                "XX000"
            }
        }
    }
}

fn unwrap(e: &DataFusionError) -> &DataFusionError {
    let mut e = e;
    loop {
        e = match e {
            DataFusionError::Context(_, inner) => inner,
            DataFusionError::Diagnostic(_, inner) => inner,
            DataFusionError::Shared(inner) => inner,
            DataFusionError::Collection(v) if !v.is_empty() => &v[0],
            DataFusionError::External(inner) => {
                if let Some(df) = inner.downcast_ref::<DataFusionError>() {
                    df
                } else if let Some(hepq_sql::Error::Engine(df)) =
                    inner.downcast_ref::<hepq_sql::Error>()
                {
                    df
                } else {
                    return e;
                }
            }
            other => return other,
        };
    }
}

fn arrow_state(a: &ArrowError) -> &'static str {
    match a {
        ArrowError::DivideByZero => "22012",
        ArrowError::ArithmeticOverflow(_) => "22003",
        ArrowError::CastError(_) | ArrowError::ParseError(_) => "22P02",
        ArrowError::MemoryError(_) => "53200",
        ArrowError::InvalidArgumentError(_) => "22023",
        _ => "XX000",
    }
}

fn plan_state(m: &str) -> &'static str {
    let lower = m.to_ascii_lowercase();
    if lower.contains("table") && (lower.contains("not found") || lower.contains("doesn't exist")) {
        "42P01"
    } else if lower.contains("no field named")
        || lower.contains("column") && lower.contains("not found")
    {
        "42703"
    } else if lower.contains("invalid function")
        || lower.contains("function") && lower.contains("not found")
    {
        "42883"
    } else if lower.contains("schema") && lower.contains("not found") {
        "3F000"
    } else if lower.contains("already exists") {
        "42P07"
    } else if lower.contains("cannot") && lower.contains("cast") {
        "42846"
    } else {
        "42000"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_messages_map_to_states() {
        assert_eq!(plan_state("table 'hepq.public.nope' not found"), "42P01");
        assert_eq!(plan_state("Invalid function 'nope'"), "42883");
        assert_eq!(
            sqlstate(&DataFusionError::ResourcesExhausted("x".into())),
            "53200"
        );
        assert_eq!(
            sqlstate(&DataFusionError::Context(
                "c".into(),
                Box::new(DataFusionError::ArrowError(
                    Box::new(ArrowError::DivideByZero),
                    None
                ))
            )),
            "22012"
        );
    }
}
