//! The folder backend in the original package's ("loose") layout: commit `k` is the file
//! `k.log`, the snapshot of model `m` at commit `k` is the file `k.m-snapshot`.
//!
//! # The commit protocol
//! 1. The document is written to a new temporary file in the store's folder (named with the
//!    prefix [`TEMP_PREFIX`]) and, by default, synced.
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
#[cfg(test)]
mod faults;
pub(crate) mod fs;
#[cfg(feature = "watch")]
mod notice;
#[cfg(test)]
pub(crate) mod sim;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use self::fs::{FileSystem, Kind, OsFs};
use super::{check_commit_number, validate_snapshot_name, Conflict, Listing, Storage};
use crate::error::{Error, Result};
use crate::store::MAX_COMMIT_NUMBER;

/// The prefix of the temporary files foldstore writes into a store's folder.
pub const TEMP_PREFIX: &str = ".foldstore-tmp-";

/// The subfolder of a store's folder where repair moves damaged commits (never a commit name,
/// and ignored by the original package, which only looks at `.log` names).
pub const QUARANTINE_FOLDER: &str = "foldstore-quarantine";

/// How old a temporary file must be before a writer removes it as left over by a crash: far
/// longer than any write takes, so one writer never removes another's file in flight.
pub const STALE_TEMPORARY_AGE: Duration = Duration::from_secs(3600);

/// How hard a folder store works to make a commit survive a power loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Sync each commit file and then the folder before the write call returns: an
    /// acknowledged commit survives power loss. The default.
    #[default]
    Immediate,
    /// No syncs, chosen on purpose for speed. Commits are still atomic for readers and survive
    /// a crash of the process; after a power loss the newest commits may be lost, or left
    /// empty or partial by the file system ('foldstore verify' finds them, 'foldstore repair'
    /// moves a damaged last commit aside).
    None,
}

/// A store kept in a folder, in the original package's layout.
#[derive(Clone, Debug)]
pub struct FolderStorage {
    path: PathBuf,
    durability: Durability,
    fs: Arc<dyn FileSystem>,
    /// Whether this backend has looked for stale temporary files yet (once, on first write).
    swept: Arc<AtomicBool>,
    /// Whether a failure to watch the folder was reported yet.
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
    watch_warned: Arc<AtomicBool>,
    /// Whether this backend keeps the snapshots of a journal (and may write beside its marker).
    inside_journal: bool,
    /// The first gap that this backend's last listing found below the last commit, as (first
    /// missing number, next present number): writers refuse to append after it.
    gap: Arc<Mutex<Option<(u64, u64)>>>,
}

/// How many times a listing is made again when it missed a commit that was published while
/// it ran (a folder listing is not a snapshot: a name created meanwhile may or may not be in it).
const RELISTS: usize = 3;

impl FolderStorage {
    /// A folder backend at `path` (which need not exist yet), with [`Durability::Immediate`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::with_durability(path, Durability::default())
    }

    /// A folder backend at `path` with the given durability.
    pub fn with_durability(path: impl Into<PathBuf>, durability: Durability) -> Self {
        Self::with_file_system(path, durability, Arc::new(OsFs))
    }

    pub(crate) fn with_file_system(
        path: impl Into<PathBuf>,
        durability: Durability,
        fs: Arc<dyn FileSystem>,
    ) -> Self {
        FolderStorage {
            path: path.into(),
            durability,
            fs,
            swept: Arc::new(AtomicBool::new(false)),
            watch_warned: Arc::new(AtomicBool::new(false)),
            inside_journal: false,
            gap: Arc::new(Mutex::new(None)),
        }
    }

    /// The same backend, keeping the snapshots of a journal store: it may write into a folder
    /// that holds a journal marker.
    pub(crate) fn inside_journal(mut self) -> Self {
        self.inside_journal = true;
        self
    }

    /// The store's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability this backend writes with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn commit_path(&self, number: u64) -> PathBuf {
        self.path.join(format!("{number}.log"))
    }

    fn snapshot_path(&self, name: &str, commit: u64) -> PathBuf {
        self.path.join(format!("{commit}.{name}-snapshot"))
    }

    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        match self.fs.read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    fn durable(&self) -> bool {
        self.durability == Durability::Immediate
    }

    /// Writes `document` into a new temporary file in the folder, synced if durable, and
    /// returns its path.
    fn write_temporary(&self, document: &[u8]) -> Result<PathBuf> {
        super::check_document_size(document)?;
        if !self.swept.swap(true, Ordering::AcqRel) {
            if !self.inside_journal
                && self
                    .fs
                    .kind(&self.path.join(super::journal::JOURNAL_MARKER))
                    .ok()
                    .flatten()
                    .is_some()
            {
                self.swept.store(false, Ordering::Release);
                return Err(Error::Layout {
                    path: self.path.clone(),
                    problem: format!(
                        "the folder holds a journal ({}): loose commit files cannot be added to it; open it with Store::open, which detects the layout",
                        super::journal::JOURNAL_MARKER
                    ),
                });
            }
            self.remove_stale_temporaries(STALE_TEMPORARY_AGE);
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let name = format!(
                "{TEMP_PREFIX}{}-{}-{nanos:09}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let path = self.path.join(name);
            match self.fs.write_new(&path, document, self.durable()) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(Error::StoreMissing {
                        path: self.path.clone(),
                    })
                }
                Err(e) => return Err(Error::io("write a temporary file", path, e)),
            }
        }
    }

    /// Publishes the temporary file as `target` unless `target` exists. Returns whether it
    /// was published; on a conflict the temporary file is still there.
    ///
    /// `commit` is the commit number `target` stands for (a snapshot's label), for the error
    /// when the outcome cannot be known: an error means `target` was not published (and the
    /// temporary file is removed), [`Error::OutcomeUnknown`] that it may have been.
    fn publish(&self, temporary: &Path, target: &Path, commit: u64) -> Result<bool> {
        match self.fs.rename_noreplace(temporary, target) {
            Ok(()) => {
                if self.durable() {
                    // The name is visible to readers from the rename on: a failed folder sync
                    // leaves the commit there, perhaps not surviving a power loss.
                    self.fs.sync_dir(&self.path).map_err(|e| {
                        self.outcome_unknown(
                            commit,
                            target,
                            format!(
                                "it was published, and then syncing the folder {} failed, so it may not survive a power loss",
                                self.path.display()
                            ),
                            e,
                        )
                    })?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => {
                self.discard(temporary);
                // A rename that reports a failure may still have happened (a file system that
                // lost its reply, or the fallback's link made and its unlink failed): only a
                // target that is certainly absent makes this a plain failure.
                match self.fs.kind(target) {
                    Ok(None) => Err(Error::io("publish", target, e)),
                    _ => Err(self.outcome_unknown(
                        commit,
                        target,
                        "renaming the written file to this name reported a failure, and the name exists (perhaps another writer's)".to_owned(),
                        e,
                    )),
                }
            }
        }
    }

    /// The error for a write that may or may not have published `target`.
    fn outcome_unknown(&self, commit: u64, target: &Path, problem: String, e: io::Error) -> Error {
        Error::OutcomeUnknown {
            commit,
            location: target.display().to_string(),
            problem: format!("{problem}: {e}"),
            source: Some(e),
        }
    }

    /// Removes a temporary file that will not be published (a failure only leaves it behind
    /// for a later sweep).
    fn discard(&self, temporary: &Path) {
        if let Err(e) = self.fs.remove(temporary) {
            tracing::debug!(path = %temporary.display(), error = %e, "temporary file left behind");
        }
    }

    /// Creates `target` holding `document` unless it exists (then: a conflict on `commit`).
    fn create_exclusive(
        &self,
        target: &Path,
        commit: u64,
        document: &[u8],
    ) -> Result<Result<(), Conflict>> {
        let temporary = self.write_temporary(document)?;
        if self.publish(&temporary, target, commit)? {
            Ok(Ok(()))
        } else {
            self.discard(&temporary);
            Ok(Err(Conflict { commit }))
        }
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
    /// then refuse to append after ([`FolderStorage::refuse_gap`]).
    ///
    /// A folder listing made while other writers publish may miss a name published during it
    /// and show a later one: a gap counts only if its first number is still absent once the
    /// listing is done (commit `n + 1` is only ever published after commit `n` existed), else
    /// the folder is listed again.
    fn listed(&self) -> Result<Listing> {
        let mut attempt = 0;
        loop {
            let listing = self.list()?;
            let mut expected = 1;
            let mut gap = None;
            let mut raced = false;
            for &number in &listing.commits {
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
                    folder = %self.path.display(),
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

    /// The store's quarantine folder, created if need be. A symbolic link there (or anything
    /// but a folder) is refused: what is moved aside must stay inside the store.
    pub(crate) fn quarantine_folder(&self) -> Result<PathBuf> {
        let folder = self.path.join(QUARANTINE_FOLDER);
        const KEEP: &str = "foldstore moves damaged commits there, never outside the store; move it out of the store";
        let refused = |what: &str| Error::Layout {
            path: self.path.clone(),
            problem: format!("{} is {what}, not a folder: {KEEP}", folder.display()),
        };
        match self.fs.is_link(&folder) {
            Ok(false) => {}
            Ok(true) => return Err(refused("a symbolic link")),
            Err(e) => return Err(Error::io("look at", &folder, e)),
        }
        if self.fs.kind(&folder).ok().flatten() == Some(Kind::Other) {
            return Err(refused("a file"));
        }
        self.fs
            .create_dir_all(&folder)
            .map_err(|e| Error::io("create the quarantine folder", &folder, e))?;
        Ok(folder)
    }

    /// Removes temporary files older than `age`: writes that a crash interrupted before they
    /// were published. Younger ones may belong to a writer at work, and are left alone.
    /// Returns how many were removed.
    pub fn remove_stale_temporaries(&self, age: Duration) -> usize {
        let Ok(names) = self.fs.list(&self.path) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for name in names {
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = self.path.join(name);
            let stale = self
                .fs
                .modified(&path)
                .is_ok_and(|modified| now.duration_since(modified).is_ok_and(|a| a >= age));
            if stale && self.fs.remove(&path).is_ok() {
                tracing::info!(path = %path.display(), "removed a temporary file left by an interrupted write");
                removed += 1;
            }
        }
        removed
    }
}

impl FolderStorage {
    /// A watch on `folder` (the store's folder, or a journal's segment folder), or `None` when
    /// it cannot be watched (subscribers then poll).
    #[cfg(feature = "watch")]
    pub(crate) fn watch_folder(&self, folder: &Path) -> Result<Option<Box<dyn super::Watch>>> {
        // A folder that does not exist yet cannot be watched: subscribers poll until it does.
        if self.fs.kind(folder).ok().flatten() != Some(Kind::Folder) {
            return Ok(None);
        }
        match notice::FolderWatch::new(folder) {
            Ok(watch) => Ok(Some(Box::new(watch))),
            Err(e) => {
                // Said once per backend: subscribers try again now and then.
                if !self.watch_warned.swap(true, Ordering::AcqRel) {
                    tracing::warn!(folder = %folder.display(), error = %e, "cannot watch the folder for new commits; polling instead");
                }
                Ok(None)
            }
        }
    }
}

impl Storage for FolderStorage {
    fn ensure_created(&self) -> Result<()> {
        if self.fs.kind(&self.path).ok().flatten() == Some(Kind::Other) {
            return Err(Error::NotAFolder {
                path: self.path.clone(),
            });
        }
        self.fs
            .create_dir_all(&self.path)
            .map_err(|e| Error::io("create the folder", &self.path, e))
    }

    fn exists(&self) -> Result<bool> {
        match self.fs.kind(&self.path) {
            Ok(Some(Kind::Folder)) => Ok(true),
            Ok(Some(Kind::Other)) => Err(Error::NotAFolder {
                path: self.path.clone(),
            }),
            Ok(None) => Ok(false),
            Err(e) => Err(Error::io("open", &self.path, e)),
        }
    }

    fn list(&self) -> Result<Listing> {
        let names = match self.fs.list(&self.path) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Listing::default()),
            Err(e) => {
                return Err(match self.fs.kind(&self.path) {
                    Ok(Some(Kind::Other)) => Error::NotAFolder {
                        path: self.path.clone(),
                    },
                    _ => Error::io("list", &self.path, e),
                })
            }
        };
        let mut listing = Listing::default();
        for name in names {
            let Some(name) = name.to_str() else {
                continue;
            };
            match classify(name) {
                Entry::Commit(number) => listing.commits.push(number),
                Entry::Snapshot(snapshot, commit) => listing.snapshots.push((snapshot, commit)),
                Entry::Suspicious(why) => listing
                    .suspicious
                    .push((self.path.join(name).display().to_string(), why)),
                Entry::Other => {}
            }
        }
        listing.commits.sort_unstable();
        listing.snapshots.sort_unstable();
        listing.suspicious.sort_unstable();
        Ok(listing)
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        if number == 0 {
            return Ok(None);
        }
        self.read_file(&self.commit_path(number))
    }

    fn sync_all(&self) -> Result<()> {
        sync_file_system(&self.path)
    }

    fn commit_exists(&self, number: u64) -> Result<bool> {
        if number == 0 {
            return Ok(false);
        }
        let path = self.commit_path(number);
        match self.fs.kind(&path) {
            Ok(found) => Ok(found.is_some()),
            Err(e) => Err(Error::io("look for", path, e)),
        }
    }

    fn commit_modified(&self, number: u64) -> Result<Option<SystemTime>> {
        let path = self.commit_path(number);
        match self.fs.modified(&path) {
            Ok(time) => Ok(Some(time)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("look at", path, e)),
        }
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Result<Result<(), Conflict>> {
        check_commit_number(number)?;
        self.check_number_fits(number)?;
        self.create_exclusive(&self.commit_path(number), number, document)
    }

    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.refuse_gap()?;
        let mut number = first.max(1);
        self.check_number_fits(number)?;
        let temporary = self.write_temporary(document)?;
        // The same written (and synced) file is offered each next number in turn.
        while !self.publish(&temporary, &self.commit_path(number), number)? {
            tracing::trace!(commit = number, "commit taken by another writer");
            number += 1;
            if let Err(e) = self.check_number_fits(number) {
                self.discard(&temporary);
                return Err(e);
            }
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

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        validate_snapshot_name(name)?;
        self.read_file(&self.snapshot_path(name, commit))
    }

    fn create_snapshot(
        &self,
        name: &str,
        commit: u64,
        document: &[u8],
    ) -> Result<Result<(), Conflict>> {
        validate_snapshot_name(name)?;
        self.create_exclusive(&self.snapshot_path(name, commit), commit, document)
    }

    fn quarantine_commit(&self, number: u64) -> Result<String> {
        let folder = self.quarantine_folder()?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let from = self.commit_path(number);
        let to = folder.join(format!("{number}.log.{stamp}"));
        self.fs
            .rename_noreplace(&from, &to)
            .map_err(|e| Error::io("move aside", &from, e))?;
        for synced in [&folder, &self.path] {
            if let Err(e) = self.fs.sync_dir(synced) {
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
        self.watch_folder(&self.path)
    }

    fn commit_location(&self, number: u64) -> String {
        self.commit_path(number).display().to_string()
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.snapshot_path(name, commit).display().to_string()
    }
}

/// Makes every file written into the file system holding `folder` durable (one `syncfs`).
pub(crate) fn sync_file_system(folder: &Path) -> Result<()> {
    let dir = std::fs::File::open(folder).map_err(|e| Error::io("open", folder, e))?;
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(&dir).map_err(|e| Error::io("sync the file system of", folder, e.into()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Without syncfs: the folder itself; files are synced by the platform's own means.
        dir.sync_all().map_err(|e| Error::io("sync", folder, e))
    }
}

/// What a file name in a store's folder (or an object name under a prefix) is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry {
    Commit(u64),
    Snapshot(String, u64),
    Suspicious(String),
    Other,
}

/// A canonical commit number: digits, no leading zero, not zero, at most
/// [`MAX_COMMIT_NUMBER`].
fn canonical_number(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    if canonical {
        text.parse().ok().filter(|n| *n <= MAX_COMMIT_NUMBER)
    } else {
        None
    }
}

/// Whether `text` is written like a commit number (digits, no leading zero) but is larger
/// than [`MAX_COMMIT_NUMBER`].
fn beyond_max_commit_number(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0')
        && text.parse::<u64>().map_or(true, |n| n > MAX_COMMIT_NUMBER)
}

/// Why a name whose number is beyond [`MAX_COMMIT_NUMBER`] is ignored.
fn beyond_max_reason(what: &str) -> String {
    format!(
        "is named like a {what}, but its number is beyond {MAX_COMMIT_NUMBER} (2^53 - 1), the largest the original package counts exactly: foldstore ignores it (no log reaches such a number); move it out of the store"
    )
}

/// Whether JavaScript's `isNaN` would take `text` for a number (how the original finds commits).
fn looks_numeric_to_the_original(text: &str) -> bool {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return true;
    }
    let unsigned = trimmed.trim_start_matches(['+', '-']);
    let hex_like = ["0x", "0X", "0o", "0O", "0b", "0B"]
        .iter()
        .any(|p| trimmed.starts_with(p) && trimmed.len() > 2);
    hex_like
        || unsigned == "Infinity"
        || (unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            && trimmed.parse::<f64>().is_ok())
}

pub(super) fn classify(name: &str) -> Entry {
    if name.starts_with(TEMP_PREFIX) {
        return Entry::Other;
    }
    if let Some(stem) = name.strip_suffix(".log") {
        if let Some(number) = canonical_number(stem) {
            return Entry::Commit(number);
        }
        if beyond_max_commit_number(stem) {
            return Entry::Suspicious(beyond_max_reason("commit"));
        }
        if !stem.is_empty() && looks_numeric_to_the_original(stem) {
            return Entry::Suspicious(
                "is named like a commit but is not '<n>.log' with n >= 1 written without leading zeros: \
                 foldstore ignores it, the original package counts it as a commit"
                    .to_owned(),
            );
        }
        return Entry::Other;
    }
    if let Some(rest) = name.strip_suffix("-snapshot") {
        if let Some((number, snapshot)) = rest.split_once('.') {
            if snapshot.is_empty() || snapshot.contains('.') {
                return Entry::Other;
            }
            if number == "0" {
                return Entry::Suspicious(
                    "is a snapshot of an empty log (the original package writes these); it is never used"
                        .to_owned(),
                );
            }
            if let Some(commit) = canonical_number(number) {
                return Entry::Snapshot(snapshot.to_owned(), commit);
            }
            if beyond_max_commit_number(number) {
                return Entry::Suspicious(beyond_max_reason("snapshot"));
            }
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
                return Entry::Suspicious(
                    "is named like a snapshot but its number has leading zeros or is too large; it is ignored"
                        .to_owned(),
                );
            }
        }
    }
    Entry::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_strictly() {
        assert_eq!(classify("1.log"), Entry::Commit(1));
        assert_eq!(classify("1234567.log"), Entry::Commit(1_234_567));
        assert_eq!(
            classify("9007199254740991.log"),
            Entry::Commit(MAX_COMMIT_NUMBER)
        );
        assert_eq!(
            classify("3.memberlist-snapshot"),
            Entry::Snapshot("memberlist".into(), 3)
        );
        for other in [
            "draft.log",
            "7.json",
            "README.txt",
            ".log",
            "a.b.log",
            "3.a.b-snapshot",
            "x.members-snapshot",
            ".foldstore-tmp-abc",
            "3.-snapshot",
        ] {
            assert_eq!(classify(other), Entry::Other, "{other}");
        }
        for suspicious in [
            "007.log",
            "0.log",
            "1e1.log",
            "0x10.log",
            " 5.log",
            "99999999999999999999999.log",
            "1.5.log",
            "0.members-snapshot",
            "03.members-snapshot",
            "9007199254740992.log",
            "17179869184999999.log",
            "18446744073709551615.log",
            "18446744073709551616.log",
            "9007199254740992.members-snapshot",
        ] {
            assert!(
                matches!(classify(suspicious), Entry::Suspicious(_)),
                "{suspicious}"
            );
        }
    }
}
