//! `foldstore repair`: a damaged last commit moved aside, everything else refused, run as the
//! real binary.

mod util;

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use util::{five_commit_store, folder_bytes, run_on, TestDir};

/// Leaves commit `n` as a crashed in-place writer would have, an hour ago.
fn tear(store: &Path, n: u64) -> Vec<u8> {
    let path = store.join(format!("{n}.log"));
    let torn = fs::read(&path).expect("read")[..15].to_vec();
    fs::write(&path, &torn).expect("write");
    File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(3600)))
        .expect("backdate");
    torn
}

#[test]
fn a_torn_last_commit_is_moved_into_the_quarantine_after_saying_so() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let torn = tear(&store, 5);

    let dry = run_on("repair", &store, &["--dry-run"]);
    dry.expect_code(0)
        .expect_stdout_contains(&["would move commit 5 aside", "5.log", "cut short"]);
    assert!(store.join("5.log").exists(), "a dry run changes nothing");

    let done = run_on("repair", &store, &[]);
    done.expect_code(0).expect_stdout_contains(&[
        "moving commit 5 aside",
        "done: moved to",
        "foldstore-quarantine",
    ]);
    assert_eq!(done.stderr, "");
    let quarantine = folder_bytes(&store.join("foldstore-quarantine"));
    assert_eq!(quarantine.len(), 1);
    let (name, bytes) = quarantine.into_iter().next().expect("one file");
    assert!(name.starts_with("5.log."), "{name}");
    assert_eq!(bytes, torn, "the damaged bytes are kept");

    run_on("verify", &store, &[]).expect_code(0);
    run_on("repair", &store, &[])
        .expect_code(0)
        .expect_stdout_contains(&["nothing to repair"]);
    // The log goes on where the damaged commit was.
    let next = run_on("append", &store, &["after"]);
    next.expect_code(0);
    assert_eq!(next.stdout, "5\n");
}

#[test]
fn damage_before_the_last_commit_is_refused_and_nothing_changes() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    tear(&store, 2);
    let before = folder_bytes(&store);
    let outcome = run_on("repair", &store, &[]);
    outcome.expect_code(1).expect_stdout_contains(&[
        "refused:",
        "2.log",
        "from a backup",
        "nothing was changed",
    ]);
    assert_eq!(folder_bytes(&store), before);
    assert!(!store.join("foldstore-quarantine").exists());
}

#[test]
fn the_plan_and_its_outcome_as_json() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    tear(&store, 5);
    let outcome = run_on("repair", &store, &["--json"]);
    outcome.expect_code(0);
    let report: Value = serde_json::from_str(outcome.stdout.trim()).expect("one JSON object");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["quarantine"]["commit"], 5);
    assert!(report["refused"].as_array().is_some_and(Vec::is_empty));
    assert!(report["moved_to"]
        .as_str()
        .is_some_and(|to| to.contains("foldstore-quarantine")));
}

#[test]
fn a_store_that_does_not_exist_is_an_error() {
    let dir = TestDir::new();
    run_on("repair", &dir.join("nothing"), &[])
        .expect_code(1)
        .expect_stderr_contains(&["no store at"]);
}
