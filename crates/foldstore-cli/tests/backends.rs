//! Every verb on every kind of store: the journal layout, PostgreSQL and S3 addresses, and
//! `foldstore copy` between them, losslessly.
//!
//! The server tests need `FOLDSTORE_TEST_POSTGRES` and `FOLDSTORE_TEST_S3` (set by
//! `bash .ci/test`, which starts the servers); without them they say they were skipped, and
//! under `CI=true` they fail.

mod util;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use util::{run, run_on, six_commit_store, store_files, TestDir};

fn copy(from: &str, to: &str, args: &[&str]) {
    let outcome = run(["copy", from, to].into_iter().chain(args.iter().copied()));
    outcome.expect_code(0);
}

/// What `foldstore events` prints for a store.
fn events(store: &str) -> Vec<Value> {
    let outcome = run(["events", store]);
    outcome.expect_code(0);
    outcome.json_lines()
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[test]
fn a_loose_store_converted_to_a_journal_and_back_is_byte_identical() {
    let dir = TestDir::new();
    let from = six_commit_store(&dir);
    let journal = dir.join("journal");
    copy(text(&from), text(&journal), &["--layout", "journal"]);
    assert!(journal.join("foldstore-journal.json").is_file());
    assert!(
        !journal.join("1.log").exists(),
        "a journal holds no loose commit files"
    );
    let back = dir.join("back");
    copy(text(&journal), text(&back), &["--layout", "loose"]);
    assert_eq!(store_files(&back), store_files(&from));
    assert_eq!(events(text(&journal)), events(text(&from)));
    // Copying the journal again is a resumed copy: everything is already there.
    let again = run(["copy", text(&from), text(&journal), "--json"]);
    again.expect_code(0);
    let report = &again.json_lines()[0];
    assert_eq!(report["commits_present"], 6);
    assert_eq!(report["commits_copied"], 0);
}

#[test]
fn every_reading_verb_works_on_a_journal() {
    let dir = TestDir::new();
    let store = dir.join("j");
    let outcome = run([
        "append",
        "--layout",
        "journal",
        text(&store),
        "hello",
        r#"{"n": 1}"#,
    ]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "1\n");
    run(["append", text(&store), "world"]).expect_code(0);
    // An existing store keeps its layout; asking for the other one is refused.
    run(["append", "--layout", "loose", text(&store), "x"])
        .expect_code(1)
        .expect_stderr_contains(&["journal layout", "foldstore copy"]);
    run_on("log", &store, &[])
        .expect_code(0)
        .expect_stdout_contains(&["hello", "world"]);
    run_on("show", &store, &["2"])
        .expect_code(0)
        .expect_stdout_contains(&["world"]);
    run_on("tail", &store, &["-n", "1"])
        .expect_code(0)
        .expect_stdout_contains(&["world"]);
    run_on("stats", &store, &[]).expect_code(0);
    run_on("snapshots", &store, &[]).expect_code(0);
    run_on("verify", &store, &[])
        .expect_code(0)
        .expect_stdout_contains(&["2 commits"]);
    let names: Vec<Value> = events(text(&store))
        .iter()
        .map(|event| event["name"].clone())
        .collect();
    assert_eq!(names, ["hello", "world"]);
}

/// The address of a server store for this test, or `None` (skipped) when the server is not
/// configured; under `CI=true` a missing server fails the test.
fn server(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(address) => Some(address),
        Err(_) if std::env::var("CI").is_ok_and(|ci| ci == "true") => panic!(
            "{variable} is not set: {what} is needed under CI=true (run the tests through 'bash .ci/test', which starts it)"
        ),
        Err(_) => {
            eprintln!("skipped: {variable} is not set; run the tests through 'bash .ci/test' to start {what}");
            None
        }
    }
}

/// A name no other run of this test uses.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

#[test]
fn a_store_copied_through_postgres_and_s3_comes_back_byte_identical() {
    let (Some(postgres), Some(s3)) = (
        server("FOLDSTORE_TEST_POSTGRES", "PostgreSQL"),
        server("FOLDSTORE_TEST_S3", "the S3 emulator"),
    ) else {
        return;
    };
    let dir = TestDir::new();
    let from = six_commit_store(&dir);
    let separator = if postgres.contains('?') { '&' } else { '?' };
    let table = format!("{postgres}{separator}table={}", unique("cli"));
    let prefix = format!("{}/{}", s3.trim_end_matches('/'), unique("cli"));

    copy(text(&from), &table, &[]);
    copy(&table, &prefix, &[]);
    let back = dir.join("back");
    copy(&prefix, text(&back), &[]);
    assert_eq!(store_files(&back), store_files(&from));

    // Every verb takes an address.
    for store in [&table, &prefix] {
        assert_eq!(events(store), events(text(&from)));
        run(["verify", store.as_str()])
            .expect_code(0)
            .expect_stdout_contains(&["6 commits"]);
        run(["show", store.as_str(), "6"])
            .expect_code(0)
            .expect_stdout_contains(&["pretty"]);
        let appended = run(["append", store.as_str(), "more", "7"]);
        appended.expect_code(0);
        assert_eq!(appended.stdout, "7\n");
    }
}

#[test]
fn an_address_of_an_unknown_kind_is_refused_with_what_is_known() {
    run(["log", "ftp://example.invalid/store"])
        .expect_code(1)
        .expect_stderr_contains(&["postgres://", "s3://"]);
}
