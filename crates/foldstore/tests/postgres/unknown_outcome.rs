//! Writes whose outcome is unknown (docs/design.md, guarantee 7): a proxy between the backend
//! and the server cuts the connection at a chosen moment.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::pg_server::{fresh_postgres, url_with_table};
use crate::setup::{backend_message, client, created};
use foldstore::{CommitCheck, Conflict, PostgresStorage, Storage};
use postgres::config::Host;

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
    /// Never: counts the messages holding `marker` that the client sends.
    Count { marker: Vec<u8> },
    /// After the client sends `COMMIT`, when the server's acknowledgement of it comes back,
    /// before the client sees it: the transaction has landed.
    CommitAcknowledgement,
    /// After a message containing `marker` twice or more (one statement inserting a batch) was
    /// sent, when the server's acknowledgement of the insert comes back, before the client
    /// sees it: the statement has landed.
    BatchAcknowledgement { marker: Vec<u8> },
}

/// A TCP proxy to the test server that can cut connections.
struct Proxy {
    port: u16,
    plan: Arc<Mutex<Option<Cut>>>,
    cuts: Arc<AtomicU64>,
    counted: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let plan: Arc<Mutex<Option<Cut>>> = Arc::new(Mutex::new(None));
        let cuts = Arc::new(AtomicU64::new(0));
        let counted = Arc::new(AtomicU64::new(0));
        let (accept_plan, accept_cuts, accept_counted) =
            (Arc::clone(&plan), Arc::clone(&cuts), Arc::clone(&counted));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect((upstream.0.as_str(), upstream.1)).unwrap();
                Proxy::relay(client, server, &accept_plan, &accept_cuts, &accept_counted);
            }
        });
        Proxy {
            port,
            plan,
            cuts,
            counted,
        }
    }

    fn relay(
        client: TcpStream,
        server: TcpStream,
        plan: &Arc<Mutex<Option<Cut>>>,
        cuts: &Arc<AtomicU64>,
        counted: &Arc<AtomicU64>,
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
        let counted_up = Arc::clone(counted);
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
                    Some(Cut::Count { marker }) if contains(chunk, marker) => {
                        counted_up.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(Cut::CommitAcknowledgement) if contains(chunk, b"COMMIT") => {
                        marker_up.store(true, Ordering::SeqCst);
                    }
                    Some(Cut::BatchAcknowledgement { marker })
                        if occurrences(chunk, marker) >= 2 =>
                    {
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
                if sent_marker.load(Ordering::SeqCst) {
                    let mut plan = plan_down.lock().unwrap();
                    let acknowledged = match plan.as_ref() {
                        Some(Cut::BeforeAcknowledgement { .. }) => contains(chunk, b"INSERT 0 1"),
                        Some(Cut::CommitAcknowledgement) => contains(chunk, b"COMMIT\0"),
                        Some(Cut::BatchAcknowledgement { .. }) => contains(chunk, b"INSERT 0 "),
                        _ => false,
                    };
                    if acknowledged {
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

    /// How many messages [`Cut::Count`] counted.
    fn counted(&self) -> u64 {
        self.counted.load(Ordering::SeqCst)
    }
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
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

/// A document the backend is told carries a unique commit id.
fn identified(id: &str) -> Vec<u8> {
    format!(r#"{{"headers":{{"commitId":"{id}"}},"events":[]}}"#).into_bytes()
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

/// `threads` threads appending `each` identified documents concurrently through `storage`,
/// named `{prefix}-{thread}-{k}`: the number each landed at, by document.
fn append_concurrently(
    storage: &PostgresStorage,
    prefix: &str,
    threads: usize,
    each: usize,
) -> Vec<(Vec<u8>, u64)> {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (0..each)
                        .map(|k| {
                            let document = identified(&format!("{prefix}-{t}-{k}"));
                            let number = storage
                                .append_identified_commit(1, &document)
                                .unwrap_or_else(|e| panic!("{prefix}-{t}-{k}: {e}"));
                            (document, number)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Every document at the number its append returned, each once, the numbers without a gap.
fn assert_landed_once(direct: &PostgresStorage, appended: &[(Vec<u8>, u64)], before: u64) {
    let numbers: std::collections::BTreeSet<u64> = appended.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        numbers.len(),
        appended.len(),
        "two appends were given one number"
    );
    let listed = direct.list().unwrap().commits;
    assert_eq!(
        listed,
        (1..=before + appended.len() as u64).collect::<Vec<_>>(),
        "each document landed once"
    );
    for (document, number) in appended {
        assert_eq!(
            direct.read_commit(*number).unwrap().as_ref(),
            Some(document)
        );
    }
}

/// The Sync message that ends each query of the extended protocol: one per round trip.
const SYNC: &[u8] = b"S\0\0\0\x04";

#[test]
fn concurrent_appends_of_one_process_share_statements() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    proxy.arm(Cut::Count {
        marker: SYNC.to_vec(),
    });
    let appended = append_concurrently(&storage, "shared", 8, 40);
    proxy.disarm();
    assert_landed_once(&direct, &appended, 0);
    // A batch is one statement, one round trip (a statement per append would take 320).
    let round_trips = proxy.counted();
    assert!(
        (1..=200).contains(&round_trips),
        "320 appends from 8 threads in {round_trips} round trips"
    );
}

#[test]
fn a_batch_whose_acknowledgement_is_lost_is_found_whole() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    let mut appended = Vec::new();
    // The cut comes with the first batch of two or more: rounds until one formed.
    for round in 0..20 {
        proxy.arm(Cut::BatchAcknowledgement {
            marker: b"lost-".to_vec(),
        });
        appended.extend(append_concurrently(
            &storage,
            &format!("lost-{round}"),
            8,
            10,
        ));
        if proxy.cuts() > 0 {
            break;
        }
    }
    proxy.disarm();
    assert_eq!(
        proxy.cuts(),
        1,
        "no batch of two appends formed in 20 rounds"
    );
    assert_landed_once(&direct, &appended, 0);
}

#[test]
fn a_batch_meeting_a_commit_beyond_a_gap_fills_the_lowest_free_numbers_in_a_transaction() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    let mut appended = Vec::new();
    let mut beyond = Vec::new();
    // Before each round another program writes a commit 9 numbers beyond the end: a batch
    // whose numbers reach it falls back to a transaction of one statement per append. The
    // acknowledgement of the first such transaction's COMMIT is lost: rounds until it was.
    for round in 0..20 {
        let number = direct.last_commit().unwrap() + 9;
        let document = identified(&format!("beyond-{round}"));
        direct.create_commit(number, &document).unwrap().unwrap();
        beyond.push((document, number));
        proxy.arm(Cut::CommitAcknowledgement);
        appended.extend(append_concurrently(
            &storage,
            &format!("gap-{round}"),
            8,
            10,
        ));
        if proxy.cuts() > 0 {
            break;
        }
    }
    proxy.disarm();
    assert_eq!(
        proxy.cuts(),
        1,
        "no batch met the commit beyond the gap in 20 rounds"
    );
    // Every append filled the lowest free number: the gaps are gone, nothing landed twice.
    let mut all = appended.clone();
    all.extend(beyond);
    assert_landed_once(&direct, &all, 0);
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
