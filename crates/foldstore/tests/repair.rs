//! Repair: a damaged last commit is moved aside into the quarantine folder; every other
//! problem is refused; nothing is ever deleted.

mod common;

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::assert_refused_as_a_write_in_progress;
use foldstore::{Error, Event, Store};

/// A folder store with `n` commits, in a new temporary folder.
fn store_with(n: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for i in 1..=n {
        assert_eq!(store.log(&Event::new(format!("e{i}"))).unwrap(), i);
    }
    (dir, store)
}

/// Makes a file look as if it was last written an hour ago.
fn backdate(path: &Path) {
    let file = File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// Leaves commit `n` as a crashed in-place writer would: cut short, an hour ago.
fn tear(folder: &Path, n: u64) -> Vec<u8> {
    let path = folder.join(format!("{n}.log"));
    let torn = fs::read(&path).unwrap()[..20].to_vec();
    fs::write(&path, &torn).unwrap();
    backdate(&path);
    torn
}

fn quarantined(folder: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = fs::read_dir(folder.join("foldstore-quarantine")) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_torn_last_commit_is_moved_aside_and_the_log_goes_on_without_a_gap() {
    let (dir, store) = store_with(5);
    // Another store on the same folder has seen commit 5 before the repair.
    let other = Store::open(dir.path()).unwrap();
    assert_eq!(other.tip().unwrap(), 5);
    let torn = tear(dir.path(), 5);
    assert!(matches!(
        store.replay_event_stream(|_, _| {}),
        Err(Error::CorruptCommit { commit: 5, .. })
    ));

    let plan = store.plan_repair().unwrap();
    assert!(plan.refused.is_empty(), "{plan:?}");
    let quarantine = plan.quarantine.clone().unwrap();
    assert_eq!(quarantine.commit, 5);
    assert!(quarantine.location.ends_with("5.log"), "{quarantine:?}");
    assert!(
        quarantine.problem.contains("not valid JSON"),
        "{quarantine:?}"
    );

    let moved_to = store.repair(&plan).unwrap().unwrap();
    assert!(moved_to.contains("foldstore-quarantine"), "{moved_to}");
    let kept = quarantined(dir.path());
    assert_eq!(kept.len(), 1);
    assert!(kept[0].0.starts_with("5.log."), "{kept:?}");
    assert_eq!(kept[0].1, torn, "the damaged bytes are kept as they were");
    assert!(!dir.path().join("5.log").exists());

    assert!(store.verify(|_, _| {}).unwrap().is_sound());
    assert_eq!(store.replay_event_stream(|_, _| {}).unwrap().commits, 4);
    // Both stores go on at 5: neither leaves a gap where the damaged commit was.
    assert_eq!(other.log(&Event::new("after")).unwrap(), 5);
    assert_eq!(store.log(&Event::new("after, too")).unwrap(), 6);
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
    assert!(store.plan_repair().unwrap().is_empty());
}

#[test]
fn damage_before_the_last_commit_is_refused_and_nothing_moves() {
    let (dir, store) = store_with(5);
    tear(dir.path(), 3);
    tear(dir.path(), 5);
    let plan = store.plan_repair().unwrap();
    assert_eq!(plan.refused.len(), 1, "{plan:?}");
    assert!(plan.refused[0].location.ends_with("3.log"));
    assert!(plan.refused[0]
        .problem
        .contains("restore this from a backup"));
    match store.repair(&plan) {
        Err(Error::RepairRefused { location, .. }) => assert!(location.ends_with("3.log")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(quarantined(dir.path()).is_empty());
    assert!(dir.path().join("5.log").exists());
}

#[test]
fn a_gap_is_refused() {
    let (dir, store) = store_with(4);
    fs::remove_file(dir.path().join("2.log")).unwrap();
    let plan = store.plan_repair().unwrap();
    assert!(plan.quarantine.is_none());
    assert_eq!(plan.refused.len(), 1);
    assert!(plan.refused[0].problem.contains("gap"), "{plan:?}");
    assert!(store.repair(&plan).is_err());
}

#[test]
fn a_last_commit_written_a_moment_ago_may_be_a_write_in_progress_and_is_refused() {
    let (dir, store) = store_with(2);
    fs::write(dir.path().join("3.log"), b"{\"headers\":{").unwrap();
    let plan = store.plan_repair().unwrap();
    assert_eq!(plan.quarantine.as_ref().map(|q| q.commit), Some(3));
    assert_refused_as_a_write_in_progress(&store, &plan, &dir.path().join("3.log"));
}

#[test]
fn a_sound_store_needs_no_repair() {
    let (_dir, store) = store_with(3);
    let plan = store.plan_repair().unwrap();
    assert!(plan.is_empty());
    assert_eq!(store.repair(&plan).unwrap(), None);
}

#[test]
fn a_plan_made_before_another_commit_landed_is_not_carried_out() {
    let (dir, store) = store_with(3);
    tear(dir.path(), 3);
    let plan = store.plan_repair().unwrap();
    // Someone writes commit 4 by hand after the plan was made.
    fs::write(dir.path().join("4.log"), br#"{"events":[{"name":"x"}]}"#).unwrap();
    assert!(matches!(
        store.repair(&plan),
        Err(Error::RepairRefused { .. })
    ));
    assert!(dir.path().join("3.log").exists());
}
