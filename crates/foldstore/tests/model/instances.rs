//! `aggregator_data`, read instances and read-write instances.

use crate::fixtures::{commit_numbers, incremented, log_increments, store_with_user};
use crate::models::{assert_folded, commit_increment, Counter};
use foldstore::{CommitFlag, Model, DEFAULT_MAX_ATTEMPTS};
use foldstore::{Dispatch, Error, Event, MemoryStorage, ReadOnly, Store, Writer};
use serde_json::json;

/// Compiles only while `T` does not implement `Dispatch<Counter>` (the `static_assertions`
/// trick: with a second impl the `_` below would be ambiguous).
trait AmbiguousIfDispatch<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfDispatch<()> for T {}
#[allow(dead_code)]
struct IsDispatch;
impl<T: ?Sized + Dispatch<Counter>> AmbiguousIfDispatch<IsDispatch> for T {}

#[test]
fn read_instances_cannot_dispatch_by_type_and_return_the_actions_result() {
    // By type: a read-only view is not a dispatcher (this line would not compile otherwise),
    // while a writer is.
    let _ = <ReadOnly<'static, Counter> as AmbiguousIfDispatch<_>>::some_item;
    fn is_dispatch<T: Dispatch<Counter>>() {}
    is_dispatch::<Writer<Counter>>();
    is_dispatch::<&mut Writer<Counter>>();

    let store = Store::memory();
    log_increments(&store, &[2, 3]);
    let model = store.define_model(Counter::default()).unwrap();
    let (value, position) = model
        .with_read_instance(|counter| (counter.value(), counter.position()))
        .unwrap();
    assert_eq!((value, position), (5, 2));

    // aggregator_data is a read-only view of the current data, brought up to the log's end.
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (5, 2));
    log_increments(&store, &[10]);
    assert_eq!(
        data.value, 5,
        "a view is of one state; it does not change under the reader"
    );
    assert_folded(&model, 15, 3);
    assert_eq!(
        model.with_read_instance(|counter| counter.value()).unwrap(),
        15
    );
    assert_eq!(store.tip().unwrap(), 3, "reading writes nothing");
}

#[test]
fn a_model_sees_commits_made_by_other_stores_on_the_same_storage() {
    let storage = MemoryStorage::new();
    let mine = Store::with_storage(storage.clone());
    let theirs = Store::with_storage(storage.clone());
    let model = mine.define_model(Counter::default()).unwrap();
    assert_eq!(model.aggregator_data().unwrap().position(), 0);
    log_increments(&theirs, &[4, 4]);
    assert_folded(&model, 8, 2);
}

// ---------------------------------------------------------------------------------------------
// Read-write instances
// ---------------------------------------------------------------------------------------------

#[test]
fn read_write_instances_commit_only_when_ready() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    let model = store.define_model(Counter::default()).unwrap();

    // Not ready: the action's result, nothing written.
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(5)?;
                assert!(!flag.is_ready());
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        (5, None, 1)
    );
    assert_eq!(store.tip().unwrap(), 0);
    assert_eq!(
        model.aggregator_data().unwrap().value,
        0,
        "the private copy is discarded"
    );

    // Ready, but nothing dispatched: nothing written.
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                flag.ready_to_commit();
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!((outcome.value, outcome.commit), (0, None));
    assert_eq!(store.tip().unwrap(), 0);

    // The action's error: returned, nothing written.
    let failed = model.with_read_write_instance(
        |counter, flag| {
            counter.increment(1)?;
            flag.ready_to_commit();
            Err::<(), _>(Error::InvalidEvent {
                problem: "the action changed its mind".to_owned(),
            })
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    assert!(
        matches!(failed, Err(Error::InvalidEvent { .. })),
        "{failed:?}"
    );
    assert_eq!(store.tip().unwrap(), 0);

    // Ready: one commit with every event, in order; the instance reads its own writes.
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(3)?;
                assert_eq!(counter.value(), 3);
                counter.double()?;
                assert_eq!(counter.value(), 6);
                assert_eq!(
                    counter.position(),
                    0,
                    "the position is the last commit folded"
                );
                flag.ready_to_commit();
                Ok::<_, Error>("done")
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        ("done", Some(1), 1)
    );
    let commit = store.read_commit(1).unwrap();
    assert_eq!(
        commit.events(),
        [
            Event::with_data("incremented", json!({"by": 3})),
            Event::new("doubled")
        ]
    );
    assert!(commit.headers()["time"].is_string());
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (6, 1));
    // Handlers in a read-write instance get the number its commit will have.
    assert_eq!(
        data.seen,
        vec![
            json!({"commit": 1, "index": 0, "user": null}),
            json!({"commit": 1, "index": 1, "user": null})
        ]
    );

    // A fresh model folds the same data from the log.
    let fresh = Store::with_storage(storage)
        .define_model(Counter::default())
        .unwrap();
    assert_eq!(*fresh.aggregator_data().unwrap(), *data);
}

#[test]
fn read_write_handlers_get_the_headers_of_the_commit_to_be() {
    let storage = MemoryStorage::new();
    let store = store_with_user(&storage, "bob");
    let model = store.define_model(Counter::default()).unwrap();
    commit_increment(&model, 1);
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        data.seen,
        vec![json!({"commit": 1, "index": 0, "user": "bob"})]
    );
    assert_eq!(store.read_commit(1).unwrap().headers()["user"], "bob");
}

#[test]
fn a_refused_event_fails_the_instance_and_writes_nothing() {
    let store = Store::memory();
    log_increments(&store, &[10]);
    let model = store.define_model(Counter::default()).unwrap();
    let result = model.with_read_write_instance(
        |counter, flag| {
            counter.increment(1)?;
            counter.increment(-1)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    match result {
        Err(Error::Rejected { name, message }) => {
            assert_eq!(name, "incremented");
            assert!(message.contains("cannot increment by -1"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(store.tip().unwrap(), 1);
    assert_folded(&model, 10, 1);
}

/// The brief: "a refused event (handler error) fails the instance with Error::Rejected and
/// writes nothing"; `Dispatch::dispatch`'s documentation: "(the instance then commits
/// nothing)". Also when the action does not pass the refusal on.
#[test]
fn a_refused_event_fails_the_instance_even_when_the_action_ignores_the_refusal() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[10]);
    let model = store.define_model(Counter::default()).unwrap();
    let result = model.with_read_write_instance(
        |counter, flag| {
            counter.increment(1)?;
            let refusal = counter.increment(-1);
            assert!(
                matches!(refusal, Err(Error::Rejected { .. })),
                "{refusal:?}"
            );
            flag.ready_to_commit();
            Ok::<_, Error>(counter.value())
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    let tip = store.tip().unwrap();
    let data = model.aggregator_data().unwrap();
    let from_log = Store::with_storage(storage)
        .define_model(Counter::default())
        .unwrap()
        .aggregator_data()
        .unwrap();
    assert!(
        matches!(result, Err(Error::Rejected { .. })),
        "the instance must fail with Rejected, got {result:?} (tip {tip}; the model says {} at \
         commit {}, a fresh fold of the log says {} at commit {})",
        data.value,
        data.position(),
        from_log.value,
        from_log.position()
    );
    assert_eq!(tip, 1, "nothing written");
    assert_eq!((data.value, data.position()), (10, 1));
}

/// A counter model on a memory store, and another store on the same backend, to commit
/// behind the model's back.
fn model_and_interloper() -> (Model<Counter>, Store) {
    let storage = MemoryStorage::new();
    let interloper = Store::with_storage(storage.clone());
    let model = Store::with_storage(storage)
        .define_model(Counter::default())
        .unwrap();
    (model, interloper)
}

#[test]
fn the_ready_flag_is_unset_at_every_attempt() {
    let (model, interloper) = model_and_interloper();
    let mut calls = 0;
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                calls += 1;
                assert!(!flag.is_ready(), "attempt {calls} starts unset");
                if calls == 1 {
                    // Another writer commits first: this attempt loses its race.
                    interloper.log(&incremented(100)).unwrap();
                    counter.increment(1)?;
                    flag.ready_to_commit();
                } else {
                    counter.increment(2)?;
                }
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(calls, 2);
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        (102, None, 2)
    );
    assert_eq!(
        interloper.tip().unwrap(),
        1,
        "the second attempt did not commit"
    );
}

#[test]
fn a_lost_race_runs_the_action_again_on_the_new_state() {
    let (model, interloper) = model_and_interloper();
    let mut seen = Vec::new();
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                seen.push((counter.value(), counter.position()));
                if seen.len() == 1 {
                    interloper.log(&incremented(100)).unwrap();
                }
                counter.double()?;
                flag.ready_to_commit();
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(seen, [(0, 0), (100, 1)]);
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        (200, Some(2), 2)
    );
    assert_folded(&model, 200, 2);
    assert_eq!(commit_numbers(&interloper), [1, 2]);
}

#[test]
fn out_of_attempts_is_retries_exhausted_with_nothing_written() {
    for max_attempts in [1, 3, DEFAULT_MAX_ATTEMPTS] {
        let storage = MemoryStorage::new();
        let interloper = Store::with_storage(storage.clone());
        let model = Store::with_storage(storage.clone())
            .define_model(Counter::default())
            .unwrap();
        let mut calls = 0;
        let result = model.with_read_write_instance(
            |counter, flag| {
                calls += 1;
                interloper.log(&incremented(1)).unwrap();
                counter.increment(1000)?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            max_attempts,
        );
        assert!(
            matches!(result, Err(Error::RetriesExhausted { attempts }) if attempts == max_attempts),
            "{result:?}"
        );
        assert_eq!(calls, max_attempts);
        let tip = interloper.tip().unwrap();
        assert_eq!(
            tip,
            u64::from(max_attempts),
            "only the interloper's commits"
        );
        let data = model.aggregator_data().unwrap();
        assert_eq!(
            data.value,
            i64::from(max_attempts),
            "none of the instance's increments"
        );
    }
    assert_eq!(DEFAULT_MAX_ATTEMPTS, 5);
}

#[test]
fn zero_attempts_fails_at_once() {
    let store = Store::memory();
    let model = store.define_model(Counter::default()).unwrap();
    let mut called = false;
    let result = model.with_read_write_instance(
        |counter, flag: &mut CommitFlag| {
            called = true;
            counter.increment(1)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        0,
    );
    assert!(
        matches!(result, Err(Error::RetriesExhausted { attempts: 0 })),
        "{result:?}"
    );
    assert!(!called);
    assert_eq!(store.tip().unwrap(), 0);
}
