//! Many processes: the mix run by worker processes (this test binary run again) on one folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::bank::{
    open_accounts, DEADLINE, WORKER_FOLDER, WORKER_INSTANCES, WORKER_PROCESS, WORKER_TEST,
};
use crate::checks::{check_log, print_figures};
use crate::common::workers::{
    env_number, print_worker_result, test_name, wait_until, worker_command, worker_result,
};
use crate::mix::{run_mix, Mix, Tally};
use foldstore::Store;

/// What each worker process runs.
fn process_mix(process: u64, instances: u64) -> Mix {
    Mix {
        process,
        transfer_threads: 2,
        instances,
        audit_threads: 1,
        audits: 60,
        reader_threads: 1,
    }
}

/// Waits until the parent has started every worker, so that they all run at once.
fn wait_for_go(folder: &Path) {
    let go = folder.parent().expect("the store's parent").join("go");
    assert!(
        wait_until(DEADLINE, Duration::from_millis(1), || go.exists()),
        "the parent never said go"
    );
}

/// A worker process: runs only when started by [`bank_transfers_from_four_processes`].
#[test]
fn bank_worker() {
    let Some(folder) = std::env::var_os(WORKER_FOLDER) else {
        return;
    };
    let folder = PathBuf::from(folder);
    let process = env_number(WORKER_PROCESS);
    let instances = env_number(WORKER_INSTANCES);
    let store = Store::open(&folder).expect("open the store");
    wait_for_go(&folder);
    let tally = run_mix(&store, process_mix(process, instances));
    print_worker_result(&tally);
}

#[test]
fn bank_transfers_from_four_processes() {
    const PROCESSES: u64 = 4;
    const INSTANCES: u64 = 150;
    let started = Instant::now();
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let store = Store::open(&folder).unwrap();
    open_accounts(&store);

    let children: Vec<Child> = (0..PROCESSES)
        .map(|process| {
            worker_command(&test_name(module_path!(), WORKER_TEST))
                .env(WORKER_FOLDER, &folder)
                .env(WORKER_PROCESS, process.to_string())
                .env(WORKER_INSTANCES, INSTANCES.to_string())
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    fs::write(temp.path().join("go"), b"").unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut tally = Tally::default();
    for child in children {
        tally.add(worker_result(child, Some(deadline)));
    }

    let mix = process_mix(0, INSTANCES);
    let instances = PROCESSES * mix.transfer_threads * INSTANCES;
    assert_eq!(tally.instances, instances);
    let fresh = Store::open(&folder).unwrap();
    let figures = check_log(&fresh, &tally, instances);
    print_figures(
        "folder, processes",
        PROCESSES,
        mix,
        &tally,
        &figures,
        started,
    );
}
