//! Stores written by the original Node.js package (`@scriptabuild/eventstore` 1.3.0), read by
//! foldstore: the fixtures in `tests/fixtures/` (see its README) and what that package itself
//! replays and aggregates from them.
//!
//! The fixtures are only read here; a test that writes works on a copy in a temporary folder.

use std::fs;
use std::path::{Path, PathBuf};

use foldstore::{Commit, Error, Event, Headers, Store};
use serde_json::{Map, Value};

/// The two fixture stores, with the snapshot name each uses.
const STORES: [(&str, &str); 2] = [
    ("node-memberlist", "memberlist"),
    ("handwritten", "members"),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn open(name: &str) -> Store {
    let store = Store::open(fixture(name).join("store")).expect("open the fixture store");
    assert!(
        store.exists().unwrap(),
        "{name}: the fixture store is missing"
    );
    store
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// `events.jsonl`: every event in replay order, as `{"commit", "headers", "name", "data"?}`.
fn expected_events(name: &str) -> Vec<Value> {
    let path = fixture(name).join("events.jsonl");
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!lines.is_empty(), "{} holds no events", path.display());
    lines
}

/// The expected events of commits `from..=to`.
fn expected_slice(name: &str, from: u64, to: u64) -> Vec<Value> {
    expected_events(name)
        .into_iter()
        .filter(|line| (from..=to).contains(&line["commit"].as_u64().unwrap()))
        .collect()
}

/// One event in the shape of an `events.jsonl` line (without `commit` when it is `None`).
/// Members other than `name` and `data` are kept, so an event that grew one would not match.
fn line(commit: Option<u64>, headers: &Headers, event: &Event) -> Value {
    let mut line = Map::new();
    if let Some(commit) = commit {
        line.insert("commit".into(), commit.into());
    }
    line.insert("headers".into(), Value::Object(headers.clone()));
    let Value::Object(event) = event.to_value() else {
        unreachable!("an event is an object")
    };
    line.extend(event);
    Value::Object(line)
}

fn without_commit(mut lines: Vec<Value>) -> Vec<Value> {
    for line in &mut lines {
        line.as_object_mut().unwrap().shift_remove("commit");
    }
    lines
}

fn commit_lines(commits: impl IntoIterator<Item = foldstore::Result<Commit>>) -> Vec<Value> {
    let mut lines = Vec::new();
    for commit in commits {
        let commit = commit.expect("read a commit");
        for event in commit.events() {
            lines.push(line(Some(commit.number()), commit.headers(), event));
        }
    }
    lines
}

#[test]
fn replay_event_stream_yields_the_events_the_original_replays() {
    for (name, _) in STORES {
        let store = open(name);
        let expected = expected_events(name);
        let mut seen = Vec::new();
        let summary = store
            .replay_event_stream(|event, headers| seen.push(line(None, headers, event)))
            .unwrap();
        assert_eq!(seen, without_commit(expected.clone()), "{name}");
        let last = expected.last().unwrap()["commit"].as_u64().unwrap();
        assert_eq!(summary.last_commit, Some(last), "{name}");
        assert_eq!(summary.commits, last, "{name}");
        assert_eq!(summary.events, expected.len() as u64, "{name}");
        assert!(!summary.stopped, "{name}");
    }
}

#[test]
fn the_commits_iterator_yields_the_events_the_original_replays() {
    for (name, _) in STORES {
        let store = open(name);
        let expected = expected_events(name);
        assert_eq!(commit_lines(store.commits(..)), expected, "{name}");

        let numbers: Vec<u64> = store.commits(..).map(|c| c.unwrap().number()).collect();
        let tip = expected.last().unwrap()["commit"].as_u64().unwrap();
        assert_eq!(numbers, (1..=tip).collect::<Vec<_>>(), "{name}");
        assert_eq!(store.tip().unwrap(), tip, "{name}");
    }
}

#[test]
fn null_data_and_absent_data_stay_apart() {
    let store = open("handwritten");
    let events: Vec<Event> = store
        .commits(..)
        .flat_map(|commit| commit.unwrap().into_events())
        .collect();
    let find = |name: &str| events.iter().find(|e| e.name() == name).unwrap();
    assert_eq!(find("heartbeat").data(), None);
    assert_eq!(find("ping").data(), Some(&Value::Null));
    assert_eq!(find("heartbeat").to_value().as_object().unwrap().len(), 1);
    assert_eq!(find("ping").to_value()["data"], Value::Null);
    // As written by the original: `MemberHasMoved` keeps its capital letter.
    assert!(events.iter().any(|e| e.name() == "MemberHasMoved"));

    let store = open("node-memberlist");
    let last = store.read_commit(27).unwrap();
    assert_eq!(last.events(), [Event::new("eventWithoutData")]);
}

#[test]
fn files_that_are_not_commits_are_ignored() {
    let store = open("handwritten");
    let folder = fixture("handwritten").join("store");
    for other in ["README.txt", "draft.log", "7.json"] {
        assert!(folder.join(other).is_file(), "the fixture lacks {other}");
    }

    let listing = store.storage().list().unwrap();
    assert_eq!(listing.commits, [1, 2, 3, 4]);
    assert_eq!(listing.snapshots, [("members".to_owned(), 1)]);
    assert!(listing.suspicious.is_empty(), "{:?}", listing.suspicious);
    assert_eq!(store.tip().unwrap(), 4);

    // `7.json` is not commit 7, and nothing follows commit 4.
    assert!(matches!(
        store.read_commit(7),
        Err(Error::OutOfRange {
            requested: 7,
            tip: 4
        })
    ));
    assert_eq!(store.commits(5..).count(), 0);
    assert!(matches!(
        store.replay().to(7).run(|_, _| {}),
        Err(Error::OutOfRange { requested: 7, .. })
    ));
}

#[test]
fn verify_reports_the_fixture_stores_sound() {
    // (store, tip, events, snapshots)
    for (name, tip, events, snapshots) in [("handwritten", 4, 7, 1), ("node-memberlist", 27, 31, 2)]
    {
        let store = open(name);
        let mut progress = Vec::new();
        let report = store
            .verify(|done, total| progress.push((done, total)))
            .unwrap();
        assert!(report.is_sound(), "{name}: {:?}", report.problems);
        assert!(report.warnings.is_empty(), "{name}: {:?}", report.warnings);
        assert_eq!(report.tip, tip, "{name}");
        assert_eq!(report.sound_commits, tip, "{name}");
        assert_eq!(report.events, events, "{name}");
        assert_eq!(report.sound_snapshots, snapshots, "{name}");
        let total = tip + snapshots;
        assert_eq!(progress.len() as u64, total, "{name}");
        assert_eq!(progress.last(), Some(&(total, total)), "{name}");
    }
}

#[test]
fn a_sub_range_replays_exactly_its_slice() {
    for (name, from, to) in [
        ("handwritten", 2, 3),
        ("handwritten", 1, 1),
        ("handwritten", 4, 4),
        ("handwritten", 3, 4),
        ("node-memberlist", 4, 5),
        ("node-memberlist", 26, 27),
        ("node-memberlist", 1, 27),
    ] {
        let store = open(name);
        let expected = expected_slice(name, from, to);
        assert!(!expected.is_empty());

        assert_eq!(
            commit_lines(store.commits(from..=to)),
            expected,
            "{name} {from}..={to}"
        );

        let mut seen = Vec::new();
        let summary = store
            .replay()
            .from(from)
            .to(to)
            .run(|event, headers| seen.push(line(None, headers, event)))
            .unwrap();
        assert_eq!(
            seen,
            without_commit(expected.clone()),
            "{name} from {from} to {to}"
        );
        assert_eq!(summary.last_commit, Some(to));
        assert_eq!(summary.commits, to - from + 1);
        assert_eq!(summary.events, expected.len() as u64);
    }

    // Open-ended ranges.
    let store = open("handwritten");
    assert_eq!(
        commit_lines(store.commits(3..)),
        expected_slice("handwritten", 3, 4)
    );
    assert_eq!(
        commit_lines(store.commits(..3)),
        expected_slice("handwritten", 1, 2)
    );
}

#[test]
fn snapshots_load_with_the_data_of_their_file() {
    // (store, snapshot name, at most, the snapshot expected)
    for (name, snapshot, at_most, expected) in [
        ("handwritten", "members", u64::MAX, Some(1)),
        ("handwritten", "members", 4, Some(1)),
        ("handwritten", "members", 1, Some(1)),
        ("handwritten", "members", 0, None),
        ("handwritten", "memberlist", 4, None),
        ("node-memberlist", "memberlist", 27, Some(25)),
        ("node-memberlist", "memberlist", 25, Some(25)),
        ("node-memberlist", "memberlist", 24, Some(3)),
        ("node-memberlist", "memberlist", 3, Some(3)),
        ("node-memberlist", "memberlist", 2, None),
        ("node-memberlist", "members", 27, None),
    ] {
        let store = open(name);
        let loaded = store.load_snapshot(snapshot, at_most).unwrap();
        let Some(commit) = expected else {
            assert_eq!(loaded, None, "{name} {snapshot} <= {at_most}");
            continue;
        };
        let loaded = loaded.unwrap_or_else(|| panic!("{name}: no {snapshot} <= {at_most}"));
        let file = read_json(
            &fixture(name)
                .join("store")
                .join(format!("{commit}.{snapshot}-snapshot")),
        );
        assert_eq!(loaded.name, snapshot);
        assert_eq!(loaded.commit, commit, "{name} {snapshot} <= {at_most}");
        // As JSON, so this holds whether `data` is a `Value` or an `Option<Value>` (`None` would
        // be `null`, which no fixture snapshot is).
        let data = serde_json::to_value(&loaded.data).unwrap();
        assert_eq!(data, file["snapshot"], "{name} {commit}");
        assert_eq!(Value::Object(loaded.headers), file["headers"], "{name}");
    }
}

/// The tutorial's membership model, as the fixtures' README describes it; panics where the
/// original's handlers throw.
fn fold(state: &mut Map<String, Value>, event: &Event) {
    // The original upper-cases the first letter of the name to find the handler.
    let mut chars = event.name().chars();
    let handler: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let data = event.data().cloned().unwrap_or(Value::Null);
    match handler.as_str() {
        "NewMemberRegistered" => {
            let member = &data["member"];
            let name = member["name"].as_str().unwrap().to_owned();
            let mut entry = Map::new();
            entry.insert("address".into(), member["address"].clone());
            if let Some(level) = member.get("membershipLevel") {
                entry.insert("membershipLevel".into(), level.clone());
            }
            let existing = state.insert(name.clone(), Value::Object(entry));
            assert!(existing.is_none(), "{name} registered twice");
        }
        "MembershipEnded" => {
            let name = data["name"].as_str().unwrap();
            assert!(state.shift_remove(name).is_some(), "{name} is no member");
        }
        "AddressCorrected" | "MemberHasMoved" => {
            let name = data["name"].as_str().unwrap();
            let member = state.get_mut(name).unwrap_or_else(|| panic!("{name}?"));
            member["address"] = data["address"].clone();
        }
        _ => {
            let count = state
                .get("__unhandled")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            state.insert("__unhandled".into(), (count + 1).into());
        }
    }
}

fn fold_commits(mut state: Map<String, Value>, store: &Store, from: u64) -> Value {
    for commit in store.commits(from..) {
        for event in commit.unwrap().events() {
            fold(&mut state, event);
        }
    }
    Value::Object(state)
}

#[test]
fn the_aggregated_state_is_the_originals() {
    // (store, snapshot name, state from the log, state from the newest snapshot on)
    for (name, snapshot, from_log, from_snapshot) in [
        ("node-memberlist", "memberlist", "state.json", "state.json"),
        (
            "handwritten",
            "members",
            "state-from-log.json",
            "state-with-snapshot.json",
        ),
    ] {
        let store = open(name);
        assert_eq!(
            fold_commits(Map::new(), &store, 1),
            read_json(&fixture(name).join(from_log)),
            "{name}: from the log"
        );

        let tip = store.tip().unwrap();
        let restored = store.load_snapshot(snapshot, tip).unwrap().unwrap();
        let Ok(Value::Object(data)) = serde_json::to_value(&restored.data) else {
            panic!("{name}: the snapshot is not an object")
        };
        assert_eq!(
            fold_commits(data, &store, restored.commit + 1),
            read_json(&fixture(name).join(from_snapshot)),
            "{name}: from snapshot {}",
            restored.commit
        );
    }
}

/// Copies a fixture's store folder into a new temporary folder.
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let copy = temp.path().join("store");
    fs::create_dir(&copy).unwrap();
    for entry in fs::read_dir(fixture(name).join("store")).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_file());
        fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    (temp, copy)
}

#[test]
fn foldstore_appends_after_the_originals_last_commit() {
    for (name, next) in [("handwritten", 5), ("node-memberlist", 28)] {
        let (_temp, copy) = copy_of(name);
        let store = Store::open(&copy).unwrap();
        let appended = Event::with_data("appendedByFoldstore", Value::Null);
        assert_eq!(store.log(&appended).unwrap(), next, "{name}");
        assert!(copy.join(format!("{next}.log")).is_file());

        // Everything the original wrote, then the new commit, read by a fresh store.
        let reopened = Store::open(&copy).unwrap();
        let all = commit_lines(reopened.commits(..));
        assert_eq!(all[..all.len() - 1], expected_events(name)[..], "{name}");
        let last = all.last().unwrap();
        assert_eq!(last["commit"], next);
        assert_eq!(last["name"], "appendedByFoldstore");
        assert_eq!(last["data"], Value::Null);
        assert!(last["headers"]["time"].is_string());

        // The fixture itself is untouched.
        assert!(!fixture(name).join(format!("store/{next}.log")).exists());
        assert_eq!(open(name).tip().unwrap(), next - 1);
    }
}

/// The original writes a commit in place: `open(wx)` makes the file, empty, and the write comes
/// an instant later. docs/design.md ("The log"): an unreadable *last* commit may
/// be such a write in progress, so readers wait a short grace period before calling it damage.
#[test]
fn a_last_commit_the_original_is_still_writing_is_waited_for() {
    let (_temp, copy) = copy_of("handwritten");
    let document = br#"{"headers":{"time":"2017-01-03T00:00:00.000Z"},"events":[{"name":"late"}]}"#;
    let file = fs::File::options()
        .write(true)
        .create_new(true)
        .open(copy.join("5.log"))
        .unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::io::Write::write_all(&mut &file, document).unwrap();
    });

    let store = Store::open(&copy).unwrap();
    let mut names = Vec::new();
    let replayed = store.replay_event_stream(|event, _| names.push(event.name().to_owned()));
    writer.join().unwrap();
    let summary = replayed.expect("the commit being written is waited for, not called damage");
    assert_eq!(summary.last_commit, Some(5));
    assert_eq!(names.last().map(String::as_str), Some("late"));
    assert_eq!(names.len(), expected_events("handwritten").len() + 1);
}
