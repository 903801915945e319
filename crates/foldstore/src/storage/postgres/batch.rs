//! Group commit for appends: the appends of one process's writers that arrive while another is
//! being written go to the server together, as one statement (one round trip, one WAL flush),
//! instead of a transaction each.
//!
//! One writer at a time leads: it takes the appends waiting (at most [`MAX_BATCH`]) and inserts
//! them, in one `INSERT ... SELECT ... FROM unnest(...)`, at consecutive numbers from the lowest
//! free one. When those numbers are not all free (another process took one first, or a commit
//! lies beyond a gap), the batch is tried again as one transaction with a statement per append,
//! each at the lowest free number from its own position on (later ones of the batch see the
//! earlier ones, so they follow each other); a lost race there tries the transaction again.
//! When the connection is lost before the server's answer, the first document of the batch is
//! looked for: a statement or transaction lands whole or not at all, so it says whether every
//! other one landed too. Only documents carrying a commit id are batched: the id makes each one
//! findable.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use postgres::error::SqlState;

use super::connection::Connection;
use super::sql::{Query, Sql};
use super::{PostgresStorage, BACKEND};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// The most appends one transaction takes.
pub(super) const MAX_BATCH: usize = 256;

/// The appends waiting to be written, and the outcomes of those written.
#[derive(Debug, Default)]
pub(super) struct Batches {
    queue: Mutex<Queue>,
    turn: Condvar,
}

#[derive(Debug, Default)]
struct Queue {
    /// Whether a writer is writing a batch.
    leading: bool,
    next_ticket: u64,
    pending: Vec<Waiting>,
    done: HashMap<u64, Result<u64>>,
}

/// An append waiting for its batch.
#[derive(Debug)]
struct Waiting {
    ticket: u64,
    first: i64,
    document: Vec<u8>,
}

impl Batches {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The leader's turn: if the leader stops without finishing (a panic), its batch is told the
/// outcome is unknown and another writer may lead.
struct Leading<'b> {
    batches: &'b Batches,
    tickets: Vec<u64>,
    finished: bool,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut queue = self.batches.queue();
        for ticket in &self.tickets {
            queue.done.entry(*ticket).or_insert_with(|| {
                Err(Error::Backend {
                    backend: BACKEND,
                    message: "outcome unknown: the writer of this commit's batch stopped while writing it; read the log's end before writing it again".to_owned(),
                    source: None,
                })
            });
        }
        queue.leading = false;
        self.batches.turn.notify_all();
    }
}

impl PostgresStorage {
    /// Appends a document that carries a commit id at the lowest free number from `first` on,
    /// in one transaction with the appends of this process's other writers that wait meanwhile.
    pub(super) fn append_batched(&self, first: u64, document: &[u8]) -> Result<u64> {
        let first = self.key_for_write(first.max(1))?;
        self.check_schema()?;
        let batches = &self.batches;
        let mut queue = batches.queue();
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push(Waiting {
            ticket,
            first,
            document: document.to_vec(),
        });
        loop {
            if let Some(outcome) = queue.done.remove(&ticket) {
                return outcome;
            }
            if !queue.leading && !queue.pending.is_empty() {
                queue.leading = true;
                let take = queue.pending.len().min(MAX_BATCH);
                let batch: Vec<Waiting> = queue.pending.drain(..take).collect();
                drop(queue);
                let mut leading = Leading {
                    batches,
                    tickets: batch.iter().map(|w| w.ticket).collect(),
                    finished: false,
                };
                let outcomes = if let [alone] = batch.as_slice() {
                    // Nobody to share with: one statement, no transaction around it.
                    vec![self.append_row(u64::try_from(alone.first).unwrap_or(1), &alone.document)]
                } else {
                    self.append_rows(&batch)
                };
                leading.finished = true;
                queue = batches.queue();
                for (waiting, outcome) in batch.iter().zip(outcomes) {
                    queue.done.insert(waiting.ticket, outcome);
                }
                queue.leading = false;
                batches.turn.notify_all();
                continue;
            }
            queue = batches.turn.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Appends `batch` in one transaction, trying again as a whole when another writer takes
    /// a number first; each append's outcome.
    fn append_rows(&self, batch: &[Waiting]) -> Vec<Result<u64>> {
        let what = format!("append {} commits in one transaction", batch.len());
        let mut created_tables = false;
        let mut unknown_outcomes = 0;
        // One statement for the whole batch while the numbers after the lowest free one are
        // free too (the usual case); a statement per append when they are not.
        let mut one_statement = true;
        loop {
            let whole = one_statement;
            let tried = self.attempt(|connection, sql| {
                if whole {
                    return append_in_one_statement(connection, sql, batch);
                }
                let append = connection.statement(Query::Append, sql)?;
                let mut transaction = connection.client.transaction()?;
                let mut numbers = Vec::with_capacity(batch.len());
                for waiting in batch {
                    let row =
                        transaction.query_one(&append, &[&waiting.first, &waiting.document])?;
                    numbers.push(row.get::<_, i64>(0));
                }
                transaction.commit()?;
                Ok(numbers)
            });
            let failure = match tried {
                Ok(numbers) if numbers.is_empty() => {
                    // The lowest free number lies below where one of the batch may go.
                    one_statement = false;
                    continue;
                }
                Ok(numbers) => {
                    return numbers
                        .into_iter()
                        .map(|n| self.number_from_row(n))
                        .collect()
                }
                Err(failure) => failure,
            };
            if failure.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                // Another writer took a number first, or a commit lies beyond a gap: each
                // append finds its own lowest free number when tried again.
                one_statement = false;
                tracing::trace!(
                    appends = batch.len(),
                    "a batch of appends lost a race; trying again"
                );
                continue;
            }
            if failure.code() == Some(&SqlState::UNDEFINED_TABLE) && !created_tables {
                created_tables = true;
                if let Err(e) = self.ensure_created() {
                    return each(batch, e);
                }
                continue;
            }
            if !failure.outcome_unknown() {
                return each(batch, self.error(&what, failure));
            }
            // Whether the transaction landed: its first document says for all of them.
            unknown_outcomes += 1;
            let (first, rest) = batch
                .split_first()
                .expect("a batch holds two appends or more");
            match self.look_for_appended(
                &what,
                first.first,
                &first.document,
                unknown_outcomes,
                failure,
            ) {
                Ok(Some(landed)) => {
                    let others = rest.iter().map(|waiting| {
                        match self.find_document(waiting.first, &waiting.document)? {
                            Some(number) => self.number_from_row(number),
                            None => Err(Error::Backend {
                                backend: BACKEND,
                                message: format!(
                                    "cannot {what} in table {} at {}: the batch's transaction \
                                     landed (its first document is commit {landed}), but \
                                     another of its documents is not found from commit {} on; \
                                     read the log's end before writing it again",
                                    self.table, self.address, waiting.first
                                ),
                                source: None,
                            }),
                        }
                    });
                    return std::iter::once(Ok(landed)).chain(others).collect();
                }
                // Not written: `look_for_appended` paused; the batch is tried again.
                Ok(None) => {}
                Err(e) => return each(batch, e),
            }
        }
    }
}

/// Inserts `batch`'s documents at consecutive numbers from the lowest free one, in one
/// statement (so one transaction); the numbers in the batch's order, or none when the lowest
/// free number lies below the position one of them must follow.
fn append_in_one_statement(
    connection: &mut Connection,
    sql: &Sql,
    batch: &[Waiting],
) -> std::result::Result<Vec<i64>, postgres::Error> {
    let lowest = batch.iter().map(|w| w.first).min().unwrap_or(1);
    let highest = batch.iter().map(|w| w.first).max().unwrap_or(1);
    let documents: Vec<&[u8]> = batch.iter().map(|w| w.document.as_slice()).collect();
    let statement = connection.statement(Query::AppendMany, sql)?;
    let rows = connection
        .client
        .query(&statement, &[&lowest, &documents, &highest])?;
    // Each document's number is the first one plus its position in the batch.
    let mut numbers: Vec<i64> = rows.iter().map(|row| row.get::<_, i64>(0)).collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// `error` for the first append of `batch`, and the same message for the others.
fn each(batch: &[Waiting], error: Error) -> Vec<Result<u64>> {
    let message = error.to_string();
    let mut first = Some(error);
    batch
        .iter()
        .map(|_| {
            Err(first.take().unwrap_or_else(|| Error::Backend {
                backend: BACKEND,
                message: message.clone(),
                source: None,
            }))
        })
        .collect()
}
