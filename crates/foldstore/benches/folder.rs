//! The folder store's hot paths, each beside a bare file-system loop doing the least the same
//! work needs, measured in the same run (read the figures as ratios):
//!
//! - `append_no_sync/store_log`: [`Store::log`] of one typed event with [`Durability::None`],
//!   into a new folder per sample; `baseline/bare_loop`: per commit, create a temporary file
//!   exclusively, write the same document, hard-link it to `k.log`, remove the temporary name.
//! - `replay_10000_commits/store_replay`: opening a store of 10,000 single-event commits and
//!   replaying every event; `baseline/read_and_parse`: reading each `k.log` and parsing it into
//!   a `serde_json::Value`. Both read from the operating system's cache.
//!
//! The append group keeps every folder it writes until it ends: on a file system that avoids
//! reusing recently freed inodes (ext4 without a journal), removing thousands of files makes
//! the next file creations slow for minutes, which would penalize whichever loop runs after.
//! For the same reason, run it a few minutes after other work removed many files.
//!
//! Synced appends are left to the comparison program (`crates/foldstore-compare`): a disk sync
//! costs far more than the code around it, and varies too much for criterion's statistics.
//!
//! ```sh
//! cargo bench -p foldstore --bench folder
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::{bench_replay, member_has_moved, open_without_syncs, time_store_log, written_store};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use foldstore::Layout;
use serde_json::Value;

const REPLAY_COMMITS: u64 = 10_000;

/// The bare loop's commit `k`: the document foldstore would write, written as a temporary file
/// and linked into place.
fn bare_append(folder: &Path, k: u64) {
    let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let event = serde_json::to_value(member_has_moved(k)).expect("an event");
    let document =
        serde_json::to_vec(&serde_json::json!({"headers": {"time": time}, "events": [event]}))
            .expect("a document");
    let temporary = folder.join(format!(".tmp-{k}"));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .expect("create");
    file.write_all(&document).expect("write");
    drop(file);
    fs::hard_link(&temporary, folder.join(format!("{k}.log"))).expect("link");
    fs::remove_file(&temporary).expect("remove");
}

fn append_no_sync(c: &mut Criterion) {
    // Removed when the group is done (see the module's docs).
    let mut folders = Vec::new();
    let mut group = c.benchmark_group("append_no_sync");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("store_log", |b| {
        b.iter_custom(|iters| {
            let (elapsed, dir) =
                time_store_log(iters, |path| open_without_syncs(path, Layout::Loose));
            folders.push(dir);
            elapsed
        });
    });
    group.bench_function("baseline/bare_loop", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("a folder");
            let started = Instant::now();
            for k in 1..=iters {
                bare_append(dir.path(), k);
            }
            let elapsed = started.elapsed();
            folders.push(dir);
            elapsed
        });
    });
    group.finish();
    drop(folders);
}

fn replay(c: &mut Criterion) {
    let dir = written_store(Layout::Loose, REPLAY_COMMITS);
    bench_replay(
        c,
        "replay_10000_commits",
        dir.path(),
        REPLAY_COMMITS,
        || {
            let mut events = 0usize;
            for k in 1..=REPLAY_COMMITS {
                let bytes = fs::read(dir.path().join(format!("{k}.log"))).expect("read");
                let document: Value = serde_json::from_slice(&bytes).expect("JSON");
                events += document["events"].as_array().map_or(0, Vec::len);
            }
            events
        },
    );
}

criterion_group!(benches, append_no_sync, replay);
criterion_main!(benches);
