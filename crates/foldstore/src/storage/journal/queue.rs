//! Taking turns to write. Within a process, writers queue their commits and one of them, the
//! leader, writes every queued commit as one batch (group commit) and tells each its outcome;
//! between processes, writers take the lock file (`flock`).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Condvar};
use std::thread::Thread;

use super::{JournalStorage, Shared, LOCK_FILE};
use crate::error::{Error, Result};
use crate::storage::local::fs::{Handle, Open};
use crate::storage::{CommitCheck, Conflict};

/// Writers waiting for the leader.
///
/// A writer waiting for its outcome sleeps (parked) until it is woken for its own sake: its
/// batch's outcome is in, or the turn to lead was handed on while its request waits to be
/// written. A notice to every writer at each change made them all wake, take the lock and
/// sleep again: with 8 writer threads on 2 cores, a third of the CPU time went to that.
#[derive(Debug, Default)]
pub(super) struct Queue {
    pub(super) pending: Vec<Request>,
    pub(super) leading: bool,
    pub(super) next_ticket: u64,
    pub(super) done: HashMap<u64, Result<Result<u64, Conflict>>>,
    /// The writers asleep, by their request's ticket.
    asleep: HashMap<u64, Thread>,
    /// Callers of [`take_turn`](JournalStorage::take_turn) waiting for the turn: with none, no
    /// notice is sent.
    waiting_for_turn: usize,
}

impl Queue {
    /// Wakes the writer of request `ticket`, if it sleeps.
    fn wake(&self, ticket: u64) {
        if let Some(thread) = self.asleep.get(&ticket) {
            thread.unpark();
        }
    }

    /// Called when the turn to lead is given up: wakes a writer whose request waits to be
    /// written (it leads next), and the callers waiting to take the turn.
    fn turn_given_up(&self, turn: &Condvar) {
        if let Some(first) = self.pending.first() {
            self.wake(first.ticket);
        }
        if self.waiting_for_turn > 0 {
            turn.notify_all();
        }
    }
}

pub(super) struct Request {
    pub(super) ticket: u64,
    pub(super) kind: Kind,
    pub(super) document: Vec<u8>,
    /// A conditional append's check (with [`Kind::AppendIf`]).
    pub(super) check: Option<Arc<CommitCheck>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("ticket", &self.ticket)
            .field("kind", &self.kind)
            .field("bytes", &self.document.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    /// Exactly this number, unless it is taken.
    Create(u64),
    /// The next number, from this one on.
    Append(u64),
    /// The next number, from this one on, if the request's check finds no conflict in the
    /// commits from this one to it.
    AppendIf(u64),
}

impl JournalStorage {
    /// Queues a request and waits for its outcome; writes batches while leading.
    pub(super) fn submit(
        &self,
        kind: Kind,
        document: &[u8],
        check: Option<Arc<CommitCheck>>,
    ) -> Result<Result<u64, Conflict>> {
        let shared = &self.shared;
        let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push(Request {
            ticket,
            kind,
            document: document.to_vec(),
            check,
        });
        loop {
            if let Some(outcome) = queue.done.remove(&ticket) {
                queue.asleep.remove(&ticket);
                return outcome;
            }
            // A writer whose request is in a batch being synced waits for its outcome; it
            // leads only when requests wait to be written.
            if !queue.leading && !queue.pending.is_empty() {
                queue.asleep.remove(&ticket);
                queue.leading = true;
                let batch = std::mem::take(&mut queue.pending);
                drop(queue);
                let mut leading = Leading {
                    shared,
                    tickets: batch.iter().map(|r| r.ticket).collect(),
                    finished: false,
                    leads: true,
                };
                let written = self.write_batch_unsynced(&batch);
                // Written, the lock released: the next batch may be written while this one
                // syncs (its sync covers this batch's records too, which are before its own).
                {
                    let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                    queue.leading = false;
                    leading.leads = false;
                    queue.turn_given_up(&shared.turn);
                }
                let outcomes = written.map(|written| self.sync_batch(written));
                leading.finished = true;
                queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                match outcomes {
                    Ok(outcomes) => {
                        for (request, outcome) in batch.iter().zip(outcomes) {
                            queue.done.insert(request.ticket, outcome);
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        let mut own = Some(e);
                        for request in &batch {
                            let error = if request.ticket == ticket {
                                own.take().expect("once")
                            } else {
                                Error::Backend {
                                    backend: "journal",
                                    message: message.clone(),
                                    source: None,
                                }
                            };
                            queue.done.insert(request.ticket, Err(error));
                        }
                    }
                }
                for request in &batch {
                    queue.wake(request.ticket);
                }
                continue;
            }
            // Asleep until woken for this request's sake (or spuriously: the loop looks again).
            queue
                .asleep
                .entry(ticket)
                .or_insert_with(std::thread::current);
            drop(queue);
            std::thread::park();
            queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Takes the leader's turn for work other than writing a batch (moving a torn write aside):
    /// this process's writers wait until it is dropped.
    pub(super) fn take_turn(&self) -> Leading<'_> {
        let shared = &self.shared;
        let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        while queue.leading {
            queue.waiting_for_turn += 1;
            queue = shared.turn.wait(queue).unwrap_or_else(|e| e.into_inner());
            queue.waiting_for_turn -= 1;
        }
        queue.leading = true;
        drop(queue);
        Leading {
            shared,
            tickets: Vec::new(),
            finished: false,
            leads: true,
        }
    }

    /// The file writers lock, opened once.
    pub(super) fn lock_handle(&self) -> Result<Arc<dyn Handle>> {
        let mut handle = self
            .shared
            .lock_file
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(file) = &*handle {
            return Ok(Arc::clone(file));
        }
        self.check_segment_folder()?;
        let lock_path = self.shared.segments.join(LOCK_FILE);
        let file = match self.shared.fs.open(&lock_path, Open::ReadWriteCreate) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.read_marker()?.is_some() {
                    return Err(Error::io("open", lock_path, e));
                }
                return Err(Error::StoreMissing {
                    path: self.shared.path.clone(),
                });
            }
            Err(e) => return Err(Error::io("open", lock_path, e)),
        };
        *handle = Some(Arc::clone(&file));
        Ok(file)
    }
}

/// The leader's turn: if the leader stops without finishing (a panic), its batch is told the
/// outcome is unknown and another writer may lead, instead of every writer waiting for ever.
pub(super) struct Leading<'s> {
    shared: &'s Shared,
    tickets: Vec<u64>,
    finished: bool,
    /// Whether it still holds the turn (a leader syncing its batch has handed it on).
    leads: bool,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        for ticket in &self.tickets {
            queue.done.entry(*ticket).or_insert_with(|| {
                Err(Error::Backend {
                    backend: "journal",
                    message: "outcome unknown: the writer of this commit's batch stopped while writing it; read the log's end before writing it again".to_owned(),
                    source: None,
                })
            });
            queue.wake(*ticket);
        }
        if self.leads {
            queue.leading = false;
            queue.turn_given_up(&self.shared.turn);
        }
    }
}

/// Releases the writers' lock when dropped.
pub(super) struct Unlock<'f>(pub(super) &'f dyn Handle);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.unlock() {
            tracing::warn!(error = %e, "cannot release a lock of the journal");
        }
    }
}
