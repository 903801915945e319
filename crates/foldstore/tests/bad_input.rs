//! A folder store with damaged content: every kind of damage is reported with the file's path
//! and what is wrong, the events before the damage are still delivered, reading never changes
//! the folder, and `verify` lists every problem at once.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use foldstore::{Commit, Error, Event, Store};
use proptest::prelude::*;
use tempfile::TempDir;

/// A folder store holding commits 1..=count, commit n holding one event `e{n}`.
struct Damaged {
    _dir: TempDir,
    folder: PathBuf,
}

impl Damaged {
    fn with_commits(count: u64) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let folder = dir.path().join("store");
        let writer = Store::open(&folder).expect("open");
        writer.ensure_folder().expect("ensure_folder");
        for n in 1..=count {
            assert_eq!(writer.log(&Event::new(format!("e{n}"))).expect("log"), n);
        }
        Damaged { _dir: dir, folder }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.folder.join(name)
    }

    /// Writes damage as a crashed writer would have left it, long ago: readers report it at
    /// once (damage written a moment ago may be a write in progress, given a grace period).
    fn write(&self, name: &str, bytes: &[u8]) {
        let path = self.path(name);
        fs::write(&path, bytes).expect("write the damage");
        fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| {
                file.set_modified(
                    std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
                )
            })
            .expect("date the damage an hour ago");
    }

    fn remove(&self, name: &str) {
        fs::remove_file(self.path(name)).expect("remove");
    }

    /// A new store instance on the folder, as another process would open it.
    fn reader(&self) -> Store {
        Store::open(&self.folder).expect("open")
    }

    /// Every file in the folder with its bytes.
    fn contents(&self) -> BTreeMap<String, Vec<u8>> {
        folder_contents(&self.folder)
    }
}

fn folder_contents(folder: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(folder)
        .expect("read_dir")
        .map(|entry| {
            let entry = entry.expect("entry");
            (
                entry.file_name().to_string_lossy().into_owned(),
                fs::read(entry.path()).expect("read"),
            )
        })
        .collect()
}

/// Replays the whole log, returning the names of the events seen and the outcome.
fn replay(store: &Store) -> (Vec<String>, Result<foldstore::ReplaySummary, Error>) {
    let mut seen = Vec::new();
    let result = store.replay_event_stream(|event, _| seen.push(event.name().to_owned()));
    (seen, result)
}

const VALID: &[u8] =
    br#"{"headers":{"time":"2026-11-27T15:03:30.380Z"},"events":[{"name":"e3","data":{"a":1}}]}"#;

/// Each kind of damage, and words its description must contain.
fn damages() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("empty file", Vec::new(), "is empty"),
        (
            "whitespace only",
            b" \n\t\r\n ".to_vec(),
            "holds only whitespace",
        ),
        ("truncated JSON", VALID[..40].to_vec(), "ends too early"),
        (
            "garbage bytes",
            b"\x00\x01\x02 garbage }{".to_vec(),
            "is not valid JSON",
        ),
        (
            "invalid UTF-8",
            b"{\"headers\":{},\"events\":[{\"name\":\"\xff\xfe\"}]}".to_vec(),
            "is not valid JSON",
        ),
        (
            "a JSON array",
            b"[{\"name\":\"e3\"}]".to_vec(),
            "is an array, not a JSON object",
        ),
        (
            "a JSON number",
            b"42".to_vec(),
            "is a number, not a JSON object",
        ),
        (
            "a JSON string",
            b"\"events\"".to_vec(),
            "is a string, not a JSON object",
        ),
        (
            "no events",
            br#"{"headers":{}}"#.to_vec(),
            "has no `events` array",
        ),
        (
            "events not an array",
            br#"{"headers":{},"events":{"name":"e3"}}"#.to_vec(),
            "has an `events` member that is an object, not an array",
        ),
        (
            "an event without a name",
            br#"{"headers":{},"events":[{"name":"ok"},{"data":1}]}"#.to_vec(),
            "has an event (#1) that has no `name`",
        ),
        (
            "an event whose name is not a string",
            br#"{"headers":{},"events":[{"name":3}]}"#.to_vec(),
            "has an event (#0) that has a `name` that is a number, not a string",
        ),
        (
            "an event that is not an object",
            br#"{"headers":{},"events":["e3"]}"#.to_vec(),
            "has an event (#0) that is a string, not an object",
        ),
        (
            "headers not an object",
            br#"{"headers":["time"],"events":[]}"#.to_vec(),
            "has a `headers` member that is an array, not an object",
        ),
    ]
}

#[test]
fn each_kind_of_damage_fails_the_replay_with_the_path_and_the_problem() {
    for (kind, bytes, expected) in damages() {
        let store = Damaged::with_commits(4);
        store.write("3.log", &bytes);
        let location = store.path("3.log").display().to_string();
        let before = store.contents();
        let reader = store.reader();

        let (seen, result) = replay(&reader);
        assert_eq!(
            seen,
            ["e1", "e2"],
            "{kind}: the events before the damage, none after"
        );
        let error = result.expect_err(kind);
        match &error {
            Error::CorruptCommit {
                commit,
                location: at,
                problem,
            } => {
                assert_eq!(*commit, 3, "{kind}");
                assert_eq!(at, &location, "{kind}");
                assert!(
                    problem.contains(expected),
                    "{kind}: {problem:?} lacks {expected:?}"
                );
            }
            other => panic!("{kind}: expected CorruptCommit, got {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains(&location), "{kind}: {message}");
        assert!(message.contains(expected), "{kind}: {message}");

        // The iterator yields the commits before, then the error once, then ends.
        let results: Vec<Result<Commit, Error>> = reader.commits(..).collect();
        assert_eq!(results.len(), 3, "{kind}");
        assert_eq!(results[0].as_ref().expect("commit 1").number(), 1);
        assert_eq!(results[1].as_ref().expect("commit 2").number(), 2);
        assert!(
            matches!(results[2], Err(Error::CorruptCommit { commit: 3, .. })),
            "{kind}"
        );
        assert!(
            matches!(
                reader.read_commit(3),
                Err(Error::CorruptCommit { commit: 3, .. })
            ),
            "{kind}"
        );
        // A replay past the damage, and one that stops before it, are unaffected.
        assert_eq!(
            reader.replay().from(4).run(|_, _| {}).expect(kind).commits,
            1
        );
        assert_eq!(reader.replay().to(2).run(|_, _| {}).expect(kind).commits, 2);

        let report = reader.verify(|_, _| {}).expect("verify");
        assert!(!report.is_sound(), "{kind}");
        assert_eq!(report.tip, 4);
        assert_eq!(report.sound_commits, 3, "{kind}");
        assert_eq!(report.problems.len(), 1, "{kind}: {:?}", report.problems);
        assert_eq!(report.problems[0].location, location, "{kind}");
        assert!(
            report.problems[0].problem.contains(expected),
            "{kind}: {:?}",
            report.problems[0]
        );

        assert_eq!(reader.tip().expect("tip"), 4);
        assert_eq!(
            store.contents(),
            before,
            "{kind}: reading changed the folder"
        );
    }
}

#[test]
fn a_damaged_last_commit_is_reported_as_cut_short() {
    let store = Damaged::with_commits(3);
    store.write("3.log", &VALID[..VALID.len() - 3]);
    let before = store.contents();
    let (seen, result) = replay(&store.reader());
    assert_eq!(seen, ["e1", "e2"]);
    match result {
        Err(Error::CorruptCommit {
            commit: 3,
            location,
            problem,
        }) => {
            assert_eq!(location, store.path("3.log").display().to_string());
            assert!(problem.contains("cut short"), "{problem}");
        }
        other => panic!("expected CorruptCommit, got {other:?}"),
    }
    assert_eq!(store.contents(), before);
}

#[test]
fn a_gap_fails_the_replay_as_a_missing_commit() {
    let store = Damaged::with_commits(3);
    store.remove("2.log");
    let location = store.path("2.log").display().to_string();
    let before = store.contents();
    let reader = store.reader();
    let (seen, result) = replay(&reader);
    assert_eq!(seen, ["e1"]);
    let error = result.expect_err("a gap");
    match &error {
        Error::MissingCommit {
            commit,
            location: at,
            next,
        } => {
            assert_eq!((*commit, *next), (2, 3));
            assert_eq!(at, &location);
        }
        other => panic!("expected MissingCommit, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&location), "{message}");
    assert!(message.contains("missing"), "{message}");
    assert!(matches!(
        reader.commits(2..).next(),
        Some(Err(Error::MissingCommit { commit: 2, .. }))
    ));
    // Another instance that has not looked at the folder yet finds the gap too.
    assert!(matches!(
        store.reader().replay().from(2).run(|_, _| {}),
        Err(Error::MissingCommit {
            commit: 2,
            next: 3,
            ..
        })
    ));

    let report = reader.verify(|_, _| {}).expect("verify");
    assert!(!report.is_sound());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].location, location);
    assert!(report.problems[0].problem.contains("missing"));
    assert_eq!(report.sound_commits, 2);
    assert_eq!(store.contents(), before, "reading changed the folder");
}

#[test]
fn a_gap_of_several_commits_is_one_problem_naming_them() {
    let store = Damaged::with_commits(5);
    store.remove("2.log");
    store.remove("3.log");
    store.remove("4.log");
    let report = store.reader().verify(|_, _| {}).expect("verify");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(
        report.problems[0].location,
        store.path("2.log").display().to_string()
    );
    assert!(
        report.problems[0].problem.contains("2 to 4"),
        "{:?}",
        report.problems[0]
    );
    let (seen, result) = replay(&store.reader());
    assert_eq!(seen, ["e1"]);
    assert!(matches!(
        result,
        Err(Error::MissingCommit {
            commit: 2,
            next: 5,
            ..
        })
    ));
}

#[test]
fn verify_lists_every_problem_with_its_path() {
    let store = Damaged::with_commits(7);
    store.write("2.log", b"");
    store.remove("3.log");
    store.write("4.log", b"\xff\xfe garbage");
    store.write("6.log", br#"{"headers":{},"events":7}"#);
    store.write("5.members-snapshot", b"{\"headers\":{},\"snapshot\":");
    store.write(
        "2.others-snapshot",
        br#"{"headers":{"time":"2026-11-27T15:03:30.380Z"}}"#,
    );
    store.write("9.members-snapshot", br#"{"headers":{},"snapshot":{}}"#);
    store.write(
        "1.members-snapshot",
        br#"{"headers":{},"snapshot":{"count":1}}"#,
    );
    store.write("007.log", VALID);
    let before = store.contents();

    let mut progress = Vec::new();
    let report = store
        .reader()
        .verify(|done, total| progress.push((done, total)))
        .expect("verify");
    assert!(!report.is_sound());
    assert_eq!(report.tip, 7);
    assert_eq!(report.sound_commits, 3, "1, 5 and 7");
    assert_eq!(report.events, 3);
    assert_eq!(report.sound_snapshots, 1);
    let problems: BTreeMap<String, String> = report
        .problems
        .iter()
        .map(|finding| (finding.location.clone(), finding.problem.clone()))
        .collect();
    let at = |name: &str| store.path(name).display().to_string();
    let expected = [
        ("2.log", "is empty"),
        ("3.log", "missing"),
        ("4.log", "is not valid JSON"),
        ("6.log", "`events` member that is a number"),
        ("5.members-snapshot", "is not valid JSON"),
        ("9.members-snapshot", "log ends at commit 7"),
    ];
    assert_eq!(
        problems.keys().cloned().collect::<Vec<_>>(),
        {
            let mut locations: Vec<String> = expected.iter().map(|(name, _)| at(name)).collect();
            locations.sort();
            locations
        },
        "{problems:#?}"
    );
    for (name, words) in expected {
        assert!(
            problems[&at(name)].contains(words),
            "{name}: {:?} lacks {words:?}",
            problems[&at(name)]
        );
    }
    let warnings: Vec<&str> = report
        .warnings
        .iter()
        .map(|finding| finding.location.as_str())
        .collect();
    assert!(warnings.contains(&at("007.log").as_str()), "{warnings:?}");
    assert!(
        warnings.contains(&at("2.others-snapshot").as_str()),
        "{warnings:?}"
    );
    assert_eq!(warnings.len(), 2, "{:?}", report.warnings);
    // Progress counts up to the tip (7) plus the 4 snapshots, never going back.
    assert_eq!(progress.last(), Some(&(11, 11)));
    assert!(progress.iter().all(|(_, total)| *total == 11));
    assert!(progress.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert_eq!(store.contents(), before, "verify changed the folder");
}

#[test]
fn a_damaged_snapshot_is_an_error_when_loaded_and_a_problem_in_verify() {
    let store = Damaged::with_commits(3);
    let reader = store.reader();
    reader
        .save_snapshot("members", 1, &serde_json::json!({"count": 1}))
        .expect("save");
    store.write("3.members-snapshot", b"{\"snapshot\": [1, 2");
    let location = store.path("3.members-snapshot").display().to_string();
    let before = store.contents();

    let error = reader
        .load_snapshot("members", 3)
        .expect_err("the newest candidate is damaged");
    match &error {
        Error::CorruptSnapshot {
            name,
            commit,
            location: at,
            problem,
        } => {
            assert_eq!((name.as_str(), *commit), ("members", 3));
            assert_eq!(at, &location);
            assert!(problem.contains("not valid JSON"), "{problem}");
        }
        other => panic!("expected CorruptSnapshot, got {other:?}"),
    }
    assert!(error.to_string().contains(&location), "{error}");
    // Below the damage, the older snapshot is found.
    assert_eq!(
        reader
            .load_snapshot("members", 2)
            .expect("load")
            .map(|snapshot| snapshot.commit),
        Some(1)
    );

    let report = reader.verify(|_, _| {}).expect("verify");
    assert!(!report.is_sound());
    assert_eq!(report.sound_commits, 3);
    assert_eq!(report.sound_snapshots, 1);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].location, location);
    assert_eq!(store.contents(), before);
}

#[test]
fn a_sound_store_verifies_sound() {
    let store = Damaged::with_commits(3);
    let report = store.reader().verify(|_, _| {}).expect("verify");
    assert!(report.is_sound(), "{:?}", report.problems);
    assert_eq!((report.tip, report.sound_commits, report.events), (3, 3, 3));
    assert!(report.warnings.is_empty());
}

/// Replays a store whose commit 2 holds `bytes` (commits 1 and 3 are sound), checking that the
/// outcome is either a full replay or `CorruptCommit` at commit 2 after commit 1's event, and
/// that `verify` agrees.
#[test]
fn a_huge_garbage_commit_is_refused_quickly_and_left_as_it_is() {
    let store = Damaged::with_commits(3);
    // 64 MiB that starts like JSON and never becomes a commit.
    let mut huge = b"{\"events\": [".to_vec();
    huge.resize(64 << 20, b' ');
    store.write("2.log", &huge);
    let (seen, result) = replay(&store.reader());
    assert_eq!(seen, ["e1"]);
    match result {
        Err(Error::CorruptCommit {
            commit: 2, problem, ..
        }) => assert!(problem.contains("not valid JSON"), "{problem}"),
        other => panic!("expected CorruptCommit, got {other:?}"),
    }
    assert_eq!(fs::read(store.path("2.log")).unwrap().len(), 64 << 20);
}

#[test]
fn a_huge_sound_commit_replays() {
    let store = Damaged::with_commits(1);
    let writer = store.reader();
    let payload = "x".repeat(1 << 20);
    let commit = writer
        .log_block(|block| {
            for i in 0..32 {
                block.log(&Event::with_data(format!("big{i}"), payload.clone().into()))?;
            }
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();
    assert_eq!(commit, Some(2));
    let (seen, result) = replay(&store.reader());
    assert_eq!(result.unwrap().events, 33);
    assert_eq!(seen.len(), 33);
}

#[test]
fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    let store = Damaged::with_commits(3);
    let depth = 100_000;
    let mut nested = br#"{"events":[{"name":"deep","data":"#.to_vec();
    nested.extend(std::iter::repeat_n(b'[', depth));
    nested.extend(std::iter::repeat_n(b']', depth));
    nested.extend_from_slice(b"}]}");
    store.write("2.log", &nested);
    let (_, result) = replay(&store.reader());
    match result {
        Err(Error::CorruptCommit {
            commit: 2, problem, ..
        }) => assert!(problem.contains("nested too deep"), "{problem}"),
        other => panic!("expected CorruptCommit, got {other:?}"),
    }
    assert!(!store.reader().verify(|_, _| {}).unwrap().is_sound());
}

#[test]
fn nul_bytes_and_a_byte_order_mark_are_damage_with_a_reason() {
    for (bytes, expected) in [
        (&b"\0\0\0\0"[..], "not valid JSON"),
        (&b"\xef\xbb\xbf{\"events\":[]}"[..], "not valid JSON"),
        (&b"{\"events\":[{\"name\":\"a\0b\"}]}"[..], "not valid JSON"),
    ] {
        // Not the last commit, which readers would give a grace period first.
        let store = Damaged::with_commits(3);
        store.write("2.log", bytes);
        let (seen, result) = replay(&store.reader());
        assert_eq!(seen, ["e1"]);
        match result {
            Err(error @ Error::CorruptCommit { commit: 2, .. }) => {
                let message = error.to_string();
                assert!(message.contains(expected), "{message}");
                assert!(message.contains("2.log"), "{message}");
            }
            other => panic!("expected CorruptCommit, got {other:?}"),
        }
    }
}

#[test]
fn a_torn_commit_left_by_a_crashed_writer_of_the_original_is_named_once_its_grace_has_passed() {
    // The original package writes in place: a crash leaves the start of the document.
    let store = Damaged::with_commits(2);
    let path = store.path("3.log");
    fs::write(
        &path,
        br#"{"headers":{"time":"2026-11-27T15:03:30.380Z"},"events":[{"na"#,
    )
    .unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() - foldstore::IN_PROGRESS_GRACE * 2)
        .unwrap();
    let (seen, result) = replay(&store.reader());
    assert_eq!(seen, ["e1", "e2"]);
    match result {
        Err(error @ Error::CorruptCommit { commit: 3, .. }) => {
            let message = error.to_string();
            assert!(message.contains("cut short"), "{message}");
            assert!(message.contains("foldstore verify"), "{message}");
        }
        other => panic!("expected CorruptCommit, got {other:?}"),
    }
    let plan = store.reader().plan_repair().unwrap();
    assert_eq!(plan.quarantine.map(|q| q.commit), Some(3));
    assert!(plan.refused.is_empty());
}

fn replay_with_commit_2(bytes: &[u8]) -> Result<(), TestCaseError> {
    let store = Damaged::with_commits(3);
    store.write("2.log", bytes);
    let reader = store.reader();
    let (seen, result) = replay(&reader);
    let sound = match result {
        Ok(summary) => {
            prop_assert_eq!(summary.commits, 3);
            prop_assert!(serde_json::from_slice::<serde_json::Value>(bytes).is_ok());
            prop_assert_eq!(seen.first().map(String::as_str), Some("e1"));
            prop_assert_eq!(seen.last().map(String::as_str), Some("e3"));
            true
        }
        Err(Error::CorruptCommit {
            commit, location, ..
        }) => {
            prop_assert_eq!(commit, 2);
            prop_assert_eq!(location, store.path("2.log").display().to_string());
            prop_assert_eq!(seen, ["e1"]);
            false
        }
        Err(other) => return Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
    };
    let report = reader.verify(|_, _| {}).expect("verify");
    prop_assert_eq!(report.is_sound(), sound);
    prop_assert_eq!(
        fs::read(store.path("2.log")).expect("read"),
        bytes,
        "reading changed the file"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_as_a_commit_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        replay_with_commit_2(&bytes)?;
    }

    #[test]
    fn a_mangled_commit_never_panics(
        cut in 0..=VALID.len(),
        at in 0..VALID.len(),
        byte in any::<u8>(),
    ) {
        let mut bytes = VALID.to_vec();
        bytes[at] = byte;
        bytes.truncate(cut);
        replay_with_commit_2(&bytes)?;
    }
}
