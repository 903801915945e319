//! Many threads in one process, on one store (memory and folder).

use std::time::Instant;

use crate::bank::open_accounts;
use crate::checks::{check_log, print_figures};
use crate::mix::{run_mix, Mix};
use foldstore::Store;

/// Eight threads on one store: six moving money, one logging audits, one reading.
fn eight_threads(store: &Store, what: &str, instances: u64) {
    let started = Instant::now();
    open_accounts(store);
    let mix = Mix {
        process: 0,
        transfer_threads: 6,
        instances,
        audit_threads: 1,
        audits: instances,
        reader_threads: 1,
    };
    assert_eq!(mix.threads(), 8);
    let tally = run_mix(store, mix);
    let instances = mix.transfer_threads * mix.instances;
    assert_eq!(tally.instances, instances);
    let figures = check_log(store, &tally, instances);
    print_figures(what, 1, mix, &tally, &figures, started);
}

#[test]
fn eight_threads_on_one_memory_store() {
    eight_threads(&Store::memory(), "memory, threads", 1_000);
}

#[test]
fn eight_threads_on_one_folder_store() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path().join("store")).unwrap();
    eight_threads(&store, "folder, threads", 150);
}
