//! Replay: reading the log back, commit by commit, in order.

use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::format::{decode_commit, Commit};
use crate::storage::Storage;
use crate::store::Store;

type Predicate<'s> = Box<dyn FnMut(&Commit) -> bool + 's>;

/// A replay of a store's log, configured by its methods; made by [`Store::replay`].
///
/// By default it covers every commit, from 1 to the end of the log as it is when the replay
/// reaches it. Only the commits in its range are read.
#[must_use]
pub struct Replay<'s> {
    store: &'s Store,
    from: u64,
    to: Option<u64>,
    stop_before: Option<Predicate<'s>>,
    stop_after: Option<Predicate<'s>>,
}

impl fmt::Debug for Replay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("stop_before", &self.stop_before.is_some())
            .field("stop_after", &self.stop_after.is_some())
            .finish_non_exhaustive()
    }
}

/// What a replay went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplaySummary {
    /// The number of the last commit applied, or `None` when none was.
    pub last_commit: Option<u64>,
    /// How many commits were applied.
    pub commits: u64,
    /// How many events were applied.
    pub events: u64,
    /// Whether a stop predicate ended the replay.
    pub stopped: bool,
}

impl<'s> Replay<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Replay {
            store,
            from: 1,
            to: None,
            stop_before: None,
            stop_after: None,
        }
    }

    /// Starts at commit `number` (default 1; 0 is taken as 1).
    pub fn from(mut self, number: u64) -> Self {
        self.from = number.max(1);
        self
    }

    /// Ends with commit `number`, which must exist (default: the end of the log).
    pub fn to(mut self, number: u64) -> Self {
        self.to = Some(number);
        self
    }

    /// The commits in `range`, e.g. `3..=7` or `10..`.
    pub fn range(mut self, range: impl RangeBounds<u64>) -> Self {
        self.from = match range.start_bound() {
            Bound::Included(&n) => n.max(1),
            Bound::Excluded(&n) => n.saturating_add(1).max(1),
            Bound::Unbounded => 1,
        };
        self.to = match range.end_bound() {
            Bound::Included(&n) => Some(n),
            Bound::Excluded(&n) => Some(n.saturating_sub(1)),
            Bound::Unbounded => None,
        };
        self
    }

    /// Stops before applying the first commit for which `predicate` is true (that commit and
    /// those after it are not applied).
    pub fn stop_before(mut self, predicate: impl FnMut(&Commit) -> bool + 's) -> Self {
        self.stop_before = Some(Box::new(predicate));
        self
    }

    /// Stops after applying the first commit for which `predicate` is true.
    pub fn stop_after(mut self, predicate: impl FnMut(&Commit) -> bool + 's) -> Self {
        self.stop_after = Some(Box::new(predicate));
        self
    }

    /// Calls `handler` with every event of the replay and its commit's headers, in order.
    ///
    /// A commit that another program may still be writing in place is waited for, at most
    /// for its grace period ([`IN_PROGRESS_GRACE`]), before it counts as damaged.
    ///
    /// # Errors
    /// A damaged or missing commit ([`Error::CorruptCommit`], [`Error::MissingCommit`]), an end
    /// of the range beyond the log ([`Error::OutOfRange`]), or an I/O error. The handler has then
    /// seen every event before the damaged commit.
    pub fn run(self, mut handler: impl FnMut(&Event, &Headers)) -> Result<ReplaySummary> {
        self.try_run(|event, headers| {
            handler(event, headers);
            Ok::<_, Error>(())
        })
    }

    /// As [`run`](Self::run), with a handler that can fail: its first error ends the replay and
    /// is returned.
    ///
    /// # Errors
    /// The handler's error, or the errors of [`run`](Self::run) converted into `E`.
    pub fn try_run<E: From<Error>>(
        self,
        mut handler: impl FnMut(&Event, &Headers) -> Result<(), E>,
    ) -> Result<ReplaySummary, E> {
        let mut summary = ReplaySummary::default();
        let mut commits = self.commits();
        while let Some(commit) = commits.next() {
            let commit = commit?;
            for event in commit.events() {
                handler(event, commit.headers())?;
            }
            summary.last_commit = Some(commit.number());
            summary.commits += 1;
            summary.events += commit.events().len() as u64;
            commits.recycle(commit);
        }
        summary.stopped = commits.stopped;
        Ok(summary)
    }

    /// The replay's commits as an iterator, each read when the iterator reaches it.
    pub fn commits(self) -> Commits<'s> {
        // A replay to the end of the log needs one listing of the backend per store, at the
        // end: start it now, so that it overlaps the reads.
        if self.to.is_none() {
            self.store.list_ahead();
        }
        Commits {
            store: self.store,
            next: self.from,
            to: self.to,
            stop_before: self.stop_before,
            stop_after: self.stop_after,
            done: false,
            stopped: false,
            read_alone: 0,
            ahead: None,
            grace: Grace::default(),
            patient: true,
            ended_pending: false,
        }
    }
}

/// An iterator over a store's commits, in order; made by [`Replay::commits`] or
/// [`Store::commits`].
///
/// It yields `Err` once when a commit cannot be read, and then ends. A commit that another
/// program may still be writing in place is waited for first, within one grace period for the
/// whole iteration (see [`IN_PROGRESS_GRACE`]).
#[must_use = "iterators do nothing unless consumed"]
pub struct Commits<'s> {
    store: &'s Store,
    next: u64,
    to: Option<u64>,
    stop_before: Option<Predicate<'s>>,
    stop_after: Option<Predicate<'s>>,
    done: bool,
    stopped: bool,
    /// How many commits this iterator read one by one so far.
    read_alone: u64,
    /// Readers working ahead on other threads, once the replay has shown it is long.
    ahead: Option<ReadAhead>,
    /// The grace this iterator gives commits that may be writes in progress.
    grace: Grace,
    /// Whether it waits out such a commit's grace period (else it ends there, as at the end
    /// of the log, for its owner to come back later: see [`Commits::with_grace`]).
    patient: bool,
    /// Whether it ended at such a commit (when not `patient`).
    ended_pending: bool,
}

impl fmt::Debug for Commits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commits")
            .field("next", &self.next)
            .field("to", &self.to)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Commits<'_> {
    /// Goes on with the grace period of an earlier read (a subscription reads each commit
    /// with a new iterator). When not `patient`, a commit that may be a write in progress
    /// ends the iteration (as the end of the log does) instead of being waited for: the
    /// caller reads it again later with the grace handed back by [`take_grace`](Self::take_grace).
    pub(crate) fn with_grace(mut self, grace: Grace, patient: bool) -> Self {
        self.grace = grace;
        self.patient = patient;
        self
    }

    /// The grace of this iterator, to go on with in a later one: only while a commit is waited
    /// for (it ended at a commit in its grace period). Otherwise there is nothing to go on
    /// with (a commit waited for earlier may have been moved aside since), and a new grace is
    /// returned.
    pub(crate) fn take_grace(&mut self) -> Grace {
        if self.ended_pending {
            std::mem::take(&mut self.grace)
        } else {
            Grace::default()
        }
    }

    /// Takes back a commit this iterator yielded and that is no longer needed, so that its
    /// memory is freed by the thread that decoded it (which is quicker than freeing it here).
    pub(crate) fn recycle(&mut self, commit: Commit) {
        if let Some(ahead) = &mut self.ahead {
            ahead.spent.push(commit);
        }
    }

    /// Reads commit `self.next`: `Ok(None)` at the end of the log (or of the range).
    fn read_next(&mut self) -> Result<Option<Commit>> {
        let number = self.next;
        if self.to.is_some_and(|to| number > to) {
            return Ok(None);
        }
        if let Some(ahead) = &mut self.ahead {
            if let Some(commit) = ahead.take(number) {
                self.store.note_tip(number);
                return Ok(Some(commit));
            }
            // The readers ahead reached the end of what they could read (the end of the log,
            // a gap, damage): from here on, one by one, which tells these apart.
            self.ahead = None;
        } else if self.read_alone >= READ_AHEAD_AFTER
            && self.to.is_none_or(|to| to - number >= READ_AHEAD_BATCH)
        {
            self.ahead = ReadAhead::start(self.store, number, self.to);
            if self.ahead.is_some() {
                return self.read_next();
            }
        }
        self.read_alone += 1;
        let storage = self.store.storage();
        let bytes = match storage.read_commit(number)? {
            Some(bytes) => bytes,
            None => match self.missing(number)? {
                Some(bytes) => bytes,
                None => return Ok(None),
            },
        };
        let Some(commit) =
            self.store
                .decode_commit_with(number, bytes, &mut self.grace, self.patient)?
        else {
            self.ended_pending = true;
            return Ok(None);
        };
        self.store.note_tip(number);
        Ok(Some(commit))
    }

    /// Decides what a missing commit means: the end of the log, a gap, or a range that goes
    /// beyond the log. Returns the commit's bytes if another writer created it meanwhile.
    fn missing(&self, number: u64) -> Result<Option<Vec<u8>>> {
        let storage = self.store.storage();
        let mut known_tip = self.store.known_tip()?;
        if known_tip > number && !storage.commit_exists(known_tip)? {
            known_tip = self.store.relist_tip()?;
        }
        let later = if known_tip > number {
            Some(known_tip)
        } else if storage.commit_exists(number.saturating_add(1))? {
            Some(number.saturating_add(1))
        } else {
            None
        };
        if let Some(next) = later {
            // Another writer may have created `number` (and more) since it was read.
            if let Some(bytes) = storage.read_commit(number)? {
                return Ok(Some(bytes));
            }
            return Err(Error::MissingCommit {
                commit: number,
                location: storage.commit_location(number),
                next,
            });
        }
        match self.to {
            Some(to) if to >= number => Err(Error::OutOfRange {
                requested: to,
                tip: self.store.tip()?,
            }),
            _ => Ok(None),
        }
    }
}

impl Iterator for Commits<'_> {
    type Item = Result<Commit>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let commit = match self.read_next() {
            Ok(Some(commit)) => commit,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if let Some(stop_before) = &mut self.stop_before {
            if stop_before(&commit) {
                self.done = true;
                self.stopped = true;
                return None;
            }
        }
        if let Some(stop_after) = &mut self.stop_after {
            if stop_after(&commit) {
                self.done = true;
                self.stopped = true;
            }
        }
        self.next += 1;
        Some(Ok(commit))
    }
}

/// A replay reads this many commits one by one before it starts reading ahead.
const READ_AHEAD_AFTER: u64 = 64;

/// Commits per batch read ahead.
const READ_AHEAD_BATCH: u64 = 256;

/// Batches read ahead of the replay at most (which bounds its memory).
const READ_AHEAD_WINDOW: u64 = 8;

/// Threads reading ahead.
const READ_AHEAD_THREADS: usize = 2;

/// Threads that read and decode batches of commits ahead of a long replay, so that reading
/// (from any backend: [`Storage::read_commits`](crate::Storage::read_commits)), checking and
/// decoding run on other cores while the replay's handler runs. Batches are handed over in
/// order; at most [`READ_AHEAD_WINDOW`] are ahead. A batch that ends early (the end of the log,
/// a missing or damaged commit) ends the reading ahead, and the replay goes on one by one.
struct ReadAhead {
    shared: std::sync::Arc<AheadShared>,
    threads: Vec<thread::JoinHandle<()>>,
    /// The batch being handed out: its first commit's number, and its commits.
    current: std::collections::VecDeque<Commit>,
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
    ready: std::collections::BTreeMap<u64, Batch>,
    /// For each reading thread, commits it decoded that the replay is done with: that thread
    /// frees them.
    spent: Vec<Vec<Vec<Commit>>>,
    /// The first number of the batch the replay takes next.
    wanted: u64,
    /// Set when the replay no longer needs the readers, or a short batch was read.
    stop: bool,
}

struct AheadShared {
    state: std::sync::Mutex<AheadState>,
    /// Held while a thread claims and reads a batch.
    reading: std::sync::Mutex<()>,
    changed: std::sync::Condvar,
    to: Option<u64>,
}

impl AheadShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, AheadState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReadAhead {
    fn start(store: &Store, from: u64, to: Option<u64>) -> Option<ReadAhead> {
        let shared = std::sync::Arc::new(AheadShared {
            state: std::sync::Mutex::new(AheadState {
                claim: from,
                wanted: from,
                spent: (0..READ_AHEAD_THREADS).map(|_| Vec::new()).collect(),
                ..AheadState::default()
            }),
            reading: std::sync::Mutex::new(()),
            changed: std::sync::Condvar::new(),
            to,
        });
        let mut threads = Vec::new();
        for index in 0..READ_AHEAD_THREADS {
            let shared = std::sync::Arc::clone(&shared);
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
            current: std::collections::VecDeque::new(),
            current_next: from,
            current_short: false,
            current_decoder: 0,
            spent: Vec::new(),
        })
    }

    /// Commit `number` (the next one), or `None` when the readers ahead do not have it.
    fn take(&mut self, number: u64) -> Option<Commit> {
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
        let mut commits = Vec::with_capacity(read.len());
        for (number, bytes) in (first..).zip(read) {
            match decode_commit(number, &bytes) {
                Ok(commit) => commits.push(commit),
                Err(_) => {
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

/// How long a commit may stay unreadable because another program is still writing it in
/// place (as the original package does: it creates `k.log`, then writes it) before readers
/// call it damaged.
///
/// A reader gives a commit that does not decode this grace period when the commit may be a
/// write in progress: it is empty or a cut-short start of a JSON document (anything else, such
/// as a document with a wrong member, is damage at once), and it was modified less than
/// `IN_PROGRESS_GRACE` ago or is dated in the future. It does so whatever follows the commit:
/// with several writers, commit `k + 1` may be written while `k` is still in progress. The
/// commit is read again until it decodes or the grace period, measured from when the reader
/// first saw it unreadable, has passed; only then is it reported damaged. A file dated in the
/// future (a clock that jumped, a file copied from another machine) is taken as modified when
/// it was first seen, so no modification time can make a reader wait longer.
///
/// One read operation (a replay, an iterator over commits, a subscription, a verification)
/// has one grace period at a time: a commit met while another's grace period runs waits only
/// for what is left of it, and once a grace period has run out without its commit decoding,
/// the operation waits for no other commit (each is read once more, and reported if it still
/// does not decode). A commit that decodes ends the grace period: the next write in progress
/// has a whole one. So one operation never waits much longer than `IN_PROGRESS_GRACE` in all
/// for commits that stay unreadable, however many there are, and waits longer only while
/// other programs are in fact finishing their writes.
pub const IN_PROGRESS_GRACE: Duration = Duration::from_secs(2);

/// How often such a commit is read again while waiting.
const IN_PROGRESS_POLL: Duration = Duration::from_millis(10);

/// The grace period of one read operation (see [`IN_PROGRESS_GRACE`]).
#[derive(Debug, Default)]
pub(crate) struct Grace {
    /// When the grace period running now ends: set when the operation first sees a commit
    /// that may be a write in progress, cleared once a commit decodes.
    deadline: Option<Instant>,
    /// Set once a grace period ran out: the operation then waits for no other commit.
    spent: bool,
}

/// What [`Grace::judge`] made of a commit's bytes.
pub(crate) enum Judged {
    /// They decode.
    Sound(Commit),
    /// They do not decode (for the reason given), but may be a write in progress whose grace
    /// period runs: read them again a little later.
    Pending(String),
}

impl Grace {
    /// Decodes commit `number` from `bytes`, or says that it may still be being written, or
    /// that it is damaged ([`Error::CorruptCommit`]).
    pub(crate) fn judge(
        &mut self,
        storage: &dyn Storage,
        number: u64,
        bytes: &[u8],
    ) -> Result<Judged> {
        let problem = match decode_commit(number, bytes) {
            Ok(commit) => {
                if !self.spent {
                    self.deadline = None;
                }
                return Ok(Judged::Sound(commit));
            }
            Err(problem) => problem,
        };
        let damaged = |problem: String| Error::CorruptCommit {
            commit: number,
            location: storage.commit_location(number),
            problem,
        };
        if self.spent || !may_be_unfinished(bytes) || !modified_lately(storage, number)? {
            return Err(damaged(problem));
        }
        let now = Instant::now();
        match self.deadline {
            None => {
                tracing::debug!(commit = number, %problem, "commit unreadable; it may be a write in progress");
                self.deadline = Some(now + IN_PROGRESS_GRACE);
            }
            Some(deadline) if now >= deadline => {
                self.spent = true;
                return Err(damaged(problem));
            }
            Some(_) => {}
        }
        Ok(Judged::Pending(problem))
    }
}

/// Whether `bytes` may be the start of a commit another program is writing in place: nothing
/// yet, or the start of a JSON object that ends too early. (A document written in place is
/// seen as a prefix of itself, and the original writes compact JSON, starting with `{`; other
/// damage cannot be a write in progress.)
fn may_be_unfinished(bytes: &[u8]) -> bool {
    match bytes.first() {
        None => true,
        Some(b'{') => {
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err_and(|e| e.is_eof())
        }
        Some(_) => false,
    }
}

/// Whether commit `number` was modified less than [`IN_PROGRESS_GRACE`] ago, or is dated in
/// the future (taken as "just now": the grace period then runs from when it was first seen).
/// A backend that cannot tell writes whole commits: `false`.
fn modified_lately(storage: &dyn Storage, number: u64) -> Result<bool> {
    Ok(storage.commit_modified(number)?.is_some_and(|modified| {
        match SystemTime::now().duration_since(modified) {
            Ok(age) => age < IN_PROGRESS_GRACE,
            Err(_) => true,
        }
    }))
}

impl Store {
    /// Decodes commit `number`, giving it the grace period of a write in progress (see
    /// [`IN_PROGRESS_GRACE`]), as an operation of its own.
    pub(crate) fn decode_commit_at(&self, number: u64, bytes: Vec<u8>) -> Result<Commit> {
        self.decode_patiently(number, bytes, &mut Grace::default())
    }

    /// Decodes commit `number` from `bytes`, within the read operation whose grace is `grace`.
    /// A commit that may be a write in progress is read again until it decodes or its grace
    /// period has passed (`patient`), or gives `Ok(None)` at once (not `patient`: the caller
    /// reads it again later, with the same `grace`).
    pub(crate) fn decode_commit_with(
        &self,
        number: u64,
        bytes: Vec<u8>,
        grace: &mut Grace,
        patient: bool,
    ) -> Result<Option<Commit>> {
        if patient {
            return self.decode_patiently(number, bytes, grace).map(Some);
        }
        match grace.judge(self.storage(), number, &bytes)? {
            Judged::Sound(commit) => Ok(Some(commit)),
            Judged::Pending(_) => Ok(None),
        }
    }

    /// Decodes commit `number` from `bytes` within the read operation whose grace is `grace`,
    /// reading it again while it may be a write in progress whose grace period runs. An
    /// operation that reads many commits and goes on past damage (as verification does) keeps
    /// one `grace` for all of them, so that its waits stay bounded in all.
    pub(crate) fn decode_patiently(
        &self,
        number: u64,
        mut bytes: Vec<u8>,
        grace: &mut Grace,
    ) -> Result<Commit> {
        let storage = self.storage();
        loop {
            let problem = match grace.judge(storage, number, &bytes)? {
                Judged::Sound(commit) => return Ok(commit),
                Judged::Pending(problem) => problem,
            };
            thread::sleep(IN_PROGRESS_POLL);
            match storage.read_commit(number)? {
                Some(again) => bytes = again,
                None => {
                    return Err(Error::CorruptCommit {
                        commit: number,
                        location: storage.commit_location(number),
                        problem: format!("{problem}, and then disappeared"),
                    })
                }
            }
        }
    }

    /// Calls `handler` with every event of the log and its commit's headers, in order.
    ///
    /// For a range, stop predicates, a fallible handler or an iterator, see [`Store::replay`].
    ///
    /// # Errors
    /// As [`Replay::run`].
    pub fn replay_event_stream(
        &self,
        handler: impl FnMut(&Event, &Headers),
    ) -> Result<ReplaySummary> {
        self.replay().run(handler)
    }

    /// A replay of the log, to be narrowed to a range or stopped by predicates, then run.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Store};
    ///
    /// let store = Store::memory();
    /// for name in ["a", "b", "c", "d"] {
    ///     store.log(&Event::new(name))?;
    /// }
    /// let mut seen = Vec::new();
    /// let summary = store
    ///     .replay()
    ///     .from(2)
    ///     .stop_after(|commit| commit.number() == 3)
    ///     .run(|event, _headers| seen.push(event.name().to_owned()))?;
    /// assert_eq!(seen, ["b", "c"]);
    /// assert!(summary.stopped);
    /// # Ok(())
    /// # }
    /// ```
    pub fn replay(&self) -> Replay<'_> {
        Replay::new(self)
    }

    /// The commits in `range` as an iterator (`..` for all of them).
    pub fn commits(&self, range: impl RangeBounds<u64>) -> Commits<'_> {
        self.replay().range(range).commits()
    }

    /// Reads one commit, waiting for it, at most for its grace period ([`IN_PROGRESS_GRACE`]),
    /// when another program may still be writing it in place.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when it does not exist; [`Error::CorruptCommit`] when it is damaged.
    pub fn read_commit(&self, number: u64) -> Result<Commit> {
        let storage = self.storage();
        if number == 0 {
            return Err(Error::OutOfRange {
                requested: 0,
                tip: self.tip()?,
            });
        }
        match storage.read_commit(number)? {
            Some(bytes) => self.decode_commit_at(number, bytes),
            None => Err(Error::OutOfRange {
                requested: number,
                tip: self.tip()?,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use std::sync::mpsc;

    /// One read operation meeting many commits that never decode, each dated in the future
    /// (so each looks like a write in progress), between sound ones, waits one grace period in
    /// all, not one per commit.
    #[test]
    fn one_operation_waits_one_grace_period_for_many_commits_that_stay_unreadable() {
        const COMMITS: u64 = 60;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 1..=COMMITS {
            store.log(&Event::new(format!("e{i}"))).unwrap();
        }
        let future = SystemTime::now() + Duration::from_secs(3600);
        for n in (2..=COMMITS).step_by(2) {
            let path = dir.path().join(format!("{n}.log"));
            let file = std::fs::File::create(&path).unwrap();
            file.set_modified(future).unwrap();
        }
        let (send, receive) = mpsc::channel();
        let reader = store.clone();
        std::thread::spawn(move || {
            let mut grace = Grace::default();
            let outcomes: Vec<bool> = (1..=COMMITS)
                .map(|n| {
                    let bytes = reader.storage().read_commit(n).unwrap().unwrap();
                    match reader.decode_commit_with(n, bytes, &mut grace, true) {
                        Ok(Some(_)) => true,
                        Err(Error::CorruptCommit { commit, .. }) if commit == n => false,
                        other => panic!("commit {n}: {other:?}"),
                    }
                })
                .collect();
            let _ = send.send(outcomes);
        });
        // One grace period is 2 s; one per unreadable commit would be a minute.
        let outcomes = receive
            .recv_timeout(IN_PROGRESS_GRACE * 10)
            .expect("the reads to end within ten grace periods");
        let expected: Vec<bool> = (1..=COMMITS).map(|n| n % 2 == 1).collect();
        assert_eq!(outcomes, expected);
    }
}
