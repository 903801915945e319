//! `foldstore log` (and its alias `ls`): the table of commits, run as the real binary.

mod util;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use util::{
    append, commit_time, five_commit_store, logged, many_commit_store, one_commit_store,
    piped_into_head, read_lines_then_close, run_on, write_commit, TestDir,
};

/// The size of commit file `number.log`.
fn size(store: &Path, number: u64) -> u64 {
    fs::metadata(store.join(format!("{number}.log")))
        .expect("a commit file")
        .len()
}

/// The row `log` prints for a commit.
fn row(store: &Path, number: u64, names: &str) -> String {
    format!(
        "{number:>6}  {:<24}  {:>10}  {names}",
        commit_time(store, number),
        format!("{} B", size(store, number))
    )
}

const HEADING: &str = "COMMIT  TIME                            SIZE  EVENTS";

#[test]
fn log_prints_a_table_of_every_commit_oldest_first() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run_on("log", &store, &[]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    let expected = [
        HEADING.to_owned(),
        row(&store, 1, "hello"),
        row(&store, 2, "moved"),
        row(&store, 3, "nothing"),
        row(&store, 4, "a, b"),
        row(&store, 5, "text"),
    ]
    .join("\n")
        + "\n";
    assert_eq!(outcome.stdout, expected);
    // `ls` is the same verb.
    let ls = run_on("ls", &store, &[]);
    ls.expect_code(0);
    assert_eq!(ls.stdout, expected);
}

#[test]
fn log_counts_runs_of_one_event_name() {
    let dir = TestDir::new();
    let store = one_commit_store(
        &dir,
        "2026-11-27T15:03:30.380Z",
        json!([{"name": "a"}, {"name": "a"}, {"name": "a"}, {"name": "b", "data": 1}, {"name": "a"}]),
    );
    let outcome = run_on("log", &store, &[]);
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout.lines().nth(1),
        Some(row(&store, 1, "a ×3, b, a").as_str())
    );
}

#[test]
fn log_json_prints_one_object_a_commit() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run_on("log", &store, &["--json"]);
    outcome.expect_code(0);
    let lines = outcome.json_lines();
    let expected: Vec<Value> = [(1, vec!["hello"]), (2, vec!["moved"]), (3, vec!["nothing"]), (4, vec!["a", "b"]), (5, vec!["text"])]
        .into_iter()
        .map(|(n, names)| {
            json!({"commit": n, "time": commit_time(&store, n), "bytes": size(&store, n), "events": names})
        })
        .collect();
    assert_eq!(lines, expected);
    let keys: Vec<&str> = lines[0]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["commit", "time", "bytes", "events"]);

    // A commit without a time header has a null time.
    let untimed = dir.join("untimed");
    write_commit(&untimed, 1, None, json!([{"name": "x"}]));
    let outcome = run_on("log", &untimed, &["--json"]);
    outcome.expect_code(0);
    assert_eq!(outcome.json_lines()[0]["time"], Value::Null);
    let table = run_on("log", &untimed, &[]);
    assert!(
        table
            .stdout
            .lines()
            .nth(1)
            .expect("a row")
            .contains("  -  "),
        "{}",
        table.stdout
    );
}

#[test]
fn log_from_to_and_name_select_commits() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let commits = |args: &[&str]| logged(&store, args);
    assert_eq!(commits(&["--from", "2", "--to", "4"]), [2, 3, 4]);
    assert_eq!(commits(&["--from", "6"]), [0u64; 0]);
    assert_eq!(commits(&["--to", "1"]), [1]);
    assert_eq!(commits(&["--name", "b"]), [4]);
    assert_eq!(commits(&["--name", "hello", "--name", "text"]), [1, 5]);
    assert_eq!(commits(&["--name", "hello", "--from", "2"]), [0u64; 0]);
    assert_eq!(commits(&["--name", "no such name"]), [0u64; 0]);
    // The table shows every name of a selected commit.
    let outcome = run_on("log", &store, &["--name", "b"]);
    assert_eq!(
        outcome.stdout,
        format!("{HEADING}\n{}\n", row(&store, 4, "a, b"))
    );
}

#[test]
fn log_out_of_range_says_where_the_log_ends() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run_on("log", &store, &["--from", "7"]);
    outcome
        .expect_code(1)
        .expect_stderr_contains(&["the log ends at commit 5"]);
    assert_eq!(outcome.stdout, "");
    // An end beyond the log cuts the range there, as `sed -n` and `git log` do.
    assert_eq!(logged(&store, &["--to", "9"]), [1, 2, 3, 4, 5]);
    assert_eq!(logged(&store, &["--from", "4", "--to", "1000"]), [4, 5]);
    assert_eq!(logged(&store, &["--from", "6", "--to", "9"]), [0u64; 0]);
    // A range that ends before it starts is a mistake on the command line (status 2), also
    // when there is no store to read.
    for target in [store.clone(), dir.join("missing")] {
        let outcome = run_on("log", &target, &["--from", "4", "--to", "3"]);
        outcome
            .expect_code(2)
            .expect_stderr_contains(&["--to 3 is before --from 4"]);
        assert_eq!(outcome.stdout, "");
    }
    run_on("log", &store, &["--from", "x"]).expect_code(2);
}

#[test]
fn log_of_an_empty_store_is_the_heading_alone() {
    let dir = TestDir::new();
    let store = dir.join("empty");
    fs::create_dir(&store).expect("create a folder");
    let outcome = run_on("log", &store, &[]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, format!("{HEADING}\n"));
    let outcome = run_on("log", &store, &["--json"]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "");
}

#[test]
fn log_of_a_damaged_store_fails_naming_the_file() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let three = store.join("3.log");
    util::write_old(&three, "{\"headers\": {}, \"events\": [");
    let outcome = run_on("log", &store, &[]);
    outcome.expect_code(1).expect_stderr_contains(&[
        "commit 3",
        &three.display().to_string(),
        "foldstore verify",
    ]);
    // The commits before the damage were listed.
    assert_eq!(outcome.stdout.lines().count(), 3, "{}", outcome.stdout);
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);

    fs::remove_file(&three).expect("remove 3.log");
    run_on("log", &store, &["--json"])
        .expect_code(1)
        .expect_stderr_contains(&["commit 3", &three.display().to_string(), "gap"]);
}

#[test]
fn log_into_a_pipe_closed_early_is_not_an_error() {
    let dir = TestDir::new();
    let store = many_commit_store(&dir, "many", 3000);
    let (lines, output) = read_lines_then_close("log", &store, 2);
    let (heading, first) = (&lines[0], &lines[1]);
    assert_eq!(heading.trim_end(), HEADING);
    assert!(first.contains("e1"), "{first}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(output.status.code(), Some(0));
}

#[cfg(unix)]
#[test]
fn log_piped_into_head_exits_0_quietly() {
    let dir = TestDir::new();
    let store = many_commit_store(&dir, "many", 3000);
    let piped = piped_into_head(&dir, "log", &store, 3);
    let text = String::from_utf8(piped.stdout).expect("UTF-8");
    assert_eq!(text.lines().count(), 3);
    assert!(text.lines().nth(2).expect("a row").contains("e2"), "{text}");
    assert_eq!(piped.stderr, "");
    assert_eq!(piped.status, "0\n");
}

#[test]
fn log_shows_commits_appended_by_others() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(&store, &["first"]);
    let before = run_on("log", &store, &["--json"]);
    assert_eq!(before.json_lines().len(), 1);
    append(&store, &["second"]);
    let after = run_on("log", &store, &["--json"]);
    assert_eq!(after.json_lines()[1]["events"], json!(["second"]));
}

#[test]
fn log_shows_commits_without_events_unless_names_are_selected() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(
        &store,
        1,
        Some("2026-11-27T15:03:30.380Z"),
        json!([{"name": "a"}]),
    );
    write_commit(&store, 2, Some("2026-11-27T15:03:31.380Z"), json!([]));
    write_commit(
        &store,
        3,
        Some("2026-11-27T15:03:32.380Z"),
        json!([{"name": "b"}]),
    );
    assert_eq!(logged(&store, &[]), [1, 2, 3]);
    let table = run_on("log", &store, &[]);
    table.expect_code(0);
    assert_eq!(
        table.stdout.lines().nth(2),
        Some(row(&store, 2, "-").as_str())
    );
    let lines = run_on("log", &store, &["--json"]).json_lines();
    assert_eq!(lines[1]["commit"], json!(2));
    assert_eq!(lines[1]["events"], json!([]));
    // Also within a time window; a name selects only commits holding it.
    assert_eq!(logged(&store, &["--since", "2026-11-27T15:03:31Z"]), [2, 3]);
    assert_eq!(logged(&store, &["--name", "b"]), [3]);
}

#[test]
fn log_and_events_limit_stop_after_the_first_n_selected() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    assert_eq!(logged(&store, &["-n", "2"]), [1, 2]);
    assert_eq!(logged(&store, &["--limit", "2", "--from", "3"]), [3, 4]);
    assert_eq!(logged(&store, &["--limit", "9"]), [1, 2, 3, 4, 5]);
    assert_eq!(logged(&store, &["--limit", "1", "--name", "b"]), [4]);
    let table = run_on("log", &store, &["-n", "1"]);
    assert_eq!(
        table.stdout,
        format!("{HEADING}\n{}\n", row(&store, 1, "hello"))
    );
    // events counts lines (events), by reading the log or through the index.
    let all = run_on("events", &store, &[]).json_lines();
    for (args, expected) in [
        (&["-n", "4"][..], &all[..4]),
        (&["--limit", "1", "--from", "4"], &all[3..4]),
        (
            &["--limit", "1", "--name", "b", "--name", "text"],
            &all[4..5],
        ),
        (&["--limit", "99"], &all[..]),
    ] {
        let outcome = run_on("events", &store, args);
        outcome.expect_code(0);
        assert_eq!(outcome.json_lines(), expected.to_vec(), "{args:?}");
    }
    for verb in ["log", "events"] {
        run_on(verb, &store, &["--limit", "0"]).expect_code(2);
    }
}
