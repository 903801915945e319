//! The PostgreSQL backend's own tests (the shared rules are in `storage_conformance.rs`):
//! exact bytes, the schema version, URLs and passwords, notifications, writes whose outcome is
//! unknown (a proxy cuts the connection at chosen moments), races between threads and between
//! processes, and throughput (an ignored test).
//!
//! They need the server named by `FOLDSTORE_TEST_POSTGRES`; `bash .ci/test` starts one. Without
//! it they pass with a note on stderr, except under `CI=true`, where they fail.

#![cfg(feature = "postgres")]

mod common;
#[path = "common/postgres.rs"]
mod pg_server;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::counter::{Counter, CounterEvent};
use common::workers::{env_number, gate, print_worker_result, run_workers, test_name};
use foldstore::{
    Conflict, Dispatch, Error, Event, PostgresStorage, Storage, Store, COMMIT_ID_HEADER,
};
use pg_server::{fresh_postgres, server_url, unique_table, url_with_table};
use postgres::config::Host;
use postgres::{Client, NoTls};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A created, empty backend on a fresh table, its table name and the server's URL.
fn created() -> Option<(PostgresStorage, String, String)> {
    let (storage, table, url) = fresh_postgres()?;
    storage.ensure_created().expect("ensure_created");
    Some((storage, table, url))
}

/// A plain client on the test server, for doing what other programs would.
fn client(url: &str) -> Client {
    Client::connect(url, NoTls).expect("connect to the test server")
}

fn backend_message(error: &Error) -> &str {
    match error {
        Error::Backend { message, .. } => message,
        other => panic!("not a backend error: {other:?}"),
    }
}

#[test]
fn bytes_come_back_exactly_and_ranges_stop_at_gaps() {
    let Some((storage, _, _)) = created() else {
        return;
    };
    let large: Vec<u8> = (0..8_000_000_u32)
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).expect("a byte"))
        .collect();
    let documents: Vec<Vec<u8>> = vec![
        b"\xff\xfe\x00 not UTF-8 \xc3\x28 \x80".to_vec(),
        Vec::new(),
        b"{ \"events\" : [ ] , \"headers\":{\"b\":1,\"a\":2} }\n".to_vec(),
        "{\"events\":[{\"name\":\"\\u0000 é 😀\"}]}"
            .as_bytes()
            .to_vec(),
        large,
    ];
    for (number, document) in (1..).zip(&documents) {
        assert_eq!(storage.create_commit(number, document).unwrap(), Ok(()));
    }
    // A gap, then more.
    assert_eq!(storage.create_commit(7, b"seven").unwrap(), Ok(()));
    for (number, document) in (1..).zip(&documents) {
        assert_eq!(
            storage.read_commit(number).unwrap().as_ref(),
            Some(document)
        );
    }
    assert_eq!(storage.read_commits(1, 100).unwrap(), documents);
    assert_eq!(
        storage.read_commits(2, 2).unwrap(),
        documents[1..3].to_vec()
    );
    assert_eq!(storage.read_commits(0, 1).unwrap(), documents[..1].to_vec());
    assert!(storage.read_commits(6, 10).unwrap().is_empty());
    assert_eq!(storage.read_commits(7, 10).unwrap(), [b"seven".to_vec()]);
    assert!(storage.read_commits(1, 0).unwrap().is_empty());
    assert!(storage.read_commits(u64::MAX, 5).unwrap().is_empty());
    assert_eq!(storage.last_commit().unwrap(), 7);
    assert_eq!(storage.list().unwrap().commits, [1, 2, 3, 4, 5, 7]);
    assert_eq!(storage.snapshots().unwrap(), (Vec::new(), Some(7)));
    storage.create_snapshot("b", 3, b"\xff").unwrap().unwrap();
    storage.create_snapshot("a", 5, b"").unwrap().unwrap();
    assert_eq!(
        storage.snapshots().unwrap(),
        (vec![("a".to_owned(), 5), ("b".to_owned(), 3)], Some(7))
    );

    let modified = storage.commit_modified(1).unwrap().expect("a time");
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or(Duration::ZERO);
    assert!(age < Duration::from_secs(300), "created {age:?} ago");
    assert_eq!(storage.commit_modified(6).unwrap(), None);

    // Beyond bigint: nothing can be there, and nothing can be written.
    assert_eq!(storage.read_commit(u64::MAX).unwrap(), None);
    let error = storage.create_commit(u64::MAX, b"x").unwrap_err();
    assert!(backend_message(&error).contains("bigint"), "{error}");
}

#[test]
fn the_store_writes_commit_ids_and_reads_through_the_backend() {
    let Some((storage, _, _)) = created() else {
        return;
    };
    assert!(storage.needs_commit_ids());
    let store = Store::with_storage(storage);
    for index in 0..20 {
        assert_eq!(
            store
                .log(&Event::with_data("added", json!({ "index": index })))
                .unwrap(),
            index + 1
        );
    }
    let commits: Vec<_> = store.commits(..).map(Result::unwrap).collect();
    assert_eq!(commits.len(), 20);
    let ids: BTreeSet<String> = commits
        .iter()
        .map(|commit| {
            commit.headers()[COMMIT_ID_HEADER]
                .as_str()
                .expect("a commitId")
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 20, "every commit has its own id");
    assert_eq!(store.tip().unwrap(), 20);
}

#[test]
fn a_newer_schema_version_is_refused() {
    let Some((storage, table, url)) = created() else {
        return;
    };
    assert_eq!(storage.create_commit(1, b"one").unwrap(), Ok(()));
    let mut admin = client(&url);
    admin
        .execute(
            &format!("UPDATE \"{table}_meta\" SET value = '99' WHERE key = 'schema_version'"),
            &[],
        )
        .unwrap();
    // A backend that has not checked the version yet refuses to read or write.
    let other = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    for result in [
        other.ensure_created().map(|_| ()),
        other.read_commit(1).map(|_| ()),
        other.list().map(|_| ()),
        other.create_commit(2, b"two").map(|_| ()),
    ] {
        let error = result.expect_err("a newer schema is refused");
        let message = backend_message(&error);
        assert!(
            message.contains("version 99")
                && message.contains("newer foldstore")
                && message.contains(&table),
            "{message}"
        );
    }
    // Nothing was written.
    let count: i64 = admin
        .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 1);

    admin
        .execute(
            &format!("UPDATE \"{table}_meta\" SET value = 'nonsense' WHERE key = 'schema_version'"),
            &[],
        )
        .unwrap();
    let third = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    let error = third.ensure_created().expect_err("an invalid version");
    assert!(
        backend_message(&error).contains("invalid schema version"),
        "{error}"
    );
}

#[test]
fn urls_are_parsed_and_passwords_never_shown() {
    const SECRET: &str = "s3cr3t-Pa55";
    let storage = PostgresStorage::connect(&format!(
        "postgres://alice:{SECRET}@db.example:6543/shop?table=orders_2&connect_timeout=5"
    ))
    .unwrap();
    assert_eq!(storage.table(), "orders_2");
    assert_eq!(storage.channel(), "orders_2");
    assert_eq!(storage.address(), "postgres://alice@db.example:6543/shop");
    let shown = [
        format!("{storage:?}"),
        storage.commit_location(7),
        storage.snapshot_location("members", 7),
    ];
    for text in &shown {
        assert!(!text.contains(SECRET), "{text}");
    }
    assert_eq!(
        storage.commit_location(7),
        "postgres://alice@db.example:6543/shop (table orders_2, commit 7)"
    );

    let default = PostgresStorage::connect("postgresql://bob@localhost/db").unwrap();
    assert_eq!(default.table(), "foldstore");
    assert_eq!(default.address(), "postgres://bob@localhost:5432/db");

    for (url, expected) in [
        (
            format!("mysql://alice:{SECRET}@host/db"),
            "must start with postgres://",
        ),
        (
            format!("postgres://alice:{SECRET}@host/db?table=1abc"),
            "starts with a digit",
        ),
        (
            format!("postgres://alice:{SECRET}@host/db?table=a-b"),
            "characters other than",
        ),
        (
            format!("postgres://alice:{SECRET}@host/db?table=x&table=y"),
            "twice",
        ),
        (format!("postgres://alice:{SECRET}@host/db?table="), "empty"),
        (
            format!("postgres://alice:{SECRET}@host/db?table={}", "a".repeat(51)),
            "longer than 50",
        ),
        (
            format!("postgres://alice:{SECRET}@host:notaport/db"),
            "port",
        ),
        (
            format!("postgres://alice@host/db?password={SECRET}&bogus=1"),
            "bogus",
        ),
    ] {
        let error = PostgresStorage::connect(&url).expect_err(&url);
        let message = error.to_string();
        assert!(message.contains(expected), "{url}: {message}");
        assert!(
            message.contains("invalid PostgreSQL URL postgres") || message.contains("mysql://"),
            "names the URL: {message}"
        );
        assert!(!message.contains(SECRET), "{message}");
        assert!(!format!("{error:?}").contains(SECRET), "{error:?}");
    }

    // A server that is not there: a clear error that names the address, not the password.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // Free once the listener is dropped.
    let absent =
        PostgresStorage::connect(&format!("postgres://alice:{SECRET}@127.0.0.1:{port}/db"))
            .unwrap();
    let error = absent.read_commit(1).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "cannot connect to postgres://alice@127.0.0.1:{port}/db"
        )) && message.contains("check that the server is up"),
        "{message}"
    );
    assert!(!message.contains(SECRET), "{message}");
    // Shown with its sources, as the command-line tool shows errors, the cause appears once.
    let mut shown = message.clone();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        shown.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert_eq!(shown.matches("refused").count(), 1, "{shown}");
}

/// Whether the table `name` exists on the server.
fn table_exists(admin: &mut Client, name: &str) -> bool {
    admin
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("\"{name}\"")],
        )
        .unwrap()
        .get(0)
}

/// The number of rows in the table `name`.
fn rows_in(admin: &mut Client, name: &str) -> i64 {
    admin
        .query_one(&format!("SELECT count(*) FROM \"{name}\""), &[])
        .unwrap()
        .get(0)
}

#[test]
fn a_table_name_that_is_a_helper_table_of_another_store_is_refused() {
    let Some((storage, table, url)) = created() else {
        return;
    };
    assert_eq!(storage.create_commit(1, b"one").unwrap(), Ok(()));
    for suffix in ["_quarantine", "_snapshots", "_meta", "_QUARANTINE"] {
        let name = format!("{table}{suffix}");
        let error = PostgresStorage::connect(&url_with_table(&url, &name))
            .expect_err("the name of another store's helper table");
        let message = backend_message(&error);
        assert!(
            message.contains(&format!("{name:?}"))
                && message.contains(&format!("ends in {:?}", suffix.to_ascii_lowercase()))
                && message.contains("two stores would write to one table"),
            "{message}"
        );
        let mut config: postgres::Config = url.parse().unwrap();
        config.connect_timeout(Duration::from_secs(5));
        let error = PostgresStorage::with_config(config, &name)
            .expect_err("the name of another store's helper table");
        assert!(error.to_string().contains(&format!("{name:?}")), "{error}");
    }
    // The store itself is untouched.
    let mut admin = client(&url);
    assert_eq!(rows_in(&mut admin, &format!("{table}_quarantine")), 0);
    assert_eq!(storage.last_commit().unwrap(), 1);
}

#[test]
fn a_table_that_is_not_a_foldstore_commit_table_is_refused_and_never_written() {
    let Some(url) = pg_server::server_url() else {
        return;
    };
    let mut admin = client(&url);
    for (definition, found) in [
        // The shape of a quarantine table: the number is not a key, so two writers could
        // both be told they made commit 1.
        (
            "(id bigserial PRIMARY KEY, number bigint NOT NULL, document bytea NOT NULL, \
             created_at timestamptz, quarantined_at timestamptz NOT NULL DEFAULT now())",
            "primary key (id)",
        ),
        (
            "(number bigint, document bytea, created_at timestamptz DEFAULT now())",
            "and no primary key",
        ),
        (
            "(number integer PRIMARY KEY, document bytea, created_at timestamptz DEFAULT now())",
            "number integer",
        ),
        (
            "(number bigint PRIMARY KEY, document text, created_at timestamptz DEFAULT now())",
            "document text",
        ),
    ] {
        let table = unique_table();
        admin
            .batch_execute(&format!("CREATE TABLE \"{table}\" {definition}"))
            .unwrap();
        let storage = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
        let writer = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
        let results: Vec<(&str, Result<(), Error>)> = vec![
            ("create_commit", storage.create_commit(1, b"mine").map(drop)),
            (
                "create_commit",
                writer.create_commit(1, b"theirs").map(drop),
            ),
            (
                "append_commit",
                writer.append_commit(1, b"theirs").map(drop),
            ),
            (
                "create_snapshot",
                writer.create_snapshot("m", 1, b"{}").map(drop),
            ),
            ("last_commit", storage.last_commit().map(drop)),
            ("read_commit", storage.read_commit(1).map(drop)),
            ("list", storage.list().map(drop)),
            ("ensure_created", writer.ensure_created()),
        ];
        for (what, result) in results {
            let error = result.expect_err(what);
            let message = backend_message(&error);
            assert!(
                message.contains(&format!("table {table} at postgres://"))
                    && message.contains("is not a foldstore commit table")
                    && message.contains(found)
                    && message.contains("number bigint")
                    && message.contains("?table=NAME"),
                "{definition}: {what}: {message}"
            );
        }
        // Never written to, and nothing made next to it.
        assert_eq!(rows_in(&mut admin, &table), 0, "{definition}");
        for suffix in ["_snapshots", "_quarantine", "_meta"] {
            assert!(
                !table_exists(&mut admin, &format!("{table}{suffix}")),
                "{definition}: {suffix}"
            );
        }
    }
    // A view is refused as well.
    let table = unique_table();
    admin
        .batch_execute(&format!(
            "CREATE VIEW \"{table}\" AS SELECT 1::bigint AS number, ''::bytea AS document, \
             now() AS created_at"
        ))
        .unwrap();
    let storage = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    let error = storage.last_commit().expect_err("a view");
    assert!(backend_message(&error).contains("it is a view"), "{error}");
}

#[test]
fn a_helper_table_that_is_not_foldstore_s_is_refused() {
    let Some(url) = pg_server::server_url() else {
        return;
    };
    let mut admin = client(&url);
    for suffix in ["_snapshots", "_quarantine", "_meta"] {
        let table = unique_table();
        let helper = format!("{table}{suffix}");
        admin
            .batch_execute(&format!(
                "CREATE TABLE \"{helper}\" (id integer PRIMARY KEY, note text)"
            ))
            .unwrap();
        let storage = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
        let results: Vec<(&str, Result<(), Error>)> = vec![
            ("ensure_created", storage.ensure_created()),
            ("create_commit", storage.create_commit(1, b"one").map(drop)),
            (
                "create_snapshot",
                storage.create_snapshot("m", 1, b"{}").map(drop),
            ),
            ("read_commit", storage.read_commit(1).map(drop)),
        ];
        for (what, result) in results {
            let error = result.expect_err(what);
            let message = backend_message(&error);
            assert!(
                message.contains(&format!("table {helper} at postgres://"))
                    && message.contains(&format!("which the store in table {table} keeps"))
                    && message.contains("columns (id integer, note text) and primary key (id)"),
                "{suffix}: {what}: {message}"
            );
        }
        // Nothing was made or written.
        assert!(!table_exists(&mut admin, &table), "{suffix}");
        assert_eq!(rows_in(&mut admin, &helper), 0, "{suffix}");
    }
}

#[test]
fn with_config_checks_the_table_name() {
    let mut config = postgres::Config::new();
    config.host("localhost").user("carol").password("hunter2");
    let storage = PostgresStorage::with_config(config.clone(), "events").unwrap();
    assert_eq!(storage.table(), "events");
    assert!(!format!("{storage:?}").contains("hunter2"));
    let error = PostgresStorage::with_config(config, "bad name").unwrap_err();
    assert!(error.to_string().contains("bad name"), "{error}");
    assert!(PostgresStorage::with_config(postgres::Config::new(), "events").is_err());
}

#[test]
fn notifications_reach_a_watch_from_other_connections() {
    let Some((storage, table, url)) = created() else {
        return;
    };
    let mut watch = storage.watch().unwrap().expect("postgres can notify");
    let started = Instant::now();
    assert!(!watch.wait(Duration::from_millis(200)), "no commit yet");
    assert!(started.elapsed() >= Duration::from_millis(150));

    // Another backend (its own connections) commits: the watch wakes up soon.
    let writer = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    let waiter = thread::spawn(move || {
        let started = Instant::now();
        let noticed = watch.wait(Duration::from_secs(20));
        (noticed, started.elapsed(), watch)
    });
    thread::sleep(Duration::from_millis(100));
    assert_eq!(writer.create_commit(1, b"one").unwrap(), Ok(()));
    let (noticed, waited, mut watch) = waiter.join().unwrap();
    assert!(noticed, "the watch was not notified");
    assert!(waited < Duration::from_secs(10), "{waited:?}");

    // Another program inserting rows directly is noticed too (the trigger covers every
    // writer); several commits at once may come as one notice.
    let mut other = client(&url);
    for number in 2..=4_i64 {
        other
            .execute(
                &format!("INSERT INTO \"{table}\" (number, document) VALUES ($1, $2)"),
                &[&number, &b"raw".as_slice()],
            )
            .unwrap();
    }
    assert!(watch.wait(Duration::from_secs(20)));
    // The three notices may come in one wake-up or several; then they stop.
    let mut wake_ups = 1;
    while watch.wait(Duration::from_millis(300)) {
        wake_ups += 1;
        assert!(wake_ups <= 3, "more wake-ups than commits");
    }
    // Snapshots and conflicts are not commits: no notice.
    assert_eq!(
        writer.create_commit(2, b"again").unwrap(),
        Err(Conflict { commit: 2 })
    );
    writer.create_snapshot("m", 4, b"snap").unwrap().unwrap();
    assert!(
        !watch.wait(Duration::from_millis(300)),
        "nothing more happened"
    );

    // A watch whose connection is cut learns it (a possibly spurious notice) and listens
    // again.
    other
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE query = $1 AND pid <> pg_backend_pid()",
            &[&format!("LISTEN \"{table}\"")],
        )
        .unwrap();
    let started = Instant::now();
    assert!(
        watch.wait(Duration::from_secs(20)),
        "a lost connection is a notice"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Reconnected: the next wait listens again and gets real notices.
    let _ = watch.wait(Duration::from_millis(50));
    assert_eq!(writer.create_commit(5, b"five").unwrap(), Ok(()));
    assert!(watch.wait(Duration::from_secs(20)));
}

#[test]
fn creating_the_schema_from_many_connections_at_once_succeeds() {
    let Some(url) = server_url() else {
        return;
    };
    for _ in 0..3 {
        let table = unique_table();
        let barrier = Barrier::new(8);
        thread::scope(|scope| {
            for _ in 0..8 {
                let (barrier, url, table) = (&barrier, &url, &table);
                scope.spawn(move || {
                    let storage = PostgresStorage::connect(&url_with_table(url, table)).unwrap();
                    barrier.wait();
                    storage.ensure_created().expect("concurrent ensure_created");
                    assert!(storage.exists().unwrap());
                });
            }
        });
        let storage = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
        storage.ensure_created().unwrap();
        assert_eq!(storage.create_commit(1, b"x").unwrap(), Ok(()));
    }
}

#[test]
fn many_backends_race_for_the_same_numbers() {
    const THREADS: usize = 8;
    const NUMBERS: u64 = 40;
    let Some((storage, table, url)) = created() else {
        return;
    };
    let barrier = Barrier::new(THREADS);
    let winners = Mutex::new(vec![Vec::new(); usize::try_from(NUMBERS + 1).unwrap()]);
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, winners, url, table) = (&barrier, &winners, &url, &table);
            scope.spawn(move || {
                // Each thread has its own backend, as separate processes would.
                let own = PostgresStorage::connect(&url_with_table(url, table)).unwrap();
                barrier.wait();
                for number in 1..=NUMBERS {
                    let document = format!("writer {writer} at {number}");
                    match own.create_commit(number, document.as_bytes()).unwrap() {
                        Ok(()) => {
                            winners.lock().unwrap()[usize::try_from(number).unwrap()].push(writer)
                        }
                        Err(conflict) => assert_eq!(conflict, Conflict { commit: number }),
                    }
                }
            });
        }
    });
    let winners = winners.into_inner().unwrap();
    for number in 1..=NUMBERS {
        let won = &winners[usize::try_from(number).unwrap()];
        assert_eq!(won.len(), 1, "commit {number}: {won:?}");
        assert_eq!(
            storage.read_commit(number).unwrap(),
            Some(format!("writer {} at {number}", won[0]).into_bytes())
        );
    }
    assert_eq!(
        storage.list().unwrap().commits,
        (1..=NUMBERS).collect::<Vec<_>>()
    );
}

#[test]
fn quarantine_moves_the_row_aside() {
    let Some((storage, table, url)) = created() else {
        return;
    };
    storage.create_commit(1, b"good").unwrap().unwrap();
    storage.create_commit(2, b"\xffdamaged").unwrap().unwrap();
    let location = storage.quarantine_commit(2).unwrap();
    assert!(
        location.contains(&format!("{table}_quarantine")) && location.contains("commit 2"),
        "{location}"
    );
    assert_eq!(storage.read_commit(2).unwrap(), None);
    assert_eq!(storage.last_commit().unwrap(), 1);
    let row = client(&url)
        .query_one(
            &format!("SELECT number, document FROM \"{table}_quarantine\""),
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2);
    assert_eq!(row.get::<_, Vec<u8>>(1), b"\xffdamaged");
    // Number 2 is free again; a missing commit cannot be moved.
    storage.create_commit(2, b"new").unwrap().unwrap();
    let error = storage.quarantine_commit(9).unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}

// Writes whose outcome is unknown (DESIGN.md, guarantee 7): a proxy between the backend and
// the server cuts the connection at a chosen moment.

/// When the proxy cuts a connection.
enum Cut {
    /// When the client sends a message containing `marker`, before it reaches the server; then
    /// runs `then` (e.g. another writer taking the number).
    BeforeSending {
        marker: Vec<u8>,
        then: Option<Box<dyn FnOnce() + Send>>,
    },
    /// After a message containing `marker` was sent, when the server's `INSERT 0 1`
    /// acknowledgement comes back, before the client sees it.
    BeforeAcknowledgement { marker: Vec<u8> },
    /// Every time the client sends `marker`, before it reaches the server.
    Always { marker: Vec<u8> },
}

/// A TCP proxy to the test server that can cut connections.
struct Proxy {
    port: u16,
    plan: Arc<Mutex<Option<Cut>>>,
    cuts: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let plan: Arc<Mutex<Option<Cut>>> = Arc::new(Mutex::new(None));
        let cuts = Arc::new(AtomicU64::new(0));
        let (accept_plan, accept_cuts) = (Arc::clone(&plan), Arc::clone(&cuts));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect((upstream.0.as_str(), upstream.1)).unwrap();
                Proxy::relay(client, server, &accept_plan, &accept_cuts);
            }
        });
        Proxy { port, plan, cuts }
    }

    fn relay(
        client: TcpStream,
        server: TcpStream,
        plan: &Arc<Mutex<Option<Cut>>>,
        cuts: &Arc<AtomicU64>,
    ) {
        let sent_marker = Arc::new(AtomicBool::new(false));
        let sockets = Arc::new([client.try_clone().unwrap(), server.try_clone().unwrap()]);
        let cut = move |cuts: &AtomicU64| {
            cuts.fetch_add(1, Ordering::SeqCst);
            for socket in sockets.iter() {
                let _ = socket.shutdown(Shutdown::Both);
            }
        };
        let cut_up = cut.clone();
        let (plan_up, cuts_up, marker_up) =
            (Arc::clone(plan), Arc::clone(cuts), Arc::clone(&sent_marker));
        let (mut from_client, mut to_server) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || {
            let mut buffer = vec![0_u8; 1 << 16];
            loop {
                let Ok(read) = from_client.read(&mut buffer) else {
                    return;
                };
                if read == 0 {
                    let _ = to_server.shutdown(Shutdown::Write);
                    return;
                }
                let chunk = &buffer[..read];
                let mut plan = plan_up.lock().unwrap();
                match plan.as_ref() {
                    Some(Cut::BeforeSending { marker, .. }) if contains(chunk, marker) => {
                        let Some(Cut::BeforeSending { then, .. }) = plan.take() else {
                            unreachable!()
                        };
                        drop(plan);
                        if let Some(then) = then {
                            then();
                        }
                        cut_up(&cuts_up);
                        return;
                    }
                    Some(Cut::Always { marker }) if contains(chunk, marker) => {
                        drop(plan);
                        cut_up(&cuts_up);
                        return;
                    }
                    Some(Cut::BeforeAcknowledgement { marker }) if contains(chunk, marker) => {
                        marker_up.store(true, Ordering::SeqCst);
                    }
                    _ => {}
                }
                drop(plan);
                if to_server.write_all(chunk).is_err() {
                    return;
                }
            }
        });
        let (plan_down, cuts_down) = (Arc::clone(plan), Arc::clone(cuts));
        let (mut from_server, mut to_client) = (server, client);
        thread::spawn(move || {
            let mut buffer = vec![0_u8; 1 << 16];
            loop {
                let Ok(read) = from_server.read(&mut buffer) else {
                    return;
                };
                if read == 0 {
                    let _ = to_client.shutdown(Shutdown::Write);
                    return;
                }
                let chunk = &buffer[..read];
                if sent_marker.load(Ordering::SeqCst) && contains(chunk, b"INSERT 0 1") {
                    let mut plan = plan_down.lock().unwrap();
                    if matches!(plan.as_ref(), Some(Cut::BeforeAcknowledgement { .. })) {
                        plan.take();
                        drop(plan);
                        cut(&cuts_down);
                        return;
                    }
                }
                if to_client.write_all(chunk).is_err() {
                    return;
                }
            }
        });
    }

    fn arm(&self, cut: Cut) {
        *self.plan.lock().unwrap() = Some(cut);
    }

    fn disarm(&self) -> Option<Cut> {
        self.plan.lock().unwrap().take()
    }

    fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The test server's host and port, from its URL.
fn upstream(url: &str) -> (String, u16) {
    let config: postgres::Config = url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        Host::Tcp(host) => host.clone(),
        #[allow(unreachable_patterns)]
        _ => panic!("the test server must be reached over TCP"),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// A backend on `table` that reaches the server through `proxy`.
fn through_proxy(url: &str, table: &str, proxy: &Proxy) -> PostgresStorage {
    let mut config: postgres::Config = url.parse().unwrap();
    let mut proxied = postgres::Config::new();
    proxied.host("127.0.0.1").port(proxy.port);
    if let Some(user) = config.get_user() {
        proxied.user(user);
    }
    if let Some(password) = config.get_password() {
        proxied.password(password);
    }
    if let Some(dbname) = config.get_dbname() {
        proxied.dbname(dbname);
    }
    config.connect_timeout(Duration::from_secs(10));
    PostgresStorage::with_config(proxied, table).unwrap()
}

#[test]
fn an_insert_acknowledged_by_the_server_but_lost_on_the_way_is_ours() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    assert_eq!(storage.create_commit(1, b"warm-up").unwrap(), Ok(()));

    let document = br#"{"headers":{"commitId":"lost-ack-1"},"events":[]}"#;
    proxy.arm(Cut::BeforeAcknowledgement {
        marker: b"lost-ack-1".to_vec(),
    });
    assert_eq!(
        storage.create_commit(2, document).unwrap(),
        Ok(()),
        "the commit is found to be ours"
    );
    assert_eq!(proxy.cuts(), 1, "the acknowledgement was cut");
    assert!(proxy.disarm().is_none());
    assert_eq!(
        direct.read_commit(2).unwrap().as_deref(),
        Some(&document[..])
    );
    assert_eq!(direct.list().unwrap().commits, [1, 2]);

    // The same for a snapshot.
    proxy.arm(Cut::BeforeAcknowledgement {
        marker: b"lost-ack-snapshot".to_vec(),
    });
    assert_eq!(
        storage
            .create_snapshot("m", 2, b"lost-ack-snapshot")
            .unwrap(),
        Ok(())
    );
    assert_eq!(proxy.cuts(), 2);
    assert_eq!(
        direct.read_snapshot("m", 2).unwrap().as_deref(),
        Some(&b"lost-ack-snapshot"[..])
    );
}

#[test]
fn an_insert_that_never_reached_the_server_is_tried_again() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    storage.ensure_created().unwrap();

    let document = br#"{"headers":{"commitId":"never-sent-1"},"events":[]}"#;
    proxy.arm(Cut::BeforeSending {
        marker: b"never-sent-1".to_vec(),
        then: None,
    });
    assert_eq!(storage.create_commit(1, document).unwrap(), Ok(()));
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(
        direct.read_commit(1).unwrap().as_deref(),
        Some(&document[..])
    );
}

#[test]
fn an_insert_cut_while_another_writer_took_the_number_is_a_conflict() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    storage.ensure_created().unwrap();

    let theirs = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    proxy.arm(Cut::BeforeSending {
        marker: b"cut-and-taken".to_vec(),
        then: Some(Box::new(move || {
            assert_eq!(theirs.create_commit(1, b"theirs").unwrap(), Ok(()));
        })),
    });
    assert_eq!(
        storage.create_commit(1, b"ours: cut-and-taken").unwrap(),
        Err(Conflict { commit: 1 })
    );
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(
        direct.read_commit(1).unwrap().as_deref(),
        Some(&b"theirs"[..])
    );
}

#[test]
fn an_insert_that_keeps_failing_gives_up_with_a_clear_error() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    storage.ensure_created().unwrap();
    proxy.arm(Cut::Always {
        marker: b"always-cut".to_vec(),
    });
    let error = storage.create_commit(1, b"always-cut").unwrap_err();
    let message = backend_message(&error);
    assert!(
        message.contains("create commit 1") && message.contains("did not happen"),
        "{message}"
    );
    assert!(proxy.cuts() >= 2, "tried more than once: {}", proxy.cuts());
    assert_eq!(direct.read_commit(1).unwrap(), None);
    // The backend still works afterwards.
    proxy.disarm();
    assert_eq!(storage.create_commit(1, b"fine").unwrap(), Ok(()));
}

#[test]
fn appends_with_an_unknown_outcome_land_once() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    storage.create_commit(1, b"one").unwrap().unwrap();

    // The acknowledgement is lost: the document is found where it landed, and not written
    // again.
    proxy.arm(Cut::BeforeAcknowledgement {
        marker: b"append-lost-ack".to_vec(),
    });
    assert_eq!(storage.append_commit(1, b"append-lost-ack").unwrap(), 2);
    assert_eq!(proxy.cuts(), 1);
    // The insert never reached the server: it is tried again.
    proxy.arm(Cut::BeforeSending {
        marker: b"append-never-sent".to_vec(),
        then: None,
    });
    assert_eq!(storage.append_commit(1, b"append-never-sent").unwrap(), 3);
    assert_eq!(proxy.cuts(), 2);
    // Cut while another writer takes the number: the append takes the next one.
    let theirs = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    proxy.arm(Cut::BeforeSending {
        marker: b"append-raced".to_vec(),
        then: Some(Box::new(move || {
            assert_eq!(theirs.create_commit(4, b"theirs").unwrap(), Ok(()));
        })),
    });
    assert_eq!(storage.append_commit(2, b"append-raced").unwrap(), 5);
    assert_eq!(proxy.cuts(), 3);
    // Always cut (the lookup too, since it sends the document): a clear error that says the
    // outcome is unknown; nothing was written.
    proxy.arm(Cut::Always {
        marker: b"append-always-cut".to_vec(),
    });
    let error = storage.append_commit(1, b"append-always-cut").unwrap_err();
    let message = backend_message(&error);
    assert!(
        message.contains("cannot append a commit from number 1 on")
            && message.contains("may or may not exist"),
        "{message}"
    );
    proxy.disarm();

    assert_eq!(direct.list().unwrap().commits, [1, 2, 3, 4, 5]);
    let expected: [&[u8]; 5] = [
        b"one",
        b"append-lost-ack",
        b"append-never-sent",
        b"theirs",
        b"append-raced",
    ];
    assert_eq!(
        direct.read_commits(1, 10).unwrap(),
        expected.map(<[u8]>::to_vec)
    );
}

#[test]
fn reads_recover_from_connections_the_server_closed() {
    let Some((_, table, url)) = fresh_postgres() else {
        return;
    };
    // Its own application name, so that only its connections are closed below.
    let storage = PostgresStorage::connect(&format!(
        "{}&application_name={table}",
        url_with_table(&url, &table)
    ))
    .unwrap();
    storage.ensure_created().unwrap();
    storage.create_commit(1, b"one").unwrap().unwrap();
    // Several connections in the pool.
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..20 {
                    assert_eq!(
                        storage.read_commit(1).unwrap().as_deref(),
                        Some(&b"one"[..])
                    );
                }
            });
        }
    });
    // The server closes every connection of the backend (as a restart would).
    let mut admin = client(&url);
    let closed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&table],
        )
        .unwrap()
        .len();
    assert!(closed >= 1, "no connection to close");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        storage.read_commit(1).unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(storage.create_commit(2, b"two").unwrap(), Ok(()));
    assert_eq!(
        storage.create_commit(2, b"two").unwrap(),
        Err(Conflict { commit: 2 })
    );
    assert_eq!(storage.last_commit().unwrap(), 2);
}

// Several processes: read-write instances of the counter model racing on one table.

/// The store's URL (with its table) in a worker process; absent in a normal test run.
const CHILD_URL: &str = "FOLDSTORE_PG_CHILD_URL";
/// The worker's number, from 0.
const CHILD_ID: &str = "FOLDSTORE_PG_CHILD_ID";
/// How many workers there are.
const CHILD_COUNT: &str = "FOLDSTORE_PG_CHILD_COUNT";
/// How many read-write increments each worker runs.
const CHILD_CALLS: &str = "FOLDSTORE_PG_CHILD_CALLS";
/// A folder where workers wait for each other once.
const CHILD_GATE: &str = "FOLDSTORE_PG_CHILD_GATE";
/// The attempts each read-write instance may make.
const MAX_ATTEMPTS: u32 = 100;

/// What one worker did.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    worker: u64,
    commits: Vec<u64>,
    added: i64,
    failures: u64,
    attempts: u64,
}

/// A worker process: runs only when started by `read_write_instances_race_from_several_processes`.
#[test]
fn postgres_counter_worker() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let worker = env_number(CHILD_ID);
    let workers = env_number(CHILD_COUNT);
    let calls = env_number(CHILD_CALLS);
    let gate_folder = PathBuf::from(std::env::var(CHILD_GATE).unwrap());

    let store = Store::with_storage(PostgresStorage::connect(&url).unwrap());
    let model = store.define_model(Counter).unwrap();
    let mut tally = Tally {
        worker,
        ..Tally::default()
    };
    // Past a generous time, the worker starts anyway.
    gate(&gate_folder, worker, workers);
    for call in 0..calls {
        // Workers add different amounts, so the total tells whose increments landed.
        let by = i64::try_from(worker * 1000 + call + 1).unwrap();
        let mut attempt = 0_u32;
        let result = model.with_read_write_instance(
            |view, flag| {
                attempt += 1;
                view.dispatch(CounterEvent::Incremented { by })?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            MAX_ATTEMPTS,
        );
        tally.attempts += u64::from(attempt);
        match result {
            Ok(outcome) => {
                tally
                    .commits
                    .push(outcome.commit.expect("a ready instance commits"));
                tally.added += by;
            }
            Err(Error::RetriesExhausted { .. }) => tally.failures += 1,
            Err(other) => panic!("worker {worker}: unexpected error: {other}"),
        }
    }
    print_worker_result(&tally);
}

#[test]
fn read_write_instances_race_from_several_processes() {
    const WORKERS: u64 = 4;
    const CALLS: u64 = 30;
    let Some((storage, table, url)) = created() else {
        return;
    };
    let store_url = url_with_table(&url, &table);
    let gate_folder = tempfile::tempdir().unwrap();
    let tallies: Vec<Tally> = run_workers(
        &test_name(module_path!(), "postgres_counter_worker"),
        WORKERS,
        |worker, command| {
            command
                .env(CHILD_URL, &store_url)
                .env(CHILD_ID, worker.to_string())
                .env(CHILD_COUNT, WORKERS.to_string())
                .env(CHILD_CALLS, CALLS.to_string())
                .env(CHILD_GATE, gate_folder.path());
        },
    );

    let successes: u64 = tallies.iter().map(|t| t.commits.len() as u64).sum();
    let failures: u64 = tallies.iter().map(|t| t.failures).sum();
    let attempts: u64 = tallies.iter().map(|t| t.attempts).sum();
    assert_eq!(successes + failures, WORKERS * CALLS, "{tallies:?}");
    assert_eq!(
        failures, 0,
        "{MAX_ATTEMPTS} attempts are plenty: {tallies:?}"
    );
    let mut commits: Vec<u64> = tallies.iter().flat_map(|t| t.commits.clone()).collect();
    commits.sort_unstable();
    assert_eq!(
        commits,
        (1..=successes).collect::<Vec<_>>(),
        "every commit is exactly one acknowledged call"
    );
    eprintln!(
        "{WORKERS} processes: {successes} commits in {attempts} attempts ({} lost races)",
        attempts - successes
    );

    // Seen afresh: commits 1..=n, contiguous, each one increment, with distinct ids.
    assert_eq!(storage.list().unwrap().commits, commits);
    let store = Store::with_storage(storage);
    assert_eq!(store.tip().unwrap(), successes);
    let mut ids = BTreeSet::new();
    let mut sum = 0;
    for (expected, commit) in (1..).zip(store.commits(..)) {
        let commit = commit.unwrap();
        assert_eq!(commit.number(), expected);
        assert_eq!(commit.events().len(), 1);
        sum += commit.events()[0]
            .data()
            .and_then(|data| data["by"].as_i64())
            .expect("by");
        assert!(ids.insert(commit.headers()[COMMIT_ID_HEADER].to_string()));
    }
    let acknowledged: i64 = tallies.iter().map(|t| t.added).sum();
    assert_eq!(sum, acknowledged);
    let counter = store.define_model(Counter).unwrap();
    let data = counter.aggregator_data().unwrap();
    assert_eq!(
        *data, acknowledged,
        "the total is what the workers acknowledged"
    );
    assert_eq!(data.position(), successes);
}

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
