//! Consistency boundaries: reading the events a decision depends on ([`Store::events_matching`]),
//! appending on the condition that none of them changed since ([`Store::append_if`]), and
//! appending exactly once per key ([`Store::append_once`]).
//!
//! A conditional append checks the commits after the caller's position up to the log's end as
//! the store knows it, then hands the append to the backend with a check made from the query
//! ([`Storage::append_commit_if`]): the backend checks the commits other writers made since,
//! atomically with creating the commit. Its default needs only exclusive creation, so it holds
//! on every backend: when another writer takes the number first, only the commit that won is
//! checked, and if it does not match, the next number is tried, without asking the caller
//! again. A commit created at number k was thus checked against every commit below k, across
//! threads, processes and machines. The journal checks the conditional appends of a batch
//! under its lock, so that they share its write and sync.
//!
//! Reads go through the store's event index (`store::index`): restored from the copy the
//! backend saved when that copy is whole and still ends at a commit of this log, else filled
//! from the log on first use (one read of the whole log, per process); extended as the log
//! grows, and saved again as it grows. It only narrows which commits are read, and every
//! candidate is read and checked.
//!
//! [`Storage::append_commit_if`]: crate::storage::Storage::append_commit_if

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::forget::refuse_lookalikes;
use crate::format::{decode_commit, encode_commit, Commit};
use crate::query::Query;
use crate::storage::{CommitCheck, Conflict};
use crate::store::{Postings, Store, SAVED_NAME};
use crate::upcast::upcast_error;

/// Ranges up to this many commits are checked by reading them, without the index.
const SCAN_WITHOUT_INDEX: u64 = 256;

/// The index is saved again once it covers this many commits more than the saved copy.
const SAVE_AFTER: u64 = 4096;

/// The prefix of the tag that carries an idempotency key (see [`Store::append_once`]).
pub const IDEMPOTENCY_TAG_PREFIX: &str = "idempotency:";

/// An event that matched a query, with where it was committed.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchedEvent {
    /// The number of the commit that holds it.
    pub commit: u64,
    /// Its position among the commit's events, from 0.
    pub index: usize,
    /// The commit's headers.
    pub headers: Headers,
    /// The event.
    pub event: Event,
}

/// The condition of [`Store::append_if`]: no event matching `query` was committed after
/// `after` (`None`: none at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendCondition {
    /// The events the decision depends on.
    pub query: Query,
    /// The position the decision was made at: the last commit its caller read (`None`: the
    /// condition holds only if no matching event exists at all, which guards uniqueness).
    pub after: Option<u64>,
}

impl AppendCondition {
    /// No event matching `query` may exist at all.
    pub fn none_matching(query: Query) -> Self {
        AppendCondition { query, after: None }
    }

    /// No event matching `query` may have been committed after commit `position`.
    pub fn none_matching_after(query: Query, position: u64) -> Self {
        AppendCondition {
            query,
            after: Some(position),
        }
    }
}

/// Why [`Store::append_if`] wrote nothing: commits holding events that match the condition's
/// query were made after its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionFailed {
    /// The commits (in increasing order) that hold a matching event.
    pub conflicts: Vec<u64>,
}

impl fmt::Display for ConditionFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the condition failed: commits {:?} hold events that match its query",
            self.conflicts
        )
    }
}

impl std::error::Error for ConditionFailed {}

/// What [`Store::append_once`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The commit that holds the key: the one just written, or the one written before.
    pub commit: u64,
    /// Whether this call wrote it (`false`: the key was in the store already).
    pub written: bool,
}

impl Store {
    /// The events matching `query` committed after commit `after`, in order, with their commit
    /// numbers and headers.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Query, Store};
    ///
    /// let store = Store::memory();
    /// store.log(&Event::new("opened").tagged(["account:7"]))?;
    /// store.log(&Event::new("opened").tagged(["account:8"]))?;
    /// store.log(&Event::new("deposited").tagged(["account:7"]))?;
    /// let events = store.events_matching(&Query::tag("account:7"), 0)?;
    /// let commits: Vec<u64> = events.iter().map(|e| e.commit).collect();
    /// assert_eq!(commits, [1, 3]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// When a commit that may match cannot be read (damage is reported, never skipped: whether
    /// it matched cannot be known).
    pub fn events_matching(&self, query: &Query, after: u64) -> Result<Vec<MatchedEvent>> {
        self.events_matching_upcast(query, after, None)
    }

    /// As [`events_matching`](Self::events_matching), reading no further than the commit in
    /// which the events found reach `limit`: whole commits, so that the next call can start
    /// after the last commit returned and skip nothing. What a page of results reads.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Query, Store};
    ///
    /// let store = Store::memory();
    /// for _ in 0..5 {
    ///     let opened = Event::new("opened").tagged(["account:7"]);
    ///     store.log_block(|block| {
    ///         block.log(&opened)?;
    ///         block.log(&opened)?;
    ///         block.mark_as_complete();
    ///         Ok::<_, foldstore::Error>(())
    ///     })?;
    /// }
    /// let page = store.events_matching_limited(&Query::tag("account:7"), 0, 3)?;
    /// let commits: Vec<u64> = page.iter().map(|e| e.commit).collect();
    /// assert_eq!(commits, [1, 1, 2, 2]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`events_matching`](Self::events_matching).
    pub fn events_matching_limited(
        &self,
        query: &Query,
        after: u64,
        limit: usize,
    ) -> Result<Vec<MatchedEvent>> {
        self.events_matching_upcast(query, after, Some(limit))
    }

    fn events_matching_upcast(
        &self,
        query: &Query,
        after: u64,
        limit: Option<usize>,
    ) -> Result<Vec<MatchedEvent>> {
        let mut found = self.events_matching_within(query, after, limit)?;
        let upcasters = self.upcasters();
        if !upcasters.is_empty() {
            for matched in &mut found {
                match upcasters.run(&matched.event, |_| {}) {
                    Ok(Some(newest)) => matched.event = newest,
                    Ok(None) => {}
                    Err(e) => {
                        let location = self.storage().commit_location(matched.commit);
                        let name = matched.event.name().to_owned();
                        return Err(upcast_error(
                            e,
                            matched.commit,
                            location,
                            matched.index,
                            &name,
                        ));
                    }
                }
            }
        }
        Ok(found)
    }

    /// As [`events_matching`](Self::events_matching), without the store's upcasters.
    pub(crate) fn events_matching_stored(
        &self,
        query: &Query,
        after: u64,
    ) -> Result<Vec<MatchedEvent>> {
        self.events_matching_within(query, after, None)
    }

    /// The events matching `query` after commit `after`, without the store's upcasters,
    /// stopping after the commit in which they reach `limit`.
    fn events_matching_within(
        &self,
        query: &Query,
        after: u64,
        limit: Option<usize>,
    ) -> Result<Vec<MatchedEvent>> {
        let through = self.tip()?;
        let mut found = Vec::new();
        self.scan_matching(query, after, through, |commit| {
            for (index, event) in commit.events().iter().enumerate() {
                if query.matches(event) {
                    found.push(MatchedEvent {
                        commit: commit.number(),
                        index,
                        headers: commit.headers().clone(),
                        event: event.clone(),
                    });
                }
            }
            limit.is_none_or(|limit| found.len() < limit)
        })?;
        Ok(found)
    }

    /// Appends `events` as one commit, on the condition that no event matching the condition's
    /// query was committed after its position, atomically on every backend. Returns the new
    /// commit's number, or the commits that broke the condition (nothing written).
    ///
    /// Per-stream expected versions are the special case of one tag: "append to `account:7`
    /// expecting version 5" is `append_if(events, &AppendCondition::none_matching_after(
    /// Query::tag("account:7"), 5))`, where 5 is the last commit read of that stream.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{AppendCondition, Event, Query, Store};
    ///
    /// let store = Store::memory();
    /// let account_7 = Query::tag("account:7");
    /// let read_at = store.tip()?; // decide on what account 7 holds now...
    /// let deposit = [Event::new("deposited").tagged(["account:7"])];
    /// let condition = AppendCondition::none_matching_after(account_7.clone(), read_at);
    /// // Another account's commit does not get in the way.
    /// store.log(&Event::new("deposited").tagged(["account:8"]))?;
    /// assert_eq!(store.append_if(&deposit, &condition)?, Ok(2));
    /// // The same decision again, from the same position, conflicts with the first.
    /// let failed = store.append_if(&deposit, &condition)?.unwrap_err();
    /// assert_eq!(failed.conflicts, [2]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Store::log`]; and when a commit that may match cannot be read.
    pub fn append_if(
        &self,
        events: &[Event],
        condition: &AppendCondition,
    ) -> Result<std::result::Result<u64, ConditionFailed>> {
        self.append_if_with(&self.make_headers(), events, condition)
    }

    /// [`Store::append_if`] with the commit's `headers` given (made by `make_headers`).
    pub(crate) fn append_if_with(
        &self,
        headers: &Headers,
        events: &[Event],
        condition: &AppendCondition,
    ) -> Result<std::result::Result<u64, ConditionFailed>> {
        if events.is_empty() {
            return Err(Error::InvalidEvent {
                problem: "a conditional append needs at least one event".into(),
            });
        }
        // Refused before the log is read, as the write would refuse it: data that would not
        // read back as written (encoded here as written in the clear; sealing checks the same
        // of the data it seals).
        refuse_lookalikes(self.keyring(), events)?;
        encode_commit(headers, events)?;
        let query = &condition.query;
        let checked = condition.after.unwrap_or(0);
        // The log's end as far as this store knows: the commits up to it are checked here,
        // through the index; those that other writers add before the new commit's number,
        // by the backend, atomically with creating it.
        let tip = self.append_position()? - 1;
        if tip > checked {
            let conflicts = self.matching_commits(query, checked, tip)?;
            if !conflicts.is_empty() {
                return Ok(Err(self.all_conflicts(query, conflicts, tip)?));
            }
        }
        // The commits up to the caller's position are not its concern (it may know more of
        // the log than this store).
        let check: Arc<CommitCheck> = {
            let query = query.clone();
            Arc::new(move |number, bytes| {
                if number <= checked {
                    return Ok(false);
                }
                let commit = decode_commit(number, bytes)?;
                Ok(commit.events().iter().any(|event| query.matches(event)))
            })
        };
        match self.commit_if(tip + 1, check, headers, events)? {
            Ok(number) => Ok(Ok(number)),
            Err(Conflict { commit }) => {
                let mut conflicts = self.matching_commits(query, checked, commit - 1)?;
                conflicts.push(commit);
                Ok(Err(self.all_conflicts(query, conflicts, commit)?))
            }
        }
    }

    /// The conflicts found up to `through`, and every later commit holding a matching event
    /// (also those this store had not seen yet).
    fn all_conflicts(
        &self,
        query: &Query,
        mut conflicts: Vec<u64>,
        through: u64,
    ) -> Result<ConditionFailed> {
        let end = self.tip()?;
        conflicts.extend(self.matching_commits(query, through, end)?);
        Ok(ConditionFailed { conflicts })
    }

    /// Appends `events` as one commit unless a commit with idempotency key `key` is in the store
    /// already, across processes and restarts, on every backend: the first event carries the tag
    /// `idempotency:<key>`, and the append is conditional on no event carrying it.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Store};
    ///
    /// let store = Store::memory();
    /// let paid = [Event::new("invoicePaid").tagged(["invoice:17"])];
    /// let first = store.append_once("payment-8f2c", &paid)?;
    /// let again = store.append_once("payment-8f2c", &paid)?;
    /// assert!(first.written && !again.written);
    /// assert_eq!((first.commit, again.commit, store.tip()?), (1, 1, 1));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidEvent`](crate::Error::InvalidEvent) when `events` is empty; as
    /// [`Store::append_if`].
    pub fn append_once(&self, key: &str, events: &[Event]) -> Result<Appended> {
        let tag = format!("{IDEMPOTENCY_TAG_PREFIX}{key}");
        let Some((first, rest)) = events.split_first() else {
            return Err(Error::InvalidEvent {
                problem: "an idempotent append needs at least one event to carry its key".into(),
            });
        };
        let mut tagged = Vec::with_capacity(events.len());
        tagged.push(first.clone().tagged([tag.as_str()]));
        tagged.extend(rest.iter().cloned());
        let condition = AppendCondition::none_matching(Query::tag(tag));
        Ok(match self.append_if(&tagged, &condition)? {
            Ok(commit) => Appended {
                commit,
                written: true,
            },
            Err(failed) => Appended {
                commit: failed.conflicts[0],
                written: false,
            },
        })
    }

    /// The commits in `after + 1..=through` that hold an event matching `query`, in order.
    fn matching_commits(&self, query: &Query, after: u64, through: u64) -> Result<Vec<u64>> {
        let mut matching = Vec::new();
        self.scan_matching(query, after, through, |commit| {
            matching.push(commit.number());
            true
        })?;
        Ok(matching)
    }

    /// Calls `found` with each commit in `after + 1..=through` that holds an event matching
    /// `query`, in order, reading each candidate once, until `found` returns `false`.
    fn scan_matching(
        &self,
        query: &Query,
        after: u64,
        through: u64,
        mut found: impl FnMut(&Commit) -> bool,
    ) -> Result<()> {
        if through <= after || query.items().is_empty() {
            return Ok(());
        }
        let mut postings = self.event_index().lock();
        if !postings.restored {
            self.restore_index(&mut postings);
        }
        if postings.through() > through && !self.storage().commit_exists(postings.through())? {
            // The log is shorter than what was indexed: a repair moved its end aside. (A caller
            // that knows less of the log than the index does is no reason to forget it.)
            postings.clear();
        }
        let start = self.log_start()?;
        if postings.through() + 1 < start && !self.archived().has_archive() {
            // An archived log without its archive: indexed from its start.
            *postings = Postings::starting_at(start);
        }
        if postings.from > after + 1 {
            return Err(self.archived().archived_error(after + 1));
        }
        let indexed = postings.through();
        // Commits read to extend the index that match: not read a second time below.
        let mut fresh = Vec::new();
        let candidates: Vec<u64> = if indexed < after && through - after <= SCAN_WITHOUT_INDEX {
            (after + 1..=through).collect()
        } else {
            for commit in self.commits_stored(indexed + 1..=through) {
                let commit = commit?;
                postings.add(commit.number(), commit.events());
                if commit.number() > after && commit.events().iter().any(|e| query.matches(e)) {
                    fresh.push(commit);
                }
            }
            postings
                .candidates(query, after)
                .into_iter()
                .take_while(|&n| n <= indexed.min(through))
                .collect()
        };
        if postings.through() >= postings.saved + SAVE_AFTER {
            self.save_index(&mut postings);
        }
        drop(postings);
        for number in candidates {
            let commit = self.read_commit_stored(number)?;
            if commit.events().iter().any(|event| query.matches(event)) && !found(&commit) {
                return Ok(());
            }
        }
        // Every fresh commit follows every candidate: the order is the log's.
        for commit in &fresh {
            if !found(commit) {
                break;
            }
        }
        Ok(())
    }

    /// The commits in `after + 1..=through` that hold an event matching `query`, in order,
    /// read through the index (the commits between them are not read, once indexed).
    pub(crate) fn commits_matching(
        &self,
        query: &Query,
        after: u64,
        through: u64,
    ) -> Result<Vec<Commit>> {
        let mut commits = Vec::new();
        self.scan_matching(query, after, through, |commit| {
            commits.push(commit.clone());
            true
        })?;
        Ok(commits)
    }

    /// The last commit the event index covers, after restoring the copy the backend saved if
    /// this store has not looked for it yet.
    pub(crate) fn indexed_through(&self) -> u64 {
        let mut postings = self.event_index().lock();
        if !postings.restored {
            self.restore_index(&mut postings);
        }
        postings.through()
    }

    /// Takes the index the backend saved, when it decodes whole and its last commit is still
    /// the log's (the same stored bytes); otherwise the index is built from the log.
    fn restore_index(&self, postings: &mut Postings) {
        postings.restored = true;
        let storage = self.storage();
        let saved = match storage.read_derived(SAVED_NAME) {
            Ok(Some(saved)) => saved,
            Ok(None) => return,
            Err(e) => {
                tracing::info!(error = %e, "the saved event index cannot be read; it is built from the log");
                return;
            }
        };
        let Some((restored, end_check)) = Postings::decode(&saved) else {
            tracing::info!(
                "the saved event index is damaged or of another version; it is built from the log"
            );
            return;
        };
        match storage.read_commit(restored.through()) {
            Ok(Some(bytes)) if crc32fast::hash(&bytes) == end_check => {
                tracing::debug!(through = restored.through(), "event index restored");
                *postings = restored;
            }
            _ => tracing::info!(
                through = restored.through(),
                "the saved event index does not end at a commit of this log (the log was repaired or replaced); it is built from the log"
            ),
        }
    }

    /// Saves the index through the backend, for the next process; a failure only means the
    /// next process builds it from the log (it is not tried again before the index grows).
    fn save_index(&self, postings: &mut Postings) {
        let through = postings.through();
        postings.saved = through;
        if postings.from > 1 {
            return;
        }
        let storage = self.storage();
        let saved = match storage.read_commit(through) {
            Ok(Some(bytes)) => postings.encode(crc32fast::hash(&bytes)),
            _ => return,
        };
        match storage.write_derived(SAVED_NAME, &saved) {
            Ok(()) => tracing::debug!(through, bytes = saved.len(), "event index saved"),
            Err(e) => {
                tracing::info!(error = %e, "the event index could not be saved; the next process builds it from the log")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(account: u64) -> Event {
        Event::new("deposited").tagged([format!("account:{account}")])
    }

    /// A caller that knows less of the log than the index (another thread noted a later end
    /// meanwhile) keeps the index; only a log that really became shorter empties it.
    #[test]
    fn the_index_is_kept_for_callers_behind_it_and_emptied_for_a_shorter_log() {
        let store = Store::memory();
        for i in 0..400 {
            store.log(&tagged(i % 4)).unwrap();
        }
        let query = Query::tag("account:1");
        assert_eq!(store.matching_commits(&query, 0, 400).unwrap().len(), 100);
        assert_eq!(store.event_index().lock().through(), 400);
        assert_eq!(
            store.matching_commits(&query, 0, 10).unwrap(),
            [2, 6, 10],
            "only the commits up to the caller's end"
        );
        assert_eq!(
            store.event_index().lock().through(),
            400,
            "the index was kept"
        );

        // Commit 400 gone (as a repair moves a damaged last commit aside): forgotten.
        let shorter = Store::memory();
        for i in 0..399 {
            shorter.log(&tagged(i % 4)).unwrap();
        }
        let mut postings = shorter.event_index().lock();
        postings.add(400, &[tagged(1)]);
        drop(postings);
        assert_eq!(
            shorter.matching_commits(&query, 390, 399).unwrap(),
            [394, 398]
        );
        assert_eq!(
            shorter.event_index().lock().through(),
            0,
            "emptied (and a short range is read without it)"
        );
    }
}
