//! Exact bytes, ranges that stop at gaps, commit ids through the store, the schema version, and
//! URLs that never show a password.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::{Duration, SystemTime};

use crate::pg_server::url_with_table;
use crate::setup::{backend_message, client, created};
use foldstore::{Event, PostgresStorage, Storage, Store, COMMIT_ID_HEADER};
use serde_json::json;

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
