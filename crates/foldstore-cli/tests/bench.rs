//! `foldstore bench`: the JSON it prints and the stores it makes, run as the real binary on
//! modest sizes. How fast anything is is not checked here: that is what the benchmark reports.

mod util;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use util::{file_names, run, run_on, TestDir};

/// Runs `foldstore bench ARGS...`, expects success and nothing on standard error (it is not a
/// terminal), and returns the one JSON object printed.
#[track_caller]
fn bench(args: &[&str]) -> Value {
    let outcome = run(["bench"].iter().chain(args));
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "", "bench wrote to stderr off a terminal");
    let mut lines = outcome.json_lines();
    assert_eq!(lines.len(), 1, "one JSON object: {}", outcome.stdout);
    lines.remove(0)
}

/// Checks the figures of a report (present, finite, consistent with each other) and returns
/// the report without them.
#[track_caller]
fn without_figures(mut report: Value) -> Value {
    let object = report.as_object_mut().expect("an object");
    let seconds = object
        .shift_remove("elapsed_seconds")
        .expect("elapsed_seconds");
    let commits_per_second = object
        .shift_remove("commits_per_second")
        .expect("commits_per_second");
    let events_per_second = object
        .shift_remove("events_per_second")
        .expect("events_per_second");
    let [seconds, commits_per_second, events_per_second] =
        [seconds, commits_per_second, events_per_second].map(|v| v.as_f64().expect("a number"));
    assert!(seconds > 0.0 && seconds.is_finite(), "{seconds}");
    let commits = object["commits"].as_f64().expect("commits");
    let events = object["events"].as_f64().expect("events");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs());
    assert!(
        close(commits_per_second, commits / seconds),
        "{commits_per_second}"
    );
    assert!(
        close(events_per_second, events / seconds),
        "{events_per_second}"
    );
    report
}

/// `foldstore verify --json` of `store`, expected sound.
#[track_caller]
fn verified(store: &Path) -> Value {
    let outcome = run_on("verify", store, &["--json"]);
    outcome.expect_code(0);
    outcome.json_lines().remove(0)
}

fn member_has_moved(index: u64) -> Value {
    json!({
        "name": "memberHasMoved",
        "data": {"name": format!("member {index}"), "address": {"street": format!("{index} Rykkinnveien"), "city": "Rykkinn"}},
    })
}

#[test]
fn append_from_several_writers_into_a_folder_makes_a_sound_store() {
    let dir = TestDir::new();
    let store = dir.join("bench-store");
    let report = bench(&[
        "append",
        "--commits",
        "300",
        "--events-per-commit",
        "2",
        "--writers",
        "3",
        "--durability",
        "none",
        "--dir",
        store.to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(
        without_figures(report),
        json!({
            "workload": "append",
            "layout": "loose",
            "store": store.display().to_string(),
            "kept": true,
            "commits": 300,
            "events_per_commit": 2,
            "events": 600,
            "writers": 3,
            "durability": "none",
            "chain": false,
        })
    );
    let report = verified(&store);
    assert_eq!(
        (report["tip"].clone(), report["events"].clone()),
        (json!(300), json!(600))
    );
    assert_eq!(report["warnings"], json!([]));

    // Every commit holds two consecutive events of the workload, each written once.
    let mut seen = Vec::new();
    for k in 1..=300 {
        let text = fs::read_to_string(store.join(format!("{k}.log"))).expect("a commit");
        let commit: Value = serde_json::from_str(&text).expect("JSON");
        let events = commit["events"].as_array().expect("events").clone();
        assert_eq!(events.len(), 2, "{text}");
        let first = events[0]["data"]["name"].as_str().expect("a name");
        let index: u64 = first
            .strip_prefix("member ")
            .expect("member N")
            .parse()
            .expect("N");
        assert_eq!(
            events,
            [member_has_moved(index), member_has_moved(index + 1)]
        );
        seen.push(index);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..300).map(|c| 2 * c).collect::<Vec<_>>());
}

#[test]
fn chained_appends_from_several_writers_make_one_chain() {
    let dir = TestDir::new();
    let store = dir.join("chained");
    let report = bench(&[
        "append",
        "--commits",
        "120",
        "--writers",
        "3",
        "--durability",
        "none",
        "--layout",
        "journal",
        "--chain",
        "--dir",
        store.to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(report["chain"], true);
    let outcome = run_on("verify", &store, &["--chain", "--json"]);
    outcome.expect_code(0);
    let chain = &outcome.json_lines()[0]["chain"];
    assert_eq!(
        (chain["started"].clone(), chain["chained"].clone()),
        (json!(1), json!(120))
    );
}

#[test]
fn append_with_syncs_into_a_temporary_folder_removes_it() {
    let report = bench(&["append", "--commits", "200"]);
    let store = report["store"].as_str().expect("store").to_owned();
    assert_eq!(
        without_figures(report),
        json!({
            "workload": "append",
            "layout": "loose",
            "store": store,
            "kept": false,
            "commits": 200,
            "events_per_commit": 1,
            "events": 200,
            "writers": 1,
            "durability": "immediate",
            "chain": false,
        })
    );
    assert!(!Path::new(&store).exists(), "{store} was not removed");
}

#[test]
fn replay_of_a_store_it_makes() {
    let report = bench(&["replay", "--commits", "500", "--events-per-commit", "3"]);
    let store = report["store"].as_str().expect("store").to_owned();
    assert_eq!(
        without_figures(report),
        json!({
            "workload": "replay",
            "layout": "loose",
            "store": store,
            "kept": false,
            "made": true,
            "commits": 500,
            "events_per_commit": 3,
            "events": 1500,
        })
    );
    assert!(!Path::new(&store).exists(), "{store} was not removed");
}

#[test]
fn replay_of_an_existing_store_leaves_it_as_it_was() {
    let dir = TestDir::new();
    let store = dir.join("s");
    bench(&[
        "append",
        "--commits",
        "400",
        "--durability",
        "none",
        "--dir",
        store.to_str().expect("a UTF-8 path"),
    ]);
    let before = file_names(&store);
    let report = bench(&["replay", store.to_str().expect("a UTF-8 path")]);
    assert_eq!(
        without_figures(report),
        json!({
            "workload": "replay",
            "layout": "loose",
            "store": store.display().to_string(),
            "kept": true,
            "made": false,
            "commits": 400,
            "events_per_commit": null,
            "events": 400,
        })
    );
    assert_eq!(file_names(&store), before);
    verified(&store);
}

#[test]
fn wrong_parameters_are_refused_before_anything_is_written() {
    let dir = TestDir::new();
    let full = dir.join("full");
    fs::create_dir(&full).expect("create a folder");
    fs::write(full.join("notes.txt"), "mine").expect("write a file");
    let outcome = run([
        "bench",
        "append",
        "--commits",
        "100",
        "--dir",
        full.to_str().expect("a UTF-8 path"),
    ]);
    outcome
        .expect_code(1)
        .expect_stderr_contains(&["is not empty", "new or empty folder"]);
    assert_eq!(
        file_names(&full).into_iter().collect::<Vec<_>>(),
        ["notes.txt"]
    );

    run(["bench", "append", "--commits", "3", "--writers", "4"])
        .expect_code(1)
        .expect_stderr_contains(&["--writers 4 is more than --commits 3"]);
    run(["bench", "append", "--commits", "0"]).expect_code(2);
    run(["bench", "append", "--durability", "sometimes"]).expect_code(2);
    run(["bench", "replay", "--commits", "0"]).expect_code(2);

    let empty = dir.join("empty");
    fs::create_dir(&empty).expect("create a folder");
    let empty = empty.to_str().expect("a UTF-8 path");
    run(["bench", "replay", empty, "--commits", "10"]).expect_code(2);
    run(["bench", "replay", empty])
        .expect_code(1)
        .expect_stderr_contains(&["holds no commits"]);
    run([
        "bench",
        "replay",
        dir.join("missing").to_str().expect("a UTF-8 path"),
    ])
    .expect_code(1)
    .expect_stderr_contains(&["no store at"]);
}
