//! Copying a whole store into another, byte for byte: resumable, never overwriting, between
//! any two backends and layouts ([`Store::copy_to`]).

use std::collections::BTreeSet;
use std::fmt;

use crate::error::{Error, Result};
use crate::format::Commit;
use crate::scan::{RawCommit, Scanned};
use crate::snapshot::Snapshot;
use crate::storage::{Conflict, NewCommit, COMMIT_ID_HEADER};
use crate::store::Store;

/// How [`Store::copy_to`] copies.
#[derive(Default)]
#[must_use]
pub struct CopyOptions<'a> {
    force: bool,
    progress: Option<Box<dyn FnMut(u64, u64) + 'a>>,
}

impl fmt::Debug for CopyOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyOptions")
            .field("force", &self.force)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl<'a> CopyOptions<'a> {
    /// The defaults: stop at damage, report no progress.
    pub fn new() -> CopyOptions<'a> {
        CopyOptions::default()
    }

    /// Copies damaged commits and snapshots too, byte for byte, as they are, and leaves gaps
    /// as gaps (they are listed in the [`CopyReport`]), instead of stopping at them.
    pub fn force(mut self, force: bool) -> CopyOptions<'a> {
        self.force = force;
        self
    }

    /// Calls `progress` after each commit and snapshot with (done, total): commits count by
    /// their numbers, up to the source's last one, then the snapshots.
    pub fn progress(mut self, progress: impl FnMut(u64, u64) + 'a) -> CopyOptions<'a> {
        self.progress = Some(Box::new(progress));
        self
    }
}

/// What [`Store::copy_to`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// The last commit of the source when the copy started (later ones are not copied).
    pub tip: u64,
    /// Commits written into the destination.
    pub commits_copied: u64,
    /// Commits the destination held already, with the same bytes.
    pub commits_present: u64,
    /// Snapshots written into the destination.
    pub snapshots_copied: u64,
    /// Snapshots the destination held already, with the same bytes.
    pub snapshots_present: u64,
    /// The bytes of the commits and snapshots written.
    pub bytes_copied: u64,
    /// With [`CopyOptions::force`]: commits missing from the source, left missing.
    pub gaps: Vec<u64>,
    /// With [`CopyOptions::force`]: where the damaged commits and snapshots copied as they
    /// are live in the source.
    pub damaged: Vec<String>,
}

/// Why [`Store::copy_to`] stopped. What it copied before stays in the destination: copying
/// again resumes there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// Reading the source or writing the destination failed.
    #[error(transparent)]
    Store(#[from] Error),
    /// A commit of the source is damaged or missing (without [`CopyOptions::force`], which
    /// the message calls by its name in `foldstore copy`, `--force`): the commits before it
    /// are in the destination.
    #[error("the copy stopped at commit {commit}: the commits before it are in the destination, nothing after it was copied (use --force to copy damaged files as they are)")]
    Stopped {
        /// The damaged or missing commit.
        commit: u64,
        /// What is wrong with it.
        #[source]
        source: Error,
    },
    /// The copy would overwrite or mix stores (the destination holds other bytes, or
    /// commits beyond the source's end, or is the source), or the source changed under it,
    /// or a snapshot of the source is damaged (without [`CopyOptions::force`]).
    #[error("{problem}")]
    Refused {
        /// What is wrong, and what to do.
        problem: String,
    },
}

fn refused(problem: String) -> CopyError {
    CopyError::Refused { problem }
}

impl Store {
    /// Copies every commit (1 to this store's last one) and then every snapshot of this store
    /// into `destination`, byte for byte, skipping those already there with the same bytes.
    ///
    /// It works between any two backends and layouts (it moves documents through the
    /// [`Storage`](crate::Storage) trait only), so it also converts a folder store from one
    /// layout to the other. It never overwrites: a commit or snapshot at the destination with
    /// other bytes, or commits there beyond this store's end, stop it. Each commit is checked
    /// before it is copied, so damage in this store stops the copy there, unless
    /// [`CopyOptions::force`]. A copy that stopped is resumed by running it again.
    ///
    /// For a large copy, open the destination with [`Durability::None`](crate::Durability):
    /// the copy makes the destination durable as a whole at the end
    /// ([`Storage::sync_all`](crate::Storage::sync_all)).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use foldstore::{CopyOptions, Event, Store};
    ///
    /// let source = Store::memory();
    /// source.log(&Event::new("first"))?;
    /// source.log(&Event::new("second"))?;
    /// let backup = Store::memory();
    /// let report = source.copy_to(&backup, CopyOptions::new())?;
    /// assert_eq!((report.tip, report.commits_copied), (2, 2));
    /// assert_eq!(backup.read_commit(2)?.events()[0].name(), "second");
    ///
    /// // Run again, it copies only what is new.
    /// source.log(&Event::new("third"))?;
    /// let report = source.copy_to(&backup, CopyOptions::new())?;
    /// assert_eq!((report.commits_present, report.commits_copied), (2, 1));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`CopyError::Stopped`] at a damaged or missing commit; [`CopyError::Refused`] for a
    /// destination that is this store's folder, holds other bytes for a commit or snapshot or
    /// commits beyond this store's end, for a damaged snapshot, and for a commit or snapshot
    /// that disappears while being copied; [`CopyError::Store`] when reading or writing fails.
    pub fn copy_to(
        &self,
        destination: &Store,
        options: CopyOptions<'_>,
    ) -> Result<CopyReport, CopyError> {
        self.copy_changing(destination, options, None)
    }

    /// As [`copy_to`](Self::copy_to), writing the bytes `change` makes of a commit instead of
    /// its own when it makes any (`Ok(None)`: the commit as it is); with a `change`, snapshots
    /// are not copied (they hold folds of the commits as they were). Resuming works as for a
    /// plain copy: a commit already in the destination must hold the bytes `change` makes.
    pub(crate) fn copy_changing(
        &self,
        destination: &Store,
        options: CopyOptions<'_>,
        change: Option<Change<'_>>,
    ) -> Result<CopyReport, CopyError> {
        if let (Some(from), Some(to)) = (self.path(), destination.path()) {
            if let (Ok(a), Ok(b)) = (from.canonicalize(), to.canonicalize()) {
                if a == b {
                    return Err(refused(format!(
                        "{} and {} are the same folder: nothing to copy",
                        from.display(),
                        to.display()
                    )));
                }
            }
        }
        let mut copying = Copying::new(self, destination, options);
        copying.change = change;
        let report = copying.run()?;
        destination.storage().sync_all()?;
        Ok(report)
    }
}

/// What a changing copy makes of a commit: other bytes, or `None` to copy it as it is.
pub(crate) type Change<'a> = Box<dyn FnMut(&Commit) -> Result<Option<Vec<u8>>, CopyError> + 'a>;

/// The most commits, and about the most bytes, read before they are written together.
const BATCH_COMMITS: usize = 1024;
const BATCH_BYTES: usize = 8 << 20;

/// Commits read and not yet written.
#[derive(Default)]
struct Batch {
    commits: Vec<Pending>,
    bytes: usize,
}

/// A commit read, to be written.
struct Pending {
    number: u64,
    bytes: Vec<u8>,
    /// It carries a commit id, which the destination is told (guarantee 7).
    identified: bool,
    /// The destination listed it before the copy began.
    there: bool,
    location: String,
}

/// One copy under way.
struct Copying<'a> {
    source: &'a Store,
    destination: &'a Store,
    options: CopyOptions<'a>,
    report: CopyReport,
    change: Option<Change<'a>>,
}

impl<'a> Copying<'a> {
    fn new(source: &'a Store, destination: &'a Store, options: CopyOptions<'a>) -> Self {
        Copying {
            source,
            destination,
            options,
            report: CopyReport::default(),
            change: None,
        }
    }

    fn run(mut self) -> Result<CopyReport, CopyError> {
        if self.source.log_start()? > 1 && !self.source.archived().has_archive() {
            // A copy holds the whole log: the archived commits are read through the archive.
            return Err(self.source.archived().archived_error(1).into());
        }
        let (from, to) = (self.source.storage(), self.destination.storage());
        let listing = from.list()?;
        let there = to.list()?;
        let tip = listing.commits.last().copied().unwrap_or(0);
        if let Some(&beyond) = there.commits.iter().find(|&&n| n > tip) {
            return Err(refused(format!(
                "{} exists, but the log of the store being copied ends at commit {tip}: the destination is not a copy of it (copy into an empty folder, or move the destination aside); nothing was copied",
                to.commit_location(beyond)
            )));
        }
        to.ensure_created()?;
        self.report.tip = tip;
        let snapshots = if self.change.is_some() {
            0
        } else {
            listing.snapshots.len() as u64
        };
        let total = tip + snapshots;
        let already: BTreeSet<u64> = there.commits.iter().copied().collect();
        let mut batch = Batch::default();
        // The commits read before a failure are written before it is returned.
        let read = self.copy_commits(&listing.commits, &already, tip, total, &mut batch);
        let written = self.flush(&mut batch, total);
        read?;
        written?;
        if self.change.is_some() {
            return Ok(self.report);
        }
        let snapshots_there: BTreeSet<&(String, u64)> = there.snapshots.iter().collect();
        for (done, key) in (tip + 1..).zip(&listing.snapshots) {
            let (name, commit) = (key.0.as_str(), key.1);
            let location = from.snapshot_location(name, commit);
            let Some(bytes) = from.read_snapshot(name, commit)? else {
                return Err(refused(format!(
                    "{location} disappeared while being copied"
                )));
            };
            let decoded = Snapshot::decode(name, commit, &bytes);
            let identified = decoded
                .as_ref()
                .is_ok_and(|snapshot| snapshot.headers.contains_key(COMMIT_ID_HEADER));
            let problem = match decoded {
                Err(e) => Some(format!("snapshot {location} {}", e.problem())),
                Ok(_) if commit > tip => Some(format!(
                    "snapshot {location} is labelled with commit {commit}, but the log ends at commit {tip}"
                )),
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                if !self.options.force {
                    return Err(refused(format!("{problem}; every commit is in the destination, and the snapshots listed before this one (use --force to copy damaged files as they are)")));
                }
                self.report.damaged.push(location.clone());
            }
            let copied = self.put(
                &bytes,
                snapshots_there.contains(key),
                || {
                    if identified {
                        to.create_identified_snapshot(name, commit, &bytes)
                    } else {
                        to.create_snapshot(name, commit, &bytes)
                    }
                },
                || to.read_snapshot(name, commit),
                &location,
                &to.snapshot_location(name, commit),
            )?;
            if copied {
                self.report.snapshots_copied += 1;
            } else {
                self.report.snapshots_present += 1;
            }
            self.progress(done, total);
        }
        Ok(self.report)
    }

    /// Reads the commits `numbers` of the source and hands them to [`flush`](Self::flush) in
    /// batches; stops at the first one it may not copy.
    fn copy_commits(
        &mut self,
        numbers: &[u64],
        already: &BTreeSet<u64>,
        tip: u64,
        total: u64,
        batch: &mut Batch,
    ) -> Result<(), CopyError> {
        let from = self.source.storage();
        for scanned in self.source.raw_commits_at(numbers.iter().copied()) {
            // `identified`: the commit carries a commit id, which the destination is told (guarantee 7).
            let (number, bytes, damage, identified) = match scanned {
                Scanned::Commit(RawCommit {
                    number,
                    bytes,
                    commit,
                }) => match commit {
                    Ok(commit) => {
                        let identified = commit.headers().contains_key(COMMIT_ID_HEADER);
                        let bytes = match &mut self.change {
                            Some(change) => change(&commit)?.unwrap_or(bytes),
                            None => bytes,
                        };
                        (number, bytes, None, identified)
                    }
                    Err(error) => (number, bytes, Some(error), false),
                },
                Scanned::Unreadable {
                    number,
                    error,
                    bytes: Some(bytes),
                } => (number, bytes, Some(error), false),
                Scanned::Unreadable { error, .. } => return Err(error.into()),
                Scanned::Gap { first, next } => {
                    if !self.options.force {
                        let source = Error::MissingCommit {
                            commit: first,
                            location: from.commit_location(first),
                            next: tip,
                        };
                        return Err(CopyError::Stopped {
                            commit: first,
                            source,
                        });
                    }
                    self.report.gaps.extend(first..next);
                    continue;
                }
                Scanned::Absent { number } => {
                    return Err(refused(format!(
                        "{} disappeared while being copied",
                        from.commit_location(number)
                    )))
                }
            };
            let location = from.commit_location(number);
            if let Some(source) = damage {
                if !self.options.force {
                    return Err(CopyError::Stopped {
                        commit: number,
                        source,
                    });
                }
                self.report.damaged.push(location.clone());
            }
            batch.bytes += bytes.len();
            batch.commits.push(Pending {
                number,
                bytes,
                identified,
                there: already.contains(&number),
                location,
            });
            if batch.commits.len() >= BATCH_COMMITS || batch.bytes >= BATCH_BYTES {
                self.flush(batch, total)?;
            }
        }
        Ok(())
    }

    /// Writes the commits of `batch` that the destination lacks, together (see
    /// [`Storage::create_commits`]), after checking that those it listed hold the same bytes:
    /// when one does not, only the commits before it are written.
    fn flush(&mut self, batch: &mut Batch, total: u64) -> Result<(), CopyError> {
        let to = self.destination.storage();
        let commits = std::mem::take(&mut batch.commits);
        batch.bytes = 0;
        let mut refusal = None;
        let mut end = commits.len();
        for (at, pending) in commits.iter().enumerate().filter(|(_, p)| p.there) {
            let taken = Err(Conflict {
                commit: pending.number,
            });
            if let Err(error) = self.put_commit(pending, taken) {
                (refusal, end) = (Some(error), at);
                break;
            }
            self.progress(pending.number, total);
        }
        let fresh: Vec<&Pending> = commits[..end].iter().filter(|p| !p.there).collect();
        if !fresh.is_empty() {
            let new: Vec<NewCommit<'_>> = fresh
                .iter()
                .map(|pending| NewCommit {
                    number: pending.number,
                    document: &pending.bytes,
                    identified: pending.identified,
                })
                .collect();
            let outcomes = to.create_commits(&new)?;
            if outcomes.len() != fresh.len() {
                return Err(refused(format!(
                    "the destination gave {} outcomes for {} commits created together; copy again",
                    outcomes.len(),
                    fresh.len()
                )));
            }
            for (pending, outcome) in fresh.into_iter().zip(outcomes) {
                self.put_commit(pending, outcome)?;
                self.progress(pending.number, total);
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Counts a commit created (`outcome` is `Ok`), or checks that the one there holds the
    /// same bytes.
    fn put_commit(
        &mut self,
        pending: &Pending,
        outcome: std::result::Result<(), Conflict>,
    ) -> Result<(), CopyError> {
        let to = self.destination.storage();
        let copied = self.put(
            &pending.bytes,
            false,
            || Ok(outcome),
            || to.read_commit(pending.number),
            &pending.location,
            &to.commit_location(pending.number),
        )?;
        if copied {
            self.report.commits_copied += 1;
        } else {
            self.report.commits_present += 1;
        }
        Ok(())
    }

    /// Writes a document (`bytes`, from `source`) at `destination` with `create`, unless it is
    /// `there` already or another writer makes it first: then it must hold the same bytes
    /// (read back with `read`). Returns whether it wrote the document.
    fn put(
        &mut self,
        bytes: &[u8],
        there: bool,
        create: impl FnOnce() -> Result<Result<(), Conflict>>,
        read: impl FnOnce() -> Result<Option<Vec<u8>>>,
        source: &str,
        destination: &str,
    ) -> Result<bool, CopyError> {
        if !there && create()?.is_ok() {
            self.report.bytes_copied += bytes.len() as u64;
            return Ok(true);
        }
        match read()? {
            Some(theirs) if theirs == bytes => Ok(false),
            Some(theirs) => Err(refused(format!(
                "{destination} holds other bytes than {source} ({} bytes there, {} here): copy never overwrites; move the destination aside and copy again",
                theirs.len(),
                bytes.len()
            ))),
            None => Err(refused(format!(
                "{destination} was there and then disappeared during the copy; copy again"
            ))),
        }
    }

    fn progress(&mut self, done: u64, total: u64) {
        if let Some(progress) = &mut self.options.progress {
            progress(done, total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::storage::{MemoryStorage, Storage};

    /// A store of `n` commits, each holding one event, and a snapshot of commit 2.
    fn source(n: u64) -> (Store, MemoryStorage) {
        let storage = MemoryStorage::new();
        let store = Store::with_storage(storage.clone());
        for i in 1..=n {
            store.log(&Event::new(format!("e{i}"))).unwrap();
        }
        let snapshot = br#"{"headers":{},"snapshot":{"count":2}}"#;
        assert!(storage
            .create_snapshot("count", 2, snapshot)
            .unwrap()
            .is_ok());
        (store, storage)
    }

    /// Every commit and snapshot of `from`, with their bytes.
    fn contents(storage: &dyn Storage) -> Vec<(String, Option<Vec<u8>>)> {
        let listing = storage.list().unwrap();
        let commits = listing
            .commits
            .iter()
            .map(|&n| (n.to_string(), storage.read_commit_raw(n).unwrap()));
        let snapshots = listing.snapshots.iter().map(|(name, n)| {
            (
                format!("{n}.{name}"),
                storage.read_snapshot(name, *n).unwrap(),
            )
        });
        commits.chain(snapshots).collect()
    }

    #[test]
    fn a_copy_holds_every_commit_and_snapshot_byte_for_byte() {
        let (store, storage) = source(5);
        let destination = MemoryStorage::new();
        let mut seen = Vec::new();
        let report = store
            .copy_to(
                &Store::with_storage(destination.clone()),
                CopyOptions::new().progress(|done, total| seen.push((done, total))),
            )
            .unwrap();
        assert_eq!(contents(&destination), contents(&storage));
        assert_eq!(contents(&destination).len(), 6);
        assert_eq!(
            (report.tip, report.commits_copied, report.snapshots_copied),
            (5, 5, 1)
        );
        assert_eq!(seen, [(1, 6), (2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]);
    }

    #[test]
    fn a_copy_resumes_where_the_destination_ends() {
        let (store, storage) = source(5);
        let destination = MemoryStorage::new();
        // As if an earlier copy had stopped after commit 2 (and the snapshot).
        for n in 1..=2 {
            let bytes = storage.read_commit(n).unwrap().unwrap();
            assert!(destination.create_commit(n, &bytes).unwrap().is_ok());
        }
        let snapshot = storage.read_snapshot("count", 2).unwrap().unwrap();
        assert!(destination
            .create_snapshot("count", 2, &snapshot)
            .unwrap()
            .is_ok());
        let report = store
            .copy_to(
                &Store::with_storage(destination.clone()),
                CopyOptions::new(),
            )
            .unwrap();
        assert_eq!(
            (
                report.commits_present,
                report.commits_copied,
                report.snapshots_present,
                report.snapshots_copied
            ),
            (2, 3, 1, 0)
        );
        assert_eq!(contents(&destination), contents(&storage));
    }

    #[test]
    fn a_copy_never_overwrites_and_stops_there() {
        let (store, _) = source(4);
        let destination = MemoryStorage::new();
        let other = br#"{"headers":{},"events":[{"name":"other"}]}"#;
        assert!(destination.create_commit(2, other).unwrap().is_ok());
        let result = store.copy_to(
            &Store::with_storage(destination.clone()),
            CopyOptions::new(),
        );
        match result {
            Err(CopyError::Refused { problem }) => {
                assert!(problem.contains("never overwrites"), "{problem}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(destination.read_commit(2).unwrap().unwrap(), other);
        assert_eq!(destination.list().unwrap().commits, [1, 2]);
        // Nor does it mix in a store that goes further.
        let (store, _) = source(1);
        assert!(matches!(
            store.copy_to(
                &Store::with_storage(destination.clone()),
                CopyOptions::new()
            ),
            Err(CopyError::Refused { .. })
        ));
        assert_eq!(destination.read_commit(2).unwrap().unwrap(), other);
    }

    #[test]
    fn a_copy_stops_at_damage_and_a_gap_unless_forced() {
        let (store, storage) = source(2);
        assert!(storage.create_commit(3, b"{\"events\": [").unwrap().is_ok());
        assert!(storage
            .create_commit(5, &storage.read_commit(1).unwrap().unwrap())
            .unwrap()
            .is_ok());
        let destination = MemoryStorage::new();
        let to = Store::with_storage(destination.clone());
        match store.copy_to(&to, CopyOptions::new()) {
            Err(CopyError::Stopped {
                commit: 3,
                source: Error::CorruptCommit { .. },
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(destination.list().unwrap().commits, [1, 2]);
        let report = store.copy_to(&to, CopyOptions::new().force(true)).unwrap();
        assert_eq!(report.gaps, [4]);
        assert_eq!(report.damaged, [storage.commit_location(3)]);
        assert_eq!((report.commits_present, report.commits_copied), (2, 2));
        assert_eq!(contents(&destination), contents(&storage));
        // Without force, the gap stops a copy that gets past the damage.
        let (store, storage) = source(1);
        assert!(storage
            .create_commit(3, &storage.read_commit(1).unwrap().unwrap())
            .unwrap()
            .is_ok());
        match store.copy_to(&Store::memory(), CopyOptions::new()) {
            Err(CopyError::Stopped {
                commit: 2,
                source:
                    Error::MissingCommit {
                        commit: 2, next: 3, ..
                    },
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_store_is_not_copied_into_its_own_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.ensure_folder().unwrap();
        store.log(&Event::new("a")).unwrap();
        let same = Store::open(dir.path().join(".")).unwrap();
        match store.copy_to(&same, CopyOptions::new()) {
            Err(CopyError::Refused { problem }) => assert!(problem.contains("the same folder")),
            other => panic!("{other:?}"),
        }
    }
}
