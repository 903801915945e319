//! Appends of one process written together (group commit), and many commits created in one
//! transaction (a copy into PostgreSQL): round trips counted, acknowledgements lost, gaps.

use std::thread;

use crate::pg_server::url_with_table;
use crate::proxy::{identified, through_proxy, upstream, Cut, Proxy, SYNC};
use crate::setup::created;
use foldstore::{CopyError, CopyOptions, Event, MemoryStorage, PostgresStorage, Storage, Store};
use serde_json::json;

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

/// Rounds of [`append_concurrently`] (8 threads, 10 appends each, named `{prefix}-{round}-...`)
/// with the proxy armed with what `prepare(round)` returns, until the proxy has cut once (at
/// most 20 rounds); what every round appended.
fn rounds_until_cut(
    proxy: &Proxy,
    storage: &PostgresStorage,
    prefix: &str,
    mut prepare: impl FnMut(u64) -> Cut,
) -> Vec<(Vec<u8>, u64)> {
    let mut appended = Vec::new();
    for round in 0..20 {
        proxy.arm(prepare(round));
        appended.extend(append_concurrently(
            storage,
            &format!("{prefix}-{round}"),
            8,
            10,
        ));
        if proxy.cuts() > 0 {
            break;
        }
    }
    proxy.disarm();
    assert_eq!(proxy.cuts(), 1, "no round of {prefix} was cut in 20 rounds");
    appended
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
    // The cut comes with the first batch of two or more: rounds until one formed.
    let appended = rounds_until_cut(&proxy, &storage, "lost", |_| Cut::BatchAcknowledgement {
        marker: b"lost-".to_vec(),
    });
    assert_landed_once(&direct, &appended, 0);
}

#[test]
fn a_batch_meeting_a_commit_beyond_a_gap_fills_the_lowest_free_numbers_in_a_transaction() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    let mut beyond = Vec::new();
    // Before each round another program writes a commit 9 numbers beyond the end: a batch
    // whose numbers reach it falls back to a transaction of one statement per append. The
    // acknowledgement of the first such transaction's COMMIT is lost: rounds until it was.
    let appended = rounds_until_cut(&proxy, &storage, "gap", |round| {
        let number = direct.last_commit().unwrap() + 9;
        let document = identified(&format!("beyond-{round}"));
        direct.create_commit(number, &document).unwrap().unwrap();
        beyond.push((document, number));
        Cut::CommitAcknowledgement
    });
    // Every append filled the lowest free number: the gaps are gone, nothing landed twice.
    let mut all = appended.clone();
    all.extend(beyond);
    assert_landed_once(&direct, &all, 0);
}

/// A store in memory of `n` commits, one event each.
fn source(n: u64) -> Store {
    let store = Store::with_storage(MemoryStorage::new());
    for k in 0..n {
        store
            .log(&Event::with_data(
                "copied",
                json!({ "k": k, "text": "x".repeat(40) }),
            ))
            .unwrap();
    }
    store
}

/// Every commit of `source` in `direct`, byte for byte.
fn assert_copied(source: &Store, direct: &PostgresStorage, n: u64) {
    assert_eq!(direct.list().unwrap().commits, (1..=n).collect::<Vec<_>>());
    for number in 1..=n {
        assert_eq!(
            direct.read_commit(number).unwrap(),
            source.storage().read_commit(number).unwrap(),
            "commit {number}"
        );
    }
}

#[test]
fn a_copy_into_postgres_creates_its_commits_together() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    let source = source(3000);
    proxy.arm(Cut::Count {
        marker: SYNC.to_vec(),
    });
    let report = source
        .copy_to(&Store::with_storage(storage), CopyOptions::new())
        .unwrap();
    proxy.disarm();
    assert_eq!(report.commits_copied, 3000);
    // A create per commit would take 3,000 round trips.
    let round_trips = proxy.counted();
    assert!(
        round_trips < 300,
        "3,000 commits copied in {round_trips} round trips"
    );
    assert_copied(&source, &direct, 3000);
}

#[test]
fn a_copy_into_postgres_whose_commit_acknowledgement_is_lost_copies_everything_once() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let proxy = Proxy::start(upstream(&url));
    let storage = through_proxy(&url, &table, &proxy);
    let source = source(2500);
    proxy.arm(Cut::CommitAcknowledgement);
    let report = source
        .copy_to(&Store::with_storage(storage), CopyOptions::new())
        .unwrap();
    proxy.disarm();
    assert_eq!(proxy.cuts(), 1);
    // The batch that landed before the cut is found holding the same bytes: created by it.
    assert_eq!(report.commits_copied, 2500);
    assert_copied(&source, &direct, 2500);
}

#[test]
fn a_copy_into_postgres_resumes_and_stops_before_a_commit_holding_other_bytes() {
    let Some((direct, table, url)) = created() else {
        return;
    };
    let destination = PostgresStorage::connect(&url_with_table(&url, &table)).unwrap();
    let source = source(2000);
    // The destination holds the first 500 commits, and other bytes at 1,700.
    for number in 1..=500 {
        let bytes = source.storage().read_commit(number).unwrap().unwrap();
        direct.create_commit(number, &bytes).unwrap().unwrap();
    }
    direct
        .create_commit(1700, b"{\"events\":[]}")
        .unwrap()
        .unwrap();
    let result = source.copy_to(&Store::with_storage(destination), CopyOptions::new());
    match result {
        Err(CopyError::Refused { problem }) => {
            assert!(problem.contains("never overwrites"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    // Everything before the refusal is there, nothing after it, and 1,700 is untouched.
    let mut expected: Vec<u64> = (1..1700).collect();
    expected.push(1700);
    assert_eq!(direct.list().unwrap().commits, expected);
    assert_eq!(
        direct.read_commit(1700).unwrap().unwrap(),
        b"{\"events\":[]}"
    );
}
