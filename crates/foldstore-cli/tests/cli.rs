//! The `foldstore` command, tested by running the real binary in temporary folders.

mod util;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::thread;

use serde_json::{json, Value};

use util::{
    append, big_store, commit_json, commit_names, commit_text, commit_time, expected_lines,
    file_names, five_commit_store, foldstore, run, run_with_stdin, TestDir,
};

// ---------------------------------------------------------------------------------------------
// append STORE NAME [DATA]
// ---------------------------------------------------------------------------------------------

#[test]
fn append_prints_exactly_the_commit_number_and_a_newline() {
    let dir = TestDir::new();
    let store = dir.join("s");
    for expected in ["1\n", "2\n", "3\n"] {
        let outcome = run([
            "append".as_ref(),
            store.as_os_str(),
            "tick".as_ref(),
            "1".as_ref(),
        ]);
        outcome.expect_code(0);
        assert_eq!(outcome.stdout, expected);
        assert_eq!(outcome.stderr, "");
    }
}

#[test]
fn append_with_a_name_only_writes_an_event_without_data() {
    let dir = TestDir::new();
    let store = dir.join("s");
    assert_eq!(append(&store, &["heartbeat"]), 1);
    assert_eq!(file_names(&store), commit_names(1));
    let time = commit_time(&store, 1);
    assert_eq!(
        commit_text(&store, 1),
        format!(r#"{{"headers":{{"time":"{time}"}},"events":[{{"name":"heartbeat"}}]}}"#)
    );
    let commit = commit_json(&store, 1);
    assert!(commit["events"][0].get("data").is_none(), "{commit}");
}

#[test]
fn append_writes_json_data_of_every_kind_compactly_and_exactly() {
    let dir = TestDir::new();
    let store = dir.join("s");
    let cases = [
        (
            "object",
            r#"{"z": 1, "a": [1, 2], "m": {"k": "v"}}"#,
            r#"{"z":1,"a":[1,2],"m":{"k":"v"}}"#,
        ),
        ("string", r#""x""#, r#""x""#),
        ("number", "42", "42"),
        ("float", "2.5", "2.5"),
        ("big", "18446744073709551615", "18446744073709551615"),
        ("null", "null", "null"),
        ("bool", "true", "true"),
        ("array", r#"[1, "two", null]"#, r#"[1,"two",null]"#),
        ("unicode", r#""ø \"q\" \\ \n""#, r#""ø \"q\" \\ \n""#),
    ];
    for (index, (name, data, written)) in cases.iter().enumerate() {
        let number = index as u64 + 1;
        assert_eq!(append(&store, &[name, data]), number, "{name}");
        let time = commit_time(&store, number);
        assert_eq!(
            commit_text(&store, number),
            format!(
                r#"{{"headers":{{"time":"{time}"}},"events":[{{"name":"{name}","data":{written}}}]}}"#
            ),
            "{name}"
        );
    }
    assert_eq!(file_names(&store), commit_names(cases.len() as u64));
    // `null` data is a `data` member holding null, not an absent one.
    let null = commit_json(&store, 6);
    assert_eq!(null["events"][0].get("data"), Some(&Value::Null));
}

#[test]
fn append_takes_a_negative_number_as_data() {
    let dir = TestDir::new();
    let store = dir.join("s");
    // After `--`, clap takes anything as a value.
    assert_eq!(append(&store, &["after-dashes", "--", "-3.5"]), 1);
    assert_eq!(commit_json(&store, 1)["events"][0]["data"], json!(-3.5));
    // DATA is JSON, and a negative number is JSON: it must not need `--`.
    let outcome = run([
        "append".as_ref(),
        store.as_os_str(),
        "debit".as_ref(),
        "-3.5".as_ref(),
    ]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "2\n");
    assert_eq!(commit_json(&store, 2)["events"][0]["data"], json!(-3.5));
}

#[test]
fn append_creates_a_nested_folder_that_does_not_exist() {
    let dir = TestDir::new();
    let store = dir.join("a/b/c/members");
    assert!(!dir.join("a").exists());
    assert_eq!(append(&store, &["first"]), 1);
    assert_eq!(append(&store, &["second", "{}"]), 2);
    assert_eq!(append(&store, &["third", "null"]), 3);
    assert!(store.is_dir());
    assert_eq!(file_names(&store), commit_names(3));
    let names: Vec<Value> = (1..=3)
        .map(|n| commit_json(&store, n)["events"][0]["name"].clone())
        .collect();
    assert_eq!(names, [json!("first"), json!("second"), json!("third")]);
}

#[test]
fn append_refuses_invalid_json_data_and_writes_nothing() {
    let dir = TestDir::new();
    let missing = dir.join("new/store");
    for bad in ["{x", "x", "'x'", "[1,", ""] {
        let outcome = run([
            "append".as_ref(),
            missing.as_os_str(),
            "e".as_ref(),
            bad.as_ref(),
        ]);
        outcome
            .expect_code(1)
            .expect_stderr_contains(&["not valid JSON", "nothing was written"]);
        assert_eq!(outcome.stdout, "", "{bad:?}");
        assert!(!dir.join("new").exists(), "{bad:?} created the folder");
    }

    // Into an existing store: no commit (and no other file) appears.
    let store = dir.join("s");
    append(&store, &["ok"]);
    let before = file_names(&store);
    let outcome = run([
        "append".as_ref(),
        store.as_os_str(),
        "e".as_ref(),
        "{\"a\": }".as_ref(),
    ]);
    outcome
        .expect_code(1)
        .expect_stderr_contains(&["DATA is not valid JSON", "nothing was written"]);
    assert_eq!(file_names(&store), before);
}

#[test]
fn command_line_mistakes_exit_with_status_2() {
    let dir = TestDir::new();
    let store = dir.join("s");
    let store = store.to_str().expect("UTF-8 path");
    let cases: [&[&str]; 7] = [
        &["append", store],
        &["append"],
        &["append", store, "name", "--stdin"],
        &["events"],
        &["events", store, "--from", "abc"],
        &["verify"],
        &["no-such-verb"],
    ];
    for args in cases {
        let outcome = run(args);
        outcome.expect_code(2);
        assert_eq!(outcome.stdout, "", "{args:?}");
        assert!(
            outcome.stderr.contains("error"),
            "{args:?}: {}",
            outcome.stderr
        );
    }
    // A missing NAME is named as such.
    run(["append", store])
        .expect_code(2)
        .expect_stderr_contains(&["<NAME>"]);
    assert!(!dir.join("s").exists(), "a usage error created the store");
}

// ---------------------------------------------------------------------------------------------
// append STORE --stdin
// ---------------------------------------------------------------------------------------------

#[test]
fn append_stdin_writes_every_line_as_one_commit_in_order() {
    let dir = TestDir::new();
    let store = dir.join("s");
    let input = concat!(
        "{\"name\": \"newMemberRegistered\", \"data\": {\"member\": {\"name\": \"peter pan\"}}}\n",
        "\n",
        "{\"name\": \"heartbeat\"}\n",
        "   \t \n",
        "{\"name\": \"nothing\", \"data\": null}\n",
        "{\"data\": [1, 2], \"name\": \"reordered\"}\n",
        "{\"name\": \"last\", \"data\": \"no newline at the end\"}",
    );
    let outcome = run_with_stdin(
        ["append".as_ref(), store.as_os_str(), "--stdin".as_ref()],
        input,
    );
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "1\n");
    assert_eq!(outcome.stderr, "");
    assert_eq!(file_names(&store), commit_names(1));
    let time = commit_time(&store, 1);
    assert_eq!(
        commit_text(&store, 1),
        format!(
            concat!(
                r#"{{"headers":{{"time":"{time}"}},"events":["#,
                r#"{{"name":"newMemberRegistered","data":{{"member":{{"name":"peter pan"}}}}}},"#,
                r#"{{"name":"heartbeat"}},"#,
                r#"{{"name":"nothing","data":null}},"#,
                r#"{{"name":"reordered","data":[1,2]}},"#,
                r#"{{"name":"last","data":"no newline at the end"}}"#,
                "]}}"
            ),
            time = time
        )
    );

    // A second block is the next commit.
    let outcome = run_with_stdin(
        ["append".as_ref(), store.as_os_str(), "--stdin".as_ref()],
        "{\"name\": \"a\"}\n{\"name\": \"b\"}\n",
    );
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "2\n");
    assert_eq!(
        commit_json(&store, 2)["events"],
        json!([{"name": "a"}, {"name": "b"}])
    );
    assert_eq!(file_names(&store), commit_names(2));
}

#[test]
fn append_stdin_refuses_a_bad_line_naming_it_and_writes_nothing() {
    let dir = TestDir::new();
    let cases = [
        (
            "{\"name\": \"a\"}\n\n{not json}\n{\"name\": \"b\"}\n",
            "line 3",
        ),
        ("{\"name\": \"a\"}\n{\"data\": 1}\n", "line 2"),
        ("{\"name\": 7}\n", "line 1"),
        ("{\"name\": \"a\"}\n[\"name\", \"b\"]\n", "line 2"),
        ("\"just a string\"\n", "line 1"),
    ];
    // Into a folder that does not exist: it is not even created.
    let missing = dir.join("new");
    for (input, line) in cases {
        let outcome = run_with_stdin(
            ["append".as_ref(), missing.as_os_str(), "--stdin".as_ref()],
            input,
        );
        outcome
            .expect_code(1)
            .expect_stderr_contains(&[line, "nothing was written"]);
        assert_eq!(outcome.stdout, "", "{input:?}");
        assert!(!missing.exists(), "{input:?} created the folder");
    }
    // Into an existing store: no new file.
    let store = dir.join("s");
    append(&store, &["ok"]);
    for (input, line) in cases {
        let outcome = run_with_stdin(
            ["append".as_ref(), store.as_os_str(), "--stdin".as_ref()],
            input,
        );
        outcome
            .expect_code(1)
            .expect_stderr_contains(&[line, "nothing was written"]);
        assert_eq!(file_names(&store), commit_names(1), "{input:?}");
    }
}

#[test]
fn append_stdin_with_no_events_fails_and_writes_nothing() {
    let dir = TestDir::new();
    let store = dir.join("s");
    for input in ["", "\n", "\n  \n\t\n"] {
        let outcome = run_with_stdin(
            ["append".as_ref(), store.as_os_str(), "--stdin".as_ref()],
            input,
        );
        outcome
            .expect_code(1)
            .expect_stderr_contains(&["no events", "nothing was written"]);
        assert_eq!(outcome.stdout, "", "{input:?}");
        assert!(!store.exists(), "{input:?} created the folder");
    }
}

// ---------------------------------------------------------------------------------------------
// events
// ---------------------------------------------------------------------------------------------

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
fn events_beyond_the_end_of_the_log_say_where_it_ends() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    for args in [
        &["--to", "9"][..],
        &["--from", "2", "--to", "6"],
        &["--from", "9"],
    ] {
        let outcome = run(["events".as_ref(), store.as_os_str()]
            .into_iter()
            .chain(args.iter().map(|a| a.as_ref())));
        outcome
            .expect_code(1)
            .expect_stderr_contains(&["the log ends at commit 5"]);
    }
    run([
        "events".as_ref(),
        store.as_os_str(),
        "--from".as_ref(),
        "4".as_ref(),
        "--to".as_ref(),
        "3".as_ref(),
    ])
    .expect_code(1)
    .expect_stderr_contains(&["--to 3 is before --from 4"]);
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
    util::write_old(&two, &text[..text.len() / 2]);
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
    let mut child = foldstore()
        .args(["events".as_ref(), store.as_os_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start foldstore events");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("read the first line");
    // Close our end, as `head -1` does, while foldstore still has far more to write.
    drop(reader);
    let output = child.wait_with_output().expect("wait for foldstore");
    let line: Value = serde_json::from_str(&first).expect("the first line is JSON");
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
    let stderr = dir.join("stderr.txt");
    let status = dir.join("status.txt");
    // POSIX sh has no pipefail: the command's status is written to a file from inside the pipe.
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"{ "$0" events "$1" 2>"$2"; echo $? >"$3"; } | head -1"#)
        .arg(util::FOLDSTORE)
        .arg(&store)
        .arg(&stderr)
        .arg(&status)
        .output()
        .expect("run sh");
    assert!(output.status.success(), "{output:?}");
    let first: Value = serde_json::from_slice(&output.stdout).expect("head printed one JSON line");
    assert_eq!(first["commit"], 1);
    assert_eq!(first["name"], "e0");
    assert_eq!(fs::read_to_string(&stderr).expect("read stderr.txt"), "");
    assert_eq!(fs::read_to_string(&status).expect("read status.txt"), "0\n");
}

// ---------------------------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------------------------

#[test]
fn verify_passes_a_sound_store() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    assert_eq!(
        outcome.stdout,
        "ok: 5 commits (6 events) and 0 snapshots read; the store is sound\n"
    );
}

#[test]
fn verify_lists_every_problem_with_its_path() {
    let dir = TestDir::new();
    let store = dir.join("s");
    for i in 1..=7 {
        append(&store, &[&format!("e{i}")]);
    }
    let path = |name: &str| store.join(name).display().to_string();
    // A truncated commit, a gap, an empty commit, a snapshot holding garbage, a suspicious name.
    let two = commit_text(&store, 2);
    util::write_old(&store.join("2.log"), &two[..20]);
    fs::remove_file(store.join("4.log")).expect("remove 4.log");
    util::write_old(&store.join("6.log"), "");
    fs::write(store.join("3.m-snapshot"), "garbage\u{0}\u{1}").expect("write 3.m-snapshot");
    fs::write(store.join("007.log"), commit_text(&store, 1)).expect("write 007.log");

    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(1);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    let line_of = |prefix: &str| {
        lines
            .iter()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starts with {prefix:?}:\n{}", outcome.stdout))
            .to_string()
    };
    assert!(line_of(&format!("{}: ", path("2.log"))).contains("not valid JSON"));
    assert!(line_of(&format!("{}: ", path("4.log"))).contains("missing"));
    assert!(line_of(&format!("{}: ", path("6.log"))).contains("is empty"));
    assert!(line_of(&format!("{}: ", path("3.m-snapshot"))).contains("not valid JSON"));
    assert!(line_of(&format!("warning: {}: ", path("007.log"))).contains("named like a commit"));
    // Sound commits are not reported; the summary counts what was found.
    for sound in ["1.log", "3.log", "5.log", "7.log"] {
        assert!(
            !outcome.stdout.contains(&format!("{}:", path(sound))),
            "{sound} reported:\n{}",
            outcome.stdout
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some("4 problem(s) found; 4 commits (4 events) and 0 snapshots read without problems")
    );
    assert_eq!(lines.len(), 6, "{}", outcome.stdout);
}

#[test]
fn verify_warnings_do_not_fail_a_sound_store() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(&store, &["e1"]);
    append(&store, &["e2", "2"]);
    fs::write(store.join("007.log"), commit_text(&store, 1)).expect("write 007.log");
    fs::write(store.join("notes.txt"), "not part of the store").expect("write notes.txt");
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    let warning = format!("warning: {}: ", store.join("007.log").display());
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", outcome.stdout);
    assert!(lines[0].starts_with(&warning), "{}", outcome.stdout);
    assert_eq!(
        lines[1],
        "ok: 2 commits (2 events) and 0 snapshots read; the store is sound"
    );
}

#[test]
fn verify_json_is_one_report_object() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run(["verify".as_ref(), store.as_os_str(), "--json".as_ref()]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    assert_eq!(
        outcome.json_lines(),
        [json!({
            "sound": true,
            "tip": 5,
            "sound_commits": 5,
            "events": 6,
            "sound_snapshots": 0,
            "problems": [],
            "warnings": [],
        })]
    );

    fs::remove_file(store.join("2.log")).expect("remove 2.log");
    fs::write(store.join("007.log"), commit_text(&store, 1)).expect("write 007.log");
    let outcome = run(["verify".as_ref(), store.as_os_str(), "--json".as_ref()]);
    outcome.expect_code(1);
    let report = &outcome.json_lines()[0];
    assert_eq!(report["sound"], false);
    assert_eq!(report["sound_commits"], 4);
    assert_eq!(
        report["problems"][0]["location"],
        store.join("2.log").display().to_string()
    );
    assert!(report["problems"][0]["problem"]
        .as_str()
        .is_some_and(|p| p.contains("missing")));
    assert_eq!(
        report["warnings"][0]["location"],
        store.join("007.log").display().to_string()
    );
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(1));
}

// ---------------------------------------------------------------------------------------------
// demo, help
// ---------------------------------------------------------------------------------------------

#[test]
fn demo_leaves_a_store_that_passes_verify() {
    let dir = TestDir::new();
    let store = dir.join("new/demo-store");
    let outcome = run(["demo".as_ref(), store.as_os_str()]);
    outcome.expect_code(0).expect_stdout_contains(&[
        "commit 1: registered arjan einbu, marit winge, peter pan",
        "is already a member; nothing was written",
        "commit 2: marit winge has moved",
        "never called ready_to_commit wrote nothing",
        "snapshot saved at commit 2",
        "foldstore events",
    ]);
    assert_eq!(outcome.stderr, "");
    let mut expected = commit_names(2);
    expected.insert("2.memberlist-snapshot".to_owned());
    assert_eq!(file_names(&store), expected);

    run(["verify".as_ref(), store.as_os_str()])
        .expect_code(0)
        .expect_stdout_contains(&["ok: 2 commits (4 events) and 1 snapshots read"]);
    let events = run(["events".as_ref(), store.as_os_str()]);
    events.expect_code(0);
    let names: Vec<Value> = events
        .json_lines()
        .iter()
        .map(|l| l["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("newMemberRegistered"),
            json!("newMemberRegistered"),
            json!("newMemberRegistered"),
            json!("memberHasMoved")
        ]
    );

    // A second run goes on from the store's state: the model refuses duplicates, so it
    // registers nobody again and writes nothing new.
    run(["demo".as_ref(), store.as_os_str()])
        .expect_code(0)
        .expect_stdout_contains(&["everyone is registered already"]);
    assert_eq!(file_names(&store), expected);
}

#[test]
fn help_of_every_verb_shows_an_example() {
    for verb in ["append", "events", "verify", "demo"] {
        let outcome = run([verb, "--help"]);
        outcome
            .expect_code(0)
            .expect_stdout_contains(&["Example", &format!("foldstore {verb} ./")]);
    }
    run(["append", "--help"])
        .expect_stdout_contains(&["--stdin", "foldstore append ./members heartbeat"]);
    run(["events", "--help"]).expect_stdout_contains(&["--from", "--to"]);
}

#[test]
fn help_lists_the_exit_codes() {
    let outcome = run(["--help"]);
    outcome.expect_code(0).expect_stdout_contains(&[
        "Exit status",
        "append",
        "events",
        "verify",
        "demo",
    ]);
    let codes: Vec<&str> = outcome
        .stdout
        .lines()
        .filter_map(|line| line.trim_start().split_once("  ").map(|(code, _)| code))
        .filter(|code| ["0", "1", "2"].contains(code))
        .collect();
    assert_eq!(codes, ["0", "1", "2"], "{}", outcome.stdout);
}

// ---------------------------------------------------------------------------------------------
// Many processes
// ---------------------------------------------------------------------------------------------

#[test]
fn concurrent_append_processes_fill_every_number_exactly_once() {
    const WRITERS: u64 = 8;
    const EACH: u64 = 25;
    let dir = TestDir::new();
    let store = dir.join("shared");

    // Every writer spawns its processes one after another; the writers run at once.
    let results: Vec<Vec<(u64, Value)>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let store = &store;
                scope.spawn(move || {
                    (0..EACH)
                        .map(|seq| {
                            let payload = json!({"writer": writer, "seq": seq});
                            let number = append(store, &["written", &payload.to_string()]);
                            (number, payload)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a writer thread panicked"))
            .collect()
    });

    let total = WRITERS * EACH;
    // Exactly commits 1..=200, no gaps, no temporary files left over.
    assert_eq!(file_names(&store), commit_names(total));

    // Every process got its own number, and its commit holds its payload.
    let mut numbers = BTreeSet::new();
    for (number, payload) in results.iter().flatten() {
        assert!(numbers.insert(*number), "commit {number} printed twice");
        let commit = commit_json(&store, *number);
        assert_eq!(
            commit["events"],
            json!([{"name": "written", "data": payload}]),
            "commit {number}"
        );
    }
    assert_eq!(numbers, (1..=total).collect::<BTreeSet<_>>());

    // Every payload exactly once in the log.
    let events = run(["events".as_ref(), store.as_os_str()]);
    events.expect_code(0);
    let lines = events.json_lines();
    assert_eq!(lines.len() as u64, total);
    let mut payloads = BTreeSet::new();
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(line["commit"], index as u64 + 1);
        assert!(payloads.insert(line["data"].to_string()), "{line} twice");
    }
    let expected: BTreeSet<String> = (0..WRITERS)
        .flat_map(|writer| {
            (0..EACH).map(move |seq| json!({"writer": writer, "seq": seq}).to_string())
        })
        .collect();
    assert_eq!(payloads, expected);

    run(["verify".as_ref(), store.as_os_str()])
        .expect_code(0)
        .expect_stdout_contains(&["ok: 200 commits (200 events)"]);
}
