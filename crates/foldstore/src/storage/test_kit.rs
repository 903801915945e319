//! What the storage tests on the simulated file system share: the folder and journal they run
//! on, a block of events logged as one commit, the scenario of the power-loss tests of both
//! layouts and its checks, macros that pass file-system and handle operations on unchanged, for
//! wrappers that change only some of them, and such a wrapper counting the bytes read.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use crate::error::Error;
use crate::event::Event;
use crate::storage::local::fs::{FileSystem, Handle, Kind, Open};
use crate::storage::local::sim::SimFs;
use crate::storage::{Durability, JournalStorage};
use crate::store::Store;

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
pub(crate) fn log_events(store: &Store, events: &[Event]) -> crate::error::Result<Option<u64>> {
    store.log_block(|block| {
        for event in events {
            block.log(event)?;
        }
        block.mark_as_complete();
        Ok::<_, Error>(())
    })
}

/// Threads logging at once in a [`Step::Group`].
pub(crate) const THREADS: u64 = 3;

/// Commits each of them logs.
pub(crate) const PER_THREAD: u64 = 2;

/// A step of the power-loss scenario.
pub(crate) enum Step {
    Log(Event),
    Block(Vec<Event>),
    /// [`THREADS`] threads each logging [`PER_THREAD`] single events at once.
    Group,
    Snapshot(&'static str),
}

/// The event thread `thread` logs `i`th in a [`Step::Group`].
pub(crate) fn grouped(thread: u64, i: u64) -> Event {
    Event::with_data("grouped", json!({"thread": thread, "i": i}))
}

/// The power-loss scenario: an account opened, a block of two events, a snapshot, a single
/// event, a closing block, a snapshot. With `groups` (the journal's, whose writers write group
/// commits and roll segments over), a [`Step::Group`] after each snapshot, a third event in the
/// closing block, and a last single event.
pub(crate) fn scenario(groups: bool) -> Vec<Step> {
    let mut steps = vec![
        Step::Log(Event::with_data(
            "opened",
            json!({"account": "a", "balance": 10}),
        )),
        Step::Block(vec![
            Event::with_data("withdrawn", json!({"account": "a", "amount": 3})),
            Event::with_data("deposited", json!({"account": "b", "amount": 3})),
        ]),
        Step::Snapshot("accounts"),
    ];
    if groups {
        steps.push(Step::Group);
    }
    steps.push(Step::Log(Event::new("heartbeat")));
    let mut closing = vec![
        Event::with_data("closed", json!(null)),
        Event::new("audited"),
    ];
    if groups {
        closing.push(Event::with_data(
            "note",
            json!({"text": "a longer event, to fill the segment"}),
        ));
    }
    steps.push(Step::Block(closing));
    steps.push(Step::Snapshot("accounts"));
    if groups {
        steps.push(Step::Group);
        steps.push(Step::Log(Event::with_data(
            "last",
            json!({"of": "the scenario"}),
        )));
    }
    steps
}

/// Every commit [`scenario`]`(groups)` tries to write (each one distinct), as its events.
pub(crate) fn possible_commits(groups: bool) -> Vec<Vec<Event>> {
    let mut possible = Vec::new();
    let mut group = 0;
    for step in scenario(groups) {
        match step {
            Step::Log(event) => possible.push(vec![event]),
            Step::Block(events) => possible.push(events),
            Step::Group => {
                for thread in 0..THREADS {
                    for i in 0..PER_THREAD {
                        possible.push(vec![grouped(group * THREADS + thread, i)]);
                    }
                }
                group += 1;
            }
            Step::Snapshot(_) => {}
        }
    }
    possible
}

/// Checks that `store` holds every acknowledged commit, with its events, and every
/// acknowledged label of the scenario's snapshots; `what` names the case in every failure.
pub(crate) fn assert_acknowledged_kept(
    store: &Store,
    commits: &BTreeMap<u64, Vec<Event>>,
    snapshots: &[u64],
    what: &str,
) {
    for (number, events) in commits {
        let commit = store
            .read_commit(*number)
            .unwrap_or_else(|e| panic!("{what}: acknowledged commit {number} lost: {e}"));
        assert_eq!(
            commit.events(),
            events.as_slice(),
            "{what}: commit {number}"
        );
    }
    let labels = store.snapshot_labels("accounts").unwrap();
    for label in snapshots {
        assert!(
            labels.contains(label),
            "{what}: acknowledged snapshot {label} lost"
        );
    }
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
    (@ $to:ident boot_id) => {
        fn boot_id(&self) -> Option<String> {
            self.$to.boot_id()
        }
    };
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
    (@ $to:ident identity) => {
        fn identity(&self) -> Option<$crate::storage::local::fs::FileId> {
            self.$to.identity()
        }
        fn links(&self) -> Option<u64> {
            self.$to.links()
        }
    };
}
pub(crate) use forward_handle;

/// The simulated file system, counting the bytes its handles read.
#[derive(Debug)]
pub(crate) struct Counting {
    pub(crate) sim: Arc<SimFs>,
    /// The bytes read so far, through every handle.
    pub(crate) read: Arc<AtomicU64>,
}

impl FileSystem for Counting {
    forward_fs!(sim: read, kind, modified, list, create_dir_all, write_new, rename_noreplace,
        rename, is_link, remove, sync_dir);

    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        Ok(Arc::new(CountingHandle {
            inner: self.sim.open(path, mode)?,
            read: Arc::clone(&self.read),
        }))
    }
}

#[derive(Debug)]
struct CountingHandle {
    inner: Arc<dyn Handle>,
    read: Arc<AtomicU64>,
}

impl Handle for CountingHandle {
    forward_handle!(inner: len, set_len, sync_data, modified, lock, unlock);

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_all_at(bytes, offset)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let read = self.inner.read_at(buf, offset)?;
        self.read.fetch_add(read as u64, Ordering::SeqCst);
        Ok(read)
    }
}
