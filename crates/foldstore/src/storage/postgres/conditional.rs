//! Conditional appends in one transaction: the commits from the writer's position on are read
//! and checked, and the new commit inserted at the lowest free number after them, in one
//! transaction; an insert that loses the number to another writer looks again from the first
//! number it had not checked, so only the commits that won are read (the primary key makes the
//! insert exclusive, so nothing unchecked lies below the number it takes).

use postgres::error::SqlState;

use super::sql::Query;
use super::PostgresStorage;
use crate::error::{Error, Result};
use crate::storage::{append_by_creating, CommitCheck, Conflict, Storage};

/// How many commits one query of the transaction reads.
const CHUNK: i64 = 1024;

/// What one transaction found.
enum Tried {
    /// The commit was inserted at this number.
    Created(i64),
    /// This commit conflicts: nothing inserted.
    Conflict(i64),
    /// This commit cannot be judged (why): nothing inserted.
    Unjudged(i64, String),
}

impl PostgresStorage {
    /// [`Storage::append_commit_if`] in one transaction per try (see the module's comment).
    /// A document without a commit id falls back to the default (creating a number at a
    /// time): only the id tells an insert whose outcome is unknown from another writer's.
    pub(super) fn append_row_if(
        &self,
        first: u64,
        document: &[u8],
        identified: bool,
        check: &CommitCheck,
    ) -> Result<std::result::Result<u64, Conflict>> {
        if !identified {
            return append_by_creating(self, first, document, false, check);
        }
        let first = first.max(1);
        let key = self.key_for_write(first)?;
        self.check_schema()?;
        let what = format!("append a commit conditionally from number {first} on");
        let mut created_tables = false;
        let mut unknown_outcomes = 0;
        // Every commit below this number has been checked and passed.
        let mut checked_to = key;
        loop {
            let checked_to = &mut checked_to;
            let tried = self.attempt(|connection, sql| {
                let range = connection.statement(Query::Range, sql)?;
                let insert = connection.statement(Query::Insert, sql)?;
                let mut transaction = connection.client.transaction()?;
                // The lowest free number from `key` on, every commit before it checked.
                let mut next = *checked_to;
                'chunks: loop {
                    let rows = transaction.query(&range, &[&next, &CHUNK])?;
                    let whole = rows.len() as i64 == CHUNK;
                    for row in rows {
                        let number: i64 = row.get(0);
                        if number != next {
                            break 'chunks;
                        }
                        let bytes: &[u8] = row.get(1);
                        match check(u64::try_from(number).unwrap_or(0), bytes) {
                            Ok(false) => {
                                next = number + 1;
                                *checked_to = next;
                            }
                            Ok(true) => return Ok(Tried::Conflict(number)),
                            Err(problem) => return Ok(Tried::Unjudged(number, problem)),
                        }
                    }
                    if !whole {
                        break;
                    }
                }
                transaction.execute(&insert, &[&next, &document])?;
                transaction.commit()?;
                Ok(Tried::Created(next))
            });
            let failure = match tried {
                Ok(Tried::Created(number)) => return self.number_from_row(number).map(Ok),
                Ok(Tried::Conflict(number)) => {
                    let commit = self.number_from_row(number)?;
                    return Ok(Err(Conflict { commit }));
                }
                Ok(Tried::Unjudged(number, problem)) => {
                    let commit = self.number_from_row(number)?;
                    return Err(Error::CorruptCommit {
                        commit,
                        location: self.commit_location(commit),
                        problem: format!(
                            "{problem}; a conditional append cannot tell whether it conflicts, and wrote nothing"
                        ),
                    });
                }
                Err(failure) => failure,
            };
            if failure.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                // Another writer took the number after the look: look again.
                tracing::trace!(first, "conditional append lost a race; trying again");
                continue;
            }
            if failure.code() == Some(&SqlState::UNDEFINED_TABLE) && !created_tables {
                created_tables = true;
                self.ensure_created()?;
                continue;
            }
            if !failure.outcome_unknown() {
                return Err(self.error(&what, failure));
            }
            unknown_outcomes += 1;
            if let Some(number) =
                self.look_for_appended(&what, key, document, unknown_outcomes, failure)?
            {
                return Ok(Ok(number));
            }
        }
    }
}
