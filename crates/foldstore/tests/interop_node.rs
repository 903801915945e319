//! Live round trips with the original Node.js package, `@scriptabuild/eventstore` 1.3.0: stores
//! written by foldstore and replayed by the original, written by the original and replayed by
//! foldstore, and both appending to one folder in turn.
//!
//! The package is installed from the npm registry, once per test run, into the cargo target
//! folder (`<target>/tmp/node-interop`), by `foldstore-testkit` (with its `package.json`), and
//! reused while it is there. The helper scripts in `tests/node/` find it through `NODE_PATH`.
//!
//! Without Node.js and npm, or when the install fails, these tests are skipped with a loud
//! message, except when the environment variable `CI` is `true`: then they fail.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use common::node::{node_output, node_scripts, original_package};
use foldstore::{Event, Headers, Store};
use serde_json::{json, Value};

/// The `node_modules` folder holding the original package, or `None` when the test should be
/// skipped (after saying so).
fn original() -> Option<&'static Path> {
    original_package("the live interop tests (interop_node.rs)")
}

/// Runs a helper script with the original package and returns the JSON lines it prints.
fn node(modules: &Path, script: &str, args: &[&OsStr]) -> Vec<Value> {
    node_output(
        common::node::node(modules)
            .arg(node_scripts().join(script))
            .args(args),
    )
    .lines()
    .map(|line| {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{script} printed {line:?}: {e}"))
    })
    .collect()
}

/// The original's replay of the store in `folder`: `{"headers", "event"}` per event.
fn node_replay(modules: &Path, folder: &Path) -> Vec<Value> {
    node(modules, "replay.js", &[folder.as_os_str()])
}

/// Writes `steps` (see `tests/node/write.js`) with the original; returns its replay afterwards.
fn node_write(modules: &Path, folder: &Path, steps: &Value) -> Vec<Value> {
    let steps = steps.to_string();
    node(
        modules,
        "write.js",
        &[folder.as_os_str(), OsStr::new(steps.as_str())],
    )
}

/// foldstore's replay of `store`, in the shape `replay.js` prints.
fn foldstore_replay(store: &Store) -> Vec<Value> {
    let mut lines = Vec::new();
    store
        .replay_event_stream(|event, headers| {
            lines.push(json!({"headers": headers, "event": event.to_value()}));
        })
        .expect("replay with foldstore");
    lines
}

fn events_of(lines: &[Value]) -> Vec<Value> {
    lines.iter().map(|line| line["event"].clone()).collect()
}

/// The numbers of the commits foldstore reads, and how many events each holds.
fn commit_sizes(store: &Store) -> Vec<(u64, usize)> {
    store
        .commits(..)
        .map(|commit| {
            let commit = commit.expect("read a commit");
            (commit.number(), commit.events().len())
        })
        .collect()
}

/// The names of the files in `folder`, sorted.
fn files_in(folder: &Path) -> BTreeSet<String> {
    fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn log_files(count: u64) -> BTreeSet<String> {
    (1..=count).map(|n| format!("{n}.log")).collect()
}

fn event(value: Value) -> Event {
    serde_json::from_value(value).expect("an event")
}

#[test]
fn the_original_replays_a_store_written_by_foldstore() {
    let Some(modules) = original() else { return };
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("written by foldstore");
    let store = Store::builder(&folder)
        .headers(|| {
            let mut headers = Headers::new();
            headers.insert("user".into(), json!("ærlig øyvind \"the tester\""));
            headers
        })
        .open()
        .unwrap();
    store.ensure_folder().unwrap();

    let registered = event(json!({"name": "newMemberRegistered", "data": {"member": {
        "name": "ærlig øyvind",
        "address": "Ålesund ✓ \"quoted\" \\ back 🦀",
        "membershipLevel": "gold"
    }}}));
    let block = [
        Event::new("heartbeat"),
        Event::with_data("ping", Value::Null),
        Event::with_data(
            "mixed",
            json!([1, -2, 2.5, null, true, {"nested": "tab\t newline\n bell\u{7} \u{2028}"}, ""]),
        ),
    ];
    // A member besides `name` and `data`, as another tool might write.
    let annotated = event(json!({"name": "annotated", "data": {"a": 1}, "source": "import"}));
    let alone_without_data = Event::new("eventWithoutData");

    assert_eq!(store.log(&registered).unwrap(), 1);
    let written = store.log_block(|b| {
        for event in &block {
            b.log(event)?;
        }
        b.mark_as_complete();
        Ok::<_, foldstore::Error>(())
    });
    assert_eq!(written.unwrap(), Some(2));
    let not_marked = store.log_block(|b| b.log(&Event::new("neverWritten")));
    assert_eq!(not_marked.unwrap(), None);
    assert_eq!(store.log(&annotated).unwrap(), 3);
    assert_eq!(store.log(&alone_without_data).unwrap(), 4);
    // foldstore's own members of an event: its shape's version and its tags.
    let versioned = Event::with_data(
        "memberHasMoved",
        json!({"name": "wendy", "address": {"city": "Oslo"}}),
    )
    .versioned(3)
    .tagged(["member:wendy"]);
    assert_eq!(store.log(&versioned).unwrap(), 5);

    let mut expected = vec![registered.to_value()];
    expected.extend(block.iter().map(Event::to_value));
    expected.extend([
        annotated.to_value(),
        alone_without_data.to_value(),
        versioned.to_value(),
    ]);

    let ours = foldstore_replay(&store);
    assert_eq!(events_of(&ours), expected);

    let theirs = node_replay(modules, &folder);
    assert_eq!(theirs, ours, "the original replays other events or headers");
    assert_eq!(events_of(&theirs), expected);

    // Null data and absent data survive the trip, each as it was.
    assert!(theirs[1]["event"].get("data").is_none(), "{}", theirs[1]);
    assert_eq!(theirs[2]["event"].get("data"), Some(&Value::Null));
    assert!(theirs[5]["event"].get("data").is_none(), "{}", theirs[5]);
    assert_eq!(theirs[4]["event"]["source"], "import");
    assert_eq!(theirs[6]["event"]["version"], 3);
    assert_eq!(theirs[6]["event"]["tags"], json!(["member:wendy"]));
    for line in &theirs {
        let headers = line["headers"].as_object().unwrap();
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["time", "user"]);
        assert_eq!(headers["user"], "ærlig øyvind \"the tester\"");
        let time = headers["time"].as_str().unwrap();
        assert_eq!(time.len(), "2026-11-27T15:03:30.380Z".len(), "{time}");
    }
}

#[test]
fn foldstore_replays_a_store_written_by_the_original() {
    let Some(modules) = original() else { return };
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("written by the original");

    let registered = json!({"name": "newMemberRegistered", "data": {"member": {
        "name": "peter pan", "address": "neverland"
    }}});
    let block = json!([
        {"name": "newMemberRegistered", "data": {"member": {
            "name": "ærlig øyvind", "address": "Ålesund ✓ \"quoted\" \\ back 🦀", "membershipLevel": "gold"
        }}},
        {"name": "heartbeat"},
        {"name": "ping", "data": null}
    ]);
    let by_model = json!([
        {"name": "memberHasMoved", "data": {"name": "peter pan", "address": {"street": "Second star to the right"}}},
        {"name": "noData"},
        {"name": "nullData", "data": null}
    ]);
    let quoted = json!({"name": "quoted", "data": "she said \"hi\" \\ and left\n"});
    let steps = json!([
        {"log": registered},
        {"logBlock": block, "complete": true},
        {"logBlock": [{"name": "neverWritten", "data": 1}], "complete": false},
        {"model": by_model},
        {"log": quoted},
    ]);
    let theirs = node_write(modules, &folder, &steps);

    let mut expected = vec![registered];
    expected.extend(block.as_array().unwrap().iter().cloned());
    expected.extend(by_model.as_array().unwrap().iter().cloned());
    expected.push(quoted);
    assert_eq!(events_of(&theirs), expected, "the original wrote otherwise");

    let store = Store::open(&folder).unwrap();
    assert_eq!(foldstore_replay(&store), theirs);
    assert_eq!(commit_sizes(&store), [(1, 1), (2, 3), (3, 3), (4, 1)]);
    assert_eq!(files_in(&folder), log_files(4));

    let report = store.verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!((report.tip, report.events), (4, 8));
}

#[test]
fn foldstore_and_the_original_append_in_turn_to_one_log() {
    let Some(modules) = original() else { return };
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("shared");
    // One store for every round: its idea of the log's end goes stale when the original writes.
    let store = Store::open(&folder).unwrap();
    store.ensure_folder().unwrap();

    let mut expected = Vec::new();
    let mut commits = 0;
    for round in 0..4 {
        // foldstore: a log, a block of two, a log.
        let ours = |commit: usize, index: usize| {
            Event::with_data(
                "fromFoldstore",
                json!({"id": format!("foldstore round {round} commit {commit} event {index}")}),
            )
        };
        let events = [ours(0, 0), ours(1, 0), ours(1, 1), ours(2, 0)];
        commits += 1;
        assert_eq!(store.log(&events[0]).unwrap(), commits);
        commits += 1;
        let written = store.log_block(|b| {
            b.log(&events[1])?;
            b.log(&events[2])?;
            b.mark_as_complete();
            Ok::<_, foldstore::Error>(())
        });
        assert_eq!(written.unwrap(), Some(commits));
        commits += 1;
        assert_eq!(store.log(&events[3]).unwrap(), commits);
        expected.extend(events.iter().map(Event::to_value));

        // The original: a log, a block of two, a model's commit of two.
        let theirs = |commit: usize, index: usize| {
            json!({"name": "fromTheOriginal",
                   "data": {"id": format!("original round {round} commit {commit} event {index}")}})
        };
        let logged = theirs(0, 0);
        let block = [theirs(1, 0), theirs(1, 1)];
        let by_model = [theirs(2, 0), theirs(2, 1)];
        let steps = json!([
            {"log": logged},
            {"logBlock": block, "complete": true},
            {"model": by_model},
        ]);
        let replayed = node_write(modules, &folder, &steps);
        commits += 3;
        expected.push(logged);
        expected.extend(block.into_iter().chain(by_model));

        // After each round both replay everything written so far, in the order written.
        assert_eq!(
            events_of(&replayed),
            expected,
            "round {round}: the original"
        );
        assert_eq!(
            foldstore_replay(&store),
            replayed,
            "round {round}: foldstore"
        );
        assert_eq!(store.tip().unwrap(), commits);
    }

    // One contiguous log 1..=N, every event once, nothing else in the folder.
    assert_eq!(commits, 24);
    let sizes = commit_sizes(&store);
    assert_eq!(
        sizes.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (1..=commits).collect::<Vec<_>>()
    );
    assert_eq!(
        sizes.iter().map(|(_, len)| len).sum::<usize>(),
        expected.len()
    );
    assert_eq!(files_in(&folder), log_files(commits));
    let ids: BTreeSet<&str> = expected
        .iter()
        .map(|event| event["data"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), expected.len(), "an event was written twice");

    let fresh = Store::open(&folder).unwrap();
    let ours = foldstore_replay(&fresh);
    assert_eq!(events_of(&ours), expected);
    assert_eq!(node_replay(modules, &folder), ours);
    let report = fresh.verify(|_, _| {}).unwrap();
    assert!(
        report.is_sound() && report.warnings.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.tip, commits);
}

#[allow(dead_code)]
#[path = "../examples/memberlist/model.rs"]
mod memberlist;

/// The original's view of the tutorial model's data in `folder` (see `tests/node/memberlist.js`).
fn node_memberlist(modules: &Path, folder: &Path, then_snapshot: bool) -> Value {
    let mut args = vec![folder.as_os_str()];
    if then_snapshot {
        args.push(OsStr::new("snapshot"));
    }
    let mut lines = node(modules, "memberlist.js", &args);
    assert_eq!(lines.len(), 1, "memberlist.js prints one line: {lines:?}");
    lines.remove(0)
}

#[test]
fn snapshots_restore_across_the_two_programs() {
    let Some(modules) = original() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("members");
    let store = Store::open(&folder).unwrap();
    store.ensure_folder().unwrap();
    let model = store.define_model(memberlist::Membership).unwrap();
    let register = |name: &str, address: Value, level: Option<&str>| {
        model
            .with_read_write_instance(
                |list, flag| {
                    list.register_new_member(name, address.clone(), level)?;
                    flag.ready_to_commit();
                    Ok::<_, foldstore::Error>(())
                },
                3,
            )
            .unwrap()
            .commit
            .unwrap()
    };
    register(
        "arjan einbu",
        json!({"street": "Rykkinnveien 1"}),
        Some("silver"),
    );
    register("peter pan", json!("neverland"), None);
    assert_eq!(model.snapshot().unwrap(), Some(2));
    register("wendy", json!("london"), Some("gold"));
    store.log(&json!({"name": "heartbeat"})).unwrap();

    // Move the commits the snapshot holds out of the way: the original can now only know
    // about arjan and peter through foldstore's snapshot.
    let aside = dir.path().join("aside");
    fs::create_dir(&aside).unwrap();
    for n in 1..=2 {
        fs::rename(
            folder.join(format!("{n}.log")),
            aside.join(format!("{n}.log")),
        )
        .unwrap();
    }
    let expected = json!({
        "arjan einbu": {"address": {"street": "Rykkinnveien 1"}, "membershipLevel": "silver"},
        "peter pan": {"address": "neverland"},
        "wendy": {"address": "london", "membershipLevel": "gold"},
        "__unhandled": 1,
    });
    assert_eq!(node_memberlist(modules, &folder, false), expected);
    for n in 1..=2 {
        fs::rename(
            aside.join(format!("{n}.log")),
            folder.join(format!("{n}.log")),
        )
        .unwrap();
    }

    // The other way: the original writes a snapshot at 4 (with data, since its aggregator
    // exposes `data`), and a fresh foldstore model restores from it.
    assert_eq!(node_memberlist(modules, &folder, true), expected);
    assert!(folder.join("4.memberlist-snapshot").exists());
    fs::write(
        folder.join("3.log"),
        "not json: the model must not read this",
    )
    .unwrap();
    let fresh = Store::open(&folder)
        .unwrap()
        .define_model(memberlist::Membership)
        .unwrap();
    let data = serde_json::to_value(&*fresh.aggregator_data().unwrap()).unwrap();
    assert_eq!(data, expected);
    assert_eq!(fresh.report().restored_from, Some(4));
}
