//! The conformance suite of the [`Storage`] trait, run for every backend of this repository
//! (memory, a folder and a journal with each durability, and PostgreSQL and S3 when their test
//! servers are configured): every rule of its `# Contract`, written once as the public checks of
//! [`foldstore::conformance`] (the `conformance` feature, which backends outside this
//! repository run the same way), one test each, including the checks of consistency
//! boundaries through stores on the backend; followed by the folder backend's own rules (file
//! names, temporary files, suspicious names, snapshot names).
//!
//! After every check on a folder backend, the harness also asserts that no temporary file was
//! left behind, whatever the check did (commits, conflicts, races).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use foldstore::conformance::a_contiguous_log_refuses_commits_beyond_its_end as journal_refuses_commits_beyond_the_end;
use foldstore::conformance::schema_counts_every_event_by_shape_with_its_commits;
use foldstore::conformance::{self, THREADS};
use foldstore::conformance::{
    append_commit_if_checks_the_commits_since_its_position,
    derived_data_is_kept_apart_from_the_log,
    racing_conditional_appends_are_checked_against_every_winner,
};
use foldstore::conformance::{
    append_if_fails_only_on_a_matching_commit, append_once_writes_once_across_stores,
    events_matching_by_tag_name_items_and_position, none_matching_guards_uniqueness,
    racing_chained_appends_keep_one_chain, racing_conditional_appends_on_one_tag_have_one_winner,
    racing_conditional_appends_on_own_tags_all_succeed, tags_round_trip_exactly,
};
use foldstore::conformance::{
    append_takes_the_lowest_free_number_and_never_overwrites, appends_and_batch_reads_agree,
    commit_number_zero_is_refused_or_listed,
    commits_may_be_created_in_any_order_and_are_listed_sorted,
    create_conflicts_even_with_identical_bytes, create_is_exclusive,
    ensure_created_is_idempotent_and_keeps_contents, invalid_snapshot_names_are_refused,
    listing_reports_commits_and_snapshots_sorted, locations_name_the_commit_and_snapshot,
    racing_appends_place_every_document_once_contiguously,
    racing_creates_have_one_winner_per_number, racing_snapshot_creates_have_one_winner,
    read_returns_exact_bytes_or_none, snapshot_bytes_are_exact,
    snapshots_are_exclusive_and_keyed_by_name_and_commit,
};
use foldstore::Listing;
use foldstore::{
    Conflict, Durability, Error, JournalStorage, LooseStorage, MemoryStorage, Storage,
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
    /// Shared, for the checks that open stores on it.
    storage: Arc<dyn Storage>,
    /// The folder, for a folder backend.
    folder: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl Backend {
    /// A backend kept elsewhere than in a folder of its own.
    fn elsewhere(storage: Box<dyn Storage>) -> Self {
        Backend {
            storage: Arc::from(storage),
            folder: None,
            _dir: None,
        }
    }

    /// A backend in the folder `store` of a new temporary folder, made by `make`.
    fn in_folder(make: impl FnOnce(&Path) -> Box<dyn Storage>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let folder = dir.path().join("store");
        Backend {
            storage: Arc::from(make(&folder)),
            folder: Some(folder),
            _dir: Some(dir),
        }
    }

    fn memory() -> Self {
        Self::elsewhere(Box::new(MemoryStorage::new()))
    }

    fn folder(durability: Durability) -> Self {
        Self::in_folder(|folder| Box::new(LooseStorage::with_durability(folder, durability)))
    }

    /// A fresh table on the test PostgreSQL server, or `None` when there is none here (which
    /// fails the test under `CI=true`).
    #[cfg(feature = "postgres")]
    fn postgres() -> Option<Self> {
        pg_server::fresh_storage().map(Self::elsewhere)
    }

    /// A fresh prefix on the test S3 server, or `None` when there is none here (which fails
    /// the test under `CI=true`).
    #[cfg(feature = "s3")]
    fn s3() -> Option<Self> {
        s3_server::fresh_storage().map(Self::elsewhere)
    }

    fn journal(durability: Durability) -> Self {
        // Small segments, so that the checks cross segment boundaries.
        Self::in_folder(|folder| {
            Box::new(JournalStorage::with_segment_bytes(folder, durability, 4096))
        })
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
    run_shared(backend, |storage| check(&**storage));
}

/// [`run`] for a check that takes the backend shared (to open stores on it).
fn run_shared(backend: Option<Backend>, check: impl FnOnce(&Arc<dyn Storage>)) {
    let Some(backend) = backend else { return };
    backend.storage.ensure_created().expect("ensure_created");
    check(&backend.storage);
    backend.assert_no_temporary_files();
}

/// Runs a check on a backend that has not been created.
fn run_uncreated(backend: Option<Backend>, check: fn(&Backend)) {
    let Some(backend) = backend else { return };
    check(&backend);
    backend.assert_no_temporary_files();
}

macro_rules! backend_suite {
    ($name:ident, $make:expr, [$($check:ident),*], [$($shared:ident),*], [$($absent:ident),*]) => {
        mod $name {
            #[allow(unused_imports)]
            use foldstore::Durability;
            #[allow(unused_imports)]
            use super::Backend;
            $( #[test] fn $check() { super::run($make, super::$check); } )*
            $( #[test] fn $shared() { super::run_shared($make, super::$shared); } )*
            $( #[test] fn $absent() { super::run_uncreated($make, super::$absent); } )*
        }
    };
}

/// `created` checks run on every backend; `sparse` ones create commits out of order (leaving
/// numbers free below them), which the journal refuses by design and checks on its own
/// (`journal_refuses_commits_beyond_the_end`); `boundaries` ones open stores on the backend (those
/// of consistency boundaries, and reading a whole log).
macro_rules! conformance {
    (
        created: [$($check:ident),* $(,)?],
        sparse: [$($sparse:ident),* $(,)?],
        boundaries: [$($shared:ident),* $(,)?],
        uncreated: [$($absent:ident),* $(,)?] $(,)?
    ) => {
        backend_suite!(memory, Some(Backend::memory()), [$($check,)* $($sparse),*], [$($shared),*], [$($absent),*]);
        backend_suite!(folder_immediate, Some(Backend::folder(Durability::Immediate)), [$($check,)* $($sparse),*], [$($shared),*], [$($absent),*]);
        backend_suite!(folder_no_sync, Some(Backend::folder(Durability::None)), [$($check,)* $($sparse),*], [$($shared),*], [$($absent),*]);
        backend_suite!(journal_immediate, Some(Backend::journal(Durability::Immediate)), [$($check,)* journal_refuses_commits_beyond_the_end], [$($shared),*], [$($absent),*]);
        backend_suite!(journal_no_sync, Some(Backend::journal(Durability::None)), [$($check,)* journal_refuses_commits_beyond_the_end], [$($shared),*], [$($absent),*]);
        #[cfg(feature = "postgres")]
        backend_suite!(postgres, Backend::postgres(), [$($check,)* $($sparse),*], [$($shared),*], [$($absent),*]);
        #[cfg(feature = "s3")]
        backend_suite!(s3, Backend::s3(), [$($check,)* $($sparse),*], [$($shared),*], [$($absent),*]);
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
        append_commit_if_checks_the_commits_since_its_position,
        racing_conditional_appends_are_checked_against_every_winner,
        derived_data_is_kept_apart_from_the_log,
    ],
    sparse: [
        create_conflicts_even_with_identical_bytes,
        commits_may_be_created_in_any_order_and_are_listed_sorted,
        append_takes_the_lowest_free_number_and_never_overwrites,
        listing_reports_commits_and_snapshots_sorted,
    ],
    boundaries: [
        tags_round_trip_exactly,
        events_matching_by_tag_name_items_and_position,
        append_if_fails_only_on_a_matching_commit,
        none_matching_guards_uniqueness,
        append_once_writes_once_across_stores,
        racing_conditional_appends_on_own_tags_all_succeed,
        racing_conditional_appends_on_one_tag_have_one_winner,
        racing_chained_appends_keep_one_chain,
        schema_counts_every_event_by_shape_with_its_commits,
    ],
    uncreated: [
        a_backend_not_created_is_empty_and_reading_creates_nothing,
        writing_to_a_backend_not_created_fails_or_lands_whole,
    ],
}

fn doc(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

// Contract 7 on a backend not created yet, with what a folder adds: reading creates no folder,
// and only `ensure_created` makes one (holding nothing but a journal's marker and segment
// folder).
fn a_backend_not_created_is_empty_and_reading_creates_nothing(backend: &Backend) {
    let storage = &*backend.storage;
    let existed = conformance::reading_a_backend_not_created_finds_nothing(storage);
    if let Some(folder) = &backend.folder {
        assert!(!existed);
        assert!(!folder.exists(), "reading created {}", folder.display());
    }
    conformance::ensure_created_makes_an_empty_backend(storage);
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
// the commit is there whole. A folder backend refuses, naming its folder, and creates nothing.
fn writing_to_a_backend_not_created_fails_or_lands_whole(backend: &Backend) {
    let refused =
        conformance::writing_to_a_backend_not_created_fails_or_lands_whole(&*backend.storage);
    match (&backend.folder, refused) {
        (None, None) => {}
        (Some(folder), Some(path)) => {
            assert_eq!(&path, folder);
            assert!(!folder.exists(), "a failed write created the folder");
        }
        (_, other) => panic!("unexpected outcome of a write to a backend not created: {other:?}"),
    }
}

// The folder backend's own rules.

fn temporary_files(folder: &Path) -> Vec<String> {
    file_names(folder)
        .into_iter()
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .collect()
}

fn file_names(folder: &Path) -> BTreeSet<String> {
    let names = fs::read_dir(folder).expect("read_dir");
    names
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into())
        .collect()
}

fn created_folder(durability: Durability) -> (TempDir, PathBuf, LooseStorage) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let folder = dir.path().join("store");
    let storage = LooseStorage::with_durability(&folder, durability);
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
    let backend = Backend::in_folder(|file| {
        fs::write(file, b"not a folder").expect("write");
        Box::new(LooseStorage::new(file))
    });
    let (storage, file) = (&*backend.storage, backend.folder.as_ref().expect("a path"));
    for result in [
        storage.exists().map(|_| ()),
        storage.list().map(|_| ()),
        storage.ensure_created(),
    ] {
        match result {
            Err(Error::NotAFolder { path }) => assert_eq!(&path, file),
            other => panic!("expected NotAFolder, got {other:?}"),
        }
    }
    assert_eq!(fs::read(file).expect("read"), b"not a folder");
}

#[test]
fn folder_ensure_created_makes_parents() {
    // The folder `a/b` in the backend's folder, none of which exists.
    let backend = Backend::in_folder(|store| Box::new(LooseStorage::new(store.join("a/b"))));
    let folder = backend.folder.as_ref().expect("a path").join("a/b");
    let storage = &*backend.storage;
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
                let storage = LooseStorage::with_durability(folder, Durability::None);
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
