//! A store (and a key folder) opened by a relative path stays where it was opened when the
//! process changes its working folder afterwards: nothing is written where the relative path
//! would point from the new folder. Changing the working folder affects every thread of a
//! process, so the opening and writing happen in a worker process of their own.

use std::fs;
use std::path::Path;

use foldstore::{Event, FolderKeyStore, Layout, MasterKey, Store};
use serde_json::json;
use tempfile::TempDir;

use crate::common::workers::{say, test_name, worker_command};

/// The folder (absolute) the worker works in, set by the parent; without it the worker does
/// nothing.
const FOLDER: &str = "FOLDSTORE_TEST_WORKING_FOLDER";

/// Every file and folder under `folder`, relative to it.
fn entries(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(folder).unwrap().display().to_string());
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_store_opened_by_a_relative_path_stays_there_when_the_process_changes_its_working_folder() {
    let dir = TempDir::new().unwrap();
    let (opened, moved) = (dir.path().join("opened"), dir.path().join("moved"));
    fs::create_dir(&opened).unwrap();
    fs::create_dir(&moved).unwrap();
    let output = worker_command(&test_name(module_path!(), "relative_path_worker"))
        .env(FOLDER, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("worker done"),
        "the worker failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        entries(&moved),
        Vec::<String>::new(),
        "nothing is written under the folder the process moved to"
    );
    for (name, layout) in [("loose", Layout::Loose), ("journal", Layout::Journal)] {
        let store = Store::builder(opened.join(name))
            .layout(layout)
            .open()
            .unwrap();
        let mut names = Vec::new();
        store
            .replay_event_stream(|event, _| names.push(event.name().to_owned()))
            .unwrap();
        assert_eq!(names, ["before", "after"], "{name}");
    }
    assert!(opened.join("keys").is_dir());
}

/// The worker: opens a loose and a journal store and a key folder by relative paths, then
/// changes its working folder and writes (the first write creates each store's files).
#[test]
fn relative_path_worker() {
    let Some(dir) = std::env::var_os(FOLDER) else {
        return;
    };
    let dir = Path::new(&dir);
    std::env::set_current_dir(dir.join("opened")).unwrap();
    let master = MasterKey::generate().unwrap();
    let keys = FolderKeyStore::open("keys", master).unwrap();
    let journal = Store::builder("journal")
        .layout(Layout::Journal)
        .key_store(keys)
        .subject_tags("member:")
        .open()
        .unwrap();
    let loose = Store::builder("loose")
        .layout(Layout::Loose)
        .open()
        .unwrap();
    std::env::set_current_dir(dir.join("moved")).unwrap();
    for store in [&loose, &journal] {
        store.ensure_folder().unwrap();
        for name in ["before", "after"] {
            let event =
                Event::with_data(name, json!({"name": "Peter Pan"})).tagged(["member:peter pan"]);
            store.log(&event).unwrap();
        }
        assert_eq!(store.tip().unwrap(), 2);
    }
    say("worker done");
}
