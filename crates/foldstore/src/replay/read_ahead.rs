//! Reading ahead: threads that read and decode batches of commits ahead of a long replay.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;

use crate::forget::Opener;
use crate::format::{decode_commit_sealed, Commit};
use crate::store::Store;

/// A replay reads this many commits one by one before it starts reading ahead.
pub(super) const READ_AHEAD_AFTER: u64 = 64;

/// Commits per batch read ahead.
pub(super) const READ_AHEAD_BATCH: u64 = 256;

/// Batches read ahead of the replay at most (which bounds its memory).
const READ_AHEAD_WINDOW: u64 = 8;

/// Threads reading ahead.
const READ_AHEAD_THREADS: usize = 2;

/// Whether the process may run on more than one CPU (its affinity, as `taskset` sets it, and
/// its cgroup's quota count): reading ahead on other threads pays only then. On one CPU the
/// batches are read and decoded in the replay's own thread (see [`Inline`]).
fn more_than_one_cpu() -> bool {
    static MANY: OnceLock<bool> = OnceLock::new();
    *MANY.get_or_init(|| thread::available_parallelism().is_ok_and(|cpus| cpus.get() > 1))
}

/// Reading ahead without threads, for a process on one CPU: the batches are read and decoded
/// by the replay's own thread when it needs the next one. Reading a batch at once is quicker
/// than reading commits one by one, and on one CPU reading threads would only take turns with
/// the replay.
struct Inline {
    store: Store,
    to: Option<u64>,
    lazy: bool,
    opener: Opener,
}

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
    /// Set when the batches are read in the replay's thread, on one CPU.
    inline: Option<Inline>,
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
        ReadAhead::start_as(store, from, to, lazy, !more_than_one_cpu())
    }

    /// As [`start`](Self::start), reading in the replay's thread when `inline`.
    fn start_as(
        store: &Store,
        from: u64,
        to: Option<u64>,
        lazy: bool,
        inline: bool,
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
        if inline {
            return Some(ReadAhead {
                shared,
                threads: Vec::new(),
                current: VecDeque::new(),
                current_next: from,
                current_short: false,
                current_decoder: 0,
                spent: Vec::new(),
                inline: Some(Inline {
                    store: store.clone(),
                    to,
                    lazy,
                    opener: Opener::default(),
                }),
            });
        }
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
            inline: None,
        })
    }

    /// Takes back a commit the replay is done with, to be freed by the thread that decoded it.
    pub(super) fn recycle(&mut self, commit: Commit) {
        if self.inline.is_none() {
            self.spent.push(commit);
        }
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
            if let Some(inline) = &mut self.inline {
                if inline.to.is_some_and(|to| number > to) {
                    return None;
                }
                let want = inline.to.map_or(READ_AHEAD_BATCH, |to| {
                    (to - number + 1).min(READ_AHEAD_BATCH)
                });
                let read = inline
                    .store
                    .storage()
                    .read_commits(number, usize::try_from(want).unwrap_or(usize::MAX))
                    .unwrap_or_default();
                let (commits, whole) = decode_batch(
                    &inline.store,
                    number,
                    want,
                    read,
                    inline.lazy,
                    &mut inline.opener,
                );
                self.current_next = number + commits.len() as u64;
                self.current_short = !whole;
                self.current = commits.into();
                continue;
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
    let mut opener = Opener::default();
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
        let (commits, whole) = decode_batch(store, first, want, read, shared.lazy, &mut opener);
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

/// Decodes a batch of commits read from `first` on (`want` asked for) and opens their sealed
/// data (with the store's key store, or as the placeholder without one); unless `lazy`, the
/// data of commits decoded the careful way is parsed after the sealed data is opened. Returns
/// the commits decoded, up to the first that does not decode or open, and whether that is
/// every commit asked for.
fn decode_batch(
    store: &Store,
    first: u64,
    want: u64,
    read: Vec<Vec<u8>>,
    lazy: bool,
    opener: &mut Opener,
) -> (Vec<Commit>, bool) {
    let mut whole = read.len() as u64 == want;
    let mut commits = Vec::with_capacity(read.len());
    for (number, bytes) in (first..).zip(read) {
        // Sealed data is found while decoding, and opened from the record's bytes (see
        // `decode_commit_sealed`), with a key store or without.
        let decoded = decode_commit_sealed(number, &bytes, lazy).and_then(|(mut commit, found)| {
            store
                .open_decoded_with(&mut commit, found, opener)
                .map(|()| commit)
                .map_err(|e| e.to_string())
        });
        let decoded = decoded.ok().map(|mut commit| {
            if !lazy {
                // Parsed, and the text dropped (not kept beside the value).
                for event in commit.events_mut() {
                    let _ = event.data_mut();
                }
            }
            commit
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
    (commits, whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    /// A store of `commits` commits, commit `damaged` (if any) not a commit document.
    fn store(commits: u64, damaged: Option<u64>) -> Store {
        let store = Store::memory();
        for k in 1..=commits {
            if Some(k) == damaged {
                store.storage().append_commit(k, b"{not json").unwrap();
            } else {
                store
                    .log(&Event::with_data("counted", serde_json::json!({"k": k})))
                    .unwrap();
            }
        }
        store
    }

    /// What a read ahead from `from` (to `to`) hands out, as numbers and `k`s, until it ends.
    fn taken(store: &Store, from: u64, to: Option<u64>, inline: bool) -> Vec<(u64, u64)> {
        let mut ahead = ReadAhead::start_as(store, from, to, true, inline).unwrap();
        let mut seen = Vec::new();
        let mut number = from;
        // A replay asks for no commit after the end of its range.
        while let Some((commit, k)) = to
            .is_none_or(|to| number <= to)
            .then(|| ahead.take(number))
            .flatten()
            .map(|commit| {
                let k = commit.events()[0].data().unwrap()["k"].as_u64().unwrap();
                (commit, k)
            })
        {
            seen.push((commit.number(), k));
            ahead.recycle(commit);
            number += 1;
        }
        seen
    }

    #[test]
    fn reading_in_the_replays_thread_hands_out_what_the_threads_do() {
        let whole = store(1_000, None);
        for (from, to) in [
            (1, None),
            (65, None),
            (65, Some(700)),
            (999, Some(1_000)),
            (1_000, None),
        ] {
            let inline = taken(&whole, from, to, true);
            let end = to.unwrap_or(1_000);
            assert_eq!(inline, (from..=end).map(|k| (k, k)).collect::<Vec<_>>());
            assert_eq!(
                taken(&whole, from, to, false),
                inline,
                "from {from} to {to:?}"
            );
        }
        // A damaged commit ends what is handed out before it (the replay reads it alone and
        // reports it).
        let damaged = store(1_000, Some(600));
        let inline = taken(&damaged, 65, None, true);
        assert_eq!(inline.last(), Some(&(599, 599)));
        assert_eq!(taken(&damaged, 65, None, false), inline);
    }
}
