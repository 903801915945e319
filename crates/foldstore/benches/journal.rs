//! The journal layout's hot paths, each beside a bare loop doing the least the same work needs,
//! measured in the same run (read the figures as ratios):
//!
//! - `journal_append_no_sync/store_log`: [`Store::log`] of one typed event into a journal with
//!   [`Durability::None`]; `baseline/bare_write`: per commit, encode the same record (length,
//!   CRC-32, document) and write it at the end of one file.
//! - `journal_replay_100000_commits/store_replay`: opening a journal of 100,000 single-event
//!   commits and replaying every event (records read, checksums checked and documents decoded
//!   ahead on two threads); `baseline/read_and_parse`: reading the segment files and parsing
//!   each record's document into a `serde_json::Value` on one thread, without checksums. Both
//!   read from the operating system's cache.
//! - `journal_read_commits/batch_of_256`: [`Storage::read_commits`](foldstore::Storage::read_commits) of 256 commits at a place
//!   spread over the journal: locating, reading and checking records, without decoding.
//!
//! This process allocates with the system allocator; the command-line tool and the comparison
//! program use mimalloc, with which the replay is faster (see the README's speed section).
//! Synced appends are left to the comparison program (`crates/foldstore-compare`): a disk sync
//! costs far more than the code around it, and varies too much for criterion's statistics.
//!
//! ```sh
//! cargo bench -p foldstore --bench journal
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::fs::{self, File};
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

mod common;

use common::{bench_replay, member_has_moved, open_without_syncs, time_store_log, written_store};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use foldstore::{Layout, Store};
use serde_json::Value;

const REPLAY_COMMITS: u64 = 100_000;

/// The bare loop's commit `k`: the document foldstore would write, framed as a journal record
/// and written at the end of `file`.
fn bare_append(file: &mut File, k: u64, record: &mut Vec<u8>) {
    let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let event = serde_json::to_value(member_has_moved(k)).expect("an event");
    let document =
        serde_json::to_vec(&serde_json::json!({"headers": {"time": time}, "events": [event]}))
            .expect("a document");
    record.clear();
    write!(
        record,
        "{{\"n\":{k},\"len\":{},\"crc32\":\"{:08x}\",\"commit\":",
        document.len(),
        crc32fast::hash(&document)
    )
    .expect("format");
    record.extend_from_slice(&document);
    record.extend_from_slice(b"}\n");
    file.write_all(record).expect("write");
}

fn append_no_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append_no_sync");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("store_log", |b| {
        b.iter_custom(|iters| {
            time_store_log(iters, |path| open_without_syncs(path, Layout::Journal)).0
        });
    });
    group.bench_function("baseline/bare_write", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("a folder");
            let mut file = File::create(dir.path().join("segment.jsonl")).expect("create");
            let mut record = Vec::new();
            let started = Instant::now();
            for k in 1..=iters {
                bare_append(&mut file, k, &mut record);
            }
            started.elapsed()
        });
    });
    group.finish();
}

fn replay(c: &mut Criterion) {
    let dir = written_store(Layout::Journal, REPLAY_COMMITS);
    let mut segments: Vec<_> = fs::read_dir(dir.path().join("journal"))
        .expect("the segment folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    segments.sort();

    bench_replay(
        c,
        "journal_replay_100000_commits",
        dir.path(),
        REPLAY_COMMITS,
        || {
            let mut events = 0usize;
            for segment in &segments {
                let bytes = fs::read(segment).expect("read");
                for line in bytes.split(|b| *b == b'\n') {
                    // `{"n":..,"len":..,"crc32":"..","commit":` then the document and `}`.
                    let Some(start) = line.windows(9).position(|w| w == b"\"commit\":") else {
                        continue;
                    };
                    let document = &line[start + 9..line.len() - 1];
                    let document: Value = serde_json::from_slice(document).expect("JSON");
                    events += document["events"].as_array().map_or(0, Vec::len);
                }
            }
            events
        },
    );
}

fn read_commits(c: &mut Criterion) {
    let dir = written_store(Layout::Journal, REPLAY_COMMITS);
    let store = Store::open(dir.path()).expect("open");
    let storage = store.storage();
    let mut group = c.benchmark_group("journal_read_commits");
    group.throughput(Throughput::Elements(256));
    let mut first = 1;
    group.bench_function("batch_of_256", |b| {
        b.iter(|| {
            // Spread over the journal: each batch starts far from where the last one ended.
            first = (first + 37_813) % (REPLAY_COMMITS - 256) + 1;
            let batch = storage.read_commits(first, 256).expect("read");
            assert_eq!(batch.len(), 256);
            black_box(batch)
        });
    });
    group.finish();
}

criterion_group!(benches, append_no_sync, replay, read_commits);
criterion_main!(benches);
