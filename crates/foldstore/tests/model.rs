//! Models (issue "Models"): `define_model`, typed and untyped dispatch, the fallback handler,
//! `aggregator_data`, read and read-write instances, snapshots (saving, restoring, skipping
//! the untrustworthy, automatic), time travel, refusals while folding, incremental folding,
//! sharing between threads, and the tutorial's model over the stores the original wrote.
//!
//! The fixtures are only read in place; a test that writes works on a copy in a temporary folder.

mod common;

#[allow(dead_code)]
#[path = "../examples/memberlist/model.rs"]
mod memberlist;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::SystemTime;

use common::counter::{check_race, race_increments, CounterEvent, RaceTally};
use foldstore::model::{CommitFlag, Model, ModelReport, DEFAULT_MAX_ATTEMPTS};
use foldstore::{
    Dispatch, Durability, Error, Event, EventContext, Headers, MemoryStorage, ModelDefinition,
    ReadOnly, Storage, Store, View, Writer,
};
use memberlist::{MemberEvent, MemberList, Membership, Refusal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

/// The fixtures folder: the crate's copy when it exists, else the shared one.
fn fixtures() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = manifest.join("tests/fixtures");
    if local.join("README.md").is_file() {
        local
    } else {
        manifest.join("../../../shared/fixtures")
    }
}

fn fixture_store(name: &str) -> PathBuf {
    let path = fixtures().join(name).join("store");
    assert!(path.is_dir(), "fixture store {} is missing", path.display());
    path
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn expected_state(fixture: &str, file: &str) -> Value {
    read_json(&fixtures().join(fixture).join(file))
}

/// Copies a fixture's store into a new temporary folder, leaving out the files `keep` refuses.
/// The copies are new files (writable), whatever the fixtures' permissions.
fn copy_store(name: &str, keep: impl Fn(&str) -> bool) -> (TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("a temporary folder");
    let copy = temp.path().join("store");
    fs::create_dir(&copy).unwrap();
    for entry in fs::read_dir(fixture_store(name)).unwrap() {
        let entry = entry.unwrap();
        let file_name = entry.file_name().into_string().unwrap();
        if keep(&file_name) {
            fs::write(copy.join(&file_name), fs::read(entry.path()).unwrap()).unwrap();
        }
    }
    (temp, copy)
}

fn without_snapshots(file_name: &str) -> bool {
    !file_name.ends_with("-snapshot")
}

/// An empty folder store in a temporary folder (the folder exists).
fn temp_folder() -> (TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("a temporary folder");
    let path = temp.path().join("store");
    fs::create_dir(&path).unwrap();
    (temp, path)
}

/// Overwrites a file, whatever its permissions.
fn overwrite(path: &Path, bytes: &[u8]) {
    if let Ok(metadata) = fs::metadata(path) {
        let mut permissions = metadata.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        permissions.set_readonly(false);
        fs::set_permissions(path, permissions).unwrap();
    }
    fs::write(path, bytes).unwrap();
}

fn time(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("parse time {text}: {e}"))
}

/// A commit document with the given headers and events, as raw bytes.
fn document(headers: Value, events: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"headers": headers, "events": events})).unwrap()
}

/// A snapshot document, as raw bytes.
fn snapshot_document(headers: Value, data: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"headers": headers, "snapshot": data})).unwrap()
}

fn incremented(by: i64) -> CounterEvent {
    CounterEvent::Incremented { by }
}

/// Logs one increment per item, one commit each.
fn log_increments(store: &Store, amounts: &[i64]) {
    for &by in amounts {
        store.log(&incremented(by)).unwrap();
    }
}

/// Logs one commit of several increments.
fn log_block_of(store: &Store, amounts: &[i64]) -> u64 {
    store
        .log_block(|block| {
            for &by in amounts {
                block.log(&incremented(by))?;
            }
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap()
        .expect("a block was written")
}

/// The numbers of the commits of a store, read by a fresh instance.
fn commit_numbers(store: &Store) -> Vec<u64> {
    store
        .commits(..)
        .map(|commit| commit.unwrap().number())
        .collect()
}

fn skipped_snapshot_labels(report: &ModelReport) -> BTreeSet<u64> {
    report.skipped_snapshots.iter().map(|s| s.commit).collect()
}

// ---------------------------------------------------------------------------------------------
// Test models
// ---------------------------------------------------------------------------------------------

/// The counter's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Count {
    value: i64,
    /// Every event the typed handler folded: `{"commit", "index", "user"}`.
    seen: Vec<Value>,
    /// Every event the fallback handler got: `{"name", "data", "hasData", "commit", "user"}`.
    unknown: Vec<Value>,
}

/// A counter model, with an optional snapshot name and version.
#[derive(Clone, Debug, Default)]
struct Counter {
    snapshot: Option<&'static str>,
    version: Option<u64>,
}

impl Counter {
    fn named(name: &'static str) -> Self {
        Counter {
            snapshot: Some(name),
            version: None,
        }
    }

    fn versioned(name: &'static str, version: u64) -> Self {
        Counter {
            snapshot: Some(name),
            version: Some(version),
        }
    }
}

impl ModelDefinition for Counter {
    type Data = Count;
    type Event = CounterEvent;
    type Error = String;
    type Domain<V: View<Self>> = CounterDomain<V>;

    fn snapshot_name(&self) -> Option<&str> {
        self.snapshot
    }

    fn version(&self) -> Option<u64> {
        self.version
    }

    fn initial_data(&self) -> Count {
        Count::default()
    }

    fn apply(
        &self,
        data: &mut Count,
        event: CounterEvent,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        data.seen.push(json!({
            "commit": context.commit,
            "index": context.index,
            "user": context.headers.get("user"),
        }));
        match event {
            CounterEvent::Incremented { by } => {
                data.value += by;
                if by < 0 {
                    return Err(format!("cannot increment by {by}"));
                }
            }
            CounterEvent::Doubled => data.value *= 2,
        }
        Ok(())
    }

    fn fallback(
        &self,
        data: &mut Count,
        event: &Event,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        data.unknown.push(json!({
            "name": event.name(),
            "data": event.data(),
            "hasData": event.data().is_some(),
            "commit": context.commit,
            "index": context.index,
            "user": context.headers.get("user"),
        }));
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> CounterDomain<V> {
        CounterDomain { view }
    }
}

/// The counter's domain model.
struct CounterDomain<V> {
    view: V,
}

impl<V: View<Counter>> CounterDomain<V> {
    fn value(&self) -> i64 {
        self.view.data().value
    }

    fn position(&self) -> u64 {
        self.view.position()
    }
}

impl<V: Dispatch<Counter>> CounterDomain<V> {
    fn increment(&mut self, by: i64) -> foldstore::Result<()> {
        self.view.dispatch(incremented(by))
    }

    fn double(&mut self) -> foldstore::Result<()> {
        self.view.dispatch(CounterEvent::Doubled)
    }
}

/// An untyped model: every event reaches `apply` as a [`foldstore::Event`].
struct Untyped;

impl ModelDefinition for Untyped {
    type Data = Vec<Value>;
    type Event = Event;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> Vec<Value> {
        Vec::new()
    }

    fn apply(
        &self,
        data: &mut Vec<Value>,
        event: Event,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        if event.name() == "bad" {
            return Err("bad events are refused".to_owned());
        }
        data.push(json!({
            "commit": context.commit,
            "index": context.index,
            "event": event.to_value(),
        }));
        Ok(())
    }

    fn fallback(
        &self,
        data: &mut Vec<Value>,
        event: &Event,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        data.push(json!({"fallback": event.name()}));
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// The tutorial's membership model under the snapshot name the handwritten fixture uses.
struct Members;

impl ModelDefinition for Members {
    type Data = MemberList;
    type Event = MemberEvent;
    type Error = Refusal;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        Some("members")
    }

    fn initial_data(&self) -> MemberList {
        Membership.initial_data()
    }

    fn apply(
        &self,
        data: &mut MemberList,
        event: MemberEvent,
        context: &EventContext<'_>,
    ) -> Result<(), Refusal> {
        Membership.apply(data, event, context)
    }

    fn fallback(
        &self,
        data: &mut MemberList,
        event: &Event,
        context: &EventContext<'_>,
    ) -> Result<(), Refusal> {
        Membership.fallback(data, event, context)
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

fn value_of<T: Serialize>(data: &T) -> Value {
    serde_json::to_value(data).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The tutorial model over the stores the original wrote
// ---------------------------------------------------------------------------------------------

#[test]
fn tutorial_model_over_node_memberlist_with_its_snapshots_gives_state_json() {
    let store = Store::open(fixture_store("node-memberlist")).unwrap();
    let model = store.define_model(Membership).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        value_of(&*data),
        expected_state("node-memberlist", "state.json")
    );
    assert_eq!(data.position(), 27);
    let report = model.report();
    assert_eq!(
        report.restored_from,
        Some(25),
        "restored from the original's newest snapshot"
    );
    assert!(report.skipped_snapshots.is_empty(), "{report:?}");
    assert!(report.skipped_commits.is_empty(), "{report:?}");

    // The domain model reads the same data.
    let names: Vec<String> = model
        .with_read_instance(|list| list.list_members().keys().cloned().collect())
        .unwrap();
    assert_eq!(names.len(), data.members.len());
    assert!(model
        .with_read_instance(|list| list.member("ærlig øyvind").map(|m| m.address.clone()))
        .unwrap()
        .is_some_and(|address| address == json!("Ålesund ✓ \"quoted\" \\ back")));
}

#[test]
fn tutorial_model_over_node_memberlist_without_snapshots_gives_state_json() {
    let (_temp, copy) = copy_store("node-memberlist", without_snapshots);
    let store = Store::open(&copy).unwrap();
    let model = store.define_model(Membership).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        value_of(&*data),
        expected_state("node-memberlist", "state.json")
    );
    assert_eq!(data.position(), 27);
    assert_eq!(model.report().restored_from, None);
}

#[test]
fn the_originals_snapshots_hold_the_fold_of_the_commits_they_are_labelled_with() {
    let original = Store::open(fixture_store("node-memberlist")).unwrap();
    let (_temp, copy) = copy_store("node-memberlist", without_snapshots);
    let from_log = Store::open(&copy)
        .unwrap()
        .define_model(Membership)
        .unwrap();
    for label in [3, 25] {
        let snapshot = original
            .read_snapshot("memberlist", label)
            .unwrap()
            .expect("the original's snapshot");
        let folded = from_log.at_commit(label).unwrap();
        assert_eq!(folded.position(), label);
        assert_eq!(
            Some(value_of(folded.data())),
            snapshot.data,
            "snapshot {label}"
        );
    }
}

#[test]
fn time_travel_over_node_memberlist_uses_the_originals_snapshots() {
    let store = Store::open(fixture_store("node-memberlist")).unwrap();
    let model = store.define_model(Membership).unwrap();
    let at_25 = model.at_commit(25).unwrap();
    let snapshot = store.read_snapshot("memberlist", 25).unwrap().unwrap();
    assert_eq!(Some(value_of(at_25.data())), snapshot.data);
    assert_eq!(model.report().restored_from, Some(25));
    // Commit 26 and 27 fold on top of it.
    assert_eq!(
        value_of(model.at_commit(27).unwrap().data()),
        expected_state("node-memberlist", "state.json")
    );
}

#[test]
fn handwritten_fixture_with_the_members_snapshot_gives_state_with_snapshot() {
    let store = Store::open(fixture_store("handwritten")).unwrap();
    let model = store.define_model(Members).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        value_of(&*data),
        expected_state("handwritten", "state-with-snapshot.json")
    );
    assert_eq!(
        data.position(),
        4,
        "README.txt, draft.log and 7.json are not commits"
    );
    assert_eq!(model.report().restored_from, Some(1));
    // `MemberHasMoved` (capital M) reached the memberHasMoved handler...
    assert_eq!(data.members["marit winge"].address, json!("oslo"));
    // ... and `heartbeat` (no data) and `ping` (null data) reached the fallback.
    assert_eq!(data.unhandled, 2);
}

#[test]
fn handwritten_fixture_without_snapshots_gives_state_from_log() {
    let (_temp, copy) = copy_store("handwritten", without_snapshots);
    let store = Store::open(&copy).unwrap();
    let model = store.define_model(Members).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        value_of(&*data),
        expected_state("handwritten", "state-from-log.json")
    );
    assert_eq!(model.report().restored_from, None);

    // A model whose snapshot name matches no file in the fixture folds the whole log too.
    let other = Store::open(fixture_store("handwritten")).unwrap();
    let model = other.define_model(Membership).unwrap();
    assert_eq!(
        value_of(&*model.aggregator_data().unwrap()),
        expected_state("handwritten", "state-from-log.json")
    );
    assert_eq!(model.report().restored_from, None);
}

#[test]
fn handwritten_fixture_travels_in_time_by_commit_and_by_header_time() {
    let store = Store::open(fixture_store("handwritten")).unwrap();
    let model = store.define_model(Members).unwrap();
    // Times: 1 = 2016-12-31T23:59:58.000Z, 2 = 23:59:59.999Z, 3 = 2017-01-01, 4 = 2017-01-02.
    let cases = [
        ("2016-12-31T23:59:57Z", 0),
        ("2016-12-31T23:59:58Z", 1),
        ("2016-12-31T23:59:59.998Z", 1),
        ("2016-12-31T23:59:59.999Z", 2),
        ("2017-01-01T00:00:00Z", 3),
        ("2017-01-01T23:59:59Z", 3),
        ("2017-01-02T00:00:00Z", 4),
        ("2030-01-01T00:00:00Z", 4),
    ];
    for (at, position) in cases {
        let then = model.at_time(time(at)).unwrap();
        assert_eq!(then.position(), position, "at {at}");
        let by_number = model.at_commit(position).unwrap();
        assert_eq!(value_of(then.data()), value_of(by_number.data()), "at {at}");
    }
    let at_3 = model.at_commit(3).unwrap();
    assert_eq!(at_3.data().members["peter pan"].address, json!("london"));
    assert_eq!(at_3.data().members["marit winge"].address, json!("rykkinn"));
    assert_eq!(at_3.data().unhandled, 1);
}

#[test]
fn tutorial_read_write_instances_over_a_copy_of_node_memberlist() {
    let (_temp, copy) = copy_store("node-memberlist", |_| true);
    let store = Store::open(&copy).unwrap();
    let model = store.define_model(Membership).unwrap();

    let outcome = model
        .with_read_write_instance(
            |list, flag| {
                list.register_new_member("wendy darling", json!("london"), Some("gold"))?;
                // The instance reads its own write at once.
                assert!(list.member("wendy darling").is_some());
                flag.ready_to_commit();
                Ok::<_, Error>(list.list_members().len())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(outcome.commit, Some(28));
    assert_eq!(outcome.attempts, 1);
    assert_eq!(
        outcome.value,
        model.aggregator_data().unwrap().members.len()
    );

    // Registering her again is refused by the handler: nothing is written.
    let refused = model.with_read_write_instance(
        |list, flag| {
            list.register_new_member("wendy darling", json!("paris"), None)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    match refused {
        Err(Error::Rejected { name, message }) => {
            assert_eq!(name, "newMemberRegistered");
            assert!(message.contains("wendy darling"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(store.tip().unwrap(), 28);

    // A fresh model on the folder (restored from the original's snapshot 25) sees the commit,
    // and the original can read it: a plain `{"headers", "events"}` document.
    let fresh = Store::open(&copy)
        .unwrap()
        .define_model(Membership)
        .unwrap();
    let data = fresh.aggregator_data().unwrap();
    assert_eq!(data.members["wendy darling"].address, json!("london"));
    assert_eq!(
        data.members["wendy darling"].membership_level.as_deref(),
        Some("gold")
    );
    let written = read_json(&copy.join("28.log"));
    assert_eq!(written["events"][0]["name"], "newMemberRegistered");
    assert!(written["headers"]["time"].is_string());
}

// ---------------------------------------------------------------------------------------------
// Dispatch: typed, by variant, the first-letter rule, the fallback, bad data, untyped
// ---------------------------------------------------------------------------------------------

/// A memory store whose commits carry a `user` header.
fn store_with_user(storage: &MemoryStorage, user: &'static str) -> Store {
    Store::builder("memory")
        .storage(storage.clone())
        .headers(move || {
            let mut headers = Headers::new();
            headers.insert("user".to_owned(), json!(user));
            headers
        })
        .open()
        .unwrap()
}

#[test]
fn typed_events_reach_their_handler_by_variant_with_headers_and_commit_number() {
    let storage = MemoryStorage::new();
    let store = store_with_user(&storage, "ann");
    // 1: [+1, Incremented +2]; 2: [doubled]; 3: [Doubled, INCREMENTED, heartbeat, ping(null)].
    store
        .log_block(|block| {
            block.log(&Event::with_data("incremented", json!({"by": 1})))?;
            block.log(&Event::with_data("Incremented", json!({"by": 2})))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();
    store.log(&Event::new("doubled")).unwrap();
    store
        .log_block(|block| {
            block.log(&Event::new("Doubled"))?;
            block.log(&Event::with_data("INCREMENTED", json!({"by": 100})))?;
            block.log(&Event::new("heartbeat"))?;
            block.log(&Event::with_data("ping", Value::Null))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();

    let model = Store::with_storage(storage.clone())
        .define_model(Counter::default())
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(data.position(), 3);
    assert_eq!(data.value, 12, "((1 + 2) * 2) * 2, in order, by variant");
    assert_eq!(
        data.seen,
        vec![
            json!({"commit": 1, "index": 0, "user": "ann"}),
            json!({"commit": 1, "index": 1, "user": "ann"}),
            json!({"commit": 2, "index": 0, "user": "ann"}),
            json!({"commit": 3, "index": 0, "user": "ann"}),
        ]
    );
    // Only the first letter's case may differ: `INCREMENTED` is unknown. The fallback gets the
    // raw name and data (absent and null kept apart) and the headers.
    assert_eq!(
        data.unknown,
        vec![
            json!({"name": "INCREMENTED", "data": {"by": 100}, "hasData": true, "commit": 3, "index": 1, "user": "ann"}),
            json!({"name": "heartbeat", "data": null, "hasData": false, "commit": 3, "index": 2, "user": "ann"}),
            json!({"name": "ping", "data": null, "hasData": true, "commit": 3, "index": 3, "user": "ann"}),
        ]
    );
}

#[test]
fn unknown_names_are_ignored_when_there_is_no_fallback() {
    let store = Store::memory();
    store
        .log(&Event::with_data("incremented", json!({"by": 5})))
        .unwrap();
    store.log(&Event::new("heartbeat")).unwrap();
    store
        .log(&Event::with_data("INCREMENTED", json!({"by": 100})))
        .unwrap();
    store.log(&Event::new("doubled")).unwrap();
    // The common counter is typed and has no fallback handler.
    let model = store.define_model(common::counter::Counter).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(*data, 10);
    assert_eq!(data.position(), 4);
}

#[test]
fn a_known_name_with_data_that_does_not_fit_is_an_error_naming_commit_and_event() {
    let cases = [
        Event::with_data("incremented", json!({"by": "two"})),
        Event::with_data("Incremented", json!("not an object")),
        Event::new("incremented"),
    ];
    for bad in cases {
        let store = Store::memory();
        log_increments(&store, &[1]);
        store
            .log_block(|block| {
                block.log(&incremented(2))?;
                block.log(&bad)?;
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .unwrap();
        let model = store.define_model(Counter::default()).unwrap();
        match model.aggregator_data() {
            Err(Error::EventData {
                commit,
                index,
                name,
                message,
                ..
            }) => {
                assert_eq!((commit, index), (2, 1), "{bad:?}");
                assert_eq!(name, bad.name());
                assert!(!message.is_empty());
            }
            other => panic!("{bad:?}: expected EventData, got {other:?}"),
        }
        // Not a fallback: nothing reached it, and the error is stable.
        assert!(matches!(
            model.aggregator_data(),
            Err(Error::EventData { commit: 2, .. })
        ));
        // The model holds commit 1 whole, and nothing of commit 2.
        let at_1 = model.at_commit(1).unwrap();
        assert_eq!(at_1.data().value, 1);
        assert!(at_1.data().unknown.is_empty());
    }
}

#[test]
fn untyped_definitions_get_every_event_as_it_was_written() {
    let storage = MemoryStorage::new();
    storage
        .create_commit(
            1,
            &document(
                json!({"time": "2020-01-01T00:00:00.000Z"}),
                json!([
                    {"name": "anything", "data": {"x": 1}},
                    {"name": "Anything", "extra": true},
                    {"name": "third", "data": null},
                ]),
            ),
        )
        .unwrap()
        .unwrap();
    let store = Store::with_storage(storage);
    let model = store.define_model(Untyped).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        *data,
        vec![
            json!({"commit": 1, "index": 0, "event": {"name": "anything", "data": {"x": 1}}}),
            json!({"commit": 1, "index": 1, "event": {"name": "Anything", "extra": true}}),
            json!({"commit": 1, "index": 2, "event": {"name": "third", "data": null}}),
        ],
        "every name reaches apply, never the fallback"
    );

    // Untyped read-write instances dispatch untyped events.
    let outcome = model
        .with_read_write_instance(
            |view, flag| {
                view.dispatch(Event::with_data("added", json!([1, 2])))?;
                flag.ready_to_commit();
                Ok::<_, Error>(view.data().len())
            },
            1,
        )
        .unwrap();
    assert_eq!((outcome.value, outcome.commit), (4, Some(2)));
    let committed = store.read_commit(2).unwrap();
    assert_eq!(
        committed.events(),
        [Event::with_data("added", json!([1, 2]))]
    );

    // An untyped handler's refusal while folding is a Handler error.
    store.log(&Event::new("bad")).unwrap();
    assert!(matches!(
        model.aggregator_data(),
        Err(Error::Handler { commit: 3, index: 0, ref name, .. }) if name == "bad"
    ));
}

// ---------------------------------------------------------------------------------------------
// aggregator_data and read instances
// ---------------------------------------------------------------------------------------------

/// Compiles only while `T` does not implement `Dispatch<Counter>` (the `static_assertions`
/// trick: with a second impl the `_` below would be ambiguous).
trait AmbiguousIfDispatch<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfDispatch<()> for T {}
#[allow(dead_code)]
struct IsDispatch;
impl<T: ?Sized + Dispatch<Counter>> AmbiguousIfDispatch<IsDispatch> for T {}

#[test]
fn read_instances_cannot_dispatch_by_type_and_return_the_actions_result() {
    // By type: a read-only view is not a dispatcher (this line would not compile otherwise),
    // while a writer is.
    let _ = <ReadOnly<'static, Counter> as AmbiguousIfDispatch<_>>::some_item;
    fn is_dispatch<T: Dispatch<Counter>>() {}
    is_dispatch::<Writer<Counter>>();
    is_dispatch::<&mut Writer<Counter>>();

    let store = Store::memory();
    log_increments(&store, &[2, 3]);
    let model = store.define_model(Counter::default()).unwrap();
    let (value, position) = model
        .with_read_instance(|counter| (counter.value(), counter.position()))
        .unwrap();
    assert_eq!((value, position), (5, 2));

    // aggregator_data is a read-only view of the current data, brought up to the log's end.
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (5, 2));
    log_increments(&store, &[10]);
    assert_eq!(
        data.value, 5,
        "a view is of one state; it does not change under the reader"
    );
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (15, 3));
    assert_eq!(
        model.with_read_instance(|counter| counter.value()).unwrap(),
        15
    );
    assert_eq!(store.tip().unwrap(), 3, "reading writes nothing");
}

#[test]
fn a_model_sees_commits_made_by_other_stores_on_the_same_storage() {
    let storage = MemoryStorage::new();
    let mine = Store::with_storage(storage.clone());
    let theirs = Store::with_storage(storage.clone());
    let model = mine.define_model(Counter::default()).unwrap();
    assert_eq!(model.aggregator_data().unwrap().position(), 0);
    log_increments(&theirs, &[4, 4]);
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (8, 2));
}

// ---------------------------------------------------------------------------------------------
// Read-write instances
// ---------------------------------------------------------------------------------------------

#[test]
fn read_write_instances_commit_only_when_ready() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    let model = store.define_model(Counter::default()).unwrap();

    // Not ready: the action's result, nothing written.
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(5)?;
                assert!(!flag.is_ready());
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        (5, None, 1)
    );
    assert_eq!(store.tip().unwrap(), 0);
    assert_eq!(
        model.aggregator_data().unwrap().value,
        0,
        "the private copy is discarded"
    );

    // Ready, but nothing dispatched: nothing written.
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                flag.ready_to_commit();
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!((outcome.value, outcome.commit), (0, None));
    assert_eq!(store.tip().unwrap(), 0);

    // The action's error: returned, nothing written.
    let failed = model.with_read_write_instance(
        |counter, flag| {
            counter.increment(1)?;
            flag.ready_to_commit();
            Err::<(), _>(Error::InvalidEvent {
                problem: "the action changed its mind".to_owned(),
            })
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    assert!(
        matches!(failed, Err(Error::InvalidEvent { .. })),
        "{failed:?}"
    );
    assert_eq!(store.tip().unwrap(), 0);

    // Ready: one commit with every event, in order; the instance reads its own writes.
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(3)?;
                assert_eq!(counter.value(), 3);
                counter.double()?;
                assert_eq!(counter.value(), 6);
                assert_eq!(
                    counter.position(),
                    0,
                    "the position is the last commit folded"
                );
                flag.ready_to_commit();
                Ok::<_, Error>("done")
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        ("done", Some(1), 1)
    );
    let commit = store.read_commit(1).unwrap();
    assert_eq!(
        commit.events(),
        [
            Event::with_data("incremented", json!({"by": 3})),
            Event::new("doubled")
        ]
    );
    assert!(commit.headers()["time"].is_string());
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (6, 1));
    // Handlers in a read-write instance get the number its commit will have.
    assert_eq!(
        data.seen,
        vec![
            json!({"commit": 1, "index": 0, "user": null}),
            json!({"commit": 1, "index": 1, "user": null})
        ]
    );

    // A fresh model folds the same data from the log.
    let fresh = Store::with_storage(storage)
        .define_model(Counter::default())
        .unwrap();
    assert_eq!(*fresh.aggregator_data().unwrap(), *data);
}

#[test]
fn read_write_handlers_get_the_headers_of_the_commit_to_be() {
    let storage = MemoryStorage::new();
    let store = store_with_user(&storage, "bob");
    let model = store.define_model(Counter::default()).unwrap();
    model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(1)?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            1,
        )
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        data.seen,
        vec![json!({"commit": 1, "index": 0, "user": "bob"})]
    );
    assert_eq!(store.read_commit(1).unwrap().headers()["user"], "bob");
}

#[test]
fn a_refused_event_fails_the_instance_and_writes_nothing() {
    let store = Store::memory();
    log_increments(&store, &[10]);
    let model = store.define_model(Counter::default()).unwrap();
    let result = model.with_read_write_instance(
        |counter, flag| {
            counter.increment(1)?;
            counter.increment(-1)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    match result {
        Err(Error::Rejected { name, message }) => {
            assert_eq!(name, "incremented");
            assert!(message.contains("cannot increment by -1"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(store.tip().unwrap(), 1);
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (10, 1));
}

/// The brief: "a refused event (handler error) fails the instance with Error::Rejected and
/// writes nothing"; `Dispatch::dispatch`'s documentation: "(the instance then commits
/// nothing)". Also when the action does not pass the refusal on.
#[test]
fn a_refused_event_fails_the_instance_even_when_the_action_ignores_the_refusal() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[10]);
    let model = store.define_model(Counter::default()).unwrap();
    let result = model.with_read_write_instance(
        |counter, flag| {
            counter.increment(1)?;
            let refusal = counter.increment(-1);
            assert!(
                matches!(refusal, Err(Error::Rejected { .. })),
                "{refusal:?}"
            );
            flag.ready_to_commit();
            Ok::<_, Error>(counter.value())
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    let tip = store.tip().unwrap();
    let data = model.aggregator_data().unwrap();
    let from_log = Store::with_storage(storage)
        .define_model(Counter::default())
        .unwrap()
        .aggregator_data()
        .unwrap();
    assert!(
        matches!(result, Err(Error::Rejected { .. })),
        "the instance must fail with Rejected, got {result:?} (tip {tip}; the model says {} at \
         commit {}, a fresh fold of the log says {} at commit {})",
        data.value,
        data.position(),
        from_log.value,
        from_log.position()
    );
    assert_eq!(tip, 1, "nothing written");
    assert_eq!((data.value, data.position()), (10, 1));
}

#[test]
fn the_ready_flag_is_unset_at_every_attempt() {
    let storage = MemoryStorage::new();
    let interloper = Store::with_storage(storage.clone());
    let model = Store::with_storage(storage.clone())
        .define_model(Counter::default())
        .unwrap();
    let mut calls = 0;
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                calls += 1;
                assert!(!flag.is_ready(), "attempt {calls} starts unset");
                if calls == 1 {
                    // Another writer commits first: this attempt loses its race.
                    interloper.log(&incremented(100)).unwrap();
                    counter.increment(1)?;
                    flag.ready_to_commit();
                } else {
                    counter.increment(2)?;
                }
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(calls, 2);
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        (102, None, 2)
    );
    assert_eq!(
        interloper.tip().unwrap(),
        1,
        "the second attempt did not commit"
    );
}

#[test]
fn a_lost_race_runs_the_action_again_on_the_new_state() {
    let storage = MemoryStorage::new();
    let interloper = Store::with_storage(storage.clone());
    let model = Store::with_storage(storage.clone())
        .define_model(Counter::default())
        .unwrap();
    let mut seen = Vec::new();
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                seen.push((counter.value(), counter.position()));
                if seen.len() == 1 {
                    interloper.log(&incremented(100)).unwrap();
                }
                counter.double()?;
                flag.ready_to_commit();
                Ok::<_, Error>(counter.value())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(seen, [(0, 0), (100, 1)]);
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        (200, Some(2), 2)
    );
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (200, 2));
    assert_eq!(commit_numbers(&interloper), [1, 2]);
}

#[test]
fn out_of_attempts_is_retries_exhausted_with_nothing_written() {
    for max_attempts in [1, 3, DEFAULT_MAX_ATTEMPTS] {
        let storage = MemoryStorage::new();
        let interloper = Store::with_storage(storage.clone());
        let model = Store::with_storage(storage.clone())
            .define_model(Counter::default())
            .unwrap();
        let mut calls = 0;
        let result = model.with_read_write_instance(
            |counter, flag| {
                calls += 1;
                interloper.log(&incremented(1)).unwrap();
                counter.increment(1000)?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            max_attempts,
        );
        assert!(
            matches!(result, Err(Error::RetriesExhausted { attempts }) if attempts == max_attempts),
            "{result:?}"
        );
        assert_eq!(calls, max_attempts);
        let tip = interloper.tip().unwrap();
        assert_eq!(
            tip,
            u64::from(max_attempts),
            "only the interloper's commits"
        );
        let data = model.aggregator_data().unwrap();
        assert_eq!(
            data.value,
            i64::from(max_attempts),
            "none of the instance's increments"
        );
    }
    assert_eq!(DEFAULT_MAX_ATTEMPTS, 5);
}

#[test]
fn zero_attempts_fails_at_once() {
    let store = Store::memory();
    let model = store.define_model(Counter::default()).unwrap();
    let mut called = false;
    let result = model.with_read_write_instance(
        |counter, flag: &mut CommitFlag| {
            called = true;
            counter.increment(1)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        0,
    );
    assert!(
        matches!(result, Err(Error::RetriesExhausted { attempts: 0 })),
        "{result:?}"
    );
    assert!(!called);
    assert_eq!(store.tip().unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// Refusals while folding the log: whole commits only
// ---------------------------------------------------------------------------------------------

#[test]
fn a_handler_error_while_folding_names_the_commit_and_keeps_the_last_whole_commit() {
    let (_temp, path) = temp_folder();
    let store = Store::open(&path).unwrap();
    log_increments(&store, &[1, 2]);
    assert_eq!(log_block_of(&store, &[5, -1, 7]), 3);

    let model = store.define_model(Counter::default()).unwrap();
    for _ in 0..2 {
        match model.aggregator_data() {
            Err(Error::Handler {
                commit,
                location,
                index,
                name,
                message,
            }) => {
                assert_eq!((commit, index), (3, 1));
                assert_eq!(name, "incremented");
                assert!(location.ends_with("3.log"), "{location}");
                assert!(message.contains("cannot increment by -1"), "{message}");
            }
            other => panic!("expected a Handler error, got {other:?}"),
        }
    }
    let message = model.aggregator_data().unwrap_err().to_string();
    assert!(
        message.contains("commit 3") && message.contains("incremented"),
        "{message}"
    );
    assert!(matches!(
        model.with_read_instance(|c| c.value()),
        Err(Error::Handler { commit: 3, .. })
    ));
    assert!(matches!(
        model.snapshot(),
        Err(Error::Handler { commit: 3, .. })
    ));
    assert!(model.report().skipped_commits.is_empty());

    // The model stayed at commit 2, with nothing of commit 3: once the commit is fixed (here
    // by hand, on a copy of our own), the model folds commit 3 once, whole.
    overwrite(
        &path.join("3.log"),
        &document(
            json!({"time": "2020-01-01T00:00:00.000Z"}),
            json!([
                {"name": "incremented", "data": {"by": 5}},
                {"name": "incremented", "data": {"by": 0}},
                {"name": "incremented", "data": {"by": 7}},
            ]),
        ),
    );
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (15, 3));
    let commits: Vec<u64> = data
        .seen
        .iter()
        .map(|s| s["commit"].as_u64().unwrap())
        .collect();
    assert_eq!(commits, [1, 2, 3, 3, 3]);
}

#[test]
fn skip_failing_commits_skips_whole_commits_and_reports_them() {
    let store = Store::memory();
    log_increments(&store, &[1, 2]);
    log_block_of(&store, &[5, -1, 7]);
    log_increments(&store, &[10]);
    log_block_of(&store, &[-3]);
    log_increments(&store, &[100]);

    let model = store
        .model(Counter::default())
        .skip_failing_commits(true)
        .build()
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (113, 6));
    let commits: Vec<u64> = data
        .seen
        .iter()
        .map(|s| s["commit"].as_u64().unwrap())
        .collect();
    assert_eq!(commits, [1, 2, 4, 6], "nothing of commits 3 and 5");
    let report = model.report();
    let skipped: Vec<(u64, bool)> = report
        .skipped_commits
        .iter()
        .map(|s| (s.commit, s.reason.contains("cannot increment by")))
        .collect();
    assert_eq!(skipped, [(3, true), (5, true)]);

    // Folding on does not skip them again, and later commits fold in.
    log_increments(&store, &[1000]);
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (1113, 7));
    assert_eq!(model.report().skipped_commits.len(), 2);

    // Without the option, the same log stops at commit 2.
    let strict = store.define_model(Counter::default()).unwrap();
    assert!(matches!(
        strict.aggregator_data(),
        Err(Error::Handler { commit: 3, .. })
    ));
}

#[test]
fn models_fold_only_commits_after_their_position() {
    let (_temp, path) = temp_folder();
    let store = Store::open(&path).unwrap();
    log_increments(&store, &[1, 2, 3]);
    let model = store.define_model(Counter::default()).unwrap();
    assert_eq!(model.aggregator_data().unwrap().value, 6);

    // Damage a commit the model has folded already: it never reads it again.
    overwrite(&path.join("2.log"), b"{ this is not json");
    log_increments(&store, &[10]);
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (16, 4));
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(100)?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            1,
        )
        .unwrap();
    assert_eq!(outcome.commit, Some(5));
    assert_eq!(model.aggregator_data().unwrap().value, 116);

    // The damage is real: a fresh model, which must fold commit 2, reports it.
    let fresh = Store::open(&path)
        .unwrap()
        .define_model(Counter::default())
        .unwrap();
    assert!(
        matches!(
            fresh.aggregator_data(),
            Err(Error::CorruptCommit { commit: 2, .. })
        ),
        "{:?}",
        fresh.aggregator_data()
    );
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

#[test]
fn snapshot_saves_the_data_at_the_models_position_in_the_originals_format() {
    let (_temp, path) = temp_folder();
    let store = Store::open(&path).unwrap();
    let model = store.define_model(Counter::named("counter")).unwrap();
    assert_eq!(model.snapshot().unwrap(), None, "nothing at commit 0");
    assert!(store.snapshot_labels("counter").unwrap().is_empty());
    assert!(!path.join("0.counter-snapshot").exists());

    log_increments(&store, &[1, 2, 3]);
    assert_eq!(model.snapshot().unwrap(), Some(3));
    let file = read_json(&path.join("3.counter-snapshot"));
    assert!(file["headers"].is_object(), "{file}");
    assert!(file["headers"]["time"].is_string(), "{file}");
    let data = model.aggregator_data().unwrap();
    assert_eq!(file["snapshot"], value_of(&*data));
    assert_eq!(file["snapshot"]["value"], 6);

    // An existing snapshot at the same label is success (and is left as it is).
    let before = fs::read(path.join("3.counter-snapshot")).unwrap();
    assert_eq!(model.snapshot().unwrap(), Some(3));
    assert_eq!(fs::read(path.join("3.counter-snapshot")).unwrap(), before);

    // A fresh model restores from it, and folds what came after.
    log_increments(&store, &[10]);
    let fresh = Store::open(&path)
        .unwrap()
        .define_model(Counter::named("counter"))
        .unwrap();
    let restored = fresh.aggregator_data().unwrap();
    assert_eq!((restored.value, restored.position()), (16, 4));
    assert_eq!(fresh.report().restored_from, Some(3));

    // A model without a snapshot name saves nothing.
    assert_eq!(
        store
            .define_model(Counter::default())
            .unwrap()
            .snapshot()
            .unwrap(),
        None
    );
    assert_eq!(store.snapshot_labels("counter").unwrap(), [3]);
}

#[test]
fn an_existing_snapshot_at_the_label_is_success_and_is_not_overwritten() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 2]);
    let existing = snapshot_document(
        json!({"time": "2020-01-01T00:00:00.000Z"}),
        json!({"value": 3}),
    );
    storage
        .create_snapshot("counter", 2, &existing)
        .unwrap()
        .unwrap();
    let model = store.define_model(Counter::named("counter")).unwrap();
    assert_eq!(model.snapshot().unwrap(), Some(2));
    assert_eq!(
        storage.read_snapshot("counter", 2).unwrap().unwrap(),
        existing
    );
}

#[test]
fn a_snapshot_is_labelled_with_the_last_commit_the_model_folded_in() {
    // Another writer commits while the model saves its snapshot (from inside the header
    // factory, which the snapshot's headers are made with): the original would label the
    // snapshot with the new tip; foldstore labels it with the commits its data holds.
    let storage = MemoryStorage::new();
    let interloper = Store::with_storage(storage.clone());
    let hook = Arc::new(AtomicBool::new(false));
    let store = {
        let hook = Arc::clone(&hook);
        let interloper = interloper.clone();
        Store::builder("memory")
            .storage(storage.clone())
            .headers(move || {
                if hook.swap(false, Ordering::SeqCst) {
                    interloper.log(&incremented(100)).unwrap();
                }
                Headers::new()
            })
            .open()
            .unwrap()
    };
    log_increments(&interloper, &[1, 1, 1]);
    let model = store.define_model(Counter::named("counter")).unwrap();
    assert_eq!(model.aggregator_data().unwrap().value, 3);
    hook.store(true, Ordering::SeqCst);
    let label = model.snapshot().unwrap().expect("a snapshot");
    assert!(
        !hook.load(Ordering::SeqCst),
        "the other writer committed during the snapshot"
    );
    assert_eq!(interloper.tip().unwrap(), 4);
    let saved = store.read_snapshot("counter", label).unwrap().unwrap();
    let expected = if label == 3 { 3 } else { 103 };
    assert_eq!(
        saved.data.unwrap()["value"],
        expected,
        "snapshot labelled {label}"
    );
    assert_eq!(
        label, 3,
        "the model had folded commits 1 to 3 when it saved"
    );
}

#[test]
fn restoring_uses_the_newest_sound_snapshot_and_reports_the_others() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 1, 1, 1, 1, 1]);
    let headers = json!({"time": "2020-01-01T00:00:00.000Z"});
    let put = |commit: u64, bytes: Vec<u8>| {
        storage
            .create_snapshot("counter", commit, &bytes)
            .unwrap()
            .unwrap();
    };
    put(1, snapshot_document(headers.clone(), json!({"value": 10})));
    put(2, snapshot_document(headers.clone(), json!({"value": 100})));
    put(3, b"{ damaged".to_vec());
    put(4, serde_json::to_vec(&json!({"headers": headers})).unwrap());
    put(
        5,
        snapshot_document(headers.clone(), json!({"value": "not a number"})),
    );
    put(9, snapshot_document(headers.clone(), json!({"value": 900})));

    let model = store.define_model(Counter::named("counter")).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        (data.value, data.position()),
        (104, 6),
        "snapshot 2 plus commits 3 to 6"
    );
    let report = model.report();
    assert_eq!(report.restored_from, Some(2));
    assert_eq!(
        skipped_snapshot_labels(&report),
        BTreeSet::from([3, 4, 5, 9])
    );
    for skipped in &report.skipped_snapshots {
        assert!(!skipped.reason.is_empty());
        assert!(skipped.location.contains("counter"), "{skipped:?}");
    }
    let reason = |commit: u64| {
        report
            .skipped_snapshots
            .iter()
            .find(|s| s.commit == commit)
            .unwrap()
            .reason
            .clone()
    };
    assert!(reason(4).contains("snapshot"), "{}", reason(4));
    assert!(
        reason(9).contains('9') && reason(9).contains('6'),
        "{}",
        reason(9)
    );

    // Snapshots of other names are not this model's.
    let other = store.define_model(Counter::named("other")).unwrap();
    assert_eq!(other.aggregator_data().unwrap().value, 6);
    assert_eq!(other.report().restored_from, None);
    assert!(other.report().skipped_snapshots.is_empty());
}

#[test]
fn snapshots_of_another_model_version_are_skipped() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 1, 1, 1, 1]);
    let put = |commit: u64, headers: Value, value: i64| {
        let bytes = snapshot_document(headers, json!({"value": value}));
        storage
            .create_snapshot("counter", commit, &bytes)
            .unwrap()
            .unwrap();
    };
    put(1, json!({"version": 2}), 100);
    put(2, json!({}), 200);
    put(3, json!({"version": 1}), 300);
    put(4, json!({"version": "2"}), 400);

    let model = store
        .define_model(Counter::versioned("counter", 2))
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (104, 5));
    let report = model.report();
    assert_eq!(report.restored_from, Some(1));
    assert_eq!(skipped_snapshot_labels(&report), BTreeSet::from([2, 3, 4]));

    // Its own snapshots carry its version, and restore.
    assert_eq!(model.snapshot().unwrap(), Some(5));
    let saved = store.read_snapshot("counter", 5).unwrap().unwrap();
    assert_eq!(saved.headers["version"], 2);
    assert_eq!(saved.data.unwrap()["value"], 104);
    let again = Store::with_storage(storage.clone())
        .define_model(Counter::versioned("counter", 2))
        .unwrap();
    assert_eq!(again.aggregator_data().unwrap().value, 104);
    assert_eq!(again.report().restored_from, Some(5));

    // Version 3 trusts none of them and folds the log.
    let newer = Store::with_storage(storage.clone())
        .define_model(Counter::versioned("counter", 3))
        .unwrap();
    assert_eq!(newer.aggregator_data().unwrap().value, 5);
    assert_eq!(newer.report().restored_from, None);
    assert_eq!(
        skipped_snapshot_labels(&newer.report()),
        BTreeSet::from([1, 2, 3, 4, 5])
    );

    // A model that declares no version takes the newest sound snapshot whatever its headers.
    let unversioned = Store::with_storage(storage)
        .define_model(Counter::named("counter"))
        .unwrap();
    assert_eq!(unversioned.aggregator_data().unwrap().value, 104);
    assert_eq!(unversioned.report().restored_from, Some(5));
}

#[test]
fn snapshot_every_takes_snapshots_automatically() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    let model = store
        .model(Counter::named("counter"))
        .snapshot_every(3)
        .build()
        .unwrap();
    for _ in 0..7 {
        model
            .with_read_write_instance(
                |counter, flag| {
                    counter.increment(1)?;
                    flag.ready_to_commit();
                    Ok::<_, Error>(())
                },
                1,
            )
            .unwrap();
    }
    assert_eq!(store.snapshot_labels("counter").unwrap(), [3, 6]);
    let at_6 = store.read_snapshot("counter", 6).unwrap().unwrap();
    assert_eq!(at_6.data.unwrap()["value"], 6);

    // Commits made elsewhere, folded at once, are snapshotted too.
    log_increments(&Store::with_storage(storage.clone()), &[1, 1, 1, 1, 1]);
    assert_eq!(model.aggregator_data().unwrap().position(), 12);
    assert_eq!(store.snapshot_labels("counter").unwrap(), [3, 6, 12]);
    assert!(model.report().failed_snapshots.is_empty());

    // A fresh model restores from the newest.
    let fresh = Store::with_storage(storage.clone())
        .define_model(Counter::named("counter"))
        .unwrap();
    assert_eq!(fresh.aggregator_data().unwrap().value, 12);
    assert_eq!(fresh.report().restored_from, Some(12));

    // Zero means never.
    let never_storage = MemoryStorage::new();
    let never = Store::with_storage(never_storage.clone())
        .model(Counter::named("counter"))
        .snapshot_every(0)
        .build()
        .unwrap();
    log_increments(&Store::with_storage(never_storage), &[1, 1, 1, 1]);
    assert_eq!(never.aggregator_data().unwrap().value, 4);
    assert!(never.store().snapshot_labels("counter").unwrap().is_empty());
}

#[test]
fn snapshot_names_that_cannot_be_file_names_are_refused() {
    let store = Store::memory();
    for name in ["", "a.b", "a/b", "a\\b", "a\0b"] {
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        assert!(
            matches!(
                store.define_model(Counter::named(leaked)),
                Err(Error::InvalidSnapshotName { .. })
            ),
            "{name:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Time travel
// ---------------------------------------------------------------------------------------------

#[test]
fn at_commit_gives_the_model_as_of_that_commit() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 1, 1, 1, 1]);
    let distinct = snapshot_document(json!({}), json!({"value": 300}));
    storage
        .create_snapshot("counter", 3, &distinct)
        .unwrap()
        .unwrap();

    let model = store.define_model(Counter::named("counter")).unwrap();
    // At 4: from the newest snapshot at or below 4 (3), then commit 4.
    let at_4 = model.at_commit(4).unwrap();
    assert_eq!((at_4.data().value, at_4.position()), (301, 4));
    // At 2: the snapshot at 3 is not used.
    let at_2 = model.at_commit(2).unwrap();
    assert_eq!((at_2.data().value, at_2.position()), (2, 2));
    assert_eq!(model.aggregator_data().unwrap().value, 302);
    // The model being at 5 changes nothing about the past, and the past nothing about it.
    assert_eq!(model.at_commit(2).unwrap().data().value, 2);
    assert_eq!(model.at_commit(3).unwrap().data().value, 300);
    assert_eq!(model.at_commit(5).unwrap().data().value, 302);
    let at_0 = model.at_commit(0).unwrap();
    assert_eq!((at_0.data().value, at_0.position()), (0, 0));
    assert!(matches!(
        model.at_commit(6),
        Err(Error::OutOfRange {
            requested: 6,
            tip: 5
        })
    ));
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (302, 5));
    assert_eq!(
        at_2.with_read_instance(|counter| (counter.value(), counter.position())),
        (2, 2)
    );
}

#[test]
fn at_time_takes_the_longest_prefix_not_later_than_the_time() {
    let storage = MemoryStorage::new();
    let times = [
        json!({"time": "2020-01-01T00:00:00.000Z"}),
        json!({}),
        json!({"time": "not a time"}),
        json!({"time": "2020-01-03T00:00:00.000Z"}),
        json!({"time": "2020-01-02T00:00:00.000Z"}),
        json!({"time": "2020-01-04T00:00:00.000Z"}),
    ];
    for (i, headers) in times.into_iter().enumerate() {
        let commit = i as u64 + 1;
        let event = json!([{"name": "incremented", "data": {"by": 1_i64 << i}}]);
        storage
            .create_commit(commit, &document(headers, event))
            .unwrap()
            .unwrap();
    }
    let model = Store::with_storage(storage)
        .define_model(Counter::default())
        .unwrap();
    let cases = [
        ("2019-12-31T23:59:59Z", 0),
        ("2020-01-01T00:00:00Z", 3),
        ("2020-01-02T12:00:00Z", 3),
        ("2020-01-03T00:00:00Z", 5),
        ("2020-01-03T23:00:00Z", 5),
        ("2020-01-04T00:00:00Z", 6),
        ("2030-01-01T00:00:00Z", 6),
    ];
    for (at, position) in cases {
        let then = model.at_time(time(at)).unwrap();
        assert_eq!(then.position(), position, "at {at}");
        assert_eq!(then.data().value, (1_i64 << position) - 1, "at {at}");
    }
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

#[test]
fn one_model_is_shared_by_many_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Model<Counter>>();
    send_sync::<Model<Membership>>();
    send_sync::<Model<Untyped>>();

    const WRITERS: usize = 4;
    const CALLS: usize = 20;
    const READS: usize = 200;
    let store = Store::memory();
    let model = store.define_model(Counter::default()).unwrap();
    let (successes, failures) = thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let model = model.clone();
                scope.spawn(move || {
                    let (mut ok, mut failed) = (0_u64, 0_u64);
                    for _ in 0..CALLS {
                        let result = model.with_read_write_instance(
                            |counter, flag| {
                                counter.increment(1)?;
                                flag.ready_to_commit();
                                Ok::<_, Error>(())
                            },
                            50,
                        );
                        match result {
                            Ok(outcome) => {
                                assert!(outcome.commit.is_some());
                                ok += 1;
                            }
                            Err(Error::RetriesExhausted { attempts: 50 }) => failed += 1,
                            Err(other) => panic!("{other}"),
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let model = &model;
                scope.spawn(move || {
                    let mut last = 0;
                    for _ in 0..READS {
                        let data = model.aggregator_data().unwrap();
                        assert!(data.position() >= last, "positions never go back");
                        assert_eq!(data.value, data.position() as i64, "whole commits only");
                        last = data.position();
                    }
                })
            })
            .collect();
        for reader in readers {
            reader.join().unwrap();
        }
        writers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    });
    assert_eq!(successes + failures, (WRITERS * CALLS) as u64);
    let data = model.aggregator_data().unwrap();
    assert_eq!(data.value, successes as i64);
    assert_eq!(data.position(), successes);
    assert_eq!(store.tip().unwrap(), successes);
}

/// Each of `threads` threads opens its own store with `open` and its own model, and runs
/// `calls` read-write increments with `max_attempts`. The first attempt of every thread's first
/// call waits, after reading the state, until every thread has read it: so every thread but one
/// loses its first race, whatever the scheduling.
fn race(
    open: impl Fn() -> Store + Sync,
    threads: usize,
    calls: usize,
    max_attempts: u32,
) -> Vec<RaceTally> {
    let gate = Barrier::new(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (open, gate) = (&open, &gate);
                scope.spawn(move || {
                    let model = open().define_model(common::counter::Counter).unwrap();
                    race_increments(&model, calls as u64, max_attempts, || {
                        gate.wait();
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn read_write_instances_race_from_eight_threads_on_memory() {
    const THREADS: usize = 8;
    const CALLS: usize = 25;
    let storage = MemoryStorage::new();
    let tallies = race(|| Store::with_storage(storage.clone()), THREADS, CALLS, 3);
    check_race(
        &tallies,
        &Store::with_storage(storage),
        (THREADS * CALLS) as u64,
        THREADS as u64,
    );
}

#[test]
fn read_write_instances_race_from_eight_threads_on_a_folder() {
    const THREADS: usize = 8;
    const CALLS: usize = 25;
    let (_temp, path) = temp_folder();
    let open = || {
        Store::builder(&path)
            .durability(Durability::None)
            .open()
            .unwrap()
    };
    let tallies = race(open, THREADS, CALLS, 3);
    check_race(
        &tallies,
        &Store::open(&path).unwrap(),
        (THREADS * CALLS) as u64,
        THREADS as u64,
    );
}
