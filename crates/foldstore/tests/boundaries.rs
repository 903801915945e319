//! Consistency boundaries on every backend: tags kept, queries answered through the index,
//! conditional appends atomic under racing writers, idempotent appends written once.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use foldstore::{AppendCondition, Event, Query, QueryItem, Start, Store};
use serde_json::json;
use tempfile::TempDir;

#[path = "common/backends.rs"]
mod backends;

use backends::backends;

fn deposit(account: u64, amount: i64) -> Event {
    Event::with_data("deposited", json!({ "amount": amount }))
        .tagged([format!("account:{account}")])
}

/// The balance of `account` and the position it was read at.
fn balance(store: &Store, account: u64) -> (i64, u64) {
    let position = store.tip().unwrap();
    let events = store
        .events_matching(&Query::tag(format!("account:{account}")), 0)
        .unwrap();
    let balance = events
        .iter()
        .filter(|m| m.commit <= position)
        .map(|m| m.event.data().unwrap()["amount"].as_i64().unwrap())
        .sum();
    (balance, position)
}

#[test]
fn tags_are_kept_in_the_document_and_queries_find_them() {
    for backend in backends() {
        let store = backend.store();
        // More commits than a range is scanned without the index.
        for i in 0..600u64 {
            store.log(&deposit(i % 7, 1)).unwrap();
        }
        store
            .log_block(|block| {
                block.log(&Event::new("Transferred").tagged(["account:3", "account:5"]))?;
                block.log(&Event::new("noted"))?;
                block.mark_as_complete();
                Ok::<_, foldstore::Error>(())
            })
            .unwrap();
        let document = store.storage().read_commit(601).unwrap().unwrap();
        assert!(
            String::from_utf8_lossy(&document)
                .contains(r#"{"name":"Transferred","tags":["account:3","account:5"]}"#),
            "{}",
            backend.name
        );

        let account_3 = store.events_matching(&Query::tag("account:3"), 0).unwrap();
        let expected: Vec<u64> = (1..=600)
            .filter(|n| (n - 1) % 7 == 3)
            .chain([601])
            .collect();
        assert_eq!(
            account_3.iter().map(|m| m.commit).collect::<Vec<_>>(),
            expected,
            "{}",
            backend.name
        );
        // After a position; by name (the original's first-letter rule); by all of an item's tags.
        let later = store
            .events_matching(&Query::tag("account:3"), 590)
            .unwrap();
        assert_eq!(
            later.iter().map(|m| m.commit).collect::<Vec<_>>(),
            [592, 599, 601]
        );
        let transfers = store
            .events_matching(&Query::new().item(QueryItem::new().name("transferred")), 0)
            .unwrap();
        assert_eq!(transfers.len(), 1, "{}", backend.name);
        assert_eq!((transfers[0].commit, transfers[0].index), (601, 0));
        let both = Query::new().item(QueryItem::new().tags(["account:3", "account:5"]));
        assert_eq!(store.events_matching(&both, 0).unwrap().len(), 1);
        // Another handle (another process) builds its own index and agrees.
        let other = backend.other_handle();
        assert_eq!(
            other.events_matching(&Query::tag("account:3"), 0).unwrap(),
            account_3
        );
        // Commits made after the index was built are found.
        store.log(&deposit(3, 1)).unwrap();
        assert_eq!(
            other
                .events_matching(&Query::tag("account:3"), 601)
                .unwrap()[0]
                .commit,
            602
        );
    }
}

#[test]
fn a_condition_holds_through_other_commits_and_fails_on_matching_ones() {
    for backend in backends() {
        let store = backend.store();
        store.log(&deposit(1, 10)).unwrap();
        let (_, position) = balance(&store, 1);
        let condition = AppendCondition::none_matching_after(Query::tag("account:1"), position);
        // Commits about other accounts do not break the condition.
        store.log(&deposit(2, 5)).unwrap();
        backend.other_handle().log(&deposit(3, 5)).unwrap();
        assert_eq!(
            store.append_if(&[deposit(1, -3)], &condition).unwrap(),
            Ok(4),
            "{}",
            backend.name
        );
        // A commit about account 1 does: the failure names it, and nothing is written.
        backend.other_handle().log(&deposit(1, 1)).unwrap();
        let failed = store
            .append_if(&[deposit(1, -3)], &condition)
            .unwrap()
            .unwrap_err();
        assert_eq!(failed.conflicts, [4, 5], "{}", backend.name);
        assert_eq!(store.tip().unwrap(), 5);
        // Uniqueness: no event of that tag at all.
        let unique = AppendCondition::none_matching(Query::tag("username:wendy"));
        let claim = [Event::new("registered").tagged(["username:wendy"])];
        assert_eq!(store.append_if(&claim, &unique).unwrap(), Ok(6));
        assert_eq!(
            backend
                .other_handle()
                .append_if(&claim, &unique)
                .unwrap()
                .unwrap_err()
                .conflicts,
            [6]
        );
    }
}

/// Eight writers, each deciding about its own accounts through conditional appends: no
/// decision fails, and every one lands exactly once.
#[test]
fn independent_decisions_never_conflict() {
    const WRITERS: u64 = 8;
    const DECISIONS: u64 = 15;
    for backend in backends() {
        let store = backend.store();
        let barrier = Barrier::new(WRITERS as usize);
        thread::scope(|scope| {
            for writer in 0..WRITERS {
                // Each writer is its own handle, as a process would be.
                let (store, barrier) = (backend.other_handle(), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    for decision in 0..DECISIONS {
                        let account = writer * 100 + decision % 3;
                        let (_, position) = balance(&store, account);
                        let condition = AppendCondition::none_matching_after(
                            Query::tag(format!("account:{account}")),
                            position,
                        );
                        let written = store.append_if(&[deposit(account, 1)], &condition).unwrap();
                        assert!(written.is_ok(), "writer {writer}: {written:?}");
                    }
                });
            }
        });
        assert_eq!(
            store.tip().unwrap(),
            WRITERS * DECISIONS,
            "{}",
            backend.name
        );
        for writer in 0..WRITERS {
            let total: i64 = (0..3).map(|a| balance(&store, writer * 100 + a).0).sum();
            assert_eq!(total, DECISIONS as i64, "{}", backend.name);
        }
    }
}

/// Writers withdrawing from one account with a balance check, racing: conditional appends
/// let exactly the withdrawals the balance covers through, never more.
#[test]
fn dependent_decisions_see_every_earlier_one() {
    const WRITERS: usize = 6;
    for backend in backends() {
        let store = backend.store();
        store.log(&deposit(1, 20)).unwrap();
        let barrier = Barrier::new(WRITERS);
        let withdrawn: i64 = thread::scope(|scope| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|_| {
                    let (store, barrier) = (backend.other_handle(), &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        let mut withdrawn = 0;
                        loop {
                            let (balance, position) = balance(&store, 1);
                            if balance < 3 {
                                return withdrawn;
                            }
                            let condition = AppendCondition::none_matching_after(
                                Query::tag("account:1"),
                                position,
                            );
                            if store
                                .append_if(&[deposit(1, -3)], &condition)
                                .unwrap()
                                .is_ok()
                            {
                                withdrawn += 3;
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(withdrawn, 18, "{}", backend.name);
        assert_eq!(balance(&store, 1).0, 2, "{}", backend.name);
    }
}

#[test]
fn an_idempotent_append_is_written_once_across_handles_and_races() {
    for backend in backends() {
        let store = backend.store();
        let paid = [Event::new("invoicePaid").tagged(["invoice:17"])];
        let first = store.append_once("payment-1", &paid).unwrap();
        assert!(first.written);
        // Again, from another handle (a restart, another process): nothing written.
        let again = backend
            .other_handle()
            .append_once("payment-1", &paid)
            .unwrap();
        assert_eq!((again.commit, again.written), (first.commit, false));
        // Racing handles with one key: exactly one writes.
        let barrier = Barrier::new(4);
        let outcomes: Vec<_> = thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (store, barrier, paid) = (backend.other_handle(), &barrier, &paid);
                    scope.spawn(move || {
                        barrier.wait();
                        store.append_once("payment-2", paid).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.written).count(),
            1,
            "{}",
            backend.name
        );
        assert!(outcomes.windows(2).all(|w| w[0].commit == w[1].commit));
        assert_eq!(store.tip().unwrap(), 2, "{}", backend.name);
        let commit = store.read_commit(2).unwrap();
        let key_event = &commit.events()[0];
        assert!(key_event.has_tag("idempotency:payment-2") && key_event.has_tag("invoice:17"));
    }
}

#[test]
fn damage_where_a_match_may_be_is_reported_not_skipped() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    store.ensure_folder().unwrap();
    store.log(&deposit(1, 1)).unwrap();
    store.log(&deposit(2, 1)).unwrap();
    store.log(&deposit(1, 1)).unwrap();
    std::fs::write(dir.path().join("store/2.log"), b"{\"events\": [").unwrap();
    let error = store
        .events_matching(&Query::tag("account:1"), 0)
        .unwrap_err();
    assert!(error.to_string().contains("2.log"), "{error}");
    let condition = AppendCondition::none_matching_after(Query::tag("account:1"), 0);
    assert!(store.append_if(&[deposit(1, 1)], &condition).is_err());
    assert_eq!(store.tip().unwrap(), 3, "nothing written");
}

/// A subscription filtered by a query delivers the matching commits, in order, live from
/// another handle, and passes over the others.
#[test]
fn a_filtered_subscription_delivers_only_matching_commits_live() {
    for backend in backends() {
        let store = backend.store();
        store.log(&deposit(1, 1)).unwrap();
        store.log(&deposit(2, 1)).unwrap();
        let mut account_2 = store
            .subscribe(Start::Beginning)
            .unwrap()
            .with_poll_interval(Duration::from_millis(5))
            .matching(Query::tag("account:2"));
        assert_eq!(
            account_2.next_commit().unwrap().number(),
            2,
            "{}",
            backend.name
        );
        assert!(account_2
            .next_timeout(Duration::from_millis(20))
            .unwrap()
            .is_none());
        // Another process writes: other accounts are passed over, matching commits delivered.
        let writer = backend.other_handle();
        let written = thread::spawn(move || {
            for account in [1, 1, 2, 3, 2] {
                writer.log(&deposit(account, 1)).unwrap();
            }
        });
        let first = account_2.next_timeout(Duration::from_secs(20)).unwrap();
        let second = account_2.next_timeout(Duration::from_secs(20)).unwrap();
        written.join().unwrap();
        assert_eq!(
            (first.map(|c| c.number()), second.map(|c| c.number())),
            (Some(5), Some(7)),
            "{}",
            backend.name
        );
        assert_eq!(account_2.next_number(), 8);
        assert!(account_2.try_next().unwrap().is_none());
    }
}
