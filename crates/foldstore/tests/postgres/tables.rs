//! Tables: names of helper tables and foreign tables refused, notifications between connections,
//! the schema created from many connections at once, backends racing for numbers, and the
//! quarantine.

use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::pg_server::{server_url, unique_table, url_with_table};
use crate::setup::{backend_message, client, created};
use foldstore::{Conflict, Error, PostgresStorage, Storage};
use postgres::Client;

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
    let Some(url) = crate::pg_server::server_url() else {
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
        // Every column right but one that may be null: a NULL document would be read.
        (
            "(number bigint PRIMARY KEY, document bytea, created_at timestamptz NOT NULL DEFAULT now())",
            "document bytea, ",
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
    let Some(url) = crate::pg_server::server_url() else {
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
                    && message
                        .contains("columns (id integer not null, note text) and primary key (id)"),
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

#[test]
fn rows_numbered_past_the_largest_commit_number_are_no_commits() {
    let Some((storage, table, url)) = created() else {
        return;
    };
    assert_eq!(
        storage.create_commit(1, b"{\"events\":[]}").unwrap(),
        Ok(())
    );
    // Rows another program made: one past 2^53 - 1, and the largest bigint.
    let beyond = (1_i64 << 53, i64::MAX);
    let mut admin = client(&url);
    admin
        .execute(
            &format!("INSERT INTO \"{table}\" (number, document) VALUES ($1, 'x'), ($2, 'y')"),
            &[&beyond.0, &beyond.1],
        )
        .unwrap();
    let reader = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    assert_eq!(reader.last_commit().unwrap(), 1);
    let listing = reader.list().unwrap();
    assert_eq!(listing.commits, [1]);
    assert_eq!(listing.suspicious.len(), 2, "{:?}", listing.suspicious);
    assert!(
        listing.suspicious[0]
            .1
            .contains("past the largest commit number"),
        "{:?}",
        listing.suspicious
    );
    for first in [beyond.0 as u64, beyond.1 as u64, u64::MAX] {
        assert!(reader.read_commits(first, 5).unwrap().is_empty(), "{first}");
    }
    let store = foldstore::Store::open(url_with_table(&url, &table)).unwrap();
    assert_eq!(store.tip().unwrap(), 1);
    assert_eq!(store.raw_commits(beyond.0 as u64..).unwrap().count(), 0);
}
