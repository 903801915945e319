//! `foldstore snapshots`: each model's snapshots, run as the real binary.

mod util;

use std::fs;

use serde_json::json;

use util::{run_on, write_commit, TestDir};

fn snapshot(time: &str, data: &str) -> String {
    format!(r#"{{"headers":{{"time":"{time}"}},"snapshot":{data}}}"#)
}

#[test]
fn snapshots_lists_each_model_with_commit_time_and_size() {
    let dir = TestDir::new();
    let store = dir.join("s");
    for k in 1..=4 {
        write_commit(
            &store,
            k,
            Some("2026-11-27T15:03:30.380Z"),
            json!([{"name": "e"}]),
        );
    }
    let a1 = snapshot("2026-11-27T15:03:31.000Z", r#"{"n":1}"#);
    let a3 = snapshot("2026-11-27T15:03:33.000Z", r#"{"n":3}"#);
    let b4 = snapshot("2026-11-27T15:03:34.000Z", "[1,2,3]");
    fs::write(store.join("1.alpha-snapshot"), &a1).expect("write");
    fs::write(store.join("3.alpha-snapshot"), &a3).expect("write");
    fs::write(store.join("4.beta-snapshot"), &b4).expect("write");

    let outcome = run_on("snapshots", &store, &[]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    let expected = format!(
        "alpha
  COMMIT  TIME                            SIZE
       1  2026-11-27T15:03:31.000Z  {:>10}  3 commits behind
       3  2026-11-27T15:03:33.000Z  {:>10}  1 commit behind

beta
  COMMIT  TIME                            SIZE
       4  2026-11-27T15:03:34.000Z  {:>10}
",
        format!("{} B", a1.len()),
        format!("{} B", a3.len()),
        format!("{} B", b4.len()),
    );
    assert_eq!(outcome.stdout, expected);

    let outcome = run_on("snapshots", &store, &["--json"]);
    outcome.expect_code(0);
    let location = |name: &str| store.join(name).display().to_string();
    assert_eq!(
        outcome.json_lines()[0],
        json!({"models": [
            {"name": "alpha", "snapshots": [
                {"commit": 1, "time": "2026-11-27T15:03:31.000Z", "bytes": a1.len(), "location": location("1.alpha-snapshot"), "has_data": true, "problem": null},
                {"commit": 3, "time": "2026-11-27T15:03:33.000Z", "bytes": a3.len(), "location": location("3.alpha-snapshot"), "has_data": true, "problem": null},
            ]},
            {"name": "beta", "snapshots": [
                {"commit": 4, "time": "2026-11-27T15:03:34.000Z", "bytes": b4.len(), "location": location("4.beta-snapshot"), "has_data": true, "problem": null},
            ]},
        ]})
    );
}

#[test]
fn snapshots_of_a_store_without_any() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(&store, 1, None, json!([{"name": "e"}]));
    let outcome = run_on("snapshots", &store, &[]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "no snapshots\n");
    let outcome = run_on("snapshots", &store, &["--json"]);
    assert_eq!(outcome.json_lines()[0], json!({"models": []}));
}

#[test]
fn snapshots_flags_damaged_empty_and_impossible_snapshots() {
    let dir = TestDir::new();
    let store = dir.join("s");
    for k in 1..=2 {
        write_commit(
            &store,
            k,
            Some("2026-11-27T15:03:30.380Z"),
            json!([{"name": "e"}]),
        );
    }
    // The original package writes snapshots without a `snapshot` member: a warning only.
    fs::write(store.join("1.m-snapshot"), r#"{"headers":{}}"#).expect("write");
    let outcome = run_on("snapshots", &store, &["--json"]);
    outcome.expect_code(0);
    assert_eq!(
        outcome.json_lines()[0]["models"][0]["snapshots"][0]["has_data"],
        false
    );
    run_on("snapshots", &store, &[])
        .expect_code(0)
        .expect_stdout_contains(&["no `snapshot` member"]);

    // Damage and a label beyond the log's end are problems.
    fs::write(store.join("2.m-snapshot"), "garbage").expect("write");
    fs::write(
        store.join("9.m-snapshot"),
        snapshot("2026-11-27T15:03:31.000Z", "1"),
    )
    .expect("write");
    let outcome = run_on("snapshots", &store, &["--json"]);
    outcome.expect_code(1);
    let list = outcome.json_lines()[0]["models"][0]["snapshots"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    assert!(list[1]["problem"]
        .as_str()
        .expect("a problem")
        .contains("not valid JSON"));
    assert!(list[2]["problem"]
        .as_str()
        .expect("a problem")
        .contains("the log ends at commit 2"));
    run_on("snapshots", &store, &[])
        .expect_code(1)
        .expect_stdout_contains(&[&format!(
            "{}: is not valid JSON",
            store.join("2.m-snapshot").display()
        )]);
}

#[test]
fn snapshots_of_the_demo() {
    let dir = TestDir::new();
    let store = dir.join("demo");
    run_on("demo", &store, &[]).expect_code(0);
    let outcome = run_on("snapshots", &store, &["--json"]);
    outcome.expect_code(0);
    let models = &outcome.json_lines()[0]["models"];
    assert_eq!(models[0]["name"], "memberlist");
    assert_eq!(models[0]["snapshots"][0]["commit"], 2);
    assert_eq!(
        models[0]["snapshots"][0]["bytes"],
        fs::metadata(store.join("2.memberlist-snapshot"))
            .expect("the snapshot")
            .len()
    );
}
