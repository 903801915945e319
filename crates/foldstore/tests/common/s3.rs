//! The test S3 server: fresh, isolated storages on it for tests.
//!
//! The server is named by the environment variable [`TEST_S3`] (an `s3://bucket` URL); the
//! usual `AWS_*` variables give its endpoint and credentials. `bash .ci/test` starts an S3
//! emulator (moto, by `.ci/services/s3.sh`) and sets them all.

// Each test file uses part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use foldstore::{ObjectStorage, Storage};

/// The environment variable naming the test bucket, as `s3://bucket`.
pub const TEST_S3: &str = "FOLDSTORE_TEST_S3";

/// The URL of the test bucket, or `None` when none is configured here. Under `CI=true` a
/// missing server fails the test instead.
pub fn bucket_url() -> Option<String> {
    match std::env::var(TEST_S3) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_owned()),
        _ => {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!(
                    "the S3 test server is missing: {TEST_S3} is not set (CI=true requires it); \
                     run the tests through 'bash .ci/test', which starts the S3 emulator with \
                     '.ci/services/s3.sh' and sets {TEST_S3} and the AWS_* variables"
                );
            }
            eprintln!(
                "skipped: {TEST_S3} is not set; run the tests through 'bash .ci/test' to start the S3 emulator"
            );
            None
        }
    }
}

/// A URL of a fresh prefix on the test bucket, unique to this call (process id, counter and
/// time), or `None` when no server is configured here (see [`bucket_url`]).
pub fn fresh_url() -> Option<String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let bucket = bucket_url()?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Some(format!(
        "{bucket}/test-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A fresh, empty, not yet created storage on the test server, or `None` when no server is
/// configured here. Under `CI=true` a missing server fails the test instead.
pub fn fresh_storage() -> Option<Box<dyn Storage>> {
    let url = fresh_url()?;
    let storage = ObjectStorage::from_url(&url)
        .unwrap_or_else(|e| panic!("cannot open the test S3 storage at {url}: {e}"));
    Some(Box::new(storage))
}
