//! A backend that counts what is asked of it: its live watches, and every read and write with
//! the commit read and the thread that asked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, SystemTime};

use foldstore::Listing;
use foldstore::{Conflict, MemoryStorage, Storage, Watch};

/// A memory backend that counts its live watches and records every read and write: see
/// [`CountedOn`].
pub type Counted = CountedOn<MemoryStorage>;

/// A backend that counts its live watches (one per live subscription: a subscriber's or
/// follower's thread holds one until it ends) and records every read and write, with the
/// commit read.
#[derive(Clone, Debug, Default)]
pub struct CountedOn<S> {
    /// The backend it counts for (clones of a memory backend share it).
    pub inner: S,
    live_watches: Arc<AtomicUsize>,
    /// Every read or write of the backend (watches aside), with the commit it read (for
    /// `read_commit`) and the thread that made it.
    calls: Arc<Mutex<Vec<Call>>>,
}

/// A call on a [`CountedOn`] backend: its name, the commit it read (for `read_commit`) and the
/// thread that made it.
type Call = (&'static str, Option<u64>, ThreadId);

impl<S> CountedOn<S> {
    /// Counts for `inner`.
    pub fn new(inner: S) -> Self {
        CountedOn {
            inner,
            live_watches: Arc::default(),
            calls: Arc::default(),
        }
    }

    /// The watches alive now.
    pub fn live_watches(&self) -> usize {
        self.live_watches.load(Ordering::SeqCst)
    }

    /// Every call recorded so far.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(call, _, _)| *call)
            .collect()
    }

    /// How many times the backend was read (listed, or a commit read or looked for).
    pub fn reads(&self) -> usize {
        self.calls()
            .iter()
            .filter(|call| matches!(**call, "list" | "read_commit" | "commit_exists"))
            .count()
    }

    /// How many times commit `number` was read.
    pub fn reads_of_commit(&self, number: u64) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(call, commit, _)| *call == "read_commit" && *commit == Some(number))
            .count()
    }

    fn record(&self, call: &'static str) {
        self.record_on(call, None);
    }

    fn record_on(&self, call: &'static str, commit: Option<u64>) {
        self.calls
            .lock()
            .unwrap()
            .push((call, commit, std::thread::current().id()));
    }

    /// The calls made on `thread`.
    pub fn calls_on(&self, thread: ThreadId) -> Vec<&'static str> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, on)| *on == thread)
            .map(|(call, _, _)| *call)
            .collect()
    }
}

struct CountedWatch {
    inner: Box<dyn Watch>,
    live: Arc<AtomicUsize>,
}

impl Watch for CountedWatch {
    fn wait(&mut self, timeout: Duration) -> bool {
        self.inner.wait(timeout)
    }
}

impl Drop for CountedWatch {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S: Storage> Storage for CountedOn<S> {
    fn ensure_created(&self) -> foldstore::Result<()> {
        self.inner.ensure_created()
    }

    fn exists(&self) -> foldstore::Result<bool> {
        self.inner.exists()
    }

    fn list(&self) -> foldstore::Result<Listing> {
        self.record("list");
        self.inner.list()
    }

    fn read_commit(&self, number: u64) -> foldstore::Result<Option<Vec<u8>>> {
        self.record_on("read_commit", Some(number));
        self.inner.read_commit(number)
    }

    fn commit_exists(&self, number: u64) -> foldstore::Result<bool> {
        self.record("commit_exists");
        self.inner.commit_exists(number)
    }

    fn commit_modified(&self, number: u64) -> foldstore::Result<Option<SystemTime>> {
        self.inner.commit_modified(number)
    }

    fn create_commit(
        &self,
        number: u64,
        document: &[u8],
    ) -> foldstore::Result<Result<(), Conflict>> {
        self.record("create_commit");
        self.inner.create_commit(number, document)
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> foldstore::Result<Option<Vec<u8>>> {
        self.record("read_snapshot");
        self.inner.read_snapshot(name, commit)
    }

    fn create_snapshot(
        &self,
        name: &str,
        commit: u64,
        document: &[u8],
    ) -> foldstore::Result<Result<(), Conflict>> {
        self.record("create_snapshot");
        self.inner.create_snapshot(name, commit, document)
    }

    fn watch(&self) -> foldstore::Result<Option<Box<dyn Watch>>> {
        Ok(self.inner.watch()?.map(|inner| {
            self.live_watches.fetch_add(1, Ordering::SeqCst);
            Box::new(CountedWatch {
                inner,
                live: Arc::clone(&self.live_watches),
            }) as Box<dyn Watch>
        }))
    }

    fn commit_location(&self, number: u64) -> String {
        self.inner.commit_location(number)
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.inner.snapshot_location(name, commit)
    }
}
