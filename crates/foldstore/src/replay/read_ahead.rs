//! Reading ahead: threads that read and decode batches of commits ahead of a long replay.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use crate::format::{decode_commit, decode_commit_lazy, Commit};
use crate::store::Store;

/// A replay reads this many commits one by one before it starts reading ahead.
pub(super) const READ_AHEAD_AFTER: u64 = 64;

/// Commits per batch read ahead.
pub(super) const READ_AHEAD_BATCH: u64 = 256;

/// Batches read ahead of the replay at most (which bounds its memory).
const READ_AHEAD_WINDOW: u64 = 8;

/// Threads reading ahead.
const READ_AHEAD_THREADS: usize = 2;

/// Threads that read and decode batches of commits ahead of a long replay, so that reading
/// (from any backend: [`Storage::read_commits`](crate::storage::Storage::read_commits)), checking and
/// decoding run on other cores while the replay's handler runs. Batches are handed over in
/// order; at most [`READ_AHEAD_WINDOW`] are ahead. A batch that ends early (the end of the log,
/// a missing or damaged commit) ends the reading ahead, and the replay goes on one by one.
pub(super) struct ReadAhead {
    shared: Arc<AheadShared>,
    threads: Vec<thread::JoinHandle<()>>,
    /// The batch being handed out: its first commit's number, and its commits.
    current: VecDeque<Commit>,
    current_next: u64,
    current_short: bool,
    /// The thread that decoded the current batch.
    current_decoder: usize,
    /// Commits of the current batch the replay is done with, handed back to their decoder.
    spent: Vec<Commit>,
}

/// A batch of commits read and decoded ahead.
struct Batch {
    commits: Vec<Commit>,
    /// Whether the batch holds every commit asked for.
    whole: bool,
    /// The index of the thread that decoded it.
    decoder: usize,
}

#[derive(Default)]
struct AheadState {
    /// The first number of the next batch to claim.
    claim: u64,
    /// Batches read, by their first number.
    ready: BTreeMap<u64, Batch>,
    /// For each reading thread, commits it decoded that the replay is done with: that thread
    /// frees them.
    spent: Vec<Vec<Vec<Commit>>>,
    /// The first number of the batch the replay takes next.
    wanted: u64,
    /// Set when the replay no longer needs the readers, or a short batch was read.
    stop: bool,
}

struct AheadShared {
    state: Mutex<AheadState>,
    /// Held while a thread claims and reads a batch.
    reading: Mutex<()>,
    changed: Condvar,
    to: Option<u64>,
    /// Whether events' data is kept as text, to be parsed when asked for.
    lazy: bool,
}

impl AheadShared {
    fn lock(&self) -> MutexGuard<'_, AheadState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReadAhead {
    pub(super) fn start(
        store: &Store,
        from: u64,
        to: Option<u64>,
        lazy: bool,
    ) -> Option<ReadAhead> {
        let shared = Arc::new(AheadShared {
            state: Mutex::new(AheadState {
                claim: from,
                wanted: from,
                spent: (0..READ_AHEAD_THREADS).map(|_| Vec::new()).collect(),
                ..AheadState::default()
            }),
            reading: Mutex::new(()),
            changed: Condvar::new(),
            to,
            lazy,
        });
        let mut threads = Vec::new();
        for index in 0..READ_AHEAD_THREADS {
            let shared = Arc::clone(&shared);
            let store = store.clone();
            let spawned = thread::Builder::new()
                .name(format!("foldstore-read-ahead-{index}"))
                .spawn(move || read_ahead(&store, &shared, index));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(_) => break,
            }
        }
        if threads.is_empty() {
            return None;
        }
        Some(ReadAhead {
            shared,
            threads,
            current: VecDeque::new(),
            current_next: from,
            current_short: false,
            current_decoder: 0,
            spent: Vec::new(),
        })
    }

    /// Takes back a commit the replay is done with, to be freed by the thread that decoded it.
    pub(super) fn recycle(&mut self, commit: Commit) {
        self.spent.push(commit);
    }

    /// Commit `number` (the next one), or `None` when the readers ahead do not have it.
    pub(super) fn take(&mut self, number: u64) -> Option<Commit> {
        loop {
            if let Some(commit) = self.current.pop_front() {
                debug_assert_eq!(commit.number(), number);
                return Some(commit);
            }
            if self.current_short || self.current_next != number {
                return None;
            }
            let mut state = self.shared.lock();
            // Freed here, after the lock, once the readers are done (they free no more).
            let mut stranded = Vec::new();
            if !self.spent.is_empty() {
                let spent = std::mem::take(&mut self.spent);
                let readers_done = state.stop || self.shared.to.is_some_and(|to| state.claim > to);
                match state.spent.get_mut(self.current_decoder) {
                    Some(list) if !readers_done => list.push(spent),
                    _ => stranded = spent,
                }
            }
            let batch = loop {
                if let Some(batch) = state.ready.remove(&number) {
                    break batch;
                }
                if state.stop && state.claim <= number {
                    return None;
                }
                state = self
                    .shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            };
            state.wanted = number + READ_AHEAD_BATCH;
            self.shared.changed.notify_all();
            drop(state);
            drop(stranded);
            self.current_next = number + batch.commits.len() as u64;
            self.current_short = !batch.whole;
            self.current_decoder = batch.decoder;
            self.current = batch.commits.into();
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The work of one thread reading ahead: batches are claimed and read in order, one thread at
/// a time (a backend reads fastest sequentially: a journal goes on where it stopped), and
/// decoded by both threads at once.
fn read_ahead(store: &Store, shared: &AheadShared, index: usize) {
    loop {
        // Free what the replay is done with first, while the other thread may be reading.
        let spent = shared.lock().spent.get_mut(index).map(std::mem::take);
        drop(spent);
        let reading = shared.reading.lock().unwrap_or_else(|e| e.into_inner());
        let first = {
            let mut state = shared.lock();
            loop {
                if state.stop || shared.to.is_some_and(|to| state.claim > to) {
                    return;
                }
                let spent = state.spent.get_mut(index).map(std::mem::take);
                if spent.as_ref().is_some_and(|spent| !spent.is_empty()) {
                    // Freed without holding the lock.
                    drop(state);
                    drop(spent);
                    state = shared.lock();
                    continue;
                }
                if state.claim < state.wanted + READ_AHEAD_BATCH * READ_AHEAD_WINDOW {
                    break;
                }
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
            let first = state.claim;
            state.claim += READ_AHEAD_BATCH;
            first
        };
        let want = shared.to.map_or(READ_AHEAD_BATCH, |to| {
            (to - first + 1).min(READ_AHEAD_BATCH)
        });
        let read = store
            .storage()
            .read_commits(first, usize::try_from(want).unwrap_or(usize::MAX))
            .unwrap_or_default();
        drop(reading);
        let mut whole = read.len() as u64 == want;
        let sealing = store.keyring().is_some();
        let mut commits = Vec::with_capacity(read.len());
        for (number, bytes) in (first..).zip(read) {
            // With a key store, data is kept as text at first: sealed data is opened from its
            // text, and the rest parsed after (unless the replay wants it on demand).
            let decoded = if shared.lazy || sealing {
                decode_commit_lazy(number, &bytes)
            } else {
                decode_commit(number, &bytes)
            };
            let decoded = decoded.ok().and_then(|mut commit| {
                store.open_sealed(&mut commit).ok()?;
                if !shared.lazy {
                    for event in commit.events() {
                        let _ = event.data();
                    }
                }
                Some(commit)
            });
            match decoded {
                Some(commit) => commits.push(commit),
                None => {
                    // Read again, one by one, by the replay, which reports it properly.
                    whole = false;
                    break;
                }
            }
        }
        let mut state = shared.lock();
        if !whole {
            state.stop = true;
        }
        state.ready.insert(
            first,
            Batch {
                commits,
                whole,
                decoder: index,
            },
        );
        shared.changed.notify_all();
    }
}
