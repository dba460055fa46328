//! One client connection: startup, simple and extended query, transactions, `SET`/`SHOW`,
//! `COPY … TO STDOUT`, cancellation and `statement_timeout`.
//!
//! Cancellation: a CancelRequest (on its own connection) bumps this backend's cancel
//! generation; the running statement waits on it next to every engine poll and, when it fires,
//! drops the engine stream — which aborts the plan's spawned tasks — and answers 57014.
//! `statement_timeout` is the same race against a deadline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use hepq_sql::HepqSession;
use hepq_sql::datafusion::arrow::array::Array;
use hepq_sql::datafusion::arrow::datatypes::{DataType, FieldRef};
use hepq_sql::datafusion::arrow::record_batch::RecordBatch;
use hepq_sql::datafusion::common::ScalarValue;
use hepq_sql::datafusion::execution::SendableRecordBatchStream;
use hepq_sql::datafusion::logical_expr::{DdlStatement, LogicalPlan, WriteOp};
use hepq_sql::datafusion::sql::parser::{DFParser, Statement as DFStatement};
use hepq_sql::datafusion::sql::sqlparser::ast::{
    self as ast, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Expr, Set,
};
use hepq_sql::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use hepq_sql::datafusion::sql::sqlparser::parser::Parser;
use pgwire::messages::PgWireBackendMessage as B;
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use pgwire::messages::data::{FieldDescription, NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, SecretKey,
};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::catalog::{self, Identity, PgCatalog};
use super::colnames;
use super::cursor::{self, FetchSpec};
use super::errors::{PgError, notice};
use super::introspect;
use super::protocol::{Frontend, StartupPacket, Writer, read_message, read_startup};
use super::rewrite::rewrite;
use super::settings::{REPORTED, Settings};
use super::tls::{ReadSide, Stream, WriteSide};
use super::types::{self, ColumnEncoder};
use super::{Activity, Backends, ServeOptions, Shared};

type W = Writer<WriteSide>;

/// Why a statement stopped: a PostgreSQL error for the client, or a dead socket.
enum Failure {
    Pg(PgError),
    Io(std::io::Error),
}

impl From<PgError> for Failure {
    fn from(e: PgError) -> Self {
        Failure::Pg(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<hepq_sql::Error> for Failure {
    fn from(e: hepq_sql::Error) -> Self {
        Failure::Pg(e.into())
    }
}

impl From<hepq_sql::datafusion::error::DataFusionError> for Failure {
    fn from(e: hepq_sql::datafusion::error::DataFusionError) -> Self {
        Failure::Pg(e.into())
    }
}

type Res<T> = Result<T, Failure>;

/// Builds a connection's session: hepq-sql's builder, then the `--register`ed tables.
pub async fn open_session(options: &ServeOptions) -> hepq_sql::Result<HepqSession> {
    let session = HepqSession::new(options.session.clone()).await?;
    for (name, format, location) in &options.register {
        session.register(name, location, *format).await?;
    }
    Ok(session)
}

/// A statement after parsing and classification.
#[derive(Debug, Clone)]
enum Parsed {
    /// Engine SQL (queries, DDL, DML, engine SET/SHOW).
    Engine(DFStatement),
    /// A session or transaction command the server answers itself.
    Command(Command),
    /// `COPY (query) TO STDOUT`.
    Copy(CopySpec),
    /// `DECLARE name CURSOR FOR query`.
    Declare(DeclareSpec),
    /// asyncpg's type introspection query (see [`super::introspect`]).
    TypeInfo,
}

#[derive(Debug, Clone)]
enum Command {
    /// `BEGIN`; `Some(true)` for `BEGIN READ ONLY`, `Some(false)` for `READ WRITE`.
    Begin(Option<bool>),
    Commit,
    Rollback,
    Savepoint(String),
    Release(String),
    RollbackTo(String),
    DiscardAll,
    Deallocate(Option<String>),
    Set(String, Option<String>),
    /// `RESET name`: `SET name TO DEFAULT` with PostgreSQL's `RESET` tag.
    Reset(String),
    Show(String),
    ShowAll,
    ResetAll,
    Noop(String),
    /// `FETCH` (`false`) or `MOVE` (`true`).
    Fetch(FetchSpec, bool),
    /// `CLOSE name` or `CLOSE ALL` (`None`).
    CloseCursor(Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyFormat {
    Text,
    Csv,
    Binary,
}

#[derive(Debug, Clone)]
struct CopySpec {
    query: DFStatement,
    format: CopyFormat,
    header: bool,
    delimiter: Option<char>,
    null: Option<String>,
}

/// `DECLARE name [BINARY] … CURSOR [WITH HOLD] FOR query`.
#[derive(Debug, Clone)]
struct DeclareSpec {
    name: String,
    binary: bool,
    hold: bool,
    query: DFStatement,
}

struct Prepared {
    parsed: Option<Parsed>,
    declared: Vec<u32>,
    /// The statement's text (what `pg_stat_activity` shows while it runs).
    sql: Arc<str>,
}

/// A cursor (a portal created by `DECLARE`): what it returns and where it stands.
#[derive(Clone)]
struct Cursor {
    /// `WITH HOLD`: survives the end of the transaction.
    hold: bool,
    /// `BINARY`: results in binary unless a `FETCH` asks otherwise.
    binary: bool,
    fields: Vec<FieldRef>,
    /// The `DECLARE` statement and when it ran (for `pg_cursors`).
    statement: String,
    created_micros: i64,
    /// Rows consumed so far (the row the cursor stands on, 1-based; 0 = before the first).
    position: u64,
}

enum PortalState {
    NotStarted,
    Streaming(Box<Streaming>),
    Done,
}

struct Portal {
    prepared: Arc<Prepared>,
    plan: Option<LogicalPlan>,
    formats: Vec<i16>,
    state: PortalState,
    /// Set for cursors.
    cursor: Option<Cursor>,
}

struct Streaming {
    stream: SendableRecordBatchStream,
    fields: Vec<FieldRef>,
    binary: Vec<bool>,
    current: Option<(Vec<ColumnEncoder>, usize, usize)>,
    sent: usize,
    /// The engine stream has ended.
    ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tx {
    Idle,
    Block,
    Failed,
}

struct Connection {
    session: HepqSession,
    settings: Arc<Mutex<Settings>>,
    defaults: Settings,
    statements: HashMap<String, Arc<Prepared>>,
    portals: HashMap<String, Portal>,
    savepoints: Vec<String>,
    tx: Tx,
    /// The user's role is read-only (`read_only_users` / `read_only` in the config file).
    read_only_role: bool,
    /// Every session is read-only (`--read-only`): the reason errors give.
    server_read_only: bool,
    user: String,
    /// What `pg_cursors` shows: refreshed from `portals` before each statement is planned.
    cursor_rows: catalog::Cursors,
    cancel: watch::Receiver<u64>,
    /// What `pg_stat_activity` shows of this connection.
    activity: Arc<Mutex<Activity>>,
    /// The client's side of the socket, watched for a hang-up while a statement runs.
    input: Input,
}

type Input = BufReader<ReadSide>;

fn tx_status(tx: Tx) -> TransactionStatus {
    match tx {
        Tx::Idle => TransactionStatus::Idle,
        Tx::Block => TransactionStatus::Transaction,
        Tx::Failed => TransactionStatus::Error,
    }
}

/// Serves one client from its first byte to its last.
pub async fn handle(
    socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    socket.set_nodelay(true)?;
    let mut stream = Stream::Plain(socket);
    let (minor, params) = loop {
        match read_startup(&mut stream).await? {
            Err(e) => {
                let mut buf = BytesMut::new();
                let _ = PgError::fatal("08P01", e.0).to_message().encode(&mut buf);
                stream.write_all(&buf).await?;
                return Ok(());
            }
            Ok(StartupPacket::Ssl) => {
                stream = match (stream, &shared.options.tls) {
                    (Stream::Plain(mut tcp), Some(config)) => {
                        tcp.write_all(b"S").await?;
                        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
                        Stream::Tls(Box::new(acceptor.accept(tcp).await?))
                    }
                    (mut other, _) => {
                        // No TLS configured (or already on it): the client continues in plain
                        // text or gives up.
                        other.write_all(b"N").await?;
                        other
                    }
                };
            }
            Ok(StartupPacket::GssEnc) => stream.write_all(b"N").await?,
            Ok(StartupPacket::Cancel(pid, secret)) => {
                shared.backends.cancel(pid, Some(secret));
                return Ok(());
            }
            Ok(StartupPacket::Startup { minor, params, .. }) => break (minor, params),
        }
    };
    let (r, w) = stream.split();
    let mut reader = BufReader::new(r);
    let mut writer = Writer::new(w);
    let Ok(_permit) = Arc::clone(&shared.slots).try_acquire_owned() else {
        writer.push(PgError::fatal("53300", "sorry, too many clients already").to_message())?;
        writer.flush().await?;
        return Ok(());
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let user = get("user").unwrap_or_else(|| "hepq".into());
    let database = get("database").unwrap_or_else(|| user.clone());
    let unsupported: Vec<String> = params
        .iter()
        .filter(|(k, _)| k.starts_with("_pq_."))
        .map(|(k, _)| k.clone())
        .collect();
    if minor > 0 || !unsupported.is_empty() {
        writer.push(B::NegotiateProtocolVersion(NegotiateProtocolVersion::new(
            0,
            unsupported,
        )))?;
    }

    if let Err(e) = authenticate(&mut reader, &mut writer, &shared.options, &user).await? {
        writer.push(e.to_message())?;
        writer.flush().await?;
        return Ok(());
    }

    let session = match open_session(&shared.options).await {
        Ok(s) => s,
        Err(e) => {
            writer.push(PgError::fatal("XX000", e.to_string()).to_message())?;
            writer.flush().await?;
            return Ok(());
        }
    };
    // Unregistered when `_registration` drops, on every way out of this function.
    let (pid, secret, cancel, activity, _registration) =
        shared.backends.register(&user, &database, peer);
    let read_only_role = shared.options.is_read_only(&user);
    let mut settings = Settings::new(&user, shared.options.max_connections);
    for (k, v) in &params {
        if !matches!(k.as_str(), "user" | "database" | "options" | "replication")
            && !k.starts_with("_pq_.")
        {
            let _ = settings.set(k, v);
        }
    }
    if let Some(options) = get("options") {
        for (k, v) in startup_options(&options) {
            let _ = settings.set(&k, &v);
        }
    }
    if read_only_role {
        // What the session reports; enforcement is by the role, not these settings.
        let _ = settings.set("default_transaction_read_only", "on");
        let _ = settings.set("transaction_read_only", "on");
    }
    let defaults = settings.clone();
    let settings = Arc::new(Mutex::new(settings));
    let identity = Identity {
        user: user.clone(),
        database,
        pid,
    };
    let cursor_rows = catalog::Cursors::default();
    install_catalog(
        &session,
        &settings,
        &cursor_rows,
        identity,
        Arc::clone(&shared.backends),
    );

    let mut conn = Connection {
        session,
        settings,
        defaults,
        statements: HashMap::new(),
        portals: HashMap::new(),
        savepoints: Vec::new(),
        tx: Tx::Idle,
        read_only_role,
        server_read_only: shared.options.read_only,
        user,
        cursor_rows,
        cancel,
        activity,
        input: reader,
    };
    writer.push(B::Authentication(Authentication::Ok))?;
    for name in REPORTED {
        let value = conn.setting(name).unwrap_or_default();
        writer.push(B::ParameterStatus(ParameterStatus::new(
            (*name).to_string(),
            value,
        )))?;
    }
    writer.push(B::BackendKeyData(BackendKeyData::new(
        pid,
        SecretKey::I32(secret),
    )))?;
    writer.push(B::ReadyForQuery(ReadyForQuery::new(
        TransactionStatus::Idle,
    )))?;
    writer.flush().await?;

    conn.run(&mut writer).await
}

/// Reads the next message, which must be a password-family message.
async fn password_message(reader: &mut Input) -> std::io::Result<Result<Vec<u8>, PgError>> {
    Ok(match read_message(reader).await? {
        Some(Ok(Frontend::Password(body))) => Ok(body),
        Some(Ok(_)) => Err(PgError::fatal("08P01", "expected a password message")),
        Some(Err(e)) => Err(PgError::fatal("08P01", e.0)),
        None => Err(PgError::fatal(
            "08P01",
            "connection closed during authentication",
        )),
    })
}

/// Runs the configured authentication exchange for `user`.
async fn authenticate(
    reader: &mut Input,
    w: &mut W,
    options: &ServeOptions,
    user: &str,
) -> std::io::Result<Result<(), PgError>> {
    use super::auth::{Method, Scram, Secret, md5_response};
    let failed = || {
        PgError::fatal(
            "28P01",
            format!("password authentication failed for user \"{user}\""),
        )
    };
    let secret = options.users.get(user).cloned();
    match options.auth {
        Method::Trust => Ok(Ok(())),
        Method::Password => {
            w.push(B::Authentication(Authentication::CleartextPassword))?;
            w.flush().await?;
            let body = match password_message(reader).await? {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            let password = super::protocol::password_text(&body).unwrap_or_default();
            Ok(match secret {
                Some(s) if s.verify_cleartext(user, &password) => Ok(()),
                _ => Err(failed()),
            })
        }
        Method::Md5 => {
            let salt: [u8; 4] = rand::random();
            w.push(B::Authentication(Authentication::MD5Password(
                salt.to_vec(),
            )))?;
            w.flush().await?;
            let body = match password_message(reader).await? {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            let answer = super::protocol::password_text(&body).unwrap_or_default();
            Ok(match secret {
                Some(Secret::Md5(hex)) if md5_response(&hex, &salt) == answer => Ok(()),
                _ => Err(failed()),
            })
        }
        Method::ScramSha256 => {
            w.push(B::Authentication(Authentication::SASL(vec![
                "SCRAM-SHA-256".into(),
            ])))?;
            w.flush().await?;
            let body = match password_message(reader).await? {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            let (mechanism, data) = match super::protocol::sasl_initial(&body) {
                Ok(x) => x,
                Err(e) => return Ok(Err(PgError::fatal("08P01", e.0))),
            };
            if mechanism != "SCRAM-SHA-256" {
                return Ok(Err(PgError::fatal(
                    "28000",
                    format!("SASL mechanism \"{mechanism}\" is not supported (use SCRAM-SHA-256)"),
                )));
            }
            let secret = secret.filter(|s| matches!(s, Secret::Scram { .. }));
            let (scram, server_first) = match Scram::start(&String::from_utf8_lossy(&data), secret)
            {
                Ok(x) => x,
                Err(m) => return Ok(Err(PgError::fatal("08P01", m))),
            };
            w.push(B::Authentication(Authentication::SASLContinue(
                Bytes::from(server_first.into_bytes()),
            )))?;
            w.flush().await?;
            let body = match password_message(reader).await? {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            match scram.finish(&String::from_utf8_lossy(&body)) {
                Ok(server_final) => {
                    w.push(B::Authentication(Authentication::SASLFinal(Bytes::from(
                        server_final.into_bytes(),
                    ))))?;
                    Ok(Ok(()))
                }
                Err(_) => Ok(Err(failed())),
            }
        }
    }
}

/// `-c name=value` pairs of the startup `options` parameter.
fn startup_options(options: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut words = options.split_whitespace();
    while let Some(w) = words.next() {
        let pair = if w == "-c" {
            words.next().map(str::to_string)
        } else if let Some(rest) = w.strip_prefix("-c") {
            Some(rest.to_string())
        } else {
            w.strip_prefix("--").map(str::to_string)
        };
        if let Some((k, v)) = pair.as_deref().and_then(|p| p.split_once('=')) {
            out.push((k.replace('-', "_"), v.to_string()));
        }
    }
    out
}

/// Registers `pg_catalog` and the catalog functions in a session.
fn install_catalog(
    session: &HepqSession,
    settings: &Arc<Mutex<Settings>>,
    cursors: &catalog::Cursors,
    identity: Identity,
    backends: Arc<Backends>,
) {
    let state = session.state();
    let mut functions: Vec<(String, &'static str)> = Vec::new();
    for name in state.scalar_functions().keys() {
        functions.push((name.clone(), "f"));
    }
    for name in state.aggregate_functions().keys() {
        functions.push((name.clone(), "a"));
    }
    for name in state.window_functions().keys() {
        functions.push((name.clone(), "w"));
    }
    functions.sort();
    let catalogs = Arc::clone(state.catalog_list());
    let pg = Arc::new(
        PgCatalog::new(&catalogs, Arc::clone(settings), identity, functions)
            .with_cursors(Arc::clone(cursors))
            .with_backends(backends),
    );
    let ctx = session.context();
    for name in catalogs.catalog_names() {
        if let Some(catalog) = catalogs.catalog(&name) {
            let _ = catalog.register_schema("pg_catalog", Arc::clone(&pg) as _);
        }
    }
    for f in catalog::functions(pg) {
        ctx.register_udf(f);
    }
}

/// The Ident/literal text of a SET value.
fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s)
            | ast::Value::DoubleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s) => s.clone(),
            ast::Value::Number(n, _) => n.to_string(),
            ast::Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

fn object_name_text(name: &ast::ObjectName) -> String {
    name.0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn is_engine_setting(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("datafusion.") || n.starts_with("hepq.")
}

/// 25006, as PostgreSQL answers a write in a read-only transaction.
fn read_only_error(what: &str, reason: &str) -> PgError {
    PgError::new(
        "25006",
        format!("cannot execute {what} in a read-only transaction{reason}"),
    )
}

/// The access mode of `BEGIN`/`SET TRANSACTION` modes: `Some(true)` for `READ ONLY`.
fn read_only_mode(modes: &[ast::TransactionMode]) -> Option<bool> {
    modes.iter().rev().find_map(|m| match m {
        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadOnly) => Some(true),
        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite) => Some(false),
        _ => None,
    })
}

/// What a plan would write (`CREATE TABLE`, `INSERT`, `COPY TO a file`, …), for read-only
/// sessions; `None` for plans that only read. `EXPLAIN` (without `ANALYZE`) runs nothing.
fn write_kind(plan: &LogicalPlan) -> Option<String> {
    match plan {
        LogicalPlan::Explain(_) => None,
        LogicalPlan::Ddl(_) => command_tag(plan),
        LogicalPlan::Dml(_) => {
            command_tag(plan).map(|t| t.split(' ').next().unwrap_or("DML").to_string())
        }
        LogicalPlan::Copy(_) => Some("COPY TO a file".into()),
        other => other.inputs().into_iter().find_map(write_kind),
    }
}

/// What a statement would write, judged by its leading keywords (so that a read-only session
/// refuses even statements the engine could not plan, such as `ALTER TABLE`); queries,
/// `EXPLAIN` and `SET` are left to [`write_kind`] on the plan.
fn statement_write_kind(statement: &DFStatement) -> Option<String> {
    let text = statement.to_string();
    let mut words = text.split_whitespace().map(str::to_ascii_uppercase);
    let first = words.next()?;
    match first.as_str() {
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "TRUNCATE" | "GRANT" | "REVOKE" | "COMMENT"
        | "VACUUM" | "ANALYZE" | "REFRESH" | "REINDEX" | "CLUSTER" => Some(first),
        // `REFRESH MATERIALIZED VIEW` parses as a CALL of hepq's refresh procedure.
        "CALL" => Some("REFRESH MATERIALIZED VIEW".into()),
        "CREATE" | "DROP" | "ALTER" => {
            let mut what = first;
            for w in words.by_ref() {
                what.push(' ');
                what.push_str(&w);
                if !matches!(
                    w.as_str(),
                    "OR" | "REPLACE" | "EXTERNAL" | "TEMP" | "TEMPORARY" | "UNLOGGED" | "UNBOUNDED"
                ) {
                    break;
                }
            }
            Some(what)
        }
        "COPY" => Some("COPY TO a file".into()),
        _ => None,
    }
}

/// Sorts a parsed statement into what the server answers itself and what the engine plans.
fn classify(statement: DFStatement) -> Parsed {
    // DataFusion's parser reads `RESET` itself.
    if let DFStatement::Reset(hepq_sql::datafusion::sql::parser::ResetStatement::Variable(name)) =
        &statement
    {
        let name = object_name_text(name);
        if name.eq_ignore_ascii_case("all") {
            return Parsed::Command(Command::ResetAll);
        }
        if !is_engine_setting(&name) {
            return Parsed::Command(Command::Reset(name));
        }
    }
    let DFStatement::Statement(inner) = statement else {
        return Parsed::Engine(statement);
    };
    let command = match inner.as_ref() {
        ast::Statement::StartTransaction { modes, .. } => Command::Begin(read_only_mode(modes)),
        ast::Statement::Commit { .. } => Command::Commit,
        ast::Statement::Rollback {
            savepoint: None, ..
        } => Command::Rollback,
        ast::Statement::Rollback {
            savepoint: Some(s), ..
        } => Command::RollbackTo(s.value.clone()),
        ast::Statement::Savepoint { name } => Command::Savepoint(name.value.clone()),
        ast::Statement::ReleaseSavepoint { name } => Command::Release(name.value.clone()),
        ast::Statement::Discard { object_type } => match object_type {
            ast::DiscardObject::ALL => Command::DiscardAll,
            other => Command::Noop(format!("DISCARD {other}")),
        },
        ast::Statement::Deallocate { name, .. } => {
            if name.value.eq_ignore_ascii_case("all") {
                Command::Deallocate(None)
            } else {
                Command::Deallocate(Some(name.value.clone()))
            }
        }
        ast::Statement::Set(set) => match set {
            Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = object_name_text(variable);
                if is_engine_setting(&name) {
                    return Parsed::Engine(DFStatement::Statement(inner));
                }
                let value = if values.len() == 1
                    && matches!(&values[0], Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default") && i.quote_style.is_none())
                {
                    None
                } else {
                    Some(values.iter().map(expr_text).collect::<Vec<_>>().join(", "))
                };
                Command::Set(name, value)
            }
            Set::SetTimeZone { value, .. } => {
                Command::Set("TimeZone".into(), Some(expr_text(value)))
            }
            Set::SetNames { charset_name, .. } => {
                Command::Set("client_encoding".into(), Some(charset_name.value.clone()))
            }
            Set::SetTransaction { modes, session, .. } => match read_only_mode(modes) {
                Some(ro) => Command::Set(
                    if *session {
                        "default_transaction_read_only"
                    } else {
                        "transaction_read_only"
                    }
                    .into(),
                    Some(if ro { "on" } else { "off" }.into()),
                ),
                None => Command::Noop("SET".into()),
            },
            _ => Command::Noop("SET".into()),
        },
        ast::Statement::ShowVariable { variable } => {
            let words: Vec<String> = variable.iter().map(|i| i.value.clone()).collect();
            // `SHOW datafusion.execution.batch_size` arrives as three words, as does
            // `SHOW transaction isolation level`.
            let dotted = words
                .first()
                .is_some_and(|w| is_engine_setting(&format!("{w}.")));
            let name = words.join(if dotted { "." } else { " " });
            if is_engine_setting(&name) {
                return Parsed::Engine(DFStatement::Statement(inner));
            }
            if name.eq_ignore_ascii_case("all") {
                Command::ShowAll
            } else {
                Command::Show(name)
            }
        }
        ast::Statement::Reset(reset) => match &reset.reset {
            ast::Reset::ALL => Command::ResetAll,
            ast::Reset::ConfigurationParameter(name) => {
                let name = object_name_text(name);
                if is_engine_setting(&name) {
                    return Parsed::Engine(DFStatement::Statement(inner));
                }
                Command::Reset(name)
            }
        },
        ast::Statement::LISTEN { .. } => Command::Noop("LISTEN".into()),
        ast::Statement::UNLISTEN { .. } => Command::Noop("UNLISTEN".into()),
        ast::Statement::NOTIFY { .. } => Command::Noop("NOTIFY".into()),
        _ => {
            let mut inner = inner;
            colnames::name_like_postgres(&mut inner);
            rewrite(&mut inner);
            return Parsed::Engine(DFStatement::Statement(inner));
        }
    };
    Parsed::Command(command)
}

/// Whether `sql` starts with the word `keyword` (case-insensitive, as a whole word).
fn starts_with_keyword(sql: &str, keyword: &str) -> bool {
    let t = sql.trim_start();
    t.get(..keyword.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(keyword))
        && !t[keyword.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Parses `COPY … TO STDOUT`.
fn parse_copy(sql: &str) -> Result<Vec<Parsed>, PgError> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| PgError::new("42601", e.to_string()))?;
    let mut out = Vec::new();
    for s in statements {
        let ast::Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } = s
        else {
            out.push(classify(DFStatement::Statement(Box::new(s))));
            continue;
        };
        if !to || !matches!(target, CopyTarget::Stdout) {
            return Err(PgError::new(
                "0A000",
                "only COPY … TO STDOUT is supported over the wire (COPY FROM is not)",
            ));
        }
        let query_sql = match source {
            CopySource::Query(q) => q.to_string(),
            CopySource::Table {
                table_name,
                columns,
            } => {
                let cols = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!("SELECT {cols} FROM {table_name}")
            }
        };
        let mut query = Parser::parse_sql(&PostgreSqlDialect {}, &query_sql)
            .map_err(|e| PgError::new("42601", e.to_string()))?;
        let Some(mut q) = query.pop() else {
            return Err(PgError::new("42601", "COPY needs a query"));
        };
        rewrite(&mut q);
        let mut spec = CopySpec {
            query: DFStatement::Statement(Box::new(q)),
            format: CopyFormat::Text,
            header: false,
            delimiter: None,
            null: None,
        };
        for o in options {
            match o {
                CopyOption::Format(f) => {
                    spec.format = match f.value.to_ascii_lowercase().as_str() {
                        "text" => CopyFormat::Text,
                        "csv" => CopyFormat::Csv,
                        "binary" => CopyFormat::Binary,
                        other => {
                            return Err(PgError::new(
                                "22023",
                                format!("COPY format \"{other}\" not recognized"),
                            ));
                        }
                    }
                }
                CopyOption::Header(h) => spec.header = h,
                CopyOption::Delimiter(d) => spec.delimiter = Some(d),
                CopyOption::Null(n) => spec.null = Some(n),
                _ => {}
            }
        }
        for o in legacy_options {
            match o {
                CopyLegacyOption::Binary => spec.format = CopyFormat::Binary,
                CopyLegacyOption::Csv(_) => spec.format = CopyFormat::Csv,
                CopyLegacyOption::Delimiter(d) => spec.delimiter = Some(d),
                CopyLegacyOption::Null(n) => spec.null = Some(n),
                CopyLegacyOption::Header => spec.header = true,
                _ => {}
            }
        }
        if spec.header && spec.format == CopyFormat::Binary {
            return Err(PgError::new(
                "0A000",
                "cannot specify HEADER in BINARY mode",
            ));
        }
        out.push(Parsed::Copy(spec));
    }
    Ok(out)
}

/// The command tag of a plan that does not return rows (`None` for queries).
fn command_tag(plan: &LogicalPlan) -> Option<String> {
    use hepq_sql::datafusion::logical_expr::Statement as S;
    if let Some(tag) = hepq_sql::command::command_tag(plan) {
        return Some(tag.to_string());
    }
    Some(match plan {
        LogicalPlan::Ddl(d) => match d {
            DdlStatement::CreateExternalTable(_) | DdlStatement::CreateMemoryTable(_) => {
                "CREATE TABLE"
            }
            DdlStatement::CreateView(_) => "CREATE VIEW",
            DdlStatement::CreateCatalogSchema(_) => "CREATE SCHEMA",
            DdlStatement::CreateCatalog(_) => "CREATE DATABASE",
            DdlStatement::CreateIndex(_) => "CREATE INDEX",
            DdlStatement::DropTable(_) => "DROP TABLE",
            DdlStatement::DropView(_) => "DROP VIEW",
            DdlStatement::DropCatalogSchema(_) => "DROP SCHEMA",
            DdlStatement::CreateFunction(_) => "CREATE FUNCTION",
            DdlStatement::DropFunction(_) => "DROP FUNCTION",
        }
        .to_string(),
        LogicalPlan::Statement(s) => match s {
            S::SetVariable(_) => "SET",
            S::ResetVariable(_) => "RESET",
            S::Prepare(_) => "PREPARE",
            S::Deallocate(_) => "DEALLOCATE",
            S::TransactionStart(_) => "BEGIN",
            S::TransactionEnd(_) => "COMMIT",
            S::Execute(_) => return None,
        }
        .to_string(),
        LogicalPlan::Dml(d) => match &d.op {
            WriteOp::Insert(_) => "INSERT 0 {n}",
            WriteOp::Delete => "DELETE {n}",
            WriteOp::Update => "UPDATE {n}",
            WriteOp::Ctas => "SELECT {n}",
            WriteOp::Truncate => "TRUNCATE TABLE",
            _ => "MERGE {n}",
        }
        .to_string(),
        LogicalPlan::Copy(_) => "COPY {n}".to_string(),
        _ => return None,
    })
}

fn count_of(batches: &[RecordBatch]) -> u64 {
    batches
        .first()
        .filter(|b| b.num_rows() > 0 && b.num_columns() > 0)
        .and_then(|b| {
            ScalarValue::try_from_array(b.column(0), 0)
                .ok()
                .and_then(|v| v.cast_to(&DataType::UInt64).ok())
        })
        .and_then(|v| match v {
            ScalarValue::UInt64(n) => n,
            _ => None,
        })
        .unwrap_or(0)
}

fn row_description(fields: &[FieldRef], binary: &[bool]) -> B {
    B::RowDescription(RowDescription::new(
        fields
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let t = types::column_type(f);
                FieldDescription::new(
                    f.name().clone(),
                    0,
                    0,
                    t.oid,
                    t.len,
                    t.typmod,
                    i16::from(binary.get(k).copied().unwrap_or(false)),
                )
            })
            .collect(),
    ))
}

fn formats_for(codes: &[i16], n: usize) -> Result<Vec<bool>, PgError> {
    match codes.len() {
        0 => Ok(vec![false; n]),
        1 => Ok(vec![codes[0] == 1; n]),
        k if k == n => Ok(codes.iter().map(|c| *c == 1).collect()),
        k => Err(PgError::new(
            "08P01",
            format!("bind message has {k} result formats but query has {n} columns"),
        )),
    }
}

/// Waits for a cancel request (never returns if the server forgot this backend).
async fn cancelled(rx: &mut watch::Receiver<u64>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending::<()>().await,
    }
}

/// Resolves when the client has closed its side of the connection (or it broke). Input that
/// is already buffered or still arriving (pipelined messages) means the client is there.
async fn client_gone(input: &mut Input) {
    use tokio::io::AsyncBufReadExt;
    if input.buffer().is_empty() {
        match input.fill_buf().await {
            Ok([]) | Err(_) => return,
            Ok(_) => {}
        }
    }
    let mut probe = [0u8; 1];
    match input.get_mut().peek(&mut probe).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending::<()>().await,
    }
}

fn hung_up() -> Failure {
    Failure::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "client closed the connection during a statement",
    ))
}

/// Runs `fut` unless a cancel request, the deadline or a client hang-up comes first.
async fn guarded<T>(
    cancel: &mut watch::Receiver<u64>,
    input: &mut Input,
    deadline: Option<Instant>,
    fut: impl std::future::Future<Output = Res<T>>,
) -> Res<T> {
    tokio::select! {
        r = fut => r,
        _ = cancelled(cancel) => Err(PgError::cancelled().into()),
        _ = until(deadline) => Err(PgError::timed_out().into()),
        _ = client_gone(input) => Err(hung_up()),
    }
}

fn data_row(out: &mut BytesMut, encoders: &[ColumnEncoder], binary: &[bool], row: usize) {
    out.put_u8(b'D');
    let at = out.len();
    out.put_i32(0);
    out.put_i16(encoders.len() as i16);
    for (k, e) in encoders.iter().enumerate() {
        e.write_field(row, binary.get(k).copied().unwrap_or(false), out);
    }
    let len = (out.len() - at) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn encoders(batch: &RecordBatch, fields: &[FieldRef]) -> Result<Vec<ColumnEncoder>, PgError> {
    batch
        .columns()
        .iter()
        .zip(fields)
        .map(|(a, f)| ColumnEncoder::new(a, f).map_err(|e| PgError::new("22003", e.to_string())))
        .collect()
}

impl Connection {
    fn setting(&self, name: &str) -> Option<String> {
        self.settings
            .lock()
            .ok()
            .and_then(|s| s.get(name).map(str::to_string))
    }

    /// Why writes are refused in this session now (`Some("")` for a read-only transaction,
    /// `Some(" (user … is read-only)")` for a read-only role), or `None`.
    fn read_only_reason(&self) -> Option<String> {
        if self.read_only_role {
            return Some(if self.server_read_only {
                ": the server is read-only".to_string()
            } else {
                format!(": user \"{}\" is read-only", self.user)
            });
        }
        let on = |name: &str| {
            self.setting(name).is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "on" | "true" | "yes" | "1"
                )
            })
        };
        let setting = if self.tx == Tx::Idle {
            "default_transaction_read_only"
        } else {
            "transaction_read_only"
        };
        on(setting).then(String::new)
    }

    /// Refuses a statement that writes, in a read-only session (before planning).
    fn check_statement_writable(&self, parsed: &Parsed) -> Result<(), PgError> {
        let statement = match parsed {
            Parsed::Engine(s) => s,
            _ => return Ok(()),
        };
        if let Some(reason) = self.read_only_reason()
            && let Some(what) = statement_write_kind(statement)
        {
            return Err(read_only_error(&what, &reason));
        }
        Ok(())
    }

    /// Refuses a plan that writes, in a read-only session.
    fn check_plan_writable(&self, plan: &LogicalPlan) -> Result<(), PgError> {
        if let Some(reason) = self.read_only_reason()
            && let Some(what) = write_kind(plan)
        {
            return Err(read_only_error(&what, &reason));
        }
        Ok(())
    }

    fn deadline(&self) -> Option<Instant> {
        self.settings
            .lock()
            .ok()
            .and_then(|s| s.statement_timeout())
            .map(|d: Duration| Instant::now() + d)
    }

    async fn run(&mut self, w: &mut W) -> std::io::Result<()> {
        let mut skipping = false;
        loop {
            let message = match read_message(&mut self.input).await? {
                None => return Ok(()),
                Some(Err(e)) => {
                    w.push(PgError::fatal("08P01", e.0).to_message())?;
                    w.flush().await?;
                    return Ok(());
                }
                Some(Ok(m)) => m,
            };
            let extended = matches!(
                message,
                Frontend::Parse { .. }
                    | Frontend::Bind { .. }
                    | Frontend::Describe { .. }
                    | Frontend::Execute { .. }
                    | Frontend::Close { .. }
            );
            if skipping && extended {
                continue;
            }
            match &message {
                Frontend::Query(sql) => self.set_active(sql),
                Frontend::Parse { query, .. } => self.set_active(query),
                Frontend::Execute { portal, .. } => {
                    if let Some(p) = self.portals.get(portal) {
                        let sql = Arc::clone(&p.prepared.sql);
                        self.set_active(&sql);
                    }
                }
                _ => {}
            }
            let ready = matches!(message, Frontend::Query(_) | Frontend::Sync);
            let result = match message {
                Frontend::Terminate => return Ok(()),
                Frontend::Query(sql) => {
                    skipping = false;
                    self.simple_query(&sql, w).await
                }
                Frontend::Sync => {
                    skipping = false;
                    if self.tx == Tx::Idle {
                        // The implicit transaction ends: portals go, WITH HOLD cursors stay.
                        self.portals
                            .retain(|_, p| p.cursor.as_ref().is_some_and(|c| c.hold));
                    }
                    w.push(B::ReadyForQuery(ReadyForQuery::new(tx_status(self.tx))))?;
                    w.flush().await?;
                    Ok(())
                }
                Frontend::Flush => {
                    w.flush().await?;
                    Ok(())
                }
                Frontend::Parse {
                    name,
                    query,
                    param_types,
                } => self.parse(name, &query, param_types, w),
                Frontend::Bind {
                    portal,
                    statement,
                    param_formats,
                    params,
                    result_formats,
                } => {
                    self.bind(
                        portal,
                        &statement,
                        &param_formats,
                        &params,
                        result_formats,
                        w,
                    )
                    .await
                }
                Frontend::Describe { kind, name } => self.describe(kind, &name, w).await,
                Frontend::Execute { portal, max_rows } => self.execute(&portal, max_rows, w).await,
                Frontend::Close { kind, name } => {
                    if kind == b'S' {
                        self.statements.remove(&name);
                    } else {
                        self.portals.remove(&name);
                    }
                    w.push(B::CloseComplete(CloseComplete::new()))?;
                    Ok(())
                }
                Frontend::CopyIn => Err(PgError::new("08P01", "unexpected COPY data").into()),
                Frontend::Password(_) => {
                    Err(PgError::new("08P01", "unexpected password message").into())
                }
            };
            match result {
                Ok(()) => {}
                Err(Failure::Io(e)) => return Err(e),
                Err(Failure::Pg(e)) => {
                    w.push(e.to_message())?;
                    if self.tx == Tx::Block {
                        self.tx = Tx::Failed;
                    }
                    if extended {
                        skipping = true;
                    } else {
                        w.push(B::ReadyForQuery(ReadyForQuery::new(tx_status(self.tx))))?;
                    }
                    w.flush().await?;
                }
            }
            if ready {
                self.set_idle();
            }
        }
    }

    /// `pg_stat_activity`: a statement starts.
    fn set_active(&self, sql: &str) {
        let now = super::now_micros();
        let app = self.setting("application_name").unwrap_or_default();
        if let Ok(mut a) = self.activity.lock() {
            if a.state != "active" {
                a.state_change = now;
            }
            a.state = "active";
            a.query_start = Some(now);
            a.query = sql.to_string();
            a.application_name = app;
            if self.tx != Tx::Idle && a.xact_start.is_none() {
                a.xact_start = Some(now);
            }
        }
    }

    /// `pg_stat_activity`: the connection waits for the client (after ReadyForQuery).
    fn set_idle(&self) {
        let state = match self.tx {
            Tx::Idle => "idle",
            Tx::Block => "idle in transaction",
            Tx::Failed => "idle in transaction (aborted)",
        };
        let app = self.setting("application_name").unwrap_or_default();
        if let Ok(mut a) = self.activity.lock() {
            if a.state != state {
                a.state_change = super::now_micros();
            }
            a.state = state;
            a.application_name = app;
            if self.tx == Tx::Idle {
                a.xact_start = None;
            } else if a.xact_start.is_none() {
                a.xact_start = a.query_start;
            }
        }
    }

    /// Splits and classifies SQL text.
    fn parse_sql(&self, sql: &str) -> Result<Vec<Parsed>, PgError> {
        if sql.chars().all(|c| c == ';' || c.is_whitespace()) {
            return Ok(vec![]);
        }
        // `COPY … TO STDOUT` runs; `COPY … FROM STDIN` (DuckDB's postgres extension sends it
        // for `INSERT` and `CREATE TABLE … AS` into an attached database) gets 0A000 from
        // `parse_copy` instead of the engine's parse error.
        if starts_with_keyword(sql, "copy") && {
            let lower = sql.to_ascii_lowercase();
            lower.contains("stdout") || lower.contains("stdin")
        } {
            return parse_copy(sql);
        }
        if let Some(parsed) = self.parse_cursor_sql(sql)? {
            return Ok(parsed);
        }
        let statements = match DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {}) {
            Ok(s) => s,
            Err(pg_err) => match self.session.parse(sql) {
                // Several statements, some of which only we parse (`…; MOVE 4 FROM c; …`):
                // each on its own.
                Err(_) if cursor::split_statements(sql).len() > 1 => {
                    let mut out = Vec::new();
                    for piece in cursor::split_statements(sql) {
                        out.extend(self.parse_sql(piece)?);
                    }
                    return Ok(out);
                }
                Ok(s) => s.into(),
                Err(_) => {
                    return Err(PgError::new(
                        "42601",
                        hepq_sql::Error::Engine(pg_err).to_string(),
                    ));
                }
            },
        };
        let mut out = Vec::new();
        for statement in statements {
            // Cursor statements later in a message (`…; CLOSE ALL; …`) are parsed by us.
            if let DFStatement::Statement(inner) = &statement
                && matches!(
                    inner.as_ref(),
                    ast::Statement::Declare { .. }
                        | ast::Statement::Fetch { .. }
                        | ast::Statement::Close { .. }
                )
                && let Some(parsed) = self.parse_cursor_sql(&inner.to_string())?
            {
                out.extend(parsed);
                continue;
            }
            out.push(classify(statement));
        }
        Ok(out)
    }

    /// `DECLARE`, `FETCH`, `MOVE` and `CLOSE` (and the statements after them in the same
    /// message); `None` if `sql` starts with none of them.
    fn parse_cursor_sql(&self, sql: &str) -> Result<Option<Vec<Parsed>>, PgError> {
        let (first, rest) = if starts_with_keyword(sql, "declare") {
            let head = cursor::parse_declare(sql)?;
            let mut parsed = self.parse_sql(&sql[head.query_at..])?;
            if parsed.is_empty() {
                return Err(PgError::new("42601", "DECLARE CURSOR needs a query"));
            }
            let Parsed::Engine(query) = parsed.remove(0) else {
                return Err(PgError::new(
                    "42P11",
                    "DECLARE CURSOR needs a query (SELECT, VALUES, WITH …)",
                ));
            };
            let declare = Parsed::Declare(DeclareSpec {
                name: head.name,
                binary: head.binary,
                hold: head.hold,
                query,
            });
            let mut out = vec![declare];
            out.extend(parsed);
            return Ok(Some(out));
        } else if starts_with_keyword(sql, "fetch") || starts_with_keyword(sql, "move") {
            let (spec, is_move, rest) = cursor::parse_fetch(sql)?;
            (Command::Fetch(spec, is_move), rest)
        } else if starts_with_keyword(sql, "close") {
            let (name, rest) = cursor::parse_close(sql)?;
            (Command::CloseCursor(name), rest)
        } else {
            return Ok(None);
        };
        let mut out = vec![Parsed::Command(first)];
        out.extend(self.parse_sql(&sql[rest..])?);
        Ok(Some(out))
    }

    async fn simple_query(&mut self, sql: &str, w: &mut W) -> Res<()> {
        let parsed = self.parse_sql(sql)?;
        if parsed.is_empty() {
            w.push(B::EmptyQueryResponse(EmptyQueryResponse::new()))?;
        }
        for p in parsed {
            self.publish_cursors();
            self.check_failed_tx(&p)?;
            self.check_statement_writable(&p)?;
            match p {
                Parsed::Command(Command::Fetch(spec, is_move)) => {
                    self.fetch(&spec, is_move, None, true, w).await?
                }
                Parsed::Command(c) => self.command(c, w, true)?,
                Parsed::Declare(spec) => {
                    let plan = self.plan_of(&spec.query).await?;
                    self.declare(&spec, plan, w).await?;
                }
                Parsed::TypeInfo => {
                    return Err(PgError::new(
                        "42601",
                        "the type introspection query needs the extended query protocol",
                    )
                    .into());
                }
                Parsed::Engine(stmt) => {
                    self.cancel.borrow_and_update();
                    let deadline = self.deadline();
                    let session = self.session.clone();
                    let s2 = stmt.clone();
                    let plan = guarded(&mut self.cancel, &mut self.input, deadline, async move {
                        Ok(session.plan_statement(s2).await?)
                    })
                    .await?;
                    match command_tag(&plan) {
                        Some(tag) => {
                            let tag = self.run_command_plan(stmt, plan, tag, deadline).await?;
                            w.push(B::CommandComplete(CommandComplete::new(tag)))?;
                        }
                        None => {
                            let mut st = self.start_stream(plan, &[], deadline).await?;
                            w.push(row_description(&st.fields, &st.binary))?;
                            self.send_rows(&mut st, 0, deadline, w).await?;
                            w.push(B::CommandComplete(CommandComplete::new(format!(
                                "SELECT {}",
                                st.sent
                            ))))?;
                        }
                    }
                }
                Parsed::Copy(spec) => {
                    self.cancel.borrow_and_update();
                    let deadline = self.deadline();
                    let session = self.session.clone();
                    let q = spec.query.clone();
                    let plan = guarded(&mut self.cancel, &mut self.input, deadline, async move {
                        Ok(session.plan_statement(q).await?)
                    })
                    .await?;
                    self.copy_out(&spec, plan, deadline, w).await?;
                }
            }
        }
        w.push(B::ReadyForQuery(ReadyForQuery::new(tx_status(self.tx))))?;
        w.flush().await?;
        Ok(())
    }

    fn check_failed_tx(&self, p: &Parsed) -> Result<(), PgError> {
        if self.tx == Tx::Failed
            && !matches!(
                p,
                Parsed::Command(Command::Rollback | Command::Commit | Command::RollbackTo(_))
            )
        {
            return Err(PgError::in_failed_transaction());
        }
        Ok(())
    }

    async fn run_command_plan(
        &mut self,
        stmt: DFStatement,
        plan: LogicalPlan,
        tag: String,
        deadline: Option<Instant>,
    ) -> Res<String> {
        self.check_plan_writable(&plan)?;
        let session = self.session.clone();
        let is_ddl = matches!(plan, LogicalPlan::Ddl(_));
        let batches = guarded(&mut self.cancel, &mut self.input, deadline, async move {
            // DDL goes through hepq's statement runner (it handles S3 table options).
            let df = if is_ddl {
                session.run_statement(stmt).await?
            } else {
                session.context().execute_logical_plan(plan).await?
            };
            Ok(df.collect().await?)
        })
        .await?;
        Ok(tag.replace("{n}", &count_of(&batches).to_string()))
    }

    async fn start_stream(
        &mut self,
        plan: LogicalPlan,
        formats: &[i16],
        deadline: Option<Instant>,
    ) -> Res<Streaming> {
        self.check_plan_writable(&plan)?;
        let session = self.session.clone();
        let stream = guarded(&mut self.cancel, &mut self.input, deadline, async move {
            let df = session.context().execute_logical_plan(plan).await?;
            Ok(df.execute_stream().await?)
        })
        .await?;
        let fields: Vec<FieldRef> = stream.schema().fields().iter().cloned().collect();
        let binary = formats_for(formats, fields.len())?;
        Ok(Streaming {
            stream,
            fields,
            binary,
            current: None,
            sent: 0,
            ended: false,
        })
    }

    /// Sends up to `max_rows` rows (0 = all); returns whether rows remain (suspended).
    async fn send_rows(
        &mut self,
        st: &mut Streaming,
        max_rows: usize,
        deadline: Option<Instant>,
        w: &mut W,
    ) -> Res<bool> {
        let mut sent_now = 0usize;
        loop {
            if max_rows > 0 && sent_now == max_rows {
                return Ok(true);
            }
            if let Some((enc, rows, next)) = &mut st.current
                && *next < *rows
            {
                data_row(w.buffer(), enc, &st.binary, *next);
                *next += 1;
                sent_now += 1;
                st.sent += 1;
                w.maybe_flush().await?;
                continue;
            }
            st.current = None;
            let next = tokio::select! {
                b = st.stream.next() => b,
                _ = cancelled(&mut self.cancel) => return Err(PgError::cancelled().into()),
                _ = client_gone(&mut self.input) => return Err(hung_up()),
                _ = until(deadline) => return Err(PgError::timed_out().into()),
            };
            match next {
                None => {
                    st.ended = true;
                    return Ok(false);
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(batch)) => {
                    if batch.num_rows() > 0 {
                        let enc = encoders(&batch, &st.fields)?;
                        st.current = Some((enc, batch.num_rows(), 0));
                    }
                }
            }
        }
    }

    /// `SET name = value` (`None`: the session's default, as `RESET` and `SET … TO DEFAULT`).
    fn set_setting(&mut self, name: String, value: Option<String>, w: &mut W) -> Res<()> {
        let value = match value {
            Some(v) => v,
            None => self.defaults.get(&name).unwrap_or_default().to_string(),
        };
        if self.read_only_role
            && matches!(
                name.to_ascii_lowercase().as_str(),
                "default_transaction_read_only" | "transaction_read_only"
            )
            && !matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "on" | "true" | "yes" | "1"
            )
        {
            let reason = self.read_only_reason().unwrap_or_default();
            return Err(PgError::new(
                "25006",
                format!("cannot set transaction read-write mode{reason}"),
            )
            .into());
        }
        let display = {
            let mut s = self
                .settings
                .lock()
                .map_err(|_| PgError::new("XX000", "settings lock poisoned"))?;
            s.set(&name, &value).map_err(|m| PgError::new("22023", m))?;
            s.display_name(&name)
        };
        if REPORTED.iter().any(|r| r.eq_ignore_ascii_case(&display)) {
            w.push(B::ParameterStatus(ParameterStatus::new(display, value)))?;
        }
        Ok(())
    }

    fn command(&mut self, c: Command, w: &mut W, simple: bool) -> Res<()> {
        let tag: String = match c {
            Command::Begin(mode) => {
                if self.tx != Tx::Idle {
                    w.push(notice(
                        "WARNING",
                        "25001",
                        "there is already a transaction in progress",
                    ))?;
                } else if !self.read_only_role {
                    let default = self
                        .setting("default_transaction_read_only")
                        .unwrap_or_else(|| "off".into());
                    let value = match mode {
                        Some(true) => "on".to_string(),
                        Some(false) => "off".to_string(),
                        None => default,
                    };
                    if let Ok(mut s) = self.settings.lock() {
                        let _ = s.set("transaction_read_only", &value);
                    }
                }
                self.tx = Tx::Block;
                "BEGIN".into()
            }
            Command::Commit => {
                let failed = self.tx == Tx::Failed;
                if self.tx == Tx::Idle {
                    w.push(notice(
                        "WARNING",
                        "25P01",
                        "there is no transaction in progress",
                    ))?;
                }
                self.end_transaction();
                if failed { "ROLLBACK" } else { "COMMIT" }.into()
            }
            Command::Rollback => {
                if self.tx == Tx::Idle {
                    w.push(notice(
                        "WARNING",
                        "25P01",
                        "there is no transaction in progress",
                    ))?;
                }
                self.end_transaction();
                "ROLLBACK".into()
            }
            Command::Savepoint(name) => {
                if self.tx == Tx::Idle {
                    return Err(PgError::new(
                        "25P01",
                        "SAVEPOINT can only be used in transaction blocks",
                    )
                    .into());
                }
                self.savepoints.push(name);
                "SAVEPOINT".into()
            }
            Command::Release(name) | Command::RollbackTo(name) if self.tx == Tx::Idle => {
                let _ = name;
                return Err(PgError::new(
                    "25P01",
                    "RELEASE SAVEPOINT and ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
                )
                .into());
            }
            Command::Release(name) => {
                let Some(at) = self.savepoints.iter().rposition(|s| *s == name) else {
                    return Err(PgError::new(
                        "3B001",
                        format!("savepoint \"{name}\" does not exist"),
                    )
                    .into());
                };
                self.savepoints.truncate(at);
                "RELEASE".into()
            }
            Command::RollbackTo(name) => {
                let Some(at) = self.savepoints.iter().rposition(|s| *s == name) else {
                    return Err(PgError::new(
                        "3B001",
                        format!("savepoint \"{name}\" does not exist"),
                    )
                    .into());
                };
                self.savepoints.truncate(at + 1);
                self.tx = Tx::Block;
                "ROLLBACK".into()
            }
            Command::DiscardAll => {
                if self.tx != Tx::Idle {
                    return Err(PgError::new(
                        "25001",
                        "DISCARD ALL cannot run inside a transaction block",
                    )
                    .into());
                }
                self.statements.clear();
                self.portals.clear();
                if let Ok(mut s) = self.settings.lock() {
                    *s = self.defaults.clone();
                }
                "DISCARD ALL".into()
            }
            Command::Deallocate(None) => {
                self.statements.retain(|name, _| name.is_empty());
                "DEALLOCATE ALL".into()
            }
            Command::Deallocate(Some(name)) => {
                if self.statements.remove(&name).is_none() {
                    return Err(PgError::new(
                        "26000",
                        format!("prepared statement \"{name}\" does not exist"),
                    )
                    .into());
                }
                "DEALLOCATE".into()
            }
            Command::Set(name, value) => {
                self.set_setting(name, value, w)?;
                "SET".into()
            }
            Command::Reset(name) => {
                self.set_setting(name, None, w)?;
                "RESET".into()
            }
            Command::ResetAll => {
                if let Ok(mut s) = self.settings.lock() {
                    *s = self.defaults.clone();
                }
                "RESET".into()
            }
            Command::Show(name) => {
                let (display, value) = {
                    let s = self
                        .settings
                        .lock()
                        .map_err(|_| PgError::new("XX000", "settings lock poisoned"))?;
                    let Some(v) = s.get(&name).map(str::to_string) else {
                        return Err(PgError::new(
                            "42704",
                            format!("unrecognized configuration parameter \"{name}\""),
                        )
                        .into());
                    };
                    (s.display_name(&name), v)
                };
                let field: FieldRef = Arc::new(hepq_sql::datafusion::arrow::datatypes::Field::new(
                    display.clone(),
                    DataType::Utf8,
                    true,
                ));
                if simple {
                    w.push(row_description(&[field], &[false]))?;
                }
                text_row(w.buffer(), &[Some(value.as_str())]);
                "SHOW".into()
            }
            Command::ShowAll => {
                let all = self.settings.lock().map(|s| s.all()).unwrap_or_default();
                if simple {
                    w.push(row_description(&show_all_fields(), &[false; 3]))?;
                }
                for (n, v) in &all {
                    text_row(w.buffer(), &[Some(n.as_str()), Some(v.as_str()), Some("")]);
                }
                "SHOW".into()
            }
            Command::Noop(tag) => tag,
            Command::CloseCursor(None) => {
                self.portals.retain(|_, p| p.cursor.is_none());
                "CLOSE CURSOR ALL".into()
            }
            Command::CloseCursor(Some(name)) => {
                if self.portals.get(&name).is_none_or(|p| p.cursor.is_none()) {
                    return Err(
                        PgError::new("34000", format!("cursor \"{name}\" does not exist")).into(),
                    );
                }
                self.portals.remove(&name);
                "CLOSE CURSOR".into()
            }
            Command::Fetch(..) => {
                return Err(PgError::new("XX000", "FETCH reached the command runner").into());
            }
        };
        w.push(B::CommandComplete(CommandComplete::new(tag)))?;
        Ok(())
    }

    /// COMMIT or ROLLBACK: the transaction's cursors (all but `WITH HOLD` ones) close.
    fn end_transaction(&mut self) {
        self.tx = Tx::Idle;
        self.savepoints.clear();
        self.portals
            .retain(|_, p| p.cursor.as_ref().is_none_or(|c| c.hold));
        if !self.read_only_role {
            let default = self
                .setting("default_transaction_read_only")
                .unwrap_or_else(|| "off".into());
            if let Ok(mut s) = self.settings.lock() {
                let _ = s.set("transaction_read_only", &default);
            }
        }
    }

    fn parse(&mut self, name: String, sql: &str, mut declared: Vec<u32>, w: &mut W) -> Res<()> {
        let mut parsed = if introspect::is_asyncpg_typeinfo(sql) {
            declared = vec![introspect::PARAM_OID];
            vec![Parsed::TypeInfo]
        } else {
            self.parse_sql(sql)?
        };
        if parsed.len() > 1 {
            return Err(PgError::new(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            )
            .into());
        }
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(PgError::new(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            )
            .into());
        }
        self.statements.insert(
            name,
            Arc::new(Prepared {
                parsed: parsed.pop(),
                declared,
                sql: sql.into(),
            }),
        );
        w.push(B::ParseComplete(ParseComplete::new()))?;
        Ok(())
    }

    /// The engine statement answering asyncpg's type introspection for `oids`.
    fn typeinfo_statement(&self, oids: &[i64]) -> Result<DFStatement, PgError> {
        match self.parse_sql(&introspect::typeinfo_sql(oids))?.pop() {
            Some(Parsed::Engine(stmt)) => Ok(stmt),
            _ => Err(PgError::new(
                "XX000",
                "the type introspection query did not parse",
            )),
        }
    }

    /// Shows the open cursors in `pg_cursors`.
    fn publish_cursors(&self) {
        let mut rows: Vec<catalog::CursorRow> = self
            .portals
            .iter()
            .filter_map(|(name, p)| {
                let c = p.cursor.as_ref()?;
                Some(catalog::CursorRow {
                    name: name.clone(),
                    statement: c.statement.clone(),
                    is_holdable: c.hold,
                    is_binary: c.binary,
                    created_micros: c.created_micros,
                })
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        if let Ok(mut shown) = self.cursor_rows.lock() {
            *shown = rows;
        }
    }

    async fn plan_of(&mut self, stmt: &DFStatement) -> Res<LogicalPlan> {
        self.publish_cursors();
        self.cancel.borrow_and_update();
        let deadline = self.deadline();
        let session = self.session.clone();
        let stmt = stmt.clone();
        guarded(&mut self.cancel, &mut self.input, deadline, async move {
            Ok(session.plan_statement(stmt).await?)
        })
        .await
    }

    async fn bind(
        &mut self,
        portal: String,
        statement: &str,
        param_formats: &[i16],
        params: &[Option<Bytes>],
        formats: Vec<i16>,
        w: &mut W,
    ) -> Res<()> {
        let Some(prepared) = self.statements.get(statement).cloned() else {
            return Err(PgError::new(
                "26000",
                format!("prepared statement \"{statement}\" does not exist"),
            )
            .into());
        };
        if let Some(p) = &prepared.parsed {
            self.check_failed_tx(p)?;
            self.check_statement_writable(p)?;
        }
        let query = match &prepared.parsed {
            Some(Parsed::Engine(s)) => Some(s.clone()),
            Some(Parsed::Copy(c)) => Some(c.query.clone()),
            Some(Parsed::Declare(d)) => Some(d.query.clone()),
            _ => None,
        };
        let plan = match query {
            None if matches!(prepared.parsed, Some(Parsed::TypeInfo)) => {
                let oids = typeinfo_oids(param_formats, params)?;
                let stmt = self.typeinfo_statement(&oids)?;
                Some(self.plan_of(&stmt).await?)
            }
            Some(stmt) => {
                let plan = self.plan_of(&stmt).await?;
                Some(bind_params(
                    plan,
                    &prepared.declared,
                    param_formats,
                    params,
                )?)
            }
            None => None,
        };
        self.portals.insert(
            portal,
            Portal {
                prepared,
                plan,
                formats,
                state: PortalState::NotStarted,
                cursor: None,
            },
        );
        w.push(B::BindComplete(BindComplete::new()))?;
        Ok(())
    }

    async fn describe(&mut self, kind: u8, name: &str, w: &mut W) -> Res<()> {
        if kind == b'S' {
            let Some(prepared) = self.statements.get(name).cloned() else {
                return Err(PgError::new(
                    "26000",
                    format!("prepared statement \"{name}\" does not exist"),
                )
                .into());
            };
            match &prepared.parsed {
                Some(Parsed::Declare(spec)) => {
                    let plan = self.plan_of(&spec.query).await?;
                    let oids = param_oids(&plan, &prepared.declared)?;
                    w.push(B::ParameterDescription(ParameterDescription::new(oids)))?;
                    w.push(B::NoData(NoData::new()))?;
                }
                Some(Parsed::TypeInfo) => {
                    let stmt = self.typeinfo_statement(&[])?;
                    let plan = self.plan_of(&stmt).await?;
                    w.push(B::ParameterDescription(ParameterDescription::new(vec![
                        introspect::PARAM_OID,
                    ])))?;
                    let fields: Vec<FieldRef> =
                        plan.schema().as_arrow().fields().iter().cloned().collect();
                    w.push(row_description(&fields, &[]))?;
                }
                Some(Parsed::Engine(stmt)) => {
                    let plan = self.plan_of(stmt).await?;
                    let oids = param_oids(&plan, &prepared.declared)?;
                    w.push(B::ParameterDescription(ParameterDescription::new(oids)))?;
                    if command_tag(&plan).is_some() {
                        w.push(B::NoData(NoData::new()))?;
                    } else {
                        let fields: Vec<FieldRef> =
                            plan.schema().as_arrow().fields().iter().cloned().collect();
                        w.push(row_description(&fields, &[]))?;
                    }
                }
                other => {
                    w.push(B::ParameterDescription(ParameterDescription::new(
                        prepared.declared.clone(),
                    )))?;
                    self.describe_non_engine(other.as_ref(), &[], w)?;
                }
            }
            return Ok(());
        }
        let Some(portal) = self.portals.get(name) else {
            return Err(PgError::new("34000", format!("portal \"{name}\" does not exist")).into());
        };
        if let Some(c) = &portal.cursor {
            let binary = formats_for(&portal.formats, c.fields.len())?;
            w.push(row_description(&c.fields, &binary))?;
            return Ok(());
        }
        match (&portal.plan, &portal.prepared.parsed) {
            (Some(plan), Some(Parsed::Engine(_) | Parsed::TypeInfo)) => {
                if command_tag(plan).is_some() {
                    w.push(B::NoData(NoData::new()))?;
                } else {
                    let fields: Vec<FieldRef> =
                        plan.schema().as_arrow().fields().iter().cloned().collect();
                    let binary = formats_for(&portal.formats, fields.len())?;
                    w.push(row_description(&fields, &binary))?;
                }
            }
            (_, other) => {
                let formats = portal.formats.clone();
                let other = other.clone();
                self.describe_non_engine(other.as_ref(), &formats, w)?;
            }
        }
        Ok(())
    }

    fn describe_non_engine(&self, parsed: Option<&Parsed>, formats: &[i16], w: &mut W) -> Res<()> {
        match parsed {
            Some(Parsed::Command(Command::Show(name))) => {
                let display = self
                    .settings
                    .lock()
                    .map(|s| s.display_name(name))
                    .unwrap_or_else(|_| name.clone());
                let field: FieldRef = Arc::new(hepq_sql::datafusion::arrow::datatypes::Field::new(
                    display,
                    DataType::Utf8,
                    true,
                ));
                let binary = formats_for(formats, 1)?;
                w.push(row_description(&[field], &binary))?;
            }
            Some(Parsed::Command(Command::ShowAll)) => {
                w.push(row_description(
                    &show_all_fields(),
                    &formats_for(formats, 3)?,
                ))?;
            }
            Some(Parsed::Command(Command::Fetch(spec, false))) => {
                let Some(c) = self.portals.get(&spec.name).and_then(|p| p.cursor.as_ref()) else {
                    return Err(PgError::new(
                        "34000",
                        format!("cursor \"{}\" does not exist", spec.name),
                    )
                    .into());
                };
                let binary = if formats.is_empty() {
                    vec![c.binary; c.fields.len()]
                } else {
                    formats_for(formats, c.fields.len())?
                };
                w.push(row_description(&c.fields, &binary))?;
            }
            _ => w.push(B::NoData(NoData::new()))?,
        }
        Ok(())
    }

    async fn execute(&mut self, name: &str, max_rows: i32, w: &mut W) -> Res<()> {
        let Some(mut portal) = self.portals.remove(name) else {
            return Err(PgError::new("34000", format!("portal \"{name}\" does not exist")).into());
        };
        let result = self.execute_portal(&mut portal, max_rows, w).await;
        if !matches!(portal.state, PortalState::Done) || !name.is_empty() {
            self.portals.insert(name.to_string(), portal);
        }
        result
    }

    async fn execute_portal(&mut self, portal: &mut Portal, max_rows: i32, w: &mut W) -> Res<()> {
        let max_rows = usize::try_from(max_rows).unwrap_or(0);
        self.cancel.borrow_and_update();
        let deadline = self.deadline();
        if let PortalState::Streaming(st) = &mut portal.state {
            let suspended = self.send_rows(st, max_rows, deadline, w).await?;
            if suspended {
                w.push(B::PortalSuspended(PortalSuspended::new()))?;
            } else {
                let n = st.sent;
                portal.state = PortalState::Done;
                w.push(B::CommandComplete(CommandComplete::new(format!(
                    "SELECT {n}"
                ))))?;
            }
            return Ok(());
        }
        if matches!(portal.state, PortalState::Done) {
            w.push(B::CommandComplete(CommandComplete::new("SELECT 0".into())))?;
            return Ok(());
        }
        let parsed = portal.prepared.parsed.clone();
        match parsed {
            None => {
                w.push(B::EmptyQueryResponse(EmptyQueryResponse::new()))?;
                portal.state = PortalState::Done;
            }
            Some(Parsed::Command(Command::Fetch(spec, is_move))) => {
                portal.state = PortalState::Done;
                let formats = portal.formats.clone();
                self.fetch(&spec, is_move, Some(&formats), false, w).await?;
            }
            Some(Parsed::Command(c)) => {
                self.check_failed_tx(&Parsed::Command(c.clone()))?;
                portal.state = PortalState::Done;
                self.command(c, w, false)?;
            }
            Some(Parsed::Declare(spec)) => {
                portal.state = PortalState::Done;
                let Some(plan) = portal.plan.take() else {
                    return Err(PgError::new("XX000", "DECLARE portal without a plan").into());
                };
                self.declare(&spec, plan, w).await?;
            }
            Some(Parsed::TypeInfo) => {
                let Some(plan) = portal.plan.take() else {
                    return Err(PgError::new("XX000", "portal without a plan").into());
                };
                self.stream_portal(portal, plan, max_rows, deadline, w)
                    .await?;
            }
            Some(Parsed::Copy(spec)) => {
                portal.state = PortalState::Done;
                let Some(plan) = portal.plan.take() else {
                    return Err(PgError::new("XX000", "COPY portal without a plan").into());
                };
                self.copy_out(&spec, plan, deadline, w).await?;
            }
            Some(Parsed::Engine(stmt)) => {
                let Some(plan) = portal.plan.take() else {
                    return Err(PgError::new("XX000", "portal without a plan").into());
                };
                if let Some(tag) = command_tag(&plan) {
                    portal.state = PortalState::Done;
                    let tag = self.run_command_plan(stmt, plan, tag, deadline).await?;
                    w.push(B::CommandComplete(CommandComplete::new(tag)))?;
                    return Ok(());
                }
                self.stream_portal(portal, plan, max_rows, deadline, w)
                    .await?;
            }
        }
        Ok(())
    }

    /// Starts a portal's query and sends up to `max_rows` rows (0 = all).
    async fn stream_portal(
        &mut self,
        portal: &mut Portal,
        plan: LogicalPlan,
        max_rows: usize,
        deadline: Option<Instant>,
        w: &mut W,
    ) -> Res<()> {
        let formats = portal.formats.clone();
        let mut st = self.start_stream(plan, &formats, deadline).await?;
        let suspended = self.send_rows(&mut st, max_rows, deadline, w).await?;
        if suspended {
            w.push(B::PortalSuspended(PortalSuspended::new()))?;
            portal.state = PortalState::Streaming(Box::new(st));
        } else {
            portal.state = PortalState::Done;
            w.push(B::CommandComplete(CommandComplete::new(format!(
                "SELECT {}",
                st.sent
            ))))?;
        }
        Ok(())
    }

    /// `DECLARE`: starts the query and keeps its stream in a cursor portal.
    async fn declare(&mut self, spec: &DeclareSpec, plan: LogicalPlan, w: &mut W) -> Res<()> {
        if !spec.hold && self.tx == Tx::Idle {
            return Err(PgError::new(
                "25P01",
                "DECLARE CURSOR can only be used in transaction blocks",
            )
            .into());
        }
        if self.portals.contains_key(&spec.name) {
            return Err(
                PgError::new("42P03", format!("cursor \"{}\" already exists", spec.name)).into(),
            );
        }
        if command_tag(&plan).is_some() {
            return Err(PgError::new(
                "42P11",
                "DECLARE CURSOR needs a query (SELECT, VALUES, WITH …)",
            )
            .into());
        }
        self.cancel.borrow_and_update();
        let deadline = self.deadline();
        let formats = if spec.binary { vec![1] } else { Vec::new() };
        let st = self.start_stream(plan, &formats, deadline).await?;
        let created_micros = super::now_micros();
        let cursor = Cursor {
            hold: spec.hold,
            binary: spec.binary,
            fields: st.fields.clone(),
            statement: format!(
                "DECLARE {}{} CURSOR{} FOR {}",
                quote_ident(&spec.name),
                if spec.binary { " BINARY" } else { "" },
                if spec.hold { " WITH HOLD" } else { "" },
                spec.query
            ),
            created_micros,
            position: 0,
        };
        self.portals.insert(
            spec.name.clone(),
            Portal {
                prepared: Arc::new(Prepared {
                    parsed: None,
                    declared: Vec::new(),
                    sql: cursor.statement.as_str().into(),
                }),
                plan: None,
                formats,
                state: PortalState::Streaming(Box::new(st)),
                cursor: Some(cursor),
            },
        );
        w.push(B::CommandComplete(CommandComplete::new(
            "DECLARE CURSOR".into(),
        )))?;
        Ok(())
    }

    /// `FETCH`/`MOVE`: `formats` are the Bind message's result formats (`None` in the simple
    /// protocol: the cursor's own); `describe` sends the RowDescription first.
    async fn fetch(
        &mut self,
        spec: &FetchSpec,
        is_move: bool,
        formats: Option<&[i16]>,
        describe: bool,
        w: &mut W,
    ) -> Res<()> {
        let missing = || {
            Failure::Pg(PgError::new(
                "34000",
                format!("cursor \"{}\" does not exist", spec.name),
            ))
        };
        if self
            .portals
            .get(&spec.name)
            .is_none_or(|p| p.cursor.is_none())
        {
            return Err(missing());
        }
        let Some(mut portal) = self.portals.remove(&spec.name) else {
            return Err(missing());
        };
        // A cursor whose FETCH failed is gone (PostgreSQL cannot run a failed portal either).
        self.fetch_from(&mut portal, spec, is_move, formats, describe, w)
            .await?;
        self.portals.insert(spec.name.clone(), portal);
        Ok(())
    }

    async fn fetch_from(
        &mut self,
        portal: &mut Portal,
        spec: &FetchSpec,
        is_move: bool,
        formats: Option<&[i16]>,
        describe: bool,
        w: &mut W,
    ) -> Res<()> {
        let Some(cur) = portal.cursor.as_mut() else {
            return Err(
                PgError::new("34000", format!("cursor \"{}\" does not exist", spec.name)).into(),
            );
        };
        let n = cur.fields.len();
        let binary = match formats {
            Some(codes) if !codes.is_empty() => formats_for(codes, n)?,
            _ => vec![cur.binary; n],
        };
        let (skip, take) = cursor::resolve(spec.direction, cur.position, is_move)?;
        if describe && !is_move {
            w.push(row_description(&cur.fields, &binary))?;
        }
        self.cancel.borrow_and_update();
        let deadline = self.deadline();
        let mut moved = 0u64;
        let mut returned = 0u64;
        if let PortalState::Streaming(st) = &mut portal.state {
            st.binary = binary;
            moved = self.skip_rows(st, skip, deadline).await?;
            if take != Some(0) && !st.ended {
                let before = st.sent;
                let limit = take.map_or(0, |t| usize::try_from(t).unwrap_or(usize::MAX));
                self.send_rows(st, limit, deadline, w).await?;
                returned = (st.sent - before) as u64;
            }
            if st.ended {
                portal.state = PortalState::Done;
            }
        }
        cur.position += moved + returned;
        let tag = if is_move {
            format!("MOVE {moved}")
        } else {
            format!("FETCH {returned}")
        };
        w.push(B::CommandComplete(CommandComplete::new(tag)))?;
        Ok(())
    }

    /// Skips up to `n` rows of a stream without sending them; returns how many it skipped.
    async fn skip_rows(
        &mut self,
        st: &mut Streaming,
        n: u64,
        deadline: Option<Instant>,
    ) -> Res<u64> {
        let mut skipped = 0u64;
        while skipped < n {
            if let Some((_, rows, next)) = &mut st.current
                && *next < *rows
            {
                let k = ((*rows - *next) as u64).min(n - skipped) as usize;
                *next += k;
                st.sent += k;
                skipped += k as u64;
                continue;
            }
            st.current = None;
            let next = tokio::select! {
                b = st.stream.next() => b,
                _ = cancelled(&mut self.cancel) => return Err(PgError::cancelled().into()),
                _ = client_gone(&mut self.input) => return Err(hung_up()),
                _ = until(deadline) => return Err(PgError::timed_out().into()),
            };
            let batch = match next {
                None => {
                    st.ended = true;
                    break;
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(batch)) => batch,
            };
            let rows = batch.num_rows() as u64;
            let need = n - skipped;
            if rows <= need {
                skipped += rows;
                st.sent += rows as usize;
            } else {
                let rest = batch.slice(need as usize, (rows - need) as usize);
                skipped += need;
                st.sent += need as usize;
                let enc = encoders(&rest, &st.fields)?;
                st.current = Some((enc, rest.num_rows(), 0));
            }
        }
        Ok(skipped)
    }

    async fn copy_out(
        &mut self,
        spec: &CopySpec,
        plan: LogicalPlan,
        deadline: Option<Instant>,
        w: &mut W,
    ) -> Res<()> {
        let mut st = self.start_stream(plan, &[], deadline).await?;
        let n = st.fields.len();
        let binary = spec.format == CopyFormat::Binary;
        let code = i16::from(binary);
        w.push(B::CopyOutResponse(CopyOutResponse::new(
            i8::from(binary),
            n as i16,
            vec![code; n],
        )))?;
        let delimiter = spec.delimiter.unwrap_or(if spec.format == CopyFormat::Csv {
            ','
        } else {
            '\t'
        });
        let null = spec.null.clone().unwrap_or_else(|| {
            if spec.format == CopyFormat::Csv {
                String::new()
            } else {
                "\\N".into()
            }
        });
        // One CopyData message per row, as PostgreSQL sends (clients parse them one by one),
        // framed straight into the write buffer; the binary header travels with the first row.
        let mut header = BytesMut::new();
        if binary {
            header.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            header.put_i32(0);
            header.put_i32(0);
        } else if spec.header {
            let names: Vec<String> = st.fields.iter().map(|f| f.name().clone()).collect();
            for (k, name) in names.iter().enumerate() {
                if k > 0 {
                    push_char(&mut header, delimiter);
                }
                write_copy_text(&mut header, name.as_bytes(), spec.format, delimiter);
            }
            header.put_u8(b'\n');
            w.push(B::CopyData(CopyData::new(header.split().freeze())))?;
        }
        let mut rows = 0u64;
        let mut scratch = BytesMut::new();
        loop {
            let next = tokio::select! {
                b = st.stream.next() => b,
                _ = cancelled(&mut self.cancel) => return Err(PgError::cancelled().into()),
                _ = client_gone(&mut self.input) => return Err(hung_up()),
                _ = until(deadline) => return Err(PgError::timed_out().into()),
            };
            let batch = match next {
                None => break,
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(b)) => b,
            };
            let enc = encoders(&batch, &st.fields)?;
            for row in 0..batch.num_rows() {
                let buf = w.buffer();
                let start = buf.len();
                buf.put_u8(b'd');
                buf.put_i32(0);
                buf.extend_from_slice(&header);
                header.clear();
                if binary {
                    buf.put_i16(n as i16);
                    for e in &enc {
                        e.write_field(row, true, buf);
                    }
                } else {
                    for (k, e) in enc.iter().enumerate() {
                        if k > 0 {
                            push_char(buf, delimiter);
                        }
                        scratch.clear();
                        if e.write(row, false, &mut scratch) {
                            write_copy_text(buf, &scratch, spec.format, delimiter);
                        } else {
                            buf.extend_from_slice(null.as_bytes());
                        }
                    }
                    buf.put_u8(b'\n');
                }
                let len = i32::try_from(buf.len() - start - 1).map_err(|_| {
                    PgError::new(
                        "54000",
                        "a COPY row is larger than a protocol message can be",
                    )
                })?;
                buf[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
                rows += 1;
                w.maybe_flush().await?;
            }
        }
        if binary {
            // With no rows the trailer joins the header in one message.
            header.put_i16(-1);
        }
        if !header.is_empty() {
            w.push(B::CopyData(CopyData::new(header.split().freeze())))?;
        }
        w.push(B::CopyDone(CopyDone::new()))?;
        w.push(B::CommandComplete(CommandComplete::new(format!(
            "COPY {rows}"
        ))))?;
        st.sent = rows as usize;
        Ok(())
    }
}

/// An identifier as SQL writes it: bare when lower-case and plain, else double-quoted.
fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn push_char(out: &mut BytesMut, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// One value of COPY text (backslash escapes) or CSV (quoted when needed).
fn write_copy_text(out: &mut BytesMut, value: &[u8], format: CopyFormat, delimiter: char) {
    let mut d = [0u8; 4];
    let d: &[u8] = delimiter.encode_utf8(&mut d).as_bytes();
    if format == CopyFormat::Csv {
        let quote = value.is_empty()
            || value
                .iter()
                .any(|b| matches!(b, b'"' | b'\n' | b'\r') || d.contains(b));
        if quote {
            out.put_u8(b'"');
            for &b in value {
                if b == b'"' {
                    out.put_u8(b'"');
                }
                out.put_u8(b);
            }
            out.put_u8(b'"');
        } else {
            out.extend_from_slice(value);
        }
        return;
    }
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b if d.len() == 1 && b == d[0] => {
                out.put_u8(b'\\');
                out.put_u8(b);
            }
            b => out.put_u8(b),
        }
    }
}

fn show_all_fields() -> Vec<FieldRef> {
    ["name", "setting", "description"]
        .iter()
        .map(|n| {
            Arc::new(hepq_sql::datafusion::arrow::datatypes::Field::new(
                *n,
                DataType::Utf8,
                true,
            ))
        })
        .collect()
}

fn text_row(out: &mut BytesMut, values: &[Option<&str>]) {
    out.put_u8(b'D');
    let at = out.len();
    out.put_i32(0);
    out.put_i16(values.len() as i16);
    for v in values {
        match v {
            Some(s) => {
                out.put_i32(s.len() as i32);
                out.extend_from_slice(s.as_bytes());
            }
            None => out.put_i32(-1),
        }
    }
    let len = (out.len() - at) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// The types the engine inferred for a plan's parameters, completed by casts: a parameter it
/// could not type from its use gets the type it is cast to (`$1::int`, `CAST($1 AS TEXT[])`),
/// as PostgreSQL types it.
fn parameter_types(
    plan: &LogicalPlan,
) -> Result<HashMap<String, Option<DataType>>, hepq_sql::datafusion::error::DataFusionError> {
    use hepq_sql::datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use hepq_sql::datafusion::logical_expr::Expr as E;
    let mut found = plan.get_parameter_types()?;
    if found.values().all(Option::is_some) {
        return Ok(found);
    }
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                let (inner, field) = match e {
                    E::Cast(c) => (c.expr.as_ref(), &c.field),
                    E::TryCast(c) => (c.expr.as_ref(), &c.field),
                    _ => return Ok(TreeNodeRecursion::Continue),
                };
                if let E::Placeholder(p) = inner
                    && let Some(slot) = found.get_mut(&p.id)
                    && slot.is_none()
                {
                    *slot = Some(field.data_type().clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(found)
}

/// The parameter types of a statement: declared by the client, else inferred, else text.
fn param_oids(plan: &LogicalPlan, declared: &[u32]) -> Result<Vec<u32>, PgError> {
    let inferred = parameter_types(plan)?;
    let n = param_count(&inferred).max(declared.len());
    Ok((0..n)
        .map(|i| {
            let declared = declared.get(i).copied().unwrap_or(0);
            if declared != 0 {
                return declared;
            }
            inferred
                .get(&format!("${}", i + 1))
                .cloned()
                .flatten()
                .map(|t| types::oid_of_arrow(&t))
                .unwrap_or(25)
        })
        .collect())
}

/// The OIDs bound to asyncpg's introspection query (its one `oid[]` parameter).
fn typeinfo_oids(formats: &[i16], params: &[Option<Bytes>]) -> Result<Vec<i64>, PgError> {
    let [value] = params else {
        return Err(PgError::new(
            "08P01",
            format!(
                "bind message supplies {} parameters, but prepared statement requires 1",
                params.len()
            ),
        ));
    };
    let Some(bytes) = value else {
        return Ok(Vec::new());
    };
    let binary = formats.first().is_some_and(|f| *f == 1);
    let list = types::decode_param(introspect::PARAM_OID, binary, bytes)
        .map_err(|m| PgError::new("22P03", m))?;
    let ScalarValue::List(list) = list else {
        return Err(PgError::new("22P03", "expected an oid[] parameter"));
    };
    let mut oids = Vec::new();
    if list.is_empty() || list.is_null(0) {
        return Ok(oids);
    }
    let values = list.value(0);
    for i in 0..values.len() {
        if let ScalarValue::Int64(Some(oid)) =
            ScalarValue::try_from_array(&values, i)?.cast_to(&DataType::Int64)?
        {
            oids.push(oid);
        }
    }
    Ok(oids)
}

fn param_count(inferred: &HashMap<String, Option<DataType>>) -> usize {
    inferred
        .keys()
        .filter_map(|k| k.strip_prefix('$')?.parse::<usize>().ok())
        .max()
        .unwrap_or(0)
}

/// Substitutes bound parameter values into `plan`, typed by what the engine inferred, else
/// by the client's declared type, else as text.
fn bind_params(
    plan: LogicalPlan,
    declared: &[u32],
    formats: &[i16],
    params: &[Option<Bytes>],
) -> Result<LogicalPlan, PgError> {
    let inferred = parameter_types(&plan).map_err(PgError::from)?;
    let needed = param_count(&inferred);
    if params.len() < needed {
        return Err(PgError::new(
            "08P01",
            format!(
                "bind message supplies {} parameters, but prepared statement requires {needed}",
                params.len()
            ),
        ));
    }
    if params.is_empty() {
        return Ok(plan);
    }
    if formats.len() > 1 && formats.len() != params.len() {
        return Err(PgError::new(
            "08P01",
            format!(
                "bind message has {} parameter formats but {} parameters",
                formats.len(),
                params.len()
            ),
        ));
    }
    let mut values = Vec::with_capacity(params.len());
    for (i, value) in params.iter().enumerate() {
        let binary = match formats.len() {
            0 => false,
            1 => formats[0] == 1,
            _ => formats[i] == 1,
        };
        let oid = declared.get(i).copied().unwrap_or(0);
        let target = inferred
            .get(&format!("${}", i + 1))
            .cloned()
            .flatten()
            .or_else(|| types::arrow_type_of_oid(oid));
        let scalar = match value {
            None => ScalarValue::try_from(target.as_ref().unwrap_or(&DataType::Utf8))
                .map_err(PgError::from)?,
            Some(bytes) => {
                // A parameter the client left untyped is sent in the type the server
                // described for it (asyncpg sends binary values so), which is the inferred one.
                let wire_oid = match (oid, &target) {
                    (0, Some(t)) => types::oid_of_arrow(t),
                    _ => oid,
                };
                let v = types::decode_param(wire_oid, binary, bytes)
                    .map_err(|m| PgError::new("22P03", m))?;
                match &target {
                    Some(t) if &v.data_type() != t => v.cast_to(t).map_err(|e| {
                        PgError::new(
                            "22P02",
                            format!("invalid input for parameter ${}: {e}", i + 1),
                        )
                    })?,
                    _ => v,
                }
            }
        };
        values.push(scalar);
    }
    Ok(plan.with_param_values(values)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn commands_are_classified() {
        let parse = |sql: &str| {
            let s = DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {})
                .unwrap()
                .pop_front()
                .unwrap();
            classify(s)
        };
        assert!(matches!(
            parse("BEGIN"),
            Parsed::Command(Command::Begin(None))
        ));
        assert!(matches!(
            parse("BEGIN READ ONLY"),
            Parsed::Command(Command::Begin(Some(true)))
        ));
        assert!(
            matches!(parse("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"), Parsed::Command(Command::Set(n, Some(v))) if n == "default_transaction_read_only" && v == "on")
        );
        assert!(
            matches!(parse("ROLLBACK TO SAVEPOINT a"), Parsed::Command(Command::RollbackTo(n)) if n == "a")
        );
        assert!(matches!(
            parse("DEALLOCATE ALL"),
            Parsed::Command(Command::Deallocate(None))
        ));
        assert!(
            matches!(parse("SET statement_timeout = 100"), Parsed::Command(Command::Set(n, Some(v))) if n == "statement_timeout" && v == "100")
        );
        assert!(matches!(
            parse("SET datafusion.execution.batch_size = 100"),
            Parsed::Engine(_)
        ));
        assert!(matches!(
            parse("SHOW transaction isolation level"),
            Parsed::Command(Command::Show(_))
        ));
        assert!(matches!(parse("SELECT 1"), Parsed::Engine(_)));
        assert!(matches!(
            parse("RESET ALL"),
            Parsed::Command(Command::ResetAll)
        ));
        assert!(
            matches!(parse("RESET application_name"), Parsed::Command(Command::Reset(n)) if n == "application_name")
        );
        match parse_copy("COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER)")
            .unwrap()
            .pop()
        {
            Some(Parsed::Copy(spec)) => assert!(spec.format == CopyFormat::Csv && spec.header),
            other => panic!("{other:?}"),
        }
        assert!(parse_copy("COPY t FROM STDIN").is_err());
        // DuckDB's postgres extension, writing into an attached database.
        match parse_copy(r#"COPY "public"."t2" FROM STDIN (FORMAT BINARY)"#) {
            Err(e) => assert_eq!(e.code, "0A000"),
            Ok(p) => panic!("{p:?}"),
        }
        assert_eq!(
            startup_options("-c statement_timeout=5 --search-path=x"),
            vec![
                ("statement_timeout".into(), "5".into()),
                ("search_path".into(), "x".into())
            ]
        );
    }

    #[test]
    fn copy_escaping() {
        let mut out = BytesMut::new();
        write_copy_text(&mut out, b"a\tb\\c\n", CopyFormat::Text, '\t');
        assert_eq!(&out[..], b"a\\tb\\\\c\\n");
        out.clear();
        write_copy_text(&mut out, b"x,\"y\"", CopyFormat::Csv, ',');
        assert_eq!(&out[..], b"\"x,\"\"y\"\"\"");
    }
}
