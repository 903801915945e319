//! Many commits created at once ([`Storage::create_commits`], what `copy` into PostgreSQL
//! does): the documents go to a temporary table with a binary `COPY`, then one
//! `INSERT ... ON CONFLICT DO NOTHING` moves those whose numbers are free into the commits
//! table. One transaction, one round trip for the rows and one WAL flush, instead of one each.
//!
//! A transaction lands whole or not at all. When the connection is lost before the server's
//! answer to the commit, the batch is tried again: the rows that landed the first time are
//! then taken, and each taken one is read back, so that it counts as created when it holds the
//! document given (as [`create_commit`](Storage::create_commit) does).

use std::collections::HashSet;
use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::Type;

use super::connection::Connection;
use super::sql::Sql;
use super::{PostgresStorage, CREATE_ATTEMPTS};
use crate::error::Result;
use crate::storage::{check_commit_number, Conflict, NewCommit, Storage};

impl PostgresStorage {
    /// Creates each of `commits` unless its number is taken, in one transaction.
    pub(super) fn create_rows(
        &self,
        commits: &[NewCommit<'_>],
    ) -> Result<Vec<std::result::Result<(), Conflict>>> {
        let mut keys = Vec::with_capacity(commits.len());
        for commit in commits {
            check_commit_number(commit.number)?;
            keys.push(self.key_for_write(commit.number)?);
        }
        self.check_schema()?;
        let what = match (commits.first(), commits.last()) {
            (Some(first), Some(last)) => format!(
                "create {} commits from {} to {} in one transaction",
                commits.len(),
                first.number,
                last.number
            ),
            _ => return Ok(Vec::new()),
        };
        let mut created_tables = false;
        let mut outcome_was_unknown = false;
        let mut tries = 0;
        loop {
            tries += 1;
            let failure = match self
                .attempt(|connection, sql| insert_through_copy(connection, sql, &keys, commits))
            {
                Ok(created) => {
                    return commits
                        .iter()
                        .zip(&keys)
                        .map(|(commit, key)| {
                            if created.contains(key) {
                                return Ok(Ok(()));
                            }
                            let conflict = Conflict {
                                commit: commit.number,
                            };
                            if !outcome_was_unknown {
                                return Ok(Err(conflict));
                            }
                            // An earlier try of ours may be the row that is there.
                            Ok(match self.read_commit(commit.number)? {
                                Some(bytes) if bytes == commit.document => Ok(()),
                                _ => Err(conflict),
                            })
                        })
                        .collect();
                }
                Err(failure) => failure,
            };
            if failure.code() == Some(&SqlState::UNDEFINED_TABLE) && !created_tables {
                tracing::info!(table = %self.table, address = %self.address, "the store's tables do not exist: creating them");
                created_tables = true;
                self.ensure_created()?;
                continue;
            }
            if !failure.outcome_unknown() {
                return Err(self.error(&what, failure));
            }
            if tries >= CREATE_ATTEMPTS {
                return Err(self.error(
                    &format!("{what} (outcome unknown: tried {tries} times; the commits that exist were created by it or by another writer; copy again to learn which)"),
                    failure,
                ));
            }
            tracing::warn!(what, table = %self.table, error = %failure.describe(), "the connection failed during a batch of creates: trying it again");
            outcome_was_unknown = true;
            std::thread::sleep(Duration::from_millis(10 << tries));
        }
    }
}

/// The numbers of `commits` that one transaction created: the documents copied into the
/// connection's temporary table, and from there into the commits table where free.
fn insert_through_copy(
    connection: &mut Connection,
    sql: &Sql,
    keys: &[i64],
    commits: &[NewCommit<'_>],
) -> std::result::Result<HashSet<i64>, postgres::Error> {
    let mut transaction = connection.client.transaction()?;
    transaction.batch_execute(&sql.bulk_table)?;
    let sink = transaction.copy_in(&sql.bulk_copy)?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
    for (key, commit) in keys.iter().zip(commits) {
        writer.write(&[key, &commit.document])?;
    }
    writer.finish()?;
    let created = transaction
        .query(&sql.bulk_insert, &[])?
        .iter()
        .map(|row| row.get::<_, i64>(0))
        .collect();
    transaction.commit()?;
    Ok(created)
}
