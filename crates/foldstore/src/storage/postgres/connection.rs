//! Connections: made within a time limit (startup and authentication included), pooled, and
//! their failures told apart (refused, lost with an unknown outcome, worth another try).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, NoTls, Statement};

use super::sql::{Query, Sql};
use super::{
    PostgresStorage, BACKEND, DEFAULT_CONNECT_TIMEOUT, MAX_CONNECTING, MAX_IDLE_CONNECTIONS,
    READ_ATTEMPTS,
};
use crate::error::{Error, Result};

/// A connection and the statements prepared on it.
pub(super) struct Connection {
    pub(super) client: Client,
    prepared: HashMap<Query, Statement>,
}

impl Connection {
    /// The prepared statement for `query`, preparing it on first use.
    pub(super) fn statement(
        &mut self,
        query: Query,
        sql: &Sql,
    ) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.prepared.get(&query) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(query.sql(sql))?;
        self.prepared.insert(query, statement.clone());
        Ok(statement)
    }
}

/// Why an operation on a connection failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection could be made: nothing was sent.
    Connect(ConnectError),
    /// A statement failed (or the connection failed under it).
    Query(postgres::Error),
}

impl Failure {
    pub(super) fn into_source(self) -> Box<dyn std::error::Error + Send + Sync> {
        match self {
            Failure::Connect(error) => Box::new(error),
            Failure::Query(error) => Box::new(error),
        }
    }

    /// What went wrong, for messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Failure::Connect(error) => error.to_string(),
            Failure::Query(error) => describe(error),
        }
    }

    pub(super) fn code(&self) -> Option<&SqlState> {
        match self {
            Failure::Connect(_) => None,
            Failure::Query(error) => error.code(),
        }
    }

    /// Whether the statement may or may not have taken effect: the connection was lost before
    /// the server's answer came.
    pub(super) fn outcome_unknown(&self) -> bool {
        match self {
            Failure::Connect(_) => false,
            Failure::Query(error) => connection_lost(error),
        }
    }

    /// Whether trying again on a new connection may succeed (for reads).
    pub(super) fn transient(&self) -> bool {
        match self {
            Failure::Connect(_) => false,
            Failure::Query(error) => connection_lost(error),
        }
    }
}

/// Whether `error` is the connection failing rather than the server refusing a statement.
fn connection_lost(error: &postgres::Error) -> bool {
    match error.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            // Connection exceptions, and the server shutting the session down.
            code.starts_with("08") || code.starts_with("57P")
        }
    }
}

/// What a failed statement says, for messages: the server's message, SQLSTATE, detail and hint,
/// or the client's error and its cause.
pub(super) fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

/// Why no connection could be made.
#[derive(Debug)]
pub(super) enum ConnectError {
    /// The client gave up (the server refused, authentication failed, ...).
    Failed(postgres::Error),
    /// No session was set up within the time limit: the server (or something in its place)
    /// did not answer.
    TimedOut(Duration),
    /// Too many earlier attempts are still waiting for an unresponsive server.
    Busy,
    /// The thread that connects could not be started, or ended without an answer.
    Thread(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Failed(error) => f.write_str(&describe(error)),
            ConnectError::TimedOut(limit) => write!(
                f,
                "no session was set up within {} (the limit on connecting, startup included: \
                 the URL's connect_timeout, {} when it sets none)",
                humantime::format_duration(*limit),
                humantime::format_duration(DEFAULT_CONNECT_TIMEOUT)
            ),
            ConnectError::Busy => write!(
                f,
                "{MAX_CONNECTING} earlier connection attempts are still waiting for a server \
                 that does not answer"
            ),
            ConnectError::Thread(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for ConnectError {}

/// How many connection attempts are under way in the process (see [`MAX_CONNECTING`]).
static CONNECTING: AtomicUsize = AtomicUsize::new(0);

/// Connects as `config` says, giving up after `limit` (`None`: no limit) however far the
/// connection got: the TCP connection, the startup handshake or authentication.
///
/// The client's own `connect_timeout` bounds only the TCP connection, so the connection is
/// made on a thread of its own, and abandoned when it takes too long: the thread then ends when
/// the server answers or closes the connection, and drops the client it made.
pub(super) fn connect_within(
    config: &Config,
    limit: Option<Duration>,
) -> Result<Client, ConnectError> {
    let Some(limit) = limit else {
        return config.connect(NoTls).map_err(ConnectError::Failed);
    };
    if CONNECTING.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTING {
        CONNECTING.fetch_sub(1, Ordering::AcqRel);
        return Err(ConnectError::Busy);
    }
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let owned = config.clone();
    let spawned = std::thread::Builder::new()
        .name("foldstore-postgres-connect".to_owned())
        .spawn(move || {
            let connected = owned.connect(NoTls);
            CONNECTING.fetch_sub(1, Ordering::AcqRel);
            // Nobody may be waiting any more: the client is then dropped, which closes it.
            let _ = sender.send(connected);
        });
    if let Err(e) = spawned {
        CONNECTING.fetch_sub(1, Ordering::AcqRel);
        return Err(ConnectError::Thread(format!(
            "cannot start a thread to connect: {e}"
        )));
    }
    match receiver.recv_timeout(limit) {
        Ok(connected) => connected.map_err(ConnectError::Failed),
        Err(RecvTimeoutError::Timeout) => Err(ConnectError::TimedOut(limit)),
        Err(RecvTimeoutError::Disconnected) => Err(ConnectError::Thread(
            "the thread connecting ended without an answer".to_owned(),
        )),
    }
}

impl PostgresStorage {
    fn connect_client(&self) -> Result<Client, ConnectError> {
        let client = connect_within(&self.config, self.connect_limit)?;
        tracing::debug!(address = %self.address, table = %self.table, "connected to PostgreSQL");
        Ok(client)
    }

    /// Runs `operation` on an idle connection, or a new one. The connection goes back to the
    /// pool unless the connection itself failed. Statements run in autocommit mode (or in a
    /// transaction that `operation` ends, or that is rolled back when dropped), so no pooled
    /// connection is ever left inside a transaction.
    pub(super) fn attempt<T>(
        &self,
        operation: impl FnOnce(&mut Connection, &Sql) -> Result<T, postgres::Error>,
    ) -> Result<T, Failure> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => Connection {
                client: self.connect_client().map_err(Failure::Connect)?,
                prepared: HashMap::new(),
            },
        };
        let result = operation(&mut connection, &self.sql);
        let reusable = match &result {
            Ok(_) => !connection.client.is_closed(),
            Err(error) => !connection_lost(error) && !connection.client.is_closed(),
        };
        if reusable {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_CONNECTIONS {
                idle.push(connection);
            }
        } else if let Err(error) = &result {
            // The server may have closed every connection (a restart): start afresh.
            let dropped = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
            tracing::debug!(address = %self.address, error = %describe(error), idle = dropped.len(), "a connection failed: dropped it and the idle ones");
        }
        result.map_err(Failure::Query)
    }

    /// Like [`attempt`](Self::attempt), trying again on a new connection when the connection
    /// failed (for statements that can safely run twice).
    pub(super) fn attempt_idempotent<T>(
        &self,
        operation: impl Fn(&mut Connection, &Sql) -> Result<T, postgres::Error>,
    ) -> Result<T, Failure> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.attempt(&operation) {
                Err(failure) if failure.transient() && tries < READ_ATTEMPTS => {
                    tracing::debug!(address = %self.address, error = %failure.describe(), "connection lost; trying again");
                    std::thread::sleep(Duration::from_millis(20 << tries));
                }
                result => return result,
            }
        }
    }

    /// The error for a failure while doing `what` (e.g. "read commit 3").
    pub(super) fn error(&self, what: &str, failure: Failure) -> Error {
        let message = match &failure {
            Failure::Connect(error) => format!(
                "cannot connect to {} to {what} (table {}): {error}; check that the server is \
                 up and answers at that address, and that the URL, user and password are right",
                self.address, self.table,
            ),
            Failure::Query(error) => format!(
                "cannot {what} in table {} at {}: {}",
                self.table,
                self.address,
                describe(error)
            ),
        };
        // The message describes a connection failure whole, cause included: a source would
        // make the cause show twice where errors are shown with their sources.
        let source = match failure {
            Failure::Connect(_) => None,
            Failure::Query(error) => {
                Some(Box::new(error) as Box<dyn std::error::Error + Send + Sync>)
            }
        };
        Error::Backend {
            backend: BACKEND,
            message,
            source,
        }
    }

    /// Runs a read. A store whose tables do not exist yet is empty: the read then yields
    /// `absent()`.
    pub(super) fn read<T>(
        &self,
        what: impl Fn() -> String,
        absent: impl FnOnce() -> T,
        operation: impl Fn(&mut Connection, &Sql) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        self.check_schema()?;
        match self.attempt_idempotent(operation) {
            Ok(value) => Ok(value),
            Err(failure) if failure.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(absent()),
            Err(failure) => Err(self.error(&what(), failure)),
        }
    }
}
