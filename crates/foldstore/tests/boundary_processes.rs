//! Conditional appends across processes: worker processes on one folder (loose and journal
//! layouts) decide about their own accounts (no decision may fail) and withdraw from one shared
//! account with a balance check (no more may be withdrawn than it holds); once with
//! `Store::append_if`, once through read-write instances of scoped models.

mod common;

use std::fs;
use std::path::PathBuf;

use common::workers::{env_number, gate, print_worker_result, run_workers, test_name};
use foldstore::{
    AppendCondition, CommitFlag, Dispatch, Error, Event, EventContext, Layout, Model,
    ModelDefinition, Query, Store, View, Writer,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The store folder a worker works in; absent in a normal test run.
const CHILD_FOLDER: &str = "FOLDSTORE_BOUNDARY_FOLDER";
/// The folder the workers meet in before they start.
const CHILD_GATE: &str = "FOLDSTORE_BOUNDARY_GATE";
/// The worker's number, from 0.
const CHILD_ID: &str = "FOLDSTORE_BOUNDARY_ID";
/// How many workers there are.
const CHILD_COUNT: &str = "FOLDSTORE_BOUNDARY_COUNT";
/// `instances` when the worker decides through scoped models' read-write instances.
const CHILD_MODE: &str = "FOLDSTORE_BOUNDARY_MODE";

/// The worker's test name.
const WORKER_TEST: &str = "boundary_worker";
/// Worker processes.
const WORKERS: u64 = 4;
/// Decisions about its own account each worker makes.
const DECISIONS: u64 = 10;
/// What the shared account holds at the start, and what one withdrawal takes.
const SHARED_BALANCE: i64 = 31;
const WITHDRAWAL: i64 = 3;
/// The shared account.
const SHARED: u64 = 1;

/// What one worker did.
#[derive(Debug, Serialize, Deserialize)]
struct Tally {
    worker: u64,
    own_failed: u64,
    withdrawn: i64,
    lost_races: u64,
}

fn deposit(account: u64, amount: i64) -> Event {
    Event::with_data("deposited", json!({ "amount": amount }))
        .tagged([format!("account:{account}")])
}

/// The balance of `account` as of the log's end, and that position.
fn balance(store: &Store, account: u64) -> (i64, u64) {
    let position = store.tip().unwrap();
    let balance = store
        .events_matching(&Query::tag(format!("account:{account}")), 0)
        .unwrap()
        .iter()
        .filter(|m| m.commit <= position)
        .map(|m| m.event.data().unwrap()["amount"].as_i64().unwrap())
        .sum();
    (balance, position)
}

fn after(account: u64, position: u64) -> AppendCondition {
    AppendCondition::none_matching_after(Query::tag(format!("account:{account}")), position)
}

/// A deposit (or, negative, a withdrawal) as an account model reads it: the events
/// [`deposit`] writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "name", content = "data")]
enum Movement {
    #[serde(rename = "deposited")]
    Deposited { amount: i64 },
}

/// One account's balance, scoped to the account's tag.
struct Account(u64);

impl ModelDefinition for Account {
    type Data = i64;
    type Event = Movement;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn scope(&self) -> Option<Query> {
        Some(Query::tag(format!("account:{}", self.0)))
    }

    fn event_tags(&self, _: &Movement) -> Vec<String> {
        vec![format!("account:{}", self.0)]
    }

    fn initial_data(&self) -> i64 {
        0
    }

    fn apply(
        &self,
        balance: &mut i64,
        event: Movement,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        let Movement::Deposited { amount } = event;
        *balance += amount;
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// Moves `amount` into the account of `model` in a read-write instance, unless that would take
/// its balance below 0 (then nothing is committed); whether it was, and the attempts it took.
fn move_money(model: &Model<Account>, amount: i64, attempts: u32) -> Result<(bool, u32), Error> {
    let outcome = model.with_read_write_instance(
        |writer: &mut &mut Writer<Account>, flag: &mut CommitFlag| {
            if *writer.data() + amount < 0 {
                return Ok::<_, Error>(false);
            }
            writer.dispatch(Movement::Deposited { amount })?;
            flag.ready_to_commit();
            Ok(true)
        },
        attempts,
    )?;
    Ok((outcome.value, outcome.attempts))
}

/// The worker's decisions through scoped models' read-write instances.
fn decide_with_instances(store: &Store, own: u64, tally: &mut Tally) {
    let mine = store.define_model(Account(own)).unwrap();
    let shared = store.define_model(Account(SHARED)).unwrap();
    for _ in 0..DECISIONS {
        match move_money(&mine, 1, 5) {
            Ok((true, 1)) => {}
            other => {
                eprintln!("a decision about the worker's own account: {other:?}");
                tally.own_failed += 1;
            }
        }
        // Many workers race for the shared account: enough attempts for all of them.
        let (withdrew, attempts) = move_money(&shared, -WITHDRAWAL, 1000).unwrap();
        tally.lost_races += u64::from(attempts - 1);
        if withdrew {
            tally.withdrawn += WITHDRAWAL;
        }
    }
}

/// The worker: does nothing unless its parent set the environment.
#[test]
fn boundary_worker() {
    let Some(folder) = std::env::var_os(CHILD_FOLDER) else {
        return;
    };
    let gate_folder = PathBuf::from(std::env::var_os(CHILD_GATE).expect("the gate"));
    let (worker, workers) = (env_number(CHILD_ID), env_number(CHILD_COUNT));
    let store = Store::open(PathBuf::from(folder)).expect("open the store");
    assert!(gate(&gate_folder, worker, workers), "the others never came");
    let own = 100 + worker;
    let mut tally = Tally {
        worker,
        own_failed: 0,
        withdrawn: 0,
        lost_races: 0,
    };
    if std::env::var(CHILD_MODE).as_deref() == Ok("instances") {
        decide_with_instances(&store, own, &mut tally);
        print_worker_result(&tally);
        return;
    }
    for _ in 0..DECISIONS {
        let (_, position) = balance(&store, own);
        if store
            .append_if(&[deposit(own, 1)], &after(own, position))
            .unwrap()
            .is_err()
        {
            tally.own_failed += 1;
        }
        // One withdrawal from the shared account, if it still covers one.
        loop {
            let (available, position) = balance(&store, SHARED);
            if available < WITHDRAWAL {
                break;
            }
            match store
                .append_if(&[deposit(SHARED, -WITHDRAWAL)], &after(SHARED, position))
                .unwrap()
            {
                Ok(_) => {
                    tally.withdrawn += WITHDRAWAL;
                    break;
                }
                Err(_) => tally.lost_races += 1,
            }
        }
    }
    print_worker_result(&tally);
}

fn run(layout: Layout, mode: &str) {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let gate_folder = temp.path().join("gate");
    fs::create_dir(&gate_folder).unwrap();
    let store = Store::builder(&folder).layout(layout).open().unwrap();
    store.ensure_folder().unwrap();
    store.log(&deposit(SHARED, SHARED_BALANCE)).unwrap();

    let tallies: Vec<Tally> = run_workers(
        &test_name(module_path!(), WORKER_TEST),
        WORKERS,
        |worker, command| {
            command
                .env(CHILD_FOLDER, &folder)
                .env(CHILD_GATE, &gate_folder)
                .env(CHILD_ID, worker.to_string())
                .env(CHILD_COUNT, WORKERS.to_string())
                .env(CHILD_MODE, mode);
        },
    );

    // Decisions about different accounts never conflict, across processes.
    assert!(tallies.iter().all(|t| t.own_failed == 0), "{tallies:?}");
    // The shared account gave exactly what it held, to withdrawals of whole amounts.
    let withdrawn: i64 = tallies.iter().map(|t| t.withdrawn).sum();
    assert_eq!(
        withdrawn,
        SHARED_BALANCE - SHARED_BALANCE % WITHDRAWAL,
        "{tallies:?}"
    );
    let store = Store::open(&folder).unwrap();
    assert_eq!(balance(&store, SHARED).0, SHARED_BALANCE % WITHDRAWAL);
    for worker in 0..WORKERS {
        assert_eq!(balance(&store, 100 + worker).0, DECISIONS as i64);
    }
    let withdrawals = (withdrawn / WITHDRAWAL) as u64;
    assert_eq!(store.tip().unwrap(), 1 + WORKERS * DECISIONS + withdrawals);
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
}

#[test]
fn conditional_appends_across_processes_on_a_loose_folder() {
    run(Layout::Loose, "append_if");
}

#[test]
fn conditional_appends_across_processes_on_a_journal() {
    run(Layout::Journal, "append_if");
}

#[test]
fn scoped_instances_across_processes_on_a_loose_folder() {
    run(Layout::Loose, "instances");
}

#[test]
fn scoped_instances_across_processes_on_a_journal() {
    run(Layout::Journal, "instances");
}
