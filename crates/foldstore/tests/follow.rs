//! Models that follow along ([`Model::follow`]): a background thread folds each new commit as
//! it lands, from another store instance or another process, so that [`Model::latest`] is
//! current without reading the store; stopping or dropping the [`Follower`] stops it.
//!
//! `writer_worker` is a writer process for
//! [`a_follower_keeps_latest_current_with_another_process`]: it does nothing unless its parent
//! started it (see `common/workers.rs`).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::counted::Counted;
use common::workers::{run_writer, spawn_writer, test_name, worker_result};
use foldstore::{EventContext, Model, ModelDefinition, Store, View};
use serde::{Deserialize, Serialize};

/// Only to fail a test that hangs.
const HANG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The model

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum TallyEvent {
    Added { by: i64, id: String },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Tally {
    total: i64,
    ids: Vec<String>,
}

/// Sums what is added and lists the ids; refuses to add a negative amount.
struct TallyModel;

impl ModelDefinition for TallyModel {
    type Data = Tally;
    type Event = TallyEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> Tally {
        Tally::default()
    }

    fn apply(
        &self,
        data: &mut Tally,
        event: TallyEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            TallyEvent::Added { by, .. } if by < 0 => Err(format!("cannot add {by}")),
            TallyEvent::Added { by, id } => {
                data.total += by;
                data.ids.push(id);
                Ok(())
            }
        }
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

fn add(store: &Store, by: i64, id: &str) -> u64 {
    store
        .log(&TallyEvent::Added {
            by,
            id: id.to_owned(),
        })
        .unwrap()
}

/// The data as a model made afresh reads it.
fn fresh(store: &Store) -> (u64, Tally) {
    let data = store
        .define_model(TallyModel)
        .unwrap()
        .aggregator_data()
        .unwrap();
    (data.position(), (*data).clone())
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !done() {
        assert!(Instant::now() < deadline, "hung: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the model's latest data reaches `tip`, checking on the way that it never goes
/// back and always holds one event per commit.
fn wait_for_position(model: &Model<TallyModel>, tip: u64) {
    let mut last = 0;
    wait_until(&format!("latest() reaches commit {tip}"), || {
        let latest = model.latest().unwrap();
        assert!(
            latest.position() >= last,
            "went back from {last} to {}",
            latest.position()
        );
        assert_eq!(
            latest.ids.len() as u64,
            latest.position(),
            "one event per commit"
        );
        last = latest.position();
        assert!(last <= tip, "{last} > {tip}");
        last == tip
    });
}

/// Two stores on one counted memory backend: the model's and a writer's.
fn counted_stores() -> (Counted, Store, Store) {
    let counted = Counted::default();
    let store = Store::with_storage(counted.clone());
    let writer = Store::with_storage(counted.clone());
    (counted, store, writer)
}

// ---------------------------------------------------------------------------------------------
// Folder stores

#[test]
fn a_follower_keeps_latest_current_with_another_store_instance() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let store = Store::open(&folder).unwrap();
    store.ensure_folder().unwrap();
    for i in 0..3 {
        add(&store, 1, &format!("before-{i}"));
    }
    let model = store.define_model(TallyModel).unwrap();
    let follower = model.follow().unwrap();
    assert_eq!(
        model.latest().unwrap().position(),
        3,
        "follow brings it up to date"
    );

    // Another store instance on the same folder, as another process would have.
    let other = Store::open(&folder).unwrap();
    let writer = {
        let other = other.clone();
        std::thread::spawn(move || {
            for i in 0..25 {
                add(&other, i, &format!("other-{i}"));
            }
        })
    };
    wait_for_position(&model, 3 + 25);
    writer.join().unwrap();
    assert_eq!(other.tip().unwrap(), 28);
    let latest = model.latest().unwrap();
    let (position, data) = fresh(&other);
    assert_eq!((latest.position(), &*latest), (position, &data));
    assert_eq!(data.total, 3 + (0..25).sum::<i64>());
    assert!(model.report().follower_error.is_none());

    // Stopped: the follower's thread is gone, so latest() stays where it was ...
    follower.stop();
    add(&other, 100, "after-stop");
    assert_eq!(model.latest().unwrap().position(), 28);
    assert!(!model
        .latest()
        .unwrap()
        .ids
        .contains(&"after-stop".to_owned()));
    // ... until the model is read.
    assert_eq!(model.aggregator_data().unwrap().position(), 29);
    assert_eq!(model.latest().unwrap().position(), 29);
}

/// A writer process: runs only when started by the test below.
#[test]
fn writer_worker() {
    run_writer(|store, i| {
        let i = i as i64;
        add(store, i + 1, &format!("process-{i}"));
    });
}

#[test]
fn a_follower_keeps_latest_current_with_another_process() {
    const EVENTS: i64 = 30;
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let store = Store::open(&folder).unwrap();
    store.ensure_folder().unwrap();
    add(&store, 5, "parent");
    let model = store.define_model(TallyModel).unwrap();
    let follower = model.follow().unwrap();

    let writer = spawn_writer(
        &test_name(module_path!(), "writer_worker"),
        &folder,
        EVENTS as u64,
    );
    let written: u64 = worker_result(writer, None);
    assert_eq!(written, EVENTS as u64);

    let tip = Store::open(&folder).unwrap().tip().unwrap();
    assert_eq!(tip, 1 + EVENTS as u64);
    wait_for_position(&model, tip);
    let latest = model.latest().unwrap();
    let (position, data) = fresh(&Store::open(&folder).unwrap());
    assert_eq!((latest.position(), &*latest), (position, &data));
    let expected: BTreeSet<String> = std::iter::once("parent".to_owned())
        .chain((0..EVENTS).map(|i| format!("process-{i}")))
        .collect();
    assert_eq!(
        latest.ids.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(latest.total, 5 + (1..=EVENTS).sum::<i64>());
    drop(follower);
}

// ---------------------------------------------------------------------------------------------
// Memory stores

#[test]
fn a_follower_on_a_memory_store_keeps_latest_current_without_reading_the_store() {
    let (counted, store, writer) = counted_stores();
    let model = store.define_model(TallyModel).unwrap();
    let follower = model.follow().unwrap();
    assert_eq!(counted.live_watches(), 1, "the follower subscribed");
    assert_eq!(model.latest().unwrap().position(), 0);

    let writing = {
        let writer = writer.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                add(&writer, i, &format!("m-{i}"));
            }
        })
    };
    wait_for_position(&model, 20);
    writing.join().unwrap();
    let (position, data) = fresh(&writer);
    let latest = model.latest().unwrap();
    assert_eq!((latest.position(), &*latest), (position, &data));

    // latest() reads the model's data, not the store.
    let reads = counted.reads();
    for _ in 0..100 {
        assert_eq!(model.latest().unwrap().position(), 20);
    }
    assert_eq!(counted.reads(), reads, "latest() did not look at the store");

    // Dropping the follower ends its thread (it lets go of its subscription) ...
    drop(follower);
    wait_until("the follower's thread ends", || counted.live_watches() == 0);
    // ... so the model no longer moves by itself.
    add(&writer, 1, "after-drop");
    assert_eq!(model.latest().unwrap().position(), 20);
    assert_eq!(model.aggregator_data().unwrap().position(), 21);
}

#[test]
fn a_stopped_follower_has_ended_its_thread() {
    let (counted, store, writer) = counted_stores();
    add(&writer, 1, "a");
    let model = store.define_model(TallyModel).unwrap();
    let follower = model.follow().unwrap();
    assert_eq!(counted.live_watches(), 1);
    follower.stop();
    assert_eq!(counted.live_watches(), 0, "stop() waits for the thread");
    add(&writer, 1, "b");
    assert_eq!(model.latest().unwrap().position(), 1);

    // A model can follow again.
    let again = model.follow().unwrap();
    assert_eq!(model.latest().unwrap().position(), 2);
    add(&writer, 1, "c");
    wait_for_position(&model, 3);
    again.stop();
}

#[test]
fn a_follower_stops_at_a_commit_the_model_refuses_and_reports_why() {
    let (counted, store, writer) = counted_stores();
    let model = store.define_model(TallyModel).unwrap();
    let follower = model.follow().unwrap();
    add(&writer, 1, "fine");
    wait_for_position(&model, 1);
    let refused = add(&writer, -5, "refused");
    add(&writer, 1, "after");

    wait_until("the follower reports the refusal", || {
        model.report().follower_error.is_some()
    });
    let error = model.report().follower_error.unwrap();
    assert!(error.contains("cannot add -5"), "{error}");
    assert!(error.contains(&format!("commit {refused}")), "{error}");
    wait_until("the follower's thread ends", || counted.live_watches() == 0);
    // The model stays at the last whole commit before the refused one.
    assert_eq!(model.latest().unwrap().position(), 1);
    drop(follower);
}

#[test]
fn a_follower_ends_when_its_model_is_gone() {
    let (counted, store, writer) = counted_stores();
    let model = store.define_model(TallyModel).unwrap();
    let follower = model.follow().unwrap();
    drop(model);
    // The next commit finds the model gone, and the thread ends though the follower lives.
    add(&writer, 1, "nobody-reads-this");
    wait_until("the follower's thread ends", || counted.live_watches() == 0);
    drop(follower);
}
