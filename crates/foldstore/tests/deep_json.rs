//! Deeply nested documents: every commit a store acknowledges reads back, in both layouts;
//! commits the original package writes nested deeper than serde_json's default limit of 128
//! levels are read, replayed and verified; documents nested deeper than foldstore's limit are
//! refused by writers (nothing written) and reported as damaged by readers, never a crash.

mod common;

use std::fs;
use std::path::Path;

use common::node::{node, node_output, original_package};
use foldstore::{
    Commit, Dispatch, Error, Event, EventContext, Headers, Layout, ModelDefinition, Store, View,
};
use foldstore_testkit::nested_text;
use serde_json::{json, Map, Value};

/// The deepest a commit's event data may be nested: the document, its `events` array and the
/// event take 3 levels.
const DATA_LIMIT: usize = Commit::MAX_NESTING - 3;

/// Data nested `levels` levels deep (0: a number), alternating arrays and objects.
fn nested(levels: usize) -> Value {
    let mut value = json!(7);
    for level in 0..levels {
        value = if level % 2 == 0 {
            Value::Array(vec![value])
        } else {
            let mut object = Map::new();
            object.insert("k".to_owned(), value);
            Value::Object(object)
        };
    }
    value
}

/// How deep `value` is nested, for data made by [`nested`] (walked without recursion).
fn depth(mut value: &Value) -> usize {
    let mut levels = 0;
    loop {
        value = match value {
            Value::Array(items) if items.len() == 1 => &items[0],
            Value::Object(members) if members.len() == 1 => &members["k"],
            Value::Number(_) => return levels,
            other => panic!("not data made by `nested`: {}", other.is_array()),
        };
        levels += 1;
    }
}

/// A commit document as the original package writes it, with one event `x` holding `data`.
fn original_document(data: &str) -> String {
    format!(
        r#"{{"headers":{{"time":"2026-11-27T15:03:30.380Z"}},"events":[{{"name":"x","data":{data}}}]}}"#
    )
}

/// An outcome for a failure message: the error, or `Ok` (whose value may be too deep to print).
fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => "Ok(..)".to_owned(),
        Err(e) => format!("Err({e:?})"),
    }
}

/// The data depth of every event, replayed.
fn replayed_depths(store: &Store) -> Vec<usize> {
    let mut depths = Vec::new();
    store
        .replay_event_stream(|event, _| depths.push(event.data().map_or(0, depth)))
        .expect("replay");
    depths
}

fn new_store(path: &Path, layout: Layout) -> Store {
    let store = Store::builder(path).layout(layout).open().unwrap();
    store.ensure_folder().unwrap();
    store
}

#[test]
fn commits_nested_at_the_writers_limit_read_back_replay_and_verify_in_both_layouts() {
    for layout in [Layout::Loose, Layout::Journal] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = new_store(&path, layout);
        let event = Event::with_data("deep", nested(DATA_LIMIT));
        assert_eq!(store.log(&event).unwrap(), 1, "{layout:?}");
        // The next commit too (the journal's reader goes on past a deep record).
        assert_eq!(store.log(&Event::new("after")).unwrap(), 2, "{layout:?}");

        // A store opened afresh reads both back.
        let again = Store::open(&path).unwrap();
        assert_eq!(replayed_depths(&again), [DATA_LIMIT, 0], "{layout:?}");
        let read = again.read_commit(1).unwrap();
        assert_eq!(read.events()[0].data().map(depth), Some(DATA_LIMIT));
        // Encoded again, it is what was written (compared as bytes: the values are too deep
        // for a recursive comparison on a test thread's stack).
        assert_eq!(
            read.encode().len(),
            store.read_commit(1).unwrap().encode().len()
        );
        let report = again.verify(|_, _| {}).unwrap();
        assert!(
            report.problems.is_empty(),
            "{layout:?}: {:?}",
            report.problems
        );
        assert_eq!(report.sound_commits, 2, "{layout:?}");
        assert_eq!(again.plan_repair().unwrap().quarantine, None, "{layout:?}");
        assert_eq!(again.log(&Event::new("third")).unwrap(), 3, "{layout:?}");
    }
}

/// Data nested `levels` levels deep in objects only (0: a number).
fn nested_objects(levels: usize) -> Value {
    let mut value = json!(7);
    for _ in 0..levels {
        let mut object = Map::new();
        object.insert("k".to_owned(), value);
        value = Value::Object(object);
    }
    value
}

#[test]
fn data_nested_in_objects_only_at_the_limit_is_written_and_read_back() {
    // Objects alone nest deeper per level in the serializers than arrays do.
    for layout in [Layout::Loose, Layout::Journal] {
        let dir = tempfile::tempdir().unwrap();
        let store = new_store(&dir.path().join("store"), layout);
        let event = Event::with_data("deep", nested_objects(DATA_LIMIT));
        assert_eq!(store.log(&event).unwrap(), 1, "{layout:?}");
        let read = store.read_commit(1).unwrap();
        assert_eq!(read.events()[0].data().map(depth), Some(DATA_LIMIT));
        assert_eq!(store.log(&Event::new("after")).unwrap(), 2, "{layout:?}");
        assert_eq!(replayed_depths(&store), [DATA_LIMIT, 0], "{layout:?}");
    }
}

#[test]
fn data_one_level_deeper_is_refused_with_nothing_written() {
    for layout in [Layout::Loose, Layout::Journal] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = new_store(&path, layout);
        let files_before = fs::read_dir(&path).unwrap().count();
        let too_deep = Event::with_data("deep", nested(DATA_LIMIT + 1));
        match store.log(&too_deep) {
            Err(Error::InvalidEvent { problem }) => {
                let deepest = (Commit::MAX_NESTING + 1).to_string();
                let limit = Commit::MAX_NESTING.to_string();
                for part in ["nested too deep", &deepest, &limit, "nothing was written"] {
                    assert!(
                        problem.contains(part),
                        "{layout:?}: {problem:?} lacks {part:?}"
                    );
                }
            }
            other => panic!("{layout:?}: expected InvalidEvent, got {other:?}"),
        }
        let refused = store.log_block(|block| {
            block.log(&Event::new("fine"))?;
            block.log(&Event::with_data("deep", nested(DATA_LIMIT + 1)))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        });
        assert!(
            matches!(refused, Err(Error::InvalidEvent { .. })),
            "{layout:?}: {refused:?}"
        );
        // Far deeper: refused all the same, without overflowing the stack.
        let refused = store.log(&Event::with_data("deeper", nested(100_000)));
        assert!(
            matches!(refused, Err(Error::InvalidEvent { .. })),
            "{layout:?}"
        );
        assert_eq!(store.tip().unwrap(), 0, "{layout:?}");
        assert_eq!(
            fs::read_dir(&path).unwrap().count(),
            files_before,
            "{layout:?}"
        );
        assert_eq!(Store::open(&path).unwrap().tip().unwrap(), 0, "{layout:?}");
        // The store goes on as before.
        assert_eq!(store.log(&Event::new("fine")).unwrap(), 1, "{layout:?}");
    }
}

#[test]
fn headers_nested_too_deep_are_refused_as_headers() {
    let store = Store::builder("unused")
        .storage(foldstore::MemoryStorage::new())
        .headers(|| {
            let mut headers = Headers::new();
            headers.insert("deep".to_owned(), nested(Commit::MAX_NESTING));
            headers
        })
        .open()
        .unwrap();
    match store.log(&Event::new("x")) {
        Err(Error::InvalidHeaders { problem }) => {
            assert!(problem.contains("nested too deep"), "{problem}");
        }
        other => panic!("expected InvalidHeaders, got {other:?}"),
    }
    assert_eq!(store.tip().unwrap(), 0);
}

/// A model whose events are untyped, and whose data counts them.
struct Recorder;

impl ModelDefinition for Recorder {
    type Data = u64;
    type Event = Event;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> u64 {
        0
    }

    fn apply(&self, data: &mut u64, _: Event, _: &EventContext<'_>) -> Result<(), String> {
        *data += 1;
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

#[test]
fn read_write_instances_commit_at_the_limit_and_refuse_beyond_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir.path().join("store"), Layout::Loose);
    let model = store.define_model(Recorder).unwrap();
    let outcome = model
        .with_read_write_instance(
            |view, flag| {
                view.dispatch(Event::with_data("deep", nested(DATA_LIMIT)))?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            1,
        )
        .unwrap();
    assert_eq!(outcome.commit, Some(1));
    let refused = model.with_read_write_instance(
        |view, flag| {
            view.dispatch(Event::with_data("deep", nested(DATA_LIMIT + 1)))?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        1,
    );
    match refused {
        Err(Error::InvalidEvent { problem }) => {
            assert!(problem.contains("nested too deep"), "{problem}");
        }
        other => panic!("expected InvalidEvent, got {other:?}"),
    }
    assert_eq!(store.tip().unwrap(), 1);
    // The model, and another defined afresh, fold the deep commit.
    assert_eq!(*model.aggregator_data().unwrap(), 1);
    let again = Store::open(store.path().unwrap()).unwrap();
    assert_eq!(
        *again
            .define_model(Recorder)
            .unwrap()
            .aggregator_data()
            .unwrap(),
        1
    );
}

#[test]
fn a_document_nested_far_deeper_than_the_limit_is_damage_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = new_store(&path, Layout::Loose);
    store.log(&Event::new("before")).unwrap();
    // As a hostile or foreign writer would leave it, between two sound commits.
    fs::write(path.join("2.log"), original_document(&nested_text(100_000))).unwrap();
    // Only openings: a document that never ends.
    fs::write(path.join("3.log"), "[".repeat(100_000)).unwrap();
    fs::write(path.join("4.log"), original_document("1")).unwrap();

    let report = store.verify(|_, _| {}).unwrap();
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    for (finding, depth) in report.problems.iter().zip(["100003", "100000"]) {
        assert!(
            finding.problem.contains("nested too deep") && finding.problem.contains(depth),
            "{finding:?}"
        );
    }
    assert_eq!(report.sound_commits, 2);
    match store.read_commit(2) {
        Err(Error::CorruptCommit {
            commit: 2, problem, ..
        }) => assert!(problem.contains("nested too deep"), "{problem}"),
        other => panic!("expected CorruptCommit, got {}", outcome(&other)),
    }
    let mut names = Vec::new();
    let replayed = store.replay_event_stream(|event, _| names.push(event.name().to_owned()));
    assert!(matches!(
        replayed,
        Err(Error::CorruptCommit { commit: 2, .. })
    ));
    assert_eq!(names, ["before"]);

    // Just beyond the limit is damage too; at the limit, it is sound.
    fs::write(
        path.join("2.log"),
        original_document(&nested_text(DATA_LIMIT + 1)),
    )
    .unwrap();
    assert!(matches!(
        store.read_commit(2),
        Err(Error::CorruptCommit { commit: 2, .. })
    ));
    fs::write(
        path.join("2.log"),
        original_document(&nested_text(DATA_LIMIT)),
    )
    .unwrap();
    assert_eq!(
        store.read_commit(2).unwrap().events()[0].data().map(depth),
        Some(DATA_LIMIT)
    );
}

#[test]
fn damage_inside_deep_documents_is_described() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = new_store(&path, Layout::Loose);
    let deep = nested_text(3_000);
    let cases = [
        // Cut short inside the deep data.
        (
            original_document(&deep)[..4_000].to_owned(),
            "ends too early",
        ),
        // Sound deep data, then an event without a name.
        (
            format!(r#"{{"events":[{{"name":"a","data":{deep}}},{{"data":{deep}}}]}}"#),
            "event (#1) that has no `name`",
        ),
        // Deep `events` that is not an array.
        (
            format!(r#"{{"events":{{"x":{deep}}}}}"#),
            "`events` member that is an object",
        ),
        // Deep headers that are not an object.
        (
            format!(r#"{{"headers":[{deep}],"events":[]}}"#),
            "`headers` member that is an array",
        ),
    ];
    for (text, expected) in cases {
        fs::write(path.join("1.log"), &text).unwrap();
        fs::write(path.join("2.log"), original_document("1")).unwrap();
        match store.read_commit(1) {
            Err(Error::CorruptCommit { problem, .. }) => {
                assert!(problem.contains(expected), "{problem:?} lacks {expected:?}");
            }
            other => panic!(
                "expected CorruptCommit ({expected}), got {}",
                outcome(&other)
            ),
        }
    }
}

#[test]
fn commits_the_original_writes_200_levels_deep_are_read_replayed_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("1.log"), original_document(&nested_text(200))).unwrap();
    fs::write(path.join("2.log"), original_document("1")).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(replayed_depths(&store), [200, 0]);
    let report = store.verify(|_, _| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.sound_commits, 2);
    let plan = store.plan_repair().unwrap();
    assert_eq!(plan.quarantine, None);
    assert!(plan.refused.is_empty(), "{:?}", plan.refused);
    // Written back as the original wrote it.
    assert_eq!(
        store.read_commit(1).unwrap().encode(),
        fs::read(path.join("1.log")).unwrap()
    );
}

#[test]
fn long_replays_of_deep_commits_decode_them_on_the_read_ahead_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    fs::create_dir(&path).unwrap();
    // Enough commits for the replay to read ahead on other threads (2 MiB stacks).
    let count = 330;
    let document = original_document(&nested_text(DATA_LIMIT));
    for number in 1..=count {
        fs::write(path.join(format!("{number}.log")), &document).unwrap();
    }
    let store = Store::open(&path).unwrap();
    let depths = replayed_depths(&store);
    assert_eq!(depths.len(), count);
    assert!(depths.iter().all(|&d| d == DATA_LIMIT));
}

#[test]
fn snapshots_are_written_and_read_up_to_the_limit_and_refused_beyond() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = new_store(&path, Layout::Loose);
    store.log(&Event::new("x")).unwrap();
    // A snapshot's data starts 1 level down (in the document).
    let limit = Commit::MAX_NESTING - 1;
    store.save_snapshot("deep", 1, &nested(limit)).unwrap();
    let snapshot = store.read_snapshot("deep", 1).unwrap().unwrap();
    assert_eq!(snapshot.data.as_ref().map(depth), Some(limit));
    assert_eq!(
        store
            .load_snapshot("deep", 1)
            .unwrap()
            .unwrap()
            .data
            .as_ref()
            .map(depth),
        Some(limit)
    );
    drop(snapshot);

    match store.save_snapshot("deeper", 1, &nested(limit + 1)) {
        Err(error @ Error::Snapshot { .. }) => {
            let message = error.to_string();
            let deepest = (Commit::MAX_NESTING + 1).to_string();
            for part in [
                "nested too deep",
                &deepest,
                "deeper-snapshot",
                "nothing was written",
            ] {
                assert!(message.contains(part), "{message:?} lacks {part:?}");
            }
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(store.snapshot_labels("deeper").unwrap().is_empty());

    // The original writes snapshots deeper than 128 levels too.
    let original = format!(
        r#"{{"headers":{{"time":"2026-11-27T15:03:30.380Z","snapshotName":"orig"}},"snapshot":{}}}"#,
        nested_text(200)
    );
    fs::write(path.join("1.orig-snapshot"), original).unwrap();
    let snapshot = store.read_snapshot("orig", 1).unwrap().unwrap();
    assert_eq!(snapshot.data.as_ref().map(depth), Some(200));

    // Far deeper than the limit: damaged, not a crash.
    let hostile = format!(r#"{{"headers":{{}},"snapshot":{}}}"#, nested_text(100_000));
    fs::write(path.join("1.hostile-snapshot"), hostile).unwrap();
    match store.read_snapshot("hostile", 1) {
        Err(Error::CorruptSnapshot { problem, .. }) => {
            assert!(problem.contains("nested too deep"), "{problem}");
        }
        other => panic!("expected CorruptSnapshot, got {}", outcome(&other)),
    }
    let report = store.verify(|_, _| {}).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].location.contains("hostile"),
        "{:?}",
        report.problems
    );
    assert_eq!(report.sound_snapshots, 2);
}

#[test]
fn events_read_from_json_text_may_be_nested_as_deep_as_a_commit_holds_them() {
    let data = Event::data_from_json(&nested_text(DATA_LIMIT)).unwrap();
    assert_eq!(depth(&data), DATA_LIMIT);
    let store = Store::memory();
    assert_eq!(store.log(&Event::with_data("x", data)).unwrap(), 1);
    match Event::data_from_json(&nested_text(DATA_LIMIT + 1)) {
        Err(Error::InvalidEvent { problem }) => {
            let deepest = (DATA_LIMIT + 1).to_string();
            let limit = DATA_LIMIT.to_string();
            for part in ["nested too deep", &deepest, &limit] {
                assert!(problem.contains(part), "{problem:?} lacks {part:?}");
            }
        }
        other => panic!("expected InvalidEvent, got {}", outcome(&other)),
    }
    assert!(matches!(
        Event::data_from_json(&nested_text(100_000)),
        Err(Error::InvalidEvent { .. })
    ));
    let text = format!(r#"{{"name":"x","data":{}}}"#, nested_text(DATA_LIMIT));
    let event = Event::from_json(&text).unwrap();
    assert_eq!(event.data().map(depth), Some(DATA_LIMIT));
    assert_eq!(store.log(&event).unwrap(), 2);
    let text = format!(r#"{{"name":"x","data":{}}}"#, nested_text(DATA_LIMIT + 1));
    assert!(matches!(
        Event::from_json(&text),
        Err(Error::InvalidEvent { .. })
    ));
    assert!(matches!(
        Event::from_json("[1"),
        Err(Error::InvalidEvent { .. })
    ));
    // Copies of deep events are made and dropped without overflowing the stack.
    let copy = Event::with_data("x", nested(100_000)).clone();
    let value = copy.to_value();
    let levels = depth(&value["data"]);
    drop_carefully(value);
    assert_eq!(levels, 100_000);
}

/// Drops a value of any depth without recursing (a deep `Value` dropped as it is overflows the
/// stack: only foldstore's own types take care of that).
fn drop_carefully(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => stack.extend(members.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// The live test with the original package: it writes commits nested 200 and 4,000 levels, and
/// foldstore replays and verifies them. The package is installed (or found already installed by
/// another test file) in the same place as for the other live interop tests (see
/// [`original_package`]); without Node.js or npm, the test is skipped with a message (and fails
/// when `CI` is `true`).
#[test]
fn foldstore_replays_a_deep_commit_the_original_package_wrote() {
    let Some(modules) = original_package("the live deep-commit test of deep_json.rs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let script = r#"
        const { defineStore } = require("@scriptabuild/eventstore");
        (async () => {
            const store = defineStore(process.argv[1]);
            await store.ensureFolder();
            // 200 levels, and close to the most the original can write (about 4,100).
            for (const levels of [200, 4000]) {
                let data = 7;
                for (let level = 0; level < levels; level++) data = level % 2 ? { k: data } : [data];
                await store.log({ name: "deep", data });
            }
            await store.log({ name: "after" });
        })().catch((error) => { console.error(error); process.exitCode = 1; });
    "#;
    node_output(node(modules).args(["-e", script]).arg(&path));
    let store = Store::open(&path).unwrap();
    assert_eq!(replayed_depths(&store), [200, 4000, 0]);
    let report = store.verify(|_, _| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.sound_commits, 3);
    assert_eq!(store.plan_repair().unwrap().quarantine, None);
}
