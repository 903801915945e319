//! `append`: an event from the command line, or every line of standard input, one commit each; and
//! the command line's mistakes.

use std::ffi::OsStr;

use serde_json::{json, Value};

use crate::util::{
    append, commit_json, commit_names, commit_text, commit_time, event_names, file_names, run,
    run_on, run_with_stdin, write_commit, TestDir,
};

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
// Event names the original package cannot dispatch
// ---------------------------------------------------------------------------------------------

/// Names the original package cannot dispatch: it upper-cases the first letter to find the
/// handler, and crashes on an empty name.
const UNDISPATCHABLE: [&str; 5] = ["", " ", "  moved", "\tx", "\u{1b}[2J"];

#[test]
fn append_refuses_a_name_the_original_cannot_dispatch_with_status_2() {
    let dir = TestDir::new();
    let missing = dir.join("new");
    let store = dir.join("s");
    append(&store, &["ok"]);
    for name in UNDISPATCHABLE {
        for (target, data) in [(&missing, None), (&store, Some("{}"))] {
            let mut args: Vec<&OsStr> = vec!["append".as_ref(), target.as_os_str(), name.as_ref()];
            args.extend(data.map(OsStr::new));
            let outcome = run(args);
            outcome
                .expect_code(2)
                .expect_stderr_contains(&[&format!("{name:?}"), "first letter upper-cased"]);
            assert_eq!(outcome.stdout, "", "{name:?}");
        }
        assert!(!missing.exists(), "{name:?} created the folder");
        assert_eq!(file_names(&store), commit_names(1), "{name:?}");
    }
    // A name with a first letter is written, whatever follows it.
    assert_eq!(append(&store, &["a b"]), 2);
}

#[test]
fn append_stdin_refuses_a_name_the_original_cannot_dispatch() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(&store, &["ok"]);
    for name in UNDISPATCHABLE {
        let input = format!(
            "{{\"name\": \"a\"}}\n{}\n",
            json!({"name": name, "data": 1})
        );
        let outcome = run_with_stdin(
            ["append".as_ref(), store.as_os_str(), "--stdin".as_ref()],
            &input,
        );
        outcome.expect_code(1).expect_stderr_contains(&[
            "line 2",
            &format!("{name:?}"),
            "first letter upper-cased",
            "nothing was written",
        ]);
        assert_eq!(file_names(&store), commit_names(1), "{name:?}");
    }
}

#[test]
fn commits_holding_such_names_are_still_read() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(
        &store,
        1,
        Some("2026-11-27T15:03:30.380Z"),
        json!([{"name": "", "data": 1}, {"name": " "}]),
    );
    assert_eq!(event_names(&store), [json!(""), json!(" ")]);
    run_on("show", &store, &["1"])
        .expect_code(0)
        .expect_stdout_contains(&["#1 \n  1\n", "#2  \n  (no data)"]);
    assert_eq!(
        run_on("log", &store, &["--json"]).json_lines()[0]["events"],
        json!(["", " "])
    );
    run_on("verify", &store, &[]).expect_code(0);
    // And the store takes new commits after them.
    assert_eq!(append(&store, &["next"]), 2);
}

/// `append --stdin` on a terminal says how to end the input; run under `script`, which gives
/// it one.
#[cfg(target_os = "linux")]
#[test]
fn append_stdin_on_a_terminal_says_how_to_end_the_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let dir = TestDir::new();
    let store = dir.join("s");
    let command = format!(
        "'{}' append '{}' --stdin",
        crate::util::FOLDSTORE,
        store.display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script(1) from util-linux, which gives foldstore a terminal");
    let mut input = child.stdin.take().expect("stdin");
    // An event, then Ctrl-D at the start of a line: the end of the input on a terminal.
    input.write_all(b"{\"name\": \"typed\"}\n").expect("type");
    std::thread::sleep(std::time::Duration::from_millis(300));
    input.write_all(b"\x04").expect("type Ctrl-D");
    let output = child.wait_with_output().expect("wait for script");
    drop(input);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("end with Ctrl-D"), "{shown}");
    assert_eq!(commit_json(&store, 1)["events"], json!([{"name": "typed"}]));
}
