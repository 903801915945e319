//! Writes whose outcome is unknown (docs/design.md, guarantee 7): a proxy between the backend
//! and the server cuts the connection at a chosen moment.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::pg_server::{fresh_postgres, url_with_table};
use crate::proxy::{identified, through_proxy, upstream, Cut, Proxy};
use crate::setup::{backend_message, client, created};
use foldstore::{CommitCheck, Conflict, PostgresStorage, Storage};

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

/// A check for conditional appends that records the commits it judged and finds a conflict in
/// the commits whose document is `conflicting`.
fn recording_check(conflicting: &'static [u8]) -> (Arc<CommitCheck>, Arc<Mutex<Vec<u64>>>) {
    let judged = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&judged);
    let check: Arc<CommitCheck> = Arc::new(move |number, bytes: &[u8]| {
        record.lock().unwrap().push(number);
        Ok(bytes == conflicting)
    });
    (check, judged)
}

#[test]
fn conditional_appends_check_and_insert_in_one_transaction_and_land_once() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    for number in 1..=5 {
        direct.create_commit(number, b"before").unwrap().unwrap();
    }

    // Five commits since the position, none conflicting: judged once each, and the document
    // sent once (one insert after reading them), not once per number taken.
    let (check, judged) = recording_check(b"conflicting");
    let document = identified("cond-once");
    proxy.arm(Cut::Count {
        marker: b"cond-once".to_vec(),
    });
    assert_eq!(
        storage.append_commit_if(1, &document, true, check).unwrap(),
        Ok(6)
    );
    assert_eq!(proxy.counted(), 1, "the document was sent once");
    assert_eq!(*judged.lock().unwrap(), [1, 2, 3, 4, 5]);

    // The acknowledgement of the insert is lost: the transaction never committed, so the
    // document is not found, and the append is tried again.
    let (check, _) = recording_check(b"conflicting");
    proxy.arm(Cut::BeforeAcknowledgement {
        marker: b"cond-lost-ack".to_vec(),
    });
    assert_eq!(
        storage
            .append_commit_if(6, &identified("cond-lost-ack"), true, check)
            .unwrap(),
        Ok(7)
    );
    assert_eq!(proxy.cuts(), 1);

    // Cut while another writer takes the next number: only the commit that won is judged
    // again, and the append goes after it.
    let theirs = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    let (check, judged) = recording_check(b"conflicting");
    proxy.arm(Cut::BeforeSending {
        marker: b"cond-raced".to_vec(),
        then: Some(Box::new(move || {
            assert_eq!(theirs.create_commit(8, b"theirs").unwrap(), Ok(()));
        })),
    });
    assert_eq!(
        storage
            .append_commit_if(4, &identified("cond-raced"), true, check)
            .unwrap(),
        Ok(9)
    );
    assert_eq!(proxy.cuts(), 2);
    assert_eq!(*judged.lock().unwrap(), [4, 5, 6, 7, 8]);

    // A conflicting commit: refused, nothing written; one that cannot be judged: an error.
    direct.create_commit(10, b"conflicting").unwrap().unwrap();
    let (check, _) = recording_check(b"conflicting");
    assert_eq!(
        storage
            .append_commit_if(9, &identified("cond-refused"), true, check)
            .unwrap(),
        Err(Conflict { commit: 10 })
    );
    let unjudged: Arc<CommitCheck> = Arc::new(|_, _: &[u8]| Err("unreadable".to_owned()));
    let error = storage
        .append_commit_if(10, &identified("cond-unjudged"), true, unjudged)
        .unwrap_err();
    assert!(error.to_string().contains("wrote nothing"), "{error}");
    proxy.disarm();

    assert_eq!(direct.list().unwrap().commits, (1..=10).collect::<Vec<_>>());
    for (number, id) in [(6, "cond-once"), (7, "cond-lost-ack"), (9, "cond-raced")] {
        assert_eq!(direct.read_commit(number).unwrap(), Some(identified(id)));
    }
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
