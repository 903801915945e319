//! The tamper-evident chain's costs, each beside the same work without the chain, measured in
//! the same run (read the figures as ratios):
//!
//! - `chain_append_durable_journal`: [`Store::log`] of one typed event into a journal with
//!   [`Durability::Immediate`] (every commit synced before it returns), one writer: `plain`
//!   against `chained` (the previous commit's hash kept from its write, the link encoded).
//! - `chain_append_no_sync_journal`: the same without syncs, where the chain's work shows
//!   most.
//! - `chain_verify_100000_commits`: [`Store::verify`] against [`Store::verify_chain`] (which
//!   hashes every commit's stored bytes with BLAKE3 as it is read and checks every link) on a
//!   chained journal of 100,000 single-event commits, read from the operating system's cache.
//!
//! ```sh
//! cargo bench -p foldstore --bench chain
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::path::Path;
use std::time::Duration;

mod common;

use common::{member_has_moved, time_store_log};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use foldstore::{Durability, Layout, Store};

const VERIFY_COMMITS: u64 = 100_000;

fn journal(path: &Path, durability: Durability, chain: bool) -> Store {
    let store = Store::builder(path)
        .layout(Layout::Journal)
        .durability(durability)
        .chain(chain)
        .open()
        .expect("open");
    store.ensure_folder().expect("create the folder");
    store
}

fn appends(c: &mut Criterion, group: &str, durability: Durability, seconds: u64) {
    let mut group = c.benchmark_group(group);
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds));
    for (name, chain) in [("plain", false), ("chained", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| time_store_log(iters, |path| journal(path, durability, chain)).0);
        });
    }
    group.finish();
}

fn append_durable(c: &mut Criterion) {
    appends(c, "chain_append_durable_journal", Durability::Immediate, 8);
}

fn append_no_sync(c: &mut Criterion) {
    appends(c, "chain_append_no_sync_journal", Durability::None, 3);
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a folder");
    let writer = journal(dir.path(), Durability::None, true);
    for k in 0..VERIFY_COMMITS {
        writer.log(&member_has_moved(k)).expect("log");
    }
    let store = Store::open(dir.path()).expect("open");
    let mut group = c.benchmark_group("chain_verify_100000_commits");
    group
        .throughput(Throughput::Elements(VERIFY_COMMITS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("verify", |b| {
        b.iter(|| {
            let report = store.verify(|_, _| {}).expect("verify");
            assert_eq!(report.sound_commits, VERIFY_COMMITS);
        });
    });
    group.bench_function("verify_chain", |b| {
        b.iter(|| {
            let report = store.verify_chain(|_, _| {}).expect("verify_chain");
            assert!(report.is_sound());
            assert_eq!(
                report.chain.map(|chain| chain.chained),
                Some(VERIFY_COMMITS)
            );
        });
    });
    group.finish();
}

criterion_group!(benches, append_durable, append_no_sync, verify);
criterion_main!(benches);
