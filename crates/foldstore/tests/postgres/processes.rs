//! Several processes: read-write instances of the counter model racing on one table.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::common::counter::{Counter, CounterEvent};
use crate::common::workers::{env_number, gate, print_worker_result, run_workers, test_name};
use crate::pg_server::url_with_table;
use crate::setup::created;
use foldstore::{Dispatch, Error, PostgresStorage, Storage, Store, COMMIT_ID_HEADER};
use serde::{Deserialize, Serialize};

// Several processes: read-write instances of the counter model racing on one table.

/// The store's URL (with its table) in a worker process; absent in a normal test run.
const CHILD_URL: &str = "FOLDSTORE_PG_CHILD_URL";
/// The worker's number, from 0.
const CHILD_ID: &str = "FOLDSTORE_PG_CHILD_ID";
/// How many workers there are.
const CHILD_COUNT: &str = "FOLDSTORE_PG_CHILD_COUNT";
/// How many read-write increments each worker runs.
const CHILD_CALLS: &str = "FOLDSTORE_PG_CHILD_CALLS";
/// A folder where workers wait for each other once.
const CHILD_GATE: &str = "FOLDSTORE_PG_CHILD_GATE";
/// The attempts each read-write instance may make.
const MAX_ATTEMPTS: u32 = 100;

/// What one worker did.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    worker: u64,
    commits: Vec<u64>,
    added: i64,
    failures: u64,
    attempts: u64,
}

/// A worker process: runs only when started by `read_write_instances_race_from_several_processes`.
#[test]
fn postgres_counter_worker() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let worker = env_number(CHILD_ID);
    let workers = env_number(CHILD_COUNT);
    let calls = env_number(CHILD_CALLS);
    let gate_folder = PathBuf::from(std::env::var(CHILD_GATE).unwrap());

    let store = Store::with_storage(PostgresStorage::connect(&url).unwrap());
    let model = store.define_model(Counter).unwrap();
    let mut tally = Tally {
        worker,
        ..Tally::default()
    };
    // Past a generous time, the worker starts anyway.
    gate(&gate_folder, worker, workers);
    for call in 0..calls {
        // Workers add different amounts, so the total tells whose increments landed.
        let by = i64::try_from(worker * 1000 + call + 1).unwrap();
        let mut attempt = 0_u32;
        let result = model.with_read_write_instance(
            |view, flag| {
                attempt += 1;
                view.dispatch(CounterEvent::Incremented { by })?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            MAX_ATTEMPTS,
        );
        tally.attempts += u64::from(attempt);
        match result {
            Ok(outcome) => {
                tally
                    .commits
                    .push(outcome.commit.expect("a ready instance commits"));
                tally.added += by;
            }
            Err(Error::RetriesExhausted { .. }) => tally.failures += 1,
            Err(other) => panic!("worker {worker}: unexpected error: {other}"),
        }
    }
    print_worker_result(&tally);
}

#[test]
fn read_write_instances_race_from_several_processes() {
    const WORKERS: u64 = 4;
    const CALLS: u64 = 30;
    let Some((storage, table, url)) = created() else {
        return;
    };
    let store_url = url_with_table(&url, &table);
    let gate_folder = tempfile::tempdir().unwrap();
    let tallies: Vec<Tally> = run_workers(
        &test_name(module_path!(), "postgres_counter_worker"),
        WORKERS,
        |worker, command| {
            command
                .env(CHILD_URL, &store_url)
                .env(CHILD_ID, worker.to_string())
                .env(CHILD_COUNT, WORKERS.to_string())
                .env(CHILD_CALLS, CALLS.to_string())
                .env(CHILD_GATE, gate_folder.path());
        },
    );

    let successes: u64 = tallies.iter().map(|t| t.commits.len() as u64).sum();
    let failures: u64 = tallies.iter().map(|t| t.failures).sum();
    let attempts: u64 = tallies.iter().map(|t| t.attempts).sum();
    assert_eq!(successes + failures, WORKERS * CALLS, "{tallies:?}");
    assert_eq!(
        failures, 0,
        "{MAX_ATTEMPTS} attempts are plenty: {tallies:?}"
    );
    let mut commits: Vec<u64> = tallies.iter().flat_map(|t| t.commits.clone()).collect();
    commits.sort_unstable();
    assert_eq!(
        commits,
        (1..=successes).collect::<Vec<_>>(),
        "every commit is exactly one acknowledged call"
    );
    eprintln!(
        "{WORKERS} processes: {successes} commits in {attempts} attempts ({} lost races)",
        attempts - successes
    );

    // Seen afresh: commits 1..=n, contiguous, each one increment, with distinct ids.
    assert_eq!(storage.list().unwrap().commits, commits);
    let store = Store::with_storage(storage);
    assert_eq!(store.tip().unwrap(), successes);
    let mut ids = BTreeSet::new();
    let mut sum = 0;
    for (expected, commit) in (1..).zip(store.commits(..)) {
        let commit = commit.unwrap();
        assert_eq!(commit.number(), expected);
        assert_eq!(commit.events().len(), 1);
        sum += commit.events()[0]
            .data()
            .and_then(|data| data["by"].as_i64())
            .expect("by");
        assert!(ids.insert(commit.headers()[COMMIT_ID_HEADER].to_string()));
    }
    let acknowledged: i64 = tallies.iter().map(|t| t.added).sum();
    assert_eq!(sum, acknowledged);
    let counter = store.define_model(Counter).unwrap();
    let data = counter.aggregator_data().unwrap();
    assert_eq!(
        *data, acknowledged,
        "the total is what the workers acknowledged"
    );
    assert_eq!(data.position(), successes);
}
