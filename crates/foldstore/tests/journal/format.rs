//! This suite's own reading of the journal's format (independent of the library), and the stores
//! and assertions the topics share.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use foldstore::{Error, Store};

use crate::common::{journal_store, numbered};

pub(crate) const MARKER: &str = "foldstore-journal.json";
pub(crate) const SEGMENTS: &str = "journal";
pub(crate) const QUARANTINE: &str = "foldstore-quarantine";

// ---------------------------------------------------------------------------------------------
// Helpers: this file's own reading of the format
// ---------------------------------------------------------------------------------------------

/// One record of a segment, as this file reads it (independently of the library).
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) number: u64,
    /// Where the record starts in its segment.
    pub(crate) start: usize,
    /// Where it ends (after its newline).
    pub(crate) end: usize,
    /// The commit document, byte for byte.
    pub(crate) document: Vec<u8>,
}

pub(crate) fn digits(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let count = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 || count > 20 {
        return None;
    }
    let number = std::str::from_utf8(&bytes[..count]).ok()?.parse().ok()?;
    Some((number, &bytes[count..]))
}

/// The whole record with a matching checksum at `at`, if there is one.
pub(crate) fn parse_one(bytes: &[u8], at: usize) -> Option<Record> {
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
pub(crate) fn trim_free(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(0, |at| at + 1)]
}

/// The whole, sound records of a segment from its start, and the offset where they end.
pub(crate) fn parse_segment(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(record) = parse_one(bytes, at) {
        at = record.end;
        records.push(record);
    }
    (records, at)
}

pub(crate) fn segment_name(first: u64) -> String {
    format!("{first:020}.jsonl")
}

/// The segment files of the journal at `store`, in order.
pub(crate) fn segment_files(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(store.join(SEGMENTS))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every record of every segment, checking that each segment is named by its first commit,
/// holds nothing but whole records, and that the numbers run on from 1 without a gap.
pub(crate) fn all_records(store: &Path) -> Vec<Record> {
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
pub(crate) struct Written {
    pub(crate) _temp: tempfile::TempDir,
    pub(crate) path: PathBuf,
    /// Its last segment, with that segment's bytes and whole records.
    pub(crate) segment: PathBuf,
    pub(crate) bytes: Vec<u8>,
    pub(crate) records: Vec<Record>,
}

pub(crate) fn written_journal(count: u64) -> Written {
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
pub(crate) fn loose_files(store: &Path) -> Vec<String> {
    fs::read_dir(store)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".log"))
        .collect()
}

pub(crate) fn assert_no_loose_files(store: &Path) {
    let loose = loose_files(store);
    assert!(
        loose.is_empty(),
        "loose commit files in a journal: {loose:?}"
    );
}

/// The files in the quarantine, by name.
pub(crate) fn quarantine(store: &Path) -> BTreeMap<String, Vec<u8>> {
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

pub(crate) fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The `i` of each commit's single `numbered` event, in order.
pub(crate) fn numbered_values(store: &Store) -> Vec<u64> {
    store
        .commits(..)
        .map(|commit| {
            let commit = commit.unwrap();
            assert_eq!(commit.events().len(), 1);
            commit.events()[0].data().unwrap()["i"].as_u64().unwrap()
        })
        .collect()
}

pub(crate) fn numbers(store: &Store) -> Vec<u64> {
    store.commits(..).map(|c| c.unwrap().number()).collect()
}

/// Checks that the store at `path` is refused with [`Error::Layout`] whose message holds
/// `needle`: when it is opened, or else when it is read and when it is written (which then
/// writes nothing).
pub(crate) fn assert_refused(path: &Path, needle: &str) {
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

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
