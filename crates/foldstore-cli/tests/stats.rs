//! `foldstore stats`: what a store holds, counted, run as the real binary.

mod util;

use std::fs;
use std::path::Path;

use serde_json::json;

use util::{commit_time, five_commit_store, run_on, write_commit, TestDir};

fn size(path: &Path) -> u64 {
    fs::metadata(path).expect("a file").len()
}

fn commit_bytes(store: &Path, numbers: impl IntoIterator<Item = u64>) -> u64 {
    numbers
        .into_iter()
        .map(|n| size(&store.join(format!("{n}.log"))))
        .sum()
}

const SNAPSHOT: &str =
    r#"{"headers":{"time":"2026-11-27T15:03:31.000Z"},"snapshot":{"members":3}}"#;

#[test]
fn stats_json_counts_everything() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    fs::write(store.join("2.members-snapshot"), SNAPSHOT).expect("write a snapshot");
    fs::write(store.join("5.other-snapshot"), SNAPSHOT).expect("write a snapshot");
    fs::write(store.join("notes.txt"), "not part of the store").expect("write notes.txt");
    let outcome = run_on("stats", &store, &["--json"]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    let report = &outcome.json_lines()[0];
    let snapshot_bytes = 2 * SNAPSHOT.len() as u64;
    assert_eq!(
        *report,
        json!({
            "store": store.display().to_string(),
            "tip": 5,
            "commits": 5,
            "events": 6,
            "events_by_name": {"a": 1, "b": 1, "hello": 1, "moved": 1, "nothing": 1, "text": 1},
            "name_spellings": {},
            "bytes": commit_bytes(&store, 1..=5),
            "first": {"commit": 1, "time": commit_time(&store, 1)},
            "last": {"commit": 5, "time": commit_time(&store, 5)},
            "untimed_commits": 0,
            "snapshots": {
                "count": 2,
                "bytes": snapshot_bytes,
                "by_model": {"members": 1, "other": 1},
                "damaged": 0,
            },
            "problems": [],
        })
    );
}

#[test]
fn stats_orders_names_by_count_and_counts_untimed_commits() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(&store, 1, None, json!([{"name": "b"}, {"name": "a"}]));
    write_commit(
        &store,
        2,
        Some("2026-11-27T15:03:30.380Z"),
        json!([{"name": "b"}, {"name": "c"}, {"name": "c"}]),
    );
    write_commit(&store, 3, Some("not a time"), json!([{"name": "c"}]));
    write_commit(
        &store,
        4,
        Some("2026-11-27T15:04:00.000Z"),
        json!([{"name": "d"}]),
    );
    let outcome = run_on("stats", &store, &["--json"]);
    outcome.expect_code(0);
    let report = &outcome.json_lines()[0];
    let names: Vec<(&String, &serde_json::Value)> = report["events_by_name"]
        .as_object()
        .expect("an object")
        .iter()
        .collect();
    assert_eq!(
        names,
        [
            (&"c".to_owned(), &json!(3)),
            (&"b".to_owned(), &json!(2)),
            (&"a".to_owned(), &json!(1)),
            (&"d".to_owned(), &json!(1)),
        ]
    );
    assert_eq!(
        report["first"],
        json!({"commit": 2, "time": "2026-11-27T15:03:30.380Z"})
    );
    assert_eq!(
        report["last"],
        json!({"commit": 4, "time": "2026-11-27T15:04:00.000Z"})
    );
    assert_eq!(report["untimed_commits"], 2);

    let text = run_on("stats", &store, &[]);
    text.expect_code(0);
    let expected = format!(
        "store      {}
commits    4  {} B
events     7
first      2026-11-27T15:03:30.380Z  commit 2
last       2026-11-27T15:04:00.000Z  commit 4
untimed    2 commits without a readable time
snapshots  0
events by name
  3  c
  2  b
  1  a
  1  d
",
        store.display(),
        commit_bytes(&store, 1..=4)
    );
    assert_eq!(text.stdout, expected);
}

#[test]
fn stats_of_an_empty_store() {
    let dir = TestDir::new();
    let store = dir.join("empty");
    fs::create_dir(&store).expect("create a folder");
    let outcome = run_on("stats", &store, &["--json"]);
    outcome.expect_code(0);
    let report = &outcome.json_lines()[0];
    assert_eq!(report["commits"], 0);
    assert_eq!(report["first"], json!(null));
    assert_eq!(report["last"], json!(null));
    assert_eq!(report["events_by_name"], json!({}));
    let text = run_on("stats", &store, &[]);
    text.expect_code(0);
    assert!(
        text.stdout.contains("commits    0  0 B\n"),
        "{}",
        text.stdout
    );
}

#[test]
fn stats_reports_damage_and_fails() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let two = store.join("2.log");
    fs::write(&two, "{\"events\": [{\"nom\": 1}]}").expect("damage 2.log");
    fs::remove_file(store.join("4.log")).expect("remove 4.log");
    let outcome = run_on("stats", &store, &["--json"]);
    outcome.expect_code(1);
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
    let report = &outcome.json_lines()[0];
    // The sound commits are counted; the damage is listed with where it is.
    assert_eq!(report["commits"], 3);
    assert_eq!(report["events"], 3);
    let problems = report["problems"].as_array().expect("an array");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0]["location"], two.display().to_string());
    assert!(problems[0]["problem"]
        .as_str()
        .expect("text")
        .contains("has no `name`"));
    assert_eq!(
        problems[1]["location"],
        store.join("4.log").display().to_string()
    );
    assert!(problems[1]["problem"]
        .as_str()
        .expect("text")
        .contains("gap"));

    let text = run_on("stats", &store, &[]);
    text.expect_code(1).expect_stdout_contains(&[
        "2 problems found",
        &format!("  {}: ", two.display()),
        "foldstore verify",
    ]);
}

#[test]
fn stats_counts_names_by_the_first_letter_rule_unless_exact() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(
        &store,
        1,
        None,
        json!([{"name": "memberHasMoved"}, {"name": "MemberHasMoved"}, {"name": "memberHasMoved"}]),
    );
    write_commit(
        &store,
        2,
        None,
        json!([{"name": "other"}, {"name": "MemberHasmoved"}]),
    );
    let outcome = run_on("stats", &store, &["--json"]);
    outcome.expect_code(0);
    let report = &outcome.json_lines()[0];
    assert_eq!(
        report["events_by_name"],
        json!({"memberHasMoved": 3, "MemberHasmoved": 1, "other": 1})
    );
    assert_eq!(
        report["name_spellings"],
        json!({"memberHasMoved": {"MemberHasMoved": 1, "memberHasMoved": 2}})
    );
    let text = run_on("stats", &store, &[]);
    text.expect_code(0).expect_stdout_contains(&[
        "  3  memberHasMoved  (written MemberHasMoved 1, memberHasMoved 2)\n",
        "  1  other\n",
    ]);

    let exact = run_on("stats", &store, &["--json", "--exact-names"]);
    exact.expect_code(0);
    let report = &exact.json_lines()[0];
    assert_eq!(
        report["events_by_name"],
        json!({"memberHasMoved": 2, "MemberHasMoved": 1, "MemberHasmoved": 1, "other": 1})
    );
    assert_eq!(report["name_spellings"], json!({}));
}

#[test]
fn stats_by_hour_and_day_counts_commits_by_their_time() {
    let dir = TestDir::new();
    let store = dir.join("timed");
    let commits: [(Option<&str>, usize); 5] = [
        (Some("2026-11-26T23:59:59.999Z"), 1),
        (Some("2026-11-27T00:00:00.000Z"), 2),
        (Some("2026-11-27T00:59:00.000Z"), 3),
        (None, 1),
        (Some("2026-11-27T15:03:30.380Z"), 0),
    ];
    for (index, (time, events)) in commits.into_iter().enumerate() {
        let events: Vec<serde_json::Value> = (0..events)
            .map(|_| serde_json::json!({"name": "e"}))
            .collect();
        util::write_commit(
            &store,
            index as u64 + 1,
            time,
            serde_json::Value::Array(events),
        );
    }
    let by_day = util::run_on("stats", &store, &["--by", "day"]);
    by_day.expect_code(0);
    assert_eq!(
        by_day.stdout,
        "DAY (UTC)   COMMITS     EVENTS\n\
         2026-11-26        1          1\n\
         2026-11-27        3          5\n\
         1 commit without a readable time\n"
    );
    let by_hour = util::run_on("stats", &store, &["--by", "hour"]);
    by_hour.expect_code(0);
    assert_eq!(
        by_hour.stdout,
        "HOUR (UTC)         COMMITS     EVENTS\n\
         2026-11-26T23:00Z        1          1\n\
         2026-11-27T00:00Z        2          5\n\
         2026-11-27T15:00Z        1          0\n\
         1 commit without a readable time\n"
    );
    let json = util::run_on("stats", &store, &["--by", "hour", "--json"]);
    json.expect_code(0);
    assert_eq!(
        json.json_lines(),
        [serde_json::json!({
            "by": "hour",
            "buckets": [
                {"start": "2026-11-26T23:00:00Z", "commits": 1, "events": 1},
                {"start": "2026-11-27T00:00:00Z", "commits": 2, "events": 5},
                {"start": "2026-11-27T15:00:00Z", "commits": 1, "events": 0},
            ],
            "untimed_commits": 1,
            "problems": [],
        })]
    );
    util::run_on("stats", &store, &["--by", "week"]).expect_code(2);
    // Damage is still reported, with status 1.
    std::fs::write(store.join("6.log"), "{").expect("write");
    util::run_on("stats", &store, &["--by", "day"])
        .expect_code(1)
        .expect_stdout_contains(&["1 problem found", "6.log"]);
}

/// A damaged snapshot is counted apart, as `verify` and `snapshots` judge it, and makes
/// `stats` exit with `verify`'s status for the same store.
#[test]
fn stats_counts_damaged_snapshots_apart_and_fails_like_verify() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    fs::write(store.join("2.members-snapshot"), SNAPSHOT).expect("write a snapshot");
    fs::write(store.join("3.members-snapshot"), "{bad").expect("write a damaged snapshot");
    // Labelled beyond the log's last commit (5).
    fs::write(store.join("9.other-snapshot"), SNAPSHOT).expect("write a snapshot");
    let verify = run_on("verify", &store, &[]);
    verify.expect_code(1);
    let outcome = run_on("stats", &store, &["--json"]);
    outcome.expect_code(1);
    let report = &outcome.json_lines()[0];
    assert_eq!(
        report["snapshots"],
        json!({
            "count": 1,
            "bytes": SNAPSHOT.len(),
            "by_model": {"members": 1},
            "damaged": 2,
        })
    );
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|p| p["location"].as_str().expect("a location"))
        .collect();
    let three = store.join("3.members-snapshot").display().to_string();
    let nine = store.join("9.other-snapshot").display().to_string();
    assert_eq!(problems, [three.as_str(), nine.as_str()]);
    assert!(report["problems"][1]["problem"]
        .as_str()
        .expect("a problem")
        .contains("the log ends at commit 5"));
    run_on("stats", &store, &[])
        .expect_code(1)
        .expect_stdout_contains(&[
            "snapshots  1 ",
            "(and 2 damaged, listed below)",
            "2 problems found",
            "3.members-snapshot: is not valid JSON",
        ]);
    // The same store with the damaged snapshots gone: sound for both.
    fs::remove_file(store.join("3.members-snapshot")).expect("remove");
    fs::remove_file(store.join("9.other-snapshot")).expect("remove");
    run_on("verify", &store, &[]).expect_code(0);
    run_on("stats", &store, &[]).expect_code(0);
}
