//! What the storage tests on the simulated file system share: the folder and journal they run
//! on, a block of events logged as one commit, and macros that pass file-system and handle
//! operations on unchanged, for wrappers that change only some of them.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::storage::local::fs::FileSystem;
use crate::storage::{Durability, JournalStorage};
use crate::{Event, Store};

/// Small segments, so that a scenario rolls over to a new segment every few commits.
pub(crate) const SEGMENT_BYTES: u64 = 600;

/// The store's folder on the simulated file system.
pub(crate) fn folder() -> PathBuf {
    PathBuf::from("/store")
}

/// A journal in [`folder`] on `fs`, with segments of [`SEGMENT_BYTES`].
pub(crate) fn journal_on(fs: Arc<dyn FileSystem>, durability: Durability) -> JournalStorage {
    JournalStorage::with_file_system(folder(), durability, SEGMENT_BYTES, fs)
}

/// Logs `events` as one block, marked complete: the commit's number, as
/// [`Store::log_block`] returns it.
pub(crate) fn log_events(store: &Store, events: &[Event]) -> crate::Result<Option<u64>> {
    store.log_block(|block| {
        for event in events {
            block.log(event)?;
        }
        block.mark_as_complete();
        Ok::<_, Error>(())
    })
}

/// Reads `reader`'s commits in order from the first, checking that each has the next number,
/// and returns how many it read. A damaged commit ends the reading when `damage_allowed`, and
/// fails the test otherwise (as any other error does), saying what it was `reading`; `what`
/// names the case in every failure.
pub(crate) fn read_in_order(
    reader: &Store,
    damage_allowed: bool,
    what: &str,
    reading: &str,
) -> u64 {
    let mut read = 0;
    for commit in reader.commits(..) {
        match commit {
            Ok(commit) => {
                read += 1;
                assert_eq!(commit.number(), read, "{what}");
            }
            Err(Error::CorruptCommit { .. }) if damage_allowed => break,
            Err(e) => panic!("{what}: {reading}: {e}"),
        }
    }
    read
}

/// Implements the named [`FileSystem`] operations by passing them on, unchanged, to the
/// file system in the field `$to` (inside an `impl FileSystem` block).
macro_rules! forward_fs {
    ($to:ident: $($op:ident),+ $(,)?) => { $(forward_fs!(@ $to $op);)+ };
    (@ $to:ident read) => {
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            self.$to.read(path)
        }
    };
    (@ $to:ident kind) => {
        fn kind(&self, path: &Path) -> io::Result<Option<Kind>> {
            self.$to.kind(path)
        }
    };
    (@ $to:ident modified) => {
        fn modified(&self, path: &Path) -> io::Result<SystemTime> {
            self.$to.modified(path)
        }
    };
    (@ $to:ident list) => {
        fn list(&self, folder: &Path) -> io::Result<Vec<OsString>> {
            self.$to.list(folder)
        }
    };
    (@ $to:ident create_dir_all) => {
        fn create_dir_all(&self, folder: &Path) -> io::Result<()> {
            self.$to.create_dir_all(folder)
        }
    };
    (@ $to:ident write_new) => {
        fn write_new(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
            self.$to.write_new(path, bytes, sync)
        }
    };
    (@ $to:ident rename_noreplace) => {
        fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.$to.rename_noreplace(from, to)
        }
    };
    (@ $to:ident rename) => {
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.$to.rename(from, to)
        }
    };
    (@ $to:ident is_link) => {
        fn is_link(&self, path: &Path) -> io::Result<bool> {
            self.$to.is_link(path)
        }
    };
    (@ $to:ident remove) => {
        fn remove(&self, path: &Path) -> io::Result<()> {
            self.$to.remove(path)
        }
    };
    (@ $to:ident sync_dir) => {
        fn sync_dir(&self, folder: &Path) -> io::Result<()> {
            self.$to.sync_dir(folder)
        }
    };
}
pub(crate) use forward_fs;

/// Implements the named [`Handle`](crate::storage::local::fs::Handle) operations by passing
/// them on, unchanged, to the handle in the field `$to` (inside an `impl Handle` block).
macro_rules! forward_handle {
    ($to:ident: $($op:ident),+ $(,)?) => { $(forward_handle!(@ $to $op);)+ };
    (@ $to:ident read_at) => {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.$to.read_at(buf, offset)
        }
    };
    (@ $to:ident len) => {
        fn len(&self) -> io::Result<u64> {
            self.$to.len()
        }
    };
    (@ $to:ident set_len) => {
        fn set_len(&self, len: u64) -> io::Result<()> {
            self.$to.set_len(len)
        }
    };
    (@ $to:ident sync_data) => {
        fn sync_data(&self) -> io::Result<()> {
            self.$to.sync_data()
        }
    };
    (@ $to:ident modified) => {
        fn modified(&self) -> io::Result<SystemTime> {
            self.$to.modified()
        }
    };
    (@ $to:ident lock) => {
        fn lock(&self) -> io::Result<()> {
            self.$to.lock()
        }
    };
    (@ $to:ident unlock) => {
        fn unlock(&self) -> io::Result<()> {
            self.$to.unlock()
        }
    };
}
pub(crate) use forward_handle;
