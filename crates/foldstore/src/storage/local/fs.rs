//! The file operations of the local-folder backends (both layouts), behind a small interface, so
//! that tests can replace the operating system's file system with one that simulates power
//! loss or injects faults.
//!
//! # Opening files safely
//! Every file a store opens may be something else than a file another foldstore wrote: a
//! symbolic link (perhaps to a file outside the store), a FIFO (whose opening or reading would
//! wait for a writer forever), a socket, a device, a folder, or a huge sparse file. [`OsFs`]
//! therefore opens files without following a last symbolic link and without blocking
//! (`O_NOFOLLOW | O_NONBLOCK`), and refuses anything that is not a regular file before reading
//! or writing a byte of it, with an error that names the file and says what it is
//! ([`not_regular`]). Reading a whole file refuses one larger than [`MAX_DOCUMENT_BYTES`]. The
//! store's own folder may be a symbolic link (it is the path the user gave); the names inside it
//! may not.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::storage::MAX_DOCUMENT_BYTES;

/// What the folder backends need from a file system. Every method maps to one or a few system
/// calls of the real implementation, [`OsFs`].
pub(crate) trait FileSystem: Send + Sync + fmt::Debug {
    /// The whole content of a regular file (see the module's docs on opening safely).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// Whether a path exists (without following a last symbolic link), and if so, whether it
    /// is a folder.
    fn kind(&self, path: &Path) -> io::Result<Option<Kind>>;

    /// Whether a path exists, asked without asking for the file's times (which would make its
    /// next write more costly: see [`Handle::len`]).
    fn exists(&self, path: &Path) -> io::Result<bool> {
        Ok(self.kind(path)?.is_some())
    }

    /// When a file was last modified (without following a last symbolic link).
    fn modified(&self, path: &Path) -> io::Result<SystemTime>;

    /// The names in a folder.
    fn list(&self, folder: &Path) -> io::Result<Vec<OsString>>;

    /// Creates a folder and its parents.
    fn create_dir_all(&self, folder: &Path) -> io::Result<()>;

    /// Creates a new file (failing with `AlreadyExists` if the name exists), writes `bytes`
    /// and, when `sync` is set, syncs its data. On failure, the new file is removed again.
    fn write_new(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()>;

    /// Gives the file at `from` the name `to` in the same folder, unless `to` exists (then it
    /// fails with `AlreadyExists` and changes nothing). `from` no longer exists afterwards.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Gives the file at `from` the name `to` in the same folder, replacing what `to` names.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Whether `path` is a symbolic link (false when it does not exist).
    fn is_link(&self, path: &Path) -> io::Result<bool>;

    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Makes the folder's entries durable (created, renamed and removed names).
    fn sync_dir(&self, folder: &Path) -> io::Result<()>;

    /// Makes everything written into the file system holding `folder` durable: every file's
    /// data and every folder's entries (`syncfs`). Wrappers that do not say otherwise sync the
    /// folder itself.
    fn sync_file_system(&self, folder: &Path) -> io::Result<()> {
        self.sync_dir(folder)
    }

    /// Opens a regular file for positional reads and writes, as `mode` says.
    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>>;

    /// An id of the machine's current boot, without spaces (`None`: unknown). Writes that
    /// were not synced before a power loss or a restart are lost, so what a process of an
    /// earlier boot noted as synced says nothing: the journal's synced mark is trusted only in
    /// the boot it was written in.
    fn boot_id(&self) -> Option<String> {
        None
    }
}

/// A file's identity on its machine: the device and the inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    pub(crate) device: u64,
    pub(crate) inode: u64,
}

/// How [`FileSystem::open`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Open {
    /// An existing file, to read.
    Read,
    /// An existing file, to read and write.
    Write,
    /// A new file, to read and write; fails with `AlreadyExists` if the name exists.
    CreateNew,
    /// A file to read and write, created if the name does not exist.
    ReadWriteCreate,
}

/// An open regular file.
pub(crate) trait Handle: Send + Sync + fmt::Debug {
    /// Reads into `buf` from `offset`; returns how much was read (0 at the end of the file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Writes all of `bytes` at `offset`.
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()>;

    /// The file's size.
    fn len(&self) -> io::Result<u64>;

    /// Cuts the file to `len` bytes (or extends it with zeros).
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Makes the file's data (and size) durable.
    fn sync_data(&self) -> io::Result<()>;

    /// When the file was last modified.
    fn modified(&self) -> io::Result<SystemTime>;

    /// Reserves disk space for `len` bytes from `offset` without changing the file's size
    /// (`fallocate` with `FALLOC_FL_KEEP_SIZE`), so that a later write there cannot fail for
    /// want of space. `Ok` where the file system cannot reserve (nothing is promised then);
    /// a full disk is an error.
    fn reserve(&self, offset: u64, len: u64) -> io::Result<()> {
        let _ = (offset, len);
        Ok(())
    }

    /// Takes the exclusive advisory lock of the file (`flock`), waiting for it.
    fn lock(&self) -> io::Result<()>;

    /// Releases the lock taken by [`lock`](Handle::lock).
    fn unlock(&self) -> io::Result<()>;

    /// The file's identity, as it was when it was opened (`None`: unknown).
    fn identity(&self) -> Option<FileId> {
        None
    }

    /// How many names the file had when it was opened (`None`: unknown).
    fn links(&self) -> Option<u64> {
        None
    }
}

/// The kind of an existing path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Folder,
    Other,
}

/// The error for a path that is not a regular file: what it is, and what to do.
pub(crate) fn not_regular(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is {what}, not a regular file: foldstore reads and writes only regular files inside a store (and never follows a symbolic link there); move it out of the store",
            path.display()
        ),
    )
}

/// The error for a file larger than any document foldstore reads.
pub(crate) fn too_large(path: &Path, size: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is {size} bytes, larger than any document foldstore reads or writes ({MAX_DOCUMENT_BYTES} bytes): it was not written by foldstore or the original package",
            path.display()
        ),
    )
}

/// What a file type is, for messages.
fn describe(file_type: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` without following a last symbolic link and without waiting (a FIFO would),
/// and refuses it unless it is a regular file; returns it with its metadata.
pub(crate) fn open_regular(
    path: &Path,
    options: &mut OpenOptions,
) -> io::Result<(File, fs::Metadata)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        options.custom_flags(i32::try_from(flags.bits()).unwrap_or(0));
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) => {
            // ELOOP from O_NOFOLLOW (and ENXIO for a FIFO opened to write without a reader):
            // say what the name is.
            if e.kind() != io::ErrorKind::NotFound && e.kind() != io::ErrorKind::AlreadyExists {
                if let Ok(meta) = fs::symlink_metadata(path) {
                    if !meta.is_file() {
                        return Err(not_regular(path, describe(meta.file_type())));
                    }
                }
            }
            return Err(e);
        }
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(path, describe(meta.file_type())));
    }
    // A regular file: reads and writes wait as usual from here on.
    #[cfg(unix)]
    {
        // Clears O_NONBLOCK (the only status flag set here).
        rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())?;
    }
    Ok((file, meta))
}

/// The operating system's file system.
#[derive(Debug, Default)]
pub(crate) struct OsFs;

impl FileSystem for OsFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let (mut file, meta) = open_regular(path, OpenOptions::new().read(true))?;
        let size = meta.len();
        if size > MAX_DOCUMENT_BYTES {
            return Err(too_large(path, size));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // Bounded even if the file grows while it is read.
        (&mut file)
            .take(MAX_DOCUMENT_BYTES + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(too_large(path, bytes.len() as u64));
        }
        Ok(bytes)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        #[cfg(unix)]
        {
            use rustix::fs::{access, accessat, Access, AtFlags, CWD};
            use rustix::io::Errno;
            // With the effective ids, as opening the file would; where `faccessat2` is
            // refused (old kernels, some container profiles), with the real ones.
            let looked = match accessat(CWD, path, Access::EXISTS, AtFlags::EACCESS) {
                Err(Errno::NOSYS | Errno::PERM) => access(path, Access::EXISTS),
                looked => looked,
            };
            match looked {
                Ok(()) => Ok(true),
                Err(Errno::NOENT) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        #[cfg(not(unix))]
        {
            Ok(self.kind(path)?.is_some())
        }
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
        fs::symlink_metadata(path)?.modified()
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

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn is_link(&self, path: &Path) -> io::Result<bool> {
        match fs::symlink_metadata(path) {
            Ok(meta) => Ok(meta.is_symlink()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, folder: &Path) -> io::Result<()> {
        super::sync_dir(folder)
    }

    fn sync_file_system(&self, folder: &Path) -> io::Result<()> {
        let dir = fs::File::open(folder)?;
        #[cfg(target_os = "linux")]
        {
            rustix::fs::syncfs(&dir).map_err(io::Error::from)
        }
        #[cfg(not(target_os = "linux"))]
        {
            // Without syncfs: the folder itself; files are synced by the platform's own means.
            dir.sync_all()
        }
    }

    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        let mut options = OpenOptions::new();
        match mode {
            Open::Read => options.read(true),
            Open::Write => options.read(true).write(true),
            Open::CreateNew => options.read(true).write(true).create_new(true),
            Open::ReadWriteCreate => options.read(true).write(true).create(true),
        };
        #[cfg(unix)]
        if matches!(mode, Open::CreateNew | Open::ReadWriteCreate) {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o666);
        }
        let (file, meta) = open_regular(path, &mut options)?;
        #[cfg(unix)]
        let (id, links) = {
            use std::os::unix::fs::MetadataExt;
            let id = FileId {
                device: meta.dev(),
                inode: meta.ino(),
            };
            (Some(id), Some(meta.nlink()))
        };
        #[cfg(not(unix))]
        let (id, links) = {
            let _ = meta;
            (None, None)
        };
        Ok(Arc::new(OsFile { file, id, links }))
    }

    fn boot_id(&self) -> Option<String> {
        static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        BOOT.get_or_init(|| {
            let id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            let id = id.trim();
            (!id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
            .then(|| id.to_owned())
        })
        .clone()
    }
}

/// A file of the operating system's file system, with its identity and number of names as
/// they were when it was opened (not asked again: asking for a file's times makes its next
/// write costlier, see [`Handle::len`]).
#[derive(Debug)]
pub(crate) struct OsFile {
    file: File,
    id: Option<FileId>,
    links: Option<u64>,
}

impl Handle for OsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            std::os::windows::fs::FileExt::seek_read(&self.file, buf, offset)
        }
    }

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(&self.file, bytes, offset)
        }
        #[cfg(windows)]
        {
            let (mut bytes, mut offset) = (bytes, offset);
            while !bytes.is_empty() {
                let n = std::os::windows::fs::FileExt::seek_write(&self.file, bytes, offset)?;
                bytes = &bytes[n..];
                offset += n as u64;
            }
            Ok(())
        }
    }

    fn len(&self) -> io::Result<u64> {
        // The end found by seeking, not by fstat: asking for the file's times (as fstat does)
        // makes the kernel give its next write a fine-grained time, which dirties the inode on
        // every write and every read after it (multigrain timestamps): a third more time per
        // unsynced journal append here. Reads and writes are positional, so the file offset
        // this moves is never used.
        #[cfg(unix)]
        {
            rustix::fs::seek(&self.file, rustix::fs::SeekFrom::End(0)).map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            Ok(self.file.metadata()?.len())
        }
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn modified(&self) -> io::Result<SystemTime> {
        self.file.metadata()?.modified()
    }

    fn reserve(&self, offset: u64, len: u64) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::io::Errno;
            match rustix::fs::fallocate(
                &self.file,
                rustix::fs::FallocateFlags::KEEP_SIZE,
                offset,
                len,
            ) {
                Ok(()) | Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = (offset, len);
            Ok(())
        }
    }

    fn lock(&self) -> io::Result<()> {
        #[cfg(unix)]
        loop {
            // A signal interrupts the wait: waited for again.
            match rustix::fs::flock(&self.file, rustix::fs::FlockOperation::LockExclusive) {
                Err(rustix::io::Errno::INTR) => {}
                locked => return locked.map_err(io::Error::from),
            }
        }
        // Without `flock`, only the writers of one process are kept apart.
        #[cfg(not(unix))]
        {
            Ok(())
        }
    }

    fn unlock(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            rustix::fs::flock(&self.file, rustix::fs::FlockOperation::Unlock)
                .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            Ok(())
        }
    }

    fn identity(&self) -> Option<FileId> {
        self.id
    }

    fn links(&self) -> Option<u64> {
        self.links
    }
}
