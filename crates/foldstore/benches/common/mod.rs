//! The event every benchmark writes: the one of the comparison program and of
//! `foldstore bench`, typed as an application would type it; and the appends and the replay
//! they time.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use foldstore::{Durability, Layout, Store};
use serde::Serialize;
use tempfile::TempDir;

/// A member moved.
#[derive(Serialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub enum MemberEvent {
    /// Where member `name` lives now.
    MemberHasMoved {
        /// The member.
        name: String,
        /// The new address.
        address: Address,
    },
}

/// An address.
#[derive(Serialize)]
pub struct Address {
    street: String,
    city: String,
}

/// Event number `index`: about 100 bytes of JSON.
pub fn member_has_moved(index: u64) -> MemberEvent {
    MemberEvent::MemberHasMoved {
        name: format!("member {index}"),
        address: Address {
            street: format!("{index} Rykkinnveien"),
            city: "Rykkinn".to_owned(),
        },
    }
}

/// Opens the store at `path` and replays every event, checking there are `events` of them.
#[allow(dead_code)] // Not every bench replays.
pub fn open_and_replay(path: &Path, events: u64) -> usize {
    let store = Store::open(path).expect("open");
    let mut names = 0usize;
    let summary = store
        .replay_event_stream(|event, _headers| names += event.name().len())
        .expect("replay");
    assert_eq!(summary.events, events);
    names
}

/// A new store at `path` in `layout`, without syncs, its folder created.
#[allow(dead_code)] // Not every bench appends.
pub fn open_without_syncs(path: &Path, layout: Layout) -> Store {
    let store = Store::builder(path)
        .layout(layout)
        .durability(Durability::None)
        .open()
        .expect("open");
    store.ensure_folder().expect("create the folder");
    store
}

/// Times `iters` calls of `Store::log`, one [`member_has_moved`] event each, on a new store in
/// a temporary folder opened by `open`: the time, and the folder (removed when dropped).
#[allow(dead_code)] // Not every bench appends.
pub fn time_store_log(iters: u64, open: impl Fn(&Path) -> Store) -> (Duration, TempDir) {
    let dir = tempfile::tempdir().expect("a folder");
    let store = open(dir.path());
    let started = Instant::now();
    for k in 0..iters {
        store.log(&member_has_moved(k)).expect("log");
    }
    (started.elapsed(), dir)
}

/// A new store in `layout` in a temporary folder, holding `commits` commits of one
/// [`member_has_moved`] event each, written without syncs.
#[allow(dead_code)] // Not every bench replays.
pub fn written_store(layout: Layout, commits: u64) -> TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    let writer = open_without_syncs(dir.path(), layout);
    for k in 0..commits {
        writer.log(&member_has_moved(k)).expect("log");
    }
    dir
}

/// The replay benchmark group `name`: the store in `dir` replays its `commits` commits, against
/// `baseline`, which reads and parses the same documents by hand and returns the events found.
#[allow(dead_code)] // Not every bench replays.
pub fn bench_replay(
    c: &mut Criterion,
    name: &str,
    dir: &Path,
    commits: u64,
    mut baseline: impl FnMut() -> usize,
) {
    let mut group = c.benchmark_group(name);
    group
        .throughput(Throughput::Elements(commits))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("store_replay", |b| {
        b.iter(|| open_and_replay(dir, commits));
    });
    group.bench_function("baseline/read_and_parse", |b| {
        b.iter(|| {
            let events = baseline();
            assert_eq!(events as u64, commits);
            black_box(events)
        });
    });
    group.finish();
}
