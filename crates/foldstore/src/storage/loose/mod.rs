//! The folder backend in the original package's ("loose") layout: commit `k` is the file
//! `k.log`, the snapshot of model `m` at commit `k` is the file `k.m-snapshot`.
//!
//! # The commit protocol
//! 1. The document is written to a new temporary file in the store's folder (named with the
//!    prefix [`TEMP_PREFIX`](super::local::TEMP_PREFIX)) and, by default, synced.
//! 2. It is published under its final name without ever replacing an existing file:
//!    `renameat2(RENAME_NOREPLACE)` where the kernel and file system have it, a hard link
//!    followed by removing the temporary name elsewhere. If the name exists, another writer won
//!    that number: the same temporary file is offered the next number, or dropped.
//! 3. By default, the folder is synced, so the new name survives power loss.
//!
//! A reader therefore sees a commit file whole or not at all.

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod fault_tests;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::local::fs::{FileSystem, OsFs};
use super::local::store_folder::StoreFolder;
use super::local::{absolute, Durability};
use super::names::commit_file_name;
use super::Created;
use super::{check_commit_number, Conflict, Listing, Storage};
use crate::error::{Error, Result};
use crate::storage::MAX_COMMIT_NUMBER;

/// A store kept in a folder, in the original package's layout.
#[derive(Clone, Debug)]
pub struct LooseStorage {
    /// The folder, which holds the commit files beside the snapshots.
    folder: StoreFolder,
    /// The first gap that this backend's last listing found below the last commit, as (first
    /// missing number, next present number): writers refuse to append after it.
    gap: Arc<Mutex<Option<(u64, u64)>>>,
}

/// The former name of [`LooseStorage`], the folder backend of the loose layout.
#[deprecated(note = "renamed to `LooseStorage`, after the layout it implements")]
pub type FolderStorage = LooseStorage;

/// How many times a listing is made again when it missed a commit that was published while
/// it ran (a folder listing is not a snapshot: a name created meanwhile may or may not be in it).
const RELISTS: usize = 3;

impl LooseStorage {
    /// A folder backend at `path` (which need not exist yet), with [`Durability::Immediate`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::with_durability(path, Durability::default())
    }

    /// A folder backend at `path` with the given durability.
    pub fn with_durability(path: impl Into<PathBuf>, durability: Durability) -> Self {
        Self::with_file_system(absolute(path.into()), durability, Arc::new(OsFs))
    }

    pub(crate) fn with_file_system(
        path: impl Into<PathBuf>,
        durability: Durability,
        fs: Arc<dyn FileSystem>,
    ) -> Self {
        LooseStorage {
            folder: StoreFolder::new(path.into(), durability, fs),
            gap: Arc::new(Mutex::new(None)),
        }
    }

    /// The store's folder.
    pub fn path(&self) -> &Path {
        self.folder.path()
    }

    /// The durability this backend writes with.
    pub fn durability(&self) -> Durability {
        self.folder.durability()
    }

    fn commit_path(&self, number: u64) -> PathBuf {
        self.folder.path().join(commit_file_name(number))
    }

    /// Refuses to create a commit numbered beyond [`MAX_COMMIT_NUMBER`]: every reader would
    /// ignore it.
    fn check_number_fits(&self, number: u64) -> Result<()> {
        if number > MAX_COMMIT_NUMBER {
            return Err(Error::Layout {
                path: self.commit_path(number),
                problem: format!(
                    "commit numbers end at {MAX_COMMIT_NUMBER} (2^53 - 1, the largest the original package counts exactly): nothing was written; run 'foldstore verify'"
                ),
            });
        }
        Ok(())
    }

    /// Lists the folder to find the log's end (for [`Storage::last_commit`] and
    /// [`Storage::snapshots`]), and notes the first gap below the last commit, which writers
    /// then refuse to append after ([`LooseStorage::refuse_gap`]).
    ///
    /// A folder listing made while other writers publish may miss a name published during it
    /// and show a later one: a gap counts only if its first number is still absent once the
    /// listing is done (commit `n + 1` is only ever published after commit `n` existed), else
    /// the folder is listed again.
    fn listed(&self) -> Result<Listing> {
        let mut attempt = 0;
        loop {
            let listing = self.list()?;
            // An archived log starts after the archived commits (those a crash left behind
            // while they were removed do not count).
            let start = super::archive::start_of(self)?;
            let mut expected = start;
            let mut gap = None;
            let mut raced = false;
            for &number in listing.commits.iter().filter(|n| **n >= start) {
                if number > expected {
                    if self.commit_exists(expected)? {
                        raced = true;
                    } else {
                        gap = Some((expected, number));
                    }
                    break;
                }
                // Listed numbers are at most MAX_COMMIT_NUMBER: no overflow.
                expected = number + 1;
            }
            attempt += 1;
            if raced && attempt < RELISTS {
                continue;
            }
            if let Some((first, next)) = gap {
                tracing::debug!(
                    first,
                    next,
                    folder = %self.path().display(),
                    "the log has a gap: writers refuse to append after it"
                );
            }
            *self.gap.lock().unwrap_or_else(|e| e.into_inner()) = gap;
            return Ok(listing);
        }
    }

    /// Refuses a write when this backend's last listing found a gap below the log's last
    /// commit that is still there: a commit appended after it could not be reached from
    /// commit 1 by any reader, and one written into it would precede commits never meant to
    /// follow it. (The gap is looked at again first: it may have been mended since.)
    fn refuse_gap(&self) -> Result<()> {
        let recorded = *self.gap.lock().unwrap_or_else(|e| e.into_inner());
        let Some((first, next)) = recorded else {
            return Ok(());
        };
        if self.commit_exists(first)? || !self.commit_exists(next)? {
            self.listed()?;
        }
        match *self.gap.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((first, next)) => Err(Error::MissingCommit {
                commit: first,
                location: self.commit_location(first),
                next,
            }),
            None => Ok(()),
        }
    }

    /// Whether commit `number`, just published, took a number that archiving freed (a writer
    /// that read the log's start before another process archived the store): then it is
    /// removed again (no reader of the archived store reads it), and the caller takes it for
    /// a lost race. Only a commit whose predecessor is missing is looked at: a stat, then the
    /// marker.
    ///
    /// The commit is written when this is asked, so nothing here fails the write: a look that
    /// fails counts as "not archived" (the commit stands), and a commit found before the start
    /// is not read by anyone even if removing it fails.
    fn took_an_archived_number(&self, number: u64) -> Result<bool> {
        if number <= 1 || self.commit_exists(number - 1).unwrap_or(true) {
            return Ok(false);
        }
        if super::archive::start_of(self).map_or(true, |start| number >= start) {
            return Ok(false);
        }
        let path = self.commit_path(number);
        tracing::info!(commit = number, "a number before the archived log's start was taken: the commit is written again after it");
        if let Err(e) = self.folder.fs().remove(&path) {
            tracing::warn!(file = %path.display(), error = %e, "cannot remove a commit written before the archived log's start; readers never read it, and the next archiving run removes it");
        }
        Ok(true)
    }

    /// Removes temporary files older than `age`: writes that a crash interrupted before they
    /// were published. Younger ones may belong to a writer at work, and are left alone.
    /// Returns how many were removed.
    pub fn remove_stale_temporaries(&self, age: Duration) -> usize {
        self.folder.remove_stale_temporaries(age)
    }
}

impl Storage for LooseStorage {
    fn ensure_created(&self) -> Result<()> {
        self.folder.ensure_created()
    }

    fn exists(&self) -> Result<bool> {
        self.folder.exists()
    }

    fn list(&self) -> Result<Listing> {
        self.folder.list()
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        if number == 0 {
            return Ok(None);
        }
        self.folder.read_file(&self.commit_path(number))
    }

    fn sync_all(&self) -> Result<()> {
        self.folder.sync_all()
    }

    fn commit_exists(&self, number: u64) -> Result<bool> {
        if number == 0 {
            return Ok(false);
        }
        let path = self.commit_path(number);
        match self.folder.fs().kind(&path) {
            Ok(found) => Ok(found.is_some()),
            Err(e) => Err(Error::io("look for", path, e)),
        }
    }

    fn commit_modified(&self, number: u64) -> Result<Option<SystemTime>> {
        let path = self.commit_path(number);
        match self.folder.fs().modified(&path) {
            Ok(time) => Ok(Some(time)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("look at", path, e)),
        }
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Created {
        check_commit_number(number)?;
        self.check_number_fits(number)?;
        let created = self
            .folder
            .create_exclusive(&self.commit_path(number), number, document)?;
        if created.is_ok() && self.took_an_archived_number(number)? {
            return Ok(Err(Conflict { commit: number }));
        }
        Ok(created)
    }

    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.refuse_gap()?;
        let mut number = first.max(1);
        self.check_number_fits(number)?;
        let temporary = self.folder.write_temporary(document)?;
        // The same written (and synced) file is offered each next number in turn.
        while !self
            .folder
            .publish(&temporary, &self.commit_path(number), number)?
        {
            tracing::trace!(commit = number, "commit taken by another writer");
            number += 1;
            if let Err(e) = self.check_number_fits(number) {
                self.folder.discard(&temporary);
                return Err(e);
            }
        }
        if self.took_an_archived_number(number)? {
            let start = super::archive::start_of(self)?;
            return self.append_commit(start, document);
        }
        Ok(number)
    }

    /// Lists the folder, and remembers the first gap below the last commit for writers.
    fn last_commit(&self) -> Result<u64> {
        Ok(self.listed()?.commits.last().copied().unwrap_or(0))
    }

    /// Lists the folder, and remembers the first gap below the last commit for writers.
    fn snapshots(&self) -> Result<super::SnapshotsFound> {
        let listing = self.listed()?;
        let last = listing.commits.last().copied().unwrap_or(0);
        Ok((listing.snapshots, Some(last)))
    }

    fn read_derived(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.folder.read_derived(name)
    }

    fn write_derived(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.folder.write_derived(name, bytes)
    }

    fn can_be_archived(&self) -> bool {
        true
    }

    fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.folder.read_meta(name)
    }

    fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.folder.write_meta(name, bytes)
    }

    /// Removes the files `k.log` with `k < start`, lowest first, then syncs the folder.
    fn remove_commits_below(&self, start: u64) -> Result<u64> {
        let fs = self.folder.fs();
        let mut removed = 0;
        for number in self.folder.list()?.commits {
            if number >= start {
                break;
            }
            let path = self.commit_path(number);
            match fs.remove(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove the archived commit", &path, e)),
            }
        }
        if removed > 0 {
            fs.sync_dir(self.folder.path())
                .map_err(|e| Error::io("sync", self.folder.path(), e))?;
        }
        Ok(removed)
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        self.folder.read_snapshot(name, commit)
    }

    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        self.folder.create_snapshot(name, commit, document)
    }

    fn quarantine_commit(&self, number: u64) -> Result<String> {
        let folder = self.folder.quarantine_folder()?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let from = self.commit_path(number);
        let to = folder.join(format!("{number}.log.{stamp}"));
        let fs = self.folder.fs();
        fs.rename_noreplace(&from, &to)
            .map_err(|e| Error::io("move aside", &from, e))?;
        // The loose layout has no writers' lock: a writer of another process may have
        // published the next commit between the caller's look and the move. The commit moved
        // is then no longer the last, and goes back, so that the next is not left behind a gap.
        let next = self.commit_path(number.saturating_add(1));
        if fs.kind(&next).ok().flatten().is_some() {
            return Err(match fs.rename_noreplace(&to, &from) {
                Ok(()) => Error::RepairRefused {
                    location: from.display().to_string(),
                    problem: format!(
                        "is no longer the last commit: commit {} was written meanwhile; it is back in place, nothing was moved: plan the repair again",
                        number.saturating_add(1)
                    ),
                },
                Err(e) => Error::Backend {
                    backend: "folder",
                    message: format!(
                        "commit {number} was moved aside to {}, and commit {} was written meanwhile; moving it back failed ({e}): move {} back to {} by hand, then run 'foldstore verify'",
                        to.display(),
                        number.saturating_add(1),
                        to.display(),
                        from.display()
                    ),
                    source: None,
                },
            });
        }
        for synced in [&folder, self.folder.path()] {
            if let Err(e) = fs.sync_dir(synced) {
                // The move is done (readers no longer see the commit); only its durability is
                // in doubt: say where the commit went.
                return Err(Error::Backend {
                    backend: "folder",
                    message: format!(
                        "commit {number} was moved aside to {}, but syncing {} failed ({e}): after a power loss it may be back at {}; run 'foldstore verify' then",
                        to.display(),
                        synced.display(),
                        from.display()
                    ),
                    source: None,
                });
            }
        }
        Ok(to.display().to_string())
    }

    #[cfg(feature = "watch")]
    fn watch(&self) -> Result<Option<Box<dyn super::Watch>>> {
        self.folder.watch_folder(self.folder.path())
    }

    fn commit_location(&self, number: u64) -> String {
        self.commit_path(number).display().to_string()
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.folder.snapshot_location(name, commit)
    }

    fn meta_location(&self, name: &str) -> String {
        self.folder.meta_location(name)
    }
}
