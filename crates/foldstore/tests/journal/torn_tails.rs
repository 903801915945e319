//! Torn tails: what a killed writer leaves at the end of the last segment is cut off into the
//! quarantine, and readers and writers never hang on it.

use std::fs;
use std::path::Path;

use crate::common::{journal_store, numbered};
use crate::format::{
    all_records, file_name, find, numbered_values, numbers, parse_one, parse_segment, quarantine,
    segment_files, segment_name, temp, trim_free, written_journal, Written, MARKER, SEGMENTS,
};
use crate::worker::probe;
use foldstore::{Durability, Error, JournalStorage, Store};
use serde_json::json;

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
/// Guards against a bug once found here: `JournalStorage::find_end` (storage/journal) scans the
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
