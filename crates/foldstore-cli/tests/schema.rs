//! `foldstore schema`: the shapes of each event name's data, run as the real binary on the
//! three-generation fixture (`crates/foldstore/tests/fixtures/generations/`) in both layouts.

mod util;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use util::{run, run_on, write_commit, TestDir};

/// The time of commit `k` of the fixture store.
fn time(k: u64) -> String {
    format!("2026-11-27T15:{k:02}:00.000Z")
}

/// The fixture's steps written by hand as commits 1 to 10 of a loose store `loose` in `dir`,
/// commit k at [`time`]`(k)`.
fn generations(dir: &TestDir) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../foldstore/tests/fixtures/generations/steps.json");
    let steps: Value = serde_json::from_str(&fs::read_to_string(path).expect("steps.json"))
        .expect("steps.json is JSON");
    let store = dir.join("loose");
    for (k, step) in (1..).zip(steps.as_array().expect("steps")) {
        let events = match step.get("log") {
            Some(event) => json!([event]),
            None => step["logBlock"].clone(),
        };
        write_commit(&store, k, Some(&time(k)), events);
    }
    store
}

const TEXT: &str = "\
memberHasMoved  4 events, 2 shapes
  2  {address: {city: string, street: string}, name: string}
     first commit 6 (2026-11-27T15:06:00.000Z), last commit 7 (2026-11-27T15:07:00.000Z)
  2  {address: {city: string, country: string, street: string}, name: string}
     first commit 9 (2026-11-27T15:09:00.000Z), last commit 10 (2026-11-27T15:10:00.000Z)
memberMoved  2 events, 1 shape
  2  {address: string, name: string}
     first commit 3 (2026-11-27T15:03:00.000Z), last commit 4 (2026-11-27T15:04:00.000Z)
newMemberRegistered  5 events, 3 shapes
  3  {address: string, name: string}
     first commit 1 (2026-11-27T15:01:00.000Z), last commit 4 (2026-11-27T15:04:00.000Z)
  1  {address: {city: string, street: string}, name: string}
     commit 5 (2026-11-27T15:05:00.000Z)
  1  {address: {city: string, country: string, street: string}, name: string}
     commit 8 (2026-11-27T15:08:00.000Z)
10 commits (11 events) read; 3 names shown
";

fn shape(text: &str, count: u64, first: u64, last: u64) -> Value {
    json!({
        "shape": text,
        "count": count,
        "first": {"commit": first, "time": time(first)},
        "last": {"commit": last, "time": time(last)},
    })
}

fn expected_json(store: &Path) -> Value {
    let strings = "{address: string, name: string}";
    let street_city = "{address: {city: string, street: string}, name: string}";
    let with_country = "{address: {city: string, country: string, street: string}, name: string}";
    json!({
        "store": store.display().to_string(),
        "first": 1,
        "commits": 10,
        "events": 11,
        "names": [
            {
                "name": "memberHasMoved",
                "spellings": ["memberHasMoved"],
                "events": 4,
                "shapes": [shape(street_city, 2, 6, 7), shape(with_country, 2, 9, 10)],
                "other_shapes": 0,
            },
            {
                "name": "memberMoved",
                "spellings": ["memberMoved"],
                "events": 2,
                "shapes": [shape(strings, 2, 3, 4)],
                "other_shapes": 0,
            },
            {
                "name": "newMemberRegistered",
                "spellings": ["newMemberRegistered"],
                "events": 5,
                "shapes": [
                    shape(strings, 3, 1, 4),
                    shape(street_city, 1, 5, 5),
                    shape(with_country, 1, 8, 8),
                ],
                "other_shapes": 0,
            },
        ],
        "other_names": 0,
    })
}

#[test]
fn schema_lists_the_generations_of_both_layouts_as_text_and_json() {
    let dir = TestDir::new();
    let loose = generations(&dir);
    let journal = dir.join("journal");
    run([
        "copy".as_ref(),
        "--layout".as_ref(),
        "journal".as_ref(),
        loose.as_os_str(),
        journal.as_os_str(),
    ])
    .expect_code(0);
    assert!(journal.join("foldstore-journal.json").is_file());

    for store in [&loose, &journal] {
        let text = run_on("schema", store, &[]);
        text.expect_code(0);
        assert_eq!(text.stdout, TEXT, "{}", store.display());
        assert_eq!(text.stderr, "");

        let outcome = run_on("schema", store, &["--json"]);
        outcome.expect_code(0);
        assert_eq!(outcome.json_lines(), [expected_json(store)]);
    }
}

#[test]
fn schema_name_keeps_one_name_in_either_spelling() {
    let dir = TestDir::new();
    let store = generations(&dir);
    // The guide's example (docs/guide.md, "Seeing the shapes a log holds").
    let outcome = run_on("schema", &store, &["--name", "NewMemberRegistered"]);
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout,
        "\
newMemberRegistered  5 events, 3 shapes
  3  {address: string, name: string}
     first commit 1 (2026-11-27T15:01:00.000Z), last commit 4 (2026-11-27T15:04:00.000Z)
  1  {address: {city: string, street: string}, name: string}
     commit 5 (2026-11-27T15:05:00.000Z)
  1  {address: {city: string, country: string, street: string}, name: string}
     commit 8 (2026-11-27T15:08:00.000Z)
10 commits (11 events) read; 1 name shown
"
    );
    let outcome = run_on("schema", &store, &["--name", "nothing", "--json"]);
    outcome.expect_code(0);
    let report = &outcome.json_lines()[0];
    assert_eq!(
        (&report["events"], &report["names"]),
        (&json!(11), &json!([]))
    );
}

#[test]
fn schema_escapes_control_characters_of_names_members_and_times() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(
        &store,
        1,
        Some("2026\u{1b}[31m"),
        json!([
            {"name": "evil\u{1b}[2J", "data": {"a\u{7}b\u{202e}": 1}},
            {"name": "Evil\u{1b}[2J"},
        ]),
    );
    let outcome = run_on("schema", &store, &[]);
    outcome.expect_code(0);
    assert!(!outcome.stdout.contains('\u{1b}'), "{:?}", outcome.stdout);
    assert!(!outcome.stdout.contains('\u{202e}'), "{:?}", outcome.stdout);
    assert_eq!(
        outcome.stdout,
        "\
evil\\u{1b}[2J (also Evil\\u{1b}[2J)  2 events, 2 shapes
  1  {\"a\\u0007b\\u{202e}\": number}
     commit 1 (2026\\u{1b}[31m)
  1  absent
     commit 1 (2026\\u{1b}[31m)
1 commit (2 events) read; 1 name shown
"
    );
}

#[test]
fn schema_fails_on_a_damaged_commit_or_a_missing_store() {
    let dir = TestDir::new();
    let store = generations(&dir);
    fs::write(store.join("4.log"), "{\"events\": [").expect("damage commit 4");
    let outcome = run_on("schema", &store, &[]);
    outcome.expect_code(1);
    assert_eq!(outcome.stdout, "");
    outcome.expect_stderr_contains(&["error:", "4.log"]);

    let outcome = run_on("schema", &dir.join("nowhere"), &["--json"]);
    outcome.expect_code(1);
    outcome.expect_stderr_contains(&["no store at"]);

    run(["schema"]).expect_code(2);
}
