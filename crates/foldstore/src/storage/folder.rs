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

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::{check_commit_number, validate_snapshot_name, Conflict, Listing, Storage};
use crate::error::{Error, Result};

/// The prefix of the temporary files foldstore writes into a store's folder.
pub const TEMP_PREFIX: &str = ".foldstore-tmp-";

/// How hard a folder store works to make a commit survive a power loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Sync each commit file and then the folder before the write call returns: an
    /// acknowledged commit survives power loss. The default.
    #[default]
    Immediate,
    /// No syncs: commits are still atomic and survive a crash of the process, but the last
    /// ones may be lost (never torn) if the machine loses power. Chosen on purpose for speed.
    None,
}

/// A store kept in a folder, in the original package's layout.
#[derive(Clone, Debug)]
pub struct FolderStorage {
    path: PathBuf,
    durability: Durability,
}

impl FolderStorage {
    /// A folder backend at `path` (which need not exist yet), with [`Durability::Immediate`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::with_durability(path, Durability::default())
    }

    /// A folder backend at `path` with the given durability.
    pub fn with_durability(path: impl Into<PathBuf>, durability: Durability) -> Self {
        FolderStorage {
            path: path.into(),
            durability,
        }
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
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Writes `document` into a new temporary file in the folder, synced if durable.
    fn write_temporary(&self, document: &[u8]) -> Result<NamedTempFile> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        #[cfg(unix)]
        {
            // Like the original package's files: readable by the other users the umask allows.
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let mut file = builder.tempfile_in(&self.path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::StoreMissing {
                    path: self.path.clone(),
                }
            } else {
                Error::io("create a temporary file in", &self.path, e)
            }
        })?;
        file.write_all(document)
            .map_err(|e| Error::io("write", file.path(), e))?;
        if self.durability == Durability::Immediate {
            file.as_file()
                .sync_data()
                .map_err(|e| Error::io("sync", file.path(), e))?;
        }
        Ok(file)
    }

    /// Publishes `file` as `target` unless `target` exists; gives the file back on a conflict.
    fn publish(&self, file: NamedTempFile, target: &Path) -> Result<Option<NamedTempFile>> {
        match file.persist_noclobber(target) {
            Ok(_) => {
                self.sync_folder()?;
                Ok(None)
            }
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(Some(e.file)),
            Err(e) => Err(Error::io("publish", target, e.error)),
        }
    }

    /// Creates `target` holding `document` unless it exists (then: a conflict on `commit`).
    fn create_exclusive(
        &self,
        target: &Path,
        commit: u64,
        document: &[u8],
    ) -> Result<Result<(), Conflict>> {
        let file = self.write_temporary(document)?;
        match self.publish(file, target)? {
            None => Ok(Ok(())),
            // Dropping the temporary file given back removes it.
            Some(_) => Ok(Err(Conflict { commit })),
        }
    }

    fn sync_folder(&self) -> Result<()> {
        if self.durability != Durability::Immediate {
            return Ok(());
        }
        #[cfg(unix)]
        {
            File::open(&self.path)
                .and_then(|folder| folder.sync_all())
                .map_err(|e| Error::io("sync the folder", &self.path, e))?;
        }
        // Elsewhere a folder cannot be opened for syncing; the rename is journaled by NTFS.
        #[cfg(not(unix))]
        let _ = File::open;
        Ok(())
    }
}

impl Storage for FolderStorage {
    fn ensure_created(&self) -> Result<()> {
        match fs::create_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(_) if self.path.exists() && !self.path.is_dir() => Err(Error::NotAFolder {
                path: self.path.clone(),
            }),
            Err(e) => Err(Error::io("create the folder", &self.path, e)),
        }
    }

    fn exists(&self) -> Result<bool> {
        match fs::metadata(&self.path) {
            Ok(meta) if meta.is_dir() => Ok(true),
            Ok(_) => Err(Error::NotAFolder {
                path: self.path.clone(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("open", &self.path, e)),
        }
    }

    fn list(&self) -> Result<Listing> {
        let entries = match fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Listing::default()),
            Err(e) if !self.path.is_dir() && self.path.exists() => {
                tracing::debug!(error = %e, "listing a path that is not a folder");
                return Err(Error::NotAFolder {
                    path: self.path.clone(),
                });
            }
            Err(e) => return Err(Error::io("list", &self.path, e)),
        };
        let mut listing = Listing::default();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &self.path, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            match classify(&name) {
                Entry::Commit(number) => listing.commits.push(number),
                Entry::Snapshot(snapshot, commit) => listing.snapshots.push((snapshot, commit)),
                Entry::Suspicious(why) => listing
                    .suspicious
                    .push((self.path.join(&name).display().to_string(), why)),
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

    fn commit_exists(&self, number: u64) -> Result<bool> {
        if number == 0 {
            return Ok(false);
        }
        let path = self.commit_path(number);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("look for", path, e)),
        }
    }

    fn commit_modified(&self, number: u64) -> Result<Option<std::time::SystemTime>> {
        let path = self.commit_path(number);
        match fs::metadata(&path).and_then(|meta| meta.modified()) {
            Ok(time) => Ok(Some(time)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("look at", path, e)),
        }
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Result<Result<(), Conflict>> {
        check_commit_number(number)?;
        self.create_exclusive(&self.commit_path(number), number, document)
    }

    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        let mut file = self.write_temporary(document)?;
        let mut number = first.max(1);
        loop {
            match self.publish(file, &self.commit_path(number))? {
                None => return Ok(number),
                Some(back) => {
                    tracing::trace!(commit = number, "commit taken by another writer");
                    file = back;
                    number += 1;
                }
            }
        }
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

    fn commit_location(&self, number: u64) -> String {
        self.commit_path(number).display().to_string()
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.snapshot_path(name, commit).display().to_string()
    }
}

/// What a file name in a store's folder is.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Commit(u64),
    Snapshot(String, u64),
    Suspicious(String),
    Other,
}

/// A canonical commit number: digits, no leading zero, not zero, fits in a `u64`.
fn canonical_number(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    if canonical {
        text.parse().ok()
    } else {
        None
    }
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

fn classify(name: &str) -> Entry {
    if name.starts_with(TEMP_PREFIX) {
        return Entry::Other;
    }
    if let Some(stem) = name.strip_suffix(".log") {
        if let Some(number) = canonical_number(stem) {
            return Entry::Commit(number);
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
        ] {
            assert!(
                matches!(classify(suspicious), Entry::Suspicious(_)),
                "{suspicious}"
            );
        }
    }
}
