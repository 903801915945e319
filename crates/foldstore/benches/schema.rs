//! [`Store::schema`] against a plain replay of the same log, measured in the same run (read
//! the figures as a ratio; the target is at most 1.5 times the replay):
//!
//! - `schema_1000000_commits/store_replay`: opening a journal of 1,000,000 single-event
//!   commits (the benchmarks' `memberHasMoved` event, about 100 bytes of JSON) and replaying
//!   every event with `Store::replay_event_stream`;
//! - `schema_1000000_commits/store_schema`: opening it and working out the shape of every
//!   event's data, counted per name with its first and last commit.
//!
//! Both read from the operating system's cache. Writing the journal first takes a while.
//!
//! ```sh
//! cargo bench -p foldstore --bench schema
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

mod common;

use common::{open_and_replay, written_store};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use foldstore::{Layout, SchemaOptions, Store};

const COMMITS: u64 = 1_000_000;

/// Opens the store at `path` and works out its schema, checking it saw `commits` commits of
/// one shape.
fn open_and_schema(path: &Path, commits: u64) -> usize {
    let store = Store::open(path).expect("open");
    let report = store
        .schema(&SchemaOptions::new(), |_, _| {})
        .expect("schema");
    assert_eq!(report.commits, commits);
    assert_eq!(report.names[0].shapes[0].count, commits);
    report.names.len()
}

fn schema(c: &mut Criterion) {
    let dir = written_store(Layout::Journal, COMMITS);
    let mut group = c.benchmark_group("schema_1000000_commits");
    group
        .throughput(Throughput::Elements(COMMITS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("store_replay", |b| {
        b.iter(|| black_box(open_and_replay(dir.path(), COMMITS)));
    });
    group.bench_function("store_schema", |b| {
        b.iter(|| black_box(open_and_schema(dir.path(), COMMITS)));
    });
    group.finish();
}

criterion_group!(benches, schema);
criterion_main!(benches);
