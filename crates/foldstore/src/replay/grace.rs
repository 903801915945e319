//! The grace period of a commit that may be a write in progress, and decoding within it.

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};
use crate::format::{decode_commit, Commit};
use crate::storage::Storage;
use crate::store::Store;

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
enum Judged {
    /// They decode.
    Sound(Commit),
    /// They do not decode (for the reason given), but may be a write in progress whose grace
    /// period runs: read them again a little later.
    Pending(String),
}

impl Grace {
    /// Decodes commit `number` from `bytes`, or says that it may still be being written, or
    /// that it is damaged ([`Error::CorruptCommit`]).
    fn judge(&mut self, storage: &dyn Storage, number: u64, bytes: &[u8]) -> Result<Judged> {
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
