//! The rules of commits: exclusive creation, exact reads, appends at the lowest free number,
//! listings, batch reads and the log's end (contracts 0, 1, 3, 4 and 6).

use std::collections::BTreeMap;

use super::{commits, doc};
use crate::storage::{Conflict, Listing, Storage};

/// Contract 4, for a backend that keeps the log contiguous by construction: it refuses a commit beyond the end plus
/// one, and changes nothing; identical bytes at an existing number are still a conflict.
pub fn a_contiguous_log_refuses_commits_beyond_its_end(storage: &dyn Storage) {
    assert!(storage.create_commit(3, b"three").is_err());
    assert!(storage.append_commit(2, b"two").is_err());
    assert_eq!(storage.list().expect("list").commits, Vec::<u64>::new());
    assert_eq!(storage.create_commit(1, b"one").expect("create"), Ok(()));
    assert_eq!(
        storage.create_commit(1, b"one").expect("create"),
        Err(Conflict { commit: 1 })
    );
    assert!(storage.create_commit(3, b"three").is_err());
    assert_eq!(storage.append_commit(1, b"two").expect("append"), 2);
    assert_eq!(storage.list().expect("list").commits, [1, 2]);
    assert_eq!(storage.last_commit().expect("last"), 2);
}

/// Batch reads (`read_commits`) and the log's end (`last_commit`) agree with single reads,
/// across many commits of all sizes.
pub fn appends_and_batch_reads_agree(storage: &dyn Storage) {
    assert_eq!(storage.last_commit().expect("last"), 0);
    assert_eq!(
        storage.read_commits(1, 10).expect("read"),
        Vec::<Vec<u8>>::new()
    );
    let documents: Vec<Vec<u8>> = (0..600_usize)
        .map(|i| {
            let filler = "x".repeat((i * 37) % 3000);
            doc(&format!(
                r#"{{"headers":{{}},"events":[{{"name":"e{i}","data":"{filler}"}}]}}"#
            ))
        })
        .collect();
    // Each append starts at the next number, as the store's do (appends from 1 are checked
    // elsewhere; here they would only make slow backends slower).
    for (expected, document) in (1..).zip(&documents) {
        assert_eq!(
            storage.append_commit(expected, document).expect("append"),
            expected
        );
    }
    assert_eq!(storage.last_commit().expect("last"), 600);
    for (first, max) in [
        (1, 600),
        (1, 1000),
        (17, 5),
        (255, 3),
        (256, 300),
        (590, 50),
        (601, 5),
    ] {
        let read = storage.read_commits(first, max).expect("read");
        let from = usize::try_from(first - 1).expect("small");
        let expected: Vec<Vec<u8>> = documents.iter().skip(from).take(max).cloned().collect();
        assert_eq!(read.len(), expected.len(), "read_commits({first}, {max})");
        assert!(read == expected, "read_commits({first}, {max}) differs");
    }
    for number in [600, 1, 300, 257, 256, 2] {
        let index = usize::try_from(number - 1).expect("small");
        assert_eq!(
            storage.read_commit(number).expect("read").as_ref(),
            Some(&documents[index])
        );
    }
    assert_eq!(storage.read_commit(601).expect("read"), None);
}

/// Contract 1: exclusive creation; a conflict changes nothing.
pub fn create_is_exclusive(storage: &dyn Storage) {
    let first = doc(r#"{"headers":{},"events":[{"name":"first"}]}"#);
    let second = doc(r#"{"headers":{},"events":[{"name":"second"}]}"#);
    assert_eq!(storage.create_commit(1, &first).expect("create"), Ok(()));
    let conflict = storage
        .create_commit(1, &second)
        .expect("a conflict is not an error");
    assert_eq!(conflict, Err(Conflict { commit: 1 }));
    assert_eq!(
        Conflict { commit: 1 }.to_string(),
        "commit 1 was created by another writer first"
    );
    assert_eq!(storage.read_commit(1).expect("read"), Some(first.clone()));
    assert_eq!(commits(storage), [1]);
    // A second conflict, and one on another number after it, still change nothing.
    assert_eq!(
        storage.create_commit(1, b"").expect("create"),
        Err(Conflict { commit: 1 })
    );
    assert_eq!(storage.create_commit(2, &second).expect("create"), Ok(()));
    assert_eq!(storage.read_commit(1).expect("read"), Some(first));
    assert_eq!(storage.read_commit(2).expect("read"), Some(second));
}

/// Contract 1: creating a commit that exists is a conflict, even with identical bytes.
pub fn create_conflicts_even_with_identical_bytes(storage: &dyn Storage) {
    let bytes = doc(r#"{"events":[]}"#);
    assert_eq!(storage.create_commit(3, &bytes).expect("create"), Ok(()));
    assert_eq!(
        storage.create_commit(3, &bytes).expect("create"),
        Err(Conflict { commit: 3 })
    );
    assert_eq!(commits(storage), [3]);
}

/// Contract 3: reads return exactly the bytes created, or None. The backend never parses.
pub fn read_returns_exact_bytes_or_none(storage: &dyn Storage) {
    let big: Vec<u8> = (0..1_048_576_u32)
        .map(|i| u8::try_from(i % 251).expect("below 256"))
        .collect();
    let documents: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\x00\xff\xfe binary, not JSON \r\n".to_vec(),
        doc("{\r\n  \"headers\": {},\r\n  \"events\": []\r\n}\r\n"),
        doc(r#"{"headers":{"time":"2026-11-27T15:03:30.380Z"},"events":[{"name":"ø"}]}"#),
        big,
    ];
    for (number, document) in (1..).zip(&documents) {
        assert_eq!(
            storage.create_commit(number, document).expect("create"),
            Ok(())
        );
    }
    for (number, document) in (1..).zip(&documents) {
        assert_eq!(
            storage.read_commit(number).expect("read").as_ref(),
            Some(document),
            "commit {number}"
        );
        assert!(storage.commit_exists(number).expect("exists"));
    }
    for absent in [6, 7, 1000, u64::MAX] {
        assert_eq!(storage.read_commit(absent).expect("read"), None, "{absent}");
        assert!(!storage.commit_exists(absent).expect("exists"), "{absent}");
    }
}

/// Contract 6 (sorted) and 1 (exclusive at any number, not only the next one).
pub fn commits_may_be_created_in_any_order_and_are_listed_sorted(storage: &dyn Storage) {
    for number in [5, 1, 3, 2, 10] {
        let document = doc(&format!(r#"{{"n":{number}}}"#));
        assert_eq!(
            storage.create_commit(number, &document).expect("create"),
            Ok(())
        );
    }
    assert_eq!(commits(storage), [1, 2, 3, 5, 10]);
    for number in [1, 2, 3, 5, 10] {
        assert_eq!(
            storage.read_commit(number).expect("read"),
            Some(doc(&format!(r#"{{"n":{number}}}"#)))
        );
    }
    assert_eq!(storage.read_commit(4).expect("read"), None);
}

/// Contract 4: append at the lowest free number >= first, trying in order; never overwriting.
pub fn append_takes_the_lowest_free_number_and_never_overwrites(storage: &dyn Storage) {
    for number in [1, 2, 4] {
        let document = doc(&format!("existing {number}"));
        assert_eq!(
            storage.create_commit(number, &document).expect("create"),
            Ok(())
        );
    }
    assert_eq!(storage.append_commit(1, b"a").expect("append"), 3);
    assert_eq!(storage.append_commit(1, b"b").expect("append"), 5);
    assert_eq!(storage.append_commit(3, b"c").expect("append"), 6);
    // A first number beyond the end is taken as it is: lower free numbers stay free.
    assert_eq!(storage.append_commit(10, b"d").expect("append"), 10);
    assert_eq!(storage.append_commit(7, b"e").expect("append"), 7);
    assert_eq!(storage.append_commit(10, b"f").expect("append"), 11);
    let expected: BTreeMap<u64, Vec<u8>> = [
        (1, doc("existing 1")),
        (2, doc("existing 2")),
        (3, doc("a")),
        (4, doc("existing 4")),
        (5, doc("b")),
        (6, doc("c")),
        (7, doc("e")),
        (10, doc("d")),
        (11, doc("f")),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        commits(storage),
        expected.keys().copied().collect::<Vec<_>>()
    );
    for (number, document) in &expected {
        assert_eq!(
            storage.read_commit(*number).expect("read").as_ref(),
            Some(document),
            "commit {number}"
        );
    }
    assert_eq!(storage.read_commit(8).expect("read"), None);
}

/// Contract 6: the listing reports every commit and snapshot, sorted, and nothing else.
pub fn listing_reports_commits_and_snapshots_sorted(storage: &dyn Storage) {
    assert_eq!(storage.list().expect("list"), Listing::default());
    for number in [12, 2, 1, 9] {
        assert_eq!(storage.create_commit(number, b"c").expect("create"), Ok(()));
    }
    for (name, commit) in [("b", 2), ("a", 9), ("a", 1), ("ab", 1), ("B", 5)] {
        assert_eq!(
            storage.create_snapshot(name, commit, b"s").expect("create"),
            Ok(())
        );
    }
    let listing = storage.list().expect("list");
    assert_eq!(listing.commits, [1, 2, 9, 12]);
    let mut expected: Vec<(String, u64)> = [("b", 2), ("a", 9), ("a", 1), ("ab", 1), ("B", 5)]
        .into_iter()
        .map(|(name, commit)| (name.to_owned(), commit))
        .collect();
    expected.sort();
    assert_eq!(listing.snapshots, expected);
    assert!(listing.suspicious.is_empty(), "{:?}", listing.suspicious);
}

/// Locations, for messages, tell commits and snapshots apart.
pub fn locations_name_the_commit_and_snapshot(storage: &dyn Storage) {
    let one = storage.commit_location(1);
    let two = storage.commit_location(2);
    assert_ne!(one, two);
    assert!(one.contains('1') && two.contains('2'), "{one} {two}");
    let snapshot = storage.snapshot_location("members", 37);
    assert!(
        snapshot.contains("members") && snapshot.contains("37"),
        "{snapshot}"
    );
    assert_ne!(snapshot, storage.snapshot_location("members", 38));
    assert_ne!(snapshot, storage.snapshot_location("others", 37));
}

/// Contracts 3 and 6 at the edge: commits are numbered from 1. A backend may refuse number 0,
/// but if it accepts it, its listing and its reads must agree that commit 0 exists (the store
/// trusts `list` for the tip and `read_commit` for the content).
pub fn commit_number_zero_is_refused_or_listed(storage: &dyn Storage) {
    match storage.create_commit(0, b"zero") {
        Ok(Ok(())) => {
            assert_eq!(storage.read_commit(0).expect("read"), Some(doc("zero")));
            assert_eq!(
                commits(storage),
                [0],
                "commit 0 was created and is readable, but the listing does not report it"
            );
        }
        Err(_) => {
            assert_eq!(storage.read_commit(0).expect("read"), None);
            assert_eq!(storage.list().expect("list"), Listing::default());
        }
        Ok(Err(conflict)) => panic!("an empty backend reported {conflict}"),
    }
}
