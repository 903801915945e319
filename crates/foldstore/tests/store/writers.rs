//! Several writers: instances and threads logging at once.

use std::collections::BTreeMap;
use std::sync::{Barrier, Mutex};
use std::thread;

use crate::fixture::{log_numbered, names, Fixture};
use foldstore::Event;
use serde_json::json;

// Several writers.

pub(crate) fn tip_sees_commits_of_other_instances<F: Fixture>() {
    let fixture = F::new();
    let watcher = fixture.open();
    assert_eq!(watcher.tip().expect("tip"), 0);
    let writer = fixture.open();
    log_numbered(&writer, 3);
    assert_eq!(watcher.tip().expect("tip"), 3);
    assert_eq!(watcher.log(&Event::new("e4")).expect("log"), 4);
    assert_eq!(writer.tip().expect("tip"), 4);
    assert_eq!(names(&writer), ["e1", "e2", "e3", "e4"]);
}

pub(crate) fn instances_alternating_keep_numbers_contiguous<F: Fixture>() {
    let fixture = F::new();
    let stores = [fixture.open(), fixture.open()];
    let mut numbers = Vec::new();
    for round in 0..10 {
        for (which, store) in stores.iter().enumerate() {
            numbers.push(
                store
                    .log(&Event::new(format!("{which}:{round}")))
                    .expect("log"),
            );
        }
    }
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    let expected: Vec<String> = (0..10)
        .flat_map(|round| [format!("0:{round}"), format!("1:{round}")])
        .collect();
    assert_eq!(names(&stores[0]), expected);
    assert_eq!(names(&fixture.open()), expected);
}

pub(crate) fn many_threads_logging_at_once_log_every_commit_once<F: Fixture + Sync>() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 50;
    let fixture = F::new();
    let shared = fixture.open();
    let barrier = Barrier::new(8);
    let logged: Mutex<BTreeMap<u64, (u64, u64)>> = Mutex::new(BTreeMap::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            // Half the threads share one store, the others each open their own instance.
            let store = if writer % 2 == 0 {
                shared.clone()
            } else {
                fixture.open()
            };
            let (barrier, logged) = (&barrier, &logged);
            scope.spawn(move || {
                barrier.wait();
                for index in 0..PER_THREAD {
                    let event =
                        Event::with_data("logged", json!({"writer": writer, "index": index}));
                    let number = store.log(&event).expect("log");
                    let previous = logged.lock().expect("lock").insert(number, (writer, index));
                    assert_eq!(previous, None, "commit {number} returned twice");
                }
            });
        }
    });
    let logged = logged.into_inner().expect("lock");
    let total = THREADS * PER_THREAD;
    assert_eq!(
        logged.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let mut next_index = [0_u64; 8];
    let store = fixture.open();
    assert_eq!(store.tip().expect("tip"), total);
    for commit in store.commits(..) {
        let commit = commit.expect("commit");
        let data = commit.events()[0].data().expect("data");
        let (writer, index) = (
            data["writer"].as_u64().expect("writer"),
            data["index"].as_u64().expect("index"),
        );
        assert_eq!(logged[&commit.number()], (writer, index));
        let slot = usize::try_from(writer).expect("small");
        assert_eq!(
            index, next_index[slot],
            "each writer's commits in its order"
        );
        next_index[slot] += 1;
    }
    assert_eq!(next_index, [PER_THREAD; 8]);
}
