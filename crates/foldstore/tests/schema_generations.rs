//! `Store::schema` on the three-generation fixture (`tests/fixtures/generations/`), written by
//! the original Node.js package and by foldstore in both layouts: it lists exactly the
//! generations of the fixture's README table, with counts, first and last commits and times.
//!
//! The original's store is skipped with a loud message without Node.js and npm (unless the
//! environment variable `CI` is `true`: then it fails), as in `interop_node.rs`.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use common::node::{node, node_output, node_scripts, original_package};
use foldstore::{Error, Event, Layout, SchemaOptions, Seen, Store};
use serde_json::Value;

/// The fixture's steps (see `tests/node/write.js`).
fn steps() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generations/steps.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("steps.json is JSON")
}

fn event(value: &Value) -> Event {
    serde_json::from_value(value.clone()).expect("an event")
}

/// Writes the fixture's steps to `store` with foldstore, one commit a step.
fn write_with_foldstore(store: &Store) {
    store.ensure_folder().unwrap();
    for step in steps().as_array().expect("an array of steps") {
        if let Some(logged) = step.get("log") {
            store.log(&event(logged)).unwrap();
        } else {
            let events = step["logBlock"].as_array().expect("a block");
            store
                .log_block(|block| {
                    for logged in events {
                        block.log(&event(logged))?;
                    }
                    if step["complete"] == true {
                        block.mark_as_complete();
                    }
                    Ok::<_, Error>(())
                })
                .unwrap();
        }
    }
}

/// Writes the fixture's steps into `folder` with the original package; `None` when it is not
/// available (the test is then skipped, after saying so).
fn write_with_the_original(folder: &Path) -> Option<PathBuf> {
    let modules = original_package("the schema test on the original's store")?;
    node_output(
        node(modules)
            .arg(node_scripts().join("write.js"))
            .args([folder.as_os_str(), OsStr::new(&steps().to_string())]),
    );
    Some(folder.to_owned())
}

const STRINGS: &str = "{address: string, name: string}";
const STREET_CITY: &str = "{address: {city: string, street: string}, name: string}";
const WITH_COUNTRY: &str =
    "{address: {city: string, country: string, street: string}, name: string}";

/// Where commit `number` of `store` was seen: its number and `time` header.
fn at(store: &Store, number: u64) -> (u64, Option<String>) {
    let commit = store.read_commit(number).unwrap();
    let time = commit.headers()["time"]
        .as_str()
        .expect("a time")
        .to_owned();
    (number, Some(time))
}

/// A shape found: its text, count, and first and last places.
type Found<'r> = (&'r str, u64, (u64, Option<String>), (u64, Option<String>));

fn place(seen: &Seen) -> (u64, Option<String>) {
    (seen.commit, seen.time.clone())
}

/// Asserts that `store`'s schema is the fixture README's table.
#[track_caller]
fn assert_generations(store: &Store, what: &str) {
    let report = store.schema(&SchemaOptions::new(), |_, _| {}).unwrap();
    assert_eq!(
        (report.commits, report.events, report.other_names),
        (10, 11, 0),
        "{what}"
    );
    let found: Vec<(&str, u64, Vec<Found>)> = report
        .names
        .iter()
        .map(|name| {
            assert_eq!(name.spellings, std::slice::from_ref(&name.name), "{what}");
            assert_eq!(name.other_shapes, 0, "{what}");
            let shapes = name
                .shapes
                .iter()
                .map(|s| (s.shape.as_str(), s.count, place(&s.first), place(&s.last)))
                .collect();
            (name.name.as_str(), name.events, shapes)
        })
        .collect();
    let shape = |text, count, first, last| (text, count, at(store, first), at(store, last));
    assert_eq!(
        found,
        [
            (
                "memberHasMoved",
                4,
                vec![shape(STREET_CITY, 2, 6, 7), shape(WITH_COUNTRY, 2, 9, 10)]
            ),
            ("memberMoved", 2, vec![shape(STRINGS, 2, 3, 4)]),
            (
                "newMemberRegistered",
                5,
                vec![
                    shape(STRINGS, 3, 1, 4),
                    shape(STREET_CITY, 1, 5, 5),
                    shape(WITH_COUNTRY, 1, 8, 8)
                ]
            ),
        ],
        "{what}"
    );

    let moved = store
        .schema(&SchemaOptions::new().name("MemberHasMoved"), |_, _| {})
        .unwrap();
    assert_eq!(moved.names.len(), 1, "{what}");
    assert_eq!(moved.names[0], report.names[0], "{what}");
}

#[test]
fn schema_lists_the_generations_of_a_loose_store_written_by_foldstore() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path().join("loose")).unwrap();
    write_with_foldstore(&store);
    assert_generations(&Store::open(temp.path().join("loose")).unwrap(), "loose");
}

#[test]
fn schema_lists_the_generations_of_a_journal_written_by_foldstore() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("journal");
    let store = Store::builder(&folder)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    write_with_foldstore(&store);
    assert_eq!(Layout::detect(&folder).unwrap(), Some(Layout::Journal));
    assert_generations(&Store::open(&folder).unwrap(), "journal");
}

#[test]
fn schema_lists_the_generations_of_a_store_written_by_the_original() {
    let temp = tempfile::tempdir().unwrap();
    let Some(folder) = write_with_the_original(&temp.path().join("original")) else {
        return;
    };
    assert_generations(&Store::open(&folder).unwrap(), "written by the original");
}

#[test]
fn schema_stops_at_a_damaged_commit_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("damaged");
    write_with_foldstore(&Store::open(&folder).unwrap());
    fs::write(folder.join("6.log"), "{\"events\": [").unwrap();
    let error = Store::open(&folder)
        .unwrap()
        .schema(&SchemaOptions::new(), |_, _| {})
        .unwrap_err();
    assert!(matches!(error, Error::CorruptCommit { .. }), "{error:?}");
    assert!(error.to_string().contains("6.log"), "{error}");
}
