//! The raw scan: a store's commits as stored, each with its bytes and what they decode to,
//! going on past damage, gaps and unreadable entries (for verifying, counting, copying and
//! printing a store, which must see every commit, sound or not).

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Bound, RangeBounds};

use crate::error::{Error, Result};
use crate::format::{decode_commit, Commit};
use crate::replay::Grace;
use crate::store::Store;

/// How many commits a scan asks the backend for at once (a journal reads them in one go).
const BATCH: usize = 64;

/// A commit's stored bytes and what they hold; part of a [`Scanned`].
#[derive(Debug)]
pub struct RawCommit {
    /// The commit's number.
    pub number: u64,
    /// The document, byte for byte, as stored.
    pub bytes: Vec<u8>,
    /// The decoded commit, or why it cannot be decoded: [`Error::CorruptCommit`] for damage
    /// (after the grace period of a write in progress, see
    /// [`IN_PROGRESS_GRACE`](crate::IN_PROGRESS_GRACE)), or the error of reading it again
    /// while waiting.
    pub commit: Result<Commit>,
}

/// What a raw scan ([`Store::raw_commits`], [`Store::raw_commits_at`]) found, in the order of
/// the commit numbers.
#[derive(Debug)]
pub enum Scanned {
    /// A commit whose bytes were read, sound or not.
    Commit(RawCommit),
    /// The backend could not read commit `number`.
    Unreadable {
        /// The commit's number.
        number: u64,
        /// Why it could not be read.
        error: Error,
        /// Its stored bytes, when the backend knows them to be damaged but still has them (a
        /// journal record whose checksum does not match: see
        /// [`Storage::read_commit_raw`](crate::Storage::read_commit_raw)).
        bytes: Option<Vec<u8>>,
    },
    /// Commits `first` to `next - 1` are absent, though commit `next` was listed (only from
    /// [`Store::raw_commits_at`]); commit `next` follows.
    Gap {
        /// The first absent commit.
        first: u64,
        /// The commit listed after the gap.
        next: u64,
    },
    /// There is no commit `number`: it was listed and has gone since, or (in a range) it is
    /// missing or beyond the end of the log.
    Absent {
        /// The commit's number.
        number: u64,
    },
}

/// An iterator over a store's commits as stored, in increasing order: [`Scanned`] items,
/// going on past every problem. Made by [`Store::raw_commits`] and [`Store::raw_commits_at`].
///
/// Commits are read in batches of consecutive numbers (one read of a journal segment) and
/// decoded on the calling thread. A commit that another program may still be writing in place
/// is waited for, within one grace period for the whole scan (see
/// [`IN_PROGRESS_GRACE`](crate::IN_PROGRESS_GRACE)).
#[must_use = "iterators do nothing unless consumed"]
pub struct RawCommits<'s> {
    store: &'s Store,
    numbers: Box<dyn Iterator<Item = u64> + 's>,
    /// The number after the last one scanned: a later number opens a gap.
    expected: u64,
    /// A number taken from `numbers` and held back while its gap is yielded.
    held: Option<u64>,
    /// Bytes read ahead, of the commits from `ahead_first` on.
    ahead: VecDeque<Vec<u8>>,
    ahead_first: u64,
    /// Commits before this number are read one by one (a batch met an error there).
    alone_until: u64,
    grace: Grace,
}

impl fmt::Debug for RawCommits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawCommits")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Reads every commit in `range` as stored, one [`Scanned`] item per number: its bytes and
    /// what they decode to, or why it cannot be read, or [`Scanned::Absent`]. It goes on past
    /// every problem. A range without an end ends at the log's last commit, as
    /// [`Store::tip`] finds it when the scan starts.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Scanned, Store};
    ///
    /// let store = Store::memory();
    /// store.log(&Event::new("first"))?;
    /// store.storage().create_commit(2, b"{\"events\": [")?.expect("a new commit");
    /// let found: Vec<String> = store
    ///     .raw_commits(1..=3)?
    ///     .map(|scanned| match scanned {
    ///         Scanned::Commit(raw) if raw.commit.is_ok() => format!("{} sound", raw.number),
    ///         Scanned::Commit(raw) => format!("{} damaged, {} bytes", raw.number, raw.bytes.len()),
    ///         Scanned::Absent { number } => format!("{number} absent"),
    ///         other => format!("{other:?}"),
    ///     })
    ///     .collect();
    /// assert_eq!(found, ["1 sound", "2 damaged, 12 bytes", "3 absent"]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// For a range without an end, when the log's end cannot be found.
    pub fn raw_commits(&self, range: impl RangeBounds<u64>) -> Result<RawCommits<'_>> {
        let first = match range.start_bound() {
            Bound::Included(&n) => n.max(1),
            Bound::Excluded(&n) => n.saturating_add(1),
            Bound::Unbounded => 1,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => Some(n),
            Bound::Excluded(&n) => n.checked_sub(1),
            Bound::Unbounded => Some(self.tip()?),
        };
        // `first` is at least 1, so a range that ends before 1 is empty; none goes past the
        // largest commit number (backends are never asked beyond it).
        let end = end.unwrap_or(0).min(crate::storage::MAX_COMMIT_NUMBER);
        Ok(RawCommits::new(self, first, first..=end))
    }

    /// Reads the commits numbered `numbers` (increasing: the commits a listing found, say) as
    /// stored, as [`Store::raw_commits`] does. The numbers `numbers` skips, from the log's
    /// start on (1, or, without the archive, the first commit after those archived), are reported as
    /// [`Scanned::Gap`]s, each before the commit that follows it.
    pub fn raw_commits_at<'s>(
        &'s self,
        numbers: impl IntoIterator<Item = u64> + 's,
    ) -> RawCommits<'s> {
        // An unreadable marker fails the listing that gives `numbers` first. With the archive,
        // the archived commits are read too.
        let first = if self.archived().has_archive() {
            1
        } else {
            self.log_start().unwrap_or(1)
        };
        RawCommits::new(self, first, numbers)
    }
}

impl<'s> RawCommits<'s> {
    fn new(
        store: &'s Store,
        expected: u64,
        numbers: impl IntoIterator<Item = u64> + 's,
    ) -> RawCommits<'s> {
        RawCommits {
            store,
            numbers: Box::new(numbers.into_iter()),
            expected,
            held: None,
            ahead: VecDeque::new(),
            ahead_first: 0,
            alone_until: 0,
            grace: Grace::default(),
        }
    }

    /// The stored bytes of commit `number`, from the batch read ahead when it holds them.
    fn read(&mut self, number: u64) -> Result<Option<Vec<u8>>> {
        let storage = self.store.storage();
        if number >= self.alone_until {
            while self.ahead_first < number && !self.ahead.is_empty() {
                self.ahead.pop_front();
                self.ahead_first += 1;
            }
            if self.ahead_first != number || self.ahead.is_empty() {
                let max = BATCH.min(self.numbers.size_hint().0.saturating_add(1));
                match storage.read_commits(number, max) {
                    Ok(batch) => {
                        self.ahead = batch.into();
                        self.ahead_first = number;
                    }
                    // Read one by one near the error, which tells each commit's own outcome.
                    Err(_) => {
                        self.ahead.clear();
                        self.alone_until = number.saturating_add(BATCH as u64);
                    }
                }
            }
            if self.ahead_first == number {
                if let Some(bytes) = self.ahead.pop_front() {
                    self.ahead_first += 1;
                    return Ok(Some(bytes));
                }
            }
        }
        storage.read_commit(number)
    }

    /// Reads and decodes commit `number`.
    fn scan(&mut self, number: u64) -> Scanned {
        let storage = self.store.storage();
        let bytes = match self.read(number) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Scanned::Absent { number },
            // A backend that knows the commit to be damaged may still have its bytes.
            Err(error @ Error::CorruptCommit { .. }) => {
                let bytes = storage.read_commit_raw(number).ok().flatten();
                return Scanned::Unreadable {
                    number,
                    error,
                    bytes,
                };
            }
            Err(error) => {
                return Scanned::Unreadable {
                    number,
                    error,
                    bytes: None,
                }
            }
        };
        if let Ok(commit) = decode_commit(number, &bytes) {
            return Scanned::Commit(RawCommit {
                number,
                bytes,
                commit: Ok(commit),
            });
        }
        // It may be a write in progress: wait for it, then take the bytes it ended with.
        match self
            .store
            .decode_patiently(number, bytes.clone(), &mut self.grace)
        {
            Ok(commit) => match storage.read_commit(number) {
                Ok(Some(bytes)) => Scanned::Commit(RawCommit {
                    number,
                    bytes,
                    commit: Ok(commit),
                }),
                Ok(None) => Scanned::Absent { number },
                Err(error) => Scanned::Unreadable {
                    number,
                    error,
                    bytes: None,
                },
            },
            Err(error) => Scanned::Commit(RawCommit {
                number,
                bytes,
                commit: Err(error),
            }),
        }
    }
}

impl Iterator for RawCommits<'_> {
    type Item = Scanned;

    fn next(&mut self) -> Option<Scanned> {
        let number = match self.held.take() {
            Some(number) => number,
            None => {
                let number = self.numbers.next()?;
                if number > self.expected {
                    let first = std::mem::replace(&mut self.expected, number);
                    self.held = Some(number);
                    return Some(Scanned::Gap {
                        first,
                        next: number,
                    });
                }
                number
            }
        };
        self.expected = number.saturating_add(1);
        Some(self.scan(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::storage::{JournalStorage, MemoryStorage, Storage};

    fn summary(scan: RawCommits<'_>) -> Vec<String> {
        scan.map(|scanned| match scanned {
            Scanned::Commit(RawCommit {
                number,
                bytes,
                commit: Ok(commit),
            }) => {
                assert_eq!(commit.number(), number);
                format!("{number} sound {}", bytes.len())
            }
            Scanned::Commit(RawCommit {
                number,
                bytes,
                commit: Err(Error::CorruptCommit { commit, .. }),
            }) => {
                assert_eq!(commit, number);
                format!("{number} damaged {}", String::from_utf8_lossy(&bytes))
            }
            Scanned::Gap { first, next } => format!("gap {first}..{next}"),
            Scanned::Absent { number } => format!("{number} absent"),
            other => format!("{other:?}"),
        })
        .collect()
    }

    #[test]
    fn a_scan_goes_on_past_damage_and_gaps_and_reports_each() {
        let storage = MemoryStorage::new();
        let store = Store::with_storage(storage.clone());
        store.log(&Event::new("a")).unwrap();
        let one = storage.read_commit(1).unwrap().unwrap().len();
        assert!(storage.create_commit(2, b"not json").unwrap().is_ok());
        store.log(&Event::new("c")).unwrap();
        assert!(storage
            .create_commit(6, &storage.read_commit(1).unwrap().unwrap())
            .unwrap()
            .is_ok());
        let listed = storage.list().unwrap().commits;
        assert_eq!(listed, [1, 2, 3, 6]);
        assert_eq!(
            summary(store.raw_commits_at(listed)),
            [
                format!("1 sound {one}"),
                "2 damaged not json".to_owned(),
                format!("3 sound {one}"),
                "gap 4..6".to_owned(),
                format!("6 sound {one}"),
            ]
        );
        // A range names every number in it; an open one ends at the log's end as the store
        // finds it (commit 6 lies beyond a gap, which only a listing sees).
        assert_eq!(
            summary(store.raw_commits(3..=6).unwrap()),
            [
                format!("3 sound {one}"),
                "4 absent".into(),
                "5 absent".into(),
                format!("6 sound {one}")
            ]
        );
        assert_eq!(
            summary(store.raw_commits(3..).unwrap()),
            [format!("3 sound {one}")]
        );
        assert_eq!(summary(store.raw_commits(7..=7).unwrap()), ["7 absent"]);
        assert!(store.raw_commits(..1).unwrap().next().is_none());
        // Numbers listed from a later commit on start with the gap before them.
        assert_eq!(
            summary(store.raw_commits_at([3])),
            ["gap 1..3".to_owned(), format!("3 sound {one}")]
        );
    }

    /// A journal record whose checksum does not match cannot be read, but its bytes are
    /// still given, for copying as they are; the scan reads on after it.
    #[test]
    fn a_damaged_journal_record_comes_with_its_stored_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::with_storage(JournalStorage::new(dir.path()));
        store.ensure_folder().unwrap();
        for name in ["a", "b", "c"] {
            store.log(&Event::new(name)).unwrap();
        }
        let sound: Vec<Vec<u8>> = (1..=3)
            .map(|n| store.storage().read_commit(n).unwrap().unwrap())
            .collect();
        let segment = std::fs::read_dir(dir.path().join("journal"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|e| e == "jsonl"))
            .expect("a segment");
        let mut bytes = std::fs::read(&segment).unwrap();
        let at = bytes
            .windows(3)
            .position(|w| w == b"\"b\"")
            .expect("event b in the segment");
        bytes[at + 1] = b'x';
        std::fs::write(&segment, bytes).unwrap();
        let found: Vec<Scanned> = store.raw_commits(1..=3).unwrap().collect();
        assert!(
            matches!(&found[0], Scanned::Commit(raw) if raw.bytes == sound[0] && raw.commit.is_ok())
        );
        match &found[1] {
            Scanned::Unreadable {
                number: 2,
                error: Error::CorruptCommit { commit: 2, .. },
                bytes: Some(bytes),
            } => assert_eq!(bytes.len(), sound[1].len()),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&found[2], Scanned::Commit(raw) if raw.bytes == sound[2] && raw.commit.is_ok())
        );
    }
}
