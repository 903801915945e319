//! The test PostgreSQL server: fresh, isolated storages on it for tests.
//!
//! The server is named by the environment variable [`SERVER_VARIABLE`] (a `postgres://` URL);
//! `bash .ci/test` starts a throwaway server and sets it. Each storage gets a table name of its
//! own, so tests (and test processes) never see each other's commits.

// Each test file uses part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use foldstore::{PostgresStorage, Storage};

/// The environment variable naming the test server.
pub const SERVER_VARIABLE: &str = "FOLDSTORE_TEST_POSTGRES";

/// The test server's URL, or `None` when no server is configured here. Under `CI=true` a
/// missing server fails the test instead.
pub fn server_url() -> Option<String> {
    match std::env::var(SERVER_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!(
                    "{SERVER_VARIABLE} is not set, and CI=true requires the PostgreSQL tests to \
                     run: start a server with 'bash .ci/test' (or \
                     'eval \"$(bash .ci/services/postgres.sh start DIR)\"') before the tests"
                );
            }
            eprintln!(
                "skipped: {SERVER_VARIABLE} is not set; run the tests through 'bash .ci/test' to \
                 start PostgreSQL"
            );
            None
        }
    }
}

/// A table name no other test (in this process or another) uses.
pub fn unique_table() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "t{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000_000
    )
}

/// The test server's URL with `table` as the store's table.
pub fn url_with_table(url: &str, table: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}table={table}")
}

/// A fresh, not yet created PostgreSQL backend on the test server, with its table name and the
/// server's URL, or `None` when no server is configured here.
pub fn fresh_postgres() -> Option<(PostgresStorage, String, String)> {
    let url = server_url()?;
    let table = unique_table();
    let storage = PostgresStorage::connect(&url_with_table(&url, &table))
        .unwrap_or_else(|e| panic!("{SERVER_VARIABLE} is not a usable URL: {e}"));
    Some((storage, table, url))
}

/// A fresh, empty, not yet created storage on the test server, or `None` when no server is
/// configured here. Under `CI=true` a missing server fails the test instead.
pub fn fresh_storage() -> Option<Box<dyn Storage>> {
    fresh_postgres().map(|(storage, _, _)| Box::new(storage) as Box<dyn Storage>)
}
