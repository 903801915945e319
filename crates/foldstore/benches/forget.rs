//! What sealing costs: the same events, each tagged with one of 100 members as its subject,
//! written and replayed with and without a key store (read the figures as ratios).
//!
//! - `forget_append_durable_journal/{plain,sealed}`: [`Store::log`] of one event into a
//!   journal with the default durability (a sync for every commit); sealed, each event's data
//!   is encrypted with its member's key (from a folder key store) before it is written.
//! - `forget_replay_100000_journal/{plain,sealed}`: opening a journal of 100,000 such commits
//!   and replaying every event; sealed, every event's data is opened with its member's key
//!   (read once per member, then kept).
//!
//! ```sh
//! cargo bench -p foldstore --bench forget
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::member_has_moved;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use foldstore::{Durability, Event, FolderKeyStore, Layout, MasterKey, Store};

const REPLAY_COMMITS: u64 = 100_000;
const MEMBERS: u64 = 100;

/// Event `k`, tagged with its member.
fn event(k: u64) -> Event {
    Event::from_typed(&member_has_moved(k))
        .expect("an event")
        .tagged([format!("member:{}", k % MEMBERS)])
}

/// The store at `folder/store`, sealed with the keys in `folder/keys` when `master` is given.
fn open(folder: &Path, master: Option<&MasterKey>, durability: Durability) -> Store {
    let mut builder = Store::builder(folder.join("store"))
        .layout(Layout::Journal)
        .durability(durability)
        .subject_tags("member:");
    if let Some(master) = master {
        let keys = FolderKeyStore::open(folder.join("keys"), master.clone()).expect("keys");
        builder = builder.key_store(keys);
    }
    let store = builder.open().expect("open");
    store.ensure_folder().expect("create");
    store
}

fn append_durable(c: &mut Criterion) {
    let mut group = c.benchmark_group("forget_append_durable_journal");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let master = MasterKey::generate().expect("a master key");
    for (name, master) in [("plain", None), ("sealed", Some(&master))] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let dir = tempfile::tempdir().expect("a folder");
                let store = open(dir.path(), master, Durability::Immediate);
                // The members' keys exist, as in a store that has run a while.
                let events: Vec<Event> = (0..iters).map(event).collect();
                if master.is_some() {
                    for k in 0..MEMBERS.min(iters) {
                        store.log(&event(k)).expect("log");
                    }
                }
                let started = Instant::now();
                for event in &events {
                    store.log(event).expect("log");
                }
                started.elapsed()
            });
        });
    }
    group.finish();
}

fn replay(c: &mut Criterion) {
    let master = MasterKey::generate().expect("a master key");
    let plain = tempfile::tempdir().expect("a folder");
    let sealed = tempfile::tempdir().expect("a folder");
    for (dir, master) in [(&plain, None), (&sealed, Some(&master))] {
        let store = open(dir.path(), master, Durability::None);
        for k in 0..REPLAY_COMMITS {
            store.log(&event(k)).expect("log");
        }
        store.storage().sync_all().expect("sync");
    }
    let mut group = c.benchmark_group("forget_replay_100000_journal");
    group
        .throughput(Throughput::Elements(REPLAY_COMMITS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, dir, master) in [("plain", &plain, None), ("sealed", &sealed, Some(&master))] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let store = open(dir.path(), master, Durability::None);
                let mut streets = 0usize;
                let summary = store
                    .replay_event_stream(|event, _| {
                        streets += event
                            .data()
                            .map_or(0, |d| d["address"]["street"].as_str().map_or(0, str::len));
                    })
                    .expect("replay");
                assert_eq!(summary.events, REPLAY_COMMITS);
                assert!(streets > 0, "the data was opened");
                black_box(streets)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, append_durable, replay);
criterion_main!(benches);
