//! The rules of snapshots: exclusive, exact, keyed by (name, commit), with names that can be
//! file and object names (contract 5).

use super::{commits, doc};
use crate::error::Error;
use crate::storage::{Conflict, Listing, Storage};

/// Contract 5: snapshots follow rules 1 to 3, keyed by (name, commit).
pub fn snapshots_are_exclusive_and_keyed_by_name_and_commit(storage: &dyn Storage) {
    let first = doc(r#"{"headers":{},"snapshot":{"members":1}}"#);
    let second = doc(r#"{"headers":{},"snapshot":{"members":2}}"#);
    assert_eq!(
        storage
            .create_snapshot("members", 3, &first)
            .expect("create"),
        Ok(())
    );
    assert_eq!(
        storage
            .create_snapshot("members", 3, &second)
            .expect("create"),
        Err(Conflict { commit: 3 })
    );
    assert_eq!(
        storage.read_snapshot("members", 3).expect("read"),
        Some(first.clone())
    );
    assert_eq!(storage.read_snapshot("members", 4).expect("read"), None);
    assert_eq!(storage.read_snapshot("other", 3).expect("read"), None);
    // Another name at the same commit, and the same name at another commit, are other keys.
    assert_eq!(
        storage
            .create_snapshot("other", 3, &second)
            .expect("create"),
        Ok(())
    );
    assert_eq!(
        storage
            .create_snapshot("members", 1, &second)
            .expect("create"),
        Ok(())
    );
    assert_eq!(
        storage.read_snapshot("members", 3).expect("read"),
        Some(first)
    );
    assert_eq!(
        storage.read_snapshot("other", 3).expect("read"),
        Some(second.clone())
    );
    assert_eq!(
        storage.read_snapshot("members", 1).expect("read"),
        Some(second)
    );
    // Snapshots are not commits, and commits are not snapshots.
    assert!(commits(storage).is_empty());
    assert!(!storage.commit_exists(3).expect("exists"));
    for number in 1..=3 {
        assert_eq!(
            storage.create_commit(number, b"commit").expect("create"),
            Ok(())
        );
    }
    assert_eq!(storage.read_snapshot("members", 4).expect("read"), None);
    assert_eq!(
        storage.list().expect("list").snapshots,
        [
            ("members".to_owned(), 1),
            ("members".to_owned(), 3),
            ("other".to_owned(), 3)
        ]
    );
}

/// Contract 5 with 3: snapshots come back byte for byte, whatever they hold.
pub fn snapshot_bytes_are_exact(storage: &dyn Storage) {
    let documents = [
        Vec::new(),
        b"\x00\xff not JSON".to_vec(),
        doc("{\n  \"headers\": {},\n  \"snapshot\": [1, 2, 3]\n}\n"),
    ];
    for (commit, document) in (1..).zip(&documents) {
        assert_eq!(
            storage
                .create_snapshot("model", commit, document)
                .expect("create"),
            Ok(())
        );
    }
    for (commit, document) in (1..).zip(&documents) {
        assert_eq!(
            storage
                .read_snapshot("model", commit)
                .expect("read")
                .as_ref(),
            Some(document)
        );
    }
}

/// Snapshot names that cannot be file or object names are refused, and never found.
pub fn invalid_snapshot_names_are_refused(storage: &dyn Storage) {
    for name in [
        "",
        ".",
        "a.b",
        "members.v2",
        "a/b",
        "../escape",
        "a\\b",
        "a\0b",
    ] {
        match storage.create_snapshot(name, 1, b"{\"snapshot\":1}") {
            Err(Error::InvalidSnapshotName { name: refused, .. }) => assert_eq!(refused, name),
            other => panic!("snapshot name {name:?} was not refused: {other:?}"),
        }
        // Reading with such a name never finds anything (the folder refuses it outright).
        assert!(
            !matches!(storage.read_snapshot(name, 1), Ok(Some(_))),
            "{name:?}"
        );
    }
    assert_eq!(storage.list().expect("list"), Listing::default());
}
