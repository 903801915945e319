//! Power loss at every point of the commit and snapshot protocols, on the simulated file system.
//!
//! A scenario of commits (single events and blocks) and snapshots runs with the power going
//! off after 0, 1, 2, ... changes to the file system, until it runs whole. After each cut,
//! every way the unsynced state can come out (see [`Recovery`]) is restarted and checked:
//! every acknowledged commit and snapshot is there, byte for byte; no commit is partial,
//! invented or doubled; the log has no gap; a new writer goes on from the end, and sweeps the
//! temporary files the cut left behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use super::LooseStorage;
use crate::event::Event;
use crate::storage::local::sim::{Recovery, SimFs};
use crate::storage::local::Durability;
use crate::storage::names::TEMP_PREFIX;
use crate::storage::test_kit::{
    assert_acknowledged_kept, log_events, possible_commits, scenario, Step,
};
use crate::store::Store;

/// What the writer was told had succeeded before the power went.
#[derive(Debug, Default)]
struct Acknowledged {
    commits: BTreeMap<u64, Vec<Event>>,
    snapshots: Vec<u64>,
}

fn store_on(fs: Arc<SimFs>, folder: &Path, durability: Durability) -> Store {
    Store::with_storage(LooseStorage::with_file_system(folder, durability, fs))
}

/// Runs the scenario until its end or the first failure (the power going off).
fn run(fs: &Arc<SimFs>, folder: &Path, durability: Durability) -> Acknowledged {
    let store = store_on(Arc::clone(fs), folder, durability);
    let mut acknowledged = Acknowledged::default();
    for step in scenario(false) {
        let result = match step {
            Step::Log(event) => store.log(&event).map(|n| {
                acknowledged.commits.insert(n, vec![event]);
            }),
            Step::Block(events) => log_events(&store, &events).map(|n| {
                if let Some(n) = n {
                    acknowledged.commits.insert(n, events);
                }
            }),
            Step::Group => unreachable!("the loose layout's scenario has no group step"),
            Step::Snapshot(name) => {
                let tip = acknowledged.commits.keys().max().copied().unwrap_or(0);
                let data = json!({"commits": tip});
                store.save_snapshot(name, tip, &data).map(|()| {
                    acknowledged.snapshots.push(tip);
                })
            }
        };
        if result.is_err() {
            break;
        }
    }
    acknowledged
}

fn check(image: Arc<SimFs>, folder: &Path, acknowledged: &Acknowledged, what: &str) {
    let store = store_on(Arc::clone(&image), folder, Durability::Immediate);
    let listing = store.storage().list().unwrap();
    let tip = listing.commits.len() as u64;
    assert_eq!(
        listing.commits,
        (1..=tip).collect::<Vec<_>>(),
        "{what}: a gap"
    );

    // Every commit present is one of the scenario's, whole, and none is there twice.
    let mut possible = possible_commits(false);
    for commit in store.commits(..) {
        let commit = commit.unwrap_or_else(|e| panic!("{what}: {e}"));
        let position = possible
            .iter()
            .position(|events| events == commit.events())
            .unwrap_or_else(|| {
                panic!("{what}: commit {} is not one written once", commit.number())
            });
        possible.remove(position);
    }
    assert_acknowledged_kept(&store, &acknowledged.commits, &acknowledged.snapshots, what);
    for label in store.snapshot_labels("accounts").unwrap() {
        let snapshot = store.read_snapshot("accounts", label).unwrap().unwrap();
        assert_eq!(snapshot.data, Some(json!({"commits": label})), "{what}");
    }
    let report = store.verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{what}: {:?}", report.problems);

    // A new writer goes on at the end, and sweeps what the interrupted writes left behind.
    let next = store_on(Arc::clone(&image), folder, Durability::Immediate)
        .log(&Event::new("after the restart"))
        .unwrap();
    assert_eq!(next, tip + 1, "{what}");
    let leftovers: Vec<String> = image
        .files(folder)
        .into_keys()
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .collect();
    assert!(leftovers.is_empty(), "{what}: {leftovers:?}");
}

/// Cuts the power after every number of changes the scenario makes; returns how many cuts.
fn cut_everywhere(durability: Durability, recoveries: &[Recovery]) -> u64 {
    let folder = PathBuf::from("/store");
    let whole = Arc::new(SimFs::with_folder(&folder));
    let all = run(&whole, &folder, durability);
    assert_eq!(all.commits.len(), 4);
    let total = whole.changes();
    for cut in 0..=total {
        let fs = Arc::new(SimFs::with_folder(&folder));
        fs.power_off_after(cut);
        let acknowledged = run(&fs, &folder, durability);
        for recovery in recoveries {
            let what =
                format!("{durability:?}, power off after {cut} of {total} changes, {recovery:?}");
            check(
                Arc::new(fs.recover(*recovery)),
                &folder,
                &acknowledged,
                &what,
            );
        }
    }
    total + 1
}

#[test]
fn power_loss_at_every_step_loses_no_acknowledged_commit() {
    let cuts = cut_everywhere(Durability::Immediate, &Recovery::ALL);
    // 4 commits and 2 snapshots, each: create, write, sync, rename, folder sync.
    assert_eq!(cuts, 6 * 5 + 1);
}

#[test]
fn without_syncs_a_crash_of_the_process_still_loses_nothing_acknowledged() {
    let process_crash = Recovery {
        unsynced_entries_survive: true,
        unsynced_data_survives: true,
    };
    let cuts = cut_everywhere(Durability::None, &[process_crash]);
    assert_eq!(cuts, 6 * 3 + 1);
}

#[test]
fn without_syncs_a_power_loss_can_leave_an_empty_commit() {
    // What `Durability::None` gives up, shown: the name survives, the data does not.
    let folder = PathBuf::from("/store");
    let fs = Arc::new(SimFs::with_folder(&folder));
    let store = store_on(Arc::clone(&fs), &folder, Durability::None);
    store.log(&Event::new("unsynced")).unwrap();
    let image = Arc::new(fs.recover(Recovery {
        unsynced_entries_survive: true,
        unsynced_data_survives: false,
    }));
    assert_eq!(image.files(&folder).get("1.log"), Some(&Vec::new()));
    let report = store_on(image, &folder, Durability::Immediate)
        .verify(|_, _| {})
        .unwrap();
    assert!(!report.is_sound());
}
