//! `hepq serve`: a PostgreSQL 16 wire-protocol front end over hepq's engine.
//!
//! Every connection gets its own [`HepqSession`](hepq_sql::HepqSession) from hepq-sql's session
//! builder, so `SET`/`SHOW`, prepared statements and tables created with DDL belong to that
//! connection; the warehouse's tables (and `--register`ed locations) are registered in every
//! session. Messages are encoded with the `pgwire` crate's backend message types; the
//! protocol loop, the frontend decoder (bounded, panic-free on hostile bytes), type mapping,
//! catalog emulation and cancellation are ours. See `server/README.md` for the user guide.
//!
//! Modules: [`protocol`] (framing, frontend decoding, backend writing), [`connection`] (the
//! per-connection state machine: simple and extended query, transactions, COPY, cancel),
//! [`types`] (Arrow ↔ PostgreSQL types and text/binary encoding), [`catalog`] (`pg_catalog`
//! emulation and the functions drivers call), [`colnames`] (PostgreSQL's result column
//! names), [`rewrite`] (PostgreSQL-isms rewritten before
//! planning), [`settings`] (per-session GUCs), [`errors`] (SQLSTATE mapping), [`auth`]
//! (cleartext, MD5 and SCRAM-SHA-256), [`config`] (the `--config` file), [`tls`] (rustls),
//! [`cursor`] (`DECLARE`/`FETCH`/`MOVE`/`CLOSE`), [`introspect`] (asyncpg's type lookup).

pub mod auth;
pub mod catalog;
pub mod colnames;
pub mod config;
pub mod connection;
pub mod cursor;
pub mod errors;
pub mod introspect;
pub mod protocol;
pub mod rewrite;
pub mod settings;
pub mod tls;
pub mod types;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use hepq_sql::{Format, SessionOptions};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// The PostgreSQL release hepq presents itself as (major.minor).
pub const PG_VERSION: &str = "16.6";
/// `server_version_num` matching [`PG_VERSION`].
pub const PG_VERSION_NUM: &str = "160006";

/// `server_version` as sent at startup: `16.6 (hepq X.Y.Z)`.
pub fn server_version() -> String {
    format!("{PG_VERSION} (hepq {})", env!("CARGO_PKG_VERSION"))
}

/// `version()`: `PostgreSQL 16.6 (hepq X.Y.Z) on …`, the form drivers parse.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (hepq {}) on {}-unknown-linux-gnu, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// How to run the server.
#[derive(Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Session options every connection's session is built with.
    pub session: SessionOptions,
    /// Extra tables registered in every session: (name, format, location).
    pub register: Vec<(String, Option<Format>, String)>,
    /// Maximum simultaneous client connections.
    pub max_connections: usize,
    /// Allow a non-loopback listen address without authentication.
    pub insecure: bool,
    /// How clients authenticate.
    pub auth: auth::Method,
    /// Users and their password hashes (for every method but trust).
    pub users: HashMap<String, auth::Secret>,
    /// TLS, when configured (clients may then use `sslmode=require`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Users whose sessions are read-only (no DDL, DML or `COPY … TO` a file).
    pub read_only_users: HashSet<String>,
    /// Every session is read-only.
    pub read_only: bool,
}

impl ServeOptions {
    /// Whether `user`'s sessions are read-only.
    pub fn is_read_only(&self, user: &str) -> bool {
        self.read_only || self.read_only_users.contains(user)
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("listen", &self.listen)
            .field("auth", &self.auth)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// An error that stops the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is unsafe or invalid.
    #[error("{0}")]
    Config(String),
    /// The listen socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The first session (a check of the warehouse and registrations) failed.
    #[error(transparent)]
    Session(#[from] hepq_sql::Error),
}

/// What `pg_stat_activity` shows of one connection.
#[derive(Debug, Clone)]
pub struct Activity {
    /// The backend pid (as sent in BackendKeyData).
    pub pid: i32,
    /// The user name from the startup packet.
    pub user: String,
    /// The database name from the startup packet.
    pub database: String,
    /// `application_name`, as the client last set it.
    pub application_name: String,
    /// The client's address and port.
    pub client: SocketAddr,
    /// When the connection was accepted (microseconds since 1970, UTC).
    pub backend_start: i64,
    /// When the open transaction block began, if one is open.
    pub xact_start: Option<i64>,
    /// When the current (or, when idle, the last) statement began.
    pub query_start: Option<i64>,
    /// When `state` last changed.
    pub state_change: i64,
    /// `active`, `idle`, `idle in transaction` or `idle in transaction (aborted)`.
    pub state: &'static str,
    /// The current (or last) statement's text.
    pub query: String,
}

/// Microseconds since 1970 (UTC), now.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

struct Backend {
    secret: i32,
    cancel: watch::Sender<u64>,
    activity: Arc<Mutex<Activity>>,
}

/// The running connections: their cancel keys and their activity (`pg_stat_activity`,
/// `pg_cancel_backend`).
pub struct Backends {
    running: Mutex<HashMap<i32, Backend>>,
    next_pid: AtomicI32,
}

impl Backends {
    fn new() -> Self {
        Self {
            running: Mutex::default(),
            next_pid: AtomicI32::new(10_000),
        }
    }

    /// Registers a new connection; returns its pid, secret, the cancel signal it watches, the
    /// activity record it keeps up to date and the guard that unregisters it when dropped
    /// (however the connection ends).
    pub fn register(
        self: &Arc<Self>,
        user: &str,
        database: &str,
        client: SocketAddr,
    ) -> (
        i32,
        i32,
        watch::Receiver<u64>,
        Arc<Mutex<Activity>>,
        Registration,
    ) {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let secret = random_i32();
        let (tx, rx) = watch::channel(0u64);
        let now = now_micros();
        let activity = Arc::new(Mutex::new(Activity {
            pid,
            user: user.to_string(),
            database: database.to_string(),
            application_name: String::new(),
            client,
            backend_start: now,
            xact_start: None,
            query_start: None,
            state_change: now,
            state: "idle",
            query: String::new(),
        }));
        if let Ok(mut running) = self.running.lock() {
            running.insert(
                pid,
                Backend {
                    secret,
                    cancel: tx,
                    activity: Arc::clone(&activity),
                },
            );
        }
        let registration = Registration {
            backends: Arc::clone(self),
            pid,
        };
        (pid, secret, rx, activity, registration)
    }

    /// Forgets a connection that closed.
    fn unregister(&self, pid: i32) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&pid);
        }
    }

    /// Signals backend `pid` to cancel its running statement. With `secret` (a CancelRequest)
    /// the key must match; without (`pg_cancel_backend`) any running backend is signalled.
    /// Returns whether a backend was signalled.
    pub fn cancel(&self, pid: i32, secret: Option<i32>) -> bool {
        if let Ok(running) = self.running.lock()
            && let Some(backend) = running.get(&pid)
            && secret.is_none_or(|s| s == backend.secret)
        {
            backend.cancel.send_modify(|generation| *generation += 1);
            return true;
        }
        false
    }

    /// A snapshot of every connection's activity, by pid.
    pub fn activity(&self) -> Vec<Activity> {
        let mut out: Vec<Activity> = self
            .running
            .lock()
            .map(|running| {
                running
                    .values()
                    .filter_map(|b| b.activity.lock().ok().map(|a| a.clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|a| a.pid);
        out
    }
}

/// A registered connection: unregistered when dropped.
pub struct Registration {
    backends: Arc<Backends>,
    pid: i32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.backends.unregister(self.pid);
    }
}

/// State shared by all connections: options, running backends, the connection limit.
pub struct Shared {
    /// The server's options.
    pub options: ServeOptions,
    /// Running connections.
    pub backends: Arc<Backends>,
    /// Connection slots.
    pub slots: Arc<Semaphore>,
}

fn random_i32() -> i32 {
    use rand::Rng;
    rand::rng().random::<i32>()
}

/// How often the server looks for materialised views whose refresh is due.
const REFRESH_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The refresh scheduler of `hepq serve`: every [`REFRESH_CHECK`], refreshes (one at a time,
/// each in a new session, so it sees tables created since the server started) the views whose
/// `WITH (refresh = …)` schedule is due. The catalog's refresh lease keeps a view from being
/// refreshed twice at once, also by other servers or `hepq refresh`. A view due while no
/// server ran is refreshed once at start. Failures are logged and recorded in `hepq.refreshes`.
async fn run_scheduled_refreshes(shared: Arc<Shared>) {
    let Some(warehouse) = shared.options.session.warehouse.clone() else {
        return;
    };
    let catalog = shared.options.session.catalog.clone();
    let mut store = None;
    loop {
        tokio::time::sleep(REFRESH_CHECK).await;
        if store.is_none() {
            match hepq_sql::hepq_catalog::CatalogStore::open(&warehouse, catalog.as_deref()).await {
                Ok(s) => store = Some(s),
                Err(e) => {
                    eprintln!("hepq serve: refresh scheduler: {e}");
                    continue;
                }
            }
        }
        let Some(catalog) = &store else {
            continue;
        };
        let due = match hepq_sql::due_refreshes(catalog).await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("hepq serve: refresh scheduler: {e}");
                continue;
            }
        };
        for (schema, name) in due {
            // A new session per refresh: it sees what other connections created meanwhile.
            let session = match connection::open_session(&shared.options).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("hepq serve: refresh of {schema}.{name}: {e}");
                    continue;
                }
            };
            match session
                .refresh_materialized_view(&schema, &name, false)
                .await
            {
                Ok(r) => eprintln!(
                    "hepq serve: refreshed {} ({}, {}): {} rows, {:.2} s",
                    r.view, r.mode, r.reason, r.rows_out, r.seconds
                ),
                Err(e) => eprintln!("hepq serve: refresh of {schema}.{name} failed: {e}"),
            }
        }
    }
}

/// Checks the options, opens a first session (so a broken warehouse fails at start), binds
/// the socket and serves until the process is stopped; with a warehouse (and not read-only)
/// it also runs scheduled refreshes of materialised views.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    if !options.listen.ip().is_loopback()
        && options.auth == auth::Method::Trust
        && !options.insecure
    {
        return Err(ServeError::Config(format!(
            "refusing to listen on non-loopback address {} without authentication; \
             set `auth` and `[users]` in the --config file, or pass --insecure to serve anyway",
            options.listen
        )));
    }
    if options.auth != auth::Method::Trust && options.users.is_empty() {
        return Err(ServeError::Config(
            "password authentication is configured but the config file lists no [users]".into(),
        ));
    }
    if options.max_connections == 0 {
        return Err(ServeError::Config(
            "--max-connections must be at least 1".into(),
        ));
    }
    // Fail fast on a warehouse or registration that cannot be opened.
    let probe = connection::open_session(&options).await?;
    for warning in probe.warnings() {
        eprintln!("Warning: {warning}");
    }
    drop(probe);

    let listener =
        TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: options.listen,
                source,
            })?;
    let local = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: options.listen,
        source,
    })?;
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(options.max_connections)),
        options,
        backends: Arc::new(Backends::new()),
    });
    if shared.options.session.warehouse.is_some() && !shared.options.read_only {
        tokio::spawn(run_scheduled_refreshes(Arc::clone(&shared)));
    }
    eprintln!(
        "hepq serve: listening on {local} (PostgreSQL {PG_VERSION} protocol{}); connect with: \
         psql -h {} -p {} -U hepq hepq",
        if shared.options.tls.is_some() {
            ", TLS"
        } else {
            ""
        },
        local.ip(),
        local.port()
    );
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("hepq serve: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = connection::handle(socket, peer, shared).await {
                // Client went away or spoke garbage: the connection ends, the server lives on.
                log_connection_error(peer, &e);
            }
        });
    }
}

fn log_connection_error(peer: SocketAddr, e: &std::io::Error) {
    if !matches!(
        e.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    ) {
        eprintln!("hepq serve: connection from {peer} closed: {e}");
    }
}
