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
    let port = listener
        .local_addr()
        .expect("the listener's address")
        .port();
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

/// S3 settings come from `AWS_*` environment variables, which a test must not change in its
/// own process (other tests run beside it): each S3 test runs again as a child process with
/// the variables set, and its parent checks that the child passed.
#[cfg(feature = "s3")]
mod s3 {
    use super::*;
    use foldstore::{Event, ObjectStorage, Storage, Store};
    use std::process::{Command, Stdio};

    /// Set in the child process: the unresponsive server's port.
    const PORT_VARIABLE: &str = "FOLDSTORE_TEST_UNRESPONSIVE_S3_PORT";

    /// In the parent (returns `None`): starts an unresponsive server, runs the test `name`
    /// again in a child process with the `AWS_*` variables naming that server (and
    /// `variables`), and fails unless the child passes. In the child: the server's port.
    fn port_in_child(name: &str, variables: &[(&str, &str)]) -> Option<u16> {
        if let Ok(port) = std::env::var(PORT_VARIABLE) {
            return Some(port.parse().expect("the port the parent gave"));
        }
        let port = unresponsive_server();
        let mut command = Command::new(std::env::current_exe().expect("the test executable"));
        command
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (variable, _) in std::env::vars_os() {
            if variable.to_string_lossy().starts_with("AWS_") {
                command.env_remove(variable);
            }
        }
        command
            .env(PORT_VARIABLE, port.to_string())
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
            .env("AWS_ACCESS_KEY_ID", "foldstore-test")
            .env("AWS_SECRET_ACCESS_KEY", "foldstore-test-secret")
            .env("AWS_REGION", "us-east-1")
            // Never the instance metadata service, whatever the machine.
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (variable, value) in variables {
            command.env(variable, value);
        }
        let mut child = command.spawn().expect("start the child test process");
        let started = Instant::now();
        loop {
            if child.try_wait().expect("wait for the child").is_some() {
                break;
            }
            if started.elapsed() > WATCHDOG * 2 {
                let _ = child.kill();
                let output = child.wait_with_output().expect("the child's output");
                panic!(
                    "{name} did not finish within {:?} in its child process: it hangs\n{}{}",
                    WATCHDOG * 2,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("the child's output");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{name} failed in its child process:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        None
    }

    /// Checks the error of an operation on the unresponsive server at `port`, whose
    /// requests may take `limit`; `allow_http`: whether `AWS_ALLOW_HTTP=true` is set.
    fn check(what: &str, error: &Error, port: u16, limit: &str, allow_http: bool) {
        let text = shown(error);
        assert_eq!(
            text.contains("AWS_ALLOW_HTTP=true is set"),
            !allow_http,
            "{what}: names AWS_ALLOW_HTTP when it is missing: {text}"
        );
        assert!(
            text.contains("s3://foldstore-unresponsive/store"),
            "{what}: names the store: {text}"
        );
        assert_eq!(
            text.matches("check that").count(),
            1,
            "{what}: says what to check, once: {text}"
        );
        for expected in [
            format!("the server at http://127.0.0.1:{port}"),
            "AWS_ACCESS_KEY_ID".to_owned(),
            format!("a request may take {limit}"),
        ] {
            assert!(text.contains(&expected), "{what}: {expected}: {text}");
        }
    }

    /// Runs the operations of a store at `url` on the unresponsive server at `port`.
    fn every_operation_gives_up(url: &str, port: u16, limit: &str) {
        let storage = ObjectStorage::from_url(url).expect("a valid URL");
        type Operation = fn(&ObjectStorage) -> Result<(), Error>;
        let operations: [(&str, Operation); 4] = [
            ("last_commit", |s| s.last_commit().map(drop)),
            ("read_commits", |s| s.read_commits(1, 10).map(drop)),
            ("create_commit", |s| s.create_commit(1, b"{}").map(drop)),
            ("log", |s| {
                Store::with_storage(s.clone())
                    .log(&Event::new("opened"))
                    .map(drop)
            }),
        ];
        for (what, operation) in operations {
            let storage = storage.clone();
            let (outcome, _) = within_watchdog(what, move || operation(&storage));
            check(what, &outcome.expect_err(what), port, limit, true);
        }
    }

    #[test]
    fn operations_give_up_after_the_url_s_timeout() {
        let Some(port) = port_in_child(
            "s3::operations_give_up_after_the_url_s_timeout",
            &[("AWS_ALLOW_HTTP", "true")],
        ) else {
            return;
        };
        every_operation_gives_up(
            "s3://foldstore-unresponsive/store?timeout=1&connect_timeout=1",
            port,
            "1s",
        );
    }

    #[test]
    fn operations_give_up_after_aws_timeout() {
        let Some(port) = port_in_child(
            "s3::operations_give_up_after_aws_timeout",
            &[
                ("AWS_ALLOW_HTTP", "true"),
                ("AWS_TIMEOUT", "1s"),
                ("AWS_CONNECT_TIMEOUT", "1s"),
            ],
        ) else {
            return;
        };
        every_operation_gives_up("s3://foldstore-unresponsive/store", port, "1s");
    }

    #[test]
    fn an_http_endpoint_without_aws_allow_http_says_so() {
        let Some(port) = port_in_child("s3::an_http_endpoint_without_aws_allow_http_says_so", &[])
        else {
            return;
        };
        let storage =
            ObjectStorage::from_url("s3://foldstore-unresponsive/store").expect("a valid URL");
        let (outcome, _) = within_watchdog("last_commit", move || storage.last_commit());
        check(
            "last_commit",
            &outcome.expect_err("refused"),
            port,
            "30s",
            false,
        );
    }
}
