//! Consistency boundaries on a backend: tags, queries, conditional and idempotent appends and
//! their races, run through [`Store`]s on it. A backend keeps them by keeping the `Storage`
//! contract (exclusive creates, exact bytes), so these checks are the contract seen from above.
//!
//! Each check takes a created, fresh backend shared as an `Arc`, and opens two stores on it:
//! the second has its own tip cache and event index, as another process would.

use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use serde_json::{json, Value};

use super::THREADS;
use crate::boundary::{AppendCondition, ConditionFailed};
use crate::event::Event;
use crate::query::{Query, QueryItem};
use crate::storage::Storage;
use crate::store::Store;

/// Decisions each racing thread makes.
const DECISIONS: usize = 4;

/// A store on `storage`: each call makes an independent one.
fn store_on(storage: &Arc<dyn Storage>) -> Store {
    Store::with_shared_storage(Arc::clone(storage))
}

/// An event named `name` with the tags `tags`.
fn event(name: &str, tags: &[&str]) -> Event {
    Event::new(name).tagged(tags.iter().copied())
}

/// A conditional append that must succeed, at `expected`.
#[track_caller]
fn assert_appended(store: &Store, events: &[Event], condition: &AppendCondition, expected: u64) {
    let outcome = store.append_if(events, condition).expect("append_if");
    assert_eq!(outcome, Ok(expected), "{condition:?}");
}

/// The numbers of the commits holding events that match `query` after `after`, once each.
fn matching(store: &Store, query: &Query, after: u64) -> Vec<u64> {
    let mut commits: Vec<u64> = store
        .events_matching(query, after)
        .expect("events_matching")
        .iter()
        .map(|found| found.commit)
        .collect();
    commits.dedup();
    commits
}

/// Tags are kept exactly, in order, beside the data, through another store and in the bytes
/// the backend holds; an event without tags has no `tags` member.
pub fn tags_round_trip_exactly(storage: &Arc<dyn Storage>) {
    let events = [
        event("opened", &["account:7"]),
        Event::with_data("memberAdded", json!({ "name": "Peter Pan" })).tagged([
            "member:peter pan",
            "club:Ørsta",
            "a \"quoted\" \\ tag",
            "",
        ]),
        Event::new("untagged"),
    ];
    let store = store_on(storage);
    let unused = AppendCondition::none_matching(Query::tag("unused"));
    assert_appended(&store, &events, &unused, 1);

    let read = store_on(storage).read_commit(1).expect("read_commit");
    assert_eq!(read.events(), events, "the events read back");
    let tags: Vec<Vec<&str>> = read.events().iter().map(|e| e.tags().collect()).collect();
    assert_eq!(
        tags,
        [
            vec!["account:7"],
            vec!["member:peter pan", "club:Ørsta", "a \"quoted\" \\ tag", ""],
            vec![]
        ]
    );

    let bytes = storage.read_commit(1).expect("read").expect("commit 1");
    let document: Value = serde_json::from_slice(&bytes).expect("a JSON document");
    let stored = &document["events"];
    assert_eq!(stored[0]["tags"], json!(["account:7"]), "{document}");
    assert_eq!(
        stored[1]["data"],
        json!({ "name": "Peter Pan" }),
        "{document}"
    );
    assert!(stored[2].get("tags").is_none(), "{document}");
}

/// `events_matching` finds events by tag, by name (the first letter's case aside), by any of
/// several items (an item's tags all required), and after a position; through the store that
/// wrote and through another.
pub fn events_matching_by_tag_name_items_and_position(storage: &Arc<dyn Storage>) {
    let store = store_on(storage);
    for (name, tags) in [
        ("opened", &["account:1"][..]),
        ("deposited", &["account:1"]),
        ("Deposited", &["account:2"]),
        ("withdrawn", &["account:1", "eur"]),
        ("transferred", &["account:1", "account:2"]),
        ("deposited", &["account:1"]),
        ("closed", &[]),
    ] {
        store.log(&event(name, tags)).expect("log");
    }
    let account_1 = Query::tag("account:1");
    let deposits = Query::new().item(QueryItem::new().name("deposited"));
    let several = Query::new()
        .item(QueryItem::new().name("withdrawn"))
        .item(QueryItem::new().tags(["account:1", "account:2"]));
    let both_tags = Query::new().item(QueryItem::new().tags(["account:1", "eur"]));
    let other = store_on(storage);
    for reader in [&store, &other] {
        assert_eq!(matching(reader, &account_1, 0), [1, 2, 4, 5, 6]);
        assert_eq!(
            matching(reader, &deposits, 0),
            [2, 3, 6],
            "first-letter rule"
        );
        assert_eq!(
            matching(
                reader,
                &Query::new().item(QueryItem::new().name("Deposited")),
                0
            ),
            [2, 3, 6]
        );
        assert_eq!(matching(reader, &several, 0), [4, 5]);
        assert_eq!(matching(reader, &both_tags, 0), [4]);
        assert_eq!(matching(reader, &account_1, 4), [5, 6], "after a position");
        assert_eq!(matching(reader, &Query::all(), 6), [7]);
        assert!(matching(reader, &Query::tag("account:3"), 0).is_empty());
    }
    // Fresh stores asking after a position first (a short range is read without the index).
    assert_eq!(matching(&store_on(storage), &account_1, 4), [5, 6]);
    let found = store_on(storage)
        .events_matching(&deposits, 2)
        .expect("events_matching");
    let names: Vec<(u64, usize, &str)> = found
        .iter()
        .map(|m| (m.commit, m.index, m.event.name()))
        .collect();
    assert_eq!(names, [(3, 0, "Deposited"), (6, 0, "deposited")]);
}

/// `append_if` succeeds with nothing after its position, and with only commits that do not
/// match; it fails, writing nothing, when matching commits were made after its position, and
/// names every one of them, also those the deciding store had not seen.
pub fn append_if_fails_only_on_a_matching_commit(storage: &Arc<dyn Storage>) {
    let (store, other) = (store_on(storage), store_on(storage));
    let account_7 = Query::tag("account:7");
    let deposit = |account: &str| event("deposited", &[account]);
    store.log(&deposit("account:7")).expect("log");
    let after = |position| AppendCondition::none_matching_after(account_7.clone(), position);

    assert_appended(&store, &[deposit("account:7")], &after(1), 2);
    other.log(&deposit("account:8")).expect("log");
    assert_appended(&store, &[deposit("account:7")], &after(2), 4);

    for account in ["account:7", "account:8", "account:7"] {
        other.log(&deposit(account)).expect("log");
    }
    let conflicts = |deciding: &Store, position| {
        let outcome = deciding.append_if(&[deposit("account:7")], &after(position));
        outcome
            .expect("append_if")
            .map_err(|failed| failed.conflicts)
    };
    assert_eq!(conflicts(&store, 4), Err(vec![5, 7]));
    assert_eq!(
        conflicts(&other, 1),
        Err(vec![2, 4, 5, 7]),
        "unseen commits too"
    );
    assert_eq!(store_on(storage).tip().expect("tip"), 7, "nothing written");
}

/// A condition with no position (`none_matching`) guards uniqueness: the first append with a
/// tag succeeds, every later one fails naming it, from any store; other tags are free.
pub fn none_matching_guards_uniqueness(storage: &Arc<dyn Storage>) {
    let (store, other) = (store_on(storage), store_on(storage));
    store.log(&event("opened", &["club:1"])).expect("log");
    let register = |name: &str| {
        let tag = format!("username:{name}");
        let events = [event("registered", &[&tag])];
        (events, AppendCondition::none_matching(Query::tag(tag)))
    };
    let (peter, unique_peter) = register("peter");
    assert_appended(&store, &peter, &unique_peter, 2);
    other.log(&event("opened", &["club:2"])).expect("log");
    for deciding in [&store, &other] {
        let outcome = deciding
            .append_if(&peter, &unique_peter)
            .expect("append_if");
        assert_eq!(outcome, Err(ConditionFailed { conflicts: vec![2] }));
    }
    let (wendy, unique_wendy) = register("wendy");
    assert_appended(&other, &wendy, &unique_wendy, 4);
    assert_eq!(store.tip().expect("tip"), 4);
}

/// `append_once` writes once per key: again from the same store, or from another, it writes
/// nothing and returns the commit that holds the key.
pub fn append_once_writes_once_across_stores(storage: &Arc<dyn Storage>) {
    let (store, other) = (store_on(storage), store_on(storage));
    let paid = [event("invoicePaid", &["invoice:17"])];
    let first = store.append_once("payment-1", &paid).expect("append_once");
    assert_eq!((first.commit, first.written), (1, true));
    for deciding in [&store, &other, &store_on(storage)] {
        let again = deciding
            .append_once("payment-1", &paid)
            .expect("append_once");
        assert_eq!((again.commit, again.written), (1, false));
    }
    let second = other.append_once("payment-2", &paid).expect("append_once");
    assert_eq!((second.commit, second.written), (2, true));
    assert_eq!(store.tip().expect("tip"), 2, "one write per key");
    let held = store.read_commit(1).expect("read_commit");
    assert!(held.events()[0].has_tag("idempotency:payment-1"));
}

/// Contract 8 seen from above: threads on two stores, each deciding about its own tag (read it,
/// then append on the condition that nothing of it changed), never conflict; every commit is
/// in the log once, and each tag holds exactly its thread's commits.
pub fn racing_conditional_appends_on_own_tags_all_succeed(storage: &Arc<dyn Storage>) {
    let stores = [store_on(storage), store_on(storage)];
    let barrier = Barrier::new(THREADS);
    let written: Mutex<Vec<(usize, u64)>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (store, barrier, written) = (&stores[writer % 2], &barrier, &written);
            scope.spawn(move || {
                let query = Query::tag(format!("account:{writer}"));
                barrier.wait();
                for decision in 0..DECISIONS {
                    let position = store.tip().expect("tip");
                    let seen = matching(store, &query, 0);
                    let seen = seen.iter().filter(|&&n| n <= position).count();
                    assert_eq!(seen, decision, "writer {writer} sees its own decisions");
                    let tag = format!("account:{writer}");
                    let events = [event("deposited", &[&tag])];
                    let condition = AppendCondition::none_matching_after(query.clone(), position);
                    let outcome = store.append_if(&events, &condition).expect("append_if");
                    let number = outcome.unwrap_or_else(|failed| {
                        panic!("writer {writer}, alone on its tag, failed: {failed}")
                    });
                    written.lock().expect("lock").push((writer, number));
                }
            });
        }
    });
    let written = written.into_inner().expect("lock");
    let total = u64::try_from(THREADS * DECISIONS).expect("small");
    let mut numbers: Vec<u64> = written.iter().map(|(_, number)| *number).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=total).collect::<Vec<_>>(),
        "every commit once, no gaps"
    );
    let reader = store_on(storage);
    assert_eq!(reader.tip().expect("tip"), total);
    for writer in 0..THREADS {
        let own: Vec<u64> = written
            .iter()
            .filter(|(by, _)| *by == writer)
            .map(|(_, number)| *number)
            .collect();
        let query = Query::tag(format!("account:{writer}"));
        assert_eq!(matching(&reader, &query, 0), own, "writer {writer}");
    }
}

/// Contract 8 seen from above: threads on two stores deciding about one tag from the same
/// position: exactly one appends, every other fails naming the winner's commit.
pub fn racing_conditional_appends_on_one_tag_have_one_winner(storage: &Arc<dyn Storage>) {
    let stores = [store_on(storage), store_on(storage)];
    stores[0].log(&event("opened", &["seat:1A"])).expect("log");
    let position = stores[1].tip().expect("tip");
    let condition = AppendCondition::none_matching_after(Query::tag("seat:1A"), position);
    let barrier = Barrier::new(THREADS);
    let outcomes = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (store, barrier, outcomes) = (&stores[writer % 2], &barrier, &outcomes);
            let condition = &condition;
            scope.spawn(move || {
                let events = [event("reserved", &["seat:1A", &format!("guest:{writer}")])];
                barrier.wait();
                let outcome = store.append_if(&events, condition).expect("append_if");
                outcomes.lock().expect("lock").push(outcome);
            });
        }
    });
    let outcomes = outcomes.into_inner().expect("lock");
    let won: Vec<u64> = outcomes.iter().filter_map(|o| o.clone().ok()).collect();
    assert_eq!(won, [position + 1], "exactly one winner: {outcomes:?}");
    for outcome in &outcomes {
        if let Err(failed) = outcome {
            assert_eq!(failed.conflicts, won, "a loser names the winner");
        }
    }
    assert_eq!(store_on(storage).tip().expect("tip"), position + 1);
}
