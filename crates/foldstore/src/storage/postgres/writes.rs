//! Inserting rows exclusively (commits and snapshots), appending at the lowest free number in
//! one statement, and learning the outcome of an insert cut off by a lost connection by
//! reading back.

use std::time::Duration;

use postgres::error::SqlState;

use super::connection::{Connection, Failure};
use super::sql::{Query, Sql};
use super::{PostgresStorage, BACKEND, CREATE_ATTEMPTS};
use crate::error::{Error, Result};
use crate::storage::{Conflict, Created, Storage};

impl PostgresStorage {
    /// Creates a row exclusively (a commit or a snapshot), resolving inserts whose outcome is
    /// unknown by reading the row back.
    pub(super) fn create_row(
        &self,
        what: &str,
        conflict: Conflict,
        document: &[u8],
        insert: impl Fn(&mut Connection, &Sql) -> Result<u64, postgres::Error>,
        read_back: impl Fn() -> Result<Option<Vec<u8>>>,
    ) -> Created {
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
                None => return Err(self.never_happened(what, tries, failure)),
            }
        }
    }

    /// The error for `what`, given up after the connection failed during the insert `tries`
    /// times, each time without the row being there afterwards.
    pub(super) fn never_happened(&self, what: &str, tries: u32, failure: Failure) -> Error {
        Error::Backend {
            backend: BACKEND,
            message: format!(
                "cannot {what} in table {} at {}: the connection failed during the insert \
                 {tries} times ({}); it did not happen",
                self.table,
                self.address,
                failure.describe()
            ),
            source: Some(failure.into_source()),
        }
    }

    /// A commit number read from a row.
    pub(super) fn number_from_row(&self, number: i64) -> Result<u64> {
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
    pub(super) fn key(number: u64) -> Option<i64> {
        i64::try_from(number).ok()
    }

    /// The number as a bigint, or an error saying that PostgreSQL cannot hold it.
    pub(super) fn key_for_write(&self, number: u64) -> Result<i64> {
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

    /// Creates the commit at the lowest free number from `first` on in one statement (an
    /// `INSERT ... SELECT` that finds the number along the primary key's index), trying again
    /// when another writer takes that number first.
    ///
    /// When the outcome of an insert is unknown, the backend looks for the document among the
    /// commits from `first` on: the store's `commitId` header makes it unique.
    pub(super) fn append_row(&self, first: u64, document: &[u8]) -> Result<u64> {
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
            if let Some(number) =
                self.look_for_appended(&what, key, document, unknown_outcomes, failure)?
            {
                return Ok(number);
            }
        }
    }

    /// After an append from commit `first` (its number as `key`) whose outcome is unknown
    /// (the `tries`th time): the number it was written at, found by its document (which the
    /// commit id makes unique); `None` when it was not written (after a pause, try again);
    /// an error after [`CREATE_ATTEMPTS`] tries, or when looking fails.
    pub(super) fn look_for_appended(
        &self,
        what: &str,
        key: i64,
        document: &[u8],
        tries: u32,
        failure: Failure,
    ) -> Result<Option<u64>> {
        tracing::warn!(first = key, table = %self.table, error = %failure.describe(), "the connection failed during an append: looking for the document to learn its outcome");
        let found = self.find_document(key, document);
        match found {
            Ok(Some(number)) => {
                tracing::debug!(
                    commit = number,
                    "the append had succeeded before the connection failed"
                );
                self.number_from_row(number).map(Some)
            }
            Ok(None) if tries < CREATE_ATTEMPTS => {
                std::thread::sleep(Duration::from_millis(10 << tries));
                Ok(None)
            }
            Ok(None) => Err(self.never_happened(what, tries, failure)),
            Err(e) => Err(Error::Backend {
                backend: BACKEND,
                message: format!(
                    "cannot {what} in table {} at {}: the connection failed before the server \
                     answered ({}), and looking for the document to learn whether it was \
                     written failed too ({e}); it may or may not exist",
                    self.table,
                    self.address,
                    failure.describe()
                ),
                source: Some(Box::new(e)),
            }),
        }
    }

    /// The number of the commit from `first` on that holds `document`, if any.
    pub(super) fn find_document(&self, first: i64, document: &[u8]) -> Result<Option<i64>> {
        self.read(
            || format!("look for an appended document from commit {first} on"),
            || None,
            |connection, sql| {
                let statement = connection.statement(Query::Find, sql)?;
                Ok(connection
                    .client
                    .query_opt(&statement, &[&first, &document])?
                    .map(|row| row.get::<_, i64>(0)))
            },
        )
    }
}
