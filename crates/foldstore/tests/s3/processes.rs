//! Several processes on one prefix.

use crate::common::counter::{Counter, CounterEvent};
use crate::common::workers::{env_number, print_worker_result, run_workers, test_name};
use foldstore::{Dispatch, Error, Event, ObjectStorage, Storage, Store, COMMIT_ID_HEADER};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The S3 URL a worker process works on; absent in a normal test run.
const CHILD_URL: &str = "FOLDSTORE_S3_CHILD_URL";
/// The worker's number, from 0.
const CHILD_ID: &str = "FOLDSTORE_S3_CHILD_ID";
/// How many read-write increments each worker runs.
const CHILD_CALLS: &str = "FOLDSTORE_S3_CHILD_CALLS";

/// What one worker did.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    worker: u64,
    /// (commit, amount added) for each acknowledged increment.
    commits: Vec<(u64, i64)>,
    failures: u64,
}

/// A worker process: runs only when started by [`processes_share_one_prefix`].
#[test]
fn s3_counter_worker() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let worker = env_number(CHILD_ID);
    let calls = env_number(CHILD_CALLS);
    let store = Store::with_storage(ObjectStorage::from_url(&url).expect("open"));
    let model = store.define_model(Counter).expect("define the model");
    let mut tally = Tally {
        worker,
        ..Tally::default()
    };
    for call in 0..calls {
        // Each worker adds its own amounts, so that the total tells who committed what.
        let by = i64::try_from(worker * 1000 + call + 1).expect("small");
        match model.with_read_write_instance(
            |view, flag| {
                view.dispatch(CounterEvent::Incremented { by })?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            20,
        ) {
            Ok(outcome) => tally
                .commits
                .push((outcome.commit.expect("a ready instance commits"), by)),
            Err(Error::RetriesExhausted { .. }) => tally.failures += 1,
            Err(other) => panic!("worker {worker}: {other}"),
        }
    }
    print_worker_result(&tally);
}

#[test]
fn processes_share_one_prefix() {
    const WORKERS: u64 = 4;
    const CALLS: u64 = 15;
    let Some(url) = crate::s3_server::fresh_url() else {
        return;
    };
    ObjectStorage::from_url(&url)
        .expect("open")
        .ensure_created()
        .expect("ensure_created");
    let tallies: Vec<Tally> = run_workers(
        &test_name(module_path!(), "s3_counter_worker"),
        WORKERS,
        |worker, command| {
            command
                .env(CHILD_URL, &url)
                .env(CHILD_ID, worker.to_string())
                .env(CHILD_CALLS, CALLS.to_string());
        },
    );

    let mut acknowledged: Vec<(u64, i64)> = tallies
        .iter()
        .flat_map(|t| t.commits.iter().copied())
        .collect();
    acknowledged.sort_unstable();
    let successes = acknowledged.len() as u64;
    let failures: u64 = tallies.iter().map(|t| t.failures).sum();
    assert_eq!(successes + failures, WORKERS * CALLS, "{tallies:?}");
    assert!(successes > 0);
    assert_eq!(
        acknowledged.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        (1..=successes).collect::<Vec<_>>(),
        "every commit is exactly one acknowledged increment, contiguously"
    );

    let storage = ObjectStorage::from_url(&url).expect("open");
    assert_eq!(
        storage.list().expect("list").commits,
        (1..=successes).collect::<Vec<_>>()
    );
    let store = Store::with_storage(storage);
    assert_eq!(store.tip().expect("tip"), successes);
    for (commit, (number, by)) in store.commits(..).zip(&acknowledged) {
        let commit = commit.expect("commit");
        assert_eq!(commit.number(), *number);
        assert_eq!(
            commit.events(),
            [Event::with_data("incremented", json!({ "by": by }))]
        );
        assert!(commit.headers().contains_key(COMMIT_ID_HEADER));
    }
    let counter = store.define_model(Counter).expect("define the model");
    let total: i64 = acknowledged.iter().map(|(_, by)| by).sum();
    assert_eq!(
        *counter.aggregator_data().expect("data"),
        total,
        "the counter is the sum of what the workers were told was committed"
    );
}
