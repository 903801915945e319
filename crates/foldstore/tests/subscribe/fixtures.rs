//! The writer processes' settings, and the stores and subscriptions the topics share.

use std::path::PathBuf;
use std::time::Duration;

use foldstore::{Commit, Event, MemoryStorage, Store, Subscription};
use tempfile::TempDir;

/// Only to fail a test that hangs: nothing here waits for a commit that is not coming.
pub(crate) const HANG: Duration = Duration::from_secs(60);

/// The store folder a writer process writes to; absent in a normal test run.
pub(crate) const CHILD_FOLDER: &str = "FOLDSTORE_SUBSCRIBE_CHILD_FOLDER";
/// The writer's number, from 0.
pub(crate) const CHILD_ID: &str = "FOLDSTORE_SUBSCRIBE_CHILD_ID";
/// How many events the writer logs.
pub(crate) const CHILD_EVENTS: &str = "FOLDSTORE_SUBSCRIBE_CHILD_EVENTS";
/// Optional: after this many events the writer waits for the file [`CHILD_GATE`] to exist.
pub(crate) const CHILD_PAUSE_AFTER: &str = "FOLDSTORE_SUBSCRIBE_CHILD_PAUSE_AFTER";
/// The gate file of [`CHILD_PAUSE_AFTER`].
pub(crate) const CHILD_GATE: &str = "FOLDSTORE_SUBSCRIBE_CHILD_GATE";
/// The writer's test name (see `common::workers::test_name`).
pub(crate) const WORKER_TEST: &str = "writer_worker";

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Two stores on one log: `subscriber` subscribes, `writer` writes, as two processes would.
pub(crate) struct Fixture {
    pub(crate) _temp: Option<TempDir>,
    pub(crate) folder: Option<PathBuf>,
    pub(crate) subscriber: Store,
    pub(crate) writer: Store,
    /// The raw backend, to damage commits (the memory backend only).
    pub(crate) memory: Option<MemoryStorage>,
}

pub(crate) fn memory_fixture() -> Fixture {
    let storage = MemoryStorage::new();
    Fixture {
        _temp: None,
        folder: None,
        subscriber: Store::with_storage(storage.clone()),
        writer: Store::with_storage(storage.clone()),
        memory: Some(storage),
    }
}

pub(crate) fn folder_fixture() -> Fixture {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let subscriber = Store::open(&folder).unwrap();
    subscriber.ensure_folder().unwrap();
    let writer = Store::open(&folder).unwrap();
    Fixture {
        _temp: Some(temp),
        folder: Some(folder),
        subscriber,
        writer,
        memory: None,
    }
}

pub(crate) fn both() -> [(&'static str, Fixture); 2] {
    [("memory", memory_fixture()), ("folder", folder_fixture())]
}

pub(crate) fn log_names(store: &Store, names: &[&str]) {
    for name in names {
        store.log(&Event::new(*name)).unwrap();
    }
}

pub(crate) fn name_of(commit: &Commit) -> &str {
    assert_eq!(commit.events().len(), 1, "{commit:?}");
    commit.events()[0].name()
}

/// The next commit, which must come (the deadline only fails a hang).
pub(crate) fn next_within_hang(subscription: &mut Subscription) -> Commit {
    subscription
        .next_timeout(HANG)
        .unwrap()
        .expect("a commit that was written never arrived")
}
