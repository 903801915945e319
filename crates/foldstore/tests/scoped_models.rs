//! Scoped models on every backend: per-account decisions from many threads without failures,
//! transfers that conserve money, commits outside the scope that do not rerun the action,
//! snapshots kept apart by scope, and idempotent read-write instances.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use foldstore::{
    CommitFlag, Dispatch, Error, EventContext, ModelDefinition, Query, QueryItem, Store, View,
    Writer,
};
use serde::{Deserialize, Serialize};

#[path = "common/backends.rs"]
mod backends;

use backends::{backends, Backend};

/// The store of thread `t`: every other thread has its own handle, as another process.
fn handle(backend: &Backend, t: u64) -> Store {
    if t % 2 == 0 {
        backend.store()
    } else {
        backend.other_handle()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum BankEvent {
    Deposited { account: u64, amount: i64 },
    Transferred { from: u64, to: u64, amount: i64 },
}

fn tag(account: u64) -> String {
    format!("account:{account}")
}

/// The balances of some accounts: scoped to the events tagged with any of them.
struct Accounts {
    ids: Vec<u64>,
    snapshots: bool,
}

fn accounts(ids: &[u64]) -> Accounts {
    Accounts {
        ids: ids.to_vec(),
        snapshots: false,
    }
}

impl ModelDefinition for Accounts {
    /// Balances by account (string keys: the data is written as JSON in snapshots).
    type Data = BTreeMap<String, i64>;
    type Event = BankEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        self.snapshots.then_some("accounts")
    }

    fn scope(&self) -> Option<Query> {
        let items = self.ids.iter().map(|&id| QueryItem::new().tag(tag(id)));
        Some(items.fold(Query::new(), Query::item))
    }

    fn event_tags(&self, event: &BankEvent) -> Vec<String> {
        match *event {
            BankEvent::Deposited { account, .. } => vec![tag(account)],
            BankEvent::Transferred { from, to, .. } => vec![tag(from), tag(to)],
        }
    }

    fn initial_data(&self) -> Self::Data {
        BTreeMap::new()
    }

    fn apply(
        &self,
        data: &mut Self::Data,
        event: BankEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            BankEvent::Deposited { account, amount } => {
                *data.entry(account.to_string()).or_default() += amount;
            }
            BankEvent::Transferred { from, to, amount } => {
                *data.entry(from.to_string()).or_default() -= amount;
                *data.entry(to.to_string()).or_default() += amount;
            }
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

fn balance_of(data: &BTreeMap<String, i64>, account: u64) -> i64 {
    data.get(&account.to_string()).copied().unwrap_or(0)
}

type Instance<'a, 'b> = &'a mut &'b mut Writer<Accounts>;

/// Deposits `amount` into `account` in a read-write instance, after `think` (the time a
/// decision takes, which widens the window for other writers).
fn deposit_into(
    account: u64,
    amount: i64,
    think: Duration,
) -> impl FnMut(&mut &mut Writer<Accounts>, &mut CommitFlag) -> Result<(), Error> {
    move |writer, flag| {
        thread::sleep(think);
        writer.dispatch(BankEvent::Deposited { account, amount })?;
        flag.ready_to_commit();
        Ok(())
    }
}

#[test]
fn per_account_decisions_from_8_threads_never_fail() {
    const THREADS: u64 = 8;
    const DECISIONS: u64 = 15;
    for backend in backends() {
        let name = backend.name;
        let stores: Vec<Store> = (0..THREADS).map(|t| handle(&backend, t)).collect();
        let start = Arc::new(Barrier::new(THREADS as usize));
        let threads: Vec<_> = (1..=THREADS)
            .zip(stores)
            .map(|(account, store)| {
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    let model = store.define_model(accounts(&[account])).unwrap();
                    start.wait();
                    let mut attempts = Vec::new();
                    for _ in 0..DECISIONS {
                        let think = Duration::from_millis(2);
                        let outcome = model
                            .with_read_write_instance(deposit_into(account, 1, think), 5)
                            .unwrap_or_else(|e| panic!("{name}: account {account}: {e}"));
                        attempts.push(outcome.attempts);
                    }
                    (
                        attempts,
                        balance_of(&model.aggregator_data().unwrap(), account),
                    )
                })
            })
            .collect();
        for thread in threads {
            let (attempts, balance) = thread.join().unwrap();
            // Other accounts' commits never made an action run again.
            assert!(attempts.iter().all(|&a| a == 1), "{name}: {attempts:?}");
            assert_eq!(balance, DECISIONS as i64, "{name}");
        }
        assert_eq!(
            backend.store().tip().unwrap(),
            THREADS * DECISIONS,
            "{name}"
        );
    }
}

#[test]
fn concurrent_transfers_conserve_money_and_never_overdraw() {
    const ACCOUNTS: u64 = 4;
    const THREADS: u64 = 8;
    for backend in backends() {
        let name = backend.name;
        let store = backend.store();
        for account in 1..=ACCOUNTS {
            let model = store.define_model(accounts(&[account])).unwrap();
            model
                .with_read_write_instance(deposit_into(account, 100, Duration::ZERO), 1)
                .unwrap();
        }
        let start = Arc::new(Barrier::new(THREADS as usize));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = handle(&backend, t);
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    // Two threads share each pair of accounts, in both directions.
                    let from = t % ACCOUNTS + 1;
                    let to = (t + 1) % ACCOUNTS + 1;
                    let model = store.define_model(accounts(&[from, to])).unwrap();
                    start.wait();
                    for _ in 0..8 {
                        let transfer = |writer: Instance<'_, '_>, flag: &mut CommitFlag| {
                            let available = balance_of(writer.data(), from);
                            thread::sleep(Duration::from_millis(1));
                            if available >= 30 {
                                writer.dispatch(BankEvent::Transferred {
                                    from,
                                    to,
                                    amount: 30,
                                })?;
                                flag.ready_to_commit();
                            }
                            Ok::<_, Error>(())
                        };
                        match model.with_read_write_instance(transfer, 50) {
                            Ok(_) | Err(Error::RetriesExhausted { .. }) => {}
                            Err(e) => panic!("{name}: {e}"),
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let all: Vec<u64> = (1..=ACCOUNTS).collect();
        let bank = backend.other_handle().define_model(accounts(&all)).unwrap();
        let balances = bank.aggregator_data().unwrap();
        assert_eq!(
            balances.values().sum::<i64>(),
            100 * ACCOUNTS as i64,
            "{name}"
        );
        assert!(balances.values().all(|&b| b >= 0), "{name}: {balances:?}");
        assert!(
            store.tip().unwrap() > ACCOUNTS,
            "{name}: some transfers were made"
        );
    }
}

#[test]
fn only_a_matching_commit_makes_the_action_run_again() {
    for backend in backends() {
        let name = backend.name;
        let store = backend.store();
        let model = store.define_model(accounts(&[1])).unwrap();
        let other = backend.other_handle();
        // After the instance read, another writer commits: about account 2, then account 1.
        for (intruder, expected_runs, expected_commit) in [(2, 1, 2), (1, 2, 4)] {
            let runs = AtomicU32::new(0);
            let outcome = model
                .with_read_write_instance(
                    |writer: Instance<'_, '_>, flag: &mut CommitFlag| {
                        if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                            let intruding = other.define_model(accounts(&[intruder])).unwrap();
                            intruding
                                .with_read_write_instance(
                                    deposit_into(intruder, 5, Duration::ZERO),
                                    1,
                                )
                                .unwrap();
                        }
                        writer.dispatch(BankEvent::Deposited {
                            account: 1,
                            amount: 1,
                        })?;
                        flag.ready_to_commit();
                        Ok::<_, Error>(())
                    },
                    5,
                )
                .unwrap();
            assert_eq!(
                runs.load(Ordering::SeqCst),
                expected_runs,
                "{name}: {intruder}"
            );
            assert_eq!(outcome.attempts, expected_runs, "{name}");
            assert_eq!(outcome.commit, Some(expected_commit), "{name}");
        }
        // The instance caught up with account 1's deposit of 5 before deciding again.
        assert_eq!(
            balance_of(&model.aggregator_data().unwrap(), 1),
            7,
            "{name}"
        );
        assert_eq!(model.aggregator_data().unwrap().position(), 4, "{name}");
    }
}

/// A scoped instance whose commit took the number after its read keeps the data it folded
/// (with the commit's own headers): the model's latest data has it without reading the store.
/// One that lands later (after another account's commit) leaves it to the next read.
#[test]
fn a_scoped_instance_keeps_the_data_it_committed() {
    for backend in backends() {
        let name = backend.name;
        let store = backend.store();
        let model = store.define_model(accounts(&[1])).unwrap();
        model
            .with_read_write_instance(deposit_into(1, 5, Duration::ZERO), 1)
            .unwrap();
        let latest = model.latest().unwrap();
        assert_eq!(
            (balance_of(&latest, 1), latest.position()),
            (5, 1),
            "{name}"
        );
        let stamped = store.read_commit(1).unwrap().headers().clone();
        assert!(stamped.contains_key("time"), "{name}: {stamped:?}");

        // Another account's commit lands between the read and the commit.
        let other = backend.other_handle();
        model
            .with_read_write_instance(
                |writer: Instance<'_, '_>, flag: &mut CommitFlag| {
                    other
                        .define_model(accounts(&[2]))
                        .unwrap()
                        .with_read_write_instance(deposit_into(2, 1, Duration::ZERO), 1)
                        .unwrap();
                    deposit_into(1, 3, Duration::ZERO)(writer, flag)
                },
                1,
            )
            .unwrap();
        let latest = model.latest().unwrap();
        assert_eq!(
            (balance_of(&latest, 1), latest.position()),
            (5, 1),
            "{name}"
        );
        let read = model.aggregator_data().unwrap();
        assert_eq!((balance_of(&read, 1), read.position()), (8, 3), "{name}");
    }
}

#[test]
fn an_event_outside_the_scope_is_refused() {
    for backend in backends() {
        let store = backend.store();
        let model = store.define_model(accounts(&[1])).unwrap();
        let error = model
            .with_read_write_instance(deposit_into(2, 5, Duration::ZERO), 5)
            .unwrap_err();
        assert!(
            matches!(&error, Error::InvalidEvent { problem } if problem.contains("scope")),
            "{}: {error}",
            backend.name
        );
        assert_eq!(store.tip().unwrap(), 0, "{}", backend.name);
    }
}

#[test]
fn snapshots_of_two_scoped_models_do_not_mix() {
    for backend in backends() {
        let name = backend.name;
        let store = backend.store();
        let model = |account: u64, store: &Store| {
            let definition = Accounts {
                ids: vec![account],
                snapshots: true,
            };
            store.define_model(definition).unwrap()
        };
        for (account, amount) in [(1, 10), (2, 20)] {
            model(account, &store)
                .with_read_write_instance(deposit_into(account, amount, Duration::ZERO), 1)
                .unwrap();
        }
        assert_eq!(model(1, &store).snapshot().unwrap(), Some(2), "{name}");
        assert_eq!(model(2, &store).snapshot().unwrap(), Some(2), "{name}");
        // A restart restores each from its own snapshot.
        let restarted = backend.other_handle();
        for (account, amount) in [(1, 10), (2, 20)] {
            let model = model(account, &restarted);
            let data = model.aggregator_data().unwrap();
            assert_eq!(model.report().restored_from, Some(2), "{name}");
            assert_eq!(
                *data,
                BTreeMap::from([(account.to_string(), amount)]),
                "{name}"
            );
        }
        // An unscoped model of the same name finds none of them.
        let (snapshots, _) = store.storage().snapshots().unwrap();
        assert_eq!(snapshots.len(), 2, "{name}: {snapshots:?}");
        assert!(
            store.snapshot_labels("accounts").unwrap().is_empty(),
            "{name}"
        );
    }
}

#[test]
fn an_idempotent_instance_run_twice_writes_once() {
    for backend in backends() {
        let name = backend.name;
        let store = backend.store();
        let runs = AtomicU32::new(0);
        let decide = |store: &Store| {
            let model = store.define_model(accounts(&[1])).unwrap();
            let mut deposit = deposit_into(1, 10, Duration::ZERO);
            let action = |writer: Instance<'_, '_>, flag: &mut CommitFlag| {
                runs.fetch_add(1, Ordering::SeqCst);
                deposit(writer, flag)
            };
            model
                .with_read_write_instance_once("payment-17", action, 5)
                .unwrap()
        };
        let first = decide(&store);
        assert_eq!((first.value, first.commit), (Some(()), Some(1)), "{name}");
        // Other commits, then the same decision again, here and after a restart.
        store.log(&foldstore::Event::new("noted")).unwrap();
        let again = decide(&store);
        let restarted = decide(&backend.other_handle());
        for outcome in [again, restarted] {
            assert_eq!((outcome.value, outcome.commit), (None, Some(1)), "{name}");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(store.tip().unwrap(), 2, "{name}");
        let model = backend.other_handle().define_model(accounts(&[1])).unwrap();
        assert_eq!(
            balance_of(&model.aggregator_data().unwrap(), 1),
            10,
            "{name}"
        );
    }
}

#[test]
fn a_scoped_fold_stops_at_or_skips_a_failing_commit_and_travels_in_time() {
    for backend in backends() {
        let name = backend.name;
        let store = backend.store();
        let deposit = |account: u64, amount: i64| {
            let event = BankEvent::Deposited { account, amount };
            foldstore::Event::from_typed(&event)
                .unwrap()
                .tagged([tag(account)])
        };
        store.log(&deposit(1, 10)).unwrap();
        store.log(&deposit(2, 99)).unwrap();
        // Account 1's third commit holds data its model cannot read.
        let bad = foldstore::Event::with_data("deposited", serde_json::json!("ten"));
        store.log(&bad.tagged([tag(1)])).unwrap();
        store.log(&deposit(1, 5)).unwrap();
        store.log(&deposit(2, 1)).unwrap();

        let stopping = store.define_model(accounts(&[1])).unwrap();
        let error = stopping.aggregator_data().unwrap_err();
        assert!(
            matches!(error, Error::EventData { commit: 3, .. }),
            "{name}: {error}"
        );
        let stopped = stopping.latest().unwrap();
        assert_eq!(
            (balance_of(&stopped, 1), stopped.position()),
            (10, 2),
            "{name}"
        );

        let skipping = store
            .model(accounts(&[1]))
            .skip_failing_commits(true)
            .build()
            .unwrap();
        let data = skipping.aggregator_data().unwrap();
        assert_eq!((balance_of(&data, 1), data.position()), (15, 5), "{name}");
        assert_eq!(
            data.get("2"),
            None,
            "{name}: account 2's events are not folded"
        );
        let skipped: Vec<u64> = skipping
            .report()
            .skipped_commits
            .iter()
            .map(|s| s.commit)
            .collect();
        assert_eq!(skipped, [3], "{name}");

        let past = skipping.at_commit(2).unwrap();
        assert_eq!(
            (balance_of(past.data(), 1), past.position()),
            (10, 2),
            "{name}"
        );
    }
}
