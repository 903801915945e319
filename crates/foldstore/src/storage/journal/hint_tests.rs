//! The hint of the closed segments: writers keep it, a new reader finds the log's end with it
//! reading only the last record of each closed segment, and a hint that is missing, malformed,
//! stale or hostile, or segments changed behind it, give exactly the answers of the walk from
//! the first segment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::hint::HINT_FILE;
use super::segment::segment_first;
use super::SEGMENT_FOLDER;
use crate::error::Error;
use crate::event::{Event, Headers};
use crate::format::encode_commit;
use crate::storage::local::fs::{FileSystem, Open};
use crate::storage::local::sim::SimFs;
use crate::storage::test_kit::{folder, Counting};
use crate::storage::{Durability, JournalStorage, Storage};

/// Small segments: a dozen records each.
const SEGMENT_BYTES: u64 = 2048;

/// Commits of the journals: about 25 segments.
const COMMITS: u64 = 300;

fn journal(fs: Arc<dyn FileSystem>) -> JournalStorage {
    JournalStorage::with_file_system(folder(), Durability::Immediate, SEGMENT_BYTES, fs)
}

fn document(n: u64) -> Vec<u8> {
    encode_commit(&Headers::new(), &[Event::new(format!("commit {n}"))]).expect("encodes")
}

fn segments() -> PathBuf {
    folder().join(SEGMENT_FOLDER)
}

fn hint_path() -> PathBuf {
    segments().join(HINT_FILE)
}

/// A journal of [`COMMITS`] commits, written by one writer.
fn written() -> Arc<SimFs> {
    let sim = Arc::new(SimFs::with_folder(&folder()));
    let writer = journal(sim.clone());
    writer.ensure_created().expect("create");
    for n in 1..=COMMITS {
        writer.append_commit(n, &document(n)).expect("append");
    }
    sim
}

/// The first commits of the segments, in order.
fn segment_firsts(sim: &SimFs) -> Vec<u64> {
    sim.files(&segments())
        .keys()
        .filter_map(|name| segment_first(name))
        .collect()
}

/// Replaces the hint with `bytes` (or removes it).
fn set_hint(sim: &SimFs, bytes: Option<&[u8]>) {
    let _ = sim.remove(&hint_path());
    if let Some(bytes) = bytes {
        sim.write_new(&hint_path(), bytes, false).expect("write");
    }
}

/// What a new reader makes of the journal: its last commit, what `list` finds suspicious,
/// and how many commits are read from the first (or the error that stops the reading).
type Answers = (u64, Vec<(String, String)>, Result<usize, String>);

/// What new readers make of the journal at `sim`.
fn answers(sim: &Arc<SimFs>) -> Answers {
    let reader = journal(sim.clone());
    let last = reader.last_commit().expect("last commit");
    let suspicious = journal(sim.clone()).list().expect("list").suspicious;
    let reader = journal(sim.clone());
    let mut read = 0;
    let commits = loop {
        match reader.read_commits(read as u64 + 1, 64) {
            Ok(batch) if batch.is_empty() => break Ok(read),
            Ok(batch) => read += batch.len(),
            Err(e) => break Err(e.to_string()),
        }
    };
    (last, suspicious, commits)
}

/// What a new reader finds with the hint as it is, and what the walk from the first segment
/// finds (the hint removed, then put back).
fn with_and_without_hint(sim: &Arc<SimFs>) -> (Answers, Answers) {
    let hinted = answers(sim);
    let kept = sim.files(&segments()).get(HINT_FILE).cloned();
    set_hint(sim, None);
    let walked = answers(sim);
    set_hint(sim, kept.as_deref());
    (hinted, walked)
}

/// The size of the last segment, whose first commit is the last of `firsts`.
fn last_segment_size(sim: &SimFs, firsts: &[u64]) -> u64 {
    let last = firsts.last().expect("segments");
    sim.files(&segments())[&super::segment::segment_name(*last)].len() as u64
}

/// The bytes a new reader of the journal at `sim` reads to find the log's end (which must be
/// commit [`COMMITS`]).
fn bytes_read_to_find_the_end(sim: &Arc<SimFs>) -> u64 {
    let read = Arc::new(AtomicU64::new(0));
    let reader = journal(Arc::new(Counting {
        sim: sim.clone(),
        read: Arc::clone(&read),
    }));
    assert_eq!(reader.last_commit().expect("last"), COMMITS);
    read.load(Ordering::SeqCst)
}

fn stored_hint(sim: &SimFs) -> serde_json::Value {
    let bytes = sim.files(&segments())[HINT_FILE].clone();
    serde_json::from_slice(&bytes).expect("a hint")
}

#[test]
fn writers_keep_the_hint_of_every_closed_segment() {
    let sim = written();
    let firsts = segment_firsts(&sim);
    assert!(firsts.len() > 10, "{} segments", firsts.len());
    let hint = stored_hint(&sim);
    assert_eq!(hint["format"], "foldstore-journal-closed-segments");
    let links = hint["segments"].as_array().expect("segments");
    assert_eq!(
        links.len(),
        firsts.len() - 1,
        "every closed segment: {hint}"
    );
    for (link, pair) in links.iter().zip(firsts.windows(2)) {
        assert_eq!(link[0], pair[0]);
        assert_eq!(link[1], pair[1] - 1);
    }
}

#[test]
fn a_new_reader_reads_only_the_last_record_of_each_closed_segment() {
    let sim = written();
    let firsts = segment_firsts(&sim);
    let last_size = last_segment_size(&sim, &firsts);
    let hinted = bytes_read_to_find_the_end(&sim);
    // A record of these commits is well under 200 bytes.
    let bound = last_size + 200 * (firsts.len() as u64 - 1);
    assert!(
        hinted <= bound,
        "{hinted} bytes read to find the end (at most {bound})"
    );
    set_hint(&sim, None);
    let walked = bytes_read_to_find_the_end(&sim);
    assert!(walked > 3 * hinted, "the walk read {walked} bytes");
}

#[test]
fn wrong_hints_give_the_answers_of_the_walk() {
    let sim = written();
    let firsts = segment_firsts(&sim);
    let good = sim.files(&segments())[HINT_FILE].clone();
    let hint = stored_hint(&sim);
    let links = hint["segments"].as_array().unwrap().clone();
    let format = |segments: serde_json::Value| {
        serde_json::to_vec(&serde_json::json!({
            "format": "foldstore-journal-closed-segments",
            "segments": segments
        }))
        .unwrap()
    };
    let max = u64::MAX;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let second = firsts[1];
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xff{not json".to_vec()),
        ("empty", Vec::new()),
        ("nested deeply", deep.into_bytes()),
        ("another format", String::from_utf8_lossy(&good).replace("foldstore-journal-closed-segments", "something-else").into_bytes()),
        ("no links", format(serde_json::json!([]))),
        ("u64::MAX everywhere", format(serde_json::json!([[max, max, max]]))),
        ("u64::MAX as the last commit", format(serde_json::json!([[1, max, 0]]))),
        ("beyond u64", br#"{"format":"foldstore-journal-closed-segments","segments":[[1,18446744073709551616,0]]}"#.to_vec()),
        ("an offset past the end", format(serde_json::json!([[1, second - 1, 1_u64 << 40]]))),
        ("an offset inside a record", format(serde_json::json!([[1, second - 1, 7]]))),
        ("the wrong last commit", {
            let mut wrong = links.clone();
            wrong[0][1] = serde_json::json!(second);
            format(serde_json::Value::Array(wrong))
        }),
        ("a link not from commit 1", format(serde_json::Value::Array(links[1..].to_vec()))),
        ("links past the end", {
            let mut more = links.clone();
            let last = firsts.last().copied().unwrap();
            more.push(serde_json::json!([last, last + 5, 0]));
            more.push(serde_json::json!([last + 6, max, 0]));
            format(serde_json::Value::Array(more))
        }),
        ("a stale hint", format(serde_json::Value::Array(links[..3].to_vec()))),
    ];
    cases.push(("the hint as written", good.clone()));
    let walked = {
        set_hint(&sim, None);
        answers(&sim)
    };
    assert_eq!(walked.0, COMMITS);
    assert_eq!(walked.2, Ok(COMMITS as usize));
    for (case, bytes) in cases {
        set_hint(&sim, Some(&bytes));
        assert_eq!(answers(&sim), walked, "{case}");
    }
    // A folder where the hint belongs.
    set_hint(&sim, None);
    sim.create_dir_all(&hint_path()).expect("folder");
    assert_eq!(answers(&sim), walked, "a folder");
}

#[test]
fn a_hint_naming_a_record_numbered_beyond_any_commit_gives_the_answers_of_the_walk() {
    // The last record of the first segment rewritten, whole and with its checksum, with a
    // number no writer gives (the largest u64, and one far past what the segment can hold),
    // and a hint naming it as that segment's last: the hint's end would be that number + 1.
    for number in [u64::MAX, 1 << 60, super::super::MAX_COMMIT_NUMBER + 1] {
        let sim = written();
        let firsts = segment_firsts(&sim);
        let links = stored_hint(&sim)["segments"].as_array().unwrap().clone();
        let at = links[0][2].as_u64().unwrap();
        let path = segments().join(super::segment::segment_name(firsts[0]));
        let file = sim.open(&path, Open::Write).expect("open");
        let mut record = Vec::new();
        super::record::encode_record(&mut record, number, &document(firsts[1] - 1));
        file.set_len(at).expect("cut");
        file.write_all_at(&record, at).expect("write");
        let hint = serde_json::json!({
            "format": "foldstore-journal-closed-segments",
            "segments": [[firsts[0], number, at]],
        });
        set_hint(&sim, Some(&serde_json::to_vec(&hint).unwrap()));
        let (hinted, walked) = with_and_without_hint(&sim);
        assert_eq!(hinted, walked, "{number}");
        // The rewritten record is damage where its commit belongs; the log goes on after it.
        assert_eq!(walked.0, COMMITS, "{number}: {walked:?}");
    }
}

#[test]
fn records_numbered_beyond_what_a_segment_can_hold_are_not_taken_for_its_end() {
    // A segment larger than the windows a new reader reads its end in, followed by two whole
    // records with checksums, numbered as no writer numbers: the largest u64 twice (the
    // second would be one after it), and two past what the segment's bytes can have held.
    const SEGMENT: u64 = 1 << 30;
    const WRITTEN: u64 = 4000;
    let open = |sim: &Arc<SimFs>| {
        JournalStorage::with_file_system(folder(), Durability::None, SEGMENT, sim.clone())
    };
    for (first, second) in [(u64::MAX, u64::MAX), (1 << 40, (1 << 40) + 1)] {
        let sim = Arc::new(SimFs::with_folder(&folder()));
        let writer = open(&sim);
        writer.ensure_created().expect("create");
        for n in 1..=WRITTEN {
            writer.append_commit(n, &document(n)).expect("append");
        }
        let path = segments().join(super::segment::segment_name(1));
        let file = sim.open(&path, Open::Write).expect("open");
        let size = file.len().expect("size");
        assert!(size > 256 << 10, "the end is found from the last 64 KiB");
        // The first record fills the window so that it is the first one the reader finds
        // there (the window starts at the newline before it).
        let mut last = Vec::new();
        super::record::encode_record(&mut last, second, &document(2));
        let record = |padding: usize| {
            let mut record = Vec::new();
            let document = format!("{{\"pad\":\"{}\"}}", "x".repeat(padding));
            super::record::encode_record(&mut record, first, document.as_bytes());
            record
        };
        let want = (64 << 10) - 1 - last.len();
        let mut padding = want - record(0).len();
        while record(padding).len() > want {
            padding -= 1;
        }
        let mut records = record(padding);
        assert_eq!(records.len(), want);
        records.extend_from_slice(&last);
        file.write_all_at(&records, size).expect("write");
        assert_eq!(open(&sim).last_commit().expect("last"), WRITTEN, "{first}");
    }
}

#[test]
fn a_new_reader_reads_the_last_commits_of_a_large_segment_without_reading_it_all() {
    const WRITTEN: u64 = 4000;
    let sim = Arc::new(SimFs::with_folder(&folder()));
    let open = |fs: Arc<dyn FileSystem>| {
        JournalStorage::with_file_system(folder(), Durability::None, 1 << 30, fs)
    };
    let writer = open(sim.clone());
    writer.ensure_created().expect("create");
    for n in 1..=WRITTEN {
        writer.append_commit(n, &document(n)).expect("append");
    }
    let size = sim.files(&segments())[&super::segment::segment_name(1)].len() as u64;
    assert!(size > 256 << 10, "{size}");
    let read = Arc::new(AtomicU64::new(0));
    let reader = open(Arc::new(Counting {
        sim: sim.clone(),
        read: Arc::clone(&read),
    }));
    assert_eq!(reader.last_commit().expect("last"), WRITTEN);
    let tail = reader.read_commits(WRITTEN - 9, 10).expect("read");
    let expected: Vec<Vec<u8>> = (WRITTEN - 9..=WRITTEN).map(document).collect();
    assert_eq!(tail, expected);
    // The end's window, and the records from the last grid position before the tail.
    let bytes = read.load(Ordering::SeqCst);
    assert!(
        bytes < size / 2,
        "read {bytes} bytes of a segment of {size}"
    );
}

#[test]
fn a_reader_whose_known_positions_were_cut_and_written_again_reads_the_new_records() {
    // A reader finds the end of a large segment from its last 64 KiB (keeping the positions
    // of the records there); another process then cuts the segment before them and writes
    // the commits from there again, each record longer, so that the file grows past what
    // the reader knew and every position it kept is inside another record now.
    const WRITTEN: u64 = 4000;
    const CUT_AT: u64 = 3000;
    let sim = Arc::new(SimFs::with_folder(&folder()));
    let open = |sim: &Arc<SimFs>| {
        JournalStorage::with_file_system(folder(), Durability::None, 1 << 30, sim.clone())
    };
    let writer = open(&sim);
    writer.ensure_created().expect("create");
    for n in 1..=WRITTEN {
        writer.append_commit(n, &document(n)).expect("append");
    }
    // A reader for each commit read afterwards: the first read of each starts at what it knew.
    let reads = [WRITTEN, WRITTEN - 9, WRITTEN - 40];
    let readers: Vec<JournalStorage> = reads.iter().map(|_| open(&sim)).collect();
    for reader in &readers {
        assert_eq!(reader.last_commit().expect("last"), WRITTEN);
    }
    let longer = |n: u64| {
        encode_commit(
            &Headers::new(),
            &[Event::new(format!(
                "commit {n}, written again after a repair"
            ))],
        )
        .expect("encodes")
    };
    let mut kept = Vec::new();
    for n in 1..CUT_AT {
        super::record::encode_record(&mut kept, n, &document(n));
    }
    let mut again = Vec::new();
    for n in CUT_AT..=WRITTEN {
        super::record::encode_record(&mut again, n, &longer(n));
    }
    let path = segments().join(super::segment::segment_name(1));
    let file = sim.open(&path, Open::Write).expect("open");
    file.set_len(kept.len() as u64).expect("cut");
    file.write_all_at(&again, kept.len() as u64).expect("write");
    for (reader, n) in readers.iter().zip(reads) {
        assert_eq!(reader.read_commit(n).expect("read"), Some(longer(n)), "{n}");
        assert_eq!(
            reader.read_commit(CUT_AT).expect("read"),
            Some(longer(CUT_AT))
        );
    }
}

#[test]
fn a_stale_hint_is_extended_by_the_next_writer() {
    let sim = written();
    let hint = stored_hint(&sim);
    let links = hint["segments"].as_array().unwrap();
    let stale = serde_json::json!({"format": hint["format"], "segments": links[..2]});
    set_hint(&sim, Some(&serde_json::to_vec(&stale).unwrap()));
    // A new writer's process: its first write walks on from the hint's last link.
    let writer = journal(sim.clone());
    writer
        .append_commit(COMMITS + 1, &document(COMMITS + 1))
        .expect("append");
    assert_eq!(stored_hint(&sim)["segments"].as_array().unwrap(), links);
}

#[test]
fn a_removed_segment_gives_the_answers_of_the_walk() {
    for removed in ["in the middle", "the hint's last", "the last"] {
        let sim = written();
        let firsts = segment_firsts(&sim);
        let gone = match removed {
            "in the middle" => firsts[firsts.len() / 2],
            "the hint's last" => firsts[firsts.len() - 2],
            _ => firsts[firsts.len() - 1],
        };
        sim.remove(&segments().join(super::segment::segment_name(gone)))
            .expect("remove");
        let (hinted, walked) = with_and_without_hint(&sim);
        assert_eq!(hinted, walked, "{removed}");
        // The log ends before the removed segment; the later ones are named as off the chain.
        assert_eq!(hinted.0, gone - 1, "{removed}");
        let later = firsts.iter().filter(|first| **first > gone).count();
        let off_chain = hinted
            .1
            .iter()
            .filter(|(_, what)| what.contains("not reachable from commit 1"))
            .count();
        assert_eq!(off_chain, later, "{removed}: {:?}", hinted.1);
    }
}

#[test]
fn a_closed_segment_changed_behind_the_hint_gives_the_answers_of_the_walk() {
    for change in ["last record damaged", "cut short", "grown", "emptied"] {
        let sim = written();
        let firsts = segment_firsts(&sim);
        let path = segments().join(super::segment::segment_name(firsts[4]));
        let file = sim.open(&path, Open::Write).expect("open");
        let size = file.len().expect("size");
        match change {
            // One byte of the last document, in place: the size is the same.
            "last record damaged" => file.write_all_at(b"#", size - 5).expect("write"),
            "cut short" => file.set_len(size - 30).expect("cut"),
            "grown" => file.write_all_at(b"{\"n\":", size).expect("write"),
            _ => file.set_len(0).expect("cut"),
        }
        let (hinted, walked) = with_and_without_hint(&sim);
        assert_eq!(hinted, walked, "{change}");
        if change == "last record damaged" {
            // Damage costs only the damaged commit: the reading stops there, with its error.
            let damaged = firsts[5] - 1;
            // By a reader that found the end first (with the hint, without looking at the
            // damaged segment), and by one that did not.
            for found_end in [true, false] {
                let reader = journal(sim.clone());
                if found_end {
                    assert_eq!(reader.last_commit().expect("last"), COMMITS);
                }
                let error = reader.read_commit(damaged).expect_err("damaged");
                assert!(
                    matches!(error, Error::CorruptCommit { commit, .. } if commit == damaged),
                    "{error}"
                );
            }
            assert_eq!(hinted.0, COMMITS);
        }
    }
}

#[test]
fn an_archived_journal_is_opened_with_the_hint_from_the_segment_holding_its_start() {
    use crate::storage::archive::Marker;
    use crate::storage::ARCHIVED_MARKER;

    let sim = written();
    let firsts = segment_firsts(&sim);
    // Archived up to a few commits into the middle segment: the segments before it removed.
    let holder = firsts[firsts.len() / 2];
    let start = holder + 3;
    let marker = Marker::new(
        start,
        "elsewhere".to_owned(),
        ("archive-x.json".to_owned(), &blake3::hash(b"")),
        &document(start - 1),
        false,
    );
    journal(sim.clone())
        .write_meta(ARCHIVED_MARKER, &marker.to_bytes())
        .expect("marker");
    for first in firsts.iter().filter(|first| **first < holder) {
        sim.remove(&segments().join(super::segment::segment_name(*first)))
            .expect("remove");
    }
    let (hinted, walked) = with_and_without_hint(&sim);
    assert_eq!(hinted, walked);
    assert_eq!(hinted.0, COMMITS);
    let live = firsts.iter().filter(|first| **first >= holder).count() as u64;
    let last_size = last_segment_size(&sim, &firsts);
    let hinted = bytes_read_to_find_the_end(&sim);
    // The marker, each live closed segment's first and last records, and the last segment.
    let bound = 4096 + last_size + 300 * (live - 1);
    assert!(
        hinted <= bound,
        "{hinted} bytes read to find the end (at most {bound})"
    );
    set_hint(&sim, None);
    let walked = bytes_read_to_find_the_end(&sim);
    assert!(
        walked > 2 * hinted,
        "the walk read {walked} bytes, the hint {hinted}"
    );
}
