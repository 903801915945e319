//! Layout selection and detection, folders that mix the two layouts, and the journal's marker.

use std::fs;

use crate::common::{journal_store, numbered};
use crate::format::{
    all_records, assert_no_loose_files, assert_refused, file_name, numbered_values, segment_files,
    segment_name, temp, MARKER, SEGMENTS,
};
use foldstore::{Error, JournalStorage, Layout, LooseStorage, Storage, Store};
use serde_json::{json, Value};

#[test]
fn a_new_store_asked_for_the_journal_is_a_journal_and_keeps_that_layout() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
    let marker: Value = serde_json::from_slice(&fs::read(path.join(MARKER)).unwrap()).unwrap();
    assert_eq!(marker, json!({"format": "foldstore-journal", "version": 2}));

    for i in 1..=3 {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
        assert_no_loose_files(&path);
    }
    assert_eq!(
        segment_files(&path)
            .iter()
            .map(|f| file_name(f))
            .collect::<Vec<_>>(),
        [segment_name(1)]
    );
    assert_eq!(all_records(&path).len(), 3);

    // Opened again without asking: the journal is detected, read and written.
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.tip().unwrap(), 3);
    assert_eq!(numbered_values(&reopened), [1, 2, 3]);
    assert_eq!(reopened.log(&numbered(4)).unwrap(), 4);
    assert_no_loose_files(&path);
    assert_eq!(all_records(&path).len(), 4);
    let again = Store::builder(&path)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    assert_eq!(numbered_values(&again), [1, 2, 3, 4]);

    // Asking for the loose layout is refused, and writes nothing.
    match Store::builder(&path).layout(Layout::Loose).open() {
        Err(Error::Layout { path: at, problem }) => {
            assert_eq!(at, path);
            assert!(problem.contains("journal"), "{problem}");
        }
        other => panic!("expected Error::Layout, got {other:?}"),
    }
    assert_no_loose_files(&path);
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
}

#[test]
fn a_loose_store_is_not_made_a_journal_and_new_stores_are_loose_by_default() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    assert_eq!(Layout::detect(&path).unwrap(), None);
    assert_eq!(store.log(&numbered(1)).unwrap(), 1);
    assert!(path.join("1.log").is_file(), "the default layout is loose");
    assert!(!path.join(MARKER).exists());
    assert!(!path.join(SEGMENTS).exists());
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Loose));

    match Store::builder(&path).layout(Layout::Journal).open() {
        Err(Error::Layout { path: at, problem }) => {
            assert_eq!(at, path);
            assert!(problem.contains("loose"), "{problem}");
        }
        other => panic!("expected Error::Layout, got {other:?}"),
    }
    assert!(
        !path.join(MARKER).exists(),
        "the refused open wrote a marker"
    );
    let loose = Store::builder(&path).layout(Layout::Loose).open().unwrap();
    assert_eq!(loose.log(&numbered(2)).unwrap(), 2);
    assert!(path.join("2.log").is_file());
    assert_eq!(numbered_values(&Store::open(&path).unwrap()), [1, 2]);
}

#[test]
fn layout_detect_on_missing_empty_loose_and_journal_folders() {
    let temp = temp();
    let missing = temp.path().join("missing");
    assert_eq!(Layout::detect(&missing).unwrap(), None);
    assert!(!missing.exists());

    let empty = temp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert_eq!(Layout::detect(&empty).unwrap(), None);
    fs::write(empty.join("notes.txt"), b"not a commit").unwrap();
    assert_eq!(Layout::detect(&empty).unwrap(), None);

    let loose = temp.path().join("loose");
    let store = Store::open(&loose).unwrap();
    store.ensure_folder().unwrap();
    assert_eq!(Layout::detect(&loose).unwrap(), None, "no commit yet");
    store.log(&numbered(1)).unwrap();
    assert_eq!(Layout::detect(&loose).unwrap(), Some(Layout::Loose));

    let journal = temp.path().join("journal");
    let store = journal_store(&journal);
    assert_eq!(
        Layout::detect(&journal).unwrap(),
        Some(Layout::Journal),
        "a journal without commits is a journal"
    );
    store.log(&numbered(1)).unwrap();
    assert_eq!(Layout::detect(&journal).unwrap(), Some(Layout::Journal));
}

/// A store asked to be a journal, in a folder that exists and is empty: the loose layout writes
/// there without `ensure_folder`, so the journal should too (or at least not claim the folder
/// does not exist).
#[test]
fn a_journal_asked_for_in_an_existing_empty_folder_can_be_written() {
    let temp = temp();
    let path = temp.path().join("store");
    fs::create_dir(&path).unwrap();
    let loose_path = temp.path().join("loose");
    fs::create_dir(&loose_path).unwrap();
    assert_eq!(
        Store::open(&loose_path).unwrap().log(&numbered(1)).unwrap(),
        1,
        "the loose layout writes into an existing folder without ensure_folder"
    );

    let store = Store::builder(&path)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    match store.log(&numbered(1)) {
        Ok(n) => {
            assert_eq!(n, 1);
            assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
            assert_no_loose_files(&path);
        }
        Err(e) => panic!(
            "logging into an existing, empty folder opened with Layout::Journal fails \
             (the loose layout succeeds there) with: {e}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Mixed folders
// ---------------------------------------------------------------------------------------------

#[test]
fn a_journal_with_a_loose_commit_file_beside_it_is_refused_naming_the_file() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    store.log(&numbered(1)).unwrap();
    store.log(&numbered(2)).unwrap();
    let document = store.storage().read_commit(1).unwrap().unwrap();
    drop(store);
    fs::write(path.join("1.log"), &document).unwrap();
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
    assert_refused(&path, "1.log");
    // Gone again, the journal is whole.
    fs::remove_file(path.join("1.log")).unwrap();
    assert_eq!(numbered_values(&Store::open(&path).unwrap()), [1, 2]);
}

#[test]
fn a_loose_backend_pointed_at_a_journal_refuses_to_write_commits() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    store.log(&numbered(1)).unwrap();
    store.log(&numbered(2)).unwrap();
    let document = store.storage().read_commit(2).unwrap().unwrap();

    let loose = LooseStorage::new(&path);
    for attempt in 0..2 {
        match loose.create_commit(3, &document) {
            Err(Error::Layout { problem, .. }) => {
                assert!(problem.contains(MARKER), "{problem}");
            }
            other => panic!("create_commit #{attempt}: expected Error::Layout, got {other:?}"),
        }
        match loose.append_commit(1, &document) {
            Err(Error::Layout { .. }) => {}
            other => panic!("append_commit #{attempt}: expected Error::Layout, got {other:?}"),
        }
    }
    let through_a_store = Store::builder(&path)
        .storage(LooseStorage::new(&path))
        .open()
        .unwrap();
    assert!(
        matches!(through_a_store.log(&numbered(3)), Err(Error::Layout { .. })),
        "a store on a loose backend wrote into a journal"
    );
    assert_no_loose_files(&path);
    let stray: Vec<String> = fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".foldstore-tmp-"))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
    assert_eq!(numbered_values(&Store::open(&path).unwrap()), [1, 2]);
}

// ---------------------------------------------------------------------------------------------
// 3. The marker
// ---------------------------------------------------------------------------------------------

#[test]
fn a_marker_of_a_newer_version_is_refused() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path).log(&numbered(1)).unwrap();
    fs::write(
        path.join(MARKER),
        br#"{"format":"foldstore-journal","version":99}"#,
    )
    .unwrap();
    assert_refused(&path, "newer foldstore");
    let store = Store::builder(&path)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    assert!(matches!(store.ensure_folder(), Err(Error::Layout { .. })));
    assert!(matches!(
        JournalStorage::new(&path).read_commit(1),
        Err(Error::Layout { .. })
    ));
}

#[test]
fn a_garbled_marker_is_refused() {
    for text in [
        "not json at all",
        r#"{"format":"something-else","version":1}"#,
        r#"{"format":"foldstore-journal"}"#,
        r#"{"format":"foldstore-journal","version":"one"}"#,
        "",
    ] {
        let temp = temp();
        let path = temp.path().join("store");
        journal_store(&path).log(&numbered(1)).unwrap();
        fs::write(path.join(MARKER), text).unwrap();
        assert_refused(&path, MARKER);
    }
}
