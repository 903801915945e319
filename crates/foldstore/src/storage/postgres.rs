//! The PostgreSQL backend: commits are rows of a table keyed by commit number (see
//! [`PostgresStorage`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use postgres::config::Host;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls, Statement};

use super::{check_commit_number, validate_snapshot_name, Conflict, Listing, Storage, Watch};
use crate::error::{Error, Result};

/// The table name used when the URL names none.
const DEFAULT_TABLE: &str = "foldstore";

/// The version of the schema this code creates and understands.
const SCHEMA_VERSION: i64 = 1;

/// The longest table name accepted.
const MAX_TABLE_NAME_LENGTH: usize = 50;

/// The backend's name in errors.
const BACKEND: &str = "postgres";

/// How many idle connections are kept for reuse.
const MAX_IDLE_CONNECTIONS: usize = 16;

/// How many times an insert whose outcome was unknown, and which was found not to have
/// happened, is tried in all.
const CREATE_ATTEMPTS: u32 = 4;

/// How many times a read is tried when the connection fails under it (a pooled connection
/// the server closed meanwhile, a server restart).
const READ_ATTEMPTS: u32 = 3;

/// How many times `ensure_created` is tried when it loses a race with another creator.
const SCHEMA_ATTEMPTS: u32 = 5;

/// The time limit on making a connection (resolving the host, the TCP connection, the startup
/// handshake and authentication) used when the URL or configuration sets none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connection attempts may be under way at once in the process, counting those
/// given up on after their time limit whose threads still wait for an unresponsive server.
/// Beyond it, connecting fails at once instead of leaving yet another thread waiting.
const MAX_CONNECTING: usize = 64;

/// The suffixes of the helper tables made next to the commits table `T` (`T_snapshots`,
/// `T_quarantine`, `T_meta`). A commits table may not end in one of them (in any case): its
/// name could be another store's helper table.
const HELPER_SUFFIXES: [&str; 3] = ["_snapshots", "_quarantine", "_meta"];

/// What one of the store's tables looks like: its columns (name and type, as PostgreSQL's
/// `format_type` spells it) and its primary key's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    columns: Vec<(String, String)>,
    key: Vec<String>,
}

impl Shape {
    fn new(columns: &[(&str, &str)], key: &[&str]) -> Self {
        let mut shape = Shape {
            columns: columns
                .iter()
                .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
                .collect(),
            key: key.iter().map(|name| (*name).to_owned()).collect(),
        };
        shape.columns.sort();
        shape.key.sort();
        shape
    }

    /// The shapes of the commits, snapshots, quarantine and meta tables, in that order, as
    /// [`Sql::new`] creates them.
    fn expected() -> [Shape; 4] {
        const BIGINT: &str = "bigint";
        const BYTEA: &str = "bytea";
        const TEXT: &str = "text";
        const TIME: &str = "timestamp with time zone";
        [
            Shape::new(
                &[
                    ("number", BIGINT),
                    ("document", BYTEA),
                    ("created_at", TIME),
                ],
                &["number"],
            ),
            Shape::new(
                &[
                    ("name", TEXT),
                    ("commit", BIGINT),
                    ("document", BYTEA),
                    ("created_at", TIME),
                ],
                &["name", "commit"],
            ),
            Shape::new(
                &[
                    ("id", BIGINT),
                    ("number", BIGINT),
                    ("document", BYTEA),
                    ("created_at", TIME),
                    ("quarantined_at", TIME),
                ],
                &["id"],
            ),
            Shape::new(&[("key", TEXT), ("value", TEXT)], &["key"]),
        ]
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|(name, kind)| format!("{name} {kind}"))
            .collect();
        write!(f, "columns ({})", columns.join(", "))?;
        if self.key.is_empty() {
            write!(f, " and no primary key")
        } else {
            write!(f, " and primary key ({})", self.key.join(", "))
        }
    }
}

/// What the store's four tables are now: for each (commits, snapshots, quarantine, meta), its
/// kind (`pg_class.relkind`) and shape when it exists.
type Found = [Option<(String, Shape)>; 4];

/// Which of the store's tables [`Found`] holds at each index, for messages.
const TABLE_ROLES: [&str; 4] = [
    "commit table",
    "snapshot table",
    "quarantine table",
    "schema-version table",
];

/// The longest a watch sleeps before trying again to listen when the server is unreachable.
const WATCH_RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// A store kept in PostgreSQL tables, keyed by commit number.
///
/// # Schema
/// For the table name `T` (by default `foldstore`), [`ensure_created`](Storage::ensure_created)
/// makes, in one transaction:
/// - `T`: the commits, `(number bigint primary key, document bytea, created_at timestamptz)`.
///   The primary key makes creating a commit exclusive: a second insert of the same number is a
///   unique violation, which is reported as a [`Conflict`].
/// - `T_snapshots`: the snapshots, `(name text, commit bigint, document bytea, created_at)`,
///   keyed by `(name, commit)`.
/// - `T_quarantine`: commits that repair moved aside, with the time they were moved.
/// - `T_meta`: the schema's version (key `schema_version`). A table made by a newer foldstore
///   is refused rather than misread.
/// - A trigger on `T` that publishes every new commit's number on the notification channel
///   named `T` (`pg_notify`), so watches learn of commits from every writer, whatever program
///   it is.
///
/// Because the helper tables are named after `T`, a table name that ends in `_snapshots`,
/// `_quarantine` or `_meta` (in any case) is refused: it could be another store's helper
/// table. Tables that exist already are checked before anything is read from or written to
/// them, and before anything is created next to them: each must have exactly the columns,
/// column types and primary key above (`T_meta`: `key text` primary key, `value text`).
/// Another program's table, or a view, is refused with an error that says what it has, and is
/// never written to.
///
/// Documents are stored as `bytea`, never as `json`/`jsonb`, so their bytes (key order,
/// spacing, anything) come back exactly. Identifiers are always quoted, so the table's name
/// keeps its case. Creating the schema is idempotent and safe when several processes do it at
/// once (an advisory lock serializes them).
///
/// A store whose tables do not exist yet is empty: reads find nothing and create nothing. The
/// first write creates the tables (as `ensure_created` would).
///
/// ```no_run
/// # fn main() -> Result<(), foldstore::Error> {
/// use foldstore::{Event, PostgresStorage, Store};
///
/// let url = "postgres://app:secret@localhost:5432/shop?table=orders";
/// let storage = PostgresStorage::connect(url)?;
/// let store = Store::with_storage(storage);
/// store.ensure_folder()?; // creates the tables if they do not exist
/// store.log(&Event::new("opened"))?;
/// # Ok(())
/// # }
/// ```
///
/// # Durability
/// Every commit is one `INSERT` in autocommit mode. With PostgreSQL's default
/// `synchronous_commit = on` (and `fsync = on`), the server acknowledges it only once its
/// write-ahead log is flushed to disk, so an acknowledged commit survives a crash or power
/// loss of the server. A server configured with weaker settings gives weaker guarantees.
///
/// # Writes with an unknown outcome
/// When an insert fails in a way that leaves its outcome unknown (the connection was lost or
/// closed before the acknowledgement came), the backend reconnects and reads the commit back:
/// if it holds exactly the document that was sent, the commit was ours; if it holds another,
/// another writer won; if there is none, the insert is tried again (a bounded number of times).
/// The store puts a unique `commitId` header in every commit for this backend (see
/// [`Storage::needs_commit_ids`]), so two writers never send identical documents.
///
/// # Connections
/// Connections are made when first needed, not by the constructors, and kept in a small pool
/// shared by the threads using the backend. Making one may take the URL's `connect_timeout`
/// (in seconds; 10 s when it sets none, for each host the URL names), and that limit covers
/// all of it: the TCP connection, the startup handshake and authentication, so a server that
/// accepts connections and never answers fails each operation after that long, with an error
/// that says what to check. A `connect_timeout` of 0 waits without limit, as for libpq. Once
/// connected, statements have no time limit of the client's own (a server's
/// `statement_timeout` can set one). TLS is not supported (connections use `NoTls`):
/// reach a remote server through a trusted network or a tunnel.
///
/// Neither [`Debug`](fmt::Debug) nor any message shows the password.
pub struct PostgresStorage {
    /// How to connect.
    config: Config,
    /// The commits table's name (without quotes).
    table: String,
    /// The server and database, as a URL without the password, for messages.
    address: String,
    /// The SQL of every query, for this table.
    sql: Sql,
    /// Idle connections, ready for reuse.
    idle: Mutex<Vec<Connection>>,
    /// Whether the schema's version and the tables' shapes were found acceptable (checked
    /// once per backend).
    schema_checked: AtomicBool,
    /// The time limit on making a connection, startup included (`None`: no limit).
    connect_limit: Option<Duration>,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("address", &self.address)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// The SQL text of every statement, made once for a table name.
#[derive(Debug)]
struct Sql {
    insert: String,
    read: String,
    exists: String,
    range: String,
    last: String,
    append: String,
    find: String,
    modified: String,
    commits: String,
    snapshots: String,
    insert_snapshot: String,
    read_snapshot: String,
    quarantine: String,
    version: String,
    meta_table: String,
    /// The store's tables' kinds, columns and primary keys (see [`Found`]).
    shapes: String,
    /// The quoted names of the commits, snapshots, quarantine and meta tables, in that order:
    /// the parameter of `shapes`.
    names: Vec<String>,
    schema: String,
    listen: String,
    lock_key: i64,
}

impl Sql {
    fn new(table: &str) -> Self {
        let commits = quote(table);
        let snapshots = quote(&format!("{table}_snapshots"));
        let quarantine = quote(&format!("{table}_quarantine"));
        let meta = quote(&format!("{table}_meta"));
        let function = quote(&format!("{table}_notify"));
        // The lowest free number from $1 on: $1 itself, or the end of the run of commits that
        // starts there (found along the primary key's index).
        let next_free = format!(
            "SELECT coalesce(\
                 (SELECT $1::bigint WHERE NOT EXISTS \
                     (SELECT 1 FROM {commits} WHERE number = $1::bigint)), \
                 (SELECT a.number + 1 FROM {commits} a WHERE a.number >= $1::bigint \
                     AND NOT EXISTS (SELECT 1 FROM {commits} b WHERE b.number = a.number + 1) \
                     ORDER BY a.number LIMIT 1))"
        );
        Sql {
            insert: format!("INSERT INTO {commits} (number, document) VALUES ($1, $2)"),
            read: format!("SELECT document FROM {commits} WHERE number = $1"),
            exists: format!("SELECT 1 FROM {commits} WHERE number = $1"),
            range: format!(
                "SELECT number, document FROM {commits} WHERE number >= $1 ORDER BY number LIMIT $2"
            ),
            last: format!("SELECT max(number) FROM {commits}"),
            append: format!(
                "INSERT INTO {commits} (number, document) SELECT ({next_free}), $2 RETURNING number"
            ),
            find: format!(
                "SELECT number FROM {commits} WHERE number >= $1 AND document = $2 \
                 ORDER BY number LIMIT 1"
            ),
            modified: format!("SELECT created_at FROM {commits} WHERE number = $1"),
            commits: format!("SELECT number FROM {commits} ORDER BY number"),
            snapshots: format!("SELECT name, commit FROM {snapshots}"),
            insert_snapshot: format!(
                "INSERT INTO {snapshots} (name, commit, document) VALUES ($1, $2, $3)"
            ),
            read_snapshot: format!(
                "SELECT document FROM {snapshots} WHERE name = $1 AND commit = $2"
            ),
            quarantine: format!(
                "WITH moved AS (DELETE FROM {commits} WHERE number = $1 \
                 RETURNING number, document, created_at) \
                 INSERT INTO {quarantine} (number, document, created_at) \
                 SELECT number, document, created_at FROM moved RETURNING id"
            ),
            version: format!("SELECT value FROM {meta} WHERE key = 'schema_version'"),
            meta_table: format!(
                "CREATE TABLE IF NOT EXISTS {meta} (key text PRIMARY KEY, value text NOT NULL)"
            ),
            shapes: "SELECT t.ord, c.relkind::text, a.attname::text, \
                         format_type(a.atttypid, a.atttypmod), \
                         coalesce(a.attnum = ANY(i.indkey::int2[]), false) \
                     FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord) \
                     JOIN pg_class c ON c.oid = to_regclass(t.name) \
                     LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 \
                         AND NOT a.attisdropped \
                     LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
                     ORDER BY t.ord, a.attnum"
                .to_owned(),
            names: vec![
                commits.clone(),
                snapshots.clone(),
                quarantine.clone(),
                meta.clone(),
            ],
            schema: format!(
                "CREATE TABLE IF NOT EXISTS {commits} (\
                     number bigint PRIMARY KEY CHECK (number >= 1), \
                     document bytea NOT NULL, \
                     created_at timestamptz NOT NULL DEFAULT now()); \
                 CREATE TABLE IF NOT EXISTS {snapshots} (\
                     name text NOT NULL, \
                     commit bigint NOT NULL CHECK (commit >= 0), \
                     document bytea NOT NULL, \
                     created_at timestamptz NOT NULL DEFAULT now(), \
                     PRIMARY KEY (name, commit)); \
                 CREATE TABLE IF NOT EXISTS {quarantine} (\
                     id bigserial PRIMARY KEY, \
                     number bigint NOT NULL, \
                     document bytea NOT NULL, \
                     created_at timestamptz, \
                     quarantined_at timestamptz NOT NULL DEFAULT now()); \
                 CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS \
                 $foldstore$ BEGIN PERFORM pg_notify({channel}, NEW.number::text); \
                 RETURN NULL; END $foldstore$; \
                 DROP TRIGGER IF EXISTS {function} ON {commits}; \
                 CREATE TRIGGER {function} AFTER INSERT ON {commits} \
                     FOR EACH ROW EXECUTE FUNCTION {function}(); \
                 INSERT INTO {meta} (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') \
                     ON CONFLICT (key) DO NOTHING",
                channel = literal(table),
            ),
            listen: format!("LISTEN {commits}"),
            lock_key: lock_key(table),
        }
    }
}

/// A quoted identifier (the name was validated: no quotes in it).
fn quote(identifier: &str) -> String {
    format!("\"{identifier}\"")
}

/// A quoted string literal (the text holds no single quote: table names are validated).
fn literal(text: &str) -> String {
    format!("'{text}'")
}

/// The advisory lock that serializes schema creation for one table name (FNV-1a of the name).
fn lock_key(table: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "foldstore schema ".bytes().chain(table.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Names for the statements a connection keeps prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Query {
    Insert,
    Read,
    Exists,
    Range,
    Last,
    Append,
    Find,
    Modified,
    Commits,
    Snapshots,
    InsertSnapshot,
    ReadSnapshot,
    Quarantine,
    Version,
    Shapes,
}

impl Query {
    fn sql(self, sql: &Sql) -> &str {
        match self {
            Query::Insert => &sql.insert,
            Query::Read => &sql.read,
            Query::Exists => &sql.exists,
            Query::Range => &sql.range,
            Query::Last => &sql.last,
            Query::Append => &sql.append,
            Query::Find => &sql.find,
            Query::Modified => &sql.modified,
            Query::Commits => &sql.commits,
            Query::Snapshots => &sql.snapshots,
            Query::InsertSnapshot => &sql.insert_snapshot,
            Query::ReadSnapshot => &sql.read_snapshot,
            Query::Quarantine => &sql.quarantine,
            Query::Version => &sql.version,
            Query::Shapes => &sql.shapes,
        }
    }
}

/// A connection and the statements prepared on it.
struct Connection {
    client: Client,
    prepared: HashMap<Query, Statement>,
}

impl Connection {
    /// The prepared statement for `query`, preparing it on first use.
    fn statement(&mut self, query: Query, sql: &Sql) -> Result<Statement, postgres::Error> {
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
enum Failure {
    /// No connection could be made: nothing was sent.
    Connect(ConnectError),
    /// A statement failed (or the connection failed under it).
    Query(postgres::Error),
}

impl Failure {
    fn into_source(self) -> Box<dyn std::error::Error + Send + Sync> {
        match self {
            Failure::Connect(error) => Box::new(error),
            Failure::Query(error) => Box::new(error),
        }
    }

    /// What went wrong, for messages.
    fn describe(&self) -> String {
        match self {
            Failure::Connect(error) => error.to_string(),
            Failure::Query(error) => describe(error),
        }
    }

    fn code(&self) -> Option<&SqlState> {
        match self {
            Failure::Connect(_) => None,
            Failure::Query(error) => error.code(),
        }
    }

    /// Whether the statement may or may not have taken effect: the connection was lost before
    /// the server's answer came.
    fn outcome_unknown(&self) -> bool {
        match self {
            Failure::Connect(_) => false,
            Failure::Query(error) => connection_lost(error),
        }
    }

    /// Whether trying again on a new connection may succeed (for reads).
    fn transient(&self) -> bool {
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
fn describe(error: &postgres::Error) -> String {
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
enum ConnectError {
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
fn connect_within(config: &Config, limit: Option<Duration>) -> Result<Client, ConnectError> {
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

/// The outcome of one try at creating the schema.
enum SchemaOutcome {
    /// The schema is there, at this code's version.
    Ready,
    /// The table records a version this code does not know.
    Unknown(String),
    /// A table exists that is not what foldstore makes: nothing was created.
    Wrong(Mismatch),
}

impl PostgresStorage {
    /// The table name used when the URL names none: `foldstore`.
    pub const DEFAULT_TABLE: &'static str = DEFAULT_TABLE;

    /// The version of the schema this code creates and understands. A store whose `_meta`
    /// table records a newer version is refused.
    pub const SCHEMA_VERSION: i64 = SCHEMA_VERSION;

    /// The longest table name accepted: PostgreSQL identifiers have at most 63 bytes, and the
    /// backend appends suffixes such as `_quarantine` to the name.
    pub const MAX_TABLE_NAME_LENGTH: usize = MAX_TABLE_NAME_LENGTH;

    /// A backend for the URL `postgres://user[:password]@host[:port]/database[?table=NAME]`
    /// (`postgresql://` works too). The `table` parameter names the commits table (by default
    /// [`DEFAULT_TABLE`](Self::DEFAULT_TABLE)); it may not end in `_snapshots`, `_quarantine`
    /// or `_meta` (see the type's docs). The other parameters are PostgreSQL's own
    /// (`connect_timeout`, `application_name`, ...); `connect_timeout` (seconds, 10 by default,
    /// 0 for no limit) bounds the whole of making a connection, startup and authentication
    /// included.
    ///
    /// No connection is made yet: the first operation connects.
    ///
    /// # Errors
    /// [`Error::Backend`] when the URL is not a PostgreSQL URL, cannot be parsed, names no
    /// host, or names an invalid table. The message shows the URL without its password.
    pub fn connect(url: &str) -> Result<Self> {
        let shown = redact_url(url);
        let invalid = |problem: String| Error::Backend {
            backend: BACKEND,
            message: format!("invalid PostgreSQL URL {shown}: {problem}"),
            source: None,
        };
        let rest = if let Some(rest) = url.strip_prefix("postgres://") {
            rest
        } else if let Some(rest) = url.strip_prefix("postgresql://") {
            rest
        } else {
            return Err(invalid(
                "it must start with postgres:// or postgresql:// \
                 (e.g. postgres://user:password@localhost:5432/database?table=foldstore)"
                    .to_owned(),
            ));
        };
        let (base, query) = match rest.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (rest, None),
        };
        let mut table = None;
        let mut kept = Vec::new();
        let mut unlimited = false;
        for parameter in query.into_iter().flat_map(|query| query.split('&')) {
            match parameter.split_once('=') {
                Some(("connect_timeout", seconds)) => {
                    // As for libpq, zero or less is no limit (the client library ignores it).
                    unlimited = seconds
                        .trim()
                        .parse::<i64>()
                        .is_ok_and(|seconds| seconds <= 0);
                    kept.push(parameter);
                }
                Some(("table", name)) => {
                    if table.replace(name).is_some() {
                        return Err(invalid("it names the table twice".to_owned()));
                    }
                }
                _ if parameter == "table" => {
                    return Err(invalid(
                        "its table parameter has no value (write ?table=NAME)".to_owned(),
                    ))
                }
                _ if parameter.is_empty() => {}
                _ => kept.push(parameter),
            }
        }
        let mut cleaned = format!("postgres://{base}");
        if !kept.is_empty() {
            cleaned.push('?');
            cleaned.push_str(&kept.join("&"));
        }
        let config: Config = cleaned
            .parse()
            .map_err(|e: postgres::Error| invalid(describe(&e)))?;
        if config.get_hosts().is_empty() {
            return Err(invalid(
                "it names no host (e.g. postgres://user@localhost:5432/database)".to_owned(),
            ));
        }
        let table = table.unwrap_or(DEFAULT_TABLE);
        validate_table_name(table).map_err(invalid)?;
        let limit = (!unlimited).then(|| connect_limit(&config));
        Ok(Self::build(config, table, limit))
    }

    /// A backend on the server and database `config` names, in the table `table`.
    ///
    /// No connection is made yet: the first operation connects.
    ///
    /// Making a connection may take `config`'s connect timeout (10 s when it sets none), startup
    /// and authentication included.
    ///
    /// # Errors
    /// [`Error::Backend`] when `table` is not a valid table name (letters, digits and
    /// underscores, not starting with a digit, at most [`MAX_TABLE_NAME_LENGTH`](Self::MAX_TABLE_NAME_LENGTH) characters,
    /// not ending in `_snapshots`, `_quarantine` or `_meta`), or `config` names no host.
    pub fn with_config(config: Config, table: &str) -> Result<Self> {
        let address = address(&config);
        if config.get_hosts().is_empty() {
            return Err(Error::Backend {
                backend: BACKEND,
                message: format!("the PostgreSQL configuration for {address} names no host"),
                source: None,
            });
        }
        validate_table_name(table).map_err(|problem| Error::Backend {
            backend: BACKEND,
            message: format!("invalid table for {address}: {problem}"),
            source: None,
        })?;
        let limit = connect_limit(&config);
        Ok(Self::build(config, table, Some(limit)))
    }

    fn build(mut config: Config, table: &str, connect_limit: Option<Duration>) -> Self {
        // The client applies it to each TCP connection; `connect_limit` bounds the whole.
        if config.get_connect_timeout().is_none() && connect_limit.is_some() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("foldstore");
        }
        PostgresStorage {
            address: address(&config),
            sql: Sql::new(table),
            table: table.to_owned(),
            config,
            idle: Mutex::new(Vec::new()),
            schema_checked: AtomicBool::new(false),
            connect_limit,
        }
    }

    /// The commits table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The server and database, as a URL without the password (e.g.
    /// `postgres://user@localhost:5432/database`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The notification channel on which every new commit's number is published (the table's
    /// name), for programs that want to `LISTEN` themselves.
    pub fn channel(&self) -> &str {
        &self.table
    }

    fn connect_client(&self) -> Result<Client, ConnectError> {
        let client = connect_within(&self.config, self.connect_limit)?;
        tracing::debug!(address = %self.address, table = %self.table, "connected to PostgreSQL");
        Ok(client)
    }

    /// Runs `operation` on an idle connection, or a new one. The connection goes back to the
    /// pool unless the connection itself failed. Statements run in autocommit mode (or in a
    /// transaction that `operation` ends, or that is rolled back when dropped), so no pooled
    /// connection is ever left inside a transaction.
    fn attempt<T>(
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
    fn attempt_idempotent<T>(
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
    fn error(&self, what: &str, failure: Failure) -> Error {
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
    fn read<T>(
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

    /// Checks, once per backend, that the schema's version is one this code knows and that
    /// the store's tables are the ones foldstore makes (see [`mismatch`]): a table of another
    /// shape (another program's, or another store's helper table) is refused before anything
    /// is read from or written to it. A store not created yet passes (and is checked again
    /// later).
    fn check_schema(&self) -> Result<()> {
        if self.schema_checked.load(Ordering::Acquire) {
            return Ok(());
        }
        let found = self
            .attempt_idempotent(|connection, sql| {
                let statement = connection.statement(Query::Shapes, sql)?;
                let rows = connection.client.query(&statement, &[&sql.names])?;
                Ok(found_from_rows(&rows))
            })
            .map_err(|failure| self.error("look at the store's tables", failure))?;
        // The version first: a newer foldstore may shape its tables otherwise.
        if let Some(wrong) = mismatch(&found, META) {
            return Err(self.refusal(&wrong));
        }
        let mut version = None;
        if found[META].is_some() {
            let read = self.attempt_idempotent(|connection, sql| {
                let statement = connection.statement(Query::Version, sql)?;
                Ok(connection
                    .client
                    .query_opt(&statement, &[])?
                    .map(|row| row.get::<_, String>(0)))
            });
            version = match read {
                Ok(version) => version,
                Err(failure) if failure.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
                Err(failure) => return Err(self.error("read the schema version", failure)),
            };
            if let Some(version) = &version {
                self.accept_version(version)?;
            }
        }
        if let Some(wrong) = (0..META).find_map(|index| mismatch(&found, index)) {
            return Err(self.refusal(&wrong));
        }
        if version.is_some() && found[COMMITS].is_some() {
            self.schema_checked.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// The error refusing a table that is not what foldstore makes.
    fn refusal(&self, wrong: &Mismatch) -> Error {
        let name = helper_name(&self.table, wrong.index);
        let role = TABLE_ROLES[wrong.index];
        let whose = if wrong.index == COMMITS {
            String::new()
        } else {
            format!(
                ", which the store in table {} keeps as its {role},",
                self.table
            )
        };
        Error::Backend {
            backend: BACKEND,
            message: format!(
                "table {name} at {}{whose} is not a foldstore {role}: {}, where foldstore makes \
                 it with {}; foldstore neither reads nor writes it: name another table with \
                 ?table=NAME",
                self.address,
                wrong.found,
                Shape::expected()[wrong.index]
            ),
            source: None,
        }
    }

    /// Accepts the schema version `version`, or says why not.
    fn accept_version(&self, version: &str) -> Result<()> {
        match version.trim().parse::<i64>() {
            Ok(number) if (1..=SCHEMA_VERSION).contains(&number) => Ok(()),
            Ok(number) if number > SCHEMA_VERSION => Err(Error::Backend {
                backend: BACKEND,
                message: format!(
                    "table {} at {} has schema version {number}, made by a newer foldstore; this \
                     foldstore knows versions up to {SCHEMA_VERSION}: upgrade foldstore to use \
                     this store",
                    self.table, self.address
                ),
                source: None,
            }),
            _ => Err(Error::Backend {
                backend: BACKEND,
                message: format!(
                    "table {}_meta at {} records an invalid schema version {version:?}: it was \
                     not made by foldstore, or was changed by hand; use another table name",
                    self.table, self.address
                ),
                source: None,
            }),
        }
    }

    /// One try at creating the schema, serialized with other creators by an advisory lock.
    /// Tables that exist already are checked first (see [`mismatch`]): nothing is created
    /// next to, or written to, a table that is not what foldstore makes.
    fn create_schema(
        connection: &mut Connection,
        sql: &Sql,
    ) -> Result<SchemaOutcome, postgres::Error> {
        let mut transaction = connection.client.transaction()?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&sql.lock_key])?;
        let rows = transaction.query(sql.shapes.as_str(), &[&sql.names])?;
        let found = found_from_rows(&rows);
        if let Some(wrong) = mismatch(&found, META) {
            transaction.rollback()?;
            return Ok(SchemaOutcome::Wrong(wrong));
        }
        let version: Option<String> = if found[META].is_some() {
            transaction
                .query_opt(sql.version.as_str(), &[])?
                .map(|row| row.get(0))
        } else {
            None
        };
        if let Some(version) = &version {
            if version.trim() != SCHEMA_VERSION.to_string() {
                // Refused by the caller; nothing to keep.
                transaction.rollback()?;
                return Ok(SchemaOutcome::Unknown(version.clone()));
            }
        }
        if let Some(wrong) = (0..META).find_map(|index| mismatch(&found, index)) {
            transaction.rollback()?;
            return Ok(SchemaOutcome::Wrong(wrong));
        }
        if version.is_some() && found.iter().all(Option::is_some) {
            // Made before: nothing to do (recreating the trigger would lock the table).
            transaction.commit()?;
            return Ok(SchemaOutcome::Ready);
        }
        transaction.batch_execute(&sql.meta_table)?;
        transaction.batch_execute(&sql.schema)?;
        transaction.commit()?;
        Ok(SchemaOutcome::Ready)
    }

    /// Creates a row exclusively (a commit or a snapshot), resolving inserts whose outcome is
    /// unknown by reading the row back.
    fn create_row(
        &self,
        what: &str,
        conflict: Conflict,
        document: &[u8],
        insert: impl Fn(&mut Connection, &Sql) -> Result<u64, postgres::Error>,
        read_back: impl Fn() -> Result<Option<Vec<u8>>>,
    ) -> Result<Result<(), Conflict>> {
        self.check_schema()?;
        let mut created_tables = false;
        let mut outcome_was_unknown = false;
        let mut tries = 0;
        loop {
            tries += 1;
            let failure = match self.attempt(&insert) {
                Ok(_) => return Ok(Ok(())),
                Err(failure) => failure,
            };
            if failure.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                if !outcome_was_unknown {
                    tracing::trace!(what, "taken by another writer");
                    return Ok(Err(conflict));
                }
                // An earlier try of ours may be the row that is there.
                return match read_back()? {
                    Some(bytes) if bytes == document => Ok(Ok(())),
                    _ => Ok(Err(conflict)),
                };
            }
            if failure.code() == Some(&SqlState::UNDEFINED_TABLE) && !created_tables {
                tracing::info!(table = %self.table, address = %self.address, "the store's tables do not exist: creating them");
                created_tables = true;
                self.ensure_created()?;
                continue;
            }
            if !failure.outcome_unknown() {
                return Err(self.error(what, failure));
            }
            tracing::warn!(what, table = %self.table, error = %failure.describe(), "the connection failed during an insert: reading back to learn its outcome");
            outcome_was_unknown = true;
            let found = read_back().map_err(|e| Error::Backend {
                backend: BACKEND,
                message: format!(
                    "cannot {what} in table {} at {}: the connection failed before the server \
                     answered ({}), and reading back to learn whether it happened failed too \
                     ({e}); the commit may or may not exist",
                    self.table,
                    self.address,
                    failure.describe()
                ),
                source: Some(Box::new(e)),
            })?;
            match found {
                Some(bytes) if bytes == document => {
                    tracing::debug!(
                        what,
                        "the insert had succeeded before the connection failed"
                    );
                    return Ok(Ok(()));
                }
                Some(_) => return Ok(Err(conflict)),
                None if tries < CREATE_ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(10 << tries));
                }
                None => {
                    return Err(Error::Backend {
                        backend: BACKEND,
                        message: format!(
                            "cannot {what} in table {} at {}: the connection failed during the \
                             insert {tries} times ({}); it did not happen",
                            self.table,
                            self.address,
                            failure.describe()
                        ),
                        source: Some(failure.into_source()),
                    })
                }
            }
        }
    }

    /// A commit number read from a row.
    fn number_from_row(&self, number: i64) -> Result<u64> {
        u64::try_from(number).map_err(|_| Error::Backend {
            backend: BACKEND,
            message: format!(
                "table {} at {} holds a negative commit number {number}",
                self.table, self.address
            ),
            source: None,
        })
    }

    /// The number as a bigint, or `None` beyond its range (no such commit can exist).
    fn key(number: u64) -> Option<i64> {
        i64::try_from(number).ok()
    }

    /// The number as a bigint, or an error saying that PostgreSQL cannot hold it.
    fn key_for_write(&self, number: u64) -> Result<i64> {
        Self::key(number).ok_or_else(|| Error::Backend {
            backend: BACKEND,
            message: format!(
                "commit number {number} is beyond the range of PostgreSQL's bigint, which table \
                 {} at {} keys commits by",
                self.table, self.address
            ),
            source: None,
        })
    }

    /// The snapshots present, sorted.
    fn list_snapshots(&self) -> Result<Vec<(String, u64)>> {
        let mut snapshots = self.read(
            || "list the snapshots".to_owned(),
            Vec::new,
            |connection, sql| {
                let statement = connection.statement(Query::Snapshots, sql)?;
                let rows = connection.client.query(&statement, &[])?;
                Ok(rows
                    .iter()
                    .filter_map(|row| {
                        let commit = u64::try_from(row.get::<_, i64>(1)).ok()?;
                        Some((row.get::<_, String>(0), commit))
                    })
                    .collect::<Vec<(String, u64)>>())
            },
        )?;
        snapshots.sort();
        Ok(snapshots)
    }

    fn listen(config: &Config, limit: Option<Duration>, sql: &str) -> Result<Client, Failure> {
        let mut client = connect_within(config, limit).map_err(Failure::Connect)?;
        client.batch_execute(sql).map_err(Failure::Query)?;
        Ok(client)
    }
}

/// The time limit on connecting for `config`: its `connect_timeout` (by default
/// [`DEFAULT_CONNECT_TIMEOUT`]) for each host it names, as libpq applies it.
fn connect_limit(config: &Config) -> Duration {
    let each = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let hosts = u32::try_from(config.get_hosts().len().max(1)).unwrap_or(u32::MAX);
    each.saturating_mul(hosts)
}

/// The index in [`Found`] of the commits table.
const COMMITS: usize = 0;

/// The index in [`Found`] of the schema-version table.
const META: usize = 3;

/// The name of the store's table at `index` of [`Found`], for the commits table `table`.
fn helper_name(table: &str, index: usize) -> String {
    match index
        .checked_sub(1)
        .and_then(|helper| HELPER_SUFFIXES.get(helper))
    {
        Some(suffix) => format!("{table}{suffix}"),
        None => table.to_owned(),
    }
}

/// The store's tables as found by [`Sql::shapes`]'s rows: (index + 1, relkind, column name,
/// column type, whether the column is in the primary key); a table without columns has one
/// row with no column.
fn found_from_rows(rows: &[postgres::Row]) -> Found {
    let mut found: Found = Default::default();
    for row in rows {
        let Some(index) = usize::try_from(row.get::<_, i64>(0) - 1)
            .ok()
            .filter(|index| *index < found.len())
        else {
            continue;
        };
        let (_, shape) = found[index].get_or_insert_with(|| {
            (
                row.get::<_, String>(1),
                Shape {
                    columns: Vec::new(),
                    key: Vec::new(),
                },
            )
        });
        if let Some(column) = row.get::<_, Option<String>>(2) {
            if row.get::<_, bool>(4) {
                shape.key.push(column.clone());
            }
            shape
                .columns
                .push((column, row.get::<_, Option<String>>(3).unwrap_or_default()));
        }
    }
    for (_, shape) in found.iter_mut().flatten() {
        shape.columns.sort();
        shape.key.sort();
    }
    found
}

/// How a table that exists differs from what foldstore makes.
#[derive(Debug)]
struct Mismatch {
    /// Which table, as an index of [`Found`].
    index: usize,
    /// What it is, for messages ("it has columns (...) and ...").
    found: String,
}

/// How the table at `index` of `found` differs from what foldstore makes, when it exists and
/// does: another kind of relation (a view, ...), other columns or column types, or another
/// primary key.
fn mismatch(found: &Found, index: usize) -> Option<Mismatch> {
    let (kind, shape) = found[index].as_ref()?;
    let what = match kind.as_str() {
        // Ordinary and partitioned tables.
        "r" | "p" if *shape == Shape::expected()[index] => return None,
        "r" | "p" => format!("it has {shape}"),
        "v" => "it is a view".to_owned(),
        "m" => "it is a materialized view".to_owned(),
        "f" => "it is a foreign table".to_owned(),
        "S" => "it is a sequence".to_owned(),
        "i" | "I" => "it is an index".to_owned(),
        "c" => "it is a composite type".to_owned(),
        other => format!("it is not a table (relkind {other:?})"),
    };
    Some(Mismatch { index, found: what })
}

/// Checks a table name: a plain identifier.
fn validate_table_name(name: &str) -> std::result::Result<(), String> {
    let problem = if name.is_empty() {
        "the table name is empty"
    } else if name.len() > MAX_TABLE_NAME_LENGTH {
        "the table name is longer than 50 characters"
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        "the table name starts with a digit"
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        "the table name has characters other than ASCII letters, digits and '_'"
    } else {
        let lower = name.to_ascii_lowercase();
        let Some(suffix) = HELPER_SUFFIXES
            .iter()
            .find(|suffix| lower.ends_with(*suffix))
        else {
            return Ok(());
        };
        let store = &name[..name.len() - suffix.len()];
        return Err(format!(
            "the table name {name:?} ends in {suffix:?}: foldstore keeps a store's snapshots, \
             quarantine and schema version in tables named after its commit table with the \
             suffixes {}, so this name could be a helper table of the store in table \
             {store:?}, and two stores would write to one table; use a name that does not end \
             in one of them (in any case), such as ?table={store}_store",
            HELPER_SUFFIXES.join(", ")
        ));
    };
    Err(format!(
        "{problem} ({name:?}); use a plain name such as ?table=foldstore_orders"
    ))
}

/// The URL of the server and database `config` names, without the password.
fn address(config: &Config) -> String {
    let mut text = String::from("postgres://");
    if let Some(user) = config.get_user() {
        text.push_str(user);
        text.push('@');
    }
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let name = match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            let port = ports
                .get(index)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            format!("{name}:{port}")
        })
        .collect();
    text.push_str(&hosts.join(","));
    text.push('/');
    text.push_str(config.get_dbname().or(config.get_user()).unwrap_or(""));
    text
}

/// `url` with any password replaced by `***` (in the user part and in a `password`
/// parameter).
fn redact_url(url: &str) -> String {
    let mut text = url.to_owned();
    if let Some(start) = text.find("://").map(|i| i + 3) {
        let end = text[start..]
            .find(['/', '?'])
            .map_or(text.len(), |i| start + i);
        if let Some(at) = text[start..end].rfind('@').map(|i| start + i) {
            if let Some(colon) = text[start..at].find(':').map(|i| start + i) {
                text.replace_range(colon + 1..at, "***");
            }
        }
    }
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(index) = rest.find("password=") {
        let value = index + "password=".len();
        redacted.push_str(&rest[..value]);
        redacted.push_str("***");
        rest = &rest[value..];
        let end = rest.find(['&', ' ']).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    redacted.push_str(rest);
    redacted
}

impl Storage for PostgresStorage {
    fn ensure_created(&self) -> Result<()> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.attempt(Self::create_schema) {
                Ok(SchemaOutcome::Ready) => {
                    tracing::debug!(table = %self.table, address = %self.address, "schema ready");
                    self.schema_checked.store(true, Ordering::Release);
                    return Ok(());
                }
                Ok(SchemaOutcome::Unknown(version)) => return self.accept_version(&version),
                Ok(SchemaOutcome::Wrong(wrong)) => return Err(self.refusal(&wrong)),
                Err(failure)
                    if tries < SCHEMA_ATTEMPTS
                        && (failure.transient()
                            || matches!(
                                failure.code(),
                                Some(code) if *code == SqlState::UNIQUE_VIOLATION
                                    || *code == SqlState::DUPLICATE_TABLE
                                    || *code == SqlState::DUPLICATE_OBJECT
                                    || *code == SqlState::T_R_DEADLOCK_DETECTED
                                    || *code == SqlState::T_R_SERIALIZATION_FAILURE
                            )) =>
                {
                    // Another process created the same objects at the same moment (PostgreSQL's
                    // IF NOT EXISTS is not safe against that); the next try finds them.
                    tracing::debug!(table = %self.table, error = %failure.describe(), "lost a race creating the schema; trying again");
                    std::thread::sleep(Duration::from_millis(10 << tries));
                }
                Err(failure) => return Err(self.error("create the store's tables", failure)),
            }
        }
    }

    fn exists(&self) -> Result<bool> {
        let exists = self.attempt_idempotent(|connection, _| {
            let row = connection
                .client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quote(&self.table)])?;
            Ok(row.get::<_, bool>(0))
        });
        exists.map_err(|failure| self.error("find out whether the table exists", failure))
    }

    fn list(&self) -> Result<Listing> {
        let commits = self.read(
            || "list the commits".to_owned(),
            Vec::new,
            |connection, sql| {
                let statement = connection.statement(Query::Commits, sql)?;
                let rows = connection.client.query(&statement, &[])?;
                Ok(rows
                    .iter()
                    .filter_map(|row| u64::try_from(row.get::<_, i64>(0)).ok())
                    .collect::<Vec<u64>>())
            },
        )?;
        Ok(Listing {
            commits,
            snapshots: self.list_snapshots()?,
            suspicious: Vec::new(),
        })
    }

    /// The snapshots and, from a `max()` query, the last commit: no listing of every commit.
    fn snapshots(&self) -> Result<super::SnapshotsFound> {
        let snapshots = self.list_snapshots()?;
        Ok((snapshots, Some(self.last_commit()?)))
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        let Some(key) = Self::key(number) else {
            return Ok(None);
        };
        self.read(
            || format!("read commit {number}"),
            || None,
            |connection, sql| {
                let statement = connection.statement(Query::Read, sql)?;
                Ok(connection
                    .client
                    .query_opt(&statement, &[&key])?
                    .map(|row| row.get::<_, Vec<u8>>(0)))
            },
        )
    }

    fn read_commits(&self, first: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let first = first.max(1);
        let Some(key) = Self::key(first) else {
            return Ok(Vec::new());
        };
        if max == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.read(
            || format!("read commits from {first} on"),
            Vec::new,
            |connection, sql| {
                let statement = connection.statement(Query::Range, sql)?;
                let rows = connection.client.query(&statement, &[&key, &limit])?;
                let mut commits = Vec::with_capacity(rows.len());
                for (expected, row) in (key..).zip(&rows) {
                    // Stop before the first gap.
                    if row.get::<_, i64>(0) != expected {
                        break;
                    }
                    commits.push(row.get::<_, Vec<u8>>(1));
                }
                Ok(commits)
            },
        )
    }

    fn last_commit(&self) -> Result<u64> {
        self.read(
            || "find the last commit".to_owned(),
            || 0,
            |connection, sql| {
                let statement = connection.statement(Query::Last, sql)?;
                let last: Option<i64> = connection.client.query_one(&statement, &[])?.get(0);
                Ok(last.and_then(|last| u64::try_from(last).ok()).unwrap_or(0))
            },
        )
    }

    fn needs_commit_ids(&self) -> bool {
        true
    }

    fn commit_exists(&self, number: u64) -> Result<bool> {
        let Some(key) = Self::key(number) else {
            return Ok(false);
        };
        self.read(
            || format!("look for commit {number}"),
            || false,
            |connection, sql| {
                let statement = connection.statement(Query::Exists, sql)?;
                Ok(connection.client.query_opt(&statement, &[&key])?.is_some())
            },
        )
    }

    fn commit_modified(&self, number: u64) -> Result<Option<SystemTime>> {
        let Some(key) = Self::key(number) else {
            return Ok(None);
        };
        self.read(
            || format!("read the time of commit {number}"),
            || None,
            |connection, sql| {
                let statement = connection.statement(Query::Modified, sql)?;
                Ok(connection
                    .client
                    .query_opt(&statement, &[&key])?
                    .map(|row| row.get::<_, SystemTime>(0)))
            },
        )
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Result<Result<(), Conflict>> {
        check_commit_number(number)?;
        let key = self.key_for_write(number)?;
        self.create_row(
            &format!("create commit {number}"),
            Conflict { commit: number },
            document,
            |connection, sql| {
                let statement = connection.statement(Query::Insert, sql)?;
                connection.client.execute(&statement, &[&key, &document])
            },
            || self.read_commit(number),
        )
    }

    /// Creates the commit at the lowest free number from `first` on in one statement (an
    /// `INSERT ... SELECT` that finds the number along the primary key's index), trying again
    /// when another writer takes that number first.
    ///
    /// When the outcome of an insert is unknown, the backend looks for the document among the
    /// commits from `first` on: the store's `commitId` header makes it unique.
    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        let first = first.max(1);
        let key = self.key_for_write(first)?;
        self.check_schema()?;
        let mut created_tables = false;
        let mut unknown_outcomes = 0;
        loop {
            let appended = self.attempt(|connection, sql| {
                let statement = connection.statement(Query::Append, sql)?;
                let row = connection
                    .client
                    .query_one(&statement, &[&key, &document])?;
                Ok(row.get::<_, i64>(0))
            });
            let failure = match appended {
                Ok(number) => return self.number_from_row(number),
                Err(failure) => failure,
            };
            if failure.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                // Another writer took the number between our look and our insert.
                tracing::trace!(first, "append lost a race; trying again");
                continue;
            }
            if failure.code() == Some(&SqlState::UNDEFINED_TABLE) && !created_tables {
                tracing::info!(table = %self.table, address = %self.address, "the store's tables do not exist: creating them");
                created_tables = true;
                self.ensure_created()?;
                continue;
            }
            let what = format!("append a commit from number {first} on");
            if !failure.outcome_unknown() {
                return Err(self.error(&what, failure));
            }
            unknown_outcomes += 1;
            tracing::warn!(first, table = %self.table, error = %failure.describe(), "the connection failed during an append: looking for the document to learn its outcome");
            let found = self.read(
                || format!("look for an appended document from commit {first} on"),
                || None,
                |connection, sql| {
                    let statement = connection.statement(Query::Find, sql)?;
                    Ok(connection
                        .client
                        .query_opt(&statement, &[&key, &document])?
                        .map(|row| row.get::<_, i64>(0)))
                },
            );
            match found {
                Ok(Some(number)) => {
                    tracing::debug!(
                        commit = number,
                        "the append had succeeded before the connection failed"
                    );
                    return self.number_from_row(number);
                }
                Ok(None) if unknown_outcomes < CREATE_ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(10 << unknown_outcomes));
                }
                Ok(None) => {
                    return Err(Error::Backend {
                        backend: BACKEND,
                        message: format!(
                            "cannot {what} in table {} at {}: the connection failed during the \
                             insert {unknown_outcomes} times ({}); it did not happen",
                            self.table,
                            self.address,
                            failure.describe()
                        ),
                        source: Some(failure.into_source()),
                    })
                }
                Err(e) => {
                    return Err(Error::Backend {
                        backend: BACKEND,
                        message: format!(
                            "cannot {what} in table {} at {}: the connection failed before the \
                             server answered ({}), and looking for the document to learn whether \
                             it was written failed too ({e}); it may or may not exist",
                            self.table,
                            self.address,
                            failure.describe()
                        ),
                        source: Some(Box::new(e)),
                    })
                }
            }
        }
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        validate_snapshot_name(name)?;
        let Some(key) = Self::key(commit) else {
            return Ok(None);
        };
        self.read(
            || format!("read snapshot {name:?} at commit {commit}"),
            || None,
            |connection, sql| {
                let statement = connection.statement(Query::ReadSnapshot, sql)?;
                Ok(connection
                    .client
                    .query_opt(&statement, &[&name, &key])?
                    .map(|row| row.get::<_, Vec<u8>>(0)))
            },
        )
    }

    fn create_snapshot(
        &self,
        name: &str,
        commit: u64,
        document: &[u8],
    ) -> Result<Result<(), Conflict>> {
        validate_snapshot_name(name)?;
        let key = self.key_for_write(commit)?;
        self.create_row(
            &format!("create snapshot {name:?} at commit {commit}"),
            Conflict { commit },
            document,
            |connection, sql| {
                let statement = connection.statement(Query::InsertSnapshot, sql)?;
                connection
                    .client
                    .execute(&statement, &[&name, &key, &document])
            },
            || self.read_snapshot(name, commit),
        )
    }

    fn quarantine_commit(&self, number: u64) -> Result<String> {
        let key = self.key_for_write(number)?;
        self.check_schema()?;
        // One statement: the row is deleted and copied to the quarantine atomically.
        let moved = self.attempt(|connection, sql| {
            let statement = connection.statement(Query::Quarantine, sql)?;
            Ok(connection
                .client
                .query_opt(&statement, &[&key])?
                .map(|row| row.get::<_, i64>(0)))
        });
        match moved {
            Ok(Some(id)) => {
                let location = format!(
                    "{} (table {}_quarantine, id {id}, was commit {number})",
                    self.address, self.table
                );
                tracing::info!(commit = number, to = %location, "moved a commit to the quarantine");
                Ok(location)
            }
            Ok(None) => Err(Error::Backend {
                backend: BACKEND,
                message: format!(
                    "cannot move commit {number} aside: {} does not exist",
                    self.commit_location(number)
                ),
                source: None,
            }),
            Err(failure) => {
                Err(self.error(&format!("move commit {number} to the quarantine"), failure))
            }
        }
    }

    fn watch(&self) -> Result<Option<Box<dyn Watch>>> {
        let client = Self::listen(&self.config, self.connect_limit, &self.sql.listen)
            .map_err(|failure| self.error("listen for new commits", failure))?;
        Ok(Some(Box::new(PostgresWatch {
            config: self.config.clone(),
            connect_limit: self.connect_limit,
            listen: self.sql.listen.clone(),
            address: self.address.clone(),
            client: Some(client),
        })))
    }

    fn commit_location(&self, number: u64) -> String {
        format!("{} (table {}, commit {number})", self.address, self.table)
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        format!(
            "{} (table {}_snapshots, snapshot {name} at commit {commit})",
            self.address, self.table
        )
    }
}

/// A connection that listens on a store's notification channel.
struct PostgresWatch {
    config: Config,
    /// The time limit on making a connection.
    connect_limit: Option<Duration>,
    /// The `LISTEN` statement.
    listen: String,
    /// For logs.
    address: String,
    /// The listening connection; `None` after it failed, until it is made again.
    client: Option<Client>,
}

impl Watch for PostgresWatch {
    fn wait(&mut self, timeout: Duration) -> bool {
        let Some(client) = self.client.as_mut() else {
            return match PostgresStorage::listen(&self.config, self.connect_limit, &self.listen) {
                Ok(client) => {
                    tracing::debug!(address = %self.address, "listening again for new commits");
                    self.client = Some(client);
                    // Commits made while nobody listened went unnoticed.
                    true
                }
                Err(e) => {
                    tracing::warn!(address = %self.address, error = %e.describe(), "cannot listen for new commits");
                    // The subscriber looks for itself meanwhile.
                    std::thread::sleep(timeout.min(WATCH_RECONNECT_PAUSE));
                    true
                }
            };
        };
        let result = {
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(timeout).next();
            if let Ok(Some(_)) = first {
                // Take every notice that has arrived already: one wake-up is enough for them.
                while let Ok(Some(_)) = notifications.iter().next() {}
            }
            first.map(|notification| notification.is_some())
        };
        match result {
            Ok(noticed) if !client.is_closed() => noticed,
            Ok(_) => {
                tracing::debug!(address = %self.address, "the listening connection was closed");
                self.client = None;
                true
            }
            Err(e) => {
                tracing::debug!(address = %self.address, error = %describe(&e), "the listening connection failed");
                self.client = None;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://user:secret@host:5432/db?table=t"),
            "postgres://user:***@host:5432/db?table=t"
        );
        assert_eq!(
            redact_url("postgres://user@host/db?password=secret&table=t"),
            "postgres://user@host/db?password=***&table=t"
        );
        assert_eq!(redact_url("postgres://host/db"), "postgres://host/db");
    }

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["foldstore", "Orders_2", "_x", &"a".repeat(50)] {
            assert!(validate_table_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "a-b", "a b", "a\"b", "ø", &"a".repeat(51)] {
            assert!(validate_table_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_names_of_helper_tables_are_refused() {
        for (bad, suffix) in [
            ("x_quarantine", "_quarantine"),
            ("x_snapshots", "_snapshots"),
            ("x_meta", "_meta"),
            ("Orders_META", "_meta"),
            ("_meta", "_meta"),
            ("foldstore_quarantine_meta", "_meta"),
        ] {
            let problem = validate_table_name(bad).unwrap_err();
            assert!(problem.contains(&format!("{bad:?}")), "{problem}");
            assert!(
                problem.contains(&format!("ends in {suffix:?}")),
                "{problem}"
            );
            assert!(
                problem.contains("two stores would write to one table"),
                "{problem}"
            );
        }
        for good in [
            "x_quarantined",
            "metadata",
            "x_snapshot",
            "x_notify",
            "meta",
        ] {
            assert!(validate_table_name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn connect_timeout_bounds_the_whole_connection_for_each_host() {
        let limit = |url: &str| PostgresStorage::connect(url).unwrap().connect_limit;
        assert_eq!(limit("postgres://u@h/db"), Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(
            limit("postgres://u@h/db?connect_timeout=3"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            limit("postgres://u@h1,h2/db?connect_timeout=2&table=x"),
            Some(Duration::from_secs(4))
        );
        assert_eq!(limit("postgres://u@h/db?connect_timeout=0"), None);
        assert_eq!(limit("postgres://u@h/db?connect_timeout=-1"), None);
        let mut config = Config::new();
        config.host("h").user("u");
        let storage = PostgresStorage::with_config(config.clone(), "t").unwrap();
        assert_eq!(storage.connect_limit, Some(DEFAULT_CONNECT_TIMEOUT));
        config.connect_timeout(Duration::from_millis(1500));
        let storage = PostgresStorage::with_config(config, "t").unwrap();
        assert_eq!(storage.connect_limit, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn helper_tables_are_named_after_the_commit_table() {
        let names: Vec<String> = (0..4).map(|index| helper_name("t", index)).collect();
        assert_eq!(names, ["t", "t_snapshots", "t_quarantine", "t_meta"]);
        let sql = Sql::new("t");
        let quoted: Vec<String> = names.iter().map(|name| quote(name)).collect();
        assert_eq!(sql.names, quoted);
        let created = format!("{} {}", sql.meta_table, sql.schema);
        for name in &quoted {
            assert!(
                created.contains(&format!("CREATE TABLE IF NOT EXISTS {name} (")),
                "{name}"
            );
        }
    }
}
