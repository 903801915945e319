//! The store's folder as both layouts keep it: made and checked, listed, its snapshots
//! (`k.m-snapshot`, the same in both layouts), the temporary files a write publishes without
//! ever replacing a name, the quarantine, and watches on it. The loose layout keeps its commits
//! here too; the journal keeps them in its segments.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::fs::{FileSystem, Kind};
use super::{Durability, STALE_TEMPORARY_AGE};
use crate::error::{Error, Result};
use crate::storage::names::{
    snapshot_file_name, DERIVED_FOLDER, JOURNAL_MARKER, QUARANTINE_FOLDER, TEMP_PREFIX,
};
use crate::storage::Created;
use crate::storage::{check_document_size, validate_snapshot_name, Conflict, Listing};

/// A store's folder, on a file system.
#[derive(Clone, Debug)]
pub(crate) struct StoreFolder {
    path: PathBuf,
    durability: Durability,
    fs: Arc<dyn FileSystem>,
    /// Whether this folder's writers have looked for stale temporary files yet (once, on the
    /// first write).
    swept: Arc<AtomicBool>,
    /// Whether a failure to watch the folder was reported yet.
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
    watch_warned: Arc<AtomicBool>,
    /// Whether the folder keeps the snapshots of a journal (and may be written beside its
    /// marker).
    inside_journal: bool,
}

impl StoreFolder {
    /// The folder at `path` on `fs`, written with `durability`.
    pub(crate) fn new(path: PathBuf, durability: Durability, fs: Arc<dyn FileSystem>) -> Self {
        StoreFolder {
            path,
            durability,
            fs,
            swept: Arc::new(AtomicBool::new(false)),
            watch_warned: Arc::new(AtomicBool::new(false)),
            inside_journal: false,
        }
    }

    /// The same folder, keeping the snapshots of a journal store: it may be written into
    /// although it holds a journal marker.
    pub(crate) fn inside_journal(mut self) -> Self {
        self.inside_journal = true;
        self
    }

    /// The folder's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The durability its writes are made with.
    pub(crate) fn durability(&self) -> Durability {
        self.durability
    }

    /// The file system it is on.
    pub(crate) fn fs(&self) -> &dyn FileSystem {
        &*self.fs
    }

    /// Whether writes are synced.
    pub(crate) fn durable(&self) -> bool {
        self.durability == Durability::Immediate
    }

    /// The whole content of the file at `path`, or `None` when there is none.
    pub(crate) fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        match self.fs.read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Writes `document` into a new temporary file in the folder, synced if durable, and
    /// returns its path.
    pub(crate) fn write_temporary(&self, document: &[u8]) -> Result<PathBuf> {
        check_document_size(document)?;
        if !self.swept.swap(true, Ordering::AcqRel) {
            if !self.inside_journal
                && self
                    .fs
                    .kind(&self.path.join(JOURNAL_MARKER))
                    .ok()
                    .flatten()
                    .is_some()
            {
                self.swept.store(false, Ordering::Release);
                return Err(Error::Layout {
                    path: self.path.clone(),
                    problem: format!(
                        "the folder holds a journal ({JOURNAL_MARKER}): loose commit files cannot be added to it; open it with Store::open, which detects the layout"
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
    pub(crate) fn publish(&self, temporary: &Path, target: &Path, commit: u64) -> Result<bool> {
        match self.fs.rename_noreplace(temporary, target) {
            Ok(()) => {
                if self.durable() {
                    // The name is visible to readers from the rename on: a failed folder sync
                    // leaves the commit there, perhaps not surviving a power loss.
                    self.fs.sync_dir(&self.path).map_err(|e| {
                        outcome_unknown(
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
                    _ => Err(outcome_unknown(
                        commit,
                        target,
                        "renaming the written file to this name reported a failure, and the name exists (perhaps another writer's)".to_owned(),
                        e,
                    )),
                }
            }
        }
    }

    /// Removes a temporary file that will not be published (a failure only leaves it behind
    /// for a later sweep).
    pub(crate) fn discard(&self, temporary: &Path) {
        if let Err(e) = self.fs.remove(temporary) {
            tracing::debug!(path = %temporary.display(), error = %e, "temporary file left behind");
        }
    }

    /// Creates `target` holding `document` unless it exists (then: a conflict on `commit`).
    pub(crate) fn create_exclusive(&self, target: &Path, commit: u64, document: &[u8]) -> Created {
        let temporary = self.write_temporary(document)?;
        if self.publish(&temporary, target, commit)? {
            Ok(Ok(()))
        } else {
            self.discard(&temporary);
            Ok(Err(Conflict { commit }))
        }
    }

    /// The store's quarantine folder, created if need be. A symbolic link there (or anything
    /// but a folder) is refused: what is moved aside must stay inside the store.
    pub(crate) fn quarantine_folder(&self) -> Result<PathBuf> {
        self.subfolder(
            QUARANTINE_FOLDER,
            "foldstore moves damaged commits there, never outside the store; move it out of the store",
        )
    }

    /// The subfolder `name` of the store's folder, created if need be; refused when it is a
    /// symbolic link or a file (`keep` says why it must be a folder of the store).
    fn subfolder(&self, name: &str, keep: &str) -> Result<PathBuf> {
        let folder = self.path.join(name);
        let refused = |what: &str| Error::Layout {
            path: self.path.clone(),
            problem: format!("{} is {what}, not a folder: {keep}", folder.display()),
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
            .map_err(|e| Error::io("create the folder", &folder, e))?;
        Ok(folder)
    }

    /// The derived data saved as `name` (see [`Storage::read_derived`]), or `None`. A symbolic
    /// link, a folder or another special file there is not read.
    ///
    /// [`Storage::read_derived`]: crate::storage::Storage::read_derived
    pub(crate) fn read_derived(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let folder = self.path.join(DERIVED_FOLDER);
        if self.fs.is_link(&folder).unwrap_or(true) {
            return Ok(None);
        }
        self.read_file(&folder.join(name))
    }

    /// Saves derived data as `name`, replacing what was there: written to a temporary file in
    /// the derived folder (not synced: a lost or torn file is rebuilt from the log), then
    /// renamed over the name. Temporary files an interrupted save left there are removed.
    pub(crate) fn write_derived(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let folder = self.subfolder(
            DERIVED_FOLDER,
            "foldstore keeps data derived from the log there, never outside the store; move it out of the store",
        )?;
        remove_stale_temporaries_in(&*self.fs, &folder, STALE_TEMPORARY_AGE);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let temporary = folder.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        self.fs
            .write_new(&temporary, bytes, false)
            .map_err(|e| Error::io("write", &temporary, e))?;
        let target = folder.join(name);
        self.fs.rename(&temporary, &target).map_err(|e| {
            let _ = self.fs.remove(&temporary);
            Error::io("rename a temporary file to", &target, e)
        })
    }

    /// The path of the store's own document `name` (see [`Storage::write_meta`]):
    /// `foldstore-<name>` in the folder.
    ///
    /// [`Storage::write_meta`]: crate::storage::Storage::write_meta
    pub(crate) fn meta_path(&self, name: &str) -> Result<PathBuf> {
        crate::storage::validate_meta_name(name)?;
        Ok(self.path.join(format!("foldstore-{name}")))
    }

    /// Where the store's own document `name` is, for messages.
    pub(crate) fn meta_location(&self, name: &str) -> String {
        self.path
            .join(format!("foldstore-{name}"))
            .display()
            .to_string()
    }

    /// The store's own document `name`, or `None`. A symbolic link, a folder or another
    /// special file there is refused, naming it.
    pub(crate) fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.meta_path(name)?;
        self.read_file(&path)
    }

    /// Saves the store's own document `name`, replacing it atomically and durably, whatever
    /// the folder's durability: a temporary file written and synced, renamed over the name
    /// (never through a symbolic link: the rename replaces the link itself), and the folder
    /// synced. On a failure before the rename nothing changed; a failed sync of the folder
    /// after it is reported, the new document being visible but perhaps not durable.
    pub(crate) fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let target = self.meta_path(name)?;
        check_document_size(bytes)?;
        if self.fs.kind(&target).ok().flatten() == Some(Kind::Folder) {
            return Err(Error::io(
                "replace",
                &target,
                io::Error::other("a folder is in the way; move it out of the store"),
            ));
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let temporary = self.path.join(format!(
            "{TEMP_PREFIX}meta-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = self.fs.write_new(&temporary, bytes, true) {
            let _ = self.fs.remove(&temporary);
            return Err(Error::io("write", &temporary, e));
        }
        if let Err(e) = self.fs.rename(&temporary, &target) {
            let _ = self.fs.remove(&temporary);
            return Err(Error::io("rename a temporary file to", &target, e));
        }
        let synced = |folder: &Path| {
            self.fs.sync_dir(folder).map_err(|e| {
                Error::io(
                    "sync (the new document is in place, but may not survive a power loss) the folder of",
                    &target,
                    e,
                )
            })
        };
        synced(&self.path)?;
        // The folder's own entry too: an archive's folder is made just before its first
        // document, and must outlive a power loss with it.
        match self
            .path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            Some(parent) if self.fs.kind(parent).ok().flatten() == Some(Kind::Folder) => {
                synced(parent)
            }
            _ => Ok(()),
        }
    }

    /// Removes temporary files older than `age`: writes that a crash interrupted before they
    /// were published. Younger ones may belong to a writer at work, and are left alone.
    /// Returns how many were removed.
    pub(crate) fn remove_stale_temporaries(&self, age: Duration) -> usize {
        remove_stale_temporaries_in(&*self.fs, &self.path, age)
    }

    /// A watch on `folder` (the store's folder, or a journal's segment folder), or `None` when
    /// it cannot be watched (subscribers then poll).
    #[cfg(feature = "watch")]
    pub(crate) fn watch_folder(
        &self,
        folder: &Path,
    ) -> Result<Option<Box<dyn crate::storage::Watch>>> {
        // A folder that does not exist yet cannot be watched: subscribers poll until it does.
        if self.fs.kind(folder).ok().flatten() != Some(Kind::Folder) {
            return Ok(None);
        }
        match super::notice::FolderWatch::new(folder) {
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

    /// Creates the folder (and its parents) if it does not exist.
    pub(crate) fn ensure_created(&self) -> Result<()> {
        if self.fs.kind(&self.path).ok().flatten() == Some(Kind::Other) {
            return Err(Error::NotAFolder {
                path: self.path.clone(),
            });
        }
        self.fs
            .create_dir_all(&self.path)
            .map_err(|e| Error::io("create the folder", &self.path, e))
    }

    /// Whether the folder exists; something else at its path is an error.
    pub(crate) fn exists(&self) -> Result<bool> {
        match self.fs.kind(&self.path) {
            Ok(Some(Kind::Folder)) => Ok(true),
            Ok(Some(Kind::Other)) => Err(Error::NotAFolder {
                path: self.path.clone(),
            }),
            Ok(None) => Ok(false),
            Err(e) => Err(Error::io("open", &self.path, e)),
        }
    }

    /// The commit files (of the loose layout), snapshots and suspicious names in the folder;
    /// empty when it does not exist.
    pub(crate) fn list(&self) -> Result<Listing> {
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
        // Names that are not Unicode are never a store's.
        let mut listing = Listing::default();
        for name in names.iter().filter_map(|name| name.to_str()) {
            listing.add_loose(name, || self.path.join(name).display().to_string());
        }
        Ok(listing.sorted())
    }

    /// Makes everything written into the folder's file system durable.
    pub(crate) fn sync_all(&self) -> Result<()> {
        self.fs
            .sync_file_system(&self.path)
            .map_err(|e| Error::io("sync the file system of", &self.path, e))
    }

    /// Where the snapshot of `name` labelled `commit` is kept.
    pub(crate) fn snapshot_path(&self, name: &str, commit: u64) -> PathBuf {
        self.path.join(snapshot_file_name(name, commit))
    }

    /// The snapshot of `name` labelled `commit`, or `None` when there is none.
    pub(crate) fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        validate_snapshot_name(name)?;
        self.read_file(&self.snapshot_path(name, commit))
    }

    /// Creates the snapshot of `name` labelled `commit`, unless one exists.
    pub(crate) fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        validate_snapshot_name(name)?;
        self.create_exclusive(&self.snapshot_path(name, commit), commit, document)
    }

    /// Where the snapshot of `name` labelled `commit` is kept, for messages.
    pub(crate) fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.snapshot_path(name, commit).display().to_string()
    }
}

/// Removes the temporary files in `folder` older than `age` (see
/// [`StoreFolder::remove_stale_temporaries`]); how many.
fn remove_stale_temporaries_in(fs: &dyn FileSystem, folder: &Path, age: Duration) -> usize {
    let Ok(names) = fs.list(folder) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for name in names {
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let path = folder.join(name);
        let stale = fs
            .modified(&path)
            .is_ok_and(|modified| now.duration_since(modified).is_ok_and(|a| a >= age));
        if stale && fs.remove(&path).is_ok() {
            tracing::info!(path = %path.display(), "removed a temporary file left by an interrupted write");
            removed += 1;
        }
    }
    removed
}

/// The error for a write that may or may not have published `target`.
fn outcome_unknown(commit: u64, target: &Path, problem: String, e: io::Error) -> Error {
    Error::OutcomeUnknown {
        commit,
        location: target.display().to_string(),
        problem: format!("{problem}: {e}"),
        source: Some(e),
    }
}
