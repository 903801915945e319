//! The PostgreSQL backend: commits are rows of a table keyed by commit number (see
//! [`PostgresStorage`]).
//!
//! This file holds the type, its shared constants and its [`Storage`] implementation; the work
//! is done in one module per concern:
//! - `config`: URLs and configurations into a backend, table names, addresses for messages;
//! - `sql`: the text of every statement, made once per table;
//! - `connection`: connecting within a time limit, the pool, and what a failure means;
//! - `schema`: creating the tables and checking those that exist;
//! - `writes`: inserts, and learning the outcome of those cut off by a lost connection;
//! - `bulk`: many commits created in one transaction (what a copy into PostgreSQL does);
//! - `batch`: appends of one process written together, one statement a batch (group commit);
//! - `conditional`: conditional appends, checked and inserted in one transaction;
//! - `watch`: listening for new commits.

mod batch;
mod bulk;
mod conditional;
mod config;
mod connection;
mod schema;
mod sql;
mod watch;
mod writes;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use postgres::error::SqlState;
use postgres::Config;

use self::connection::Connection;
use self::schema::SchemaOutcome;
use self::sql::{quote, Query, Sql};
use super::{
    check_commit_number, validate_snapshot_name, CommitCheck, Conflict, Created, Listing,
    NewCommit, SnapshotsFound, Storage, Watch,
};
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
    /// This process's appends waiting to be written together (group commit).
    batches: batch::Batches,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("address", &self.address)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// The value of the meta table's row `key`, or `None` (also while the store's tables do
    /// not exist); `what` says what was read, for errors.
    fn read_meta_row(&self, key: &str, what: impl Fn() -> String) -> Result<Option<Vec<u8>>> {
        self.read(
            what,
            || None,
            |connection, sql| {
                let statement = connection.statement(Query::ReadDerived, sql)?;
                Ok(connection
                    .client
                    .query_opt(&statement, &[&key])?
                    .map(|row| row.get::<_, Vec<u8>>(0)))
            },
        )
    }

    /// The table name used when the URL names none: `foldstore`.
    pub const DEFAULT_TABLE: &'static str = DEFAULT_TABLE;

    /// The version of the schema this code creates and understands. A store whose `_meta`
    /// table records a newer version is refused.
    pub const SCHEMA_VERSION: i64 = SCHEMA_VERSION;

    /// The longest table name accepted: PostgreSQL identifiers have at most 63 bytes, and the
    /// backend appends suffixes such as `_quarantine` to the name.
    pub const MAX_TABLE_NAME_LENGTH: usize = MAX_TABLE_NAME_LENGTH;

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
        // Rows numbered past the largest commit number (made by another program: foldstore
        // and the original package never number a commit so) are no commits of the log.
        let (commits, beyond): (Vec<u64>, Vec<u64>) = commits
            .into_iter()
            .partition(|number| *number <= crate::storage::MAX_COMMIT_NUMBER);
        let suspicious = beyond
            .into_iter()
            .map(|number| {
                (
                    self.commit_location(number),
                    format!(
                        "is numbered past the largest commit number ({}): not a commit of the log; delete the row",
                        crate::storage::MAX_COMMIT_NUMBER
                    ),
                )
            })
            .collect();
        Ok(Listing {
            commits,
            snapshots: self.list_snapshots()?,
            suspicious,
        })
    }

    /// The snapshots and, from a `max()` query, the last commit: no listing of every commit.
    fn snapshots(&self) -> Result<SnapshotsFound> {
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
        // No commit lies past the largest number (and the count from `key` never overflows).
        if first > crate::storage::MAX_COMMIT_NUMBER {
            return Ok(Vec::new());
        }
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

    fn create_commit(&self, number: u64, document: &[u8]) -> Created {
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

    /// One `INSERT ... SELECT` at the lowest free number (see `writes`).
    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.append_row(first, document)
    }

    /// Appended together with this process's other appends that wait meanwhile, in one
    /// transaction (group commit): the commit id tells each one's outcome when the
    /// connection is lost.
    fn append_identified_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.append_batched(first, document)
    }

    /// In one transaction: a `COPY` into a temporary table, then one `INSERT`.
    fn create_commits(
        &self,
        commits: &[NewCommit<'_>],
    ) -> Result<Vec<std::result::Result<(), Conflict>>> {
        self.create_rows(commits)
    }

    /// In one transaction per try: the commits from `first` on read and checked, the commit
    /// inserted after them.
    fn append_commit_if(
        &self,
        first: u64,
        document: &[u8],
        identified: bool,
        check: Arc<CommitCheck>,
    ) -> Result<std::result::Result<u64, Conflict>> {
        self.append_row_if(first, document, identified, &*check)
    }

    /// The row `derived:<name>` of the meta table.
    fn read_derived(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read_meta_row(&format!("derived:{name}"), || {
            format!("read the derived data {name:?}")
        })
    }

    /// Replaces the row `derived:<name>` of the meta table (nothing is saved while the store's
    /// tables do not exist).
    fn write_derived(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let key = format!("derived:{name}");
        self.read(
            || format!("save the derived data {name:?}"),
            || (),
            |connection, sql| {
                let statement = connection.statement(Query::WriteDerived, sql)?;
                connection.client.execute(&statement, &[&key, &bytes])?;
                Ok(())
            },
        )
    }

    fn can_be_archived(&self) -> bool {
        true
    }

    /// The row `meta:<name>` of the meta table.
    fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        crate::storage::validate_meta_name(name)?;
        self.read_meta_row(&format!("meta:{name}"), || {
            format!("read the store's document {name:?}")
        })
    }

    /// Replaces the row `meta:<name>` of the meta table, in one statement (a transaction of
    /// its own: atomic, and durable when the server syncs its commits).
    fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        crate::storage::validate_meta_name(name)?;
        crate::storage::check_document_size(bytes)?;
        self.check_schema()?;
        let key = format!("meta:{name}");
        self.attempt_idempotent(|connection, sql| {
            let statement = connection.statement(Query::WriteDerived, sql)?;
            connection.client.execute(&statement, &[&key, &bytes])?;
            Ok(())
        })
        .map_err(|failure| self.error(&format!("save the store's document {name:?}"), failure))
    }

    /// Empties the documents of the commits below `start`, in one statement: the rows stay
    /// (a few dozen bytes each), so their numbers stay taken (a writer that read the log's start
    /// before the archiving cannot create a commit there); the store never reads them again.
    fn remove_commits_below(&self, start: u64) -> Result<u64> {
        let start =
            i64::try_from(start.min(crate::storage::MAX_COMMIT_NUMBER + 1)).expect("within i64");
        self.check_schema()?;
        self.attempt_idempotent(|connection, sql| {
            let statement = connection.statement(Query::RemoveBelow, sql)?;
            connection.client.execute(&statement, &[&start])
        })
        .map_err(|failure| self.error("remove the archived commits", failure))
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

    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
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
        self.listen_for_commits()
    }

    fn commit_location(&self, number: u64) -> String {
        format!("{} (table {}, commit {number})", self.address, self.table)
    }

    fn meta_location(&self, name: &str) -> String {
        format!(
            "{} (table {}_meta, row meta:{name})",
            self.address, self.table
        )
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        format!(
            "{} (table {}_snapshots, snapshot {name} at commit {commit})",
            self.address, self.table
        )
    }
}
