//! Damage inside the journal: refused, named, and never skipped over.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::numbered;
use crate::format::{file_name, find, parse_segment, quarantine, segment_files, temp};
use foldstore::{Durability, Error, JournalStorage, Store};

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
