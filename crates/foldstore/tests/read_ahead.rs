//! Long replays: after the first commits a replay reads ahead on other threads (batches read,
//! decoded and handed over in order, their memory handed back to the thread that decoded them).
//! These replays are long enough for that, on each layout, and check that every commit comes
//! exactly once and in order, that ranges and stops end where they say, and that damage in the
//! middle of a long log is reported at the right commit.

use std::fs;
use std::path::Path;

use foldstore::{Durability, Error, Event, Layout, Store};
use serde_json::json;

/// Long enough for many batches read ahead, with a last batch that is not full.
const COMMITS: u64 = 3_000;

/// Logs `count` single-event commits; commit `n`'s event carries `n`.
fn log_numbered(store: &Store, count: u64) {
    for n in 1..=count {
        let event = Event::with_data("counted", json!({"n": n, "text": format!("commit {n}")}));
        assert_eq!(store.log(&event).expect("log"), n);
    }
}

fn stores(dir: &Path) -> Vec<(&'static str, Store)> {
    let mut stores = vec![("memory", Store::memory())];
    for (name, layout) in [("loose", Layout::Loose), ("journal", Layout::Journal)] {
        let path = dir.join(name);
        fs::create_dir(&path).expect("create the store's folder");
        let store = Store::builder(&path)
            .layout(layout)
            .durability(Durability::None)
            .open()
            .expect("open");
        stores.push((name, store));
    }
    for (_, store) in &stores {
        log_numbered(store, COMMITS);
    }
    stores
}

fn number_of(event: &Event) -> u64 {
    event.data().and_then(|data| data["n"].as_u64()).expect("n")
}

#[test]
fn long_replays_give_every_commit_once_in_order_on_every_layout() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (name, store) in stores(dir.path()) {
        // Twice: the second replay starts with the positions the first one left.
        for _ in 0..2 {
            let mut expected = 1;
            let summary = store
                .replay_event_stream(|event, headers| {
                    assert_eq!(number_of(event), expected, "{name}");
                    assert!(headers.contains_key("time"), "{name}");
                    expected += 1;
                })
                .expect("replay");
            assert_eq!(expected, COMMITS + 1, "{name}");
            assert_eq!(
                (summary.commits, summary.events, summary.last_commit),
                (COMMITS, COMMITS, Some(COMMITS)),
                "{name}"
            );
        }

        // The iterator, owning its commits.
        let numbers: Vec<u64> = store
            .commits(..)
            .map(|commit| commit.expect("commit").number())
            .collect();
        assert_eq!(numbers, (1..=COMMITS).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn long_ranges_and_stops_end_where_they_say() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (name, store) in stores(dir.path()) {
        // A range starting and ending inside batches.
        let numbers: Vec<u64> = store
            .commits(77..=2_901)
            .map(|commit| commit.expect("commit").number())
            .collect();
        assert_eq!(numbers, (77..=2_901).collect::<Vec<_>>(), "{name}");

        // Stops well after the reading ahead started: nothing after them is applied.
        let mut seen = Vec::new();
        let summary = store
            .replay()
            .stop_after(|commit| commit.number() == 1_500)
            .run(|event, _| seen.push(number_of(event)))
            .expect("replay");
        assert!(summary.stopped, "{name}");
        assert_eq!(seen, (1..=1_500).collect::<Vec<_>>(), "{name}");

        let mut seen = Vec::new();
        store
            .replay()
            .from(10)
            .stop_before(|commit| commit.number() == 2_222)
            .run(|event, _| seen.push(number_of(event)))
            .expect("replay");
        assert_eq!(seen, (10..2_222).collect::<Vec<_>>(), "{name}");

        // A range beyond the end: every commit, then the error.
        let mut count = 0;
        let result = store.replay().to(COMMITS + 5).run(|_, _| count += 1);
        assert!(
            matches!(result, Err(Error::OutOfRange { requested, tip }) if requested == COMMITS + 5 && tip == COMMITS),
            "{name}: {result:?}"
        );
        assert_eq!(count, COMMITS, "{name}");
    }
}

#[test]
fn damage_in_the_middle_of_a_long_log_is_reported_at_its_commit() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("loose");
    fs::create_dir(&path).expect("create the store's folder");
    let store = Store::builder(&path)
        .durability(Durability::None)
        .open()
        .expect("open");
    log_numbered(&store, COMMITS);
    let damaged = path.join("1777.log");
    fs::write(&damaged, b"{\"headers\":{},\"events\":[{\"name\":").expect("damage");

    let mut seen = 0;
    let result = store.replay_event_stream(|event, _| {
        seen += 1;
        assert_eq!(number_of(event), seen);
    });
    match result {
        Err(Error::CorruptCommit { commit, .. }) => assert_eq!(commit, 1_777),
        other => panic!("expected commit 1777 to be reported as damaged, got {other:?}"),
    }
    assert_eq!(seen, 1_776);

    // A missing commit in the middle is a gap, reported as such.
    fs::remove_file(&damaged).expect("remove");
    let mut seen = 0;
    let result = store.replay_event_stream(|_, _| seen += 1);
    match result {
        Err(Error::MissingCommit { commit, next, .. }) => {
            assert_eq!(commit, 1_777);
            assert!(next > 1_777);
        }
        other => panic!("expected commit 1777 to be reported missing, got {other:?}"),
    }
    assert_eq!(seen, 1_776);
}
