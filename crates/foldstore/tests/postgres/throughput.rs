//! Throughput of `Store::log` on the test server (an ignored test).

use std::thread;
use std::time::Instant;

use crate::setup::created;
use foldstore::{Event, Store};
use serde_json::json;

/// Throughput of `Store::log` on the test server, with 1 and 8 writer threads. Ignored by
/// default; run it with
/// `cargo test --release -p foldstore --features postgres --test postgres throughput -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn throughput() {
    let Some((storage, _, _)) = created() else {
        return;
    };
    let store = Store::with_storage(storage);
    let per_run: u64 = std::env::var("FOLDSTORE_PG_THROUGHPUT_COMMITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    for threads in [1_u64, 8] {
        let started = Instant::now();
        thread::scope(|scope| {
            for _ in 0..threads {
                let store = &store;
                scope.spawn(move || {
                    for index in 0..per_run / threads {
                        store
                            .log(&Event::with_data("measured", json!({ "index": index })))
                            .unwrap();
                    }
                });
            }
        });
        let elapsed = started.elapsed();
        let commits = per_run / threads * threads;
        println!(
            "postgres throughput: {threads} writer thread(s): {commits} commits in {:.2} s = {:.0} commits/s",
            elapsed.as_secs_f64(),
            commits as f64 / elapsed.as_secs_f64()
        );
    }
    let tip = store.tip().unwrap();
    assert_eq!(store.commits(..).count() as u64, tip);
}
