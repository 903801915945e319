//! One model shared by many threads, and read-write instances racing from several threads.

use std::sync::Barrier;
use std::thread;

use crate::common::counter::{check_race, race_increments, RaceTally};
use crate::fixtures::temp_folder;
use crate::memberlist::Membership;
use crate::models::{Counter, Untyped};
use foldstore::Model;
use foldstore::{Durability, Error, MemoryStorage, Store};

#[test]
fn one_model_is_shared_by_many_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Model<Counter>>();
    send_sync::<Model<Membership>>();
    send_sync::<Model<Untyped>>();

    const WRITERS: usize = 4;
    const CALLS: usize = 20;
    const READS: usize = 200;
    let store = Store::memory();
    let model = store.define_model(Counter::default()).unwrap();
    let (successes, failures) = thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let model = model.clone();
                scope.spawn(move || {
                    let (mut ok, mut failed) = (0_u64, 0_u64);
                    for _ in 0..CALLS {
                        let result = model.with_read_write_instance(
                            |counter, flag| {
                                counter.increment(1)?;
                                flag.ready_to_commit();
                                Ok::<_, Error>(())
                            },
                            50,
                        );
                        match result {
                            Ok(outcome) => {
                                assert!(outcome.commit.is_some());
                                ok += 1;
                            }
                            Err(Error::RetriesExhausted { attempts: 50 }) => failed += 1,
                            Err(other) => panic!("{other}"),
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let model = &model;
                scope.spawn(move || {
                    let mut last = 0;
                    for _ in 0..READS {
                        let data = model.aggregator_data().unwrap();
                        assert!(data.position() >= last, "positions never go back");
                        assert_eq!(data.value, data.position() as i64, "whole commits only");
                        last = data.position();
                    }
                })
            })
            .collect();
        for reader in readers {
            reader.join().unwrap();
        }
        writers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    });
    assert_eq!(successes + failures, (WRITERS * CALLS) as u64);
    let data = model.aggregator_data().unwrap();
    assert_eq!(data.value, successes as i64);
    assert_eq!(data.position(), successes);
    assert_eq!(store.tip().unwrap(), successes);
}

/// Each of `threads` threads opens its own store with `open` and its own model, and runs
/// `calls` read-write increments with `max_attempts`. The first attempt of every thread's first
/// call waits, after reading the state, until every thread has read it: so every thread but one
/// loses its first race, whatever the scheduling.
fn race(
    open: impl Fn() -> Store + Sync,
    threads: usize,
    calls: usize,
    max_attempts: u32,
) -> Vec<RaceTally> {
    let gate = Barrier::new(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (open, gate) = (&open, &gate);
                scope.spawn(move || {
                    let model = open()
                        .define_model(crate::common::counter::Counter)
                        .unwrap();
                    race_increments(&model, calls as u64, max_attempts, || {
                        gate.wait();
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn read_write_instances_race_from_eight_threads_on_memory() {
    const THREADS: usize = 8;
    const CALLS: usize = 25;
    let storage = MemoryStorage::new();
    let tallies = race(|| Store::with_storage(storage.clone()), THREADS, CALLS, 3);
    check_race(
        &tallies,
        &Store::with_storage(storage),
        (THREADS * CALLS) as u64,
        THREADS as u64,
    );
}

#[test]
fn read_write_instances_race_from_eight_threads_on_a_folder() {
    const THREADS: usize = 8;
    const CALLS: usize = 25;
    let (_temp, path) = temp_folder();
    let open = || {
        Store::builder(&path)
            .durability(Durability::None)
            .open()
            .unwrap()
    };
    let tallies = race(open, THREADS, CALLS, 3);
    check_race(
        &tallies,
        &Store::open(&path).unwrap(),
        (THREADS * CALLS) as u64,
        THREADS as u64,
    );
}
