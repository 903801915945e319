//! Models and their snapshots on a journal.

use std::path::Path;

use crate::common::counter::CounterEvent;
use crate::format::{all_records, assert_no_loose_files, loose_files, temp};
use foldstore::{Dispatch, Error, EventContext, Layout, ModelDefinition, Store, View};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Sums {
    total: i64,
    commits: Vec<u64>,
}

/// Sums the counter's events, with snapshots.
struct Summed;

impl ModelDefinition for Summed {
    type Data = Sums;
    type Event = CounterEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        Some("sums")
    }

    fn initial_data(&self) -> Sums {
        Sums::default()
    }

    fn apply(
        &self,
        data: &mut Sums,
        event: CounterEvent,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            CounterEvent::Incremented { by } => data.total += by,
            CounterEvent::Doubled => data.total *= 2,
        }
        data.commits.push(context.commit);
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

fn increment(store: &Store, by: i64) -> u64 {
    store.log(&CounterEvent::Incremented { by }).unwrap()
}

/// The same story on a store of either layout; returns what was seen.
fn model_story(path: &Path, open: impl Fn() -> Store) -> Vec<Value> {
    let mut seen = Vec::new();
    let store = open();
    store.ensure_folder().unwrap();
    let model = store.define_model(Summed).unwrap();
    assert_eq!(model.snapshot().unwrap(), None, "nothing to snapshot yet");
    for by in 1..=10 {
        increment(&store, by);
    }
    assert_eq!(model.snapshot().unwrap(), Some(10));
    assert!(path.join("10.sums-snapshot").is_file());
    assert_eq!(store.snapshot_labels("sums").unwrap(), [10]);
    let saved = store.read_snapshot("sums", 10).unwrap().unwrap();
    assert_eq!(saved.data.as_ref().unwrap()["total"], 55);
    seen.push(saved.data.unwrap());
    for by in 11..=15 {
        increment(&store, by);
    }

    // A fresh model restores from the snapshot and folds what came after.
    let fresh = open().define_model(Summed).unwrap();
    let data = fresh.aggregator_data().unwrap();
    assert_eq!((data.total, data.position()), (120, 15));
    assert_eq!(data.commits, (1..=15).collect::<Vec<_>>());
    assert_eq!(fresh.report().restored_from, Some(10));
    seen.push(json!({"total": data.total, "position": data.position(), "restored": fresh.report().restored_from}));

    // Automatic snapshots, read-write instances.
    let every = open().model(Summed).snapshot_every(4).build().unwrap();
    for by in 16..=25 {
        let outcome = every
            .with_read_write_instance(
                |view, flag| {
                    view.dispatch(CounterEvent::Incremented { by })?;
                    flag.ready_to_commit();
                    Ok::<_, Error>(view.data().total)
                },
                3,
            )
            .unwrap();
        assert_eq!(outcome.commit, Some(by as u64));
    }
    let labels = store.snapshot_labels("sums").unwrap();
    assert!(labels.len() > 2, "{labels:?}");
    seen.push(json!(labels));

    // Time travel, from a snapshot.
    let at = open().define_model(Summed).unwrap().at_commit(12).unwrap();
    assert_eq!((at.data().total, at.position()), (78, 12));
    seen.push(json!({"at12": at.data().total}));
    let latest = open().define_model(Summed).unwrap();
    let data = latest.aggregator_data().unwrap();
    assert_eq!((data.total, data.position()), (325, 25));
    assert_eq!(latest.report().restored_from, labels.last().copied());
    assert!(latest.report().skipped_snapshots.is_empty());
    seen.push(json!({"total": data.total, "restored": latest.report().restored_from}));

    let report = open().verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!(report.sound_snapshots, labels.len() as u64);
    assert_eq!(report.sound_commits, 25);
    seen
}

#[test]
fn models_with_snapshots_work_on_a_journal_as_on_the_loose_layout() {
    let temp = temp();
    let loose = temp.path().join("loose");
    let journal = temp.path().join("journal");
    let on_loose = model_story(&loose, || Store::open(&loose).unwrap());
    let on_journal = model_story(&journal, || {
        Store::builder(&journal)
            .layout(Layout::Journal)
            .open()
            .unwrap()
    });
    assert_eq!(on_journal, on_loose);
    assert_eq!(Layout::detect(&journal).unwrap(), Some(Layout::Journal));
    assert_no_loose_files(&journal);
    assert_eq!(all_records(&journal).len(), 25);
    assert_eq!(loose_files(&loose).len(), 25);
    // Snapshot files beside the journal do not make it a mixed folder.
    assert_eq!(Store::open(&journal).unwrap().tip().unwrap(), 25);
}
