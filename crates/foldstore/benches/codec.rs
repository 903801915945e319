//! The CPU side of every commit and every replay: encoding and decoding a commit document,
//! and turning a typed event into an [`Event`].
//!
//! Each group has a baseline measured in the same run, to read the figures as ratios:
//! `serde_json` alone doing the core of the same work (parsing the document into a `Value`,
//! writing a `Value`, serializing the typed event into a `Value`).
//!
//! ```sh
//! cargo bench -p foldstore --bench codec
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

mod common;

use common::member_has_moved;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use foldstore::{Commit, Event, Headers};
use serde_json::Value;

/// A commit document of `events` events, as foldstore writes it.
fn document(events: u64) -> Vec<u8> {
    let mut headers = Headers::new();
    headers.insert("time".into(), "2026-11-27T15:03:30.380Z".into());
    let events: Vec<Value> = (0..events)
        .map(|i| serde_json::to_value(member_has_moved(i)).expect("an event"))
        .collect();
    serde_json::to_vec(&serde_json::json!({"headers": headers, "events": events}))
        .expect("a document")
}

fn commit_document(c: &mut Criterion) {
    for events in [1u64, 10] {
        let bytes = document(events);
        let commit = Commit::decode(1, &bytes).expect("a commit");
        let value: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(commit.encode(), bytes, "encoding gives back the bytes");

        let mut group = c.benchmark_group(format!("commit_document/{events}_events"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("decode", |b| {
            b.iter(|| Commit::decode(1, black_box(&bytes)).expect("a commit"));
        });
        group.bench_function("baseline/parse_into_value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).expect("JSON"));
        });
        group.bench_function("encode", |b| b.iter(|| black_box(&commit).encode()));
        group.bench_function("baseline/write_value", |b| {
            b.iter(|| serde_json::to_vec(black_box(&value)).expect("JSON"));
        });
        group.finish();
    }
}

fn typed_event(c: &mut Criterion) {
    let event = member_has_moved(4711);
    let mut group = c.benchmark_group("event");
    group.bench_function("from_typed", |b| {
        b.iter(|| Event::from_typed(black_box(&event)).expect("an event"));
    });
    group.bench_function("baseline/to_value", |b| {
        b.iter(|| serde_json::to_value(black_box(&event)).expect("a value"));
    });
    group.finish();
}

criterion_group!(benches, commit_document, typed_event);
criterion_main!(benches);
