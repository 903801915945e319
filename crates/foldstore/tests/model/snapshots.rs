//! Snapshots: saved, restored, the untrustworthy skipped, automatic.

use std::collections::BTreeSet;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::fixtures::{
    incremented, log_increments, read_json, skipped_snapshot_labels, snapshot_document, temp_folder,
};
use crate::models::{commit_increment, value_of, Counter};
use foldstore::{Error, Headers, MemoryStorage, Storage, Store};
use serde_json::{json, Value};

#[test]
fn snapshot_saves_the_data_at_the_models_position_in_the_originals_format() {
    let (_temp, path) = temp_folder();
    let store = Store::open(&path).unwrap();
    let model = store.define_model(Counter::named("counter")).unwrap();
    assert_eq!(model.snapshot().unwrap(), None, "nothing at commit 0");
    assert!(store.snapshot_labels("counter").unwrap().is_empty());
    assert!(!path.join("0.counter-snapshot").exists());

    log_increments(&store, &[1, 2, 3]);
    assert_eq!(model.snapshot().unwrap(), Some(3));
    let file = read_json(&path.join("3.counter-snapshot"));
    assert!(file["headers"].is_object(), "{file}");
    assert!(file["headers"]["time"].is_string(), "{file}");
    let data = model.aggregator_data().unwrap();
    assert_eq!(file["snapshot"], value_of(&*data));
    assert_eq!(file["snapshot"]["value"], 6);

    // An existing snapshot at the same label is success (and is left as it is).
    let before = fs::read(path.join("3.counter-snapshot")).unwrap();
    assert_eq!(model.snapshot().unwrap(), Some(3));
    assert_eq!(fs::read(path.join("3.counter-snapshot")).unwrap(), before);

    // A fresh model restores from it, and folds what came after.
    log_increments(&store, &[10]);
    let fresh = Store::open(&path)
        .unwrap()
        .define_model(Counter::named("counter"))
        .unwrap();
    let restored = fresh.aggregator_data().unwrap();
    assert_eq!((restored.value, restored.position()), (16, 4));
    assert_eq!(fresh.report().restored_from, Some(3));

    // A model without a snapshot name saves nothing.
    assert_eq!(
        store
            .define_model(Counter::default())
            .unwrap()
            .snapshot()
            .unwrap(),
        None
    );
    assert_eq!(store.snapshot_labels("counter").unwrap(), [3]);
}

#[test]
fn an_existing_snapshot_at_the_label_is_success_and_is_not_overwritten() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 2]);
    let existing = snapshot_document(
        json!({"time": "2020-01-01T00:00:00.000Z"}),
        json!({"value": 3}),
    );
    storage
        .create_snapshot("counter", 2, &existing)
        .unwrap()
        .unwrap();
    let model = store.define_model(Counter::named("counter")).unwrap();
    assert_eq!(model.snapshot().unwrap(), Some(2));
    assert_eq!(
        storage.read_snapshot("counter", 2).unwrap().unwrap(),
        existing
    );
}

#[test]
fn a_snapshot_is_labelled_with_the_last_commit_the_model_folded_in() {
    // Another writer commits while the model saves its snapshot (from inside the header
    // factory, which the snapshot's headers are made with): the original would label the
    // snapshot with the new tip; foldstore labels it with the commits its data holds.
    let storage = MemoryStorage::new();
    let interloper = Store::with_storage(storage.clone());
    let hook = Arc::new(AtomicBool::new(false));
    let store = {
        let hook = Arc::clone(&hook);
        let interloper = interloper.clone();
        Store::builder("memory")
            .storage(storage.clone())
            .headers(move || {
                if hook.swap(false, Ordering::SeqCst) {
                    interloper.log(&incremented(100)).unwrap();
                }
                Headers::new()
            })
            .open()
            .unwrap()
    };
    log_increments(&interloper, &[1, 1, 1]);
    let model = store.define_model(Counter::named("counter")).unwrap();
    assert_eq!(model.aggregator_data().unwrap().value, 3);
    hook.store(true, Ordering::SeqCst);
    let label = model.snapshot().unwrap().expect("a snapshot");
    assert!(
        !hook.load(Ordering::SeqCst),
        "the other writer committed during the snapshot"
    );
    assert_eq!(interloper.tip().unwrap(), 4);
    let saved = store.read_snapshot("counter", label).unwrap().unwrap();
    let expected = if label == 3 { 3 } else { 103 };
    assert_eq!(
        saved.data.unwrap()["value"],
        expected,
        "snapshot labelled {label}"
    );
    assert_eq!(
        label, 3,
        "the model had folded commits 1 to 3 when it saved"
    );
}

#[test]
fn restoring_uses_the_newest_sound_snapshot_and_reports_the_others() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 1, 1, 1, 1, 1]);
    let headers = json!({"time": "2020-01-01T00:00:00.000Z"});
    let put = |commit: u64, bytes: Vec<u8>| {
        storage
            .create_snapshot("counter", commit, &bytes)
            .unwrap()
            .unwrap();
    };
    put(1, snapshot_document(headers.clone(), json!({"value": 10})));
    put(2, snapshot_document(headers.clone(), json!({"value": 100})));
    put(3, b"{ damaged".to_vec());
    put(4, serde_json::to_vec(&json!({"headers": headers})).unwrap());
    put(
        5,
        snapshot_document(headers.clone(), json!({"value": "not a number"})),
    );
    put(9, snapshot_document(headers.clone(), json!({"value": 900})));

    let model = store.define_model(Counter::named("counter")).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        (data.value, data.position()),
        (104, 6),
        "snapshot 2 plus commits 3 to 6"
    );
    let report = model.report();
    assert_eq!(report.restored_from, Some(2));
    assert_eq!(
        skipped_snapshot_labels(&report),
        BTreeSet::from([3, 4, 5, 9])
    );
    for skipped in &report.skipped_snapshots {
        assert!(!skipped.reason.is_empty());
        assert!(skipped.location.contains("counter"), "{skipped:?}");
    }
    let reason = |commit: u64| {
        report
            .skipped_snapshots
            .iter()
            .find(|s| s.commit == commit)
            .unwrap()
            .reason
            .clone()
    };
    assert!(reason(4).contains("snapshot"), "{}", reason(4));
    assert!(
        reason(9).contains('9') && reason(9).contains('6'),
        "{}",
        reason(9)
    );

    // Snapshots of other names are not this model's.
    let other = store.define_model(Counter::named("other")).unwrap();
    assert_eq!(other.aggregator_data().unwrap().value, 6);
    assert_eq!(other.report().restored_from, None);
    assert!(other.report().skipped_snapshots.is_empty());
}

#[test]
fn snapshots_of_another_model_version_are_skipped() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 1, 1, 1, 1]);
    let put = |commit: u64, headers: Value, value: i64| {
        let bytes = snapshot_document(headers, json!({"value": value}));
        storage
            .create_snapshot("counter", commit, &bytes)
            .unwrap()
            .unwrap();
    };
    put(1, json!({"version": 2}), 100);
    put(2, json!({}), 200);
    put(3, json!({"version": 1}), 300);
    put(4, json!({"version": "2"}), 400);

    let model = store
        .define_model(Counter::versioned("counter", 2))
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (104, 5));
    let report = model.report();
    assert_eq!(report.restored_from, Some(1));
    assert_eq!(skipped_snapshot_labels(&report), BTreeSet::from([2, 3, 4]));

    // Its own snapshots carry its version, and restore.
    assert_eq!(model.snapshot().unwrap(), Some(5));
    let saved = store.read_snapshot("counter", 5).unwrap().unwrap();
    assert_eq!(saved.headers["version"], 2);
    assert_eq!(saved.data.unwrap()["value"], 104);
    let again = Store::with_storage(storage.clone())
        .define_model(Counter::versioned("counter", 2))
        .unwrap();
    assert_eq!(again.aggregator_data().unwrap().value, 104);
    assert_eq!(again.report().restored_from, Some(5));

    // Version 3 trusts none of them and folds the log.
    let newer = Store::with_storage(storage.clone())
        .define_model(Counter::versioned("counter", 3))
        .unwrap();
    assert_eq!(newer.aggregator_data().unwrap().value, 5);
    assert_eq!(newer.report().restored_from, None);
    assert_eq!(
        skipped_snapshot_labels(&newer.report()),
        BTreeSet::from([1, 2, 3, 4, 5])
    );

    // A model that declares no version takes the newest sound snapshot whatever its headers.
    let unversioned = Store::with_storage(storage)
        .define_model(Counter::named("counter"))
        .unwrap();
    assert_eq!(unversioned.aggregator_data().unwrap().value, 104);
    assert_eq!(unversioned.report().restored_from, Some(5));
}

#[test]
fn snapshot_every_takes_snapshots_automatically() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    let model = store
        .model(Counter::named("counter"))
        .snapshot_every(3)
        .build()
        .unwrap();
    for _ in 0..7 {
        commit_increment(&model, 1);
    }
    assert_eq!(store.snapshot_labels("counter").unwrap(), [3, 6]);
    let at_6 = store.read_snapshot("counter", 6).unwrap().unwrap();
    assert_eq!(at_6.data.unwrap()["value"], 6);

    // Commits made elsewhere, folded at once, are snapshotted too.
    log_increments(&Store::with_storage(storage.clone()), &[1, 1, 1, 1, 1]);
    assert_eq!(model.aggregator_data().unwrap().position(), 12);
    assert_eq!(store.snapshot_labels("counter").unwrap(), [3, 6, 12]);
    assert!(model.report().failed_snapshots.is_empty());

    // A fresh model restores from the newest.
    let fresh = Store::with_storage(storage.clone())
        .define_model(Counter::named("counter"))
        .unwrap();
    assert_eq!(fresh.aggregator_data().unwrap().value, 12);
    assert_eq!(fresh.report().restored_from, Some(12));

    // Zero means never.
    let never_storage = MemoryStorage::new();
    let never = Store::with_storage(never_storage.clone())
        .model(Counter::named("counter"))
        .snapshot_every(0)
        .build()
        .unwrap();
    log_increments(&Store::with_storage(never_storage), &[1, 1, 1, 1]);
    assert_eq!(never.aggregator_data().unwrap().value, 4);
    assert!(never.store().snapshot_labels("counter").unwrap().is_empty());
}

#[test]
fn snapshot_every_the_largest_number_after_a_restored_snapshot_never_overflows() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    let first = store.model(Counter::named("counter")).build().unwrap();
    commit_increment(&first, 1);
    first.snapshot().unwrap();
    let restored = Store::with_storage(storage.clone())
        .model(Counter::named("counter"))
        .snapshot_every(u64::MAX)
        .build()
        .unwrap();
    commit_increment(&restored, 1);
    assert_eq!(restored.aggregator_data().unwrap().value, 2);
    assert_eq!(restored.report().restored_from, Some(1));
    assert_eq!(store.snapshot_labels("counter").unwrap(), [1]);
}

#[test]
fn snapshot_names_that_cannot_be_file_names_are_refused() {
    let store = Store::memory();
    for name in ["", "a.b", "a/b", "a\\b", "a\0b"] {
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        assert!(
            matches!(
                store.define_model(Counter::named(leaked)),
                Err(Error::InvalidSnapshotName { .. })
            ),
            "{name:?}"
        );
    }
}
