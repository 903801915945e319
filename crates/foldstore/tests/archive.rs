//! Archiving: commits before a point moved to an archive, read back from it when it is given,
//! named clearly when it is not; models opening from their snapshots; hostile markers and
//! archives refused; nothing lost.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::counter::{Counter as Unnamed, CounterEvent};
use common::numbered;
use foldstore::{
    ArchiveOptions, ArchiveStage, ArchiveUpTo, Durability, Error, Event, JournalStorage, Layout,
    MemoryStorage, Model, Store,
};
use serde_json::json;

/// The counter, with snapshots (named "sum").
struct Counter;

impl foldstore::ModelDefinition for Counter {
    type Data = i64;
    type Event = CounterEvent;
    type Error = String;
    type Domain<V: foldstore::View<Self>> = V;

    fn initial_data(&self) -> i64 {
        0
    }

    fn snapshot_name(&self) -> Option<&str> {
        Some("sum")
    }

    fn apply(
        &self,
        data: &mut i64,
        event: CounterEvent,
        context: &foldstore::EventContext<'_>,
    ) -> Result<(), String> {
        let mut plain = *data;
        <Unnamed as foldstore::ModelDefinition>::apply(&Unnamed, &mut plain, event, context)?;
        *data = plain;
        Ok(())
    }

    fn domain<V: foldstore::View<Self>>(&self, view: V) -> V {
        view
    }
}

fn increment(by: i64) -> Event {
    Event::with_data("incremented", json!({ "by": by }))
}

/// A journal store at `path` with small segments (many of them), holding `n` increments of
/// 1..=n.
fn journal_with(path: &Path, n: u64) -> Store {
    let storage = JournalStorage::with_segment_bytes(path, Durability::Immediate, 4096);
    let store = Store::builder(path).storage(storage).open().unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=n {
        store.log(&increment(i as i64)).unwrap();
    }
    store
}

fn reopen(path: &Path, archive: Option<&Path>) -> Store {
    let storage = JournalStorage::with_segment_bytes(path, Durability::Immediate, 4096);
    let builder = Store::builder(path).storage(storage);
    match archive {
        Some(archive) => builder.archive_at(archive).unwrap().open().unwrap(),
        None => builder.open().unwrap(),
    }
}

fn all_bytes(store: &Store) -> Vec<Vec<u8>> {
    let tip = store.tip().unwrap();
    (1..=tip)
        .map(|n| store.storage().read_commit(n).unwrap().unwrap())
        .collect()
}

fn sum(store: &Store) -> i64 {
    let model: Model<Counter> = store.define_model(Counter).unwrap();
    *model.aggregator_data().unwrap()
}

#[test]
fn a_journal_archived_up_to_a_snapshot_opens_its_model_from_it_and_reads_the_archive_when_given() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let store = journal_with(&live, 400);
    let before = all_bytes(&store);
    let model: Model<Counter> = store.define_model(Counter).unwrap();
    assert_eq!(model.snapshot().unwrap(), Some(400));
    let snapshot = store.storage().snapshots().unwrap().0[0].0.clone();
    for i in 401..=410 {
        store.log(&increment(i)).unwrap();
    }
    let segments_before = fs::read_dir(live.join("journal")).unwrap().count();

    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Snapshot(snapshot)).unwrap();
    let mut stages = Vec::new();
    let plan = store
        .archive(&options.clone().dry_run(true), |_, _, _| {})
        .unwrap();
    assert_eq!((plan.first, plan.last, plan.start), (1, 400, 401));
    assert!(plan.older_snapshots.is_empty(), "{plan:?}");
    let further = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(405))
        .unwrap()
        .dry_run(true);
    let plan = store.archive(&further, |_, _, _| {}).unwrap();
    assert_eq!(plan.older_snapshots, [("sum".to_owned(), 400)]);
    assert!(!archive.exists(), "a dry run writes nothing");
    assert_eq!(store.log_start().unwrap(), 1);

    let report = store
        .archive(&options, |stage, done, total| {
            stages.push((stage, done, total))
        })
        .unwrap();
    assert_eq!((report.first, report.last, report.start), (1, 400, 401));
    assert!(report.removed > 300, "{report:?}");
    assert!(stages.iter().any(|(s, _, _)| *s == ArchiveStage::Checking));
    assert!(live.join("foldstore-archived.json").exists());
    assert!(fs::read_dir(live.join("journal")).unwrap().count() < segments_before);

    // Without the archive: the model opens from its snapshot; old commits are named archived.
    let alone = reopen(&live, None);
    assert_eq!(alone.log_start().unwrap(), 401);
    assert_eq!(alone.tip().unwrap(), 410);
    assert_eq!(sum(&alone), (1..=410).sum::<i64>());
    let error = alone.storage().read_commit(7).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Archived {
                commit: 7,
                start: 401,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains(&*archive.to_string_lossy()),
        "{error}"
    );
    assert!(alone.verify(|_, _| {}).unwrap().is_sound());
    assert_eq!(alone.verify(|_, _| {}).unwrap().log_start, 401);
    // Appends go on after the tip.
    assert_eq!(alone.log(&increment(411)).unwrap(), 411);

    // With it: every commit, byte for byte, and a whole replay.
    let whole = reopen(&live, Some(&archive));
    let mut after = all_bytes(&whole);
    after.truncate(410);
    assert_eq!(&after[..400], &before[..]);
    let mut count = 0;
    whole.replay_event_stream(|_, _| count += 1).unwrap();
    assert_eq!(count, 411);
    let at: Model<Counter> = whole.define_model(Counter).unwrap();
    assert_eq!(*at.at_commit(10).unwrap().data(), (1..=10).sum::<i64>());
}

#[test]
fn archiving_again_extends_the_archive_and_a_second_run_changes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let store = journal_with(&live, 300);
    let before = all_bytes(&store);
    let options = |n| ArchiveOptions::at(&archive, ArchiveUpTo::Commit(n)).unwrap();
    assert_eq!(
        store.archive(&options(100), |_, _, _| {}).unwrap().last,
        100
    );
    let second = store.archive(&options(250), |_, _, _| {}).unwrap();
    assert_eq!((second.first, second.last, second.start), (101, 250, 251));
    let again = store.archive(&options(250), |_, _, _| {}).unwrap();
    assert_eq!((again.last, again.chunks, again.start), (0, 0, 251));
    // The last commit always stays live.
    let capped = store.archive(&options(u64::MAX), |_, _, _| {}).unwrap();
    assert_eq!((capped.last, capped.start), (299, 300));
    assert_eq!(all_bytes(&reopen(&live, Some(&archive))), before);
    assert_eq!(reopen(&live, None).tip().unwrap(), 300);

    // Another archive is refused: the store's archive is named.
    let elsewhere =
        ArchiveOptions::at(temp.path().join("other"), ArchiveUpTo::Commit(300)).unwrap();
    let error = store.archive(&elsewhere, |_, _, _| {}).unwrap_err();
    assert!(error.to_string().contains("archived into"), "{error}");
}

#[test]
fn archiving_by_time_stops_at_the_first_commit_not_older() {
    let store = Store::memory();
    for i in 1..=5 {
        store.log(&numbered(i)).unwrap();
    }
    let archive = std::sync::Arc::new(MemoryStorage::new());
    let options = |time| ArchiveOptions::new(archive.clone(), "memory", ArchiveUpTo::Time(time));
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
    assert_eq!(store.archive(&options(past), |_, _, _| {}).unwrap().last, 0);
    let future = SystemTime::now() + Duration::from_secs(3600);
    let report = store.archive(&options(future), |_, _, _| {}).unwrap();
    assert_eq!((report.last, report.start), (4, 5));
    let error = store.storage().read_commit(1).unwrap_err();
    assert!(matches!(error, Error::Archived { .. }), "{error}");
}

#[test]
fn a_loose_folder_is_archived_only_when_told_it_becomes_unreadable_by_the_original() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let store = Store::open(&live).unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=20 {
        store.log(&increment(i)).unwrap();
    }
    let before = all_bytes(&store);
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(10)).unwrap();
    let error = store.archive(&options, |_, _, _| {}).unwrap_err();
    assert!(
        error.to_string().contains("unreadable-by-original"),
        "{error}"
    );
    assert!(live.join("1.log").exists() && !archive.exists());
    let same = ArchiveOptions::at(&live, ArchiveUpTo::Commit(10))
        .unwrap()
        .unreadable_by_original(true);
    assert!(
        store.archive(&same, |_, _, _| {}).is_err(),
        "its own folder"
    );

    let report = store
        .archive(&options.unreadable_by_original(true), |_, _, _| {})
        .unwrap();
    assert_eq!((report.removed, report.start), (10, 11));
    assert!(!live.join("10.log").exists() && live.join("11.log").exists());
    let alone = Store::open(&live).unwrap();
    assert_eq!(alone.log(&increment(21)).unwrap(), 21, "appends go on");
    let unsnapshotted: Model<Counter> = alone.define_model(Counter).unwrap();
    let error = unsnapshotted.aggregator_data().unwrap_err();
    assert!(
        matches!(
            error,
            Error::Archived {
                commit: 1,
                start: 11,
                ..
            }
        ),
        "{error}"
    );
    let whole = Store::builder(&live)
        .archive_at(&archive)
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(&all_bytes(&whole)[..20], &before[..]);
    assert_eq!(sum(&whole), (1..=21).sum::<i64>());
    assert_eq!(Layout::detect(&live).unwrap(), Some(Layout::Loose));
}

#[test]
fn a_damaged_or_foreign_archive_is_named_never_read_as_the_log() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let store = journal_with(&live, 50);
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(40)).unwrap();
    store.archive(&options, |_, _, _| {}).unwrap();
    let chunk = fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let mut bytes = fs::read(&chunk).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    fs::write(&chunk, &bytes).unwrap();
    let whole = reopen(&live, Some(&archive));
    let error = whole.storage().read_commit(3).unwrap_err();
    assert!(matches!(error, Error::CorruptCommit { .. }), "{error}");
    assert!(error.to_string().contains("BLAKE3"), "{error}");
    // Another archive's manifest.
    let other = temp.path().join("other");
    let another = journal_with(&temp.path().join("another"), 50);
    another
        .archive(
            &ArchiveOptions::at(&other, ArchiveUpTo::Commit(40)).unwrap(),
            |_, _, _| {},
        )
        .unwrap();
    let error = reopen(&live, Some(&other))
        .storage()
        .read_commit(3)
        .unwrap_err();
    assert!(error.to_string().contains("does not match"), "{error}");
}

#[test]
fn hostile_markers_are_refused_with_the_file_named() {
    let temp = tempfile::tempdir().unwrap();
    let live = temp.path().join("live");
    let store = journal_with(&live, 5);
    drop(store);
    let marker = live.join("foldstore-archived.json");
    for hostile in [
        b"".to_vec(),
        b"{".to_vec(),
        br#"{"format":"foldstore-archived","version":1,"start":18446744073709551615,"archive":"x","manifest":"m","manifest_blake3":"00"}"#.to_vec(),
    ] {
        fs::write(&marker, &hostile).unwrap();
        let error = reopen(&live, None).tip().unwrap_err();
        assert!(error.to_string().contains("foldstore-archived.json"), "{error}");
    }
    fs::remove_file(&marker).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", &marker).unwrap();
        let error = reopen(&live, None).tip().unwrap_err();
        assert!(
            error.to_string().contains("foldstore-archived.json"),
            "{error}"
        );
    }
}

#[test]
fn a_changed_marker_never_makes_archiving_remove_live_commits() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let store = journal_with(&live, 300);
    let options = |n| ArchiveOptions::at(&archive, ArchiveUpTo::Commit(n)).unwrap();
    store.archive(&options(100), |_, _, _| {}).unwrap();
    drop(store);
    let marker = live.join("foldstore-archived.json");
    let genuine = fs::read_to_string(&marker).unwrap();
    assert!(genuine.contains("\"start\": 101"), "{genuine}");
    let live_bytes = || -> Vec<Vec<u8>> {
        let store = reopen(&live, Some(&archive));
        (101..=300)
            .map(|n| store.storage().read_commit(n).unwrap().unwrap())
            .collect()
    };
    let before = live_bytes();
    // A start past the log's end (one digit changed), and a start inside the live log: each
    // would make the cleanup of a crash's leftovers remove live commits no archive holds.
    for start in ["9101", "201"] {
        fs::write(
            &marker,
            genuine.replace("\"start\": 101", &format!("\"start\": {start}")),
        )
        .unwrap();
        let store = reopen(&live, Some(&archive));
        let error = store.archive(&options(50), |_, _, _| {}).unwrap_err();
        assert!(
            error.to_string().contains("nothing was removed")
                || error.to_string().contains("manifest"),
            "{start}: {error}"
        );
        fs::write(&marker, &genuine).unwrap();
        assert_eq!(live_bytes(), before, "{start}: live commits were removed");
    }
    // A marker and a manifest changed together, consistently (the manifest says the archive
    // holds commits 1 to 200): the live commit before the start is not the commit archived
    // last, so neither a run with nothing to archive nor one that archives more removes it.
    let manifest_path = archive.join("foldstore-archive-00000000000000000100.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    let mut chunk = manifest["chunks"][0].clone();
    chunk["name"] = json!("archive-00000000000000000101-00000000000000000200.jsonl");
    chunk["first"] = json!(101);
    chunk["last"] = json!(200);
    manifest["chunks"].as_array_mut().unwrap().push(chunk);
    manifest["last"] = json!(200);
    let forged = serde_json::to_vec_pretty(&manifest).unwrap();
    fs::write(
        archive.join("foldstore-archive-00000000000000000200.json"),
        &forged,
    )
    .unwrap();
    let mut marker_value: serde_json::Value = serde_json::from_str(&genuine).unwrap();
    marker_value["start"] = json!(201);
    marker_value["manifest"] = json!("archive-00000000000000000200.json");
    marker_value["manifest_blake3"] = json!(blake3::hash(&forged).to_hex().to_string());
    fs::write(&marker, serde_json::to_vec_pretty(&marker_value).unwrap()).unwrap();
    for up_to in [50, 250] {
        let store = reopen(&live, Some(&archive));
        let error = store.archive(&options(up_to), |_, _, _| {}).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not the commit archived last"),
            "{up_to}: {error}"
        );
    }
    fs::write(&marker, &genuine).unwrap();
    assert_eq!(
        live_bytes(),
        before,
        "forged together: live commits were removed"
    );

    // The genuine marker: nothing to archive below 100, and nothing live is removed.
    let store = reopen(&live, Some(&archive));
    let report = store.archive(&options(50), |_, _, _| {}).unwrap();
    assert_eq!((report.last, report.start), (0, 101));
    assert_eq!(live_bytes(), before);
}

#[test]
fn counter_events_survive_archiving_in_order() {
    // The archived commits replay in order through the archive, then the live ones.
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let store = journal_with(&live, 0);
    for i in 0..200 {
        let event = if i % 7 == 0 {
            Event::new("doubled")
        } else {
            increment(i)
        };
        store.log(&event).unwrap();
    }
    let expected = sum(&store);
    store
        .archive(
            &ArchiveOptions::at(&archive, ArchiveUpTo::Commit(150)).unwrap(),
            |_, _, _| {},
        )
        .unwrap();
    assert_eq!(sum(&reopen(&live, Some(&archive))), expected);
    let error = reopen(&live, None)
        .define_model(Counter)
        .unwrap()
        .aggregator_data();
    assert!(
        matches!(error, Err(Error::Archived { .. })),
        "no snapshot: the fold needs the archive"
    );
    let _ = CounterEvent::Doubled;
}

#[test]
fn a_chained_store_stays_verifiable_after_archiving_with_or_without_its_archive() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let storage = JournalStorage::with_segment_bytes(&live, Durability::Immediate, 4096);
    let store = Store::builder(&live)
        .storage(storage)
        .chain(true)
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=120 {
        store.log(&increment(i)).unwrap();
    }
    assert!(store.verify_chain(|_, _| {}).unwrap().is_sound());
    store
        .archive(
            &ArchiveOptions::at(&archive, ArchiveUpTo::Commit(100)).unwrap(),
            |_, _, _| {},
        )
        .unwrap();

    let alone = reopen(&live, None);
    let report = alone.verify_chain(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems);
    assert_eq!(report.chain.as_ref().unwrap().chained, 20);
    let whole = reopen(&live, Some(&archive));
    let report = whole.verify_chain(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems);
    assert_eq!(report.chain.as_ref().unwrap().started, Some(1));
    assert_eq!(report.chain.as_ref().unwrap().chained, 120);
    // Appends go on chaining to the commit before.
    let chained = Store::builder(&live)
        .storage(JournalStorage::with_segment_bytes(
            &live,
            Durability::Immediate,
            4096,
        ))
        .chain(true)
        .open()
        .unwrap();
    chained.log(&increment(121)).unwrap();
    assert!(reopen(&live, None)
        .verify_chain(|_, _| {})
        .unwrap()
        .is_sound());
}

#[test]
fn queries_after_the_log_start_need_no_archive_and_earlier_ones_name_it() {
    let live = MemoryStorage::new();
    let store = Store::with_storage(live.clone());
    for i in 1..=40u64 {
        let account = format!("account:{}", i % 3);
        store.log(&numbered(i).tagged([account.as_str()])).unwrap();
    }
    let archive = std::sync::Arc::new(MemoryStorage::new());
    let options = ArchiveOptions::new(archive.clone(), "memory-archive", ArchiveUpTo::Commit(30));
    store.archive(&options, |_, _, _| {}).unwrap();

    // A new store on the same backend (the memory backend saves no index: built afresh).
    let fresh = Store::with_storage(live.clone());
    let query = foldstore::Query::tag("account:1");
    let found = fresh.events_matching(&query, 30).unwrap();
    assert_eq!(found.len(), 4, "commits 31, 34, 37 and 40");
    let error = fresh.events_matching(&query, 0).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Archived {
                commit: 1,
                start: 31,
                ..
            }
        ),
        "{error}"
    );
    // An idempotent append cannot know whether an archived commit holds its key.
    let error = fresh.append_once("k", &[numbered(99)]).unwrap_err();
    assert!(matches!(error, Error::Archived { .. }), "{error}");
    // With the archive, the index covers everything.
    let whole = Store::builder("whole")
        .storage(live)
        .shared_archive(archive)
        .open()
        .unwrap();
    assert_eq!(whole.events_matching(&query, 0).unwrap().len(), 14);
    assert!(whole.append_once("k", &[numbered(99)]).is_ok());
}

#[test]
fn a_writer_that_knew_the_log_before_the_archiving_cannot_write_into_its_numbers() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let stale = Store::open(&live).unwrap();
    stale.ensure_folder().unwrap();
    for i in 1..=20 {
        stale.log(&increment(i)).unwrap();
    }
    assert_eq!(stale.log_start().unwrap(), 1, "read before the archiving");
    let other = Store::open(&live).unwrap();
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(15))
        .unwrap()
        .unreadable_by_original(true);
    other.archive(&options, |_, _, _| {}).unwrap();
    assert!(!live.join("11.log").exists());
    // A model instance at commit 10 commits at 11: a lost race, and nothing is left there.
    let created = stale
        .storage()
        .create_commit(11, br#"{"events":[]}"#)
        .unwrap();
    assert!(
        created.is_err(),
        "a number before the log's start was taken"
    );
    assert!(!live.join("11.log").exists());
    // A plain append goes after the tip.
    assert_eq!(stale.log(&increment(21)).unwrap(), 21);
    let whole = Store::builder(&live)
        .archive_at(&archive)
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(whole.tip().unwrap(), 21);
    assert_eq!(sum(&whole), (1..=21).sum::<i64>());
}

#[test]
fn two_stores_cannot_share_an_archive_and_damage_is_never_archived() {
    let temp = tempfile::tempdir().unwrap();
    let archive = temp.path().join("archive");
    let first = journal_with(&temp.path().join("first"), 30);
    let second = Store::memory();
    for i in 1..=30 {
        second.log(&numbered(i)).unwrap();
    }
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(20)).unwrap();
    first.archive(&options, |_, _, _| {}).unwrap();
    let error = second.archive(&options, |_, _, _| {}).unwrap_err();
    assert!(
        error.to_string().contains("another store's archive"),
        "{error}"
    );
    assert_eq!(second.log_start().unwrap(), 1);
    let whole = reopen(&temp.path().join("first"), Some(&archive));
    assert_eq!(sum(&whole), (1..=30).sum::<i64>());

    // A damaged commit stops the archiving before anything is written.
    let loose = temp.path().join("loose");
    let store = Store::open(&loose).unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=10 {
        store.log(&increment(i)).unwrap();
    }
    fs::write(loose.join("3.log"), b"{\"events\":[{\"name\"").unwrap();
    let elsewhere = temp.path().join("elsewhere");
    let options = ArchiveOptions::at(&elsewhere, ArchiveUpTo::Commit(8))
        .unwrap()
        .unreadable_by_original(true);
    let error = store.archive(&options, |_, _, _| {}).unwrap_err();
    assert!(
        matches!(error, Error::CorruptCommit { commit: 3, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("repair"), "{error}");
    assert!(!loose.join("foldstore-archived.json").exists());
    assert!(loose.join("1.log").exists());
}

#[test]
fn a_store_archived_twice_reads_through_the_new_manifest_and_copies_need_the_archive() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let before = all_bytes(&journal_with(&live, 60));
    let store = reopen(&live, Some(&archive));
    let options = |n| ArchiveOptions::at(&archive, ArchiveUpTo::Commit(n)).unwrap();
    store.archive(&options(10), |_, _, _| {}).unwrap();
    assert_eq!(
        store.storage().read_commit(5).unwrap().as_ref(),
        Some(&before[4])
    );
    store.archive(&options(40), |_, _, _| {}).unwrap();
    assert_eq!(
        store.storage().read_commit(35).unwrap().as_ref(),
        Some(&before[34])
    );
    assert_eq!(all_bytes(&store), before);

    // A copy holds the whole log: without the archive it is refused, with it it is whole.
    let alone = reopen(&live, None);
    let refused = alone.copy_to(
        &Store::open(temp.path().join("copy")).unwrap(),
        foldstore::CopyOptions::new(),
    );
    assert!(refused.is_err());
    let copy = Store::open(temp.path().join("whole-copy")).unwrap();
    store.copy_to(&copy, foldstore::CopyOptions::new()).unwrap();
    assert_eq!(all_bytes(&copy), before);
    // And a verification with the archive reads every commit.
    assert_eq!(store.verify(|_, _| {}).unwrap().sound_commits, 60);
    assert_eq!(alone.verify(|_, _| {}).unwrap().sound_commits, 20);
}

#[test]
fn a_reader_that_knew_the_log_before_another_process_archived_meets_the_archive_not_a_hole() {
    for layout in [Layout::Journal, Layout::Loose] {
        let temp = tempfile::tempdir().unwrap();
        let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
        let open = |with_archive: bool| {
            let builder = match layout {
                Layout::Journal => Store::builder(&live).storage(
                    JournalStorage::with_segment_bytes(&live, Durability::Immediate, 4096),
                ),
                _ => Store::builder(&live).layout(layout),
            };
            let builder = if with_archive {
                builder.archive_at(&archive).unwrap()
            } else {
                builder
            };
            builder.open().unwrap()
        };
        let writer = open(false);
        writer.ensure_folder().unwrap();
        for i in 1..=400 {
            writer.log(&increment(i)).unwrap();
        }
        let before = all_bytes(&writer);
        // Two readers that read the log's start before the archiving: one given the archive.
        let (stale, stale_with_archive) = (open(false), open(true));
        assert_eq!(stale.log_start().unwrap(), 1);
        assert_eq!(stale_with_archive.log_start().unwrap(), 1);
        assert_eq!(stale.read_commit(3).unwrap().number(), 3);
        // Both have just looked past the log's end (as a poll does).
        assert!(stale.storage().read_commit(401).unwrap().is_none());
        assert!(stale_with_archive
            .storage()
            .read_commit(401)
            .unwrap()
            .is_none());
        let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(300))
            .unwrap()
            .unreadable_by_original(true);
        let report = open(false).archive(&options, |_, _, _| {}).unwrap();
        assert!(report.removed > 0, "{layout:?}: {report:?}");
        // A replay from commit 1 at once: the commits come from the archive, or are named
        // as archived, never as missing.
        let replayed = stale_with_archive.replay_event_stream(|_, _| {});
        assert_eq!(
            replayed.map(|summary| summary.events).ok(),
            Some(400),
            "{layout:?}"
        );
        // Each commit reads as it was, or as archived: never as missing or damaged.
        for n in 1..=400 {
            match stale.storage().read_commit(n) {
                Ok(Some(bytes)) => assert_eq!(bytes, before[n as usize - 1], "{layout:?}"),
                Err(Error::Archived { commit, start, .. }) => {
                    assert_eq!((commit, start), (n, 301), "{layout:?}");
                }
                other => panic!("{layout:?}: commit {n} read as {other:?}"),
            }
            match stale.storage().read_commits(n, 10) {
                Ok(commits) => {
                    assert!(!commits.is_empty(), "{layout:?}: none from {n}");
                    for (k, bytes) in commits.iter().enumerate() {
                        assert_eq!(*bytes, before[n as usize - 1 + k], "{layout:?}");
                    }
                }
                Err(Error::Archived { commit, .. }) => assert_eq!(commit, n, "{layout:?}"),
                other => panic!("{layout:?}: commits from {n} read as {other:?}"),
            }
        }
        let opened = stale
            .define_model(Counter)
            .and_then(|model: Model<Counter>| model.aggregator_data().map(|sum| *sum));
        match opened {
            Ok(total) => assert_eq!(total, (1..=400).sum::<i64>(), "{layout:?}"),
            Err(Error::Archived { .. }) => {}
            Err(other) => panic!("{layout:?}: the model opened as {other:?}"),
        }
        // It writes on after the tip.
        assert_eq!(stale.log(&increment(401)).unwrap(), 401, "{layout:?}");
        // The reader given the archive reads every commit as it was.
        let mut all = all_bytes(&stale_with_archive);
        assert_eq!(all.pop().map(|_| all), Some(before), "{layout:?}");
        assert_eq!(
            sum(&stale_with_archive),
            (1..=401).sum::<i64>(),
            "{layout:?}"
        );
    }
}

#[test]
fn a_conditional_append_from_before_another_process_archived_checks_the_archive_and_never_spins() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let writer = Store::open(&live).unwrap();
    writer.ensure_folder().unwrap();
    for i in 1..=10 {
        writer.log(&increment(i)).unwrap();
    }
    // Two stores that know the log up to commit 10, one given the archive.
    let stale = Store::open(&live).unwrap();
    let stale_with_archive = Store::builder(&live)
        .archive_at(&archive)
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(
        (stale.tip().unwrap(), stale_with_archive.tip().unwrap()),
        (10, 10)
    );
    for i in 11..=20 {
        writer.log(&increment(i).tagged(["counter:a"])).unwrap();
    }
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(15))
        .unwrap()
        .unreadable_by_original(true);
    Store::open(&live)
        .unwrap()
        .archive(&options, |_, _, _| {})
        .unwrap();
    let append_if = |store: Store, tag: &'static str| {
        let (sent, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let condition =
                foldstore::AppendCondition::none_matching_after(foldstore::Query::tag(tag), 10);
            let _ = sent.send(store.append_if(&[increment(99).tagged([tag])], &condition));
        });
        received
            .recv_timeout(Duration::from_secs(60))
            .expect("the append returns")
    };
    // A backend's conditional append from a number archived meanwhile (a process that read
    // the log's end before the archiving) stops there, naming it: it checks no commit it
    // cannot read, and never retries the number forever.
    let (sent, received) = std::sync::mpsc::channel();
    let store = stale.clone();
    std::thread::spawn(move || {
        let check: std::sync::Arc<foldstore::CommitCheck> =
            std::sync::Arc::new(|_: u64, _: &[u8]| Ok(false));
        let _ = sent.send(
            store
                .storage()
                .append_commit_if(11, br#"{"events":[]}"#, false, check),
        );
    });
    match received
        .recv_timeout(Duration::from_secs(60))
        .expect("the append returns")
    {
        Err(Error::Archived { commit, start, .. }) => assert_eq!((commit, start), (11, 16)),
        other => panic!("{other:?}"),
    }
    // Without the archive, the commits to check are named as archived.
    match append_if(stale, "counter:b") {
        Err(Error::Archived { commit, start, .. }) => assert_eq!((commit, start), (11, 16)),
        other => panic!("{other:?}"),
    }
    // With it, they are checked there: commits 11 to 15 do not match, nor do the live ones.
    let appended = append_if(stale_with_archive.clone(), "counter:b").unwrap();
    assert_eq!(appended.map_err(|failed| failed.conflicts), Ok(21));
    // And a decision they break conflicts with them.
    let failed = append_if(stale_with_archive, "counter:a")
        .unwrap()
        .unwrap_err();
    assert_eq!(failed.conflicts.first(), Some(&11), "{failed:?}");
}

#[test]
fn a_stray_segment_below_an_archived_journals_start_is_not_taken_for_its_log() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let store = journal_with(&live, 400);
    let before = all_bytes(&store);
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(300)).unwrap();
    let report = store.archive(&options, |_, _, _| {}).unwrap();
    assert!(report.removed > 0);
    let segments = live.join("journal");
    assert!(!segments.join("00000000000000000001.jsonl").exists());
    // A file another program left under a segment's name, below the lowest live segment.
    fs::write(
        segments.join("00000000000000000003.jsonl"),
        b"not a segment\n",
    )
    .unwrap();
    let reopened = reopen(&live, Some(&archive));
    assert_eq!(reopened.tip().unwrap(), 400);
    assert_eq!(all_bytes(&reopened), before);
    assert_eq!(reopened.log(&increment(401)).unwrap(), 401);
    let alone = reopen(&live, None);
    assert_eq!(
        (alone.log_start().unwrap(), alone.tip().unwrap()),
        (301, 401)
    );
}

#[test]
fn a_journal_that_knew_only_segments_archived_since_finds_the_log_again() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    let writer = journal_with(&live, 20);
    // It knows the log while every segment it walked is still there.
    let stale = reopen(&live, None);
    assert_eq!(stale.tip().unwrap(), 20);
    for i in 21..=400 {
        writer.log(&increment(i)).unwrap();
    }
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(300)).unwrap();
    let report = reopen(&live, None).archive(&options, |_, _, _| {}).unwrap();
    assert!(report.removed > 250, "{report:?}");
    assert_eq!(stale.log(&increment(401)).unwrap(), 401);
    assert_eq!(stale.tip().unwrap(), 401);
    assert!(matches!(
        stale.storage().read_commit(5),
        Err(Error::Archived { start: 301, .. })
    ));
    assert_eq!(stale.log_start().unwrap(), 301);
    assert_eq!(sum(&reopen(&live, Some(&archive))), (1..=401).sum::<i64>());
}

#[test]
fn a_journal_writer_idle_while_another_process_archived_past_it_writes_where_readers_read() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    // It wrote commits 1 to 20 (its segment open for writing), then fell idle.
    let idle = journal_with(&live, 20);
    let other = reopen(&live, None);
    for i in 21..=400 {
        other.log(&increment(i)).unwrap();
    }
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(300)).unwrap();
    other.archive(&options, |_, _, _| {}).unwrap();
    let written = idle.log(&increment(401));
    // Written where every reader finds it, or refused: never acknowledged and lost.
    if let Ok(number) = written {
        let fresh = reopen(&live, Some(&archive));
        assert_eq!(fresh.tip().unwrap(), number);
        let commit = fresh.read_commit(number).unwrap();
        assert_eq!(commit.events()[0].data(), increment(401).data());
        assert_eq!(number, 401);
    }
    assert_eq!(idle.log(&increment(402)).unwrap(), 402);
    assert_eq!(sum(&reopen(&live, Some(&archive))), (1..=402).sum::<i64>());
}

/// A journal store at `path` with segments of `bytes`.
fn journal_of(path: &Path, bytes: u64) -> Store {
    let storage = JournalStorage::with_segment_bytes(path, Durability::Immediate, bytes);
    let store = Store::builder(path).storage(storage).open().unwrap();
    store.ensure_folder().unwrap();
    store
}

#[test]
fn processes_idle_while_another_archived_past_them_read_and_write_the_log_as_it_is() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    // A writer with large segments writes commits 1 to 20, a reader reads them; both then
    // fall idle, their segment open.
    let writer = journal_of(&live, 64 << 20);
    for i in 1..=20 {
        writer.log(&increment(i).tagged(["counter:a"])).unwrap();
    }
    let reader = reopen(&live, None);
    assert_eq!(sum(&reader), (1..=20).sum::<i64>());
    let deciding = reopen(&live, None);
    assert_eq!(deciding.tip().unwrap(), 20);
    // Another process, with small segments, writes on and archives past them.
    let other = journal_of(&live, 4096);
    for i in 21..=400 {
        other.log(&increment(i)).unwrap();
    }
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(300)).unwrap();
    let report = other.archive(&options, |_, _, _| {}).unwrap();
    assert!(report.removed >= 20, "{report:?}");
    // The reader finds the log's end and the commits after the start.
    assert_eq!(reader.tip().unwrap(), 400);
    assert_eq!(reader.read_commit(350).unwrap().number(), 350);
    // A decision made at commit 20 needs commits 21 to 300 checked: archived.
    let condition =
        foldstore::AppendCondition::none_matching_after(foldstore::Query::tag("counter:b"), 20);
    let decided = deciding.append_if(&[increment(0).tagged(["counter:b"])], &condition);
    assert!(
        matches!(decided, Err(Error::Archived { start: 301, .. })),
        "{decided:?}"
    );
    // The writer writes where every reader reads.
    assert_eq!(writer.log(&increment(401)).unwrap(), 401);
    assert_eq!(reader.tip().unwrap(), 401);
    assert_eq!(sum(&reopen(&live, Some(&archive))), (1..=401).sum::<i64>());
}

#[test]
fn a_process_with_larger_segments_idle_while_another_closed_and_archived_its_segment_goes_on() {
    let temp = tempfile::tempdir().unwrap();
    let (live, archive) = (temp.path().join("live"), temp.path().join("archive"));
    // Large segments: commits 1 to 200 all in the first, written and read by this process.
    let large = journal_of(&live, 64 << 20);
    for i in 1..=200 {
        large.log(&increment(i)).unwrap();
    }
    assert_eq!(sum(&large), (1..=200).sum::<i64>());
    // Another process, with small segments, finds the first one full: it closes it, writes
    // on in segments of its own, and archives past it.
    let small = journal_of(&live, 4096);
    for i in 201..=400 {
        small.log(&increment(i)).unwrap();
    }
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(300)).unwrap();
    small.archive(&options, |_, _, _| {}).unwrap();
    assert!(!live.join("journal/00000000000000000001.jsonl").exists());
    assert_eq!(large.tip().unwrap(), 400);
    assert_eq!(large.read_commit(350).unwrap().number(), 350);
    assert_eq!(large.log(&increment(401)).unwrap(), 401);
    assert_eq!(sum(&reopen(&live, Some(&archive))), (1..=401).sum::<i64>());
}
