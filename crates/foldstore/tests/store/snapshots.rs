//! Snapshots: saved at a commit, the newest at or below loaded, skipped without data, never
//! overwritten, in range.

use crate::fixture::{assert_time_format, log_numbered, Fixture};
use foldstore::{Error, Event};
use serde_json::{json, Value};

// Snapshots.

pub(crate) fn snapshots_are_saved_at_a_commit_and_the_newest_at_or_below_is_loaded<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 6);
    store
        .save_snapshot("members", 1, &json!({"count": 1}))
        .expect("save");
    store
        .save_snapshot("members", 3, &json!({"count": 3}))
        .expect("save");
    store
        .save_snapshot("others", 5, &json!("others"))
        .expect("save");
    let at = |n: u64| {
        store
            .load_snapshot("members", n)
            .expect("load")
            .map(|snapshot| {
                (
                    snapshot.commit,
                    snapshot.data.expect("loaded snapshots hold data"),
                )
            })
    };
    assert_eq!(at(0), None);
    assert_eq!(at(1), Some((1, json!({"count": 1}))));
    assert_eq!(at(2), Some((1, json!({"count": 1}))));
    assert_eq!(at(3), Some((3, json!({"count": 3}))));
    assert_eq!(at(6), Some((3, json!({"count": 3}))));
    assert_eq!(at(u64::MAX), Some((3, json!({"count": 3}))));
    let snapshot = store
        .load_snapshot("others", 6)
        .expect("load")
        .expect("a snapshot");
    assert_eq!(snapshot.name, "others");
    assert_eq!(snapshot.commit, 5);
    assert_eq!(snapshot.data, Some(json!("others")));
    assert_time_format(&snapshot.headers["time"]);
    assert_eq!(store.load_snapshot("nobody", 6).expect("load"), None);
    // Another instance sees them.
    assert_eq!(
        fixture
            .open()
            .load_snapshot("members", 6)
            .expect("load")
            .map(|snapshot| snapshot.commit),
        Some(3)
    );
}

pub(crate) fn a_snapshot_without_data_is_skipped<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 5);
    store
        .save_snapshot("members", 2, &json!([2]))
        .expect("save");
    // As the original package writes them: headers and no `snapshot` member.
    assert_eq!(
        store
            .storage()
            .create_snapshot(
                "members",
                4,
                br#"{"headers":{"time":"2026-11-27T15:03:30.380Z"}}"#
            )
            .expect("create"),
        Ok(())
    );
    let loaded = store
        .load_snapshot("members", 5)
        .expect("load")
        .expect("a snapshot");
    assert_eq!((loaded.commit, loaded.data), (2, Some(json!([2]))));
    // `"snapshot": null` is data, not a missing member.
    store
        .storage()
        .create_snapshot("members", 5, br#"{"headers":{},"snapshot":null}"#)
        .expect("create")
        .expect("no conflict");
    let loaded = store
        .load_snapshot("members", 5)
        .expect("load")
        .expect("a snapshot");
    assert_eq!((loaded.commit, loaded.data), (5, Some(Value::Null)));
}

pub(crate) fn saving_an_existing_snapshot_succeeds_and_keeps_the_first<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 2);
    store
        .save_snapshot("members", 2, &json!("first"))
        .expect("save");
    store
        .save_snapshot("members", 2, &json!("second"))
        .expect("an existing snapshot is success");
    assert_eq!(
        store
            .load_snapshot("members", 2)
            .expect("load")
            .and_then(|snapshot| snapshot.data),
        Some(json!("first"))
    );
    assert_eq!(
        store.storage().list().expect("list").snapshots,
        [("members".to_owned(), 2)]
    );
}

pub(crate) fn snapshots_at_zero_or_beyond_the_tip_are_out_of_range<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    assert!(matches!(
        store.save_snapshot("members", 1, &json!(1)),
        Err(Error::OutOfRange {
            requested: 1,
            tip: 0
        })
    ));
    log_numbered(&store, 3);
    for commit in [0, 4, 100] {
        let result = store.save_snapshot("members", commit, &json!(1));
        assert!(
            matches!(result, Err(Error::OutOfRange { requested, tip: 3 }) if requested == commit),
            "{result:?}"
        );
    }
    for name in ["", "a.b", "a/b"] {
        assert!(matches!(
            store.save_snapshot(name, 1, &json!(1)),
            Err(Error::InvalidSnapshotName { .. })
        ));
        assert!(matches!(
            store.load_snapshot(name, 1),
            Err(Error::InvalidSnapshotName { .. })
        ));
    }
    assert!(store.storage().list().expect("list").snapshots.is_empty());
    // A commit written by another instance after this one looked is in range.
    fixture.open().log(&Event::new("e4")).expect("log");
    store.save_snapshot("members", 4, &json!(4)).expect("save");
}
