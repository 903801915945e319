//! Human-readable records, and segments rolling over to the next.

use std::fs;

use crate::common::{journal_store, numbered};
use crate::format::{
    all_records, assert_no_loose_files, file_name, numbered_values, parse_segment, segment_files,
    segment_name, temp, trim_free,
};
use foldstore::{Durability, Error, Event, JournalStorage, Storage, Store};
use serde_json::{json, Value};

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
