//! What both layouts of a store in a local folder share: the loose layout (`storage/loose`)
//! and the journal (`storage/journal`) each sit on this room, and neither imports the other.
//!
//! - [`fs`]: the file-system seam every file of a local store is opened through, and the
//!   operating system's implementation; in tests, `sim` simulates power loss and `faults`
//!   injects failures through the same seam.
//! - The names of a store's files (commits, snapshots, temporary files, the quarantine folder,
//!   the journal's marker) are in [`storage::names`](crate::storage::names), which the object
//!   backend shares.
//! - [`store_folder`]: the store's folder itself: made and checked, its snapshots, its
//!   temporary files, its quarantine, and watches on it.
//! - [`Durability`], and syncing one folder ([`sync_dir`]); a whole file system is synced
//!   through the seam ([`FileSystem::sync_file_system`](fs::FileSystem::sync_file_system)).

#[cfg(test)]
pub(crate) mod faults;
pub(crate) mod fs;
#[cfg(feature = "watch")]
mod notice;
#[cfg(test)]
pub(crate) mod sim;
pub(crate) mod store_folder;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// `path` made absolute against the working folder of the moment (without resolving symbolic
/// links), so that a store or key folder opened by a relative path stays where it was opened
/// when the process changes its working folder later: every file of it is opened by a path
/// joined to this one. A path that cannot be made absolute (empty, or no working folder) is
/// kept as given, and fails where it is used.
pub(crate) fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::path::absolute(&path).unwrap_or(path)
}

/// Makes the entries of `folder` (names created, renamed and removed in it) durable. Where a
/// folder cannot be opened to be synced (not Unix), it does nothing: NTFS journals its renames.
///
/// # Errors
/// When the folder cannot be opened or synced.
pub(crate) fn sync_dir(folder: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(folder)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = folder;
        Ok(())
    }
}
