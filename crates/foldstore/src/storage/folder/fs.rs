//! The file operations of the folder backend, behind a small interface, so that tests can
//! replace the operating system's file system with one that simulates power loss.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

/// What the folder backend needs from a file system. Every method maps to one or two system
/// calls of the real implementation, [`OsFs`].
pub(crate) trait FileSystem: Send + Sync + fmt::Debug {
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// Whether a path exists (without following a last symbolic link), and if so, whether it
    /// is a folder.
    fn kind(&self, path: &Path) -> io::Result<Option<Kind>>;

    /// When a file was last modified.
    fn modified(&self, path: &Path) -> io::Result<SystemTime>;

    /// The names in a folder.
    fn list(&self, folder: &Path) -> io::Result<Vec<OsString>>;

    /// Creates a folder and its parents.
    fn create_dir_all(&self, folder: &Path) -> io::Result<()>;

    /// Creates a new file (failing with `AlreadyExists` if the name exists), writes `bytes`
    /// and, when `sync` is set, syncs its data.
    fn write_new(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()>;

    /// Gives the file at `from` the name `to` in the same folder, unless `to` exists (then it
    /// fails with `AlreadyExists` and changes nothing). `from` no longer exists afterwards.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Makes the folder's entries durable (created, renamed and removed names).
    fn sync_dir(&self, folder: &Path) -> io::Result<()>;
}

/// The kind of an existing path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Folder,
    Other,
}

/// The operating system's file system.
#[derive(Debug, Default)]
pub(crate) struct OsFs;

impl FileSystem for OsFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn kind(&self, path: &Path) -> io::Result<Option<Kind>> {
        match fs::symlink_metadata(path) {
            Ok(meta) => {
                // A symbolic link to a folder serves as the store's folder.
                let is_dir = meta.is_dir() || (meta.is_symlink() && path.is_dir());
                Ok(Some(if is_dir { Kind::Folder } else { Kind::Other }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        fs::metadata(path)?.modified()
    }

    fn list(&self, folder: &Path) -> io::Result<Vec<OsString>> {
        fs::read_dir(folder)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect()
    }

    fn create_dir_all(&self, folder: &Path) -> io::Result<()> {
        fs::create_dir_all(folder)
    }

    fn write_new(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            // Like the original package's files: readable by whom the umask allows.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o666);
        }
        let mut file = options.open(path)?;
        let written = file
            .write_all(bytes)
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        if written.is_err() {
            drop(file);
            let _ = fs::remove_file(path);
        }
        written
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios"
        ))]
        {
            use rustix::fs::{renameat_with, RenameFlags, CWD};
            use rustix::io::Errno;
            match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                // The file system or kernel cannot: fall back to a hard link.
                Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {}
                Err(e) => return Err(e.into()),
            }
        }
        fs::hard_link(from, to)?;
        fs::remove_file(from)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, folder: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(folder)?.sync_all()
        }
        // Elsewhere a folder cannot be opened to be synced; NTFS journals its renames.
        #[cfg(not(unix))]
        {
            let _ = (folder, File::open::<&Path>);
            Ok(())
        }
    }
}
