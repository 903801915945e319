//! The journal layout of the folder backend (`storage/journal.rs`), seen from outside: layout
//! selection and detection, mixed folders and markers refused, the record format read by this
//! file's own parser, segments rolling, torn tails cut off into the quarantine, damage inside
//! the journal, threads and processes writing at once, writers killed with SIGKILL, and models
//! with snapshots.
//!
//! The test binary runs itself again as worker processes: [`journal_worker`] does nothing unless
//! the environment variable [`ROLE`] says what to do; then it writes to the store named by
//! [`FOLDER`] and prints one line on stdout per acknowledged write.
//!
//! `FOLDSTORE_KILLS` sets the number of kills of the kill test (default [`DEFAULT_KILLS`]), and
//! `FOLDSTORE_KILL_SEED` the seed of its random delays.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::counter::{Counter, CounterEvent};
use common::workers::{
    env_number, env_number_or_none, say, test_name, worker_command, KillableWorker, Rng,
};
use foldstore::{
    Conflict, Dispatch, Durability, Error, Event, EventContext, FolderStorage, JournalStorage,
    Layout, ModelDefinition, Storage, Store, View,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const MARKER: &str = "foldstore-journal.json";
const SEGMENTS: &str = "journal";
const QUARANTINE: &str = "foldstore-quarantine";

// ---------------------------------------------------------------------------------------------
// Helpers: this file's own reading of the format
// ---------------------------------------------------------------------------------------------

/// One record of a segment, as this file reads it (independently of the library).
#[derive(Clone, Debug)]
struct Record {
    number: u64,
    /// Where the record starts in its segment.
    start: usize,
    /// Where it ends (after its newline).
    end: usize,
    /// The commit document, byte for byte.
    document: Vec<u8>,
}

fn digits(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let count = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 || count > 20 {
        return None;
    }
    let number = std::str::from_utf8(&bytes[..count]).ok()?.parse().ok()?;
    Some((number, &bytes[count..]))
}

/// The whole record with a matching checksum at `at`, if there is one.
fn parse_one(bytes: &[u8], at: usize) -> Option<Record> {
    let rest = bytes[at..].strip_prefix(b"{\"n\":")?;
    let (number, rest) = digits(rest)?;
    let rest = rest.strip_prefix(b",\"len\":")?;
    let (len, rest) = digits(rest)?;
    let rest = rest.strip_prefix(b",\"crc32\":\"")?;
    let crc = u32::from_str_radix(std::str::from_utf8(rest.get(..8)?).ok()?, 16).ok()?;
    let rest = rest[8..].strip_prefix(b"\",\"commit\":")?;
    let len = usize::try_from(len).ok()?;
    let document = rest.get(..len)?;
    if rest.get(len..len + 2)? != b"}\n" || crc32fast::hash(document) != crc {
        return None;
    }
    let header = bytes.len() - at - rest.len();
    Some(Record {
        number,
        start: at,
        end: at + header + len + 2,
        document: document.to_vec(),
    })
}

/// `bytes` without the free space (spaces) a synced journal keeps at the end of its segments.
fn trim_free(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(0, |at| at + 1)]
}

/// The whole, sound records of a segment from its start, and the offset where they end.
fn parse_segment(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(record) = parse_one(bytes, at) {
        at = record.end;
        records.push(record);
    }
    (records, at)
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.jsonl")
}

/// The segment files of the journal at `store`, in order.
fn segment_files(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(store.join(SEGMENTS))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every record of every segment, checking that each segment is named by its first commit,
/// holds nothing but whole records, and that the numbers run on from 1 without a gap.
fn all_records(store: &Path) -> Vec<Record> {
    let mut records = Vec::new();
    for file in segment_files(store) {
        let bytes = fs::read(&file).unwrap();
        let (found, end) = parse_segment(&bytes);
        assert_eq!(
            end,
            trim_free(&bytes).len(),
            "{} holds bytes that are neither whole records nor free space at {end}",
            file.display()
        );
        if let Some(first) = found.first() {
            assert_eq!(file_name(&file), segment_name(first.number));
        }
        records.extend(found);
    }
    let numbers: Vec<u64> = records.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=records.len() as u64).collect::<Vec<_>>());
    records
}

/// A journal of commits `numbered(1)` to `numbered(count)`, written and closed.
struct Written {
    _temp: tempfile::TempDir,
    path: PathBuf,
    /// Its last segment, with that segment's bytes and whole records.
    segment: PathBuf,
    bytes: Vec<u8>,
    records: Vec<Record>,
}

fn written_journal(count: u64) -> Written {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    for i in 1..=count {
        store.log(&numbered(i)).unwrap();
    }
    drop(store);
    let segment = segment_files(&path).pop().unwrap();
    let bytes = fs::read(&segment).unwrap();
    let (records, _) = parse_segment(&bytes);
    Written {
        _temp: temp,
        path,
        segment,
        bytes,
        records,
    }
}

/// The names of the loose commit files (`<n>.log`) in `store`.
fn loose_files(store: &Path) -> Vec<String> {
    fs::read_dir(store)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".log"))
        .collect()
}

fn assert_no_loose_files(store: &Path) {
    let loose = loose_files(store);
    assert!(
        loose.is_empty(),
        "loose commit files in a journal: {loose:?}"
    );
}

/// The files in the quarantine, by name.
fn quarantine(store: &Path) -> BTreeMap<String, Vec<u8>> {
    match fs::read_dir(store.join(QUARANTINE)) {
        Ok(entries) => entries
            .map(|entry| {
                let entry = entry.unwrap();
                (
                    entry.file_name().to_string_lossy().into_owned(),
                    fs::read(entry.path()).unwrap(),
                )
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => panic!("{e}"),
    }
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A new journal store at `path`, created.
fn journal_store(path: &Path) -> Store {
    let store = Store::builder(path).layout(Layout::Journal).open().unwrap();
    store.ensure_folder().unwrap();
    store
}

fn numbered(i: u64) -> Event {
    Event::with_data("numbered", json!({ "i": i }))
}

/// The `i` of each commit's single `numbered` event, in order.
fn numbered_values(store: &Store) -> Vec<u64> {
    store
        .commits(..)
        .map(|commit| {
            let commit = commit.unwrap();
            assert_eq!(commit.events().len(), 1);
            commit.events()[0].data().unwrap()["i"].as_u64().unwrap()
        })
        .collect()
}

fn numbers(store: &Store) -> Vec<u64> {
    store.commits(..).map(|c| c.unwrap().number()).collect()
}

/// Checks that the store at `path` is refused with [`Error::Layout`] whose message holds
/// `needle`: when it is opened, or else when it is read and when it is written (which then
/// writes nothing).
fn assert_refused(path: &Path, needle: &str) {
    let check = |result: Result<String, Error>, what: &str| match result {
        Err(Error::Layout { problem, .. }) => {
            assert!(
                problem.contains(needle),
                "{what}: {problem:?} lacks {needle:?}"
            );
        }
        other => panic!("{what}: expected Error::Layout with {needle:?}, got {other:?}"),
    };
    let before = fs::read_dir(path.join(SEGMENTS))
        .map(|entries| entries.count())
        .unwrap_or(0);
    let segments_before: Vec<Vec<u8>> = segment_files(path)
        .iter()
        .map(|f| fs::read(f).unwrap())
        .collect();
    let store = match Store::open(path) {
        Err(e) => return check(Err(e), "open"),
        Ok(store) => store,
    };
    check(store.tip().map(|t| format!("tip {t}")), "tip");
    let store = Store::open(path).unwrap();
    check(
        store.log(&numbered(99)).map(|n| format!("wrote {n}")),
        "log",
    );
    let store = Store::open(path).unwrap();
    check(
        store
            .replay_event_stream(|_, _| {})
            .map(|s| format!("{s:?}")),
        "replay",
    );
    assert_eq!(
        fs::read_dir(path.join(SEGMENTS))
            .map(|entries| entries.count())
            .unwrap_or(0),
        before,
        "a refused store was written"
    );
    let segments_after: Vec<Vec<u8>> = segment_files(path)
        .iter()
        .map(|f| fs::read(f).unwrap())
        .collect();
    assert!(
        segments_after == segments_before,
        "a refused store was written"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Layout selection
// ---------------------------------------------------------------------------------------------

#[test]
fn a_new_store_asked_for_the_journal_is_a_journal_and_keeps_that_layout() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
    let marker: Value = serde_json::from_slice(&fs::read(path.join(MARKER)).unwrap()).unwrap();
    assert_eq!(marker, json!({"format": "foldstore-journal", "version": 2}));

    for i in 1..=3 {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
        assert_no_loose_files(&path);
    }
    assert_eq!(
        segment_files(&path)
            .iter()
            .map(|f| file_name(f))
            .collect::<Vec<_>>(),
        [segment_name(1)]
    );
    assert_eq!(all_records(&path).len(), 3);

    // Opened again without asking: the journal is detected, read and written.
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.tip().unwrap(), 3);
    assert_eq!(numbered_values(&reopened), [1, 2, 3]);
    assert_eq!(reopened.log(&numbered(4)).unwrap(), 4);
    assert_no_loose_files(&path);
    assert_eq!(all_records(&path).len(), 4);
    let again = Store::builder(&path)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    assert_eq!(numbered_values(&again), [1, 2, 3, 4]);

    // Asking for the loose layout is refused, and writes nothing.
    match Store::builder(&path).layout(Layout::Loose).open() {
        Err(Error::Layout { path: at, problem }) => {
            assert_eq!(at, path);
            assert!(problem.contains("journal"), "{problem}");
        }
        other => panic!("expected Error::Layout, got {other:?}"),
    }
    assert_no_loose_files(&path);
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
}

#[test]
fn a_loose_store_is_not_made_a_journal_and_new_stores_are_loose_by_default() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    assert_eq!(Layout::detect(&path).unwrap(), None);
    assert_eq!(store.log(&numbered(1)).unwrap(), 1);
    assert!(path.join("1.log").is_file(), "the default layout is loose");
    assert!(!path.join(MARKER).exists());
    assert!(!path.join(SEGMENTS).exists());
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Loose));

    match Store::builder(&path).layout(Layout::Journal).open() {
        Err(Error::Layout { path: at, problem }) => {
            assert_eq!(at, path);
            assert!(problem.contains("loose"), "{problem}");
        }
        other => panic!("expected Error::Layout, got {other:?}"),
    }
    assert!(
        !path.join(MARKER).exists(),
        "the refused open wrote a marker"
    );
    let loose = Store::builder(&path).layout(Layout::Loose).open().unwrap();
    assert_eq!(loose.log(&numbered(2)).unwrap(), 2);
    assert!(path.join("2.log").is_file());
    assert_eq!(numbered_values(&Store::open(&path).unwrap()), [1, 2]);
}

#[test]
fn layout_detect_on_missing_empty_loose_and_journal_folders() {
    let temp = temp();
    let missing = temp.path().join("missing");
    assert_eq!(Layout::detect(&missing).unwrap(), None);
    assert!(!missing.exists());

    let empty = temp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert_eq!(Layout::detect(&empty).unwrap(), None);
    fs::write(empty.join("notes.txt"), b"not a commit").unwrap();
    assert_eq!(Layout::detect(&empty).unwrap(), None);

    let loose = temp.path().join("loose");
    let store = Store::open(&loose).unwrap();
    store.ensure_folder().unwrap();
    assert_eq!(Layout::detect(&loose).unwrap(), None, "no commit yet");
    store.log(&numbered(1)).unwrap();
    assert_eq!(Layout::detect(&loose).unwrap(), Some(Layout::Loose));

    let journal = temp.path().join("journal");
    let store = journal_store(&journal);
    assert_eq!(
        Layout::detect(&journal).unwrap(),
        Some(Layout::Journal),
        "a journal without commits is a journal"
    );
    store.log(&numbered(1)).unwrap();
    assert_eq!(Layout::detect(&journal).unwrap(), Some(Layout::Journal));
}

/// A store asked to be a journal, in a folder that exists and is empty: the loose layout writes
/// there without `ensure_folder`, so the journal should too (or at least not claim the folder
/// does not exist).
#[test]
fn a_journal_asked_for_in_an_existing_empty_folder_can_be_written() {
    let temp = temp();
    let path = temp.path().join("store");
    fs::create_dir(&path).unwrap();
    let loose_path = temp.path().join("loose");
    fs::create_dir(&loose_path).unwrap();
    assert_eq!(
        Store::open(&loose_path).unwrap().log(&numbered(1)).unwrap(),
        1,
        "the loose layout writes into an existing folder without ensure_folder"
    );

    let store = Store::builder(&path)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    match store.log(&numbered(1)) {
        Ok(n) => {
            assert_eq!(n, 1);
            assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
            assert_no_loose_files(&path);
        }
        Err(e) => panic!(
            "logging into an existing, empty folder opened with Layout::Journal fails \
             (the loose layout succeeds there) with: {e}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Mixed folders
// ---------------------------------------------------------------------------------------------

#[test]
fn a_journal_with_a_loose_commit_file_beside_it_is_refused_naming_the_file() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    store.log(&numbered(1)).unwrap();
    store.log(&numbered(2)).unwrap();
    let document = store.storage().read_commit(1).unwrap().unwrap();
    drop(store);
    fs::write(path.join("1.log"), &document).unwrap();
    assert_eq!(Layout::detect(&path).unwrap(), Some(Layout::Journal));
    assert_refused(&path, "1.log");
    // Gone again, the journal is whole.
    fs::remove_file(path.join("1.log")).unwrap();
    assert_eq!(numbered_values(&Store::open(&path).unwrap()), [1, 2]);
}

#[test]
fn a_loose_backend_pointed_at_a_journal_refuses_to_write_commits() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    store.log(&numbered(1)).unwrap();
    store.log(&numbered(2)).unwrap();
    let document = store.storage().read_commit(2).unwrap().unwrap();

    let loose = FolderStorage::new(&path);
    for attempt in 0..2 {
        match loose.create_commit(3, &document) {
            Err(Error::Layout { problem, .. }) => {
                assert!(problem.contains(MARKER), "{problem}");
            }
            other => panic!("create_commit #{attempt}: expected Error::Layout, got {other:?}"),
        }
        match loose.append_commit(1, &document) {
            Err(Error::Layout { .. }) => {}
            other => panic!("append_commit #{attempt}: expected Error::Layout, got {other:?}"),
        }
    }
    let through_a_store = Store::builder(&path)
        .storage(FolderStorage::new(&path))
        .open()
        .unwrap();
    assert!(
        matches!(through_a_store.log(&numbered(3)), Err(Error::Layout { .. })),
        "a store on a loose backend wrote into a journal"
    );
    assert_no_loose_files(&path);
    let stray: Vec<String> = fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".foldstore-tmp-"))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
    assert_eq!(numbered_values(&Store::open(&path).unwrap()), [1, 2]);
}

// ---------------------------------------------------------------------------------------------
// 3. The marker
// ---------------------------------------------------------------------------------------------

#[test]
fn a_marker_of_a_newer_version_is_refused() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path).log(&numbered(1)).unwrap();
    fs::write(
        path.join(MARKER),
        br#"{"format":"foldstore-journal","version":99}"#,
    )
    .unwrap();
    assert_refused(&path, "newer foldstore");
    let store = Store::builder(&path)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    assert!(matches!(store.ensure_folder(), Err(Error::Layout { .. })));
    assert!(matches!(
        JournalStorage::new(&path).read_commit(1),
        Err(Error::Layout { .. })
    ));
}

#[test]
fn a_garbled_marker_is_refused() {
    for text in [
        "not json at all",
        r#"{"format":"something-else","version":1}"#,
        r#"{"format":"foldstore-journal"}"#,
        r#"{"format":"foldstore-journal","version":"one"}"#,
        "",
    ] {
        let temp = temp();
        let path = temp.path().join("store");
        journal_store(&path).log(&numbered(1)).unwrap();
        fs::write(path.join(MARKER), text).unwrap();
        assert_refused(&path, MARKER);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Human-readable records
// ---------------------------------------------------------------------------------------------

#[test]
fn every_line_of_a_segment_is_a_json_record_holding_the_commit() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    store.log(&numbered(1)).unwrap();
    store
        .log(&Event::with_data(
            "texts",
            json!({"text": "two\nlines, \"quotes\", tabs\t, ünïcödé, \u{2028} and 🦀", "list": [1, 2.5, null, true]}),
        ))
        .unwrap();
    store.log(&Event::new("noData")).unwrap();
    store
        .log_block(|block| {
            for i in 10..13 {
                block.log(&numbered(i))?;
            }
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();
    store
        .log(&Event::with_data("big", json!({"pad": "x".repeat(20_000)})))
        .unwrap();
    assert_eq!(store.tip().unwrap(), 5);

    let files = segment_files(&path);
    assert_eq!(files.len(), 1);
    let bytes = fs::read(&files[0]).unwrap();
    // The whole file, free space included, is a sequence of JSON values, as `jq` reads it.
    let values = serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(values.len(), 5);
    let text = std::str::from_utf8(trim_free(&bytes)).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "one line per commit");
    let records = all_records(&path);
    for (index, line) in lines.iter().enumerate() {
        let n = index as u64 + 1;
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {n} is not JSON: {e}: {line}"));
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["n", "len", "crc32", "commit"], "line {n}");
        assert_eq!(value["n"], n);
        let stored = store.storage().read_commit(n).unwrap().unwrap();
        assert_eq!(value["len"], stored.len() as u64, "line {n}");
        assert_eq!(
            value["crc32"],
            format!("{:08x}", crc32fast::hash(&stored)),
            "line {n}"
        );
        let document: Value = serde_json::from_slice(&stored).unwrap();
        assert_eq!(value["commit"], document, "line {n}");
        assert!(document["headers"]["time"].is_string());
        // Byte for byte: the document in the record is what read_commit returns.
        assert_eq!(records[index].document, stored, "line {n}");
        assert_eq!(
            store.read_commit(n).unwrap().events(),
            Store::open(&path).unwrap().read_commit(n).unwrap().events()
        );
    }
    assert_eq!(lines[4].len(), records[4].end - records[4].start - 1);
}

// ---------------------------------------------------------------------------------------------
// 5. Segments roll
// ---------------------------------------------------------------------------------------------

#[test]
fn segments_roll_at_their_size_and_are_named_by_their_first_commit() {
    const SIZE: u64 = 4096;
    const COMMITS: u64 = 300;
    let temp = temp();
    let path = temp.path().join("store");
    let store = Store::builder(&path)
        .storage(JournalStorage::with_segment_bytes(
            &path,
            Durability::Immediate,
            SIZE,
        ))
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=COMMITS {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
    }
    assert_no_loose_files(&path);

    let files = segment_files(&path);
    assert!(files.len() >= 5, "{} segments", files.len());
    let mut next = 1;
    for (index, file) in files.iter().enumerate() {
        let bytes = fs::read(file).unwrap();
        let (records, end) = parse_segment(&bytes);
        assert_eq!(end, trim_free(&bytes).len(), "{}", file.display());
        assert!(!records.is_empty(), "{} is empty", file.display());
        assert_eq!(
            file_name(file),
            segment_name(next),
            "named by its first commit"
        );
        for record in &records {
            assert_eq!(record.number, next);
            next += 1;
        }
        if index + 1 < files.len() {
            assert_eq!(
                end,
                bytes.len(),
                "{} kept free space after it was closed",
                file.display()
            );
            // Closed once it reached the size: not before, and not later than one record after.
            let last = records.last().unwrap();
            assert!(end as u64 >= SIZE, "{} closed early", file.display());
            assert!(
                ((last.start) as u64) < SIZE,
                "{} went on after reaching its size",
                file.display()
            );
        }
    }
    assert_eq!(next, COMMITS + 1);
    let records = all_records(&path);

    let mut seen = Vec::new();
    let summary = store
        .replay_event_stream(|event, _| seen.push(event.data().unwrap()["i"].as_u64().unwrap()))
        .unwrap();
    assert_eq!(seen, (1..=COMMITS).collect::<Vec<_>>());
    assert_eq!(summary.commits, COMMITS);

    // A fresh backend (with the default segment size) reads the same.
    let fresh = JournalStorage::new(&path);
    assert_eq!(fresh.last_commit().unwrap(), COMMITS);
    let all = fresh.read_commits(1, 1000).unwrap();
    assert_eq!(all.len() as u64, COMMITS);
    for (record, bytes) in records.iter().zip(&all) {
        assert_eq!(&record.document, bytes, "commit {}", record.number);
    }
    let firsts: Vec<u64> = files
        .iter()
        .map(|f| file_name(f)[..20].parse().unwrap())
        .collect();
    for &first in &firsts {
        for n in [first - 1, first, first + 1] {
            if (1..=COMMITS).contains(&n) {
                assert_eq!(
                    fresh.read_commit(n).unwrap().as_ref(),
                    Some(&records[n as usize - 1].document),
                    "commit {n}"
                );
            }
        }
        let batch = fresh
            .read_commits(first.saturating_sub(3).max(1), 7)
            .unwrap();
        assert_eq!(batch.len(), 7);
        for (offset, bytes) in batch.iter().enumerate() {
            let n = first.saturating_sub(3).max(1) as usize + offset;
            assert_eq!(bytes, &records[n - 1].document, "commit {n}");
        }
    }
    assert!(fresh.commit_exists(COMMITS).unwrap());
    assert!(!fresh.commit_exists(COMMITS + 1).unwrap());
    assert_eq!(fresh.read_commit(COMMITS + 1).unwrap(), None);
    assert_eq!(
        fresh.list().unwrap().commits,
        (1..=COMMITS).collect::<Vec<_>>()
    );

    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.tip().unwrap(), COMMITS);
    assert_eq!(
        numbered_values(&reopened),
        (1..=COMMITS).collect::<Vec<_>>()
    );
    // With the default size, the next commit goes on in the last segment.
    assert_eq!(reopened.log(&numbered(COMMITS + 1)).unwrap(), COMMITS + 1);
    assert_eq!(segment_files(&path), files);
    assert_eq!(all_records(&path).len() as u64, COMMITS + 1);
    assert_eq!(fresh.last_commit().unwrap(), COMMITS + 1);
}

// ---------------------------------------------------------------------------------------------
// 6. Torn tails
// ---------------------------------------------------------------------------------------------

/// Checks recovery from a torn tail: the store at `path` holds `whole` sound commits, then
/// `torn` bytes at the end of its last segment. `storage` makes the backend to use.
fn check_torn_tail_recovery(
    path: &Path,
    whole: u64,
    torn: &[u8],
    storage: impl Fn() -> JournalStorage,
) {
    let open = || Store::builder(path).storage(storage()).open().unwrap();
    let last_segment = segment_files(path).pop().unwrap();
    let bytes = fs::read(&last_segment).unwrap();
    assert!(trim_free(&bytes).ends_with(torn));
    let kept = trim_free(&bytes).len() - torn.len();

    // Readers see the commits before it, and no error.
    let reader = open();
    assert_eq!(reader.tip().unwrap(), whole);
    assert_eq!(numbers(&reader), (1..=whole).collect::<Vec<_>>());
    let summary = reader.replay_event_stream(|_, _| {}).unwrap();
    assert_eq!(summary.commits, whole);
    assert!(matches!(
        reader.read_commit(whole + 1),
        Err(Error::OutOfRange { .. })
    ));
    assert_eq!(reader.storage().read_commit(whole + 1).unwrap(), None);
    assert!(!reader.storage().commit_exists(whole + 1).unwrap());
    assert_eq!(reader.storage().last_commit().unwrap(), whole);
    let report = reader.verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!((report.tip, report.sound_commits), (whole, whole));
    assert!(
        quarantine(path).is_empty(),
        "a reader changed the quarantine"
    );
    assert_eq!(
        fs::read(&last_segment).unwrap(),
        bytes,
        "a reader cut the tail"
    );

    // The next write takes the next number, after cutting the torn bytes off into the
    // quarantine.
    let writer = open();
    assert_eq!(writer.log(&numbered(1000)).unwrap(), whole + 1);
    let after = fs::read(&last_segment).unwrap();
    assert_eq!(
        after[..kept],
        bytes[..kept],
        "the whole records were changed"
    );
    let (records, end) = parse_segment(&after);
    assert_eq!(
        end,
        trim_free(&after).len(),
        "bytes left after the new record"
    );
    assert_eq!(records.last().unwrap().number, whole + 1);
    assert_eq!(
        records.last().unwrap().start,
        kept,
        "the torn bytes are still there"
    );
    let quarantined = quarantine(path);
    assert_eq!(quarantined.len(), 1, "{:?}", quarantined.keys());
    let (name, content) = quarantined.iter().next().unwrap();
    assert_eq!(content, torn, "the quarantine holds exactly the torn bytes");
    assert!(name.contains(&file_name(&last_segment)), "{name}");
    all_records(path);

    // Everyone, including the reader opened before, sees the new commit.
    for store in [&reader, &open(), &Store::open(path).unwrap()] {
        assert_eq!(store.tip().unwrap(), whole + 1);
        let values = numbered_values(store);
        assert_eq!(values.len() as u64, whole + 1);
        assert_eq!(values.last(), Some(&1000));
    }
    let report = writer.verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!(report.sound_commits, whole + 1);
    // And the next write does not touch the quarantine again.
    assert_eq!(writer.log(&numbered(1001)).unwrap(), whole + 2);
    assert_eq!(quarantine(path).len(), 1);
}

fn default_storage(path: &Path) -> impl Fn() -> JournalStorage + '_ {
    move || JournalStorage::new(path)
}

#[test]
fn a_record_cut_short_at_the_end_is_ignored_then_cut_into_the_quarantine() {
    let Written {
        _temp,
        path,
        segment,
        bytes,
        records,
    } = written_journal(6);
    let last = &records[5];
    let half = last.start + (last.end - last.start) / 2;
    fs::write(&segment, &bytes[..half]).unwrap();
    check_torn_tail_recovery(&path, 5, &bytes[last.start..half], default_storage(&path));
}

#[test]
fn a_record_missing_only_its_newline_is_a_torn_tail() {
    let Written {
        _temp,
        path,
        segment,
        bytes,
        records,
    } = written_journal(4);
    let cut = records[3].end - 1;
    fs::write(&segment, &bytes[..cut]).unwrap();
    check_torn_tail_recovery(
        &path,
        3,
        &bytes[records[3].start..cut],
        default_storage(&path),
    );
}

#[test]
fn garbage_after_the_last_record_is_ignored_then_cut_into_the_quarantine() {
    let Written {
        _temp,
        path,
        segment,
        ..
    } = written_journal(5);
    let garbage = b"garbage\x00\xff{\"n\":6,\"len\":99999,\"crc32\":\"zz".to_vec();
    // Over the free space after the last record, as a writer that died writing leaves it.
    let mut bytes = fs::read(&segment).unwrap();
    let size = bytes.len();
    let (_, end) = parse_segment(&bytes);
    bytes.truncate(end);
    bytes.extend_from_slice(&garbage);
    bytes.resize(size.max(bytes.len()), b' ');
    fs::write(&segment, &bytes).unwrap();
    check_torn_tail_recovery(&path, 5, &garbage, default_storage(&path));
}

/// A synced journal writes its segments ahead with free space (spaces), so that the syncs of
/// later appends carry data only: readers stop at it, appends overwrite it, and the file keeps
/// its size meanwhile.
#[test]
fn synced_segments_keep_free_space_at_their_end_that_appends_fill() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    store.log(&numbered(1)).unwrap();
    let segment = segment_files(&path).pop().unwrap();
    let size = fs::metadata(&segment).unwrap().len();
    let bytes = fs::read(&segment).unwrap();
    let (records, end) = parse_segment(&bytes);
    assert_eq!(records.len(), 1);
    assert!(
        size > end as u64 + 4096,
        "no free space: {size} bytes, records end at {end}"
    );
    assert!(
        bytes[end..].iter().all(|b| *b == b' '),
        "the free space is spaces"
    );

    for i in 2..=50 {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
    }
    assert_eq!(fs::metadata(&segment).unwrap().len(), size, "the file grew");
    assert_eq!(all_records(&path).len(), 50);
    for store in [&store, &Store::open(&path).unwrap()] {
        assert_eq!(store.tip().unwrap(), 50);
        assert_eq!(numbered_values(store), (1..=50).collect::<Vec<_>>());
    }
    let report = store.verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert!(quarantine(&path).is_empty());
}

/// A journal of format version 1 (before free space) is written without free space, which its
/// older writers would take for a torn end.
#[test]
fn journals_of_version_1_get_no_free_space() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    fs::write(
        path.join(MARKER),
        "{\"format\":\"foldstore-journal\",\"version\":1}\n",
    )
    .unwrap();
    let store = Store::open(&path).unwrap();
    for i in 1..=20 {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
    }
    let segment = segment_files(&path).pop().unwrap();
    let bytes = fs::read(&segment).unwrap();
    let (records, end) = parse_segment(&bytes);
    assert_eq!((records.len(), end), (20, bytes.len()));
    assert_eq!(
        numbered_values(&Store::open(&path).unwrap()),
        (1..=20).collect::<Vec<_>>()
    );
}

/// After a machine crash, part of an unfinished write can reach the disk while an earlier part
/// did not: free space (which readers take for the end) followed by a record. That record was
/// never acknowledged; the next writer cuts it off into the quarantine before writing over the
/// free space, so that it never shows up as a commit.
#[test]
fn records_after_the_free_space_are_cut_off_before_anything_is_written_over_it() {
    let Written {
        _temp,
        path,
        segment,
        mut bytes,
        records,
    } = written_journal(4);
    // Commit 4 did not reach the disk; a copy of it, as if numbered 5, did, after a gap.
    let lost = records[3].clone();
    let stray = String::from_utf8(bytes[lost.start..lost.end].to_vec())
        .unwrap()
        .replacen("{\"n\":4,", "{\"n\":5,", 1);
    let stray_at = lost.end + 40;
    bytes[lost.start..lost.end].fill(b' ');
    bytes[stray_at..stray_at + stray.len()].copy_from_slice(stray.as_bytes());
    fs::write(&segment, &bytes).unwrap();

    // Readers stop at the free space.
    let reader = Store::open(&path).unwrap();
    assert_eq!(reader.tip().unwrap(), 3);
    assert_eq!(numbered_values(&reader), [1, 2, 3]);

    // The next write takes number 4, and the stray record is gone into the quarantine.
    let writer = Store::open(&path).unwrap();
    assert_eq!(writer.log(&numbered(40)).unwrap(), 4);
    assert_eq!(writer.log(&numbered(50)).unwrap(), 5);
    for store in [&reader, &writer, &Store::open(&path).unwrap()] {
        assert_eq!(store.tip().unwrap(), 5);
        assert_eq!(numbered_values(store), [1, 2, 3, 40, 50]);
    }
    all_records(&path);
    let quarantined: Vec<Vec<u8>> = quarantine(&path).into_values().collect();
    assert_eq!(quarantined.len(), 1);
    assert!(
        trim_free(&quarantined[0]).ends_with(stray.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&quarantined[0])
    );
}

/// After a machine crash, an unsynced batch can be left with a gap (free space) where its first
/// record's start was and whole records after it. Every reader, also a new one that finds a
/// segment's end from its last bytes, takes the gap for damage inside, not for the end: the end
/// of the log is the real end, the damaged commit fails naming the segment and the byte, and
/// the commits after it are read. A replay still stops at the damage with an error. Writers
/// refuse to append while the last segment holds damage (even one that has not read the
/// segment); nothing is cut off, nothing is written, nothing goes into the quarantine.
#[test]
fn whole_records_after_free_space_are_damage_inside_for_every_reader() {
    // Long enough for a reader that has not read the segment to find its end from its last
    // bytes (a segment of more than 256 KiB of records).
    const COMMITS: u64 = 2_500;
    let Written {
        _temp,
        path,
        segment,
        mut bytes,
        records,
    } = written_journal(COMMITS);
    assert!(records.last().unwrap().end > 300 << 10);
    let lost = COMMITS - 2;
    let start = records[usize::try_from(lost).unwrap() - 1].start;
    bytes[start..start + 30].fill(b' ');
    fs::write(&segment, &bytes).unwrap();
    let segment_name = file_name(&segment);
    let damaged = |result: Result<u64, Error>| match &result {
        Err(Error::CorruptCommit {
            commit,
            location,
            problem,
        }) => {
            assert_eq!(*commit, lost, "{result:?}");
            assert!(
                location.contains(&segment_name) && location.contains(&format!("byte {start}")),
                "the error does not name the segment and the byte: {result:?}"
            );
            assert!(problem.contains("is damaged"), "{result:?}");
        }
        other => panic!("expected the damage of commit {lost}, got {other:?}"),
    };

    // A new reader, which would find the end from the segment's last bytes, finds the real end.
    assert_eq!(Store::open(&path).unwrap().tip().unwrap(), COMMITS);
    assert_eq!(
        Store::open(&path).unwrap().storage().last_commit().unwrap(),
        COMMITS
    );
    // The damaged commit fails naming the segment; the ones around it are read.
    let reader = Store::open(&path).unwrap();
    damaged(reader.read_commit(lost).map(|commit| commit.number()));
    damaged(
        reader
            .storage()
            .read_commit(lost)
            .map(|found| found.map_or(0, |doc| doc.len() as u64)),
    );
    for number in [lost - 1, lost + 1, COMMITS] {
        let commit = reader.read_commit(number).unwrap();
        assert_eq!(commit.events()[0].data().unwrap()["i"], json!(number));
    }
    // From the segment's start: the commits before, then the damage (never a quiet end).
    let reader = Store::open(&path).unwrap();
    let mut seen = 0;
    let result = reader.replay_event_stream(|_, _| seen += 1);
    damaged(result.map(|summary| summary.commits));
    assert_eq!(seen, lost - 1);
    // Verify lists exactly the damaged commit, and checks all the others.
    let report = Store::open(&path).unwrap().verify(|_, _| {}).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].location.contains(&segment_name)
            && report.problems[0]
                .location
                .contains(&format!("(commit {lost})")),
        "{:?}",
        report.problems
    );
    assert_eq!(
        (report.tip, report.sound_commits),
        (COMMITS, COMMITS - 1),
        "{:?}",
        report.problems
    );
    // A writer that read the segment from its start refuses to write, and so does a new one.
    damaged(reader.log(&numbered(7)));
    damaged(Store::open(&path).unwrap().log(&numbered(7)));
    assert!(quarantine(&path).is_empty());
    assert_eq!(
        fs::read(&segment).unwrap(),
        bytes,
        "the segment was changed"
    );
    assert_eq!(Store::open(&path).unwrap().tip().unwrap(), COMMITS);
}

#[test]
fn a_last_record_with_a_bad_checksum_is_a_torn_tail() {
    let Written {
        _temp,
        path,
        segment,
        mut bytes,
        records,
    } = written_journal(6);
    let last = records[5].clone();
    // The same length, still JSON, another checksum.
    let at = last.start + find(&bytes[last.start..last.end], b"\"i\":6").expect("the event's data");
    bytes[at + 4] = b'7';
    fs::write(&segment, &bytes).unwrap();
    assert!(parse_one(&bytes, last.start).is_none());
    check_torn_tail_recovery(
        &path,
        5,
        &bytes[last.start..last.end],
        default_storage(&path),
    );
}

#[test]
fn a_torn_first_record_of_a_new_segment_is_a_torn_tail() {
    const SIZE: u64 = 1024;
    let temp = temp();
    let path = temp.path().join("store");
    let storage = || JournalStorage::with_segment_bytes(&path, Durability::Immediate, SIZE);
    let store = Store::builder(&path).storage(storage()).open().unwrap();
    store.ensure_folder().unwrap();
    let mut n = 0;
    while segment_files(&path).len() < 3 {
        n += 1;
        store.log(&numbered(n)).unwrap();
    }
    drop(store);
    let segment = segment_files(&path).pop().unwrap();
    let bytes = fs::read(&segment).unwrap();
    let (records, end) = parse_segment(&bytes);
    assert_eq!((records.len(), end), (1, trim_free(&bytes).len()));
    assert_eq!(records[0].number, n);
    let torn = &bytes[..end / 2];
    fs::write(&segment, torn).unwrap();
    // Guards against a bug once found here: a writer killed while writing the first record of a new
    // segment leaves this. `find_end` (and `locate`) scan the last segment, find no whole
    // record, so `next` is that segment's own first number, and `self.discover(view, next)`
    // finds the very segment just scanned. Since commit 4ae30fc `refuse_damage_inside` then
    // takes the torn record for damage inside the journal ("segment 000...17.jsonl follows"):
    // every read and every write of the store fails with `CorruptCommit`, and nothing cuts the
    // torn record off. (Before that, the loop went on forever.) Segments without records are
    // now never followed by a segment of the same number.
    //
    // Read in a child process first: a reader that never returns fails the test, not hangs it.
    assert_eq!(
        probe(&path),
        Ok((n - 1, n - 1)),
        "a reader of a journal whose last segment holds only a torn record"
    );
    check_torn_tail_recovery(&path, n - 1, torn, storage);
}

/// A writer killed after creating a new segment and before writing into it leaves the segment
/// empty (`start_segment` expects it: "Left empty by a writer that died right after creating
/// it").
///
/// Guards against a bug once found here: `JournalStorage::find_end` (storage/journal.rs) scans the
/// last segment, finds no record, so `next` is the segment's own first number, and
/// `self.discover(view, next)` is true for that very segment (the tail is `Clean`, so
/// `refuse_damage_inside` lets it pass): the loop `continue`s forever.
/// Every reader (`last_commit`, so `Store::tip`, a replay's end, `verify`) and every writer
/// (`write_batch` calls `find_end`) of the store spins at 100% CPU, never returning. The same
/// loop runs, for as long as it lasts, while another process has created a segment and not yet
/// appended to it.
#[test]
fn an_empty_last_segment_left_by_a_killed_writer_does_not_hang_readers_and_writers() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    for i in 1..=3 {
        store.log(&numbered(i)).unwrap();
    }
    drop(store);
    let empty = path.join(SEGMENTS).join(segment_name(4));
    fs::write(&empty, b"").unwrap();
    assert_eq!(
        probe(&path),
        Ok((3, 3)),
        "a reader of a journal whose last segment is empty"
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.log(&numbered(4)).unwrap(), 4);
    let (records, end) = parse_segment(&fs::read(&empty).unwrap());
    assert_eq!(records.iter().map(|r| r.number).collect::<Vec<_>>(), [4]);
    assert_eq!(end, trim_free(&fs::read(&empty).unwrap()).len());
    assert_eq!(numbered_values(&Store::open(&path).unwrap()), [1, 2, 3, 4]);
}

/// The same when the writer was killed during the very first write of the store: the segment
/// `00000000000000000001.jsonl` exists and is empty.
///
/// Guards against a bug once found here: as above, `find_end` loops forever.
#[test]
fn an_empty_first_segment_left_by_a_killed_writer_does_not_hang_readers_and_writers() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    fs::write(path.join(SEGMENTS).join(segment_name(1)), b"").unwrap();
    assert_eq!(
        probe(&path),
        Ok((0, 0)),
        "a reader of a journal whose only segment is empty"
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.log(&numbered(1)).unwrap(), 1);
    assert_eq!(all_records(&path).len(), 1);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// 7. Damage inside the journal
// ---------------------------------------------------------------------------------------------

/// A journal of `commits` commits in segments of `segment_bytes`, with one byte of commit
/// `damaged`'s document changed (same length, still JSON, wrong checksum). Returns the damaged
/// segment and the segment's bytes before the damage.
fn damaged_journal(
    path: &Path,
    commits: u64,
    segment_bytes: u64,
    damaged: u64,
) -> (PathBuf, Vec<u8>) {
    let store = Store::builder(path)
        .storage(JournalStorage::with_segment_bytes(
            path,
            Durability::Immediate,
            segment_bytes,
        ))
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=commits {
        store.log(&numbered(i)).unwrap();
    }
    drop(store);
    for segment in segment_files(path) {
        let mut bytes = fs::read(&segment).unwrap();
        let original = bytes.clone();
        let (records, _) = parse_segment(&bytes);
        if let Some(record) = records.iter().find(|r| r.number == damaged) {
            let needle = format!("\"i\":{damaged}");
            let at =
                record.start + find(&bytes[record.start..record.end], needle.as_bytes()).unwrap();
            bytes[at + 4] = if bytes[at + 4] == b'9' { b'8' } else { b'9' };
            fs::write(&segment, &bytes).unwrap();
            return (segment, original);
        }
    }
    panic!("no commit {damaged}");
}

/// The `i` of commit `number`'s single `numbered` event, read by number.
fn numbered_value(store: &Store, number: u64) -> u64 {
    let commit = store
        .read_commit(number)
        .unwrap_or_else(|e| panic!("commit {number}: {e}"));
    assert_eq!(commit.events().len(), 1);
    commit.events()[0].data().unwrap()["i"].as_u64().unwrap()
}

/// What a fresh reader makes of a journal whose commit 5 of 10 is damaged in the last segment:
/// the replay must not end quietly at commit 4 as if the log ended there: it fails naming the
/// segment. The end of the log is the real end (10); reading commit 5 fails naming the segment
/// and the byte; commits 6 to 10 are read; `verify` lists exactly commit 5 and checks the 9
/// others.
///
/// (Before commit 4ae30fc the library took the damage for the end of the log: the replay ended
/// with `Ok` after commit 4, and `verify` reported a sound store of 4 commits. Until commit
/// 6d65e38 the damage cost every commit after it.)
#[test]
fn damage_inside_the_last_segment_is_not_taken_for_the_end_of_the_log() {
    let temp = temp();
    let path = temp.path().join("store");
    let (segment, original) = damaged_journal(&path, 10, 64 << 20, 5);
    let segment_name = file_name(&segment);
    let (records, _) = parse_segment(&original);
    let store = Store::open(&path).unwrap();
    let mut seen = 0;
    match store.replay_event_stream(|_, _| seen += 1) {
        Err(e) => assert!(
            e.to_string().contains(&segment_name),
            "the error does not name the segment: {e}"
        ),
        Ok(summary) => panic!(
            "commit 5 of 10 is damaged, and the replay ended with Ok after {} commits",
            summary.commits
        ),
    }
    assert_eq!(seen, 4, "events before the damage");
    assert_eq!(
        store.tip().unwrap(),
        10,
        "the end of the log is the real end"
    );
    match store.storage().read_commit(5) {
        Err(Error::CorruptCommit {
            commit, location, ..
        }) => {
            assert_eq!(commit, 5);
            let byte = format!("byte {}", records[4].start);
            assert!(
                location.contains(&segment_name) && location.contains(&byte),
                "{location}"
            );
        }
        other => panic!("commit 5 is damaged, and reading it gave {other:?}"),
    }
    for number in (1..=4).chain(6..=10) {
        assert_eq!(numbered_value(&store, number), number);
    }
    // Verify reports exactly the damage (naming the segment) and checks all the others.
    let report = store.verify(|_, _| {}).unwrap();
    assert!(!report.is_sound());
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert!(
        report.problems[0].location.contains(&segment_name)
            && report.problems[0].location.contains("(commit 5)")
            && report.problems[0].problem.contains("is damaged"),
        "verify found no problem in {segment_name}: {report:?}"
    );
    assert_eq!((report.tip, report.sound_commits), (10, 9), "{report:?}");
}

/// The next write after such damage must not cut off the sound commits after it, nor write
/// after damage that may be what a machine crash left: it is refused naming the segment, and
/// nothing is written (the segment is unchanged, nothing goes into the quarantine). The sound
/// commits after the damage stay readable.
///
/// (Before commit 4ae30fc `write_batch` took the damaged record 5 for a torn tail and
/// `cut_torn_tail` moved it *and* the sound commits 6 to 10 into the quarantine; the new commit
/// was written as commit 5.)
#[test]
fn a_write_after_damage_inside_the_last_segment_keeps_the_commits_after_it() {
    let temp = temp();
    let path = temp.path().join("store");
    let (segment, _) = damaged_journal(&path, 10, 64 << 20, 5);
    let segment_name = file_name(&segment);
    let damaged = fs::read(&segment).unwrap();
    let store = Store::open(&path).unwrap();
    match store.log(&numbered(11)) {
        Err(e) => assert!(
            e.to_string().contains(&segment_name),
            "the error does not name the segment: {e}"
        ),
        Ok(n) => panic!("a write after damage inside the last segment was written as commit {n}"),
    }
    // Also from a writer that has read the segment first.
    let reader = Store::open(&path).unwrap();
    assert_eq!(reader.tip().unwrap(), 10);
    assert!(reader.log(&numbered(11)).is_err());
    assert!(
        fs::read(&segment).unwrap() == damaged,
        "a refused write changed {}",
        segment.display()
    );
    assert!(
        quarantine(&path).is_empty(),
        "{:?}",
        quarantine(&path).keys()
    );
    assert_eq!(segment_files(&path), std::slice::from_ref(&segment));
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), 10);
    for number in 6..=10 {
        assert_eq!(numbered_value(&store, number), number);
    }
    let report = store.verify(|_, _| {}).unwrap();
    assert_eq!((report.tip, report.sound_commits), (10, 9), "{report:?}");
}

/// Damage in a segment that is not the last one: the replay fails naming the segment, verify
/// reports it, and writers go on at the end without touching it.
#[test]
fn damage_in_an_earlier_segment_fails_the_replay_and_is_reported() {
    let temp = temp();
    let path = temp.path().join("store");
    let (segment, _) = damaged_journal(&path, 120, 2048, 5);
    let files = segment_files(&path);
    assert!(files.len() >= 3 && files[0] == segment, "{files:?}");
    let damaged_bytes = fs::read(&segment).unwrap();

    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), 120, "the end of the log is the end");
    let mut seen = 0;
    match store.replay_event_stream(|_, _| seen += 1) {
        Err(e) => assert!(e.to_string().contains(&file_name(&segment)), "{e}"),
        Ok(summary) => panic!("the replay passed the damage: {summary:?}"),
    }
    assert_eq!(seen, 4, "the events before the damage");
    let report = store.verify(|_, _| {}).unwrap();
    assert!(!report.is_sound());
    assert!(
        report
            .problems
            .iter()
            .any(|f| f.location.contains(&file_name(&segment))),
        "{report:?}"
    );
    assert_eq!(store.log(&numbered(121)).unwrap(), 121);
    assert_eq!(fs::read(&segment).unwrap(), damaged_bytes);
    assert!(quarantine(&path).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 8. Threads
// ---------------------------------------------------------------------------------------------

#[test]
fn eight_threads_logging_get_every_number_once() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 200;
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                (0..CALLS)
                    .map(|i| {
                        let event = Event::with_data("tagged", json!({"t": t, "i": i}));
                        (store.log(&event).unwrap(), t, i)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acknowledged: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for handle in handles {
        let mut last = 0;
        for (n, t, i) in handle.join().unwrap() {
            assert!(n > last, "a thread's commits are in its order");
            last = n;
            assert!(acknowledged.insert(n, (t, i)).is_none(), "commit {n} twice");
        }
    }
    let total = THREADS * CALLS;
    assert_eq!(
        acknowledged.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    for reader in [store.clone(), Store::open(&path).unwrap()] {
        assert_eq!(reader.tip().unwrap(), total);
        let mut seen = BTreeSet::new();
        for commit in reader.commits(..) {
            let commit = commit.unwrap();
            let data = commit.events()[0].data().unwrap();
            let tagged = (data["t"].as_u64().unwrap(), data["i"].as_u64().unwrap());
            assert_eq!(acknowledged[&commit.number()], tagged);
            assert!(seen.insert(tagged));
        }
        assert_eq!(seen.len() as u64, total);
    }
    assert_eq!(all_records(&path).len() as u64, total);
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
}

fn raced_document(instance: usize, number: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "headers": {"time": "2024-01-01T00:00:00.000Z"},
        "events": [{"name": "raced", "data": {"instance": instance, "n": number}}]
    }))
    .unwrap()
}

#[test]
fn journal_backends_on_one_folder_racing_for_each_number_have_one_winner() {
    const INSTANCES: usize = 4;
    const NUMBERS: u64 = 60;
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    let barrier = Arc::new(Barrier::new(INSTANCES));
    let handles: Vec<_> = (0..INSTANCES)
        .map(|instance| {
            // Each backend its own view and queue, as in another process.
            let storage = JournalStorage::new(&path);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut won = Vec::new();
                for n in 1..=NUMBERS {
                    barrier.wait();
                    match storage
                        .create_commit(n, &raced_document(instance, n))
                        .unwrap()
                    {
                        Ok(()) => won.push(n),
                        Err(conflict) => assert_eq!(conflict, Conflict { commit: n }),
                    }
                }
                (instance, won)
            })
        })
        .collect();
    let mut winner = BTreeMap::new();
    for handle in handles {
        let (instance, won) = handle.join().unwrap();
        for n in won {
            assert!(
                winner.insert(n, instance).is_none(),
                "commit {n} was won twice"
            );
        }
    }
    assert_eq!(
        winner.keys().copied().collect::<Vec<_>>(),
        (1..=NUMBERS).collect::<Vec<_>>()
    );
    for reader in (0..2).map(|_| JournalStorage::new(&path)) {
        for (&n, &instance) in &winner {
            assert_eq!(
                reader.read_commit(n).unwrap(),
                Some(raced_document(instance, n)),
                "commit {n}"
            );
        }
        assert_eq!(reader.last_commit().unwrap(), NUMBERS);
    }
    assert_eq!(all_records(&path).len() as u64, NUMBERS);
    assert!(Store::open(&path)
        .unwrap()
        .verify(|_, _| {})
        .unwrap()
        .is_sound());
}

/// Two backends (as two processes) that have both read the journal while it was empty: the
/// second to create commit 1 must lose, and an append must take number 2.
///
/// Guards against a bug once found here: a backend lists the segment folder once (`load`, then
/// `view.loaded`). With no segment known, `JournalStorage::find_end` returns `(1, Clean)`
/// without looking at the disk again (it only `discover`s a segment named after the end of a
/// segment it scanned), so under the lock `write_batch` believes the log is empty; then
/// `start_segment(1)` meets the segment the other process created, takes `AlreadyExists` for
/// "left empty by a writer that died", and `append_records` writes at offset 0, over the other
/// process's acknowledged commit 1. Both writers are told they created commit 1; the first one's
/// commit is gone (and, when the second record is shorter, the rest of the first record is left
/// behind as a torn tail).
#[test]
fn backends_that_saw_the_journal_empty_do_not_overwrite_each_others_first_commit() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    let first = JournalStorage::new(&path);
    let second = JournalStorage::new(&path);
    let third = JournalStorage::new(&path);
    for storage in [&first, &second, &third] {
        assert_eq!(storage.last_commit().unwrap(), 0);
    }
    let a = raced_document(1, 1);
    assert_eq!(first.create_commit(1, &a).unwrap(), Ok(()));
    let b = raced_document(2, 1);
    let created = second.create_commit(1, &b).unwrap();
    let appended = third.append_commit(1, &raced_document(3, 1)).unwrap();
    let now = JournalStorage::new(&path).read_commit(1).unwrap();
    assert!(
        created == Err(Conflict { commit: 1 }) && appended == 2 && now.as_ref() == Some(&a),
        "after one backend created commit 1, a second backend that had seen the \
         journal empty was told {created:?} for creating commit 1, a third appended at {appended}, \
         and commit 1 now reads {:?} (the first backend's was {:?})",
        now.map(|d| String::from_utf8_lossy(&d).into_owned()),
        String::from_utf8_lossy(&a)
    );
}

// ---------------------------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------------------------

/// What a worker process does: `rw`, `log` or `kill`; absent in a normal test run.
const ROLE: &str = "FOLDSTORE_JOURNAL_ROLE";
/// The store the worker writes to.
const FOLDER: &str = "FOLDSTORE_JOURNAL_FOLDER";
/// The worker's number, unique in its store.
const WORKER: &str = "FOLDSTORE_JOURNAL_WORKER";
/// How many workers wait for each other at the gate (`rw` and `log`).
const WORKERS: &str = "FOLDSTORE_JOURNAL_WORKERS";
/// The folder where they wait for each other.
const GATE: &str = "FOLDSTORE_JOURNAL_GATE";
/// How many calls each worker makes (`rw` and `log`).
const CALLS: &str = "FOLDSTORE_JOURNAL_CALLS";
/// The segment size the worker writes with (default: the library's).
const SEGMENT_BYTES: &str = "FOLDSTORE_JOURNAL_SEGMENT_BYTES";
/// The segment size of the kill test: small, so that writers are also killed around the
/// start of a new segment.
const KILL_SEGMENT_BYTES: u64 = 8192;
/// The kills of the kill test.
const KILLS: &str = "FOLDSTORE_KILLS";
/// The seed of the kill test's random delays.
const SEED: &str = "FOLDSTORE_KILL_SEED";
/// The kill test's kills when [`KILLS`] is not set.
const DEFAULT_KILLS: u64 = 30;
/// The seed when [`SEED`] is not set.
const DEFAULT_SEED: u64 = 0x0051_ee9d_0f4a_11ce;
/// The worker's test name (see [`test_name`]).
const WORKER_TEST: &str = "journal_worker";
/// A worker nobody killed stops by itself after this long.
const WORKER_LIFETIME: Duration = Duration::from_secs(60);

/// Waits until every worker has arrived, so that they all write at the same time.
fn wait_at_gate(worker: u64) {
    let gate = PathBuf::from(std::env::var_os(GATE).expect("the gate"));
    assert!(
        common::workers::gate(&gate, worker, env_number(WORKERS)),
        "the other workers did not come"
    );
}

/// A worker process: runs only when started by a test of this file.
#[test]
fn journal_worker() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let folder = PathBuf::from(std::env::var_os(FOLDER).expect("the store's folder"));
    let worker = env_number(WORKER);
    assert_eq!(Layout::detect(&folder).unwrap(), Some(Layout::Journal));
    let store = match std::env::var(SEGMENT_BYTES) {
        Ok(_) => Store::builder(&folder)
            .storage(JournalStorage::with_segment_bytes(
                &folder,
                Durability::Immediate,
                env_number(SEGMENT_BYTES),
            ))
            .open()
            .unwrap(),
        Err(_) => Store::open(&folder).unwrap(),
    };
    // On a line of its own: the harness has printed "test journal_worker ... " already.
    say("");
    match role.as_str() {
        "rw" => {
            let calls = env_number(CALLS);
            let model = store.define_model(Counter).unwrap();
            model.aggregator_data().unwrap();
            wait_at_gate(worker);
            for call in 0..calls {
                let by = (worker as i64 + 1) * 1000 + call as i64;
                let result = model.with_read_write_instance(
                    |view, flag| {
                        view.dispatch(CounterEvent::Incremented { by })?;
                        flag.ready_to_commit();
                        Ok::<_, Error>(())
                    },
                    200,
                );
                match result {
                    Ok(outcome) => say(&format!("ack {} {by}", outcome.commit.unwrap())),
                    Err(Error::RetriesExhausted { .. }) => say(&format!("fail {by}")),
                    Err(e) => panic!("worker {worker}: {e}"),
                }
            }
        }
        "log" => {
            let calls = env_number(CALLS);
            wait_at_gate(worker);
            for seq in 1..=calls {
                let event = Event::with_data("tagged", json!({"worker": worker, "seq": seq}));
                let n = store.log(&event).unwrap();
                say(&format!("ack {n} {worker}-{seq}"));
            }
        }
        "probe" => {
            say(&format!("tip {}", store.tip().unwrap()));
            say(&format!(
                "read {}",
                store.commits(..).map(Result::unwrap).count()
            ));
        }
        "kill" => {
            say("ready");
            let started = Instant::now();
            let mut seq = 0;
            while started.elapsed() < WORKER_LIFETIME {
                seq += 1;
                if seq % 5 == 0 {
                    // A block of three events, one commit.
                    let seqs = [seq, seq + 1, seq + 2];
                    seq += 2;
                    let n = store
                        .log_block(|block| {
                            for s in seqs {
                                block.log(&Event::with_data(
                                    "tagged",
                                    json!({"worker": worker, "seq": s}),
                                ))?;
                            }
                            block.mark_as_complete();
                            Ok::<_, Error>(())
                        })
                        .unwrap()
                        .unwrap();
                    let ids: Vec<String> = seqs.iter().map(|s| format!("{worker}-{s}")).collect();
                    say(&format!("ack {n} {}", ids.join(" ")));
                } else {
                    // Some records span several pages.
                    let pad = if seq % 7 == 0 { 9000 } else { 0 };
                    let event = Event::with_data(
                        "tagged",
                        json!({"worker": worker, "seq": seq, "pad": "p".repeat(pad)}),
                    );
                    let n = store.log(&event).unwrap();
                    say(&format!("ack {n} {worker}-{seq}"));
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
    say("done");
}

/// A command that starts a worker in `role`.
fn worker(role: &str, folder: &Path, worker: u64, extra: &[(&str, String)]) -> Command {
    let mut command = worker_command(&test_name(module_path!(), WORKER_TEST));
    command
        .env(ROLE, role)
        .env(FOLDER, folder)
        .env(WORKER, worker.to_string());
    for (name, value) in extra {
        command.env(name, value);
    }
    command
}

fn spawn_worker(role: &str, folder: &Path, number: u64, extra: &[(&str, String)]) -> Child {
    worker(role, folder, number, extra)
        .spawn()
        .expect("start a worker process")
}

/// Runs workers to their end; returns each one's lines.
fn run_workers(role: &str, folder: &Path, workers: u64, calls: u64) -> Vec<Vec<String>> {
    let gate = folder.with_extension(format!("gate-{role}"));
    fs::create_dir(&gate).unwrap();
    let children: Vec<Child> = (0..workers)
        .map(|worker| {
            spawn_worker(
                role,
                folder,
                worker,
                &[
                    (WORKERS, workers.to_string()),
                    (CALLS, calls.to_string()),
                    (GATE, gate.display().to_string()),
                ],
            )
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success() && stdout.lines().any(|l| l == "done"),
                "a worker failed ({}):\n{stdout}\n{stderr}",
                output.status
            );
            stdout.lines().map(str::to_owned).collect()
        })
        .collect()
}

/// Reads the store at `path` in a child process: its tip, and how many commits a replay reads.
/// A child that does not finish within [`PROBE_DEADLINE`] is killed: `Err` says so.
fn probe(path: &Path) -> Result<(u64, u64), String> {
    let mut child = spawn_worker("probe", path, 0, &[]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PROBE_DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            return Err(format!(
                "the reader did not return within {PROBE_DEADLINE:?} (killed)"
            ));
        }
        thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !status.success() {
        return Err(format!(
            "the reader failed ({status}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} in {stdout}"))
            .trim()
            .parse()
            .unwrap()
    };
    Ok((value("tip "), value("read ")))
}

/// How long [`probe`] waits for its reader.
const PROBE_DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// 9. Several processes
// ---------------------------------------------------------------------------------------------

/// Four processes whose models have read the new, empty journal, then race.
///
/// Guards against a bug once found here (see
/// `backends_that_saw_the_journal_empty_do_not_overwrite_each_others_first_commit`): several
/// workers were told they created commit 1.
#[test]
fn read_write_instances_from_four_processes_on_a_new_journal() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    read_write_instances_from_four_processes(&path, BTreeMap::new());
}

/// The same on a journal that holds a commit already (so every worker knows its segment).
#[test]
fn read_write_instances_from_four_processes_on_a_journal_with_commits() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    assert_eq!(store.log(&CounterEvent::Incremented { by: 7 }).unwrap(), 1);
    read_write_instances_from_four_processes(&path, BTreeMap::from([(1, 7)]));
}

fn read_write_instances_from_four_processes(path: &Path, mut acked: BTreeMap<u64, i64>) {
    const WORKERS_: u64 = 4;
    const CALLS_: u64 = 25;
    let path = path.to_path_buf();
    let before = acked.len() as u64;
    let outputs = run_workers("rw", &path, WORKERS_, CALLS_);

    let mut failed = 0;
    for lines in &outputs {
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["ack", n, by] => {
                    let previous = acked.insert(n.parse().unwrap(), by.parse().unwrap());
                    assert!(
                        previous.is_none(),
                        "commit {n} acknowledged to two workers (see \
                         backends_that_saw_the_journal_empty_do_not_overwrite_each_others_first_commit)"
                    );
                }
                ["fail", _] => failed += 1,
                _ => {}
            }
        }
    }
    let successes = acked.len() as u64;
    assert_eq!(successes - before + failed, WORKERS_ * CALLS_);
    assert!(successes > 0);
    assert_eq!(
        acked.keys().copied().collect::<Vec<_>>(),
        (1..=successes).collect::<Vec<_>>(),
        "the commits are contiguous"
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), successes);
    for commit in store.commits(..) {
        let commit = commit.unwrap();
        assert_eq!(
            commit.events(),
            [Event::with_data(
                "incremented",
                json!({"by": acked[&commit.number()]})
            )],
            "commit {}",
            commit.number()
        );
    }
    let data = store
        .define_model(Counter)
        .unwrap()
        .aggregator_data()
        .unwrap();
    assert_eq!(*data, acked.values().sum::<i64>());
    assert_eq!(data.position(), successes);
    assert_eq!(all_records(&path).len() as u64, successes);
    assert_no_loose_files(&path);
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
}

#[test]
fn appends_from_four_processes_on_one_journal_land_once_each() {
    const WORKERS_: u64 = 4;
    const CALLS_: u64 = 50;
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    let outputs = run_workers("log", &path, WORKERS_, CALLS_);
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for lines in &outputs {
        for line in lines {
            if let ["ack", n, id] = line.split_whitespace().collect::<Vec<_>>().as_slice() {
                assert!(acked.insert(n.parse().unwrap(), (*id).to_owned()).is_none());
            }
        }
    }
    let total = WORKERS_ * CALLS_;
    assert_eq!(
        acked.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let store = Store::open(&path).unwrap();
    let mut ids = BTreeSet::new();
    for commit in store.commits(..) {
        let commit = commit.unwrap();
        let data = commit.events()[0].data().unwrap();
        let id = format!("{}-{}", data["worker"], data["seq"]);
        assert_eq!(acked[&commit.number()], id);
        assert!(ids.insert(id));
    }
    assert_eq!(ids.len() as u64, total);
    assert_eq!(all_records(&path).len() as u64, total);
}

// ---------------------------------------------------------------------------------------------
// 10. kill -9
// ---------------------------------------------------------------------------------------------

/// Starts a worker in the kill test.
fn spawn_killable(folder: &Path, number: u64) -> KillableWorker {
    KillableWorker::spawn(&mut worker(
        "kill",
        folder,
        number,
        &[(SEGMENT_BYTES, KILL_SEGMENT_BYTES.to_string())],
    ))
}

/// Kills a worker with SIGKILL; returns its lines.
fn kill(mut worker: KillableWorker) -> Vec<String> {
    if let Err(why) = worker.kill() {
        panic!("a worker {why}");
    }
    worker.finish().0
}

/// The ids of the events of every commit, read back; checks that the log is contiguous.
fn read_ids(path: &Path) -> Vec<Vec<String>> {
    let store = Store::open(path).unwrap();
    let mut commits = Vec::new();
    for commit in store.commits(..) {
        let commit = commit.unwrap_or_else(|e| panic!("after a kill: {e}"));
        assert_eq!(commit.number(), commits.len() as u64 + 1);
        commits.push(
            commit
                .events()
                .iter()
                .map(|event| {
                    let data = event.data().unwrap();
                    format!("{}-{}", data["worker"], data["seq"])
                })
                .collect(),
        );
    }
    assert_eq!(store.tip().unwrap(), commits.len() as u64);
    commits
}

/// The bytes after the last whole record of the last segment.
fn torn_tail(path: &Path) -> Vec<u8> {
    let Some(last) = segment_files(path).pop() else {
        return Vec::new();
    };
    let bytes = fs::read(last).unwrap();
    let (_, end) = parse_segment(&bytes);
    trim_free(&bytes[end..]).to_vec()
}

#[test]
fn writers_killed_with_sigkill_lose_no_acknowledged_commit() {
    const PER_ROUND: u64 = 2;
    let kills = env_number_or_none(KILLS).unwrap_or(DEFAULT_KILLS);
    let seed = env_number_or_none(SEED).unwrap_or(DEFAULT_SEED);
    let mut rng = Rng::from_state(seed | 1);
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);

    let mut acked: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut torn_seen: Vec<Vec<u8>> = Vec::new();
    let mut worker = 0;
    let mut killed = 0;
    while killed < kills {
        let mut round: Vec<KillableWorker> = (0..PER_ROUND)
            .map(|_| {
                worker += 1;
                spawn_killable(&path, worker)
            })
            .collect();
        for w in &mut round {
            if let Err(why) = w.wait_ready(Duration::from_secs(60)) {
                panic!("a worker did not start: {why}");
            }
        }
        thread::sleep(Duration::from_micros(rng.below(40_000)));
        for w in round {
            thread::sleep(Duration::from_micros(rng.below(3_000)));
            for line in kill(w) {
                let words: Vec<&str> = line.split_whitespace().collect();
                if let ["ack", n, ids @ ..] = words.as_slice() {
                    let n: u64 = n.parse().unwrap();
                    let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
                    assert!(
                        acked.insert(n, ids).is_none(),
                        "commit {n} acknowledged twice"
                    );
                }
            }
            killed += 1;
        }
        // After every round: the log can be read (in a child first: a reader that never
        // returns fails the test instead of hanging it), is contiguous, and holds every
        // acknowledged commit.
        if let Err(e) = probe(&path) {
            panic!(
                "after {killed} kills (seed {seed}): {e}; the last segment is {:?} \
                 bytes long",
                segment_files(&path)
                    .last()
                    .map(|f| fs::metadata(f).unwrap().len())
            );
        }
        let commits = read_ids(&path);
        for (n, ids) in &acked {
            assert_eq!(
                commits.get(*n as usize - 1),
                Some(ids),
                "acknowledged commit {n} (seed {seed})"
            );
        }
        let all: Vec<&String> = commits.iter().flatten().collect();
        let unique: BTreeSet<&String> = all.iter().copied().collect();
        assert_eq!(unique.len(), all.len(), "an event in two commits");
        let torn = torn_tail(&path);
        if !torn.is_empty() {
            torn_seen.push(torn);
        }
    }
    assert!(
        acked.len() as u64 > kills,
        "too few commits to mean anything"
    );

    // One more write cuts any torn tail off into the quarantine; the journal verifies.
    let store = Store::open(&path).unwrap();
    let tip = store.tip().unwrap();
    let n = store
        .log(&Event::with_data("tagged", json!({"worker": 0, "seq": 1})))
        .unwrap();
    assert_eq!(n, tip + 1);
    assert!(torn_tail(&path).is_empty());
    let quarantined: Vec<Vec<u8>> = quarantine(&path).into_values().collect();
    for torn in &torn_seen {
        assert!(
            quarantined.contains(torn),
            "torn bytes not in the quarantine: {:?}",
            String::from_utf8_lossy(torn)
        );
    }
    assert_eq!(quarantined.len(), torn_seen.len(), "seed {seed}");
    let report = store.verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!((report.tip, report.sound_commits), (n, n));
    assert_eq!(all_records(&path).len() as u64, n);
    assert_no_loose_files(&path);
    eprintln!(
        "{killed} kills, {} commits acknowledged of {n}, {} torn tails (seed {seed})",
        acked.len(),
        torn_seen.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Models and snapshots
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Sums {
    total: i64,
    commits: Vec<u64>,
}

/// Sums the counter's events, with snapshots.
struct Summed;

impl ModelDefinition for Summed {
    type Data = Sums;
    type Event = CounterEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        Some("sums")
    }

    fn initial_data(&self) -> Sums {
        Sums::default()
    }

    fn apply(
        &self,
        data: &mut Sums,
        event: CounterEvent,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            CounterEvent::Incremented { by } => data.total += by,
            CounterEvent::Doubled => data.total *= 2,
        }
        data.commits.push(context.commit);
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

fn increment(store: &Store, by: i64) -> u64 {
    store.log(&CounterEvent::Incremented { by }).unwrap()
}

/// The same story on a store of either layout; returns what was seen.
fn model_story(path: &Path, open: impl Fn() -> Store) -> Vec<Value> {
    let mut seen = Vec::new();
    let store = open();
    store.ensure_folder().unwrap();
    let model = store.define_model(Summed).unwrap();
    assert_eq!(model.snapshot().unwrap(), None, "nothing to snapshot yet");
    for by in 1..=10 {
        increment(&store, by);
    }
    assert_eq!(model.snapshot().unwrap(), Some(10));
    assert!(path.join("10.sums-snapshot").is_file());
    assert_eq!(store.snapshot_labels("sums").unwrap(), [10]);
    let saved = store.read_snapshot("sums", 10).unwrap().unwrap();
    assert_eq!(saved.data.as_ref().unwrap()["total"], 55);
    seen.push(saved.data.unwrap());
    for by in 11..=15 {
        increment(&store, by);
    }

    // A fresh model restores from the snapshot and folds what came after.
    let fresh = open().define_model(Summed).unwrap();
    let data = fresh.aggregator_data().unwrap();
    assert_eq!((data.total, data.position()), (120, 15));
    assert_eq!(data.commits, (1..=15).collect::<Vec<_>>());
    assert_eq!(fresh.report().restored_from, Some(10));
    seen.push(json!({"total": data.total, "position": data.position(), "restored": fresh.report().restored_from}));

    // Automatic snapshots, read-write instances.
    let every = open().model(Summed).snapshot_every(4).build().unwrap();
    for by in 16..=25 {
        let outcome = every
            .with_read_write_instance(
                |view, flag| {
                    view.dispatch(CounterEvent::Incremented { by })?;
                    flag.ready_to_commit();
                    Ok::<_, Error>(view.data().total)
                },
                3,
            )
            .unwrap();
        assert_eq!(outcome.commit, Some(by as u64));
    }
    let labels = store.snapshot_labels("sums").unwrap();
    assert!(labels.len() > 2, "{labels:?}");
    seen.push(json!(labels));

    // Time travel, from a snapshot.
    let at = open().define_model(Summed).unwrap().at_commit(12).unwrap();
    assert_eq!((at.data().total, at.position()), (78, 12));
    seen.push(json!({"at12": at.data().total}));
    let latest = open().define_model(Summed).unwrap();
    let data = latest.aggregator_data().unwrap();
    assert_eq!((data.total, data.position()), (325, 25));
    assert_eq!(latest.report().restored_from, labels.last().copied());
    assert!(latest.report().skipped_snapshots.is_empty());
    seen.push(json!({"total": data.total, "restored": latest.report().restored_from}));

    let report = open().verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!(report.sound_snapshots, labels.len() as u64);
    assert_eq!(report.sound_commits, 25);
    seen
}

#[test]
fn models_with_snapshots_work_on_a_journal_as_on_the_loose_layout() {
    let temp = temp();
    let loose = temp.path().join("loose");
    let journal = temp.path().join("journal");
    let on_loose = model_story(&loose, || Store::open(&loose).unwrap());
    let on_journal = model_story(&journal, || {
        Store::builder(&journal)
            .layout(Layout::Journal)
            .open()
            .unwrap()
    });
    assert_eq!(on_journal, on_loose);
    assert_eq!(Layout::detect(&journal).unwrap(), Some(Layout::Journal));
    assert_no_loose_files(&journal);
    assert_eq!(all_records(&journal).len(), 25);
    assert_eq!(loose_files(&loose).len(), 25);
    // Snapshot files beside the journal do not make it a mixed folder.
    assert_eq!(Store::open(&journal).unwrap().tip().unwrap(), 25);
}

// ---------------------------------------------------------------------------------------------
// 12. Subscriptions
// ---------------------------------------------------------------------------------------------

/// A subscriber on a journal gets every commit, the old ones and then each new one written by
/// another store (another writer's backend) on the same folder, in order and once.
#[test]
fn a_subscription_on_a_journal_delivers_old_and_new_commits_in_order() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    for i in 1..=3 {
        store.log(&numbered(i)).unwrap();
    }
    let mut subscription = Store::open(&path)
        .unwrap()
        .subscribe(foldstore::Start::Beginning)
        .unwrap();
    let writer = std::thread::spawn(move || {
        for i in 4..=40 {
            store.log(&numbered(i)).unwrap();
            if i % 10 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 40 {
        let commit = subscription
            .next_timeout(std::time::Duration::from_secs(10))
            .unwrap()
            .expect("a commit within 10 s");
        assert_eq!(commit.number(), seen.len() as u64 + 1);
        seen.push(commit.events()[0].data().unwrap()["i"].as_u64().unwrap());
    }
    writer.join().unwrap();
    assert_eq!(seen, (1..=40).collect::<Vec<_>>());
    assert!(subscription
        .next_timeout(std::time::Duration::from_millis(50))
        .unwrap()
        .is_none());
}
