//! What counts as proof of damage inside a journal: never a write in progress that a reader
//! raced, never a stray segment, never a record whose number is more than the bytes before it
//! can have held.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use foldstore::{Durability, Error, Event, Layout, Store};
use serde_json::json;

const SEGMENT_ONE: &str = "00000000000000000001.jsonl";

fn numbered(i: u64) -> Event {
    Event::with_data("numbered", json!({ "i": i }))
}

fn written(commits: u64) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("store");
    let store = Store::builder(&path)
        .layout(Layout::Journal)
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=commits {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
    }
    (temp, path)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn values(path: &Path) -> Vec<u64> {
    Store::open(path)
        .unwrap()
        .commits(..)
        .map(|c| {
            c.unwrap().events()[0].data().unwrap()["i"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// Readers take no lock: one that meets a batch half written, then its later records whole,
/// must not record damage that is not there (nor keep it, which would make the process's
/// writers refuse for ever).
#[test]
fn a_reader_racing_writes_never_takes_them_for_damage() {
    let (_temp, path) = written(1);
    let store = Store::builder(&path)
        .durability(Durability::None)
        .open()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..600u64 {
                    store
                        .log_block(|block| {
                            for j in 0..3 {
                                block.log(&numbered(w * 10_000 + i * 3 + j))?;
                            }
                            block.mark_as_complete();
                            Ok::<_, Error>(())
                        })
                        .unwrap_or_else(|e| panic!("writer {w}: {e}"));
                }
            })
        })
        .collect();
    let reader = {
        let store = store.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Acquire) {
                let tip = store.tip().unwrap_or_else(|e| panic!("tip: {e}"));
                for number in [tip, tip + 1, tip.saturating_sub(1).max(1)] {
                    match store.storage().read_commit(number) {
                        Ok(_) => reads += 1,
                        Err(e) => panic!("commit {number} read while written: {e}"),
                    }
                }
            }
            reads
        })
    };
    for writer in writers {
        writer.join().unwrap();
    }
    stop.store(true, Ordering::Release);
    assert!(reader.join().unwrap() > 0);
    // A block of three events is one commit.
    assert_eq!(store.tip().unwrap(), 1 + 3 * 600);
    assert_eq!(store.log(&numbered(0)).unwrap(), 1 + 3 * 600 + 1);
    let report = Store::open(&path).unwrap().verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems);
}

/// A stray segment (garbage, or records of another journal) is never taken for where the log
/// goes on after a torn tail: the writer cuts the tail and appends on the chain.
#[test]
fn a_stray_segment_is_no_proof_of_damage() {
    for stray in [
        b"not a journal segment at all\n".to_vec(),
        fs::read(written(3).1.join("journal").join(SEGMENT_ONE)).unwrap(),
    ] {
        let (_temp, path) = written(4);
        let segment = path.join("journal").join(SEGMENT_ONE);
        let mut bytes = fs::read(&segment).unwrap();
        bytes.extend_from_slice(b"{\"n\":5,\"len\":40,\"crc32\":\"00");
        fs::write(&segment, &bytes).unwrap();
        // Numbered as if it held commit 1000 on.
        let mut named = stray.clone();
        if let Some(at) = find(&named, b"{\"n\":1,") {
            named.splice(at..at + 7, b"{\"n\":1000,".iter().copied());
        }
        fs::write(
            path.join("journal").join("00000000000000001000.jsonl"),
            &named,
        )
        .unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.tip().unwrap(), 4);
        assert_eq!(store.log(&numbered(5)).unwrap(), 5);
        assert_eq!(values(&path), [1, 2, 3, 4, 5]);
    }
}

/// A flipped digit in a record's number (outside what the checksum covers) costs that commit
/// only: the record is not taken for a later commit, and no commit is read with another's data.
#[test]
fn a_record_with_a_wrong_number_costs_that_commit_only() {
    let (_temp, path) = written(10);
    let segment = path.join("journal").join(SEGMENT_ONE);
    let mut bytes = fs::read(&segment).unwrap();
    let at = find(&bytes, b"{\"n\":7,").unwrap();
    bytes[at + 5] = b'9';
    fs::write(&segment, &bytes).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), 10);
    for n in (1..=10).filter(|n| *n != 7) {
        let commit = store
            .read_commit(n)
            .unwrap_or_else(|e| panic!("commit {n}: {e}"));
        assert_eq!(commit.events()[0].data().unwrap()["i"], json!(n));
    }
    assert!(matches!(
        store.read_commit(7),
        Err(Error::CorruptCommit { commit: 7, .. })
    ));
    let report = store.verify(|_, _| {}).unwrap();
    assert_eq!(
        (report.problems.len(), report.sound_commits),
        (1, 9),
        "{report:?}"
    );
}

/// Bytes after the last record where every line claims a long record: the search for a whole
/// record after damage reads such claims within a bounded budget, not each one in full.
#[test]
fn lines_claiming_long_records_do_not_make_the_search_unbounded() {
    let (_temp, path) = written(3);
    let segment = path.join("journal").join(SEGMENT_ONE);
    let mut bytes = fs::read(&segment).unwrap();
    let end = bytes.iter().rposition(|b| *b != b' ').unwrap() + 1;
    bytes.truncate(end);
    bytes.extend_from_slice(b"xx\n");
    for _ in 0..2_000 {
        bytes.extend_from_slice(
            b"{\"n\":9,\"len\":200000000,\"crc32\":\"00000000\",\"commit\":{}\n",
        );
    }
    fs::write(&segment, &bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    let reader = path.clone();
    std::thread::spawn(move || {
        let _ = send.send(
            Store::open(&reader)
                .unwrap()
                .tip()
                .map_err(|e| e.to_string()),
        );
    });
    let tip = receive
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the end of the log within 30 s");
    assert_eq!(tip, Ok(3));
}
