//! Live subscriptions: every commit after a point, in order, first those that exist, then each
//! new one as it lands, from this process or any other.
//!
//! A subscription filtered by a query catches up through the store's event index: behind the
//! log's end, it asks the index for the commits that may match a stretch of the log at a time,
//! reads those, and jumps over the rest. The last commits of the log, where another program may
//! still be writing in place, are read one by one as an unfiltered subscription reads them.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::format::Commit;
use crate::query::Query;
use crate::replay::Grace;
use crate::storage::Watch;
use crate::store::Store;

/// How often a subscription looks for new commits when its backend sends no notices (and,
/// as a safety net, even when it does).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A filtered subscription catching up goes through the index this many commits at a time: one
/// step reads at most about that many commits (to extend the index, or that may match), so
/// that the waiting methods keep to their timeouts.
const INDEX_STEP: u64 = 1024;

/// The last commits of the log, which another program may still be writing in place, are read
/// one by one (with their grace period) rather than through the index.
const READ_AT_END: u64 = 64;

/// Where a subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// With commit 1.
    Beginning,
    /// With the commit after this one (`After(0)` is the beginning).
    After(u64),
    /// With the first commit made after the subscription.
    Now,
}

/// A live subscription to a store's commits; made by [`Store::subscribe`].
///
/// It delivers every commit after its start exactly once, in order, and waits for new ones:
/// [`next_commit`](Self::next_commit) blocks, [`next_timeout`](Self::next_timeout) gives up
/// after a while. It learns of new commits from the backend's notices where it has them
/// (file-system notifications with the `watch` feature, in-process notices for the memory
/// backend) and otherwise by polling.
///
/// As an [`Iterator`], it never ends on its own: it yields each commit, or the error that
/// stopped it (a damaged commit, a gap), after which it yields nothing.
///
/// A commit that another program may still be writing in place (see
/// [`IN_PROGRESS_GRACE`](crate::IN_PROGRESS_GRACE)) is waited for, whatever commits follow
/// it: it is delivered once it decodes, and reported damaged only when it has stayed
/// unreadable for the grace period. While it is waited for, the waiting methods keep to
/// their timeouts and to cancellation: the grace period goes on across calls.
pub struct Subscription {
    store: Store,
    next: u64,
    watch: Option<Box<dyn Watch>>,
    poll_interval: Duration,
    /// Whether to use the backend's notices (else: poll only).
    notices: bool,
    failed: bool,
    cancelled: Option<Arc<AtomicBool>>,
    /// The grace period of a commit that may be a write in progress, across reads.
    grace: Grace,
    /// Only commits holding an event that matches it are delivered (see
    /// [`Subscription::matching`]).
    query: Option<Query>,
    /// Matching commits found through the index and not delivered yet, in order, all at or
    /// after `next`.
    found: VecDeque<Commit>,
    /// The last commit checked through the index: once `found` is delivered, the subscription
    /// goes on after it.
    checked: u64,
    /// Commits up to this one are read one by one: a step through the index failed on them,
    /// and reading them one by one reports the problem as an unfiltered subscription would
    /// (or waits for a write in progress).
    read_through: u64,
    /// Whether the store's upcasters apply to the commits it delivers.
    upcast: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("next", &self.next)
            .field("notices", &self.watch.is_some())
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Subscribes to the commits after `start`.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Start, Store};
    /// use std::time::Duration;
    ///
    /// let store = Store::memory();
    /// store.log(&Event::new("before"))?;
    /// let mut subscription = store.subscribe(Start::Beginning)?;
    /// let writer = store.clone();
    /// std::thread::spawn(move || writer.log(&Event::new("after")));
    /// assert_eq!(subscription.next_commit()?.events()[0].name(), "before");
    /// assert_eq!(subscription.next_commit()?.events()[0].name(), "after");
    /// assert!(subscription.next_timeout(Duration::from_millis(10))?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// When the end of the log cannot be found (for [`Start::Now`]) or the backend's notices
    /// cannot be set up.
    pub fn subscribe(&self, start: Start) -> Result<Subscription> {
        // Watch first, read after: a commit landing in between is noticed.
        let watch = self.storage().watch()?;
        let next = match start {
            Start::Beginning => 1,
            Start::After(n) => n.saturating_add(1),
            Start::Now => self.tip()? + 1,
        };
        Ok(Subscription {
            store: self.clone(),
            next,
            watch,
            poll_interval: DEFAULT_POLL_INTERVAL,
            notices: true,
            failed: false,
            cancelled: None,
            grace: Grace::default(),
            query: None,
            found: VecDeque::new(),
            checked: 0,
            read_through: 0,
            upcast: !self.upcasters().is_empty(),
        })
    }
}

impl Subscription {
    /// How often to look for new commits without a notice. Default: [`DEFAULT_POLL_INTERVAL`].
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Ignores the backend's notices and polls only: for folders on network file systems,
    /// whose notices may not report other machines' writes (polling goes on beside notices
    /// anyway, at the poll interval, so this only saves the notices' cost).
    #[must_use]
    pub fn without_notices(mut self) -> Self {
        self.watch = None;
        self.notices = false;
        self
    }

    /// Makes waits return early (with no commit) once `flag` is set: a way to stop a thread
    /// that waits on the subscription.
    #[must_use]
    pub fn cancelled_by(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancelled = Some(flag);
        self
    }

    /// Delivers only the commits that hold an event matching `query` (whole: the caller may
    /// pick the matching events with [`Query::matches`]). The others are passed over, so
    /// [`next_number`](Self::next_number) moves past them; the subscription still sees every
    /// commit, from any process.
    ///
    /// Behind the log's end, it goes through the store's event index (as
    /// [`Store::events_matching`] does), a stretch of the log at a time: it reads only the
    /// commits that may match, so catching up over a long run of commits that do not match
    /// costs few reads once the index holds them, and the waiting methods keep to their
    /// timeouts meanwhile. Filling the index reads each commit once per process, and reports
    /// damage where it finds it; a commit the index has passed over is not read again. The
    /// last commits of the log are read one by one, as without a query.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Query, Start, Store};
    /// use std::time::Duration;
    ///
    /// let store = Store::memory();
    /// store.log(&Event::new("deposited").tagged(["account:7"]))?;
    /// store.log(&Event::new("deposited").tagged(["account:8"]))?;
    /// let mut account_8 = store.subscribe(Start::Beginning)?.matching(Query::tag("account:8"));
    /// assert_eq!(account_8.next_commit()?.number(), 2);
    /// assert!(account_8.next_timeout(Duration::from_millis(10))?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn matching(mut self, query: Query) -> Self {
        self.query = Some(query);
        self
    }

    /// Delivers the commits as stored, without the store's upcasters (for the store's own
    /// readers: a model's follower, whose model applies its own).
    pub(crate) fn stored(mut self) -> Self {
        self.upcast = false;
        self
    }

    /// The number of the next commit it will deliver.
    pub fn next_number(&self) -> u64 {
        self.next
    }

    /// Whether the subscription learns of new commits from notices rather than by polling.
    pub fn has_notices(&self) -> bool {
        self.watch.is_some()
    }

    /// The next commit, waiting for it as long as it takes (or until cancelled).
    ///
    /// # Errors
    /// A damaged commit, a gap, an I/O error, or [`Error::Cancelled`](crate::Error::Cancelled).
    pub fn next_commit(&mut self) -> Result<Commit> {
        loop {
            if let Some(commit) = self.next_timeout(Duration::from_secs(3600))? {
                return Ok(commit);
            }
            if self.is_cancelled() {
                return Err(Error::Cancelled);
            }
        }
    }

    /// The next commit, or `None` when none landed within `timeout` (or the subscription was
    /// cancelled).
    ///
    /// # Errors
    /// A damaged commit, a gap, an I/O error.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Commit>> {
        let deadline = Instant::now() + timeout;
        loop {
            // A commit in its grace period is read again at the next look, not waited for
            // here, so that the timeout and cancellation hold.
            if let Some(commit) = self.look(false, Some(deadline))? {
                return Ok(Some(commit));
            }
            let now = Instant::now();
            if now >= deadline || self.is_cancelled() {
                return Ok(None);
            }
            let wait = self.poll_interval.min(deadline - now);
            match &mut self.watch {
                Some(watch) => {
                    watch.wait(wait);
                }
                None => {
                    // The folder may have been created since: notices may be had now. (A
                    // backend that cannot notify says so once, not at every wait.)
                    if self.notices {
                        if let Ok(Some(watch)) = self.store.storage().watch() {
                            self.watch = Some(watch);
                            continue;
                        }
                    }
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// The next commit if it exists now. One that may be a write in progress is waited for
    /// until it decodes or its grace period ([`IN_PROGRESS_GRACE`](crate::IN_PROGRESS_GRACE))
    /// has passed.
    ///
    /// # Errors
    /// A damaged commit, a gap, an I/O error.
    pub fn try_next(&mut self) -> Result<Option<Commit>> {
        self.look(true, None)
    }

    /// The next commit to deliver if it exists now: one found through the index, or else one
    /// read in order. It gives up (`None`) at the log's end, and, given a `deadline` (a waiting
    /// call), once the deadline has passed or the subscription was cancelled.
    fn look(&mut self, patient: bool, deadline: Option<Instant>) -> Result<Option<Commit>> {
        let Some(mut commit) = self.look_stored(patient, deadline)? else {
            return Ok(None);
        };
        if self.upcast {
            if let Err(e) = self.store.upcast(&mut commit) {
                self.failed = true;
                return Err(e);
            }
        }
        Ok(Some(commit))
    }

    /// As [`look`](Self::look), without the store's upcasters.
    fn look_stored(&mut self, patient: bool, deadline: Option<Instant>) -> Result<Option<Commit>> {
        loop {
            if let Some(commit) = self.found.pop_front() {
                self.next = if self.found.is_empty() {
                    self.checked + 1
                } else {
                    commit.number() + 1
                };
                return Ok(Some(commit));
            }
            if !self.step_through_index()? {
                return self.read_next(patient, deadline);
            }
            if self.should_stop(deadline) {
                return Ok(None);
            }
        }
    }

    /// Checks the next stretch of the log through the index, when the subscription has a
    /// query, the index reaches its position, and the log goes on well past it: the matching
    /// commits are kept to deliver, the others passed over. Returns whether it did.
    fn step_through_index(&mut self) -> Result<bool> {
        let Some(query) = &self.query else {
            return Ok(false);
        };
        let after = self.next - 1;
        if after < self.read_through {
            return Ok(false);
        }
        let end = self.store.tip()?;
        // Filling the index up to the subscription's position would cost more reads than
        // reading on from it: then it reads on.
        if end <= after.saturating_add(READ_AT_END) || self.store.indexed_through() < after {
            return Ok(false);
        }
        let through = (end - READ_AT_END).min(after.saturating_add(INDEX_STEP));
        match self.store.commits_matching(query, after, through) {
            Ok(commits) => {
                self.found.extend(commits);
                self.checked = through;
                if self.found.is_empty() {
                    self.next = through + 1;
                }
                Ok(true)
            }
            // Read these commits one by one: that reports the problem (a damaged or missing
            // commit, a failing backend) as it is reported without a query.
            Err(_) => {
                self.read_through = through;
                Ok(false)
            }
        }
    }

    /// The next commit if it exists now; one that may be a write in progress is waited for
    /// when `patient`, and otherwise taken as not there yet (until its grace period has
    /// passed: then it is reported). Commits that do not match are passed over until the end,
    /// or until [`should_stop`](Self::should_stop).
    fn read_next(&mut self, patient: bool, deadline: Option<Instant>) -> Result<Option<Commit>> {
        let grace = std::mem::take(&mut self.grace);
        let mut commits = self
            .store
            .replay()
            .stored()
            .from(self.next)
            .commits()
            .with_grace(grace, patient);
        let found = loop {
            match commits.next() {
                Some(Ok(commit)) => {
                    self.next = commit.number() + 1;
                    let wanted = self.query.as_ref().is_none_or(|query| {
                        commit.events().iter().any(|event| query.matches(event))
                    });
                    if wanted {
                        break Ok(Some(commit));
                    }
                    if self.should_stop(deadline) {
                        break Ok(None);
                    }
                }
                Some(Err(e)) => {
                    self.failed = true;
                    break Err(e);
                }
                None => break Ok(None),
            }
        };
        self.grace = commits.take_grace();
        found
    }

    /// Whether a waiting call (one with a `deadline`) should stop looking: the deadline has
    /// passed, or the subscription was cancelled.
    fn should_stop(&self, deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|deadline| Instant::now() >= deadline || self.is_cancelled())
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Acquire))
    }
}

impl Iterator for Subscription {
    type Item = Result<Commit>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            match self.next_timeout(Duration::from_secs(3600)) {
                Ok(Some(commit)) => return Some(Ok(commit)),
                Ok(None) if self.is_cancelled() => return None,
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
