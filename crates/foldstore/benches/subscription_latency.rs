//! The delay from a commit to its delivery to a subscriber.
//!
//! Each measured round logs one event and waits until a subscriber thread has received it, so
//! a round's time is the commit plus the delivery. `log_only` measures the commit alone on the
//! same kind of store, as the baseline in the same run: the delivery delay is the difference.
//! Folder stores write without syncs here, so that the delay is not lost in the disk's noise.
//!
//! ```sh
//! cargo bench -p foldstore --features watch --bench subscription_latency
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use foldstore::{Durability, Event, Start, Store, Subscription};

fn folder_store(dir: &tempfile::TempDir) -> Store {
    let store = Store::builder(dir.path())
        .durability(Durability::None)
        .open()
        .expect("open");
    store.ensure_folder().expect("create the folder");
    store
}

/// Times `iters` rounds of: log one event, wait until the subscriber has it.
fn rounds(store: &Store, subscription: Subscription, iters: u64) -> Duration {
    let (delivered, receipts) = mpsc::channel();
    let mut subscription = subscription;
    let subscriber = thread::spawn(move || {
        for _ in 0..iters {
            let commit = subscription.next_commit().expect("a commit");
            delivered
                .send(commit.number())
                .expect("the bench is waiting");
        }
    });
    let started = Instant::now();
    for _ in 0..iters {
        let number = store.log(&Event::new("tick")).expect("log");
        assert_eq!(receipts.recv().expect("delivered"), number);
    }
    let elapsed = started.elapsed();
    subscriber.join().expect("the subscriber ends");
    elapsed
}

fn latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit_to_delivery");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));

    group.bench_function("memory/log_only", |b| {
        let store = Store::memory();
        b.iter(|| store.log(&Event::new("tick")).expect("log"));
    });
    group.bench_function("memory/delivered", |b| {
        let store = Store::memory();
        b.iter_custom(|iters| {
            let subscription = store.subscribe(Start::Now).expect("subscribe");
            rounds(&store, subscription, iters)
        });
    });

    group.bench_function("folder/log_only", |b| {
        let dir = tempfile::tempdir().expect("a folder");
        let store = folder_store(&dir);
        b.iter(|| store.log(&Event::new("tick")).expect("log"));
    });
    group.bench_function("folder/delivered_with_notices", |b| {
        let dir = tempfile::tempdir().expect("a folder");
        let store = folder_store(&dir);
        b.iter_custom(|iters| {
            let subscription = store.subscribe(Start::Now).expect("subscribe");
            assert!(
                subscription.has_notices(),
                "built without the watch feature?"
            );
            rounds(&store, subscription, iters)
        });
    });
    group.bench_function("folder/delivered_polling_every_10ms", |b| {
        let dir = tempfile::tempdir().expect("a folder");
        let store = folder_store(&dir);
        b.iter_custom(|iters| {
            let subscription = store
                .subscribe(Start::Now)
                .expect("subscribe")
                .without_notices()
                .with_poll_interval(Duration::from_millis(10));
            rounds(&store, subscription, iters)
        });
    });
    group.finish();
}

criterion_group!(benches, latency);
criterion_main!(benches);
