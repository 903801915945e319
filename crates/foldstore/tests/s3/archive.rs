//! Archiving into object storage: a journal's commits before its snapshot go to an S3 prefix,
//! and are read back from it; and the measurement of archiving 1,000,000 commits (ignored).

use std::time::{Duration, Instant};

use foldstore::{
    ArchiveOptions, ArchiveUpTo, Durability, Error, Event, EventContext, Layout, Model,
    ModelDefinition, Store, View,
};
use serde_json::{json, Value};

/// A model counting events, with snapshots named "count".
struct Count;

impl ModelDefinition for Count {
    type Data = u64;
    type Event = Value;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> u64 {
        0
    }

    fn snapshot_name(&self) -> Option<&str> {
        Some("count")
    }

    fn apply(&self, data: &mut u64, _: Value, _: &EventContext<'_>) -> Result<(), String> {
        *data += 1;
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

fn count(store: &Store) -> u64 {
    let model: Model<Count> = store.define_model(Count).unwrap();
    *model.aggregator_data().unwrap()
}

#[test]
fn a_journal_archived_into_object_storage_reads_back_from_it() {
    let Some(url) = crate::s3_server::fresh_url() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let live = temp.path().join("live");
    let store = Store::builder(&live)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    for i in 0..500 {
        store
            .log(&Event::with_data("numbered", json!({ "i": i })))
            .unwrap();
    }
    let before: Vec<Vec<u8>> = (1..=500)
        .map(|n| store.storage().read_commit(n).unwrap().unwrap())
        .collect();
    let model: Model<Count> = store.define_model(Count).unwrap();
    assert_eq!(model.snapshot().unwrap(), Some(500));
    store.log(&Event::new("after")).unwrap();
    let options = ArchiveOptions::at(&url, ArchiveUpTo::Snapshot("count".into())).unwrap();
    let report = store.archive(&options, |_, _, _| {}).unwrap();
    assert_eq!((report.last, report.start), (500, 501));

    let alone = Store::open(&live).unwrap();
    assert_eq!(count(&alone), 501, "from the snapshot");
    let error = alone.storage().read_commit(3).unwrap_err();
    assert!(matches!(error, Error::Archived { .. }), "{error}");
    assert!(error.to_string().contains(&url), "{error}");
    let whole = Store::builder(&live)
        .archive_at(&url)
        .unwrap()
        .open()
        .unwrap();
    let read: Vec<Vec<u8>> = (1..=500)
        .map(|n| whole.storage().read_commit(n).unwrap().unwrap())
        .collect();
    assert_eq!(read, before);
    let mut replayed = 0;
    whole.replay_event_stream(|_, _| replayed += 1).unwrap();
    assert_eq!(replayed, 501);
}

#[test]
fn a_store_in_object_storage_cannot_be_archived_and_nothing_is_written() {
    let Some(url) = crate::s3_server::fresh_url() else {
        return;
    };
    let store = Store::open(&url).unwrap();
    store.ensure_folder().unwrap();
    for i in 0..5 {
        store
            .log(&Event::with_data("numbered", json!({ "i": i })))
            .unwrap();
    }
    let temp = tempfile::tempdir().unwrap();
    let archive = temp.path().join("archive");
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(3)).unwrap();
    let error = store.archive(&options, |_, _, _| {}).unwrap_err();
    assert!(error.to_string().contains("cannot be archived"), "{error}");
    assert!(!archive.exists());
    assert_eq!(Store::open(&url).unwrap().log_start().unwrap(), 1);
}

/// The median of `rounds` timings of `f`.
fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

/// Archives a journal of FOLDSTORE_ARCHIVE_COMMITS (default 1,000,000) commits, up to a
/// snapshot at its tip, into the S3 server, and prints the rate and the time a model takes to
/// open from the snapshot before and after (medians of 7): run with
/// `bash .ci/test --release -p foldstore --test s3 archiving_a_million -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn archiving_a_million_commits_to_s3() {
    let Some(url) = crate::s3_server::fresh_url() else {
        return;
    };
    let commits: u64 = std::env::var("FOLDSTORE_ARCHIVE_COMMITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let temp = tempfile::tempdir().unwrap();
    let live = temp.path().join("live");
    let store = Store::builder(&live)
        .layout(Layout::Journal)
        .durability(Durability::None)
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    let started = Instant::now();
    for i in 0..commits {
        store
            .log(&Event::with_data(
                "numbered",
                json!({ "i": i, "member": "peter pan" }),
            ))
            .unwrap();
    }
    store.storage().sync_all().unwrap();
    let model: Model<Count> = store.define_model(Count).unwrap();
    model.snapshot().unwrap();
    store.log(&Event::new("after")).unwrap();
    println!("wrote {commits} commits in {:.1?}", started.elapsed());
    let open = || assert_eq!(count(&Store::open(&live).unwrap()), commits + 1);
    let before = median(7, open);
    let replay = |store: &Store| {
        let started = Instant::now();
        let mut replayed = 0u64;
        store.replay_event_stream(|_, _| replayed += 1).unwrap();
        assert_eq!(replayed, commits + 1);
        started.elapsed()
    };
    let replay_live = replay(&Store::open(&live).unwrap());

    let options = ArchiveOptions::at(&url, ArchiveUpTo::Snapshot("count".into())).unwrap();
    let started = Instant::now();
    let report = store.archive(&options, |_, _, _| {}).unwrap();
    let took = started.elapsed();
    assert_eq!(report.last, commits);
    let after = median(7, open);
    println!(
        "archived {} commits ({} MB in {} chunks) to {url} in {took:.2?}: {:.0} commits/s; removed {} from the live journal",
        report.last,
        report.document_bytes / 1_000_000,
        report.chunks,
        report.last as f64 / took.as_secs_f64(),
        report.removed
    );
    println!(
        "model opened from its snapshot at commit {commits}: {before:.2?} before archiving, {after:.2?} after: {:.2}x",
        after.as_secs_f64() / before.as_secs_f64()
    );
    let whole = Store::builder(&live)
        .archive_at(&url)
        .unwrap()
        .open()
        .unwrap();
    let replay_archived = replay(&whole);
    println!(
        "replayed {} commits: {replay_live:.2?} from the live journal before archiving, {replay_archived:.2?} through the archive after: {:.2}x the time",
        commits + 1,
        replay_archived.as_secs_f64() / replay_live.as_secs_f64()
    );
}
