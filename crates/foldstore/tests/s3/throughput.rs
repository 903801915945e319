//! Throughput of `Store::log` on S3 (an ignored test).

use std::time::{Duration, Instant};

use foldstore::{Event, ObjectStorage, Store};
use serde_json::json;

/// Commits per second through `Store::log`, with `threads` writer threads sharing `total`.
fn measure(url: &str, threads: usize, total: usize) -> f64 {
    let store = Store::with_storage(ObjectStorage::from_url(url).expect("open"));
    store.ensure_folder().expect("ensure_created");
    let start = Instant::now();
    std::thread::scope(|scope| {
        for writer in 0..threads {
            let store = &store;
            scope.spawn(move || {
                for index in 0..total / threads {
                    store
                        .log(&Event::with_data("measured", json!([writer, index])))
                        .expect("log");
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let written = (total / threads * threads) as u64;
    assert_eq!(store.tip().expect("tip"), written);
    written as f64
        / elapsed
            .as_secs_f64()
            .max(Duration::from_micros(1).as_secs_f64())
}

/// Prints commits per second on the S3 server for 1 and 8 writer threads (run with
/// `--ignored --nocapture`).
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn throughput_of_log_on_s3() {
    let Some(bucket) = crate::s3_server::bucket_url() else {
        return;
    };
    for threads in [1, 8] {
        let url = crate::s3_server::fresh_url().unwrap_or_else(|| bucket.clone());
        let rate = measure(&url, threads, 1000);
        println!("s3 throughput: {threads} writer thread(s): {rate:.0} commits/s (1000 commits via Store::log)");
    }
}
