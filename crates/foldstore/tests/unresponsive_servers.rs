//! Servers that accept connections and never answer: every operation on a `postgres://` or
//! `s3://` address gives up within its time limit, with an error that names the address and
//! says what to check, instead of waiting forever (PostgreSQL) or for minutes (S3).
//!
//! The "server" is a listener on 127.0.0.1 that accepts every connection and keeps it open
//! without reading or writing a byte: no real server is needed, so these tests run everywhere.
//! Each operation runs under a watchdog, so that a hang fails the test instead of hanging the
//! suite.

#![cfg(any(feature = "postgres", feature = "s3"))]

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use foldstore::Error;

/// The longest any operation here may take: well beyond the limits the tests set (1 s) or the
/// defaults (10 s to connect to PostgreSQL), and far below the old behaviour (forever, or
/// 181 s for S3).
const WATCHDOG: Duration = Duration::from_secs(60);

/// A listener on 127.0.0.1 that accepts connections and never answers; it keeps every
/// connection open (in its thread) for as long as the test process lives. Returns its port.
fn unresponsive_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("the listener's address").port();
    thread::spawn(move || {
        let mut accepted: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => accepted.push(stream),
                Err(e) => eprintln!("the unresponsive server failed to accept: {e}"),
            }
        }
    });
    port
}

/// Runs `operation` on a thread of its own and returns its outcome and how long it took, or
/// fails the test when it takes longer than [`WATCHDOG`].
fn within_watchdog<T: Send + 'static>(
    what: &str,
    operation: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (sender, receiver) = mpsc::channel();
    let started = Instant::now();
    thread::spawn(move || {
        let _ = sender.send(operation());
    });
    match receiver.recv_timeout(WATCHDOG) {
        Ok(outcome) => (outcome, started.elapsed()),
        Err(_) => panic!("{what} did not return within {WATCHDOG:?}: it hangs"),
    }
}

/// The error and its sources as one line, as the command-line tool shows errors.
fn shown(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use foldstore::{Event, PostgresStorage, Storage, Store};

    /// Checks the error of an operation on the unresponsive server at `port`.
    fn check(what: &str, error: &Error, port: u16, limit: &str) {
        let text = shown(error);
        assert!(
            text.contains(&format!(
                "cannot connect to postgres://user@127.0.0.1:{port}/db"
            )),
            "{what}: names the address: {text}"
        );
        assert!(
            text.contains(&format!("within {limit}")),
            "{what}: says how long it waited: {text}"
        );
        assert_eq!(
            text.matches("check that the server is up").count(),
            1,
            "{what}: says what to check, once: {text}"
        );
        assert!(
            text.contains("the URL, user and password"),
            "{what}: {text}"
        );
        assert_eq!(text.matches("no session").count(), 1, "{what}: {text}");
    }

    #[test]
    fn every_operation_gives_up_after_connect_timeout() {
        let port = unresponsive_server();
        let url = format!("postgres://user@127.0.0.1:{port}/db?connect_timeout=1");
        let storage = PostgresStorage::connect(&url).expect("a valid URL");
        let storage = std::sync::Arc::new(storage);
        type Operation = fn(&PostgresStorage) -> Result<(), Error>;
        let operations: [(&str, Operation); 6] = [
            ("last_commit", |s| s.last_commit().map(drop)),
            ("read_commits", |s| s.read_commits(1, 10).map(drop)),
            ("create_commit", |s| s.create_commit(1, b"{}").map(drop)),
            ("append_commit", |s| s.append_commit(1, b"{}").map(drop)),
            ("ensure_created", |s| s.ensure_created()),
            ("watch", |s| s.watch().map(drop)),
        ];
        for (what, operation) in operations {
            let storage = std::sync::Arc::clone(&storage);
            let (outcome, _) = within_watchdog(what, move || operation(&storage));
            let error = outcome.expect_err(what);
            check(what, &error, port, "1s");
        }
    }

    #[test]
    fn a_store_opened_on_the_address_gives_up_too() {
        let port = unresponsive_server();
        let url = format!("postgres://user@127.0.0.1:{port}/db?connect_timeout=1");
        let (outcome, _) = within_watchdog("Store::open, tip and log", move || {
            let opened = Store::open(&url).map(drop);
            let store = Store::with_storage(PostgresStorage::connect(&url)?);
            let tip = store.tip().map(drop);
            let logged = store.log(&Event::new("opened")).map(drop);
            Ok::<_, Error>((opened, tip, logged))
        });
        let (opened, tip, logged) = outcome.expect("a valid URL");
        check("open", &opened.expect_err("open"), port, "1s");
        check("tip", &tip.expect_err("tip"), port, "1s");
        check("log", &logged.expect_err("log"), port, "1s");
    }

    #[test]
    fn without_connect_timeout_the_limit_is_ten_seconds() {
        let port = unresponsive_server();
        let url = format!("postgres://user@127.0.0.1:{port}/db");
        let storage = PostgresStorage::connect(&url).expect("a valid URL");
        let (outcome, _) = within_watchdog("last_commit", move || storage.last_commit());
        check("last_commit", &outcome.expect_err("no answer"), port, "10s");
    }
}
