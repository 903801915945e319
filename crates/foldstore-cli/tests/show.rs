//! `foldstore show`: one commit, run as the real binary.

mod util;

use std::fs;

use serde_json::{json, Value};

use util::{commit_json, five_commit_store, one_commit_store, run, run_on, TestDir};

#[test]
fn show_prints_the_file_headers_and_every_event() {
    let dir = TestDir::new();
    let store = one_commit_store(&dir, "2026-11-27T15:03:29.001Z", json!([{"name": "first"}]));
    let document = r#"{"headers":{"time":"2026-11-27T15:03:30.380Z","user":"arjan","n":7},"events":[{"name":"memberHasMoved","data":{"name":"peter pan","address":{"street":"x","n":[1,2]}}},{"name":"heartbeat"},{"name":"nothing","data":null,"source":"import"}]}"#;
    fs::write(store.join("2.log"), document).expect("write 2.log");
    let outcome = run_on("show", &store, &["2"]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    let expected = format!(
        r#"commit 2  {}, {} B, 3 events
  time: 2026-11-27T15:03:30.380Z
  user: arjan
  n:    7

#1 memberHasMoved
  {{
    "name": "peter pan",
    "address": {{
      "street": "x",
      "n": [
        1,
        2
      ]
    }}
  }}

#2 heartbeat
  (no data)

#3 nothing
  null
  source: "import"
"#,
        store.join("2.log").display(),
        document.len()
    );
    assert_eq!(outcome.stdout, expected);
}

#[test]
fn show_json_prints_the_commit_document() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    for n in 1..=5 {
        let outcome = run_on("show", &store, &[&n.to_string(), "--json"]);
        outcome.expect_code(0);
        assert_eq!(outcome.stdout.lines().count(), 1, "one line");
        let lines = outcome.json_lines();
        assert_eq!(lines[0], commit_json(&store, n), "commit {n}");
        let keys: Vec<&str> = lines[0]
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["headers", "events"]);
    }
    // Absent data stays absent, null stays null.
    let one = &run_on("show", &store, &["1", "--json"]).json_lines()[0];
    assert!(one["events"][0].get("data").is_none());
    let three = &run_on("show", &store, &["3", "--json"]).json_lines()[0];
    assert_eq!(three["events"][0].get("data"), Some(&Value::Null));
}

#[test]
fn show_out_of_range_says_where_the_log_ends() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    for n in ["6", "99"] {
        let outcome = run_on("show", &store, &[n]);
        outcome.expect_code(1).expect_stderr_contains(&[
            &format!("commit {n} does not exist"),
            "the log ends at commit 5",
        ]);
        assert_eq!(outcome.stdout, "");
    }
    for zero in ["0", "-0"] {
        run_on("show", &store, &[zero])
            .expect_code(2)
            .expect_stderr_contains(&["commit numbers start at 1", "last"]);
    }
    for bad in ["x", "1.5", "lastt", "-x1", "--1"] {
        run_on("show", &store, &[bad])
            .expect_code(2)
            .expect_stderr_contains(&["<N>"]);
    }
    let store = store.to_str().expect("UTF-8");
    run(["show", store]).expect_code(2);
}

#[test]
fn show_names_a_missing_or_damaged_commit() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let two = store.join("2.log");
    fs::write(&two, "not json").expect("damage 2.log");
    let outcome = run_on("show", &store, &["2"]);
    outcome.expect_code(1).expect_stderr_contains(&[
        "commit 2",
        &two.display().to_string(),
        "not valid JSON",
        "foldstore verify",
    ]);
    assert_eq!(outcome.stdout, "");
    run_on("show", &store, &["2", "--json"]).expect_code(1);

    fs::remove_file(&two).expect("remove 2.log");
    run_on("show", &store, &["2"])
        .expect_code(1)
        .expect_stderr_contains(&["commit 2", &two.display().to_string(), "gap"]);
    // The commits around it are still shown.
    run_on("show", &store, &["3"]).expect_code(0);
}

#[test]
fn show_colors_only_when_asked_or_on_a_terminal() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let plain = run_on("show", &store, &["2"]);
    plain.expect_code(0);
    assert!(!plain.stdout.contains('\u{1b}'), "{:?}", plain.stdout);
    let colored = run([
        "--color".as_ref(),
        "always".as_ref(),
        "show".as_ref(),
        store.as_os_str(),
        "2".as_ref(),
    ]);
    colored.expect_code(0);
    assert!(colored.stdout.contains("\u{1b}["), "{:?}", colored.stdout);
    // Without the escapes, the colored text is the plain one.
    assert_eq!(util::strip_ansi(&colored.stdout), plain.stdout);
}

#[test]
fn show_last_and_counts_from_the_end() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let shown = |commit: &str| {
        let outcome = run_on("show", &store, &[commit, "--json"]);
        outcome.expect_code(0);
        outcome.json_lines()[0].clone()
    };
    assert_eq!(shown("last"), commit_json(&store, 5));
    assert_eq!(shown("-1"), commit_json(&store, 5));
    assert_eq!(shown("-2"), commit_json(&store, 4));
    assert_eq!(shown("-5"), commit_json(&store, 1));
    let table = run_on("show", &store, &["last"]);
    table.expect_code(0);
    assert!(table.stdout.starts_with("commit 5  "), "{}", table.stdout);
    for (store, commit, words) in [
        (
            store.clone(),
            "-6",
            "there is no commit -6: the log holds 5 commits",
        ),
        (
            dir.join("empty"),
            "last",
            "there is no commit -1: the log holds 0 commits",
        ),
    ] {
        fs::create_dir_all(&store).expect("create the folder");
        let outcome = run_on("show", &store, &[commit]);
        outcome.expect_code(1).expect_stderr_contains(&[words]);
        assert_eq!(outcome.stdout, "");
    }
}

/// `show A..B`, `A..`, `..B`, with ends counted from the end: the commits `log --from A
/// --to B` lists, each shown whole, in order.
#[test]
fn show_ranges_cover_what_log_from_to_covers() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let shown = |range: &str| {
        let outcome = run_on("show", &store, &[range, "--json"]);
        outcome.expect_code(0);
        outcome.json_lines()
    };
    let commits = |numbers: std::ops::RangeInclusive<u64>| -> Vec<Value> {
        numbers.map(|n| commit_json(&store, n)).collect()
    };
    let logged = |args: &[&str]| -> Vec<u64> {
        let outcome = run_on("log", &store, &[args, &["--json"]].concat());
        outcome.expect_code(0);
        outcome
            .json_lines()
            .iter()
            .map(|line| line["commit"].as_u64().expect("a number"))
            .collect()
    };
    assert_eq!(shown("2..4"), commits(2..=4));
    assert_eq!(logged(&["--from", "2", "--to", "4"]), [2, 3, 4]);
    assert_eq!(shown("3.."), commits(3..=5));
    assert_eq!(shown("..2"), commits(1..=2));
    assert_eq!(shown(".."), commits(1..=5));
    assert_eq!(shown("4..4"), commits(4..=4));
    assert_eq!(shown("-2..last"), commits(4..=5));
    assert_eq!(shown("2..-2"), commits(2..=4));
    // Cut at the ends, as log cuts --to: beyond the end, and counted back beyond the start.
    assert_eq!(shown("4..99"), commits(4..=5));
    assert_eq!(logged(&["--from", "4", "--to", "99"]), [4, 5]);
    assert_eq!(shown("-20..2"), commits(1..=2));
    // The commit after the end starts an empty range, as --from does; beyond it, an error.
    assert_eq!(shown("6.."), Vec::<Value>::new());
    assert_eq!(logged(&["--from", "6"]), Vec::<u64>::new());
    for (range, args) in [("7..", ["--from", "7"]), ("9..12", ["--from", "9"])] {
        let show = run_on("show", &store, &[range]);
        show.expect_code(1)
            .expect_stderr_contains(&["the log ends at commit 5"]);
        run_on("log", &store, &args).expect_code(1);
    }
    // People read each commit whole, a blank line between two.
    let text = run_on("show", &store, &["2..3"]);
    text.expect_code(0);
    let two = run_on("show", &store, &["2"]).stdout;
    let three = run_on("show", &store, &["3"]).stdout;
    assert_eq!(text.stdout, format!("{two}\n{three}"));
}

/// Backwards ranges, a bad end and `--raw` with a range are mistakes on the command line
/// (status 2), as `log --from 5 --to 3` is.
#[test]
fn show_refuses_bad_ranges_with_status_2() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    run_on("log", &store, &["--from", "4", "--to", "2"]).expect_code(2);
    for (args, words) in [
        (&["4..2"][..], "is backwards"),
        (&["-1..-3"], "before its start"),
        (&["x..3"], "\"x\" is not a commit"),
        (&["0..3"], "commit numbers start at 1"),
        (&["1..3", "--raw"], "--raw shows one commit"),
        (&["--bogus"], "neither an option of show"),
    ] {
        let outcome = run_on("show", &store, args);
        outcome.expect_code(2).expect_stderr_contains(&[words]);
        assert_eq!(outcome.stdout, "", "{args:?}");
    }
}
