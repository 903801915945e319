//! Replay: every event with its commit's headers, ranges, stopping, reading one commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::fixture::{headers, log_numbered, replay_all, Fixture};
use foldstore::{Commit, Error, Event};
use serde_json::{json, Value};

// Replay.

pub(crate) fn replay_gives_every_event_with_its_commits_headers_in_order<F: Fixture>() {
    let fixture = F::new();
    let counter = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&counter);
    let store = fixture
        .builder()
        .headers(move || headers(&[("commit", json!(counted.fetch_add(1, Ordering::SeqCst) + 1))]))
        .open()
        .expect("open");
    store.log(&Event::new("one")).expect("log");
    store
        .log_block(|block| {
            block.log(&Event::new("two"))?;
            block.log(&Event::new("three"))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .expect("log_block");
    store.log(&Event::new("four")).expect("log");
    let seen: Vec<(String, Value)> = replay_all(&store)
        .into_iter()
        .map(|(event, headers)| (event.name().to_owned(), headers["commit"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("one".to_owned(), json!(1)),
            ("two".to_owned(), json!(2)),
            ("three".to_owned(), json!(2)),
            ("four".to_owned(), json!(3)),
        ]
    );
    let summary = store.replay_event_stream(|_, _| {}).expect("replay");
    assert_eq!(summary.commits, 3);
    assert_eq!(summary.events, 4);
    assert_eq!(summary.last_commit, Some(3));
    assert!(!summary.stopped);
}

pub(crate) fn replay_covers_the_range_asked_for<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 5);
    let run = |replay: foldstore::Replay<'_>| {
        let mut seen = Vec::new();
        let summary = replay
            .run(|event, _| seen.push(event.name().to_owned()))
            .expect("replay");
        assert_eq!(summary.events, seen.len() as u64);
        (seen, summary.last_commit)
    };
    assert_eq!(
        run(store.replay().from(3)),
        (vec!["e3".into(), "e4".into(), "e5".into()], Some(5))
    );
    assert_eq!(
        run(store.replay().to(2)),
        (vec!["e1".into(), "e2".into()], Some(2))
    );
    assert_eq!(
        run(store.replay().from(2).to(2)),
        (vec!["e2".into()], Some(2))
    );
    assert_eq!(
        run(store.replay().range(2..4)),
        (vec!["e2".into(), "e3".into()], Some(3))
    );
    assert_eq!(
        run(store.replay().range(2..=4)),
        (vec!["e2".into(), "e3".into(), "e4".into()], Some(4))
    );
    assert_eq!(
        run(store.replay().range(..=1)),
        (vec!["e1".into()], Some(1))
    );
    assert_eq!(run(store.replay().range(5..)), (vec!["e5".into()], Some(5)));
    assert_eq!(run(store.replay().range(4..4)), (vec![], None));
    assert_eq!(
        run(store.replay().from(0).to(1)),
        (vec!["e1".into()], Some(1)),
        "from 0 is from 1"
    );
    assert_eq!(run(store.replay().from(6)), (vec![], None));
}

pub(crate) fn stop_before_stops_before_applying_and_stop_after_after<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 5);

    let mut asked = Vec::new();
    let mut seen = Vec::new();
    let summary = store
        .replay()
        .stop_before(|commit| {
            asked.push(commit.number());
            commit.events()[0].name() == "e3"
        })
        .run(|event, _| seen.push(event.name().to_owned()))
        .expect("replay");
    assert_eq!(asked, [1, 2, 3]);
    assert_eq!(seen, ["e1", "e2"]);
    assert!(summary.stopped);
    assert_eq!(summary.last_commit, Some(2));
    assert_eq!(summary.commits, 2);

    let mut seen = Vec::new();
    let summary = store
        .replay()
        .stop_after(|commit| commit.number() == 3)
        .run(|event, _| seen.push(event.name().to_owned()))
        .expect("replay");
    assert_eq!(seen, ["e1", "e2", "e3"]);
    assert!(summary.stopped);
    assert_eq!(summary.last_commit, Some(3));

    // Both, with a range: stop_before wins when it comes first.
    let mut seen = Vec::new();
    let summary = store
        .replay()
        .from(2)
        .stop_before(|commit| commit.number() == 4)
        .stop_after(|commit| commit.number() == 5)
        .run(|event, _| seen.push(event.name().to_owned()))
        .expect("replay");
    assert_eq!(seen, ["e2", "e3"]);
    assert!(summary.stopped);

    // Predicates that never hold do not stop anything.
    let summary = store
        .replay()
        .stop_before(|_| false)
        .stop_after(|_| false)
        .run(|_, _| {})
        .expect("replay");
    assert!(!summary.stopped);
    assert_eq!(summary.commits, 5);

    // stop_before on the first commit applies nothing.
    let summary = store
        .replay()
        .stop_before(|_| true)
        .run(|event, _| panic!("applied {event:?}"))
        .expect("replay");
    assert!(summary.stopped);
    assert_eq!(summary.last_commit, None);

    // As an iterator.
    let numbers: Vec<u64> = store
        .replay()
        .stop_after(|commit| commit.number() == 2)
        .commits()
        .map(|commit| commit.expect("commit").number())
        .collect();
    assert_eq!(numbers, [1, 2]);
}

pub(crate) fn commits_iterates_over_a_range<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 5);
    let numbers = |commits: foldstore::Commits<'_>| -> Vec<u64> {
        commits
            .map(|commit| commit.expect("commit").number())
            .collect()
    };
    assert_eq!(numbers(store.commits(..)), [1, 2, 3, 4, 5]);
    assert_eq!(numbers(store.commits(2..=3)), [2, 3]);
    assert_eq!(numbers(store.commits(4..)), [4, 5]);
    assert_eq!(numbers(store.commits(..2)), [1]);
    for commit in store.commits(..) {
        let commit = commit.expect("commit");
        assert_eq!(
            commit.events(),
            [Event::new(format!("e{}", commit.number()))]
        );
        assert!(commit.headers().contains_key("time"));
    }
}

pub(crate) fn a_range_ending_beyond_the_tip_is_out_of_range<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 5);
    let mut seen = 0;
    let result = store.replay().to(7).run(|_, _| seen += 1);
    assert!(
        matches!(
            result,
            Err(Error::OutOfRange {
                requested: 7,
                tip: 5
            })
        ),
        "{result:?}"
    );
    assert!(
        result
            .expect_err("out of range")
            .to_string()
            .contains("commit 7"),
        "the message names the commit"
    );
    assert!(matches!(
        store.replay().range(6..=6).run(|_, _| {}),
        Err(Error::OutOfRange {
            requested: 6,
            tip: 5
        })
    ));
    assert!(matches!(
        store.replay().range(3..7).run(|_, _| {}),
        Err(Error::OutOfRange {
            requested: 6,
            tip: 5
        })
    ));
    let results: Vec<Result<Commit, Error>> = store.commits(4..=6).collect();
    assert_eq!(
        results.len(),
        3,
        "two commits, then one error, then the end"
    );
    assert!(results[0].is_ok() && results[1].is_ok());
    assert!(matches!(results[2], Err(Error::OutOfRange { .. })));
    // The tip itself is in range.
    assert_eq!(
        store.replay().to(5).run(|_, _| {}).expect("replay").commits,
        5
    );
}

/// Library bug: a range that starts past the end of the log reports the wrong tip.
pub(crate) fn a_range_starting_beyond_the_tip_reports_the_real_tip<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 3);
    let result = store.replay().range(8..=9).run(|_, _| {});
    assert!(
        matches!(
            result,
            Err(Error::OutOfRange {
                requested: 9,
                tip: 3
            })
        ),
        "expected OutOfRange {{ requested: 9, tip: 3 }}, got {result:?}"
    );
}

pub(crate) fn read_commit_reads_one_commit<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    log_numbered(&store, 3);
    let commit = store.read_commit(2).expect("read");
    assert_eq!(commit.number(), 2);
    assert_eq!(commit.events(), [Event::new("e2")]);
    assert_eq!(commit.into_events(), [Event::new("e2")]);
    for absent in [0, 4, 100] {
        let result = store.read_commit(absent);
        assert!(
            matches!(result, Err(Error::OutOfRange { requested, tip: 3 }) if requested == absent),
            "{result:?}"
        );
    }
}
