//! `events`: every event as one JSON line, slices of the log, missing and damaged stores, and
//! output into a closed pipe.

use std::fs;

use serde_json::Value;

use crate::util::{
    big_store, expected_lines, five_commit_store, piped_into_head, read_lines_then_close, run,
    TestDir,
};

#[test]
fn events_prints_every_event_as_one_json_line() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run(["events".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    assert!(outcome.stdout.ends_with('\n'));
    let lines = outcome.json_lines();
    assert_eq!(lines, expected_lines(&store));
    // Absent data stays absent; null data is printed as null.
    assert!(lines[0].get("data").is_none());
    assert_eq!(lines[2].get("data"), Some(&Value::Null));
    // The members come in the documented order.
    let keys: Vec<&str> = lines[1]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["commit", "headers", "name", "data"]);
}

#[test]
fn events_from_and_to_select_a_slice_of_commits() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let all = expected_lines(&store);
    let cases: [(&[&str], std::ops::Range<usize>); 7] = [
        (&["--from", "2", "--to", "3"], 1..3),
        (&["--from", "4"], 3..6),
        (&["--to", "2"], 0..2),
        (&["--from", "4", "--to", "4"], 3..5),
        (&["--from", "1", "--to", "5"], 0..6),
        (&["--from", "5"], 5..6),
        (&["--from", "6"], 6..6),
    ];
    for (args, range) in cases {
        let outcome = run(["events".as_ref(), store.as_os_str()]
            .into_iter()
            .chain(args.iter().map(|a| a.as_ref())));
        outcome.expect_code(0);
        assert_eq!(outcome.json_lines(), all[range].to_vec(), "{args:?}");
    }
}

#[test]
fn events_start_beyond_the_end_of_the_log_says_where_it_ends() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let events = |args: &[&str]| {
        run(["events".as_ref(), store.as_os_str()]
            .into_iter()
            .chain(args.iter().map(|a| a.as_ref())))
    };
    events(&["--from", "9"])
        .expect_code(1)
        .expect_stderr_contains(&["the log ends at commit 5"]);
    // An end beyond the log cuts the range there, as `sed -n` does.
    let all = events(&[]).json_lines();
    for (args, first) in [
        (&["--to", "9"][..], 0),
        (&["--from", "2", "--to", "6"], 1),
        (&["--name", "text", "--to", "1000"], 5),
    ] {
        let outcome = events(args);
        outcome.expect_code(0);
        assert_eq!(outcome.json_lines(), all[first..].to_vec(), "{args:?}");
    }
    let outcome = events(&["--from", "6", "--to", "9"]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "");
    // A range that ends before it starts is a mistake on the command line.
    for (args, words) in [
        (
            &["--from", "4", "--to", "3"][..],
            "--to 3 is before --from 4",
        ),
        (&["--after", "4", "--to", "3"], "--to 3 is before --after 4"),
        (&["--to", "0"], "--to 0 is before --from 1"),
    ] {
        let outcome = events(args);
        outcome.expect_code(2).expect_stderr_contains(&[words]);
        assert_eq!(outcome.stdout, "", "{args:?}");
    }
}

#[test]
fn read_verbs_say_there_is_no_store() {
    let dir = TestDir::new();
    let missing = dir.join("nothing/here");
    for verb in ["events", "verify"] {
        let outcome = run([verb.as_ref(), missing.as_os_str()]);
        outcome
            .expect_code(1)
            .expect_stderr_contains(&["no store at", &missing.display().to_string()]);
        assert_eq!(outcome.stdout, "", "{verb}");
        assert!(!dir.join("nothing").exists(), "{verb} created the folder");
    }
    // A file is not a store either.
    let file = dir.join("file");
    fs::write(&file, "x").expect("write a file");
    for verb in ["events", "verify"] {
        run([verb.as_ref(), file.as_os_str()])
            .expect_code(1)
            .expect_stderr_contains(&["is not a folder"]);
    }
}

#[test]
fn events_on_a_damaged_store_fail_naming_the_file() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let expected = expected_lines(&store);
    let two = store.join("2.log");
    let text = fs::read_to_string(&two).expect("read 2.log");
    crate::util::write_old(&two, &text[..text.len() / 2]);
    let outcome = run(["events".as_ref(), store.as_os_str()]);
    outcome.expect_code(1).expect_stderr_contains(&[
        "commit 2",
        &two.display().to_string(),
        "foldstore verify",
    ]);
    // What precedes the damage was printed, nothing after it.
    assert_eq!(outcome.json_lines(), expected[..1].to_vec());

    // A gap is named too.
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    fs::remove_file(store.join("3.log")).expect("remove 3.log");
    run(["events".as_ref(), store.as_os_str()])
        .expect_code(1)
        .expect_stderr_contains(&[
            "commit 3",
            &store.join("3.log").display().to_string(),
            "gap",
        ]);
}

#[test]
fn events_into_a_pipe_closed_early_is_not_an_error() {
    let dir = TestDir::new();
    let store = big_store(&dir);
    // Closes our end, as `head -1` does, while foldstore still has far more to write.
    let (lines, output) = read_lines_then_close("events", &store, 1);
    let first = &lines[0];
    let line: Value = serde_json::from_str(first).expect("the first line is JSON");
    assert_eq!(line["name"], "e0");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "a closed pipe was reported as an error"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "a closed pipe is not a failure"
    );
}

#[cfg(unix)]
#[test]
fn events_piped_into_head_exits_0_quietly() {
    let dir = TestDir::new();
    let store = big_store(&dir);
    let piped = piped_into_head(&dir, "events", &store, 1);
    let first: Value = serde_json::from_slice(&piped.stdout).expect("head printed one JSON line");
    assert_eq!(first["commit"], 1);
    assert_eq!(first["name"], "e0");
    assert_eq!(piped.stderr, "");
    assert_eq!(piped.status, "0\n");
}
