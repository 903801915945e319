//! `foldstore copy`: a whole store, byte for byte, resumable, never overwriting.

mod util;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use util::{
    file_names, five_commit_store, folder_bytes, run, six_commit_store, store_files, TestDir,
};

/// Runs `foldstore copy FROM TO ARGS...`.
fn copy(from: &Path, to: &Path, args: &[&str]) -> util::Outcome {
    run(["copy".as_ref(), from.as_os_str(), to.as_os_str()]
        .into_iter()
        .chain(args.iter().map(|a| a.as_ref())))
}

/// [`six_commit_store`] with a second snapshot and a file that is not part of the store.
fn source(dir: &TestDir) -> PathBuf {
    let store = six_commit_store(dir);
    fs::write(store.join("6.other-snapshot"), r#"{"headers":{}}"#).expect("write a snapshot");
    fs::write(store.join("notes.txt"), "not part of the store").expect("write notes.txt");
    store
}

#[test]
fn copy_makes_a_byte_identical_store() {
    let dir = TestDir::new();
    let from = source(&dir);
    let to = dir.join("backup/nested/members");
    let outcome = copy(&from, &to, &[]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    let expected = store_files(&from);
    assert_eq!(expected.len(), 8);
    // Every commit and snapshot, byte for byte, and nothing else (no temporary files).
    assert_eq!(folder_bytes(&to), expected);
    let total: usize = expected.values().map(Vec::len).sum();
    assert!(
        outcome.stdout.starts_with(&format!(
            "copied 6 commits and 2 snapshots ({total} B) from {} to {}",
            from.display(),
            to.display()
        )),
        "{}",
        outcome.stdout
    );
    run(["verify".as_ref(), to.as_os_str()]).expect_code(0);
}

#[test]
fn copy_resumes_where_it_stopped() {
    let dir = TestDir::new();
    let from = source(&dir);
    let to = dir.join("to");
    copy(&from, &to, &[]).expect_code(0);
    // As if the first copy had stopped early: some files never made it.
    for name in ["2.log", "5.log", "6.log", "6.other-snapshot"] {
        fs::remove_file(to.join(name)).expect("remove a copied file");
    }
    let outcome = copy(&from, &to, &["--json"]);
    outcome.expect_code(0);
    let report = &outcome.json_lines()[0];
    let copied_bytes: u64 = ["2.log", "5.log", "6.log", "6.other-snapshot"]
        .iter()
        .map(|n| fs::metadata(from.join(n)).expect("a file").len())
        .sum();
    assert_eq!(
        *report,
        json!({
            "from": from.display().to_string(),
            "to": to.display().to_string(),
            "tip": 6,
            "commits_copied": 3,
            "commits_present": 3,
            "snapshots_copied": 1,
            "snapshots_present": 1,
            "bytes_copied": copied_bytes,
            "gaps": [],
            "damaged_copied": [],
        })
    );
    assert_eq!(folder_bytes(&to), store_files(&from));

    // A third run has nothing left to do.
    let outcome = copy(&from, &to, &[]);
    outcome.expect_code(0).expect_stdout_contains(&[
        "copied 0 commits and 0 snapshots (0 B)",
        "6 commits and 2 snapshots were there already, with the same bytes",
    ]);

    // New commits in the source are copied by the next run.
    util::append(&from, &["later"]);
    let outcome = copy(&from, &to, &["--json"]);
    assert_eq!(outcome.json_lines()[0]["commits_copied"], 1);
    assert_eq!(folder_bytes(&to), store_files(&from));
}

#[test]
fn copy_never_overwrites_other_bytes() {
    let dir = TestDir::new();
    let from = source(&dir);
    let to = dir.join("to");
    copy(&from, &to, &[]).expect_code(0);
    fs::remove_file(to.join("4.log")).expect("remove 4.log");
    let other = br#"{"headers":{},"events":[{"name":"somethingElse"}]}"#;
    fs::write(to.join("3.log"), other).expect("write another 3.log");
    let outcome = copy(&from, &to, &[]);
    outcome.expect_code(1).expect_stderr_contains(&[
        &to.join("3.log").display().to_string(),
        &from.join("3.log").display().to_string(),
        "never overwrites",
    ]);
    assert_eq!(fs::read(to.join("3.log")).expect("read 3.log"), other);
    // It stopped there: 4.log was not copied.
    assert!(!to.join("4.log").exists());

    // Snapshots too.
    let dir = TestDir::new();
    let from = source(&dir);
    let to = dir.join("to");
    copy(&from, &to, &[]).expect_code(0);
    fs::write(to.join("2.members-snapshot"), "{}").expect("write another snapshot");
    copy(&from, &to, &[])
        .expect_code(1)
        .expect_stderr_contains(&[&to.join("2.members-snapshot").display().to_string()]);
    assert_eq!(
        fs::read(to.join("2.members-snapshot")).expect("read"),
        b"{}"
    );
}

#[test]
fn copy_refuses_a_destination_that_goes_further() {
    let dir = TestDir::new();
    let from = five_commit_store(&dir);
    let to = dir.join("to");
    copy(&from, &to, &[]).expect_code(0);
    fs::write(to.join("9.log"), r#"{"events":[]}"#).expect("write 9.log");
    let before = folder_bytes(&to);
    copy(&from, &to, &[])
        .expect_code(1)
        .expect_stderr_contains(&[&to.join("9.log").display().to_string(), "ends at commit 5"]);
    assert_eq!(folder_bytes(&to), before);
}

#[test]
fn copy_stops_at_damage_unless_forced() {
    let dir = TestDir::new();
    let from = source(&dir);
    let three = from.join("3.log");
    util::write_old(&three, "{\"events\": [");
    let to = dir.join("to");
    let outcome = copy(&from, &to, &[]);
    outcome.expect_code(1).expect_stderr_contains(&[
        "commit 3",
        &three.display().to_string(),
        "--force",
    ]);
    // The sound commits before the damage were copied, and nothing after it.
    assert_eq!(file_names(&to), util::commit_names(2));

    let outcome = copy(&from, &to, &["--force", "--json"]);
    outcome.expect_code(0);
    let report = &outcome.json_lines()[0];
    assert_eq!(
        report["damaged_copied"],
        json!([three.display().to_string()])
    );
    assert_eq!(report["commits_present"], 2);
    assert_eq!(folder_bytes(&to), store_files(&from));

    // A gap stops it too; --force leaves the gap as it is.
    let dir = TestDir::new();
    let from = source(&dir);
    fs::remove_file(from.join("4.log")).expect("remove 4.log");
    let to = dir.join("to");
    copy(&from, &to, &[])
        .expect_code(1)
        .expect_stderr_contains(&["commit 4", "gap"]);
    let outcome = copy(&from, &to, &["--force"]);
    outcome
        .expect_code(0)
        .expect_stdout_contains(&["missing from the source, left missing: 4"]);
    assert_eq!(folder_bytes(&to), store_files(&from));
}

#[test]
fn copy_refuses_a_damaged_snapshot_unless_forced() {
    let dir = TestDir::new();
    let from = source(&dir);
    let damaged = from.join("3.members-snapshot");
    fs::write(&damaged, "{\"headers\": ").expect("write a damaged snapshot");
    let to = dir.join("to");
    copy(&from, &to, &[])
        .expect_code(1)
        .expect_stderr_contains(&[&damaged.display().to_string(), "--force"]);
    // Every commit was copied before the snapshots.
    assert_eq!(
        file_names(&to)
            .into_iter()
            .filter(|n| n.ends_with(".log"))
            .collect::<std::collections::BTreeSet<_>>(),
        util::commit_names(6)
    );
    assert!(!to.join("3.members-snapshot").exists());
    let outcome = copy(&from, &to, &["--force"]);
    outcome.expect_code(0).expect_stdout_contains(&[&format!(
        "warning: {} is damaged; copied as it is",
        damaged.display()
    )]);
    assert_eq!(folder_bytes(&to), store_files(&from));
}

#[test]
fn copy_says_what_is_wrong_with_its_folders() {
    let dir = TestDir::new();
    let from = five_commit_store(&dir);
    let missing = dir.join("missing");
    copy(&missing, &dir.join("to"), &[])
        .expect_code(1)
        .expect_stderr_contains(&["no store at", &missing.display().to_string()]);
    assert!(!dir.join("to").exists());

    let file = dir.join("file");
    fs::write(&file, "x").expect("write a file");
    copy(&from, &file, &[])
        .expect_code(1)
        .expect_stderr_contains(&["is not a folder"]);
    copy(&from, &from, &[])
        .expect_code(1)
        .expect_stderr_contains(&["the same folder"]);
    let from_text = from.to_str().expect("UTF-8");
    run(["copy", from_text]).expect_code(2);
}
