//! `--since`, `--until` and `--name` on `foldstore events` and `foldstore log`, and
//! `events --pretty`, run as the real binary.

mod util;

use std::path::PathBuf;

use serde_json::{json, Value};

use util::{
    append, commit_json, events, expected_lines, five_commit_store, logged, run_on, write_commit,
    TestDir,
};

/// A store whose commits have chosen times, out of order at the end, with one commit without a
/// time and one with a time that cannot be read.
fn timed_store(dir: &TestDir) -> PathBuf {
    let store = dir.join("timed");
    let commits: [(Option<&str>, &str); 9] = [
        (Some("2026-11-26T23:59:59.999Z"), "a"),
        (Some("2026-11-27T00:00:00.000Z"), "b"),
        (Some("2026-11-27T15:03:30.000Z"), "c"),
        (Some("2026-11-27T15:03:30.380Z"), "d"),
        (None, "e"),
        (Some("2026-11-27T15:03:31.000Z"), "f"),
        (Some("2026-11-28T00:00:00.000Z"), "g"),
        (Some("not a time"), "h"),
        // Another writer's clock was behind: commits are ordered by number, not by time.
        (Some("2026-11-26T12:00:00.000Z"), "i"),
    ];
    for (index, (time, name)) in commits.into_iter().enumerate() {
        write_commit(
            &store,
            index as u64 + 1,
            time,
            json!([{"name": name, "data": index}, {"name": "tick"}]),
        );
    }
    store
}

#[test]
fn since_and_until_select_commits_by_time() {
    let dir = TestDir::new();
    let store = timed_store(&dir);
    let cases: [(&[&str], &[u64]); 12] = [
        (&[], &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
        // A date starts at midnight UTC...
        (&["--since", "2026-11-27"], &[2, 3, 4, 6, 7]),
        // ...and --until a date includes that whole day.
        (&["--until", "2026-11-27"], &[1, 2, 3, 4, 6, 9]),
        (
            &["--since", "2026-11-27", "--until", "2026-11-27"],
            &[2, 3, 4, 6],
        ),
        // --until a whole second includes the milliseconds of that second.
        (&["--until", "2026-11-27T15:03:30Z"], &[1, 2, 3, 4, 9]),
        (&["--until", "2026-11-27T15:03:30.000Z"], &[1, 2, 3, 9]),
        (&["--since", "2026-11-27T15:03:30.380Z"], &[4, 6, 7]),
        (&["--since", "2026-11-27T15:03:30.381Z"], &[6, 7]),
        // Offsets from UTC.
        (&["--since", "2026-11-27T16:03:30.380+01:00"], &[4, 6, 7]),
        (&["--until", "2026-11-27T10:03:30-05:00"], &[1, 2, 3, 4, 9]),
        // A space for the T and no Z are taken too (UTC).
        (&["--since", "2026-11-27 15:03:31"], &[6, 7]),
        (
            &[
                "--from",
                "3",
                "--to",
                "6",
                "--since",
                "2026-11-27T15:03:30.001Z",
            ],
            &[4, 6],
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(logged(&store, args), expected, "log {args:?}");
        let pairs: Vec<(u64, String)> = expected
            .iter()
            .flat_map(|&n| {
                let name = ["a", "b", "c", "d", "e", "f", "g", "h", "i"][n as usize - 1];
                [(n, name.to_owned()), (n, "tick".to_owned())]
            })
            .collect();
        assert_eq!(events(&store, args), pairs, "events {args:?}");
    }
}

#[test]
fn name_selects_events_and_combines_with_time() {
    let dir = TestDir::new();
    let store = timed_store(&dir);
    assert_eq!(
        events(&store, &["--name", "c", "--name", "f"]),
        [(3, "c".to_owned()), (6, "f".to_owned())]
    );
    assert_eq!(
        events(&store, &["--name", "tick", "--since", "2026-11-28"]),
        [(7, "tick".to_owned())]
    );
    assert_eq!(events(&store, &["--name", "nothing"]), []);
    assert_eq!(logged(&store, &["--name", "e"]), [5]);
    assert_eq!(
        logged(&store, &["--name", "e", "--since", "2026-01-01"]),
        [0u64; 0]
    );
    // Names follow the original's rule: the first letter's case does not count, the rest's does.
    assert_eq!(events(&store, &["--name", "C"]), [(3, "c".to_owned())]);
    assert_eq!(logged(&store, &["--name", "E"]), [5]);
    assert_eq!(events(&store, &["--name", "tICK"]), []);
}

#[test]
fn a_bad_time_is_a_command_line_mistake() {
    let dir = TestDir::new();
    let store = timed_store(&dir);
    for verb in ["events", "log"] {
        for (flag, bad) in [
            ("--since", "yesterday"),
            ("--until", "2026-13-01"),
            ("--since", "2026-11-27T15:03:30+2"),
            ("--since", "2 fortnights"),
            ("--until", ""),
        ] {
            let outcome = run_on(verb, &store, &[flag, bad]);
            outcome.expect_code(2).expect_stderr_contains(&[
                flag,
                "2026-11-27T15:03:30Z",
                "2026-11-27",
            ]);
            assert_eq!(outcome.stdout, "", "{verb} {flag} {bad:?}");
        }
    }
}

#[test]
fn pretty_events_are_indented_json_with_the_same_content() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run_on("events", &store, &["--pretty"]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    let expected = expected_lines(&store);
    // Not a terminal: no colors, exactly serde_json's pretty form, one value after another.
    let text: String = expected
        .iter()
        .map(|line| serde_json::to_string_pretty(line).expect("JSON") + "\n")
        .collect();
    assert_eq!(outcome.stdout, text);
    let values: Vec<Value> = serde_json::Deserializer::from_str(&outcome.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("a stream of JSON values");
    assert_eq!(values, expected);

    // Filters apply to --pretty too.
    let outcome = run_on("events", &store, &["--pretty", "--name", "moved"]);
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout,
        serde_json::to_string_pretty(&expected[1]).expect("JSON") + "\n"
    );
}

#[test]
fn events_keep_their_json_lines_without_filters() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run_on("events", &store, &[]);
    outcome.expect_code(0);
    assert_eq!(outcome.json_lines(), expected_lines(&store));
    // A time window wide enough for every commit changes nothing.
    let outcome = run_on(
        "events",
        &store,
        &["--since", "2000-01-01", "--until", "2999-12-31"],
    );
    outcome.expect_code(0);
    assert_eq!(outcome.json_lines(), expected_lines(&store));
}

#[test]
fn exact_names_match_only_the_spelling_given() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(&store, 1, None, json!([{"name": "memberHasMoved"}]));
    write_commit(&store, 2, None, json!([{"name": "MemberHasMoved"}]));
    write_commit(&store, 3, None, json!([{"name": "other"}]));
    let moved = |commit: u64, name: &str| (commit, name.to_owned());
    // Through the index (a name given), and commit by commit (following).
    assert_eq!(
        events(&store, &["--name", "memberHasMoved"]),
        [moved(1, "memberHasMoved"), moved(2, "MemberHasMoved")]
    );
    assert_eq!(
        events(&store, &["--name", "memberHasMoved", "--exact-names"]),
        [moved(1, "memberHasMoved")]
    );
    assert_eq!(
        events(
            &store,
            &["--name", "MemberHasMoved", "--exact-names", "-f", "-n", "1"]
        ),
        [moved(2, "MemberHasMoved")]
    );
    let commits = |args: &[&str]| -> Vec<u64> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let outcome = run_on("log", &store, &all);
        outcome.expect_code(0);
        outcome
            .json_lines()
            .iter()
            .map(|line| line["commit"].as_u64().expect("a number"))
            .collect()
    };
    assert_eq!(commits(&["--name", "memberHasMoved"]), [1, 2]);
    assert_eq!(commits(&["--name", "MemberHasMoved", "--exact-names"]), [2]);
    run_on("log", &store, &["--exact-names"])
        .expect_code(2)
        .expect_stderr_contains(&["--name"]);
}

#[test]
fn relative_times_count_back_from_now() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(
        &store,
        1,
        Some("2020-01-01T00:00:00.000Z"),
        json!([{"name": "old"}]),
    );
    // Written now.
    append(&store, &["new"]);
    for (args, expected) in [
        (&["--since", "1h"][..], &[2u64][..]),
        (&["--since", "30m ago"], &[2]),
        (&["--until", "1d"], &[1]),
        (&["--since", "52w", "--until", "1m"], &[]),
    ] {
        assert_eq!(logged(&store, args), expected, "log {args:?}");
        let events: Vec<u64> = events(&store, args).iter().map(|(n, _)| *n).collect();
        assert_eq!(events, expected, "events {args:?}");
    }
}

#[test]
fn append_header_adds_headers_and_header_selects_commits_by_them() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(
        &store,
        &["a", "--header", "user=arjan", "--header", "host=web-2"],
    );
    append(&store, &["b", "--header", "user=marit", "--tag", "t"]);
    append(
        &store,
        &["c", "--header", "user=arjan", "--header", "note=a=b"],
    );
    write_commit(&store, 4, None, json!([{"name": "d"}]));
    // A header that is not a string, written by another program.
    std::fs::write(
        store.join("5.log"),
        r#"{"headers":{"user":"arjan","n":5},"events":[{"name":"e"}]}"#,
    )
    .expect("write commit 5");
    let headers = commit_json(&store, 1)["headers"].clone();
    assert_eq!(headers["user"], "arjan");
    assert_eq!(headers["host"], "web-2");
    assert!(headers["time"].is_string(), "{headers}");
    assert_eq!(commit_json(&store, 3)["headers"]["note"], "a=b");
    assert_eq!(logged(&store, &["--header", "user=arjan"]), [1, 3, 5]);
    assert_eq!(
        logged(
            &store,
            &["--header", "user=arjan", "--header", "host=web-2"]
        ),
        [1]
    );
    assert_eq!(logged(&store, &["--header", "n=5"]), [5]);
    assert_eq!(logged(&store, &["--header", "user="]), [0u64; 0]);
    assert_eq!(
        events(&store, &["--header", "user=arjan"]),
        [
            (1, "a".to_owned()),
            (3, "c".to_owned()),
            (5, "e".to_owned())
        ]
    );
    // Through the index (--tag), too.
    assert_eq!(
        events(&store, &["--tag", "t", "--header", "user=marit"]),
        [(2, "b".to_owned())]
    );
    assert_eq!(
        events(&store, &["--tag", "t", "--header", "user=arjan"]),
        []
    );
    // Bad headers are command-line mistakes; commitId is foldstore's own.
    for (verb, args) in [
        ("append", &["x", "--header", "user"][..]),
        ("append", &["x", "--header", "=v"]),
        ("append", &["x", "--header", "commitId=1"]),
        ("log", &["--header", "user"]),
    ] {
        run_on(verb, &store, args)
            .expect_code(2)
            .expect_stderr_contains(&["--header"]);
    }
    assert!(!store.join("6.log").exists());
}
