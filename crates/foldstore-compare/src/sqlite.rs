//! SQLite in WAL mode, through rusqlite: a table of commit documents keyed by commit number,
//! so that, as in a folder, creating commit k is exclusive.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rusqlite::{params, Connection};
use serde_json::Value;

use crate::workload::{document, in_threads, Measured};

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// How SQLite syncs a transaction in WAL mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    /// No syncs (`PRAGMA synchronous=OFF`).
    Off,
    /// The WAL is synced at every commit: a committed transaction survives power loss
    /// (`PRAGMA synchronous=FULL`).
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Full => "FULL",
        }
    }
}

/// Opens (creating it if needed) the database at `path` in WAL mode with the table of commits.
pub fn open(path: &Path, synchronous: Synchronous) -> anyhow::Result<Connection> {
    let connection =
        Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // Writers on other connections wait for each other instead of failing (SQLITE_BUSY).
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("SQLite refused WAL mode for {}: {mode}", path.display());
    }
    connection.pragma_update(None, "synchronous", synchronous.pragma())?;
    connection.execute(
        "CREATE TABLE IF NOT EXISTS commits (number INTEGER PRIMARY KEY, document BLOB NOT NULL)",
        [],
    )?;
    Ok(connection)
}

/// Appends one commit per event to a new database at `path`, one transaction per commit
/// (an `INSERT` in autocommit mode).
///
/// # Errors
/// SQLite's errors.
pub fn append(
    path: &Path,
    events: &[Vec<u8>],
    synchronous: Synchronous,
) -> anyhow::Result<Measured> {
    let connection = open(path, synchronous)?;
    let mut insert =
        connection.prepare("INSERT INTO commits (number, document) VALUES (?1, ?2)")?;
    let started = Instant::now();
    for (k, event) in (1i64..).zip(events) {
        insert.execute(params![k, document(event)])?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let commits = events.len() as u64;
    let stored: i64 = connection.query_row("SELECT count(*) FROM commits", [], |row| row.get(0))?;
    if u64::try_from(stored).ok() != Some(commits) {
        bail!("{} holds {stored} commits, not {commits}", path.display());
    }
    Ok(Measured::new(commits, commits, seconds))
}

/// Appends one commit per event to a new database at `path` from `threads` threads, each with
/// its own connection and its share of the events, one transaction per commit: `BEGIN
/// IMMEDIATE`, an `INSERT` at the next free number, `COMMIT`. Connections wait for each
/// other's write lock (`busy_timeout`).
///
/// # Errors
/// SQLite's errors.
pub fn append_threads(
    path: &Path,
    events: &[Vec<u8>],
    synchronous: Synchronous,
    threads: usize,
) -> anyhow::Result<Measured> {
    // Made before the writers start: their connections only open it.
    drop(open(path, synchronous)?);
    let share = events.len().div_ceil(threads.max(1)).max(1);
    let mut connections = Vec::new();
    for _ in events.chunks(share) {
        connections.push(open(path, synchronous)?);
    }
    let started = Instant::now();
    in_threads(
        events.chunks(share).zip(connections),
        |(part, mut connection)| append_immediate(&mut connection, part),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let commits = events.len() as u64;
    check_count(path, commits)?;
    Ok(Measured::new(commits, commits, seconds))
}

/// Appends one commit per event through `connection`, each in its own transaction that takes
/// the write lock first (`BEGIN IMMEDIATE`) and inserts at the next free number: the way
/// writers sharing a database append.
///
/// # Errors
/// SQLite's errors.
pub fn append_immediate(connection: &mut Connection, events: &[Vec<u8>]) -> anyhow::Result<()> {
    for event in events {
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT INTO commits (number, document) \
             VALUES ((SELECT coalesce(max(number), 0) + 1 FROM commits), ?1)",
            params![document(event)],
        )?;
        transaction.commit()?;
    }
    Ok(())
}

/// Checks that the database at `path` holds commits 1 to `commits` and no others.
///
/// # Errors
/// SQLite's errors, and a database holding other commits.
pub fn check_count(path: &Path, commits: u64) -> anyhow::Result<()> {
    let connection = open(path, Synchronous::Off)?;
    let (stored, last): (i64, i64) = connection.query_row(
        "SELECT count(*), coalesce(max(number), 0) FROM commits",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if u64::try_from(stored).ok() != Some(commits) || stored != last {
        bail!(
            "{} holds {stored} commits up to number {last}, not {commits}",
            path.display()
        );
    }
    Ok(())
}

/// Makes a database at `path` holding the documents of `store`'s commits 1 to `commits`,
/// byte for byte, read in batches through its backend (in one transaction, not timed).
///
/// # Errors
/// The store's and SQLite's errors; a store with fewer commits.
pub fn load_store(path: &Path, store: &foldstore::Store, commits: u64) -> anyhow::Result<()> {
    let mut connection = open(path, Synchronous::Off)?;
    let transaction = connection.transaction()?;
    {
        let mut insert =
            transaction.prepare("INSERT INTO commits (number, document) VALUES (?1, ?2)")?;
        let mut next = 1u64;
        while next <= commits {
            let want = usize::try_from((commits - next + 1).min(4096))?;
            let batch = store.storage().read_commits(next, want)?;
            if batch.is_empty() {
                bail!("the store ends at commit {}, not {commits}", next - 1);
            }
            for bytes in batch {
                insert.execute(params![i64::try_from(next)?, bytes])?;
                next += 1;
            }
        }
    }
    transaction.commit()?;
    Ok(())
}

/// Makes a database at `path` holding the documents of `folder`'s `1.log` to `commits.log`,
/// byte for byte (in one transaction, not timed).
///
/// # Errors
/// I/O and SQLite errors.
pub fn load_folder(path: &Path, folder: &Path, commits: u64) -> anyhow::Result<()> {
    let mut connection = open(path, Synchronous::Full)?;
    let transaction = connection.transaction()?;
    {
        let mut insert =
            transaction.prepare("INSERT INTO commits (number, document) VALUES (?1, ?2)")?;
        for k in 1..=commits {
            let file = folder.join(format!("{k}.log"));
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            insert.execute(params![i64::try_from(k)?, bytes])?;
        }
    }
    transaction.commit()?;
    Ok(())
}

/// Reads every document of the database at `path` in commit order, each parsed into a
/// `serde_json::Value`, and counts their events; opening the database is timed too.
///
/// # Errors
/// SQLite's errors, and documents that are not JSON.
pub fn replay(path: &Path) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let connection = open(path, Synchronous::Full)?;
    let mut select = connection.prepare("SELECT document FROM commits ORDER BY number")?;
    let mut rows = select.query([])?;
    let (mut commits, mut events) = (0u64, 0u64);
    while let Some(row) = rows.next()? {
        let bytes = row.get_ref(0)?.as_blob()?;
        let document: Value = serde_json::from_slice(bytes)
            .with_context(|| format!("document {} is not JSON", commits + 1))?;
        events += document["events"].as_array().map_or(0, Vec::len) as u64;
        commits += 1;
    }
    Ok(Measured::new(
        commits,
        events,
        started.elapsed().as_secs_f64(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bare;
    use crate::workload::member_has_moved;

    #[test]
    fn appends_scans_and_loads_hold_every_document() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Vec<u8>> = (0..10)
            .map(|i| serde_json::to_vec(&member_has_moved(i)).unwrap())
            .collect();
        for (name, synchronous) in [("off.db", Synchronous::Off), ("full.db", Synchronous::Full)] {
            let path = dir.path().join(name);
            let written = append(&path, &events, synchronous).unwrap();
            assert_eq!(written.commits, 10);
            let read = replay(&path).unwrap();
            assert_eq!((read.commits, read.events), (10, 10));
        }
        let shared = dir.path().join("threads.db");
        let written = append_threads(&shared, &events, Synchronous::Off, 3).unwrap();
        assert_eq!(written.commits, 10);
        assert_eq!(replay(&shared).unwrap().commits, 10);

        let folder = dir.path().join("folder");
        bare::append(&folder, &events, true).unwrap();
        let loaded = dir.path().join("loaded.db");
        load_folder(&loaded, &folder, 10).unwrap();
        let connection = Connection::open(&loaded).unwrap();
        let third: Vec<u8> = connection
            .query_row("SELECT document FROM commits WHERE number = 3", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(third, std::fs::read(folder.join("3.log")).unwrap());
    }
}
