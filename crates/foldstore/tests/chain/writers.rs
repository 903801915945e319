//! Chained writers at once: threads sharing a store or each with its own, worker processes,
//! conditional appends, and writers opened without the chain that continue it once it started.
//! Each log is then verified: every commit chained, no break.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use foldstore::{AppendCondition, Event, Layout, MemoryStorage, Query, Store};

use super::common::workers::{env_number, gate, print_worker_result, run_workers, test_name};
use super::{chain_of, chained_store, member_event};

/// The store folder a worker writes to; absent in a normal test run.
const CHILD_FOLDER: &str = "FOLDSTORE_CHAIN_FOLDER";
/// The folder the workers meet in before they start.
const CHILD_GATE: &str = "FOLDSTORE_CHAIN_GATE";
const CHILD_ID: &str = "FOLDSTORE_CHAIN_ID";
const CHILD_COUNT: &str = "FOLDSTORE_CHAIN_COUNT";
/// Commits each worker process appends.
const PER_WORKER: u64 = 40;

/// Checks that every one of `total` commits is chained, from commit 1, without a break.
#[track_caller]
fn assert_fully_chained(store: &Store, total: u64) {
    let (chain, problems) = chain_of(store);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(store.tip().unwrap(), total);
    assert_eq!((chain.started, chain.chained), (Some(1), total));
}

#[test]
fn threads_with_their_own_stores_and_one_shared_store_keep_one_chain() {
    for layout in [Layout::Loose, Layout::Journal] {
        let folder = tempfile::tempdir().unwrap();
        let shared = chained_store(folder.path(), layout);
        let threads: Vec<_> = (0..6)
            .map(|t| {
                // Half the threads share one store, half open their own.
                let store = if t % 2 == 0 {
                    shared.clone()
                } else {
                    chained_store(folder.path(), layout)
                };
                thread::spawn(move || {
                    for i in 0..30 {
                        store.log(&member_event(t * 100 + i)).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_fully_chained(&shared, 180);
    }
}

#[test]
fn a_memory_store_chains_too() {
    let store = Store::builder("memory")
        .storage(MemoryStorage::new())
        .chain(true)
        .open()
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                for i in 0..25 {
                    store.log(&member_event(t * 100 + i)).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_fully_chained(&store, 100);
}

#[test]
fn writers_without_the_option_continue_a_chain_another_writer_started() {
    for layout in [Layout::Loose, Layout::Journal] {
        let folder = tempfile::tempdir().unwrap();
        let plain = Store::builder(folder.path()).layout(layout).open().unwrap();
        plain.ensure_folder().unwrap();
        for i in 0..3 {
            plain.log(&member_event(i)).unwrap();
        }
        assert!(!plain.is_chained());
        // Another writer starts the chain; the plain store has not seen it yet.
        chained_store(folder.path(), layout)
            .log(&member_event(3))
            .unwrap();
        for i in 4..10 {
            plain.log(&member_event(i)).unwrap();
        }
        assert!(plain.is_chained());
        // A store opened afterwards without the option continues it too.
        Store::open(folder.path())
            .unwrap()
            .log(&member_event(10))
            .unwrap();
        let (chain, problems) = chain_of(&plain);
        assert!(problems.is_empty(), "{layout:?}: {problems:?}");
        assert_eq!((chain.started, chain.chained), (Some(4), 8), "{layout:?}");
    }
}

#[test]
fn conditional_appends_on_a_chained_store_keep_their_conditions() {
    let folder = tempfile::tempdir().unwrap();
    let store = chained_store(folder.path(), Layout::Journal);
    let account = |n: u64| Query::tag(format!("account:{n}"));
    let deposit = |n: u64| Event::new("deposited").tagged([format!("account:{n}")]);
    // Each thread decides about its own account (never failing) and, once, about a shared one
    // from the same position (exactly one may succeed).
    let position = store.tip().unwrap();
    let store = Arc::new(store);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let mut own = 0;
                for _ in 0..10 {
                    let seen = store.tip().unwrap();
                    let condition = AppendCondition::none_matching_after(account(10 + t), seen);
                    if store
                        .append_if(&[deposit(10 + t)], &condition)
                        .unwrap()
                        .is_ok()
                    {
                        own += 1;
                    }
                }
                let shared = AppendCondition::none_matching_after(account(1), position);
                let won = store.append_if(&[deposit(1)], &shared).unwrap().is_ok();
                (own, won)
            })
        })
        .collect();
    let results: Vec<(u64, bool)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(results.iter().all(|(own, _)| *own == 10), "{results:?}");
    assert_eq!(
        results.iter().filter(|(_, won)| *won).count(),
        1,
        "{results:?}"
    );
    assert_fully_chained(&store, 41);
}

#[test]
fn chain_worker() {
    let Some(folder) = std::env::var_os(CHILD_FOLDER) else {
        return;
    };
    let gate_folder = PathBuf::from(std::env::var_os(CHILD_GATE).expect("the gate"));
    let (worker, workers) = (env_number(CHILD_ID), env_number(CHILD_COUNT));
    let store = Store::builder(PathBuf::from(folder))
        .chain(true)
        .open()
        .unwrap();
    assert!(gate(&gate_folder, worker, workers), "the others never came");
    for i in 0..PER_WORKER {
        store.log(&member_event(worker * 1000 + i)).unwrap();
    }
    print_worker_result(&PER_WORKER);
}

#[test]
fn processes_keep_one_chain() {
    const WORKERS: u64 = 4;
    for layout in [Layout::Loose, Layout::Journal] {
        let folder = tempfile::tempdir().unwrap();
        chained_store(folder.path(), layout);
        let gate_folder = tempfile::tempdir().unwrap();
        let written: Vec<u64> = run_workers(
            &test_name(module_path!(), "chain_worker"),
            WORKERS,
            |worker, command| {
                command
                    .env(CHILD_FOLDER, folder.path())
                    .env(CHILD_GATE, gate_folder.path())
                    .env(CHILD_ID, worker.to_string())
                    .env(CHILD_COUNT, WORKERS.to_string());
            },
        );
        assert_eq!(written.iter().sum::<u64>(), WORKERS * PER_WORKER);
        assert_fully_chained(&Store::open(folder.path()).unwrap(), WORKERS * PER_WORKER);
    }
}
