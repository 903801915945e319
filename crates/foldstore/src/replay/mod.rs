//! Replay: reading the log back, commit by commit, in order.
//!
//! This module holds the replay's options and its iterator; [`read_ahead`] the threads that
//! read ahead of a long replay, and [`grace`] the waiting for commits that may be writes in
//! progress.

mod grace;
mod read_ahead;

use std::fmt;
use std::ops::{Bound, RangeBounds};

use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::format::Commit;
use crate::store::Store;

pub(crate) use grace::Grace;
pub use grace::IN_PROGRESS_GRACE;
use read_ahead::{ReadAhead, READ_AHEAD_AFTER, READ_AHEAD_BATCH};

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
    stops: Stops<'s>,
    /// Whether the store's upcasters apply (not for the store's own readers).
    upcast: bool,
    /// Whether events' data is parsed when first asked for (see [`Replay::data_on_demand`]).
    lazy: bool,
}

impl fmt::Debug for Replay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("stop_before", &self.stops.before.is_some())
            .field("stop_after", &self.stops.after.is_some())
            .field("data_on_demand", &self.lazy)
            .finish_non_exhaustive()
    }
}

/// The predicates that end a replay early.
#[derive(Default)]
struct Stops<'s> {
    before: Option<Predicate<'s>>,
    after: Option<Predicate<'s>>,
}

impl Stops<'_> {
    /// Whether `commit` is to be applied, and whether the replay ends with it.
    fn judge(&mut self, commit: &Commit) -> Stop {
        if self.before.as_mut().is_some_and(|before| before(commit)) {
            return Stop::Before;
        }
        if self.after.as_mut().is_some_and(|after| after(commit)) {
            return Stop::After;
        }
        Stop::No
    }
}

/// What the stop predicates made of a commit.
enum Stop {
    /// Apply it, and go on.
    No,
    /// Do not apply it: the replay ends before it.
    Before,
    /// Apply it: the replay ends with it.
    After,
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
            stops: Stops::default(),
            upcast: true,
            lazy: false,
        }
    }

    /// The commits as stored, without the store's upcasters: for the store's own readers
    /// (models, which apply their own upcasters; the event index; subscriptions, which
    /// upcast what they deliver).
    pub(crate) fn stored(mut self) -> Self {
        self.upcast = false;
        self
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

    /// Has each event's data parsed when it is first asked for ([`Event::data`],
    /// [`Event::to_typed`]), on the replay's own thread, instead of by the threads that read
    /// ahead of a long replay. Every document is still read in full and checked (a damaged
    /// commit is reported as without this), but the data's `serde_json::Value` is only built
    /// for the events whose data is looked at, and [`Event::to_typed`] reads the data's text
    /// straight into the typed event.
    ///
    /// Quicker for handlers that look at names, tags or headers, or at the data of few events,
    /// or that read events into their own types; slower for handlers that look at the data of
    /// every event as a `Value` (the parsing then happens on one thread instead of two).
    /// Models with typed events fold this way.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Store};
    /// use serde_json::json;
    ///
    /// let store = Store::memory();
    /// store.log(&Event::with_data("memberHasMoved", json!({"name": "peter pan"})))?;
    /// store.log(&Event::new("heartbeat"))?;
    /// let mut moves = 0;
    /// store
    ///     .replay()
    ///     .data_on_demand()
    ///     .run(|event, _headers| moves += usize::from(event.name() == "memberHasMoved"))?;
    /// assert_eq!(moves, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn data_on_demand(mut self) -> Self {
        self.lazy = true;
        self
    }

    /// Stops before applying the first commit for which `predicate` is true (that commit and
    /// those after it are not applied).
    pub fn stop_before(mut self, predicate: impl FnMut(&Commit) -> bool + 's) -> Self {
        self.stops.before = Some(Box::new(predicate));
        self
    }

    /// Stops after applying the first commit for which `predicate` is true.
    pub fn stop_after(mut self, predicate: impl FnMut(&Commit) -> bool + 's) -> Self {
        self.stops.after = Some(Box::new(predicate));
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
            self.store.tip_cache().list_ahead();
        }
        Commits {
            store: self.store,
            next: self.from,
            to: self.to,
            stops: self.stops,
            done: false,
            stopped: false,
            read_alone: 0,
            ahead: None,
            grace: Grace::default(),
            patient: true,
            ended_pending: false,
            upcast: self.upcast && !self.store.upcasters().is_empty(),
            lazy: self.lazy,
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
    stops: Stops<'s>,
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
    /// Whether the store's upcasters apply to what it yields.
    upcast: bool,
    /// Whether events' data is parsed when first asked for (see [`Replay::data_on_demand`]).
    lazy: bool,
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
            ahead.recycle(commit);
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
                self.store.tip_cache().note(number);
                return Ok(Some(commit));
            }
            // The readers ahead reached the end of what they could read (the end of the log,
            // a gap, damage): from here on, one by one, which tells these apart.
            self.ahead = None;
        } else if self.read_alone >= READ_AHEAD_AFTER
            && self.to.is_none_or(|to| to - number >= READ_AHEAD_BATCH)
        {
            self.ahead = ReadAhead::start(self.store, number, self.to, self.lazy);
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
        let Some(mut commit) =
            self.store
                .decode_commit_with(number, bytes, &mut self.grace, self.patient)?
        else {
            self.ended_pending = true;
            return Ok(None);
        };
        // Sealed data opened (read ahead: by the reading threads).
        self.store.open_sealed(&mut commit)?;
        self.store.tip_cache().note(number);
        Ok(Some(commit))
    }

    /// Decides what a missing commit means: the end of the log, a gap, or a range that goes
    /// beyond the log. Returns the commit's bytes if another writer created it meanwhile.
    fn missing(&self, number: u64) -> Result<Option<Vec<u8>>> {
        let storage = self.store.storage();
        let mut known_tip = self.store.tip_cache().known()?;
        if known_tip > number && !storage.commit_exists(known_tip)? {
            known_tip = self.store.tip_cache().relist()?;
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
            // Or another process archived it: it then comes from the archive, or is
            // `Error::Archived`.
            if self
                .store
                .archived()
                .reload()
                .is_ok_and(|start| number < start)
            {
                if let Some(bytes) = storage.read_commit(number)? {
                    return Ok(Some(bytes));
                }
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
            Ok(Some(mut commit)) if self.upcast => {
                if let Err(e) = self.store.upcast(&mut commit) {
                    self.done = true;
                    return Some(Err(e));
                }
                commit
            }
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
        match self.stops.judge(&commit) {
            Stop::No => {}
            Stop::Before => {
                self.done = true;
                self.stopped = true;
                return None;
            }
            Stop::After => {
                self.done = true;
                self.stopped = true;
            }
        }
        self.next += 1;
        Some(Ok(commit))
    }
}

impl Store {
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

    /// The commits in `range` as stored, without the store's upcasters (for its own readers).
    pub(crate) fn commits_stored(&self, range: impl RangeBounds<u64>) -> Commits<'_> {
        self.replay().range(range).stored().commits()
    }

    /// Reads one commit, waiting for it, at most for its grace period ([`IN_PROGRESS_GRACE`]),
    /// when another program may still be writing it in place. The store's upcasters apply
    /// ([`StoreBuilder::upcasters`](crate::StoreBuilder::upcasters)).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when it does not exist; [`Error::CorruptCommit`] when it is damaged;
    /// [`Error::Upcast`] when an upcaster fails on one of its events.
    pub fn read_commit(&self, number: u64) -> Result<Commit> {
        let mut commit = self.read_commit_stored(number)?;
        self.upcast(&mut commit)?;
        Ok(commit)
    }

    /// Applies the store's upcasters to the events of `commit`, read as stored.
    pub(crate) fn upcast(&self, commit: &mut Commit) -> Result<()> {
        let number = commit.number();
        self.upcasters()
            .upcast_commit(commit, || self.storage().commit_location(number))
    }

    /// As [`read_commit`](Self::read_commit), without the store's upcasters.
    pub(crate) fn read_commit_stored(&self, number: u64) -> Result<Commit> {
        let storage = self.storage();
        if number == 0 {
            return Err(Error::OutOfRange {
                requested: 0,
                tip: self.tip()?,
            });
        }
        match storage.read_commit(number)? {
            Some(bytes) => {
                let mut commit = self.decode_commit_at(number, bytes)?;
                self.open_sealed(&mut commit)?;
                Ok(commit)
            }
            None => Err(Error::OutOfRange {
                requested: number,
                tip: self.tip()?,
            }),
        }
    }
}
