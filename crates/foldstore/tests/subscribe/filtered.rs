//! Filtered subscriptions catching up through the event index: a long run of commits that do
//! not match is jumped over, within the waiting methods' timeouts, and every matching commit is
//! delivered once, in order, also while another handle writes.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::backends::backends;
use crate::common::counted::Counted;
use crate::fixtures::HANG;
use foldstore::{Durability, Error, Event, Layout, MemoryStorage, Query, Start, Storage, Store};
use tempfile::TempDir;

/// The tag of the events the subscriptions here ask for.
const WANTED: &str = "order:7";

fn wanted() -> Event {
    Event::new("placed").tagged([WANTED])
}

fn other(i: u64) -> Event {
    Event::new("placed").tagged([format!("order:{}", 100 + i % 50)])
}

/// A store on a backend, a second one on the same data (as another process would have), how
/// many commits a long run there has, and what keeps the data.
type OnBackend = (&'static str, Store, Store, u64, Option<TempDir>);

/// A store on each local backend. Folders are written without syncs, for speed: nothing here
/// is about durability.
fn local_backends() -> Vec<OnBackend> {
    let memory = MemoryStorage::new();
    let mut all = vec![(
        "memory",
        Store::with_storage(memory.clone()),
        Store::with_storage(memory),
        100_000,
        None,
    )];
    for (name, layout, run) in [
        ("journal", Layout::Journal, 50_000),
        ("loose", Layout::Loose, 10_000),
    ] {
        let dir = TempDir::new().unwrap();
        let open = || {
            Store::builder(dir.path().join("store"))
                .layout(layout)
                .durability(Durability::None)
                .open()
                .unwrap()
        };
        let store = open();
        store.ensure_folder().unwrap();
        let second = open();
        all.push((name, store, second, run, Some(dir)));
    }
    all
}

/// The numbers of the commits delivered by `next_timeout(timeout)` until `count` have come,
/// and the longest any call took.
fn collect(
    subscription: &mut foldstore::Subscription,
    timeout: Duration,
    count: usize,
) -> (Vec<u64>, Duration) {
    let mut numbers = Vec::new();
    let mut longest = Duration::ZERO;
    let began = Instant::now();
    while numbers.len() < count {
        assert!(began.elapsed() < HANG, "only {numbers:?} came");
        let call = Instant::now();
        let commit = subscription.next_timeout(timeout).unwrap();
        longest = longest.max(call.elapsed());
        numbers.extend(commit.map(|c| c.number()));
    }
    (numbers, longest)
}

/// A long run of commits that do not match, between two that do: `next_timeout` keeps to its
/// timeout while the subscription catches up, the second matching commit comes, then one
/// written live by another handle; nothing is skipped or repeated.
#[test]
fn catching_up_over_a_long_run_keeps_to_the_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(20);
    // One step through the index, on a machine busy with other work.
    const SLACK: Duration = Duration::from_millis(400);
    for (name, store, second, run, _dir) in local_backends() {
        store.log(&wanted()).unwrap();
        for i in 0..run {
            store.log(&other(i)).unwrap();
        }
        store.log(&wanted()).unwrap();
        let last = run + 2;

        let mut subscription = second
            .subscribe(Start::Beginning)
            .unwrap()
            .with_poll_interval(Duration::from_millis(5))
            .matching(Query::tag(WANTED));
        let (numbers, longest) = collect(&mut subscription, TIMEOUT, 2);
        assert_eq!(numbers, [1, last], "{name}");
        assert!(
            longest < TIMEOUT + SLACK,
            "{name}: next_timeout({TIMEOUT:?}) took {longest:?} while catching up"
        );
        assert_eq!(subscription.next_number(), last + 1, "{name}");

        store.log(&other(0)).unwrap();
        store.log(&wanted()).unwrap();
        let live = subscription.next_timeout(HANG).unwrap().map(|c| c.number());
        assert_eq!(live, Some(last + 2), "{name}");
        assert!(subscription.try_next().unwrap().is_none(), "{name}");
        assert_eq!(subscription.next_number(), last + 3, "{name}");
    }
}

/// Once the index holds a long run (filled by a first subscription), a second subscription
/// jumps over it reading a few commits, not one per commit.
#[test]
fn a_long_run_in_the_index_is_jumped_over_without_reading_it() {
    const RUN: u64 = 50_000;
    let counted = Counted::new(MemoryStorage::new());
    let store = Store::with_storage(counted.clone());
    store.log(&wanted()).unwrap();
    for i in 0..RUN {
        store.log(&other(i)).unwrap();
    }
    store.log(&wanted()).unwrap();
    let subscribe = || {
        store
            .subscribe(Start::Beginning)
            .unwrap()
            .matching(Query::tag(WANTED))
    };

    let reads_to_deliver_both = |mut subscription: foldstore::Subscription| {
        let before = counted.reads();
        let (numbers, _) = collect(&mut subscription, HANG, 2);
        assert_eq!(numbers, [1, RUN + 2]);
        counted.reads() - before
    };
    let filling = reads_to_deliver_both(subscribe());
    assert!(
        filling >= RUN as usize,
        "the first fills the index: {filling}"
    );
    let reads = reads_to_deliver_both(subscribe());
    assert!(
        reads < 1_000,
        "{reads} reads to jump over {RUN} commits held in the index"
    );
}

/// A store on PostgreSQL and S3 when their servers are configured, with a short run.
fn server_backends() -> Vec<OnBackend> {
    backends()
        .into_iter()
        .filter(|backend| matches!(backend.name, "postgres" | "s3"))
        .map(|backend| {
            (
                backend.name,
                backend.store(),
                backend.other_handle(),
                3_000,
                None,
            )
        })
        .collect()
}

/// Every fifth commit matches; another handle writes more while the subscriber catches up:
/// the subscriber gets exactly the matching commits, each once, in order.
#[test]
fn every_matching_commit_comes_once_while_another_handle_writes() {
    for (name, store, second, run, _dir) in local_backends().into_iter().chain(server_backends()) {
        let run = run / 10;
        let event = |i: u64| if i % 5 == 0 { wanted() } else { other(i) };
        for i in 0..run {
            store.log(&event(i)).unwrap();
        }
        let mut subscription = second
            .subscribe(Start::Beginning)
            .unwrap()
            .with_poll_interval(Duration::from_millis(5))
            .matching(Query::tag(WANTED));
        let writer = store.clone();
        let written = thread::spawn(move || {
            for i in run..2 * run {
                writer.log(&event(i)).unwrap();
            }
        });
        let expected: Vec<u64> = (0..2 * run).filter(|i| i % 5 == 0).map(|i| i + 1).collect();
        let (numbers, _) = collect(&mut subscription, Duration::from_millis(10), expected.len());
        written.join().unwrap();
        assert_eq!(numbers, expected, "{name}");
        assert!(subscription.try_next().unwrap().is_none(), "{name}");
        assert_eq!(subscription.next_number(), 2 * run + 1, "{name}");
    }
}

/// A subscription cancelled while it catches up stops there, without reading on to the end.
#[test]
fn a_cancelled_subscription_stops_catching_up() {
    const RUN: u64 = 100_000;
    let store = Store::memory();
    for i in 0..RUN {
        store.log(&other(i)).unwrap();
    }
    store.log(&wanted()).unwrap();
    let mut subscription = store
        .subscribe(Start::Beginning)
        .unwrap()
        .cancelled_by(Arc::new(AtomicBool::new(true)))
        .matching(Query::tag(WANTED));
    assert!(matches!(subscription.next_commit(), Err(Error::Cancelled)));
    let stopped = subscription.next_number();
    assert!(stopped < RUN, "it read on to commit {stopped}");
    assert!(
        subscription.try_next().unwrap().is_some(),
        "the match is still to come"
    );
}

/// A damaged commit in a long run that does not match is reported, naming it, as without a
/// query; the matching commits before it are delivered first.
#[test]
fn damage_in_a_long_run_is_reported() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    for i in 1..=3_000 {
        if i == 1_500 {
            storage.create_commit(i, b"not json").unwrap().unwrap();
        } else if i % 1_000 == 0 {
            store.log(&wanted()).unwrap();
        } else {
            store.log(&other(i)).unwrap();
        }
    }
    let mut subscription = store
        .subscribe(Start::Beginning)
        .unwrap()
        .matching(Query::tag(WANTED));
    assert_eq!(subscription.next().unwrap().unwrap().number(), 1_000);
    match subscription.next() {
        Some(Err(Error::CorruptCommit { commit, .. })) => assert_eq!(commit, 1_500),
        other => panic!("expected commit 1500 reported damaged, got {other:?}"),
    }
    assert!(subscription.next().is_none(), "nothing after the damage");
}

/// A query with a limit (what a page of the HTTP API's events asks) reads the commits of its
/// page, not every match to the end of the log.
#[test]
fn a_limited_query_reads_no_further_than_its_page() {
    let counted = Counted::new(MemoryStorage::new());
    let store = Store::with_storage(counted.clone());
    for _ in 0..1000 {
        store.log(&wanted()).unwrap();
    }
    let query = Query::tag(WANTED);
    // The index is filled once (by a first, unlimited query), as a serving process's is.
    assert_eq!(store.events_matching(&query, 0).unwrap().len(), 1000);
    let before = counted.reads();
    let page = store.events_matching_limited(&query, 100, 10).unwrap();
    let commits: Vec<u64> = page.iter().map(|m| m.commit).collect();
    assert_eq!(commits, (101..=110).collect::<Vec<_>>());
    let reads = counted.reads() - before;
    assert!(reads <= 20, "a page of 10 read {reads} times");
}
