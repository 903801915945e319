//! The stores the original package wrote (read in place, or copied to write to), temporary stores,
//! raw documents, and small helpers the topics share.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::common::counter::CounterEvent;
use foldstore::ModelReport;
use foldstore::{Error, Headers, MemoryStorage, Store};
use serde_json::{json, Value};
use tempfile::TempDir;

/// The fixtures folder: the crate's copy when it exists, else the shared one.
pub(crate) fn fixtures() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = manifest.join("tests/fixtures");
    if local.join("README.md").is_file() {
        local
    } else {
        manifest.join("../../../shared/fixtures")
    }
}

pub(crate) fn fixture_store(name: &str) -> PathBuf {
    let path = fixtures().join(name).join("store");
    assert!(path.is_dir(), "fixture store {} is missing", path.display());
    path
}

pub(crate) fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

pub(crate) fn expected_state(fixture: &str, file: &str) -> Value {
    read_json(&fixtures().join(fixture).join(file))
}

/// Copies a fixture's store into a new temporary folder, leaving out the files `keep` refuses.
/// The copies are new files (writable), whatever the fixtures' permissions.
pub(crate) fn copy_store(name: &str, keep: impl Fn(&str) -> bool) -> (TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("a temporary folder");
    let copy = temp.path().join("store");
    fs::create_dir(&copy).unwrap();
    for entry in fs::read_dir(fixture_store(name)).unwrap() {
        let entry = entry.unwrap();
        let file_name = entry.file_name().into_string().unwrap();
        if keep(&file_name) {
            fs::write(copy.join(&file_name), fs::read(entry.path()).unwrap()).unwrap();
        }
    }
    (temp, copy)
}

pub(crate) fn without_snapshots(file_name: &str) -> bool {
    !file_name.ends_with("-snapshot")
}

/// An empty folder store in a temporary folder (the folder exists).
pub(crate) fn temp_folder() -> (TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("a temporary folder");
    let path = temp.path().join("store");
    fs::create_dir(&path).unwrap();
    (temp, path)
}

/// Overwrites a file, whatever its permissions.
pub(crate) fn overwrite(path: &Path, bytes: &[u8]) {
    if let Ok(metadata) = fs::metadata(path) {
        let mut permissions = metadata.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        permissions.set_readonly(false);
        fs::set_permissions(path, permissions).unwrap();
    }
    fs::write(path, bytes).unwrap();
}

pub(crate) fn time(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("parse time {text}: {e}"))
}

/// A commit document with the given headers and events, as raw bytes.
pub(crate) fn document(headers: Value, events: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"headers": headers, "events": events})).unwrap()
}

/// A snapshot document, as raw bytes.
pub(crate) fn snapshot_document(headers: Value, data: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"headers": headers, "snapshot": data})).unwrap()
}

pub(crate) fn incremented(by: i64) -> CounterEvent {
    CounterEvent::Incremented { by }
}

/// Logs one increment per item, one commit each.
pub(crate) fn log_increments(store: &Store, amounts: &[i64]) {
    for &by in amounts {
        store.log(&incremented(by)).unwrap();
    }
}

/// Logs one commit of several increments.
pub(crate) fn log_block_of(store: &Store, amounts: &[i64]) -> u64 {
    store
        .log_block(|block| {
            for &by in amounts {
                block.log(&incremented(by))?;
            }
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap()
        .expect("a block was written")
}

/// The numbers of the commits of a store, read by a fresh instance.
pub(crate) fn commit_numbers(store: &Store) -> Vec<u64> {
    store
        .commits(..)
        .map(|commit| commit.unwrap().number())
        .collect()
}

pub(crate) fn skipped_snapshot_labels(report: &ModelReport) -> BTreeSet<u64> {
    report.skipped_snapshots.iter().map(|s| s.commit).collect()
}

/// A memory store whose commits carry a `user` header.
pub(crate) fn store_with_user(storage: &MemoryStorage, user: &'static str) -> Store {
    Store::builder("memory")
        .storage(storage.clone())
        .headers(move || {
            let mut headers = Headers::new();
            headers.insert("user".to_owned(), json!(user));
            headers
        })
        .open()
        .unwrap()
}
