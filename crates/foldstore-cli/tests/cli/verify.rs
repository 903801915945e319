//! `verify`: a sound store passes; every problem is listed with its path; warnings; the JSON
//! report.

use std::fs;

use serde_json::json;

use crate::util::{append, commit_text, five_commit_store, run, TestDir};

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
    crate::util::write_old(&store.join("2.log"), &two[..20]);
    fs::remove_file(store.join("4.log")).expect("remove 4.log");
    crate::util::write_old(&store.join("6.log"), "");
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
