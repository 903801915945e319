//! The conformance suite of the [`Storage`] trait: every rule of its `# Contract`, written once
//! as functions over `&dyn Storage` and run for every backend (memory, and a folder with each
//! durability), followed by the folder backend's own rules (file names, temporary files,
//! suspicious names, snapshot names).
//!
//! After every check on a folder backend, the harness also asserts that no temporary file was
//! left behind, whatever the check did (commits, conflicts, races).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Barrier, Mutex};
use std::thread;

use foldstore::storage::Listing;
use foldstore::{
    Conflict, Durability, Error, FolderStorage, JournalStorage, MemoryStorage, Storage,
};
use tempfile::TempDir;

#[cfg(feature = "postgres")]
#[path = "common/postgres.rs"]
mod pg_server;
#[cfg(feature = "s3")]
#[path = "common/s3.rs"]
mod s3_server;

/// The prefix of the folder backend's temporary files.
const TEMP_PREFIX: &str = ".foldstore-tmp-";

/// One backend under test: fresh, empty and not created yet.
struct Backend {
    storage: Box<dyn Storage>,
    /// The folder, for a folder backend.
    folder: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl Backend {
    fn memory() -> Self {
        Backend {
            storage: Box::new(MemoryStorage::new()),
            folder: None,
            _dir: None,
        }
    }

    fn folder(durability: Durability) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let folder = dir.path().join("store");
        Backend {
            storage: Box::new(FolderStorage::with_durability(&folder, durability)),
            folder: Some(folder),
            _dir: Some(dir),
        }
    }

    /// A fresh table on the test PostgreSQL server, or `None` when there is none here (which
    /// fails the test under `CI=true`).
    #[cfg(feature = "postgres")]
    fn postgres() -> Option<Self> {
        Some(Backend {
            storage: pg_server::fresh_storage()?,
            folder: None,
            _dir: None,
        })
    }

    /// A fresh prefix on the test S3 server, or `None` when there is none here (which fails
    /// the test under `CI=true`).
    #[cfg(feature = "s3")]
    fn s3() -> Option<Self> {
        Some(Backend {
            storage: s3_server::fresh_storage()?,
            folder: None,
            _dir: None,
        })
    }

    fn journal(durability: Durability) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let folder = dir.path().join("store");
        Backend {
            // Small segments, so that the checks cross segment boundaries.
            storage: Box::new(JournalStorage::with_segment_bytes(
                &folder, durability, 4096,
            )),
            folder: Some(folder),
            _dir: Some(dir),
        }
    }

    fn assert_no_temporary_files(&self) {
        if let Some(folder) = self.folder.as_ref().filter(|folder| folder.exists()) {
            let left = temporary_files(folder);
            assert!(left.is_empty(), "temporary files left behind: {left:?}");
        }
    }
}

/// Runs a check on a created backend, then the checks that hold after anything. `None` is a
/// backend whose server is not available here (its constructor said so).
fn run(backend: Option<Backend>, check: fn(&dyn Storage)) {
    let Some(backend) = backend else { return };
    backend.storage.ensure_created().expect("ensure_created");
    check(&*backend.storage);
    backend.assert_no_temporary_files();
}

/// Runs a check on a backend that has not been created.
fn run_uncreated(backend: Option<Backend>, check: fn(&Backend)) {
    let Some(backend) = backend else { return };
    check(&backend);
    backend.assert_no_temporary_files();
}

macro_rules! backend_suite {
    ($name:ident, $make:expr, [$($check:ident),*], [$($absent:ident),*]) => {
        mod $name {
            #[allow(unused_imports)]
            use foldstore::Durability;
            #[allow(unused_imports)]
            use super::Backend;
            $( #[test] fn $check() { super::run($make, super::$check); } )*
            $( #[test] fn $absent() { super::run_uncreated($make, super::$absent); } )*
        }
    };
}

/// `created` checks run on every backend; `sparse` ones create commits out of order (leaving
/// numbers free below them), which the journal refuses by design and checks on its own
/// (`journal_refuses_commits_beyond_the_end`).
macro_rules! conformance {
    (
        created: [$($check:ident),* $(,)?],
        sparse: [$($sparse:ident),* $(,)?],
        uncreated: [$($absent:ident),* $(,)?] $(,)?
    ) => {
        backend_suite!(memory, Some(Backend::memory()), [$($check,)* $($sparse),*], [$($absent),*]);
        backend_suite!(folder_immediate, Some(Backend::folder(Durability::Immediate)), [$($check,)* $($sparse),*], [$($absent),*]);
        backend_suite!(folder_no_sync, Some(Backend::folder(Durability::None)), [$($check,)* $($sparse),*], [$($absent),*]);
        backend_suite!(journal_immediate, Some(Backend::journal(Durability::Immediate)), [$($check,)* journal_refuses_commits_beyond_the_end], [$($absent),*]);
        backend_suite!(journal_no_sync, Some(Backend::journal(Durability::None)), [$($check,)* journal_refuses_commits_beyond_the_end], [$($absent),*]);
        #[cfg(feature = "postgres")]
        backend_suite!(postgres, Backend::postgres(), [$($check,)* $($sparse),*], [$($absent),*]);
        #[cfg(feature = "s3")]
        backend_suite!(s3, Backend::s3(), [$($check,)* $($sparse),*], [$($absent),*]);
    };
}

conformance! {
    created: [
        create_is_exclusive,
        read_returns_exact_bytes_or_none,
        snapshots_are_exclusive_and_keyed_by_name_and_commit,
        snapshot_bytes_are_exact,
        invalid_snapshot_names_are_refused,
        locations_name_the_commit_and_snapshot,
        ensure_created_is_idempotent_and_keeps_contents,
        racing_creates_have_one_winner_per_number,
        racing_appends_place_every_document_once_contiguously,
        racing_snapshot_creates_have_one_winner,
        commit_number_zero_is_refused_or_listed,
        appends_and_batch_reads_agree,
    ],
    sparse: [
        create_conflicts_even_with_identical_bytes,
        commits_may_be_created_in_any_order_and_are_listed_sorted,
        append_takes_the_lowest_free_number_and_never_overwrites,
        listing_reports_commits_and_snapshots_sorted,
    ],
    uncreated: [
        a_backend_not_created_is_empty_and_reading_creates_nothing,
        writing_to_a_backend_not_created_fails_or_lands_whole,
    ],
}

fn doc(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn commits(storage: &dyn Storage) -> Vec<u64> {
    storage.list().expect("list").commits
}

// A backend that keeps the log contiguous by construction refuses a commit beyond the end plus
// one, and changes nothing; identical bytes at an existing number are still a conflict.
fn journal_refuses_commits_beyond_the_end(storage: &dyn Storage) {
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

// Batch reads (`read_commits`) and the log's end (`last_commit`) agree with single reads,
// across many commits of all sizes.
fn appends_and_batch_reads_agree(storage: &dyn Storage) {
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

// Contract 1: exclusive creation; a conflict changes nothing.
fn create_is_exclusive(storage: &dyn Storage) {
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

fn create_conflicts_even_with_identical_bytes(storage: &dyn Storage) {
    let bytes = doc(r#"{"events":[]}"#);
    assert_eq!(storage.create_commit(3, &bytes).expect("create"), Ok(()));
    assert_eq!(
        storage.create_commit(3, &bytes).expect("create"),
        Err(Conflict { commit: 3 })
    );
    assert_eq!(commits(storage), [3]);
}

// Contract 3: reads return exactly the bytes created, or None. The backend never parses.
fn read_returns_exact_bytes_or_none(storage: &dyn Storage) {
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

// Contract 6 (sorted) and 1 (exclusive at any number, not only the next one).
fn commits_may_be_created_in_any_order_and_are_listed_sorted(storage: &dyn Storage) {
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

// Contract 4: append at the lowest free number >= first, trying in order; never overwriting.
fn append_takes_the_lowest_free_number_and_never_overwrites(storage: &dyn Storage) {
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

// Contract 5: snapshots follow rules 1 to 3, keyed by (name, commit).
fn snapshots_are_exclusive_and_keyed_by_name_and_commit(storage: &dyn Storage) {
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

fn snapshot_bytes_are_exact(storage: &dyn Storage) {
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

fn invalid_snapshot_names_are_refused(storage: &dyn Storage) {
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

// Contract 6: the listing reports every commit and snapshot, sorted, and nothing else.
fn listing_reports_commits_and_snapshots_sorted(storage: &dyn Storage) {
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

fn locations_name_the_commit_and_snapshot(storage: &dyn Storage) {
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

// Contract 7: ensure_created makes the backend exist, and doing it again changes nothing.
fn ensure_created_is_idempotent_and_keeps_contents(storage: &dyn Storage) {
    assert!(storage.exists().expect("exists"));
    assert_eq!(storage.create_commit(1, b"one").expect("create"), Ok(()));
    assert_eq!(
        storage.create_snapshot("m", 1, b"snap").expect("create"),
        Ok(())
    );
    storage.ensure_created().expect("ensure_created again");
    storage.ensure_created().expect("and again");
    assert!(storage.exists().expect("exists"));
    assert_eq!(storage.read_commit(1).expect("read"), Some(doc("one")));
    assert_eq!(
        storage.read_snapshot("m", 1).expect("read"),
        Some(doc("snap"))
    );
    assert_eq!(commits(storage), [1]);
}

const THREADS: usize = 8;

// Contracts 3 and 6 at the edge: commits are numbered from 1. A backend may refuse number 0,
// but if it accepts it, its listing and its reads must agree that commit 0 exists (the store
// trusts `list` for the tip and `read_commit` for the content).
fn commit_number_zero_is_refused_or_listed(storage: &dyn Storage) {
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

// Contract 8 with contract 1: many writers racing for the same numbers, one winner each.
fn racing_creates_have_one_winner_per_number(storage: &dyn Storage) {
    const NUMBERS: u64 = 30;
    let barrier = Barrier::new(THREADS);
    let winners: Mutex<BTreeMap<u64, Vec<usize>>> = Mutex::new(BTreeMap::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, winners) = (&barrier, &winners);
            scope.spawn(move || {
                barrier.wait();
                for number in 1..=NUMBERS {
                    let document = doc(&format!("writer {writer} at {number}"));
                    match storage.create_commit(number, &document).expect("create") {
                        Ok(()) => winners
                            .lock()
                            .expect("lock")
                            .entry(number)
                            .or_default()
                            .push(writer),
                        Err(conflict) => assert_eq!(conflict, Conflict { commit: number }),
                    }
                }
            });
        }
    });
    let winners = winners.into_inner().expect("lock");
    assert_eq!(winners.len(), usize::try_from(NUMBERS).expect("small"));
    for (number, won) in &winners {
        assert_eq!(won.len(), 1, "commit {number} was won by {won:?}");
        assert_eq!(
            storage.read_commit(*number).expect("read"),
            Some(doc(&format!("writer {} at {number}", won[0]))),
            "commit {number} holds the winner's bytes"
        );
    }
    assert_eq!(commits(storage), (1..=NUMBERS).collect::<Vec<_>>());
}

// Contract 8 with contract 4: appends from many threads land once each, contiguously.
fn racing_appends_place_every_document_once_contiguously(storage: &dyn Storage) {
    const PER_THREAD: usize = 25;
    let barrier = Barrier::new(THREADS);
    let placed: Mutex<Vec<(u64, Vec<u8>)>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, placed) = (&barrier, &placed);
            scope.spawn(move || {
                barrier.wait();
                let mut previous = 0;
                for index in 0..PER_THREAD {
                    let document = doc(&format!("writer {writer} document {index}"));
                    let number = storage.append_commit(1, &document).expect("append");
                    // Every number below the last one taken stays taken, so each writer's
                    // documents land in increasing order.
                    assert!(number > previous, "{number} after {previous}");
                    previous = number;
                    placed.lock().expect("lock").push((number, document));
                }
            });
        }
    });
    let mut placed = placed.into_inner().expect("lock");
    placed.sort();
    let total = u64::try_from(THREADS * PER_THREAD).expect("small");
    let numbers: Vec<u64> = placed.iter().map(|(number, _)| *number).collect();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());
    let documents: BTreeSet<&Vec<u8>> = placed.iter().map(|(_, document)| document).collect();
    assert_eq!(documents.len(), THREADS * PER_THREAD, "every document once");
    for (number, document) in &placed {
        assert_eq!(
            storage.read_commit(*number).expect("read").as_ref(),
            Some(document)
        );
    }
    assert_eq!(commits(storage), numbers);
}

fn racing_snapshot_creates_have_one_winner(storage: &dyn Storage) {
    let barrier = Barrier::new(THREADS);
    let winners = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, winners) = (&barrier, &winners);
            scope.spawn(move || {
                barrier.wait();
                let document = doc(&format!("snapshot by {writer}"));
                if storage
                    .create_snapshot("members", 7, &document)
                    .expect("create")
                    .is_ok()
                {
                    winners.lock().expect("lock").push(writer);
                }
            });
        }
    });
    let winners = winners.into_inner().expect("lock");
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        storage.read_snapshot("members", 7).expect("read"),
        Some(doc(&format!("snapshot by {}", winners[0])))
    );
}

// Contract 7: a backend that does not exist yet is empty, and reading does not create it.
fn a_backend_not_created_is_empty_and_reading_creates_nothing(backend: &Backend) {
    let storage = &*backend.storage;
    let existed = storage.exists().expect("exists");
    assert_eq!(storage.list().expect("list"), Listing::default());
    assert_eq!(storage.read_commit(1).expect("read"), None);
    assert!(!storage.commit_exists(1).expect("exists"));
    assert_eq!(storage.read_snapshot("members", 1).expect("read"), None);
    assert_eq!(storage.exists().expect("exists"), existed);
    if let Some(folder) = &backend.folder {
        assert!(!existed);
        assert!(!folder.exists(), "reading created {}", folder.display());
    }
    storage.ensure_created().expect("ensure_created");
    assert!(storage.exists().expect("exists"));
    storage
        .ensure_created()
        .expect("ensure_created is idempotent");
    assert_eq!(storage.list().expect("list"), Listing::default());
    if let Some(folder) = &backend.folder {
        assert!(folder.is_dir());
        // Nothing but a journal's marker and segment folder.
        let names = file_names(folder);
        assert!(
            names
                .iter()
                .all(|name| name == "foldstore-journal.json" || name == "journal"),
            "{names:?}"
        );
    }
}

// Contract 7: creating a commit in a backend that does not exist may fail; if it does not,
// the commit is there whole.
fn writing_to_a_backend_not_created_fails_or_lands_whole(backend: &Backend) {
    let storage = &*backend.storage;
    let result = storage.create_commit(1, b"one");
    match (&backend.folder, result) {
        (None, Ok(Ok(()))) => assert_eq!(storage.read_commit(1).expect("read"), Some(doc("one"))),
        (Some(folder), Err(Error::StoreMissing { path })) => {
            assert_eq!(&path, folder);
            assert!(matches!(
                storage.append_commit(1, b"one"),
                Err(Error::StoreMissing { .. })
            ));
            assert!(matches!(
                storage.create_snapshot("members", 1, b"s"),
                Err(Error::StoreMissing { .. })
            ));
            assert!(!folder.exists(), "a failed write created the folder");
        }
        (_, other) => panic!("unexpected outcome of a write to a backend not created: {other:?}"),
    }
}

// The folder backend's own rules.

fn temporary_files(folder: &Path) -> Vec<String> {
    fs::read_dir(folder)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .collect()
}

fn file_names(folder: &Path) -> BTreeSet<String> {
    fs::read_dir(folder)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn created_folder(durability: Durability) -> (TempDir, PathBuf, FolderStorage) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let folder = dir.path().join("store");
    let storage = FolderStorage::with_durability(&folder, durability);
    storage.ensure_created().expect("ensure_created");
    (dir, folder, storage)
}

#[test]
fn folder_commits_are_files_named_k_log_holding_exactly_the_bytes() {
    for durability in [Durability::Immediate, Durability::None] {
        let (_dir, folder, storage) = created_folder(durability);
        assert_eq!(storage.path(), folder);
        assert_eq!(storage.durability(), durability);
        let document =
            doc(r#"{"headers":{"time":"2026-11-27T15:03:30.380Z"},"events":[{"name":"a"}]}"#);
        assert_eq!(storage.create_commit(7, &document).expect("create"), Ok(()));
        assert_eq!(storage.append_commit(1, b"x").expect("append"), 1);
        assert_eq!(
            storage
                .create_snapshot("members", 7, b"snap")
                .expect("create"),
            Ok(())
        );
        assert_eq!(fs::read(folder.join("7.log")).expect("7.log"), document);
        assert_eq!(fs::read(folder.join("1.log")).expect("1.log"), b"x");
        assert_eq!(
            fs::read(folder.join("7.members-snapshot")).expect("snapshot file"),
            b"snap"
        );
        assert_eq!(
            file_names(&folder),
            ["1.log", "7.log", "7.members-snapshot"]
                .map(str::to_owned)
                .into()
        );
        assert_eq!(
            storage.commit_location(7),
            folder.join("7.log").display().to_string()
        );
        assert_eq!(
            storage.snapshot_location("members", 7),
            folder.join("7.members-snapshot").display().to_string()
        );
    }
}

#[test]
fn folder_leaves_no_temporary_file_after_commits_and_conflicts() {
    let (_dir, folder, storage) = created_folder(Durability::Immediate);
    assert_eq!(storage.create_commit(1, b"one").expect("create"), Ok(()));
    for _ in 0..3 {
        assert_eq!(
            storage.create_commit(1, b"other").expect("create"),
            Err(Conflict { commit: 1 })
        );
    }
    for expected in 2..=5 {
        assert_eq!(
            storage.append_commit(1, b"appended").expect("append"),
            expected
        );
    }
    assert_eq!(
        storage.create_snapshot("m", 1, b"s").expect("create"),
        Ok(())
    );
    assert_eq!(
        storage.create_snapshot("m", 1, b"t").expect("create"),
        Err(Conflict { commit: 1 })
    );
    assert!(
        temporary_files(&folder).is_empty(),
        "{:?}",
        file_names(&folder)
    );
    assert_eq!(file_names(&folder).len(), 6);
    assert_eq!(fs::read(folder.join("1.log")).expect("1.log"), b"one");
    assert_eq!(
        fs::read(folder.join("1.m-snapshot")).expect("snapshot"),
        b"s"
    );
}

#[test]
fn folder_files_written_by_others_count_and_are_never_overwritten() {
    let (_dir, folder, storage) = created_folder(Durability::Immediate);
    // As the original package writes them: in place, under the final name.
    fs::write(folder.join("1.log"), b"by the original").expect("write");
    fs::write(folder.join("1.members-snapshot"), b"its snapshot").expect("write");
    assert_eq!(
        storage.create_commit(1, b"mine").expect("create"),
        Err(Conflict { commit: 1 })
    );
    assert_eq!(storage.append_commit(1, b"mine").expect("append"), 2);
    assert_eq!(
        storage
            .create_snapshot("members", 1, b"mine")
            .expect("create"),
        Err(Conflict { commit: 1 })
    );
    assert_eq!(
        storage.read_commit(1).expect("read"),
        Some(doc("by the original"))
    );
    assert_eq!(
        storage.read_snapshot("members", 1).expect("read"),
        Some(doc("its snapshot"))
    );
    let listing = storage.list().expect("list");
    assert_eq!(listing.commits, [1, 2]);
    assert_eq!(listing.snapshots, [("members".to_owned(), 1)]);
}

#[test]
fn folder_reports_commit_like_names_as_suspicious_not_as_commits() {
    let (_dir, folder, storage) = created_folder(Durability::Immediate);
    for name in [
        "2.log",
        "007.log",
        "0.log",
        "1e1.log",
        "0.members-snapshot",
        "README.txt",
        "draft.log",
        "notes.json",
        ".foldstore-tmp-abc123",
        "3.members-snapshot",
    ] {
        fs::write(folder.join(name), b"{}").expect("write");
    }
    let listing = storage.list().expect("list");
    assert_eq!(listing.commits, [2]);
    assert_eq!(listing.snapshots, [("members".to_owned(), 3)]);
    let suspicious: Vec<&str> = listing
        .suspicious
        .iter()
        .map(|(location, _)| location.as_str())
        .collect();
    let mut expected: Vec<String> = ["007.log", "0.log", "1e1.log", "0.members-snapshot"]
        .iter()
        .map(|name| folder.join(name).display().to_string())
        .collect();
    expected.sort();
    assert_eq!(suspicious, expected, "sorted, with their paths");
    for (location, why) in &listing.suspicious {
        assert!(!why.is_empty(), "{location} has no explanation");
    }
    assert_eq!(
        storage.read_commit(7).expect("read"),
        None,
        "007.log is not commit 7"
    );
}

#[test]
fn folder_ignores_temporary_files_of_other_writers() {
    let (_dir, folder, storage) = created_folder(Durability::Immediate);
    let stray = folder.join(format!("{TEMP_PREFIX}in-flight"));
    fs::write(&stray, b"a commit being written").expect("write");
    assert_eq!(storage.list().expect("list"), Listing::default());
    assert_eq!(storage.append_commit(1, b"one").expect("append"), 1);
    assert_eq!(
        fs::read(&stray).expect("still there"),
        b"a commit being written",
        "another writer's temporary file is left alone"
    );
}

#[test]
fn folder_refuses_unsafe_snapshot_names_for_reading_and_writing() {
    let (dir, folder, storage) = created_folder(Durability::Immediate);
    fs::write(folder.join("1.a.b-snapshot"), b"{}").expect("write");
    for name in ["", ".", "a.b", "../escape", "a/b", "a\\b", "a\0b"] {
        assert!(
            matches!(
                storage.create_snapshot(name, 1, b"x"),
                Err(Error::InvalidSnapshotName { .. })
            ),
            "create {name:?}"
        );
        assert!(
            matches!(
                storage.read_snapshot(name, 1),
                Err(Error::InvalidSnapshotName { .. })
            ),
            "read {name:?}"
        );
    }
    let message = storage
        .create_snapshot("a.b", 1, b"x")
        .expect_err("refused")
        .to_string();
    assert!(message.contains("\"a.b\""), "{message}");
    assert_eq!(file_names(&folder), ["1.a.b-snapshot".to_owned()].into());
    assert_eq!(
        file_names(dir.path()),
        ["store".to_owned()].into(),
        "nothing written outside the folder"
    );
    assert!(storage.list().expect("list").snapshots.is_empty());
}

#[test]
fn folder_that_is_a_file_is_not_a_folder() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("store");
    fs::write(&file, b"not a folder").expect("write");
    let storage = FolderStorage::new(&file);
    for result in [
        storage.exists().map(|_| ()),
        storage.list().map(|_| ()),
        storage.ensure_created(),
    ] {
        match result {
            Err(Error::NotAFolder { path }) => assert_eq!(path, file),
            other => panic!("expected NotAFolder, got {other:?}"),
        }
    }
    assert_eq!(fs::read(&file).expect("read"), b"not a folder");
}

#[test]
fn folder_ensure_created_makes_parents() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let folder = dir.path().join("a").join("b").join("store");
    let storage = FolderStorage::new(&folder);
    assert!(!storage.exists().expect("exists"));
    storage.ensure_created().expect("ensure_created");
    assert!(folder.is_dir());
    assert!(storage.exists().expect("exists"));
    assert_eq!(storage.create_commit(1, b"one").expect("create"), Ok(()));
}

#[test]
fn folder_instances_on_one_folder_race_like_processes() {
    let (_dir, folder, _storage) = created_folder(Durability::None);
    let barrier = Barrier::new(THREADS);
    let outcomes: Mutex<Vec<(u64, usize)>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, outcomes, folder) = (&barrier, &outcomes, &folder);
            scope.spawn(move || {
                let storage = FolderStorage::with_durability(folder, Durability::None);
                barrier.wait();
                for number in 1..=20 {
                    let document = doc(&format!("{writer}"));
                    if storage
                        .create_commit(number, &document)
                        .expect("create")
                        .is_ok()
                    {
                        outcomes.lock().expect("lock").push((number, writer));
                    }
                }
                for _ in 0..10 {
                    let number = storage.append_commit(21, b"appended").expect("append");
                    outcomes.lock().expect("lock").push((number, writer));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("lock");
    outcomes.sort_unstable();
    let numbers: Vec<u64> = outcomes.iter().map(|(number, _)| *number).collect();
    let total = 20 + 10 * u64::try_from(THREADS).expect("small");
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());
    for (number, writer) in outcomes.iter().filter(|(number, _)| *number <= 20) {
        assert_eq!(
            fs::read(folder.join(format!("{number}.log"))).expect("read"),
            doc(&format!("{writer}"))
        );
    }
    assert!(temporary_files(&folder).is_empty());
}
