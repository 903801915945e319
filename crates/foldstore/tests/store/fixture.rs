//! The places a store lives in (a memory backend, a folder), each a `Fixture` the generic tests run
//! on, and small helpers they share.

use std::fs;
use std::path::PathBuf;

use foldstore::{Event, Headers, MemoryStorage, Store, StoreBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tempfile::TempDir;

/// A place a store lives in: several [`Store`] instances opened on one fixture share the log,
/// like several processes on one folder.
pub(crate) trait Fixture {
    /// A fresh, empty place (for a folder: the folder exists).
    fn new() -> Self;
    /// A builder for a store on this place.
    fn builder(&self) -> StoreBuilder;
    /// Opens a new instance of the store.
    fn open(&self) -> Store {
        self.builder().open().expect("open the store")
    }
}

/// Stores on clones of one [`MemoryStorage`].
pub(crate) struct Memory(MemoryStorage);

impl Fixture for Memory {
    fn new() -> Self {
        Memory(MemoryStorage::new())
    }

    fn builder(&self) -> StoreBuilder {
        Store::builder("in-memory").storage(self.0.clone())
    }
}

/// Stores on one folder in a temporary folder.
pub(crate) struct Folder {
    pub(crate) _dir: TempDir,
    pub(crate) path: PathBuf,
}

impl Fixture for Folder {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("store");
        fs::create_dir(&path).expect("create the store's folder");
        Folder { _dir: dir, path }
    }

    fn builder(&self) -> StoreBuilder {
        Store::builder(&self.path)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub(crate) enum MemberEvent {
    NewMemberRegistered { name: String, address: String },
    MemberHasMoved { name: String, address: String },
    Heartbeat,
}

pub(crate) fn registered(name: &str) -> MemberEvent {
    MemberEvent::NewMemberRegistered {
        name: name.to_owned(),
        address: "neverland".to_owned(),
    }
}

/// Every event of a full replay, with its headers.
pub(crate) fn replay_all(store: &Store) -> Vec<(Event, Headers)> {
    let mut seen = Vec::new();
    store
        .replay_event_stream(|event, headers| seen.push((event.clone(), headers.clone())))
        .expect("replay");
    seen
}

pub(crate) fn names(store: &Store) -> Vec<String> {
    replay_all(store)
        .into_iter()
        .map(|(event, _)| event.name().to_owned())
        .collect()
}

/// Logs events `e1`, `e2`, ... `e{count}`, one per commit.
pub(crate) fn log_numbered(store: &Store, count: u64) {
    for n in 1..=count {
        assert_eq!(store.log(&Event::new(format!("e{n}"))).expect("log"), n);
    }
}

pub(crate) fn headers(pairs: &[(&str, Value)]) -> Headers {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

pub(crate) fn assert_time_format(time: &Value) {
    let text = time.as_str().expect("`time` is a string");
    let bytes = text.as_bytes();
    assert_eq!(bytes.len(), 24, "{text}");
    for (index, byte) in bytes.iter().enumerate() {
        let expected_ok = match index {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            19 => *byte == b'.',
            23 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        };
        assert!(expected_ok, "{text} is not YYYY-MM-DDTHH:MM:SS.sssZ");
    }
}
