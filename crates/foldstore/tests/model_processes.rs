//! Read-write instances racing from several OS processes on one folder.
//!
//! The test binary runs itself again as worker processes: `counter_worker` does nothing unless
//! the environment variable [`CHILD_FOLDER`] names a store folder; then it runs read-write
//! increments of a counter model there and prints what it did, as one JSON line, on stdout.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::counter::{check_race, race_increments, Counter, RaceTally};
use common::workers::{env_number, gate, print_worker_result, run_workers, test_name};
use foldstore::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The store folder a worker process works in; absent in a normal test run.
const CHILD_FOLDER: &str = "FOLDSTORE_CHILD_FOLDER";
/// The worker's number, from 0.
const CHILD_ID: &str = "FOLDSTORE_CHILD_ID";
/// How many workers there are (they wait for each other once, see `wait_for_the_others`).
const CHILD_COUNT: &str = "FOLDSTORE_CHILD_COUNT";
/// How many read-write increments each worker runs.
const CHILD_CALLS: &str = "FOLDSTORE_CHILD_CALLS";
/// The attempts each read-write instance may make.
const CHILD_MAX_ATTEMPTS: &str = "FOLDSTORE_CHILD_MAX_ATTEMPTS";

/// The worker's test name (see `common::workers::test_name`).
const WORKER_TEST: &str = "counter_worker";

/// What one worker did.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    worker: u64,
    race: RaceTally,
    gate_timed_out: bool,
}

/// Waits until every worker has read the state once, so that all of them race for the same
/// commit number: every worker but one loses its first race, however the OS schedules them.
/// Returns false if the others did not arrive within a generous bound (a worker failed).
fn wait_for_the_others(folder: &Path, worker: u64, workers: u64) -> bool {
    gate(&folder.parent().unwrap().join("gate"), worker, workers)
}

/// A worker process: runs only when started by [`read_write_instances_race_from_four_processes`].
#[test]
fn counter_worker() {
    let Some(folder) = std::env::var_os(CHILD_FOLDER) else {
        return;
    };
    let folder = PathBuf::from(folder);
    let worker = env_number(CHILD_ID);
    let workers = env_number(CHILD_COUNT);
    let calls = env_number(CHILD_CALLS);
    let max_attempts = u32::try_from(env_number(CHILD_MAX_ATTEMPTS)).unwrap();

    let store = Store::open(&folder).unwrap();
    let model = store.define_model(Counter).unwrap();
    let mut gate_timed_out = false;
    let race = race_increments(&model, calls, max_attempts, || {
        gate_timed_out = !wait_for_the_others(&folder, worker, workers);
    });
    let tally = Tally {
        worker,
        race,
        gate_timed_out,
    };
    print_worker_result(&tally);
}

#[test]
fn read_write_instances_race_from_four_processes() {
    const WORKERS: u64 = 4;
    const CALLS: u64 = 25;
    const MAX_ATTEMPTS: u32 = 3;

    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    fs::create_dir(&folder).unwrap();
    fs::create_dir(temp.path().join("gate")).unwrap();

    let tallies: Vec<Tally> = run_workers(
        &test_name(module_path!(), WORKER_TEST),
        WORKERS,
        |worker, command| {
            command
                .env(CHILD_FOLDER, &folder)
                .env(CHILD_ID, worker.to_string())
                .env(CHILD_COUNT, WORKERS.to_string())
                .env(CHILD_CALLS, CALLS.to_string())
                .env(CHILD_MAX_ATTEMPTS, MAX_ATTEMPTS.to_string());
        },
    );

    let mut workers: Vec<u64> = tallies.iter().map(|t| t.worker).collect();
    workers.sort_unstable();
    assert_eq!(workers, (0..WORKERS).collect::<Vec<_>>());
    assert!(tallies.iter().all(|t| !t.gate_timed_out), "{tallies:?}");

    let races: Vec<RaceTally> = tallies.into_iter().map(|t| t.race).collect();
    let store = Store::open(&folder).unwrap();
    let successes = check_race(&races, &store, WORKERS * CALLS, WORKERS);

    // Only commit files (and nothing half-written) were left in the folder.
    for entry in fs::read_dir(&folder).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let stem = name
            .strip_suffix(".log")
            .unwrap_or_else(|| panic!("stray file {name}"));
        let number: u64 = stem.parse().unwrap();
        assert!((1..=successes).contains(&number), "{name}");
        let document: Value =
            serde_json::from_slice(&fs::read(folder.join(&name)).unwrap()).unwrap();
        assert!(document["headers"]["time"].is_string());
    }
}
