//! The async API (feature `tokio`): [`AsyncStore`] and [`AsyncModel`] run the synchronous core
//! (consistency boundaries too: queries, conditional and idempotent appends) on tokio's blocking
//! threads, and subscriptions are `Stream`s ([`CommitStream`]).
#![cfg(feature = "tokio")]

mod common;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use common::counted::Counted;
use common::counter::{Counter, CounterEvent};
use foldstore::asynchronous::{AsyncModel, AsyncStore, CommitStream};
use foldstore::{
    AppendCondition, Commit, Dispatch, Error, Event, MemoryStorage, Query, QueryItem, Start,
    Storage, Store, View,
};
use futures_core::Stream;
use serde_json::json;

/// Only to fail a test that hangs.
const HANG: Duration = Duration::from_secs(60);

/// The stream's next item; a hang fails the test.
async fn next(stream: &mut CommitStream) -> Option<foldstore::Result<Commit>> {
    let item = std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx));
    tokio::time::timeout(HANG, item)
        .await
        .expect("hung waiting for the stream")
}

/// Every item until the stream ends.
async fn drain(stream: &mut CommitStream) -> Vec<u64> {
    let mut numbers = Vec::new();
    while let Some(commit) = next(stream).await {
        numbers.push(commit.unwrap().number());
    }
    numbers
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(HANG, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("hung: {what}"));
}

fn folder_store() -> (tempfile::TempDir, Store) {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path().join("store")).unwrap();
    store.ensure_folder().unwrap();
    (temp, store)
}

// ---------------------------------------------------------------------------------------------
// A counter model

/// An action's own error, or the store's.
#[derive(Debug)]
enum ActionError {
    Store(#[expect(dead_code, reason = "read through Debug, in failure messages")] Error),
    Declined,
}

impl From<Error> for ActionError {
    fn from(e: Error) -> Self {
        ActionError::Store(e)
    }
}

// ---------------------------------------------------------------------------------------------
// AsyncStore

#[tokio::test]
async fn async_store_logs_and_reads() {
    let (_temp, store) = folder_store();
    let async_store = AsyncStore::new(store.clone());
    assert_eq!(async_store.tip().await.unwrap(), 0);
    assert_eq!(async_store.log(&Event::new("first")).await.unwrap(), 1);
    assert_eq!(
        async_store
            .log(&CounterEvent::Incremented { by: 2 })
            .await
            .unwrap(),
        2
    );
    let block = vec![
        Event::with_data("a", json!({"n": 1})),
        Event::with_data("b", json!(null)),
    ];
    assert_eq!(
        async_store.log_events(block.clone()).await.unwrap(),
        Some(3)
    );
    assert_eq!(
        async_store.log_events(Vec::new()).await.unwrap(),
        None,
        "no events, no commit"
    );
    assert_eq!(async_store.tip().await.unwrap(), 3);
    assert_eq!(async_store.store().tip().unwrap(), 3);

    let third = async_store.read_commit(3).await.unwrap();
    assert_eq!(third.number(), 3);
    assert_eq!(third.events(), block.as_slice());
    let second = async_store.read_commit(2).await.unwrap();
    assert_eq!(
        second.events(),
        [Event::with_data("incremented", json!({"by": 2}))]
    );
    // What the async store wrote is what the synchronous one reads.
    let stored: Vec<Commit> = store.commits(..).map(Result::unwrap).collect();
    assert_eq!(stored[0], async_store.read_commit(1).await.unwrap());

    assert!(matches!(
        async_store.read_commit(4).await,
        Err(Error::OutOfRange { requested: 4, .. })
    ));
    // An event of the wrong shape is refused, and nothing is written.
    assert!(matches!(
        async_store.log(&json!(["not", "an", "event"])).await,
        Err(Error::InvalidEvent { .. })
    ));
    assert_eq!(async_store.tip().await.unwrap(), 3);
}

#[tokio::test]
async fn async_store_reports_a_missing_folder() {
    let temp = tempfile::tempdir().unwrap();
    let async_store = AsyncStore::new(Store::open(temp.path().join("missing")).unwrap());
    assert_eq!(async_store.tip().await.unwrap(), 0);
    assert!(matches!(
        async_store.log(&Event::new("x")).await,
        Err(Error::StoreMissing { .. })
    ));
}

#[tokio::test]
async fn a_replay_stream_ends_at_the_end_of_the_log() {
    let (_temp, store) = folder_store();
    let async_store = AsyncStore::new(store.clone());
    for i in 1..=5 {
        async_store
            .log(&Event::with_data("n", json!(i)))
            .await
            .unwrap();
    }
    let mut all = async_store.replay(Start::Beginning).await.unwrap();
    assert_eq!(drain(&mut all).await, [1, 2, 3, 4, 5]);
    assert!(next(&mut all).await.is_none(), "it stays ended");

    let mut after = async_store.replay(Start::After(3)).await.unwrap();
    assert_eq!(drain(&mut after).await, [4, 5]);

    let mut now = async_store.replay(Start::Now).await.unwrap();
    assert_eq!(drain(&mut now).await, Vec::<u64>::new());

    // More than the stream's buffer holds.
    for i in 6..=150 {
        store.log(&Event::with_data("n", json!(i))).unwrap();
    }
    let mut long = async_store.replay(Start::Beginning).await.unwrap();
    assert_eq!(drain(&mut long).await, (1..=150).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_replay_stream_ends_after_a_damaged_commit() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    store.log(&Event::new("fine")).unwrap();
    storage
        .create_commit(2, b"{\"events\": 7}")
        .unwrap()
        .unwrap();
    store.log(&Event::new("after")).unwrap();
    let async_store = AsyncStore::new(store);
    for mut stream in [
        async_store.replay(Start::Beginning).await.unwrap(),
        async_store.subscribe(Start::Beginning).await.unwrap(),
    ] {
        assert_eq!(next(&mut stream).await.unwrap().unwrap().number(), 1);
        assert!(matches!(
            next(&mut stream).await,
            Some(Err(Error::CorruptCommit { commit: 2, .. }))
        ));
        assert!(
            next(&mut stream).await.is_none(),
            "the stream ends after the error"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_stream_delivers_commits_logged_later_in_order() {
    const BY_TASK: u64 = 30;
    const BY_THREAD: u64 = 20;
    let (_temp, store) = folder_store();
    let async_store = AsyncStore::new(store.clone());
    async_store.log(&Event::new("existing")).await.unwrap();
    let mut stream = async_store.subscribe(Start::Now).await.unwrap();

    // Another task, through the async store ...
    let task = {
        let async_store = async_store.clone();
        tokio::spawn(async move {
            for i in 0..BY_TASK {
                async_store
                    .log(&Event::with_data("byTask", json!(i)))
                    .await
                    .unwrap();
            }
        })
    };
    // ... and another thread, through another synchronous store on the same folder.
    let thread = {
        let other = Store::open(store.path().unwrap()).unwrap();
        std::thread::spawn(move || {
            for i in 0..BY_THREAD {
                other.log(&Event::with_data("byThread", json!(i))).unwrap();
            }
        })
    };

    let mut numbers = Vec::new();
    let mut by_source = BTreeMap::<String, Vec<u64>>::new();
    while numbers.len() < (BY_TASK + BY_THREAD) as usize {
        let commit = next(&mut stream)
            .await
            .expect("a live stream does not end")
            .unwrap();
        numbers.push(commit.number());
        let event = &commit.events()[0];
        by_source
            .entry(event.name().to_owned())
            .or_default()
            .push(event.data().unwrap().as_u64().unwrap());
    }
    task.await.unwrap();
    thread.join().unwrap();
    assert_eq!(numbers, (2..=1 + BY_TASK + BY_THREAD).collect::<Vec<_>>());
    assert_eq!(by_source["byTask"], (0..BY_TASK).collect::<Vec<_>>());
    assert_eq!(by_source["byThread"], (0..BY_THREAD).collect::<Vec<_>>());
    assert_eq!(async_store.tip().await.unwrap(), 1 + BY_TASK + BY_THREAD);

    // And one more, after a quiet moment.
    async_store.log(&Event::new("last")).await.unwrap();
    let last = next(&mut stream).await.unwrap().unwrap();
    assert_eq!((last.number(), last.events()[0].name()), (52, "last"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stream_stops_its_thread() {
    let counted = Counted::default();
    let store = Store::with_storage(counted.clone());
    let async_store = AsyncStore::new(store.clone());
    async_store.log(&Event::new("one")).await.unwrap();

    // A live stream whose thread waits for a commit.
    let mut waiting = async_store.subscribe(Start::Beginning).await.unwrap();
    assert_eq!(next(&mut waiting).await.unwrap().unwrap().number(), 1);
    assert_eq!(counted.live_watches(), 1);
    drop(waiting);
    wait_until("the waiting stream's thread ends", || {
        counted.live_watches() == 0
    })
    .await;

    // Streams whose threads are blocked on a full buffer, never read.
    for i in 0..200 {
        store.log(&Event::with_data("n", json!(i))).unwrap();
    }
    let full_live = async_store.subscribe(Start::Beginning).await.unwrap();
    let full_replay = async_store.replay(Start::Beginning).await.unwrap();
    wait_until("both streams' threads are subscribed", || {
        counted.live_watches() == 2
    })
    .await;
    drop(full_live);
    drop(full_replay);
    wait_until("the blocked streams' threads end", || {
        counted.live_watches() == 0
    })
    .await;

    // The store is still usable, and a new stream works.
    assert_eq!(async_store.log(&Event::new("later")).await.unwrap(), 202);
    let mut fresh = async_store.subscribe(Start::After(201)).await.unwrap();
    assert_eq!(next(&mut fresh).await.unwrap().unwrap().number(), 202);
}

/// On a current-thread runtime the test's thread is the runtime's only thread: no operation of
/// the async API may read or write the backend there.
///
/// FAILS at the time of writing: `AsyncStore::subscribe` and `AsyncStore::replay` are plain
/// functions that call `Store::subscribe` on the caller's thread (src/asynchronous.rs,
/// `AsyncStore::stream`), and `Start::Now` resolves the end of the log there with `Store::tip`,
/// which lists the backend the first time (a whole folder listing) and then checks for newer
/// commits: blocking I/O on the runtime's thread.
#[tokio::test(flavor = "current_thread")]
async fn the_async_api_does_no_storage_io_on_the_runtime_thread() {
    let runtime_thread = std::thread::current().id();
    let counted = Counted::default();
    // Commits written by "another process", so the async store has not seen the log yet.
    let other = Store::with_storage(counted.inner.clone());
    for i in 0..3 {
        other.log(&Event::with_data("n", json!(i))).unwrap();
    }
    let async_store = AsyncStore::new(Store::with_storage(counted.clone()));

    let mut live = async_store.subscribe(Start::Now).await.unwrap();
    let mut replayed = async_store.replay(Start::Beginning).await.unwrap();
    assert_eq!(drain(&mut replayed).await, [1, 2, 3]);
    assert_eq!(async_store.log(&Event::new("x")).await.unwrap(), 4);
    assert_eq!(next(&mut live).await.unwrap().unwrap().number(), 4);
    assert_eq!(async_store.tip().await.unwrap(), 4);
    assert_eq!(async_store.read_commit(2).await.unwrap().number(), 2);
    let model = AsyncModel::new(async_store.store().define_model(Counter).unwrap());
    assert_eq!(
        model
            .with_read_instance(|view| view.position())
            .await
            .unwrap(),
        4
    );

    assert!(!counted.calls().is_empty(), "the backend was used");
    assert_eq!(
        counted.calls_on(runtime_thread),
        Vec::<&str>::new(),
        "storage calls made on the runtime's thread"
    );
}

// ---------------------------------------------------------------------------------------------
// Consistency boundaries

fn deposit(account: u64, amount: i64) -> Event {
    Event::with_data("deposited", json!(amount)).tagged([format!("account:{account}")])
}

#[tokio::test]
async fn async_store_reads_by_query_and_appends_on_conditions() {
    let (_temp, store) = folder_store();
    let async_store = AsyncStore::new(store.clone());
    async_store.log(&deposit(7, 5)).await.unwrap();
    async_store.log(&deposit(8, 1)).await.unwrap();
    async_store
        .log(&Event::new("Withdrawn").tagged(["account:7"]))
        .await
        .unwrap();

    let account_7 = Query::tag("account:7");
    let read = async_store.events_matching(&account_7, 0).await.unwrap();
    let commits: Vec<u64> = read.iter().map(|e| e.commit).collect();
    assert_eq!(commits, [1, 3]);
    assert_eq!(read[0].event, deposit(7, 5));
    assert_eq!(read, store.events_matching(&account_7, 0).unwrap());
    // Names by the original's first-letter rule; `after` is exclusive.
    let withdrawn = Query::new().item(QueryItem::new().name("withdrawn").tag("account:7"));
    let found = async_store.events_matching(&withdrawn, 0).await.unwrap();
    assert_eq!(found.iter().map(|e| e.commit).collect::<Vec<_>>(), [3]);
    assert!(async_store
        .events_matching(&account_7, 3)
        .await
        .unwrap()
        .is_empty());

    // Decided on account 7 at commit 3: another account's commit does not get in the way...
    let condition = AppendCondition::none_matching_after(account_7.clone(), 3);
    async_store.log(&deposit(8, 2)).await.unwrap();
    assert_eq!(
        async_store
            .append_if(&[deposit(7, 1)], &condition)
            .await
            .unwrap(),
        Ok(5)
    );
    // ...and the same decision again conflicts with the first, writing nothing.
    let failed = async_store
        .append_if(&[deposit(7, 1)], &condition)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(failed.conflicts, [5]);
    assert_eq!(async_store.tip().await.unwrap(), 5);
    // No events: the store's error, through the async API.
    assert!(matches!(
        async_store.append_if(&[], &condition).await,
        Err(Error::InvalidEvent { .. })
    ));

    let first = async_store
        .append_once("payment-1", &[deposit(9, 3)])
        .await
        .unwrap();
    let again = async_store
        .append_once("payment-1", &[deposit(9, 3)])
        .await
        .unwrap();
    assert_eq!((first.commit, first.written), (6, true));
    assert_eq!((again.commit, again.written), (6, false));
    // The key holds across processes: a store opened afresh sees it.
    let fresh = AsyncStore::new(Store::open(store.path().unwrap()).unwrap());
    let later = fresh
        .append_once("payment-1", &[deposit(9, 3)])
        .await
        .unwrap();
    assert_eq!((later.commit, later.written), (6, false));
    assert_eq!(fresh.tip().await.unwrap(), 6);
}

#[tokio::test(flavor = "current_thread")]
async fn boundary_operations_do_no_storage_io_on_the_runtime_thread() {
    let runtime_thread = std::thread::current().id();
    let counted = Counted::default();
    // Commits written by "another process": the index is filled on the first read.
    let other = Store::with_storage(counted.inner.clone());
    for account in [1, 2, 1] {
        other.log(&deposit(account, 1)).unwrap();
    }
    let async_store = AsyncStore::new(Store::with_storage(counted.clone()));
    let account_1 = Query::tag("account:1");
    assert_eq!(
        async_store
            .events_matching(&account_1, 0)
            .await
            .unwrap()
            .len(),
        2
    );
    let condition = AppendCondition::none_matching_after(account_1, 3);
    assert_eq!(
        async_store
            .append_if(&[deposit(1, 1)], &condition)
            .await
            .unwrap(),
        Ok(4)
    );
    assert!(
        async_store
            .append_once("k", &[deposit(2, 1)])
            .await
            .unwrap()
            .written
    );

    assert!(!counted.calls().is_empty(), "the backend was used");
    assert_eq!(
        counted.calls_on(runtime_thread),
        Vec::<&str>::new(),
        "storage calls made on the runtime's thread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_conditional_appends_conflict_only_on_shared_accounts() {
    const TASKS: u64 = 8;
    const DECISIONS: u64 = 10;
    let (_temp, store) = folder_store();
    let async_store = AsyncStore::new(store.clone());
    // Each task decides about its own account, reading it and appending on the condition that
    // it did not change: no decision conflicts with another task's.
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let async_store = async_store.clone();
            tokio::spawn(async move {
                let account = Query::tag(format!("account:{task}"));
                for decision in 0..DECISIONS {
                    let read = async_store.events_matching(&account, 0).await.unwrap();
                    assert_eq!(read.len() as u64, decision, "every earlier decision seen");
                    let at = read.last().map_or(0, |e| e.commit);
                    let condition = AppendCondition::none_matching_after(account.clone(), at);
                    let appended = async_store
                        .append_if(&[deposit(task, 1)], &condition)
                        .await
                        .unwrap();
                    assert!(appended.is_ok(), "task {task}: {appended:?}");
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(HANG, task)
            .await
            .expect("hung")
            .unwrap();
    }
    assert_eq!(store.tip().unwrap(), TASKS * DECISIONS);

    // Racing decisions on one account from one position: exactly one wins, the others are
    // told which commit it was.
    let account = Query::tag("account:shared");
    let condition = AppendCondition::none_matching_after(account, store.tip().unwrap());
    let racers: Vec<_> = (0..TASKS)
        .map(|_| {
            let (async_store, condition) = (async_store.clone(), condition.clone());
            tokio::spawn(async move {
                let event = Event::new("opened").tagged(["account:shared"]);
                async_store.append_if(&[event], &condition).await.unwrap()
            })
        })
        .collect();
    let mut won = Vec::new();
    let mut lost = Vec::new();
    for racer in racers {
        match tokio::time::timeout(HANG, racer)
            .await
            .expect("hung")
            .unwrap()
        {
            Ok(commit) => won.push(commit),
            Err(failed) => lost.push(failed.conflicts),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    assert!(lost.iter().all(|conflicts| conflicts == &won), "{lost:?}");
    assert_eq!(store.tip().unwrap(), TASKS * DECISIONS + 1);
}

// ---------------------------------------------------------------------------------------------
// AsyncModel

fn increment(
    view: &mut &mut foldstore::Writer<Counter>,
    flag: &mut foldstore::CommitFlag,
) -> Result<i64, Error> {
    let seen = *view.data();
    view.dispatch(CounterEvent::Incremented { by: 1 })?;
    flag.ready_to_commit();
    Ok(seen)
}

#[tokio::test]
async fn async_model_decides_once_per_idempotency_key() {
    let (_temp, store) = folder_store();
    let model = AsyncModel::new(store.define_model(Counter).unwrap());
    let first = model
        .with_read_write_instance_once("order-1", increment, 5)
        .await
        .unwrap();
    let again = model
        .with_read_write_instance_once("order-1", increment, 5)
        .await
        .unwrap();
    assert_eq!((first.value, first.commit), (Some(0), Some(1)));
    assert_eq!((again.value, again.commit), (None, Some(1)));
    assert_eq!(store.tip().unwrap(), 1);
}

#[tokio::test]
async fn async_model_read_and_read_write_instances() {
    let (_temp, store) = folder_store();
    let model = AsyncModel::new(store.define_model(Counter).unwrap());

    let outcome = model.with_read_write_instance(increment, 5).await.unwrap();
    assert_eq!(
        (outcome.value, outcome.commit, outcome.attempts),
        (0, Some(1), 1)
    );
    assert_eq!(
        model.with_read_instance(|view| *view.data()).await.unwrap(),
        1
    );
    let data = model.aggregator_data().await.unwrap();
    assert_eq!((*data, data.position()), (1, 1));

    // Not ready to commit: nothing written.
    let outcome = model
        .with_read_write_instance(
            |view, _flag| {
                view.dispatch(CounterEvent::Incremented { by: 10 })?;
                Ok::<_, Error>(*view.data())
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(
        (outcome.value, outcome.commit),
        (11, None),
        "it read its own write"
    );
    assert_eq!(store.tip().unwrap(), 1);

    // The action's own error: nothing written.
    let declined = model
        .with_read_write_instance(
            |view, flag| {
                view.dispatch(CounterEvent::Incremented { by: 10 })?;
                flag.ready_to_commit();
                Err::<(), _>(ActionError::Declined)
            },
            5,
        )
        .await;
    assert!(matches!(declined, Err(ActionError::Declined)));
    assert_eq!(store.tip().unwrap(), 1);

    // Another writer commits during the first attempt: the action runs again on the new state.
    let other = Store::open(store.path().unwrap()).unwrap();
    let mut attempt = 0;
    let outcome = model
        .with_read_write_instance(
            move |view, flag| {
                attempt += 1;
                if attempt == 1 {
                    other.log(&CounterEvent::Incremented { by: 100 })?;
                }
                increment(view, flag)
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(outcome.attempts, 2);
    assert_eq!(
        outcome.value, 101,
        "the second attempt saw the other writer's commit"
    );
    assert_eq!(outcome.commit, Some(3));

    // Another writer wins every time: out of attempts, having written nothing itself.
    let other = Store::open(store.path().unwrap()).unwrap();
    let lost = model
        .with_read_write_instance(
            move |view, flag| {
                other.log(&CounterEvent::Incremented { by: 1000 })?;
                increment(view, flag)
            },
            3,
        )
        .await;
    assert!(
        matches!(lost, Err(Error::RetriesExhausted { attempts: 3 })),
        "{lost:?}"
    );
    assert_eq!(
        store.tip().unwrap(),
        6,
        "only the other writer's three commits"
    );
    let data = model.aggregator_data().await.unwrap();
    assert_eq!((*data, data.position()), (1 + 100 + 1 + 3000, 6));
    assert_eq!(
        model.snapshot().await.unwrap(),
        None,
        "Counter has no snapshot name"
    );
}

/// The model's work runs off the runtime's thread: on a current-thread runtime, an action that
/// waits for another task to act does not stop that task from running.
#[tokio::test(flavor = "current_thread")]
async fn model_actions_do_not_block_the_runtime() {
    let model = AsyncModel::new(Store::memory().define_model(Counter).unwrap());
    let (started, mut has_started) = tokio::sync::mpsc::unbounded_channel();
    let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
    let action = {
        let model = model.clone();
        tokio::spawn(async move {
            model
                .with_read_write_instance(
                    move |view, flag| {
                        let _ = started.send(());
                        wait_for_go
                            .recv_timeout(HANG)
                            .expect("the runtime was blocked: the other task never ran");
                        increment(view, flag)
                    },
                    1,
                )
                .await
        })
    };
    has_started.recv().await.unwrap();
    // The runtime's only thread is free: other async work goes on meanwhile.
    assert_eq!(
        model.with_read_instance(|view| *view.data()).await.unwrap(),
        0
    );
    go.send(()).unwrap();
    let outcome = action.await.unwrap().unwrap();
    assert_eq!(outcome.commit, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_write_tasks_keep_the_counter_exact() {
    const TASKS: u64 = 8;
    const CALLS: u64 = 10;
    let (_temp, store) = folder_store();
    let model = AsyncModel::new(store.define_model(Counter).unwrap());

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let model = model.clone();
            tokio::spawn(async move {
                let mut commits = Vec::new();
                let mut exhausted = 0;
                for _ in 0..CALLS {
                    loop {
                        match model.with_read_write_instance(increment, 5).await {
                            Ok(outcome) => {
                                let commit = outcome.commit.expect("a ready instance commits");
                                assert_eq!(
                                    outcome.value as u64 + 1,
                                    commit,
                                    "committed on the newest state"
                                );
                                commits.push(commit);
                                break;
                            }
                            Err(Error::RetriesExhausted { .. }) => exhausted += 1,
                            Err(other) => panic!("{other}"),
                        }
                    }
                }
                (commits, exhausted)
            })
        })
        .collect();
    let mut commits = Vec::new();
    for task in tasks {
        let (mine, _exhausted) = tokio::time::timeout(HANG, task)
            .await
            .expect("hung")
            .unwrap();
        assert_eq!(mine.len() as u64, CALLS);
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        commits.extend(mine);
    }
    commits.sort_unstable();
    assert_eq!(
        commits,
        (1..=TASKS * CALLS).collect::<Vec<_>>(),
        "each commit one call's"
    );
    assert_eq!(store.tip().unwrap(), TASKS * CALLS);
    let data = model.aggregator_data().await.unwrap();
    assert_eq!(
        (*data, data.position()),
        ((TASKS * CALLS) as i64, TASKS * CALLS)
    );
    let fresh = Store::open(store.path().unwrap())
        .unwrap()
        .define_model(Counter)
        .unwrap();
    assert_eq!(*fresh.aggregator_data().unwrap(), (TASKS * CALLS) as i64);
}
